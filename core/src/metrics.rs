//! A small process-wide metrics registry with Prometheus text output (exposition format 0.0.4).
//!
//! Plugins and the host record into one global [`Registry`]; the host serves [`render_with`] at
//! `GET /metrics`. There are counters, gauges and fixed-bucket histograms, each identified by a
//! metric name and a set of labels (sorted by label name), and value functions
//! ([`register_counter_fn`], [`register_gauge_fn`]) that are called at render time for values
//! that live elsewhere (a circuit breaker's state, a cache's hit counters).
//!
//! Handles are cheap: looking one up takes a short lock on the registry's map; the handle
//! itself is an `Arc` of atomics and may be kept. Label values must never carry anything a user
//! sent (config segments, tokens, keys, raw paths): metrics are read by operators, and every
//! distinct label value is a new series kept for the life of the process.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// Upper bounds, in seconds, of the latency histograms' buckets (`+Inf` is implied).
pub const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// `chillproxy_upstream_requests_total`: calls from plugins to upstream services.
pub const UPSTREAM_REQUESTS: &str = "chillproxy_upstream_requests_total";
/// `chillproxy_upstream_request_duration_seconds`: their latency.
pub const UPSTREAM_DURATION: &str = "chillproxy_upstream_request_duration_seconds";
/// `chillproxy_auth_outcomes_total`: answers of auth providers in the auth chain.
pub const AUTH_OUTCOMES: &str = "chillproxy_auth_outcomes_total";
/// `chillproxy_cache_hits_total` / `chillproxy_cache_misses_total`, by `cache`.
pub const CACHE_HITS: &str = "chillproxy_cache_hits_total";
pub const CACHE_MISSES: &str = "chillproxy_cache_misses_total";
pub const CACHE_HITS_HELP: &str = "Lookups answered from a cache (or joined to a load in flight), by cache.";
pub const CACHE_MISSES_HELP: &str = "Lookups that had to load, by cache.";

/// What kind of series a metric name holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// How one upstream call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream answered (an answer that says "no", like a denial, is still `ok`).
    Ok,
    /// A transport failure, an error status or an unreadable reply.
    Error,
    /// No answer within the budget.
    Timeout,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
        }
    }
}

/// Label pairs, sorted by name.
type Labels = Vec<(String, String)>;

/// A value read at render time. `None` means its owner is gone: the function is dropped.
pub type ValueFn = Arc<dyn Fn() -> Option<f64> + Send + Sync>;

/// A counter: only grows.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A gauge: any `f64`, set as a whole.
#[derive(Debug, Clone, Default)]
pub struct Gauge(Arc<AtomicU64>);

impl Gauge {
    pub fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

#[derive(Debug)]
struct HistogramCore {
    bounds: &'static [f64],
    /// One per bound plus `+Inf`; not cumulative (summed at render time).
    buckets: Vec<AtomicU64>,
    sum_bits: AtomicU64,
    count: AtomicU64,
}

/// A histogram with fixed buckets ([`LATENCY_BUCKETS`]).
#[derive(Debug, Clone)]
pub struct Histogram(Arc<HistogramCore>);

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self(Arc::new(HistogramCore {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_bits: AtomicU64::new(0f64.to_bits()),
            count: AtomicU64::new(0),
        }))
    }

    pub fn observe(&self, value: f64) {
        let core = &self.0;
        let at = core.bounds.iter().position(|bound| value <= *bound).unwrap_or(core.bounds.len());
        if let Some(bucket) = core.buckets.get(at) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        let _ = core
            .sum_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| Some((f64::from_bits(bits) + value).to_bits()));
        core.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn observe_duration(&self, elapsed: Duration) {
        self.observe(elapsed.as_secs_f64());
    }

    pub fn count(&self) -> u64 {
        self.0.count.load(Ordering::Relaxed)
    }

    pub fn sum(&self) -> f64 {
        f64::from_bits(self.0.sum_bits.load(Ordering::Relaxed))
    }
}

