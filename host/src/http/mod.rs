//! The HTTP surface: the router, its layers and thin handlers. A handler extracts (see
//! [`extract`]), calls one domain function (streams, playback, configure) and maps the result.

mod extract;
pub mod guard;
mod library;
mod manifest;
mod ops;
pub mod serve;
mod status;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use chillproxy_stremio::routes::{self, at};
use chillproxy_stremio::{parse_media, truncate, warning, StreamList};
use tower_http::cors::{Any, CorsLayer};

use crate::configure;
use crate::limits::{user_fingerprint, Family};
use crate::playback::{resolve_link, PlaybackError, PlaybackRequest};
use crate::requester::Requester;
use crate::state::AppState;
use crate::streams::{list_streams, StreamRequest};
use extract::{Binding, Playback, StreamConfig};
use guard::{protect, Limits};
use manifest::{manifest, Offer};

/// The router. Serve it with `into_make_service_with_connect_info::<SocketAddr>()`: handlers
/// need the socket peer to decide which forwarding headers to believe.
pub fn app(state: AppState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        .allow_headers(Any);
    let strem = get(playback);
    let addon = Router::new()
        .route(&at("/"), get(|| async { Redirect::to(&at("/configure")) }))
        .route(&at("/manifest.json"), get(unconfigured_manifest))
        .route(&at("/configure"), get(configure::page))
        .route(&at("/configure/check"), configure::check_route())
        .route(&at("/configure/seal"), configure::seal_route())
        .route(&at("/{config}/manifest.json"), get(configured_manifest))
        .route(&at("/{config}/configure"), get(configure::page_with_config))
        .route(&at("/{config}/stream/{kind}/{id}"), get(stream_list))
        .route(&at("/{config}/catalog/{kind}/{id}"), get(library::catalog))
        .route(&at("/{config}/catalog/{kind}/{id}/{extra}"), get(library::catalog))
        .route(&at("/{config}/meta/{kind}/{id}"), get(library::meta))
        .route(&at("/{config}/_/strem/{id}/{store}/{hash}/{file_idx}"), strem.clone())
        .route(&at("/{config}/_/strem/{id}/{store}/{hash}/{file_idx}/"), strem.clone())
        .route(&at("/{config}/_/strem/{id}/{store}/{hash}/{file_idx}/{file_name}"), strem.clone())
        .route(&at("/_/status/{file}"), get(status::status_video))
        .route(&at("/_/play/{handle}"), strem.clone())
        .route(&at("/_/play/{handle}/"), strem.clone())
        .route(&at("/_/play/{handle}/{file_name}"), strem)
        .layer(middleware::from_fn(answer_options))
        .layer(cors);
    let mut router = Router::new()
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/status", get(ops::status_page))
        .merge(addon);
    if state.config().server.bench_endpoint {
        router = router.route("/_bench/fixed/{bytes}", get(ops::bench_fixed));
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

fn offered_manifest(state: &AppState, base_url: &str, configured: Option<&[&str]>) -> Json<serde_json::Value> {
    let plugins = state.plugins();
    let stores: Vec<&str> = plugins.stores.iter().map(|s| s.display_name()).collect();
    Json(manifest(base_url, Offer { stores: &stores, searches: &plugins.searches }, configured))
}

async fn unconfigured_manifest(State(state): State<AppState>, requester: Requester) -> impl IntoResponse {
    offered_manifest(&state, &requester.base_url, None)
}

async fn configured_manifest(
    State(state): State<AppState>,
    requester: Requester,
    Path(segment): Path<String>,
) -> impl IntoResponse {
    match state.decode_user_config(&segment) {
        Ok(config) => {
            let Json(mut manifest) = offered_manifest(&state, &requester.base_url, Some(&config.store_codes()));
            manifest::add_library(&mut manifest, &crate::library::catalogs(state.library(), &config));
            Json(manifest)
        }
        Err(_) => offered_manifest(&state, &requester.base_url, None),
    }
}

async fn stream_list(
    State(state): State<AppState>,
    Path((_, kind, id)): Path<(String, String, String)>,
    requester: Requester,
    user: Result<StreamConfig, Response>,
) -> Response {
    let Some(id) = id.strip_suffix(".json") else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let Some(media) = parse_media(&kind, id) else {
        let error = serde_json::json!({ "error": format!("unsupported type or id: {kind}/{}", truncate(id, 40)) });
        return (StatusCode::BAD_REQUEST, Json(error)).into_response();
    };
    // The id is checked first: a bad id is a 400 whatever the config.
    let user = match user {
        Ok(user) => user,
        Err(warning) => {
            chillproxy_core::metrics::record_stream_list("invalid_config");
            return with_list_caching(warning, &state, false);
        }
    };
    if let Err(wait) = state.limits().admit(Family::Streams, requester.client.ip, Some(&user.fingerprint)).await {
        let configure = routes::configure_url(&requester.base_url);
        let stream = warning(
            "Too many requests",
            format!("Too many stream lists from here; try again in {} s.", wait.as_secs().max(1)),
            &configure,
        );
        chillproxy_core::metrics::record_stream_list("rate_limited");
        return with_list_caching(Json(StreamList { streams: vec![stream] }).into_response(), &state, false);
    }
    // A Kitsu id's IMDb mapping and titles; an anime episode's number from the show's start.
    let resolved = match state.meta().resolve(&media).await {
        Ok(resolved) => resolved,
        Err(problem) => {
            chillproxy_core::metrics::record_stream_list("warnings");
            let stream = warning("Anime details unavailable", problem, &routes::configure_url(&requester.base_url));
            return with_list_caching(Json(StreamList { streams: vec![stream] }).into_response(), &state, false);
        }
    };
    let keyring = Some(state.keyring()).filter(|k| !k.is_empty());
    let binding = match keyring {
        Some(_) => String::new(),
        None => user.decoded.binding.get_or_seal(state.binder(), &requester.client.device, requester.client.ip),
    };
    let request = StreamRequest {
        config: &user.config,
        config_segment: &user.segment,
        id,
        media: &resolved.media,
        meta: resolved.meta.as_deref(),
        client: &requester.client,
        base_url: &requester.base_url,
        binding,
        keyring,
        binding_ttl_s: state.config().server.binding_ttl_s,
        lists: Some(&user.decoded.lists),
    };
    let body = list_streams(state.streams(), &request).await;
    let real = body.is_real();
    chillproxy_core::metrics::record_stream_list(if real { "streams" } else { "warnings" });
    let response = ([(header::CONTENT_TYPE, "application/json")], body.into_bytes()).into_response();
    with_list_caching(response, &state, real)
}

/// The stream list's `Cache-Control` (see `state::list_cache_control`).
fn with_list_caching(mut response: Response, state: &AppState, real: bool) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, state.list_cache_control(real).clone());
    response
}

