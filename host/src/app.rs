//! The HTTP surface: routes, shared state and cross-cutting layers. Handlers are thin: they
//! extract, call one domain function (streams, playback) and map the result.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use chillproxy_core::ConfigError;
use chillproxy_usage::UsageSpool;
use tower_http::cors::{Any, CorsLayer};

use crate::binding::Binder;
use crate::caches::Caches;
use crate::client::{public_base_url, ClientInfo};
use crate::config::Config;
use crate::configure;
use crate::guard::{protect, Limits};
use crate::manifest::manifest;
use crate::media::parse_media;
use crate::playback::{resolve_link, PlaybackError, PlaybackRequest, PlaybackSegments, PlaybackTarget};
use crate::plugins::Plugins;
use crate::streams::{list_streams, StreamRequest};
use crate::stremio::{warning, StreamList};
use crate::userconfig::{truncate, ConfigProblem, UserConfig};

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    plugins: Plugins,
    store_codes: Vec<&'static str>,
    usage: UsageSpool,
    caches: Caches,
    binder: Binder,
}

impl AppState {
    /// Opens the usage spool; call [`AppState::start_background`] inside the runtime.
    pub fn new(config: Config, plugins: Plugins) -> Result<Self, ConfigError> {
        let store_codes = plugins.stores.iter().map(|s| s.code()).collect();
        let usage = UsageSpool::open(&config.usage)?;
        let caches = Caches::new(config.cache.clone());
        let secret = config.server.secret.clone().unwrap_or_else(|| {
            tracing::warn!(
                "no [server] secret or CHILLPROXY_SECRET set: using a random one; playback links' device \
                 bindings will not survive a restart or work across replicas"
            );
            Binder::random_secret()
        });
        let binder = Binder::new(secret, std::time::Duration::from_secs(config.server.binding_ttl_s));
        Ok(Self { inner: Arc::new(Inner { config, plugins, store_codes, usage, caches, binder }) })
    }

    /// Starts background work (usage delivery).
    pub fn start_background(&self) {
        self.inner.usage.start(self.inner.plugins.auth.clone());
    }

    pub fn usage(&self) -> &UsageSpool {
        &self.inner.usage
    }

    pub fn caches(&self) -> &Caches {
        &self.inner.caches
    }

