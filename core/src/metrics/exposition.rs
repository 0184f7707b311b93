//! The Prometheus text format (0.0.4): reading the exporter's output back into families,
//! merging values into them, and writing them out in a stable order.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{sorted, valid_label_name, valid_metric_name, Kind, Labels, Sample};

/// Families by metric name.
pub(super) type Families = BTreeMap<String, TextFamily>;

/// One metric family as the text format has it.
pub(super) struct TextFamily {
    pub(super) help: String,
    pub(super) kind: Kind,
    pub(super) series: BTreeMap<Labels, SeriesValue>,
}

/// One series' value.
pub(super) enum SeriesValue {
    Value(f64),
    /// Cumulative counts per upper bound (`+Inf` is `count`).
    Histogram {
        buckets: Vec<(f64, u64)>,
        sum: f64,
        count: u64,
    },
}

/// Adds `sample` to its family in `families`: a new series, or combined with the series of the
/// same labels. Invalid names, histograms and kind clashes are skipped.
pub(super) fn merge(families: &mut Families, sample: &Sample) {
    if !valid_metric_name(&sample.name)
        || sample.kind == Kind::Histogram
        || !sample.labels.iter().all(|(k, _)| valid_label_name(k))
    {
        return;
    }
    let family = families.entry(sample.name.clone()).or_insert_with(|| TextFamily {
        help: sample.help.clone(),
        kind: sample.kind,
        series: BTreeMap::new(),
    });
    if family.kind != sample.kind {
        return;
    }
    match family.series.get_mut(&sorted(sample.labels.clone())) {
        Some(SeriesValue::Value(v)) => *v = combine(sample.kind, *v, sample.value),
        Some(SeriesValue::Histogram { .. }) => {}
        None => {
            family.series.insert(sorted(sample.labels.clone()), SeriesValue::Value(sample.value));
        }
    }
}

/// Reads the exporter's text output back into families. Only what it writes is understood:
/// `# TYPE` lines open a family, sample lines belong to the last one; `# HELP` lines and blank
/// lines are skipped (HELP comes from the registry's own table).
pub(super) fn parse(text: &str) -> Families {
    let mut families = Families::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            current = None;
            let Some((name, kind)) = rest.split_once(' ') else { continue };
            let Some(kind) = Kind::parse(kind) else { continue };
            families.entry(name.to_string()).or_insert_with(|| TextFamily {
                help: String::new(),
                kind,
                series: BTreeMap::new(),
            });
            current = Some(name.to_string());
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (Some(family_name), Some((series, value))) = (&current, line.rsplit_once(' ')) else { continue };
        let Some(family) = families.get_mut(family_name) else { continue };
        let Some((name, mut labels)) = parse_series(series) else { continue };
        let value: f64 = value.parse().unwrap_or(f64::NAN);
        if family.kind != Kind::Histogram {
            family.series.insert(sorted(labels), SeriesValue::Value(value));
            continue;
        }
        let le = labels.iter().position(|(k, _)| k == "le").map(|at| labels.remove(at).1);
        let entry = family.series.entry(sorted(labels)).or_insert_with(|| SeriesValue::Histogram {
            buckets: Vec::new(),
            sum: 0.0,
            count: 0,
        });
        let SeriesValue::Histogram { buckets, sum, count } = entry else { continue };
        match name.strip_prefix(family_name.as_str()) {
            Some("_bucket") => {
                if let Some(bound) = le.filter(|le| le != "+Inf").and_then(|le| le.parse::<f64>().ok()) {
                    buckets.push((bound, value as u64));
                }
            }
            Some("_sum") => *sum = value,
            Some("_count") => *count = value as u64,
            _ => {}
        }
    }
    families
}

/// `name{k="v",...}` → the name and the unescaped label pairs, in their order.
fn parse_series(series: &str) -> Option<(&str, Labels)> {
    let Some((name, rest)) = series.split_once('{') else { return Some((series, Vec::new())) };
    let mut labels = Vec::new();
    let mut chars = rest.chars();
    loop {
        let mut key = String::new();
        loop {
            match chars.next()? {
                '=' => break,
                '}' if key.is_empty() => return Some((name, labels)),
                c => key.push(c),
            }
        }
        if chars.next()? != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '"' => break,
                '\\' => match chars.next()? {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                c => value.push(c),
            }
        }
        labels.push((key, value));
        match chars.next()? {
            ',' => {}
            '}' => return Some((name, labels)),
            _ => return None,
        }
    }
}

