//! Process-wide metrics with Prometheus text output (exposition format 0.0.4), stored and
//! rendered by `metrics-exporter-prometheus`.
//!
//! Plugins and the host record into one global [`Registry`]; the host serves [`render_with`] at
//! `GET /metrics`. There are counters, gauges and fixed-bucket histograms ([`LATENCY_BUCKETS`]),
//! each identified by a metric name and a set of labels (sorted by label name), and value
//! functions ([`register_counter_fn`], [`register_gauge_fn`]) that are called at render time for
//! values that live elsewhere (a circuit breaker's state, a cache's hit counters).
//!
//! The exporter's recorder holds the counters, gauges and histograms and renders them; it is
//! used directly, not installed as the `metrics` crate's global recorder, so nothing else in the
//! process can write into `/metrics`. On top of it this module keeps what the exporter has no
//! notion of: one kind and one HELP text per name (the first registration wins; a name used
//! again as another kind records nowhere, where the exporter would print two families of one
//! name), value functions, per-render [`Sample`]s merged into their families, and a stable order
//! (families by name, series by labels). For that, [`Registry::render_with`] reads the
//! exporter's text back into families, merges, and prints them.
//!
//! Handles are cheap to use: looking one up validates the names and finds the series in the
//! exporter's sharded registry; the handle may be kept. Label values must never carry anything
//! a user sent (config segments, tokens, keys, raw paths): metrics are read by operators, and
//! every distinct label value is a new series kept for the life of the process.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use metrics::{Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use self::exposition::{combine, SeriesValue};

mod exposition;
mod registry;

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
/// `chillproxy_http_requests_total{route,status}`: HTTP requests the host answered.
pub const HTTP_REQUESTS: &str = "chillproxy_http_requests_total";
/// `chillproxy_stream_lists_total{outcome}`: stream lists by what they held: `streams` (at least
/// one playable stream), `warnings` (only ⚠️ streams), `invalid_config`, `rate_limited`.
pub const STREAM_LISTS: &str = "chillproxy_stream_lists_total";
/// `chillproxy_playback_outcomes_total{outcome}`: playback requests by how they ended
/// (`played`, or the status clip that says why not).
pub const PLAYBACK_OUTCOMES: &str = "chillproxy_playback_outcomes_total";
/// `chillproxy_playback_failovers_total{outcome}`: playbacks whose release failed for a reason of
/// its own and that tried other releases of the title: `played` (one did) or `failed`.
pub const PLAYBACK_FAILOVERS: &str = "chillproxy_playback_failovers_total";
/// `chillproxy_breaker_open{plugin}`: 0 closed, 0.5 half-open, 1 open.
pub const BREAKER_OPEN: &str = "chillproxy_breaker_open";
/// `chillproxy_auth_stale_grants_total{provider}`: grants served from memory while the provider
/// could not be asked.
pub const AUTH_STALE_GRANTS: &str = "chillproxy_auth_stale_grants_total";
pub const CACHE_HITS_HELP: &str = "Lookups answered from a cache (or joined to a load in flight), by cache.";
pub const CACHE_MISSES_HELP: &str = "Lookups that had to load, by cache.";

/// How often the global registry's histogram observations are folded into their buckets
/// between scrapes. The exporter queues each observation (8 bytes) until a render or an upkeep:
/// without one the queue would only grow, and at 25,000 requests/s a second of it is ~200 KB.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

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

    fn parse(text: &str) -> Option<Self> {
        match text {
            "counter" => Some(Kind::Counter),
            "gauge" => Some(Kind::Gauge),
            "histogram" => Some(Kind::Histogram),
            _ => None,
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

/// A counter: only grows. A handle that records nowhere (invalid name, kind clash) reads 0.
#[derive(Debug, Clone)]
pub struct Counter {
    handle: metrics::Counter,
    /// Where [`Counter::get`] reads the value back (shared: handles are cloned on hot paths).
    origin: Option<Arc<(PrometheusHandle, Key)>>,
}

impl Default for Counter {
    fn default() -> Self {
        Self { handle: metrics::Counter::noop(), origin: None }
    }
}

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.handle.increment(n);
    }

    /// The value as `/metrics` shows it. The exporter has no single-value read, so this renders
    /// the registry: for tests and diagnostics, not for request paths.
    pub fn get(&self) -> u64 {
        let Some(origin) = &self.origin else { return 0 };
        let (handle, key) = &**origin;
        let labels = sorted(key.labels().map(|l| (l.key().to_string(), l.value().to_string())).collect());
        match exposition::parse(&handle.render()).get(key.name()).and_then(|f| f.series.get(&labels)) {
            Some(SeriesValue::Value(v)) => *v as u64,
            _ => 0,
        }
    }
}