    pub fn binder(&self) -> &Binder {
        &self.inner.binder
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn plugins(&self) -> &Plugins {
        &self.inner.plugins
    }

    /// The codes of the enabled stores.
    pub fn store_codes(&self) -> &[&'static str] {
        &self.inner.store_codes
    }

    /// Decodes and validates a `{config}` segment against the enabled stores.
    pub fn decode_user_config(&self, segment: &str) -> Result<UserConfig, ConfigProblem> {
        UserConfig::decode(segment, &self.inner.store_codes)
    }
}

/// The router. Serve it with `into_make_service_with_connect_info::<SocketAddr>()`: handlers
/// need the socket peer to decide which forwarding headers to believe.
pub fn app(state: AppState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        .allow_headers(Any);
    let strem = get(playback);
    let addon = Router::new()
        .route("/stremio/torz/", get(|| async { Redirect::to("/stremio/torz/configure") }))
        .route("/stremio/torz/manifest.json", get(unconfigured_manifest))
        .route("/stremio/torz/configure", get(configure::page))
        .route("/stremio/torz/configure/check", configure::check_route())
        .route("/stremio/torz/{config}/manifest.json", get(configured_manifest))
        .route("/stremio/torz/{config}/configure", get(configure::page_with_config))
        .route("/stremio/torz/{config}/stream/{kind}/{id}", get(stream_list))
        .route("/stremio/torz/{config}/_/strem/{id}/{store}/{hash}/{file_idx}", strem.clone())
        .route("/stremio/torz/{config}/_/strem/{id}/{store}/{hash}/{file_idx}/", strem.clone())
        .route("/stremio/torz/{config}/_/strem/{id}/{store}/{hash}/{file_idx}/{file_name}", strem)
        .layer(middleware::from_fn(answer_options))
        .layer(cors);
    let mut router = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .merge(addon);
    if state.config().server.bench_endpoint {
        router = router.route("/_bench/fixed/{bytes}", get(bench_fixed));
    }
    let server = &state.config().server;
    let limits = Limits { max_uri_bytes: server.max_uri_bytes, max_header_bytes: server.max_header_bytes };
    protect(router, limits).with_state(state)
}

/// Stremio and browsers may send a bare `OPTIONS` (no preflight headers): answer 200, empty.
async fn answer_options(request: Request, next: Next) -> Response {
    if request.method() == Method::OPTIONS {
        return StatusCode::OK.into_response();
    }
    next.run(request).await
}

/// The load benchmark's ceiling: a JSON body of `bytes` bytes (at most 1 MiB), no work.
async fn bench_fixed(Path(bytes): Path<usize>) -> Response {
    let bytes = bytes.clamp(16, 1024 * 1024);
    let body = format!("{{\"streams\":\"{}\"}}", "x".repeat(bytes - 14));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn health() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Readiness: 503 with the reason while the usage spool cannot take events or no store or
/// source plugin is enabled (a valid config is a given: the server does not start without one).
async fn ready(State(state): State<AppState>) -> Response {
    match readiness(&state) {
        Ok(()) => Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(reason) => {
            let body = serde_json::json!({ "status": "not ready", "reason": reason });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

fn readiness(state: &AppState) -> Result<(), &'static str> {
    if state.store_codes().is_empty() {
        Err("no store plugin is enabled ([store] enabled)")
    } else if state.plugins().sources.is_empty() {
        Err("no source plugin is enabled ([source] chain)")
    } else {
        state.usage().health()
    }
}

/// Prometheus metrics: the process-wide registry plus this instance's caches and usage spool.
/// With `[server] metrics_token` set, only for `Authorization: Bearer <token>`.
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
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
    for (cache, stats) in state.caches().stats() {
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
    samples.push(Sample::gauge(
        "chillproxy_ready",
        "1 when GET /ready answers 200.",
        &[],
        if readiness(state).is_ok() { 1.0 } else { 0.0 },
    ));
    samples
}

async fn unconfigured_manifest(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let base = public_base_url(peer, &headers, &state.config().server);
    Json(manifest(&base, None))
}

async fn configured_manifest(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(segment): Path<String>,
) -> impl IntoResponse {
    let base = public_base_url(peer, &headers, &state.config().server);
    match state.decode_user_config(&segment) {
        Ok(config) => Json(manifest(&base, Some(&config.store_codes()))),
        Err(_) => Json(manifest(&base, None)),
    }
}

async fn stream_list(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((segment, kind, id)): Path<(String, String, String)>,
) -> Response {
    let Some(id) = id.strip_suffix(".json") else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let Some(media) = parse_media(&kind, id) else {
        let error = serde_json::json!({ "error": format!("unsupported type or id: {kind}/{}", truncate(id, 40)) });
        return (StatusCode::BAD_REQUEST, Json(error)).into_response();
    };
    let base = public_base_url(peer, &headers, &state.config().server);
    let config = match state.decode_user_config(&segment) {
        Ok(config) => config,
        Err(problem) => {
            let configure = format!("{base}/stremio/torz/configure");
            let stream = warning(
                "Invalid configuration",
                format!("Invalid configuration: {problem}. Open the configure page to fix it and reinstall."),
                &configure,
            );
            return Json(StreamList { streams: vec![stream] }).into_response();
        }
    };
    let client = ClientInfo::from_request(peer, &headers, &state.config().server);
    let binding = state.binder().seal(&client.device, client.ip);
    let request = StreamRequest {
        config: &config,
        config_segment: &segment,
        id,
        media: &media,
        client: &client,
        base_url: &base,
        binding,
    };
    let streams = list_streams(&state, &request).await;
    Json(StreamList { streams }).into_response()
}

/// The query of a playback URL.
#[derive(Debug, Default, serde::Deserialize)]
struct PlaybackQuery {
    /// The device binding (see `binding`).
    b: Option<String>,
}

async fn playback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
    Query(query): Query<PlaybackQuery>,
) -> Response {
    let binding = query.b;
    match playback_link(&state, peer, &headers, &params, binding.as_deref()).await {
        Ok(link) => match HeaderValue::from_str(&link) {
            Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
            Err(_) => PlaybackError::BadRequest("the store returned an unusable link".into()).into_response(),
        },
        Err(error) => {
            tracing::info!(%error, "playback failed");
            error.into_response()
        }
    }
}

async fn playback_link(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
    binding: Option<&str>,
) -> Result<String, PlaybackError> {
    let param = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    let segments = PlaybackSegments {
        config: param("config"),
        id: param("id"),
        store: param("store"),
        hash: param("hash"),
        file_idx: param("file_idx"),
        file_name: params.get("file_name").map(String::as_str),
    };
    let target = PlaybackTarget::parse(&segments, state.store_codes())?;
    let mut client = ClientInfo::from_request(peer, headers, &state.config().server);
    // The player has another User-Agent than the app that listed the streams: a valid binding
    // from the same IP says which device this is.
    if let Some(device) = binding.and_then(|token| state.binder().open(token, client.ip)) {
        client.device = device;
    }
    let request = PlaybackRequest {
        config: &target.config,
        media: &target.media,
        store_code: &target.store_code,
        hash: target.hash.clone(),
        file_idx: target.file_idx,
        file_name: target.file_name.as_deref(),
        client: &client,
    };
    resolve_link(state, &request).await
}