enum Series {
    Counter(Counter),
    Gauge(Gauge),
    Histogram(Histogram),
    /// Value functions for one series: counters are summed, gauges take the largest value
    /// (several owners can exist in one process, e.g. in tests).
    Fns(Vec<ValueFn>),
}

struct Family {
    help: String,
    kind: Kind,
    series: BTreeMap<Labels, Series>,
}

/// One value handed to [`Registry::render_with`] (e.g. the host's per-instance counters). It is
/// merged into its family: added to a counter of the same labels, or the larger of two gauges.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub help: String,
    pub kind: Kind,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn counter(name: &str, help: &str, labels: &[(&str, &str)], value: f64) -> Self {
        Self { name: name.into(), help: help.into(), kind: Kind::Counter, labels: own(labels), value }
    }

    pub fn gauge(name: &str, help: &str, labels: &[(&str, &str)], value: f64) -> Self {
        Self { name: name.into(), help: help.into(), kind: Kind::Gauge, labels: own(labels), value }
    }
}

/// A set of metric families. Most code uses the process-wide one through the free functions.
#[derive(Default)]
pub struct Registry {
    families: Mutex<BTreeMap<String, Family>>,
}

static GLOBAL: OnceLock<Registry> = OnceLock::new();

/// The process-wide registry.
pub fn global() -> &'static Registry {
    GLOBAL.get_or_init(Registry::default)
}

/// A counter of the global registry (see [`Registry::counter`]).
pub fn counter(name: &str, help: &str, labels: &[(&str, &str)]) -> Counter {
    global().counter(name, help, labels)
}

/// A gauge of the global registry.
pub fn gauge(name: &str, help: &str, labels: &[(&str, &str)]) -> Gauge {
    global().gauge(name, help, labels)
}

/// A latency histogram of the global registry.
pub fn histogram(name: &str, help: &str, labels: &[(&str, &str)]) -> Histogram {
    global().histogram(name, help, labels)
}

/// A gauge whose value `value` gives at render time (see [`Registry::register_fn`]).
pub fn register_gauge_fn(name: &str, help: &str, labels: &[(&str, &str)], value: ValueFn) {
    global().register_fn(name, help, Kind::Gauge, labels, value);
}

/// A counter whose value `value` gives at render time.
pub fn register_counter_fn(name: &str, help: &str, labels: &[(&str, &str)], value: ValueFn) {
    global().register_fn(name, help, Kind::Counter, labels, value);
}

/// The global registry in Prometheus text format.
pub fn render() -> String {
    global().render_with(&[])
}

/// The global registry plus `extra`, in Prometheus text format.
pub fn render_with(extra: &[Sample]) -> String {
    global().render_with(extra)
}

/// Records one call from a plugin to an upstream service:
/// `chillproxy_upstream_requests_total{plugin,operation,outcome}` and
/// `chillproxy_upstream_request_duration_seconds{plugin,operation}`. `operation` must be a
/// fixed name (an endpoint pattern, never a URL).
pub fn record_upstream(plugin: &str, operation: &str, outcome: Outcome, elapsed: Duration) {
    let registry = global();
    registry
        .counter(
            UPSTREAM_REQUESTS,
            "Calls to upstream services, by plugin, operation and outcome (ok, error, timeout).",
            &[("plugin", plugin), ("operation", operation), ("outcome", outcome.as_str())],
        )
        .inc();
    registry
        .histogram(
            UPSTREAM_DURATION,
            "Latency of calls to upstream services, by plugin and operation.",
            &[("plugin", plugin), ("operation", operation)],
        )
        .observe_duration(elapsed);
}

/// Records one auth provider's answer: `chillproxy_auth_outcomes_total{provider,outcome}`.
pub fn record_auth_outcome(provider: &str, outcome: &str) {
    counter(
        AUTH_OUTCOMES,
        "Answers of auth providers in the auth chain, by provider and outcome (granted, denied, failed, \
         not_applicable).",
        &[("provider", provider), ("outcome", outcome)],
    )
    .inc();
}

