//! Request parsing that every route repeats, as axum extractors: who is asking, the user config
//! of a stream list (its rejection is a ⚠️ stream list), and a typed playback path (its
//! rejection is a 400).

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chillproxy_stremio::{warning, PlaybackPath, PlaybackSegments, StreamList, UserConfig};

use crate::handle::Handle;
use crate::playback::PlaybackError;
use crate::requester::Requester;
use crate::state::AppState;
use chillproxy_core::seal::OpenError;

/// The route's path parameters (percent-decoded), read without a map or serde: a route has at
/// most six, and this runs for every stream list and playback.
async fn path_params(parts: &mut Parts, state: &AppState) -> Vec<(String, String)> {
    match RawPathParams::from_request_parts(parts, state).await {
        Ok(params) => params.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect(),
        Err(_) => Vec::new(),
    }
}

/// The value of path parameter `name`, if the route has it.
fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// A stream list's `{config}` segment, decoded and valid for this server. An invalid one is
/// answered with a ⚠️ stream naming the problem and linking to the configure page.
pub(crate) struct StreamConfig {
    pub segment: String,
    pub config: std::sync::Arc<UserConfig>,
    /// Who the config belongs to, for per-user limits (a fingerprint of the segment).
    pub fingerprint: String,
    /// The segment as decoded once (its binding slot is reused by the stream list).
    pub decoded: std::sync::Arc<crate::segments::Decoded>,
}

impl FromRequestParts<AppState> for StreamConfig {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let segment = param(&path_params(parts, state).await, "config").unwrap_or_default().to_string();
        let decoded = state.decoded(&segment);
        match &decoded.config {
            Ok(config) => Ok(Self {
                config: config.clone(),
                fingerprint: decoded.fingerprint.clone(),
                segment,
                decoded: decoded.clone(),
            }),
            Err(problem) => {
                let requester = Requester::from_request_parts(parts, state).await?;
                let configure = chillproxy_stremio::routes::configure_url(&requester.base_url);
                let stream = warning(
                    "Invalid configuration",
                    format!("Invalid configuration: {problem}. Open the configure page to fix it and reinstall."),
                    &configure,
                );
                Err(Json(StreamList { streams: vec![stream] }).into_response())
            }
        }
    }
}

/// A playback URL's path and device binding, parsed against the enabled stores.
pub(crate) struct Playback {
    pub path: PlaybackPath,
    pub binding: Option<Binding>,
    /// What identifies the user for per-user limits (the `{config}` segment, or the handle's
    /// store entry); only ever fingerprinted, never logged.
    pub segment: String,
}

/// Which device listed the stream, as the URL says.
pub(crate) enum Binding {
    /// A plain URL's `?b=` token (see `binding`).
    Token(String),
    /// A sealed handle's binding (see `handle`).
    Handle(Handle),
}

impl FromRequestParts<AppState> for Playback {
    type Rejection = PlaybackError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let params = path_params(parts, state).await;
        let file_name = param(&params, "file_name");
        if let Some(sealed) = param(&params, "handle") {
            return from_handle(state, sealed, file_name);
        }
        let param = |name: &str| param(&params, name).unwrap_or_default();
        if !state.config().server.accept_plain_config {
            return Err(PlaybackError::BadRequest(
                "this server accepts only sealed links: open its configure page and install again".into(),
            ));
        }
        let segments = PlaybackSegments {
            config: param("config"),
            id: param("id"),
            store: param("store"),
            hash: param("hash"),
            file_idx: param("file_idx"),
            file_name,
        };
        let config = state
            .decode_user_config(segments.config)
            .map_err(|p| PlaybackError::BadRequest(format!("invalid configuration: {p}")))?;
        let config = UserConfig::clone(&config);
        let path =
            PlaybackPath::parse_with(config, &segments, state.store_codes()).map_err(PlaybackError::BadRequest)?;
        // The `b` query parameter, as a form would decode it (no serde for one field).
        let binding = parts.uri.query().and_then(|query| {
            form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == "b").map(|(_, value)| value.into_owned())
        });
        Ok(Self { path, binding: binding.map(Binding::Token), segment: segments.config.to_string() })
    }
}

/// A sealed playback handle: opened with the keyring, then checked like a plain URL's segments.
fn from_handle(state: &AppState, sealed: &str, file_name: Option<&str>) -> Result<Playback, PlaybackError> {
    let handle = Handle::open(state.keyring(), sealed).map_err(|error| {
        PlaybackError::BadRequest(match error {
            OpenError::RetiredKey | OpenError::NoKeys => {
                "this stream link is no longer valid: open the title again in Stremio".to_string()
            }
            OpenError::Damaged | OpenError::Malformed => {
                "this stream link is damaged (changed or cut short)".to_string()
            }
        })
    })?;
    if handle.is_expired() {
        return Err(PlaybackError::Expired);
    }
    let entry = handle.entry();
    let file_idx = handle.f.map(|f| f.to_string());
    let segments = PlaybackSegments {
        config: "",
        id: &handle.i,
        store: &entry.c,
        hash: &handle.h,
        file_idx: file_idx.as_deref().unwrap_or("-1"),
        file_name,
    };
    let user = format!(
        "{}\u{1f}{}\u{1f}{}",
        entry.c,
        handle.t.as_deref().unwrap_or_default(),
        handle.u.as_deref().unwrap_or_default()
    );
    let config =
        UserConfig { stores: vec![entry.clone()], ..Default::default() }.with_usenet_indexers(handle.usenet_indexers());
    let path = PlaybackPath::parse_with(config, &segments, state.store_codes()).map_err(PlaybackError::BadRequest)?;
    Ok(Playback { path, binding: Some(Binding::Handle(handle)), segment: user })
}
