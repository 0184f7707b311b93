//! The status page's markup: the template and style are files next to this one (`page.html`,
//! `page.css`); the style is a constant, so the Content-Security-Policy names it by hash. There
//! is no script: the page refreshes itself with `<meta http-equiv="refresh">`. Every value is
//! HTML-escaped; none is a key, a token or anything a user sent.

use std::fmt::Write as _;

use chillproxy_core::health::{BudgetUse, UpstreamHealth};

pub(crate) const STYLE: &str = include_str!("page.css");

/// One breaker or the shared tier, as the page lists them.
pub(crate) struct Breaker {
    pub name: String,
    /// `closed`, `half-open`, `open`; or for the tier `ok`, `degraded`.
    pub state: &'static str,
    pub detail: String,
}

/// Everything the page shows.
pub(crate) struct Page<'a> {
    pub version: &'a str,
    pub uptime_s: u64,
    /// `Err` names why `/ready` answers 503.
    pub ready: Result<(), &'a str>,
    pub frames: usize,
    pub every_s: u64,
    pub refresh_s: u64,
    /// (what, how many) since start.
    pub summary: Vec<(&'static str, String)>,
    pub upstreams: &'a [UpstreamHealth],
    /// Rendered charts (see `chart::render`).
    pub charts: Vec<String>,
    pub budgets: &'a [BudgetUse],
    pub breakers: &'a [Breaker],
    /// Unix seconds.
    pub generated: u64,
}

pub(crate) use crate::html::escape;

/// `3 h 12 min`, `4 min 5 s`, `12 s`.
pub(crate) fn duration(seconds: u64) -> String {
    match seconds {
        s if s >= 86_400 => format!("{} d {} h", s / 86_400, s % 86_400 / 3_600),
        s if s >= 3_600 => format!("{} h {} min", s / 3_600, s % 3_600 / 60),
        s if s >= 60 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{s} s"),
    }
}

fn upstream_table(upstreams: &[UpstreamHealth]) -> String {
    if upstreams.is_empty() {
        return "<p class=\"quiet\">No upstream is configured.</p>".to_string();
    }
    let mut html = String::from(
        "<table><thead><tr><th>Kind</th><th>Name</th><th>State</th><th>For</th><th>Last error</th>\
         <th class=\"num\">Calls</th><th class=\"num\">Failed</th></tr></thead><tbody>",
    );
    for u in upstreams {
        let since = u.since_s.map(duration).unwrap_or_else(|| "–".into());
        let error = match (u.last_error, u.last_error_s) {
            (Some(kind), Some(ago)) => format!("{} ({} ago)", kind.as_str(), duration(ago)),
            _ => "–".into(),
        };
        let state = u.state.as_str();
        let _ = write!(
            html,
            "<tr data-upstream=\"{}\" data-state=\"{state}\"><td>{}</td><td>{}</td><td class=\"state-{state}\">{state}</td>\
             <td>{since}</td><td>{error}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&u.name),
            u.kind.as_str(),
            escape(&u.name),
            u.calls,
            u.failures
        );
    }
    html.push_str("</tbody></table>");
    html
}

fn budget_table(budgets: &[BudgetUse]) -> String {
    if budgets.is_empty() {
        return "<p class=\"quiet\">No store call has spent from a budget yet.</p>".to_string();
    }
    let mut html = String::from(
        "<table><thead><tr><th>Store</th><th>Key</th><th>Window</th><th class=\"num\">Used</th>\
         <th class=\"num\">Limit</th><th class=\"num\">Left</th><th>Held back</th><th>Counted</th></tr></thead><tbody>",
    );
    for b in budgets {
        let limit = if b.limit == 0 { "off".to_string() } else { b.limit.to_string() };
        let held = if b.blocked_s > 0 { format!("{} more", duration(b.blocked_s)) } else { "–".into() };
        let _ = write!(
            html,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{limit}</td>\
             <td class=\"num\">{}</td><td>{held}</td><td>{} ago</td></tr>",
            escape(&b.upstream),
            escape(&b.key),
            b.window,
            b.used,
            b.left,
            duration(b.seen_s)
        );
    }
    html.push_str("</tbody></table>");
    html
}

