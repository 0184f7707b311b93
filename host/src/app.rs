//! The HTTP surface: routes, shared state and cross-cutting layers. Handlers are thin: they
//! extract, call one domain function (streams, playback) and map the result.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use chillproxy_core::ConfigError;
use tower_http::cors::{Any, CorsLayer};

use crate::binding::Binder;
use crate::caches::Caches;
use crate::client::{public_base_url, ClientInfo};
use crate::config::Config;
use crate::guard::{protect, Limits};
use crate::manifest::manifest;
use crate::media::parse_media;
use crate::playback::{resolve_link, PlaybackError, PlaybackRequest, PlaybackSegments, PlaybackTarget};
use crate::plugins::Plugins;
use crate::streams::{list_streams, StreamRequest};
use crate::stremio::{encode_segment, warning, StreamList};
use crate::usage::UsageSpool;
use crate::userconfig::{ConfigProblem, UserConfig};

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
        .route("/stremio/torz/configure", get(configure_page))
        .route("/stremio/torz/{config}/manifest.json", get(configured_manifest))
        .route("/stremio/torz/{config}/configure", get(configure_page))
        .route("/stremio/torz/{config}/stream/{kind}/{id}", get(stream_list))
        .route("/stremio/torz/{config}/_/strem/{id}/{store}/{hash}/{file_idx}", strem.clone())
        .route("/stremio/torz/{config}/_/strem/{id}/{store}/{hash}/{file_idx}/", strem.clone())
        .route("/stremio/torz/{config}/_/strem/{id}/{store}/{hash}/{file_idx}/{file_name}", strem)
        .layer(middleware::from_fn(answer_options))
        .layer(cors);
    let mut router = Router::new().route("/health", get(health)).merge(addon);
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

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// A minimal working configure page: builds the config in the browser and shows the install
/// URL. (The full page comes with the configure-page issue.)
async fn configure_page(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Html<String> {
    let base = public_base_url(peer, &headers, &state.config().server);
    let options: String = state
        .plugins()
        .stores
        .iter()
        .map(|s| format!("<option value=\"{}\">{}</option>", s.code(), s.display_name()))
        .collect();
    let chillstreams = state.plugins().auth.provider("chillstreams").is_some();
    let auth_field = if chillstreams {
        "<label>Chillstreams user id (UUID) <input id=auth placeholder=\"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\"></label>"
    } else {
        ""
    };
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>chillproxy — configure</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}label{{display:block;margin:.8rem 0}}input,select{{width:100%;padding:.4rem}}code{{word-break:break-all}}</style>
</head><body>
<h1>chillproxy</h1>
<p>Streams from your debrid service for torrents found on Torznab indexers.</p>
<label>Store <select id=store>{options}</select></label>
<label>API token <input id=token autocomplete=off></label>
{auth_field}
<label>Torznab URL (optional) <input id=iurl placeholder="https://jackett.example/api/v2.0/indexers/all/results/torznab"></label>
<label>Torznab API key <input id=ikey autocomplete=off></label>
<label><input type=checkbox id=cached style="width:auto"> Only cached streams</label>
<button id=make>Make install link</button>
<p id=out></p>
<script>
document.getElementById('make').onclick = function () {{
  var v = function (id) {{ var e = document.getElementById(id); return e ? e.value.trim() : ''; }};
  var store = {{ c: v('store') }};
  if (v('token')) store.t = v('token');
  if (v('auth')) store.auth = v('auth');
  var config = {{ stores: [store], cached: document.getElementById('cached').checked }};
  if (v('iurl')) config.indexers = [{{ n: 'jackett', u: v('iurl'), ak: v('ikey') }}];
  var encoded = btoa(unescape(encodeURIComponent(JSON.stringify(config)))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  var url = '{base}/stremio/torz/' + encoded + '/manifest.json';
  document.getElementById('out').innerHTML = 'Manifest: <code></code><br><a>Install in Stremio</a>';
  document.querySelector('#out code').textContent = url;
  document.querySelector('#out a').href = url.replace(/^https?:/, 'stremio:');
}};
</script>
</body></html>"#,
        base = encode_html(&base),
    ))
}

fn encode_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[allow(dead_code)]
fn configure_url(base: &str, segment: &str) -> String {
    format!("{base}/stremio/torz/{}/configure", encode_segment(segment))
}