async fn playback(
    State(state): State<AppState>,
    target: Result<Playback, PlaybackError>,
    requester: Requester,
) -> Response {
    let available = &state.plugins().available_stores;
    // A failure is a status video the player shows (or, with status videos off, plain text),
    // counted by that clip.
    let fail = |error: PlaybackError| {
        chillproxy_core::metrics::record_playback(error.clip());
        if state.config().playback.status_videos {
            error.redirect_to_clip(available, &requester.base_url)
        } else {
            error.respond(available)
        }
    };
    let Playback { path, binding, segment } = match target {
        Ok(target) => target,
        Err(error) => return fail(error),
    };
    let mut client = requester.client.clone();
    if let Err(wait) = state.limits().admit(Family::Playback, client.ip, Some(&user_fingerprint(&segment))).await {
        chillproxy_core::metrics::record_playback("rate_limited");
        let seconds = wait.as_secs().max(1).to_string();
        if state.config().playback.status_videos {
            let mut response = PlaybackError::TooManyRequests(wait).redirect_to_clip(available, &requester.base_url);
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        let message = format!("Too many playback requests from here; try again in {seconds} s.");
        let mut response =
            (StatusCode::TOO_MANY_REQUESTS, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message)
                .into_response();
        if let Ok(value) = HeaderValue::from_str(&seconds) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    // The player has another User-Agent than the app that listed the streams: a valid binding
    // from the same IP says which device this is.
    let device = match &binding {
        Some(Binding::Token(token)) => state.binder().open(token, client.ip),
        Some(Binding::Handle(handle)) => handle.device_for(client.ip),
        None => None,
    };
    if let Some(device) = device {
        client.device = device;
    }
    // The file of a batch is found by either numbering: the Kitsu mapping (cached by the list).
    let media = match state.meta().resolve(&path.media).await {
        Ok(resolved) => resolved.media,
        Err(_) => path.media.clone(),
    };
    let request = PlaybackRequest {
        config: &path.config,
        media: &media,
        store_code: &path.store_code,
        hash: path.hash.clone(),
        kind: path.kind,
        file_idx: path.file_idx,
        file_name: path.file_name.as_deref(),
        client: &client,
    };
    let result = resolve_link(state.playback(), &request).await;
    match result {
        Ok(played) => match HeaderValue::from_str(&played.link) {
            Ok(location) => {
                chillproxy_core::metrics::record_playback("played");
                let mut response = (StatusCode::FOUND, [(header::LOCATION, location)]).into_response();
                // Which release played (another than the one asked for, after a failover).
                let printable = |t: String| t.chars().filter(|c| c.is_ascii() && !c.is_control()).take(300).collect();
                if let Some(Ok(value)) = played.title.map(printable).map(|t: String| HeaderValue::from_str(&t)) {
                    response.headers_mut().insert("x-chillproxy-played", value);
                }
                response
            }
            Err(_) => fail(PlaybackError::BadRequest("the store returned an unusable link".into())),
        },
        Err(error) => {
            tracing::info!(%error, "playback failed");
            fail(error)
        }
    }
}
