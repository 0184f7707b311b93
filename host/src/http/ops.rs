//! The operator's routes: `/health`, `/ready`, `/metrics`, and the load benchmark's ceiling.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::state::AppState;

/// The load benchmark's ceiling: a JSON body of `bytes` bytes (at most 1 MiB), no work.
pub(super) async fn bench_fixed(Path(bytes): Path<usize>) -> Response {
    let bytes = bytes.clamp(16, 1024 * 1024);
    let body = format!("{{\"streams\":\"{}\"}}", "x".repeat(bytes - 14));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub(super) async fn health() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Readiness: 503 with the reason while the usage spool cannot take events or no store or
/// source plugin is enabled (a valid config is a given: the server does not start without one).
/// A shared tier that cannot reach Redis leaves the replica ready (it serves from its own
/// memory) and says `"shared": "degraded"` with the reason.
pub(super) async fn ready(State(state): State<AppState>) -> Response {
    match readiness(&state) {
        Ok(()) => {
            let tier = state.plugins().shared.tier();
            let status = tier.status();
            let mut body = serde_json::json!({ "status": "ready", "shared_tier": tier.kind() });
            body["shared"] = match status.degraded {
                Some(reason) => {
                    body["shared_reason"] = reason.into();
                    "degraded".into()
                }
                None => "ok".into(),
            };
            Json(body).into_response()
        }
        Err(reason) => {
            let body = serde_json::json!({ "status": "not ready", "reason": reason });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

fn readiness(state: &AppState) -> Result<(), &'static str> {
    if state.plugins().stores.is_empty() {
        Err("no store plugin is enabled ([store] enabled)")
    } else if state.plugins().sources.is_empty() {
        Err("no source plugin is enabled ([source] chain)")
    } else {
        state.usage().health()
    }
}

/// Prometheus metrics: the process-wide registry plus this instance's caches and usage spool.
/// With `[server] metrics_token` set, only for `Authorization: Bearer <token>`.
pub(super) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.config().server.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        if !given.is_some_and(|given| same_secret(given.as_bytes(), token.expose().as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer"), (header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "metrics need Authorization: Bearer <[server] metrics_token>",
            )
                .into_response();
        }
    }
    let body = chillproxy_core::metrics::render_with(&instance_samples(&state));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

/// Equality that takes as long for every difference (the length is not hidden).
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// This instance's cache hit counters and usage spool state, read now.
fn instance_samples(state: &AppState) -> Vec<chillproxy_core::metrics::Sample> {
    use chillproxy_core::metrics::{Sample, CACHE_HITS, CACHE_HITS_HELP, CACHE_MISSES, CACHE_MISSES_HELP};
    use std::sync::atomic::Ordering;
    let mut samples = Vec::new();
    for (cache, stats) in state.streams().cache_stats().into_iter().chain(state.playback().cache_stats()) {
        let labels = [("cache", cache)];
        samples.push(Sample::counter(CACHE_HITS, CACHE_HITS_HELP, &labels, (stats.hits + stats.shared) as f64));
        samples.push(Sample::counter(CACHE_MISSES, CACHE_MISSES_HELP, &labels, stats.misses as f64));
    }
    let usage = state.usage();
    let counters = usage.counters();
    let read = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed) as f64;
    samples.push(Sample::gauge(
        "chillproxy_usage_spool_depth",
        "Usage events waiting for delivery.",
        &[],
        usage.depth() as f64,
    ));
    samples.push(Sample::counter(
        "chillproxy_usage_recorded_total",
        "Usage events accepted into the spool.",
        &[],
        read(&counters.recorded),
    ));
    samples.push(Sample::counter(
        "chillproxy_usage_delivered_total",
        "Usage events the receiver accepted.",
        &[],
        read(&counters.delivered),
    ));
    samples.push(Sample::counter(
        "chillproxy_usage_failed_attempts_total",
        "Usage deliveries that failed and will be retried.",
        &[],
        read(&counters.failed_attempts),
    ));
    let dropped_help = "Usage events dropped, by reason (full: spool full; rejected: the receiver refused it; \
                        error: storage error, unreadable row or recorded after shutdown).";
    for (reason, counter) in
        [("full", &counters.dropped_full), ("rejected", &counters.dropped_rejected), ("error", &counters.dropped_error)]
    {
        samples.push(Sample::counter(
            "chillproxy_usage_dropped_total",
            dropped_help,
            &[("reason", reason)],
            read(counter),
        ));
    }
    let shared = state.plugins().shared.tier();
    let status = shared.status();
    let tier = [("tier", shared.kind())];
    samples.push(Sample::counter(
        "chillproxy_shared_tier_errors_total",
        "Calls to the shared tier's server (Redis) that failed or timed out, by tier.",
        &tier,
        status.errors as f64,
    ));
    samples.push(Sample::gauge(
        "chillproxy_shared_tier_breaker_open",
        "1 while the breaker skips the shared tier's server (Redis) and this replica serves from its own memory.",
        &tier,
        if status.breaker_open { 1.0 } else { 0.0 },
    ));
    samples.push(Sample::gauge(
        "chillproxy_shared_tier_degraded",
        "1 while the shared tier works from this replica only (its server cannot be reached).",
        &tier,
        if status.degraded.is_some() { 1.0 } else { 0.0 },
    ));
    samples.push(Sample::gauge(
        "chillproxy_ready",
        "1 when GET /ready answers 200.",
        &[],
        if readiness(state).is_ok() { 1.0 } else { 0.0 },
    ));
    samples
}