fn own(labels: &[(&str, &str)]) -> Labels {
    let mut owned: Labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    owned.sort();
    owned
}

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    name != "le"
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Family>> {
        self.families.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Finds or creates the series and hands it to `pick`; `None` when the name or a label is
    /// invalid, or the name is already used by another kind (then the caller gets a detached
    /// handle that records nowhere, and a warning is logged).
    fn with_series<T>(
        &self,
        name: &str,
        help: &str,
        kind: Kind,
        labels: &[(&str, &str)],
        make: impl FnOnce() -> Series,
        pick: impl FnOnce(&mut Series) -> Option<T>,
    ) -> Option<T> {
        if !valid_metric_name(name) || !labels.iter().all(|(k, _)| valid_label_name(k)) {
            tracing::warn!(metric = name, "invalid metric or label name; not recorded");
            return None;
        }
        let labels = own(labels);
        let mut families = self.lock();
        let family = families.entry(name.to_string()).or_insert_with(|| Family {
            help: help.to_string(),
            kind,
            series: BTreeMap::new(),
        });
        if family.kind != kind {
            drop(families);
            tracing::warn!(metric = name, "metric name already used by another kind; not recorded");
            return None;
        }
        let picked = pick(family.series.entry(labels).or_insert_with(make));
        if picked.is_none() {
            drop(families);
            tracing::warn!(metric = name, "metric series already used by another kind; not recorded");
        }
        picked
    }

    /// The counter `name{labels}`, created at 0 when new. `help` is kept from the first call.
    pub fn counter(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Counter {
        self.with_series(
            name,
            help,
            Kind::Counter,
            labels,
            || Series::Counter(Counter::default()),
            |s| match s {
                Series::Counter(c) => Some(c.clone()),
                _ => None,
            },
        )
        .unwrap_or_default()
    }

    /// The gauge `name{labels}`, created at 0 when new.
    pub fn gauge(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Gauge {
        self.with_series(
            name,
            help,
            Kind::Gauge,
            labels,
            || Series::Gauge(Gauge::default()),
            |s| match s {
                Series::Gauge(g) => Some(g.clone()),
                _ => None,
            },
        )
        .unwrap_or_default()
    }

    /// The histogram `name{labels}` with [`LATENCY_BUCKETS`] (in seconds).
    pub fn histogram(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Histogram {
        self.with_series(
            name,
            help,
            Kind::Histogram,
            labels,
            || Series::Histogram(Histogram::new(LATENCY_BUCKETS)),
            |s| match s {
                Series::Histogram(h) => Some(h.clone()),
                _ => None,
            },
        )
        .unwrap_or_else(|| Histogram::new(LATENCY_BUCKETS))
    }

    /// Adds a value function for `name{labels}` (`kind` is `Counter` or `Gauge`), called at
    /// each render; once it returns `None` it is dropped. Several functions for one series are
    /// combined: counters summed, gauges the largest. Use a `Weak` to the owner so that a
    /// dropped owner disappears from the output.
    pub fn register_fn(&self, name: &str, help: &str, kind: Kind, labels: &[(&str, &str)], value: ValueFn) {
        if kind == Kind::Histogram {
            tracing::warn!(metric = name, "a value function cannot be a histogram; not recorded");
            return;
        }
        let mut value = Some(value);
        self.with_series(
            name,
            help,
            kind,
            labels,
            || Series::Fns(Vec::new()),
            |s| match s {
                Series::Fns(fns) => {
                    fns.extend(value.take());
                    Some(())
                }
                _ => None,
            },
        );
    }

    /// Everything in Prometheus text format.
    pub fn render(&self) -> String {
        self.render_with(&[])
    }

    /// Everything plus `extra`, in Prometheus text format: families sorted by name, each with
    /// its `# HELP` and `# TYPE` lines, series sorted by labels.
    pub fn render_with(&self, extra: &[Sample]) -> String {
        let mut snapshot = self.snapshot();
        for sample in extra {
            if !valid_metric_name(&sample.name)
                || sample.kind == Kind::Histogram
                || !sample.labels.iter().all(|(k, _)| valid_label_name(k))
            {
                continue;
            }
            let family = snapshot.entry(sample.name.clone()).or_insert_with(|| SnapFamily {
                help: sample.help.clone(),
                kind: sample.kind,
                series: BTreeMap::new(),
            });
            if family.kind != sample.kind {
                continue;
            }
            let mut labels = sample.labels.clone();
            labels.sort();
            match family.series.get_mut(&labels) {
                Some(SnapValue::Value(v)) => *v = combine(sample.kind, *v, sample.value),
                Some(SnapValue::Histogram { .. }) => {}
                None => {
                    family.series.insert(labels, SnapValue::Value(sample.value));
                }
            }
        }
        let mut out = String::new();
        for (name, family) in &snapshot {
            if family.series.is_empty() {
                continue;
            }
            let _ = writeln!(out, "# HELP {name} {}", escape_help(&family.help));
            let _ = writeln!(out, "# TYPE {name} {}", family.kind.as_str());
            for (labels, value) in &family.series {
                match value {
                    SnapValue::Value(v) => {
                        let _ = writeln!(out, "{name}{} {}", label_text(labels, None), number(*v));
                    }
                    SnapValue::Histogram { bounds, cumulative, sum, count } => {
                        for (bound, n) in bounds.iter().zip(cumulative) {
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

    /// Reads every series; value functions are called outside the lock, and those whose owner
    /// is gone are removed.
    fn snapshot(&self) -> BTreeMap<String, SnapFamily> {
        let mut snapshot = BTreeMap::new();
        let mut pending: Vec<(String, Labels, Kind, Vec<ValueFn>)> = Vec::new();
        {
            let families = self.lock();
            for (name, family) in families.iter() {
                let mut series = BTreeMap::new();
                for (labels, value) in &family.series {
                    match value {
                        Series::Counter(c) => {
                            series.insert(labels.clone(), SnapValue::Value(c.get() as f64));
                        }
                        Series::Gauge(g) => {
                            series.insert(labels.clone(), SnapValue::Value(g.get()));
                        }
                        Series::Histogram(h) => {
                            let core = &h.0;
                            let mut running = 0u64;
                            let cumulative = core.buckets[..core.bounds.len()]
                                .iter()
                                .map(|b| {
                                    running += b.load(Ordering::Relaxed);
                                    running
                                })
                                .collect();
                            // Read the count after the buckets, so `+Inf` is never below them.
                            let count = h.count().max(running);
                            series.insert(
                                labels.clone(),
                                SnapValue::Histogram { bounds: core.bounds, cumulative, sum: h.sum(), count },
                            );
                        }
                        Series::Fns(fns) => pending.push((name.clone(), labels.clone(), family.kind, fns.clone())),
                    }
                }
                snapshot.insert(name.clone(), SnapFamily { help: family.help.clone(), kind: family.kind, series });
            }
        }
        let mut dead = Vec::new();
        for (name, labels, kind, fns) in pending {
            let mut combined: Option<f64> = None;
            for f in &fns {
                match f() {
                    Some(v) => combined = Some(combined.map_or(v, |c| combine(kind, c, v))),
                    None => dead.push((name.clone(), labels.clone(), f.clone())),
                }
            }
            if let (Some(v), Some(family)) = (combined, snapshot.get_mut(&name)) {
                family.series.insert(labels, SnapValue::Value(v));
            }
        }
        if !dead.is_empty() {
            let mut families = self.lock();
            for (name, labels, f) in dead {
                let Some(family) = families.get_mut(&name) else { continue };
                if let Some(Series::Fns(fns)) = family.series.get_mut(&labels) {
                    fns.retain(|g| !Arc::ptr_eq(g, &f));
                    if fns.is_empty() {
                        family.series.remove(&labels);
                    }
                }
            }
        }
        snapshot
    }
}

struct SnapFamily {
    help: String,
    kind: Kind,
    series: BTreeMap<Labels, SnapValue>,
}

enum SnapValue {
    Value(f64),
    Histogram { bounds: &'static [f64], cumulative: Vec<u64>, sum: f64, count: u64 },
}

fn combine(kind: Kind, a: f64, b: f64) -> f64 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_gauges_render_with_help_type_and_sorted_labels() {
        let registry = Registry::default();
        let c = registry.counter("chillproxy_test_total", "Things done.", &[("zone", "b"), ("kind", "x")]);
        c.inc();
        c.add(2);
        registry.counter("chillproxy_test_total", "ignored help", &[("kind", "x"), ("zone", "a")]).inc();
        // The same series is found again, whatever the label order.
        registry.counter("chillproxy_test_total", "", &[("kind", "x"), ("zone", "b")]).inc();
        registry.gauge("chillproxy_depth", "How deep.", &[]).set(2.5);
        let text = registry.render();
        assert_eq!(
            text,
            "# HELP chillproxy_depth How deep.\n\
             # TYPE chillproxy_depth gauge\n\
             chillproxy_depth 2.5\n\
             # HELP chillproxy_test_total Things done.\n\
             # TYPE chillproxy_test_total counter\n\
             chillproxy_test_total{kind=\"x\",zone=\"a\"} 1\n\
             chillproxy_test_total{kind=\"x\",zone=\"b\"} 4\n"
        );
    }

    #[test]
    fn histograms_are_cumulative_with_inf_sum_and_count() {
        let registry = Registry::default();
        let h = registry.histogram("chillproxy_latency_seconds", "Latency.", &[("route", "/x")]);
        h.observe(0.003);
        h.observe(0.2);
        h.observe_duration(Duration::from_secs(60));
        let text = registry.render();
        assert!(text.contains("# TYPE chillproxy_latency_seconds histogram\n"), "{text}");
        assert!(text.contains("chillproxy_latency_seconds_bucket{route=\"/x\",le=\"0.005\"} 1\n"), "{text}");
        assert!(text.contains("chillproxy_latency_seconds_bucket{route=\"/x\",le=\"0.1\"} 1\n"), "{text}");
        assert!(text.contains("chillproxy_latency_seconds_bucket{route=\"/x\",le=\"0.25\"} 2\n"), "{text}");
        assert!(text.contains("chillproxy_latency_seconds_bucket{route=\"/x\",le=\"30\"} 2\n"), "{text}");
        assert!(text.contains("chillproxy_latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("chillproxy_latency_seconds_sum{route=\"/x\"} 60.203\n"), "{text}");
        assert!(text.contains("chillproxy_latency_seconds_count{route=\"/x\"} 3\n"), "{text}");
        let buckets = text.lines().filter(|l| l.starts_with("chillproxy_latency_seconds_bucket")).count();
        assert_eq!(buckets, LATENCY_BUCKETS.len() + 1);
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let registry = Registry::default();
        registry.counter("chillproxy_odd_total", "Line one\nback\\slash", &[("v", "a\"b\\c\nd")]).inc();
        let text = registry.render();
        assert!(text.contains("# HELP chillproxy_odd_total Line one\\nback\\\\slash\n"), "{text}");
        assert!(text.contains("chillproxy_odd_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"), "{text}");
    }

    #[test]
    fn invalid_names_and_kind_clashes_record_nowhere() {
        let registry = Registry::default();
        registry.counter("bad name", "", &[]).inc();
        registry.counter("chillproxy_ok_total", "", &[("Bad-Label", "x")]).inc();
        registry.counter("chillproxy_ok_total", "", &[("le", "x")]).inc();
        registry.counter("chillproxy_clash", "Counter.", &[]).inc();
        registry.gauge("chillproxy_clash", "", &[]).set(9.0);
        assert_eq!(
            registry.render(),
            "# HELP chillproxy_clash Counter.\n# TYPE chillproxy_clash counter\nchillproxy_clash 1\n"
        );
    }

    #[test]
    fn value_functions_are_combined_and_dropped_with_their_owner() {
        let registry = Registry::default();
        let owner = Arc::new(3.0f64);
        let weak = Arc::downgrade(&owner);
        registry.register_fn(
            "chillproxy_hits_total",
            "Hits.",
            Kind::Counter,
            &[("cache", "c")],
            Arc::new(move || weak.upgrade().map(|v| *v)),
        );
        registry.register_fn("chillproxy_hits_total", "", Kind::Counter, &[("cache", "c")], Arc::new(|| Some(4.0)));
        registry.register_fn("chillproxy_open", "Open.", Kind::Gauge, &[("plugin", "p")], Arc::new(|| Some(0.5)));
        registry.register_fn("chillproxy_open", "", Kind::Gauge, &[("plugin", "p")], Arc::new(|| Some(1.0)));
        let text = registry.render();
        assert!(text.contains("chillproxy_hits_total{cache=\"c\"} 7\n"), "{text}");
        assert!(text.contains("chillproxy_open{plugin=\"p\"} 1\n"), "{text}");
        drop(owner);
        let text = registry.render();
        assert!(text.contains("chillproxy_hits_total{cache=\"c\"} 4\n"), "{text}");
        let Some(Family { series, .. }) = registry.lock().remove("chillproxy_hits_total") else { panic!() };
        assert!(matches!(series.values().next(), Some(Series::Fns(fns)) if fns.len() == 1), "the dead one is gone");
    }

    #[test]
    fn extra_samples_merge_into_their_families() {
        let registry = Registry::default();
        registry.counter(CACHE_HITS, CACHE_HITS_HELP, &[("cache", "answers")]).add(2);
        let extra = [
            Sample::counter(CACHE_HITS, CACHE_HITS_HELP, &[("cache", "links")], 5.0),
            Sample::counter(CACHE_HITS, CACHE_HITS_HELP, &[("cache", "answers")], 1.0),
            Sample::gauge("chillproxy_usage_spool_depth", "Events waiting.", &[], 0.0),
            Sample::gauge(CACHE_HITS, "wrong kind", &[], 1.0),
        ];
        let text = registry.render_with(&extra);
        assert_eq!(
            text,
            "# HELP chillproxy_cache_hits_total Lookups answered from a cache (or joined to a load in flight), by cache.\n\
             # TYPE chillproxy_cache_hits_total counter\n\
             chillproxy_cache_hits_total{cache=\"answers\"} 3\n\
             chillproxy_cache_hits_total{cache=\"links\"} 5\n\
             # HELP chillproxy_usage_spool_depth Events waiting.\n\
             # TYPE chillproxy_usage_spool_depth gauge\n\
             chillproxy_usage_spool_depth 0\n"
        );
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

    #[test]
    fn the_global_helpers_record_upstream_calls_and_auth_outcomes() {
        let before =
            counter(UPSTREAM_REQUESTS, "", &[("plugin", "unit"), ("operation", "op"), ("outcome", "ok")]).get();
        record_upstream("unit", "op", Outcome::Ok, Duration::from_millis(3));
        record_auth_outcome("unit", "granted");
        let after = counter(UPSTREAM_REQUESTS, "", &[("plugin", "unit"), ("operation", "op"), ("outcome", "ok")]).get();
        assert_eq!(after, before + 1);
        let text = render();
        assert!(text.contains("# TYPE chillproxy_upstream_request_duration_seconds histogram\n"), "{text}");
        assert!(text.contains("chillproxy_auth_outcomes_total{outcome=\"granted\",provider=\"unit\"}"), "{text}");
    }
}
