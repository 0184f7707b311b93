//! The operator's status page (`GET /status`, behind `[server] metrics_token`): the facts of
//! `/metrics` and `/ready` for someone without Grafana, with small SVG charts of the last hour.
//!
//! A sampler started by `AppState::start_background` reads the process every
//! [`SAMPLE_EVERY`] (`read.rs`: the metrics it keeps, its health registry, its shared tier) into
//! a ring of the last hour (`history.rs`, bounded in frames and series); the page
//! (`page.rs` with `page.html` and `page.css`) draws it with `chart.rs`, plus a reading taken as
//! it is asked for. The page loads nothing from elsewhere and runs no script; its CSP allows its
//! own style by hash and nothing else.

mod chart;
mod history;
mod page;
mod read;

use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chillproxy_core::health::Kind;
use chillproxy_core::metrics::{self, label, Snapshot};
use sha2::{Digest, Sha256};

use crate::plugins::Plugins;
use history::{Chart, History};
use page::{Breaker, Page, STYLE};
use read::{read_from, Sources};

/// How often the sampler reads the process.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// The page's Content-Security-Policy: its own style (by hash) and its data: icon, nothing else.
pub(crate) static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; style-src 'sha256-{}'; img-src data:; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'",
        BASE64.encode(Sha256::digest(STYLE.as_bytes()))
    )
});

/// The last hour of readings. Cheap to clone; clones share it.
#[derive(Clone)]
pub(crate) struct StatusBoard {
    inner: Arc<Board>,
}

struct Board {
    history: Mutex<History>,
    started: Instant,
}

impl Default for StatusBoard {
    fn default() -> Self {
        Self { inner: Arc::new(Board { history: Mutex::default(), started: Instant::now() }) }
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn sources(plugins: &Plugins, spool_depth: u64) -> Sources<'_> {
    let tier = plugins.shared.tier();
    Sources {
        health: &plugins.health,
        tier_kind: tier.kind(),
        tier_degraded: tier.status().degraded.is_some(),
        spool_depth,
    }
}

impl StatusBoard {
    /// Reads the process now and keeps the reading.
    pub(crate) fn sample(&self, plugins: &Plugins, spool_depth: u64) {
        let reading = read_from(unix_now(), &metrics::snapshot(), &sources(plugins, spool_depth));
        self.inner.history.lock().unwrap_or_else(PoisonError::into_inner).record(&reading);
    }

    /// The page, with a reading taken now at the end of each chart. `ready` is `/ready`'s answer.
    pub(crate) fn page(&self, plugins: &Plugins, spool_depth: u64, ready: Result<(), &str>) -> String {
        let now = unix_now();
        let snapshot = metrics::snapshot();
        let live = read_from(now, &snapshot, &sources(plugins, spool_depth));
        let (charts, frames) = {
            let history = self.inner.history.lock().unwrap_or_else(PoisonError::into_inner);
            let span = chart::span(history.first_at(), now);
            let chart = |kind: Chart, title: &str, unit: &str, max: Option<f64>| {
                chart::render(title, unit, &history.lines(kind, Some(&live)), now, span, max)
            };
            let charts = vec![
                chart(Chart::Requests, "Requests per minute", "/min", None),
                chart(Chart::Playback, "Playback outcomes per minute", "/min", None),
                chart(Chart::UpstreamErrors, "Upstream errors per minute", "/min", None),
                chart(Chart::Budgets, "Budget left per key fingerprint (%)", "%", Some(100.0)),
                chart(Chart::Breakers, "Breakers and shared tier (1 = open or degraded)", "", Some(1.0)),
                chart(Chart::Spool, "Usage events waiting for delivery", "", None),
            ];
            (charts, history.frames())
        };
        let upstreams = plugins.health.upstreams();
        let budgets = plugins.health.budgets();
        let breakers = breakers(&snapshot, plugins);
        page::render(&Page {
            version: env!("CARGO_PKG_VERSION"),
            uptime_s: self.inner.started.elapsed().as_secs(),
            ready,
            frames,
            every_s: SAMPLE_EVERY.as_secs(),
            refresh_s: SAMPLE_EVERY.as_secs(),
            summary: summary(&snapshot, &upstreams, spool_depth),
            upstreams: &upstreams,
            charts,
            budgets: &budgets,
            breakers: &breakers,
            generated: now,
        })
    }
}

/// Totals since start.
fn summary(
    snapshot: &Snapshot,
    upstreams: &[chillproxy_core::health::UpstreamHealth],
    spool_depth: u64,
) -> Vec<(&'static str, String)> {
    let whole = |v: f64| chart::number(v);
    let requests = snapshot.sum(read::HTTP_REQUESTS, |_| true);
    let errors = snapshot.sum(read::HTTP_REQUESTS, |l| label(l, "status").is_some_and(|s| s.starts_with('5')));
    let lists = snapshot.sum(read::HTTP_REQUESTS, |l| label(l, "route").is_some_and(|r| r.contains("/stream/")));
    let playbacks = snapshot.sum(metrics::PLAYBACK_OUTCOMES, |_| true);
    let played = snapshot.sum(metrics::PLAYBACK_OUTCOMES, |l| label(l, "outcome") == Some("played"));
    let stale = snapshot.sum(metrics::AUTH_STALE_GRANTS, |_| true);
    let failures: u64 = upstreams.iter().map(|u| u.failures).sum();
    let calls: u64 = upstreams.iter().map(|u| u.calls).sum();
    vec![
        ("requests", whole(requests)),
        ("5xx answers", whole(errors)),
        ("stream lists", whole(lists)),
        ("playbacks", whole(playbacks)),
        ("played", whole(played)),
        ("upstream calls", calls.to_string()),
        ("upstream failures", failures.to_string()),
        ("stale grants served", whole(stale)),
        ("usage events waiting", spool_depth.to_string()),
    ]
}

/// Every breaker the metrics know (by plugin) and the shared tier.
fn breakers(snapshot: &Snapshot, plugins: &Plugins) -> Vec<Breaker> {
    let mut out: Vec<Breaker> = snapshot
        .series(metrics::BREAKER_OPEN)
        .into_iter()
        .filter_map(|(labels, value)| {
            let plugin = label(labels, "plugin")?;
            let state = match value {
                v if v >= 1.0 => "open",
                v if v > 0.0 => "half-open",
                _ => "closed",
            };
            let detail = match state {
                "open" => "not calling it for now; grants it gave before are served while they last",
                "half-open" => "one probe call is allowed",
                _ => "calling it",
            };
            Some(Breaker { name: format!("{plugin} breaker"), state, detail: detail.to_string() })
        })
        .collect();
    let tier = plugins.shared.tier();
    let status = tier.status();
    let redis = plugins.health.upstreams().into_iter().find(|u| u.kind == Kind::SharedTier);
    let (state, detail) = match (&status.degraded, status.breaker_open) {
        (None, _) => ("ok", format!("{} errors since start", status.errors)),
        (Some(_), open) => {
            let error = redis.and_then(|r| r.last_error).map(|e| e.as_str()).unwrap_or("error");
            let breaker = if open { "; its breaker is open" } else { "" };
            let detail = format!(
                "server unreachable ({error}){breaker}: caches, locks and budgets are per replica; {} errors since start",
                status.errors
            );
            ("degraded", detail)
        }
    };
    out.push(Breaker { name: format!("shared tier ({})", tier.kind()), state, detail });
    out
}
