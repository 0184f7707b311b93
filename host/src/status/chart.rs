//! A small inline SVG line chart of the last hour: no script, no external resource; colours come
//! from the page's style sheet by class (`s0` … `s7`), so the strict CSP holds.

use std::fmt::Write as _;

use super::history::{Line, WINDOW_S};

/// The narrowest span a chart shows, in seconds: a young process's few minutes are drawn across
/// the chart rather than squeezed against its right edge.
const MIN_SPAN_S: u64 = 300;

/// The span to draw for data that starts at `first` (Unix seconds): from 5 minutes to the hour, in
/// whole 5 minutes.
pub(crate) fn span(first: Option<u64>, now: u64) -> u64 {
    let age = first.map_or(0, |first| now.saturating_sub(first));
    age.div_ceil(MIN_SPAN_S).max(1).saturating_mul(MIN_SPAN_S).min(WINDOW_S)
}
use super::page::escape;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 150.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 20.0;
/// Colour classes in the style sheet.
const COLOURS: usize = 8;

/// The chart of `lines` over the `span_s` seconds before `now` (Unix seconds; see [`span`]),
/// titled `title`, its values in `unit`. `fixed_max` pins the top of the scale (100 for
/// percentages, 1 for states).
pub(crate) fn render(title: &str, unit: &str, lines: &[Line], now: u64, span_s: u64, fixed_max: Option<f64>) -> String {
    let span_s = span_s.clamp(1, WINDOW_S);
    let start = now.saturating_sub(span_s);
    let minutes = span_s.div_ceil(60);
    let highest = lines.iter().flat_map(|l| l.points.iter().map(|(_, v)| *v)).fold(0.0f64, f64::max);
    let max = fixed_max.unwrap_or_else(|| nice_ceiling(highest));
    let x = |t: u64| LEFT + (t.saturating_sub(start) as f64 / span_s as f64) * (WIDTH - LEFT - RIGHT);
    let y = |v: f64| TOP + (1.0 - (v / max).clamp(0.0, 1.0)) * (HEIGHT - TOP - BOTTOM);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{} over the last {minutes} minutes\" \
         xmlns=\"http://www.w3.org/2000/svg\">",
        escape(title)
    );
    // The frame, three guide lines and their values.
    for step in 0..=2 {
        let value = max * f64::from(step) / 2.0;
        let at = y(value);
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{at:.1}\" x2=\"{:.1}\" y2=\"{at:.1}\"/>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 4.0,
            at + 3.5,
            number(value)
        );
    }
    let _ = write!(
        svg,
        "<text class=\"axis\" x=\"{LEFT}\" y=\"{:.1}\">−{minutes} min</text>\
         <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">now</text>",
        HEIGHT - 5.0,
        WIDTH - RIGHT,
        HEIGHT - 5.0
    );
    for (i, line) in lines.iter().enumerate() {
        let class = format!("s{}", i % COLOURS);
        let points: Vec<(u64, f64)> = line.points.iter().copied().filter(|(t, _)| *t >= start).collect();
        match points.as_slice() {
            [] => {}
            [(t, v)] => {
                let _ = write!(svg, "<circle class=\"{class}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"/>", x(*t), y(*v));
            }
            many => {
                let coordinates: Vec<String> = many.iter().map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v))).collect();
                let _ = write!(
                    svg,
                    "<polyline class=\"{class}\" data-series=\"{}\" points=\"{}\"/>",
                    escape(&line.label),
                    coordinates.join(" ")
                );
            }
        }
    }
    svg.push_str("</svg>");
    let mut legend = String::from("<ul class=\"legend\">");
    for (i, line) in lines.iter().enumerate() {
        let last = line.points.last().map(|(_, v)| format!("{} {unit}", number(*v))).unwrap_or_else(|| "–".into());
        let _ = write!(
            legend,
            "<li><span class=\"swatch s{}\"></span>{} <b>{}</b></li>",
            i % COLOURS,
            escape(&line.label),
            escape(&last)
        );
    }
    legend.push_str("</ul>");
    if lines.is_empty() {
        legend = "<p class=\"quiet\">Nothing to show yet.</p>".to_string();
    }
    format!("<figure><figcaption>{}</figcaption>{svg}{legend}</figure>", escape(title))
}

/// The smallest of 1, 2, 5 × 10ⁿ at or above `value` (at least 1).
fn nice_ceiling(value: f64) -> f64 {
    if !value.is_finite() || value <= 1.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|m| *m >= value).unwrap_or(value)
}

/// A value for an axis or a legend: whole numbers plain, others with one decimal.
pub(crate) fn number(value: f64) -> String {
    if (value - value.round()).abs() < 0.05 {
        format!("{}", value.round() as i64)
    } else {
        format!("{value:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_polylines_within_the_frame_and_a_legend() {
        let now = 10_000;
        let lines = vec![
            Line { label: "all".into(), points: vec![(now - 20, 6.0), (now - 10, 12.0), (now, 3.0)] },
            Line { label: "<odd>".into(), points: vec![(now, 1.0)] },
            Line { label: "old".into(), points: vec![(now - 2 * WINDOW_S, 1.0)] },
        ];
        let svg = render("Requests", "/min", &lines, now, WINDOW_S, None);
        assert_eq!(svg.matches("<polyline").count(), 1, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 1, "{svg}");
        assert!(svg.contains("data-series=\"all\""), "{svg}");
        assert!(svg.contains("&lt;odd&gt;") && !svg.contains("<odd>"), "{svg}");
        assert!(svg.contains(">20</text>"), "the scale tops at 20: {svg}");
        assert!(svg.contains("<b>3 /min</b>"), "{svg}");
        assert!(svg.contains(">−60 min<"), "{svg}");
        let empty = render("Nothing", "", &[], now, span(None, now), Some(100.0));
        assert!(empty.contains(">−5 min<"), "{empty}");
        assert!(empty.contains("<svg") && empty.contains("Nothing to show yet"), "{empty}");
    }

    #[test]
    fn a_young_history_is_drawn_across_the_chart() {
        assert_eq!(span(None, 1_000), 300);
        assert_eq!(span(Some(990), 1_000), 300);
        assert_eq!(span(Some(1_000 - 301), 1_000), 600);
        assert_eq!(span(Some(0), 100_000), WINDOW_S);
    }

    #[test]
    fn scales_are_round() {
        assert_eq!(nice_ceiling(0.2), 1.0);
        assert_eq!(nice_ceiling(13.0), 20.0);
        assert_eq!(nice_ceiling(480.0), 500.0);
        assert_eq!(nice_ceiling(5000.0), 5000.0);
        assert_eq!(number(2.04), "2");
        assert_eq!(number(2.5), "2.5");
    }
}