/// A gauge: any `f64`, set as a whole.
#[derive(Debug, Clone)]
pub struct Gauge(metrics::Gauge);

impl Default for Gauge {
    fn default() -> Self {
        Self(metrics::Gauge::noop())
    }
}

impl Gauge {
    pub fn set(&self, value: f64) {
        self.0.set(value);
    }
}

/// A histogram with fixed buckets ([`LATENCY_BUCKETS`]).
#[derive(Debug, Clone)]
pub struct Histogram(metrics::Histogram);

impl Default for Histogram {
    fn default() -> Self {
        Self(metrics::Histogram::noop())
    }
}

impl Histogram {
    pub fn observe(&self, value: f64) {
        self.0.record(value);
    }

    pub fn observe_duration(&self, elapsed: Duration) {
        self.observe(elapsed.as_secs_f64());
    }
}

/// The kind and HELP text of one metric name, fixed by its first registration.
struct Family {
    kind: Kind,
    help: String,
}

/// The value functions of one metric name.
struct FnFamily {
    kind: Kind,
    series: BTreeMap<Labels, Vec<ValueFn>>,
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
pub struct Registry {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    families: RwLock<HashMap<String, Family>>,
    fns: Mutex<BTreeMap<String, FnFamily>>,
    /// Handles already looked up, by a hash of (kind, name, labels as given): a request path
    /// that records a few series per request finds them with one read lock and no allocation.
    /// Bounded by the number of series, which labels keep small (never user data).
    hot: RwLock<HashMap<u64, Vec<HotHandle>, foldhash::fast::FixedState>>,
}

struct HotHandle {
    kind: Kind,
    name: String,
    labels: Vec<(String, String)>,
    counter: Counter,
    histogram: Histogram,
}

impl HotHandle {
    fn is(&self, kind: Kind, name: &str, labels: &[(&str, &str)]) -> bool {
        self.kind == kind
            && self.name == name
            && self.labels.len() == labels.len()
            && self.labels.iter().zip(labels).all(|((k, v), (k2, v2))| k == k2 && v == v2)
    }
}

fn hot_hash(kind: Kind, name: &str, labels: &[(&str, &str)]) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    // foldhash, not SipHash: this runs a few times per request, on fixed words (never user data).
    let mut hasher = foldhash::fast::FixedState::default().build_hasher();
    (kind as u8).hash(&mut hasher);
    name.hash(&mut hasher);
    labels.hash(&mut hasher);
    hasher.finish()
}

impl Default for Registry {
    fn default() -> Self {
        // `set_buckets` refuses only an empty list; with the default builder histograms would
        // become summaries, which the buckets test would catch.
        let recorder = PrometheusBuilder::new().set_buckets(LATENCY_BUCKETS).unwrap_or_default().build_recorder();
        let handle = recorder.handle();
        Self { recorder, handle, families: RwLock::default(), fns: Mutex::default(), hot: RwLock::default() }
    }
}

static GLOBAL: OnceLock<Registry> = OnceLock::new();

/// The process-wide registry.
pub fn global() -> &'static Registry {
    GLOBAL.get_or_init(|| {
        let registry = Registry::default();
        let handle = registry.handle.clone();
        let upkeep = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || loop {
            std::thread::sleep(UPKEEP_INTERVAL);
            handle.run_upkeep();
        });
        if let Err(error) = upkeep {
            tracing::warn!(%error, "cannot start the metrics upkeep thread; histograms are folded at each scrape only");
        }
        registry
    })
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

/// The global registry's counters and gauges, read now (one render): for a sampler that looks
/// every few seconds, not for request paths.
pub fn snapshot() -> Snapshot {
    global().snapshot()
}

/// Counters and gauges by name, as a render found them (histograms left out).
pub struct Snapshot {
    families: exposition::Families,
}

impl Snapshot {
    /// Every series of `name` with its labels (sorted by name) and value.
    pub fn series(&self, name: &str) -> Vec<(&[(String, String)], f64)> {
        let Some(family) = self.families.get(name) else { return Vec::new() };
        family
            .series
            .iter()
            .filter_map(|(labels, value)| match value {
                SeriesValue::Value(v) => Some((labels.as_slice(), *v)),
                SeriesValue::Histogram { .. } => None,
            })
            .collect()
    }