fn breaker_table(breakers: &[Breaker]) -> String {
    let mut html = String::from("<table><thead><tr><th>What</th><th>State</th><th>Detail</th></tr></thead><tbody>");
    for b in breakers {
        let class = match b.state {
            "closed" | "ok" => "ok",
            "half-open" => "throttled",
            _ => "failing",
        };
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"state-{class}\">{}</td><td>{}</td></tr>",
            escape(&b.name),
            b.state,
            escape(&b.detail)
        );
    }
    html.push_str("</tbody></table>");
    html
}

/// The whole page.
pub(crate) fn render(page: &Page<'_>) -> String {
    let readiness = match page.ready {
        Ok(()) => "<span class=\"pill good\">ready</span>".to_string(),
        Err(reason) => format!("<span class=\"pill bad\" title=\"{0}\">not ready: {0}</span>", escape(reason)),
    };
    let summary: String =
        page.summary.iter().map(|(what, value)| format!("<span>{what} <b>{}</b></span>", escape(value))).collect();
    let charts: String = page.charts.iter().map(|chart| format!("<div class=\"card\">{chart}</div>\n")).collect();
    format!(
        include_str!("page.html"),
        style = STYLE,
        refresh_s = page.refresh_s,
        version = escape(page.version),
        uptime = duration(page.uptime_s),
        frames = page.frames,
        every_s = page.every_s,
        readiness = readiness,
        summary = summary,
        upstreams = upstream_table(page.upstreams),
        charts = charts,
        budgets = budget_table(page.budgets),
        breakers = breaker_table(page.breakers),
        generated = httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(page.generated)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chillproxy_core::health::{ErrorKind, Kind, State};

    #[test]
    fn the_page_lists_upstreams_budgets_and_breakers_escaped() {
        let upstreams = [UpstreamHealth {
            kind: Kind::Indexer,
            name: "<Prowlarr>".into(),
            state: State::Failing,
            since_s: Some(75),
            last_error: Some(ErrorKind::Http5xx),
            last_error_s: Some(3),
            calls: 9,
            failures: 2,
        }];
        let budgets = [BudgetUse {
            upstream: "memory".into(),
            key: "0123456789ab".into(),
            window: "requests_per_minute",
            used: 12,
            limit: 300,
            left: 288,
            blocked_s: 0,
            seen_s: 4,
        }];
        let breakers = [Breaker { name: "shared tier (memory)".into(), state: "ok", detail: "no errors".into() }];
        let html = render(&Page {
            version: "0.1.0",
            uptime_s: 3_725,
            ready: Err("no store plugin is enabled"),
            frames: 3,
            every_s: 10,
            refresh_s: 10,
            summary: vec![("requests", "12".into())],
            upstreams: &upstreams,
            charts: vec!["<figure>chart</figure>".into()],
            budgets: &budgets,
            breakers: &breakers,
            generated: 0,
        });
        assert!(html.contains(&format!("<style>{STYLE}</style>")), "the hashed style is the element's whole text");
        assert!(!html.contains("<script"), "no script at all");
        assert!(html.contains("&lt;Prowlarr&gt;") && !html.contains("<Prowlarr>"));
        assert!(html.contains("http_5xx (3 s ago)") && html.contains("1 min 15 s"), "{html}");
        assert!(html.contains("<code>0123456789ab</code>") && html.contains(">288<"));
        assert!(html.contains("not ready: no store plugin is enabled"));
        assert!(html.contains("up 1 h 2 min"));
        assert!(html.contains("<div class=\"card\"><figure>chart</figure></div>"));
    }
}
