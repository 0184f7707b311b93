//! One look at the process for the status page: the metrics it already keeps (requests,
//! playback outcomes, breakers), its health registry (upstream failures, budgets) and its
//! shared tier. Labels are route patterns, fixed outcome words, operator-configured upstream
//! names and short key fingerprints: nothing a user sent.

use chillproxy_core::health::{Health, Kind, State};
use chillproxy_core::metrics::{self, label, Snapshot};

use super::history::{Chart, Measure, Reading};

/// `chillproxy_http_requests_total{route,status}`.
pub(crate) const HTTP_REQUESTS: &str = metrics::HTTP_REQUESTS;

/// What a reading needs besides the global metrics.
pub(crate) struct Sources<'a> {
    pub health: &'a Health,
    /// The shared tier's kind and whether it works below its design.
    pub tier_kind: &'static str,
    pub tier_degraded: bool,
    pub spool_depth: u64,
}

/// A reading of every series from `snapshot` (the global metrics, read once) and `sources`.
pub(crate) fn read_from(at: u64, snapshot: &Snapshot, sources: &Sources<'_>) -> Reading {
    let mut reading = Reading { at, values: Vec::new() };
    let requests = |keep: &dyn Fn(&str, &str) -> bool| {
        snapshot.sum(HTTP_REQUESTS, |labels| {
            keep(label(labels, "route").unwrap_or_default(), label(labels, "status").unwrap_or_default())
        })
    };
    reading.push(Chart::Requests, "all", Measure::Counter, requests(&|_, _| true));
    reading.push(Chart::Requests, "stream lists", Measure::Counter, requests(&|route, _| route.contains("/stream/")));
    reading.push(
        Chart::Requests,
        "playback",
        Measure::Counter,
        requests(&|route, _| route.contains("/_/strem/") || route.contains("/_/play/")),
    );
    reading.push(Chart::Requests, "5xx", Measure::Counter, requests(&|_, status| status.starts_with('5')));
    for (labels, value) in snapshot.series(metrics::PLAYBACK_OUTCOMES) {
        if let Some(outcome) = label(labels, "outcome") {
            reading.push(Chart::Playback, outcome, Measure::Counter, value);
        }
    }
    for upstream in sources.health.upstreams() {
        let name = format!("{} {}", upstream.kind.as_str(), upstream.name);
        reading.push(Chart::UpstreamErrors, name, Measure::Counter, upstream.failures as f64);
    }
    for budget in sources.health.budgets() {
        if budget.limit == 0 {
            continue;
        }
        let name = format!("{} {} {}", budget.upstream, budget.key, budget.window);
        let left = if budget.blocked_s > 0 { 0.0 } else { budget.left as f64 * 100.0 / budget.limit as f64 };
        reading.push(Chart::Budgets, name, Measure::Gauge, left);
    }
    for (labels, value) in snapshot.series(metrics::BREAKER_OPEN) {
        if let Some(plugin) = label(labels, "plugin") {
            reading.push(Chart::Breakers, format!("{plugin} breaker"), Measure::Gauge, value);
        }
    }
    let open = sources.health.upstreams().iter().any(|u| u.kind == Kind::SharedTier && u.state == State::Open);
    let tier = if sources.tier_degraded || open { 1.0 } else { 0.0 };
    reading.push(Chart::Breakers, format!("shared tier ({}) degraded", sources.tier_kind), Measure::Gauge, tier);
    reading.push(Chart::Spool, "usage events waiting", Measure::Gauge, sources.spool_depth as f64);
    reading
}

#[cfg(test)]
mod tests {
    use super::*;
    use chillproxy_core::health::{ErrorKind, Verdict};
    use chillproxy_core::Secret;
    use std::time::Duration;

    #[test]
    fn a_reading_has_requests_outcomes_upstream_failures_budgets_and_the_tier() {
        let registry = metrics::Registry::default();
        registry
            .counter(HTTP_REQUESTS, "", &[("route", "/stremio/torz/{config}/stream/{kind}/{id}"), ("status", "200")])
            .add(4);
        registry.counter(HTTP_REQUESTS, "", &[("route", "/ready"), ("status", "503")]).add(1);
        registry.counter(metrics::PLAYBACK_OUTCOMES, "", &[("outcome", "played")]).add(2);
        registry.gauge(metrics::BREAKER_OPEN, "", &[("plugin", "auth-x")]).set(1.0);
        let health = Health::default();
        let store = health.tracker(Kind::Store, "memory");
        store.record(Verdict::Failed(ErrorKind::Timeout));
        store.note_budget(&Secret::new("k").fingerprint(), "requests_per_minute", 30, 300, Duration::from_secs(60));
        let sources = Sources { health: &health, tier_kind: "memory", tier_degraded: false, spool_depth: 3 };
        let reading = read_from(7, &registry.snapshot(), &sources);
        let value = |chart: Chart, label: &str| {
            reading.values.iter().find(|(s, _)| s.chart == chart && s.label == label).map(|(_, v)| *v)
        };
        assert_eq!(value(Chart::Requests, "all"), Some(5.0));
        assert_eq!(value(Chart::Requests, "stream lists"), Some(4.0));
        assert_eq!(value(Chart::Requests, "5xx"), Some(1.0));
        assert_eq!(value(Chart::Playback, "played"), Some(2.0));
        assert_eq!(value(Chart::UpstreamErrors, "store memory"), Some(1.0));
        let fingerprint = chillproxy_core::health::short_fingerprint(&Secret::new("k").fingerprint());
        assert_eq!(value(Chart::Budgets, &format!("memory {fingerprint} requests_per_minute")), Some(90.0));
        assert_eq!(value(Chart::Breakers, "auth-x breaker"), Some(1.0));
        assert_eq!(value(Chart::Breakers, "shared tier (memory) degraded"), Some(0.0));
        assert_eq!(value(Chart::Spool, "usage events waiting"), Some(3.0));
    }
}
