//! The operator's routes: `/health`, `/ready`, `/metrics`, `/status`, and the load benchmark's
//! ceiling.
//!
//! `/health` and `/ready` list every upstream the operator configured with its state and last
//! error (fixed words, from the health registry: never a URL, a key or an upstream's message).
//! `/metrics` and `/status` take `[server] metrics_token` as `Authorization: Bearer <token>`;
//! `/status` also as the password of Basic authentication (what a browser sends after its login
//! prompt; any user name). Without a token `/metrics` is open, as it always was, and `/status` is
//! refused:
//! a page to browse should not be open to whoever finds it, and a reverse proxy on the same
//! machine makes every caller look local, so "loopback only" would not hold.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chillproxy_core::health::UpstreamHealth;

use crate::state::AppState;
use crate::status::CONTENT_SECURITY_POLICY;

/// The load benchmark's ceiling: a JSON body of `bytes` bytes (at most 1 MiB), no work.
pub(super) async fn bench_fixed(Path(bytes): Path<usize>) -> Response {
    let bytes = bytes.clamp(16, 1024 * 1024);
    let body = format!("{{\"streams\":\"{}\"}}", "x".repeat(bytes - 14));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Liveness: always 200 while the process answers, with what is wrong upstream.
pub(super) async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") });
    add_upstreams(&mut body, &state);
    Json(body)
}

/// Readiness: 503 with the reason while the usage spool cannot take events or no store or
/// source plugin is enabled (a valid config is a given: the server does not start without one).
/// Anything upstream leaves the replica ready, since viewers may still be served and every
/// replica shares the same upstreams (taking them all out of rotation serves nobody): one store
/// or indexer failing, a breaker open (grants given before are served while they last), the
/// shared tier degraded (`"shared": "degraded"` with the reason: it serves from this replica's
/// memory). Both answers list the upstreams (`upstreams`) and name the ones not `ok`
/// (`unhealthy`).
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
            add_upstreams(&mut body, &state);
            Json(body).into_response()
        }
        Err(reason) => {
            let mut body = serde_json::json!({ "status": "not ready", "reason": reason });
            add_upstreams(&mut body, &state);
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// `upstreams`: every upstream the operator configured (`kind`, `name`, `state`, `since_s`,
/// `last_error`, `last_error_s`, `calls`, `failures`); `unhealthy`: `"<kind>/<name>"` of those in
/// a state other than `ok` or `unknown`.
fn add_upstreams(body: &mut serde_json::Value, state: &AppState) {
    let upstreams: Vec<UpstreamHealth> = state.plugins().health.upstreams();
    let unhealthy: Vec<String> =
        upstreams.iter().filter(|u| u.state.is_problem()).map(|u| format!("{}/{}", u.kind.as_str(), u.name)).collect();
    body["upstreams"] = serde_json::to_value(&upstreams).unwrap_or_default();
    body["unhealthy"] = unhealthy.into();
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

/// Prometheus metrics: the process-wide registry plus this instance's caches, usage spool,
/// upstream health and budgets. With `[server] metrics_token` set, only for that token.
pub(super) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.config().server.metrics_token {
        if !carries_token(&headers, token.expose(), Basic::Refused) {
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

/// The status page, for the metrics token only (a browser asks for it with its login prompt:
/// any user name, the token as the password). Refused without a token configured.
pub(super) async fn status_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let plain = [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")];
    let Some(token) = &state.config().server.metrics_token else {
        return (
            StatusCode::FORBIDDEN,
            plain,
            "the status page needs a token: set [server] metrics_token (or CHILLPROXY_METRICS_TOKEN), then open \
             /status with it as the password (any user name) or as Authorization: Bearer <token>",
        )
            .into_response();
    };
    if !carries_token(&headers, token.expose(), Basic::Accepted) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"chillproxy status\", charset=\"UTF-8\"")],
            plain,
            "the status page needs [server] metrics_token: as the password (any user name), or as \
             Authorization: Bearer <token>",
        )
            .into_response();
    }
    let body = state.status_board().page(state.plugins(), state.usage().depth(), readiness(&state));
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Whether a route takes the token as a Basic password too.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Basic {
    Accepted,
    Refused,
}

/// Whether the request carries `token`: `Authorization: Bearer <token>`, or (when `basic` is
/// accepted) Basic with `token` as the password.
fn carries_token(headers: &HeaderMap, token: &str, basic: Basic) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    let Some((scheme, given)) = value.trim().split_once(' ') else { return false };
    let given = given.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return same_secret(given.as_bytes(), token.as_bytes());
    }
    if scheme.eq_ignore_ascii_case("basic") && basic == Basic::Accepted {
        let Ok(decoded) = BASE64.decode(given) else { return false };
        let password = match decoded.iter().position(|b| *b == b':') {
            Some(colon) => &decoded[colon + 1..],
            None => return false,
        };
        return same_secret(password, token.as_bytes());
    }
    false
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
    for upstream in state.plugins().health.upstreams() {
        if upstream.state == chillproxy_core::health::State::Unknown {
            continue;
        }
        samples.push(Sample::gauge(
            "chillproxy_upstream_healthy",
            "1 while an upstream the operator configured answers (state ok), 0 while it fails, throttles, refuses \
             or its breaker is open; by kind and name (as in /ready).",
            &[("kind", upstream.kind.as_str()), ("name", &upstream.name)],
            if upstream.state.is_problem() { 0.0 } else { 1.0 },
        ));
    }
    for budget in state.plugins().health.budgets() {
        if budget.limit == 0 {
            continue;
        }
        samples.push(Sample::gauge(
            "chillproxy_budget_left",
            "Calls a store's budget window had left for a key when last counted (0 while the store holds it \
             back), by store, key (first 12 hex digits of its SHA-256; the 16 keys used last per store) and window.",
            &[("store", &budget.upstream), ("key", &budget.key), ("window", budget.window)],
            if budget.blocked_s > 0 { 0.0 } else { budget.left as f64 },
        ));
    }
    samples.push(Sample::gauge(
        "chillproxy_ready",
        "1 when GET /ready answers 200.",
        &[],
        if readiness(state).is_ok() { 1.0 } else { 0.0 },
    ));
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_token_comes_as_a_bearer_or_as_a_basic_password() {
        let token = "op-token-1";
        let yes = |value: &str| carries_token(&with(value), token, Basic::Accepted);
        assert!(yes("Bearer op-token-1"));
        assert!(yes("bearer  op-token-1 "));
        let basic = |pair: &str| format!("Basic {}", BASE64.encode(pair));
        assert!(yes(&basic("anyone:op-token-1")));
        assert!(yes(&basic(":op-token-1")));
        assert!(!carries_token(&with(&basic("anyone:op-token-1")), token, Basic::Refused), "/metrics: Bearer only");
        assert!(carries_token(&with("Bearer op-token-1"), token, Basic::Refused));
        assert!(!yes(&basic("op-token-1")), "no password");
        assert!(!yes(&basic("anyone:op-token-2")));
        assert!(!yes("Bearer op-token-"));
        assert!(!yes("Basic %%%"));
        assert!(!yes("Token op-token-1"));
        assert!(!carries_token(&HeaderMap::new(), token, Basic::Accepted));
    }
}