pub(super) fn combine(kind: Kind, a: f64, b: f64) -> f64 {
    match kind {
        Kind::Gauge => a.max(b),
        Kind::Counter | Kind::Histogram => a + b,
    }
}

/// `{a="x",b="y"}` (with `le` last for buckets), or nothing without labels.
fn label_text(labels: &Labels, le: Option<&str>) -> String {
    if labels.is_empty() && le.is_none() {
        return String::new();
    }
    let mut out = String::from("{");
    let pairs = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).chain(le.map(|le| ("le", le)));
    for (i, (key, value)) in pairs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{key}=\"{}\"", escape_label(value));
    }
    out.push('}');
    out
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value as Prometheus reads it: integers without a fraction, `+Inf`, `-Inf`, `NaN`.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// `families` in the text format: families sorted by name, each with its `# HELP` and `# TYPE`
/// lines, series sorted by labels; empty families are left out.
pub(super) fn write(families: &Families) -> String {
    let mut out = String::new();
    for (name, family) in families {
        if family.series.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {name} {}", escape_help(&family.help));
        let _ = writeln!(out, "# TYPE {name} {}", family.kind.as_str());
        for (labels, value) in &family.series {
            match value {
                SeriesValue::Value(v) => {
                    let _ = writeln!(out, "{name}{} {}", label_text(labels, None), number(*v));
                }
                SeriesValue::Histogram { buckets, sum, count } => {
                    for (bound, n) in buckets {
                        let le = number(*bound);
                        let _ = writeln!(out, "{name}_bucket{} {n}", label_text(labels, Some(&le)));
                    }
                    let _ = writeln!(out, "{name}_bucket{} {count}", label_text(labels, Some("+Inf")));
                    let _ = writeln!(out, "{name}_sum{} {}", label_text(labels, None), number(*sum));
                    let _ = writeln!(out, "{name}_count{} {count}", label_text(labels, None));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::own;

    #[test]
    fn the_exporter_text_reads_back_into_families() {
        let text = "# HELP chillproxy_a_total Ignored.\n# TYPE chillproxy_a_total counter\n\
                    chillproxy_a_total{z=\"1\",a=\"q\\\"\\\\\\n\"} 3\n\n\
                    # TYPE chillproxy_g gauge\nchillproxy_g inf\n\n\
                    # TYPE chillproxy_h_seconds histogram\n\
                    chillproxy_h_seconds_bucket{r=\"x\",le=\"0.5\"} 1\n\
                    chillproxy_h_seconds_bucket{r=\"x\",le=\"1\"} 2\n\
                    chillproxy_h_seconds_bucket{r=\"x\",le=\"+Inf\"} 3\n\
                    chillproxy_h_seconds_sum{r=\"x\"} 7.5\n\
                    chillproxy_h_seconds_count{r=\"x\"} 3\n\n";
        let families = parse(text);
        let labels = |pairs: &[(&str, &str)]| own(pairs);
        let counter = &families["chillproxy_a_total"];
        assert_eq!((counter.kind, counter.help.as_str()), (Kind::Counter, ""));
        assert!(
            matches!(counter.series.get(&labels(&[("a", "q\"\\\n"), ("z", "1")])), Some(SeriesValue::Value(v)) if *v == 3.0)
        );
        assert!(
            matches!(families["chillproxy_g"].series.get(&labels(&[])), Some(SeriesValue::Value(v)) if *v == f64::INFINITY)
        );
        let Some(SeriesValue::Histogram { buckets, sum, count }) =
            families["chillproxy_h_seconds"].series.get(&labels(&[("r", "x")]))
        else {
            panic!("no histogram")
        };
        assert_eq!((buckets.as_slice(), *sum, *count), (&[(0.5, 1), (1.0, 2)][..], 7.5, 3));
    }

    #[test]
    fn numbers_read_as_prometheus_expects() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(1e20), "100000000000000000000");
    }
}