    /// The sum of the series of `name` whose labels `keep` accepts.
    pub fn sum(&self, name: &str, keep: impl Fn(&[(String, String)]) -> bool) -> f64 {
        self.series(name).into_iter().filter(|(labels, _)| keep(labels)).map(|(_, v)| v).sum()
    }
}

/// The value of `label` in a series' labels.
pub fn label<'a>(labels: &'a [(String, String)], name: &str) -> Option<&'a str> {
    labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
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

/// Records what one stream list held (see [`STREAM_LISTS`]). `outcome` must be a fixed word.
pub fn record_stream_list(outcome: &str) {
    counter(
        STREAM_LISTS,
        "Stream lists by what they held: streams (at least one playable), warnings (only ⚠️ streams), \
         invalid_config, rate_limited.",
        &[("outcome", outcome)],
    )
    .inc();
}

/// Records how one playback request ended: `played` (a link), or the status clip that says why
/// not (`unavailable`, `rate_limited`, …). `outcome` must be a fixed word.
pub fn record_playback(outcome: &str) {
    counter(
        PLAYBACK_OUTCOMES,
        "Playback requests by outcome: played (redirected to a link), or the status clip that says why not.",
        &[("outcome", outcome)],
    )
    .inc();
}

/// Records one failover: `played` (another release of the title played) or `failed` (none of
/// the releases tried did).
pub fn record_failover(outcome: &str) {
    counter(
        PLAYBACK_FAILOVERS,
        "Playbacks whose release failed for a reason of its own (dead, refused, download failed, file missing) \
         and that tried other releases of the same title, by outcome (played, failed).",
        &[("outcome", outcome)],
    )
    .inc();
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
    sorted(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

fn sorted(mut labels: Labels) -> Labels {
    labels.sort();
    labels
}

/// The exporter's key of `name{labels}`, labels sorted by name.
fn key(name: &str, labels: &[(&str, &str)]) -> Key {
    let mut pairs = labels.to_vec();
    pairs.sort();
    let labels: Vec<Label> = pairs.into_iter().map(|(k, v)| Label::new(k.to_string(), v.to_string())).collect();
    Key::from_parts(name.to_string(), labels)
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

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where the handles' registrations come from, for the exporter (which ignores it).
const METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

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
        let fns = lock(&registry.fns);
        let series = &fns["chillproxy_hits_total"].series;
        assert!(matches!(series.values().next(), Some(fns) if fns.len() == 1), "the dead one is gone");
    }

    #[test]
    fn a_value_function_adds_to_a_recorded_series_of_the_same_labels() {
        let registry = Registry::default();
        registry.counter("chillproxy_mixed_total", "Mixed.", &[("cache", "c")]).add(2);
        registry.register_fn("chillproxy_mixed_total", "", Kind::Counter, &[("cache", "c")], Arc::new(|| Some(3.0)));
        registry.register_fn("chillproxy_mixed_total", "", Kind::Gauge, &[("cache", "d")], Arc::new(|| Some(1.0)));
        assert_eq!(
            registry.render(),
            "# HELP chillproxy_mixed_total Mixed.\n# TYPE chillproxy_mixed_total counter\nchillproxy_mixed_total{cache=\"c\"} 5\n"
        );
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
    fn a_snapshot_reads_counters_and_gauges_back_with_their_labels() {
        let registry = Registry::default();
        registry.counter("chillproxy_snap_total", "Snap.", &[("route", "/a"), ("status", "200")]).add(3);
        registry.counter("chillproxy_snap_total", "", &[("route", "/b"), ("status", "500")]).add(2);
        registry.gauge("chillproxy_snap_open", "Open.", &[("plugin", "p")]).set(0.5);
        registry.histogram("chillproxy_snap_seconds", "Latency.", &[]).observe(0.1);
        registry.register_fn("chillproxy_snap_fn", "Fn.", Kind::Gauge, &[], Arc::new(|| Some(4.0)));
        let snapshot = registry.snapshot();
        assert_eq!(snapshot.sum("chillproxy_snap_total", |_| true), 5.0);
        assert_eq!(snapshot.sum("chillproxy_snap_total", |l| label(l, "status") == Some("500")), 2.0);
        assert_eq!(snapshot.series("chillproxy_snap_open")[0].1, 0.5);
        assert_eq!(label(snapshot.series("chillproxy_snap_open")[0].0, "plugin"), Some("p"));
        assert!(snapshot.series("chillproxy_snap_seconds").is_empty(), "histograms are left out");
        assert_eq!(snapshot.sum("chillproxy_snap_fn", |_| true), 4.0);
        assert!(snapshot.series("chillproxy_nothing").is_empty());
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
