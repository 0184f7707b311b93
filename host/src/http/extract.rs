//! Request parsing that every route repeats, as axum extractors: who is asking, the user config
//! of a stream list (its rejection is a ⚠️ stream list), and a typed playback path (its
//! rejection is a 400).

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path, Query, RawPathParams};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chillproxy_stremio::{warning, PlaybackPath, PlaybackSegments, StreamList, UserConfig};

use crate::handle::Handle;
use crate::playback::PlaybackError;
use crate::requester::Requester;
use crate::state::AppState;
use chillproxy_core::seal::OpenError;

async fn path_params(parts: &mut Parts, state: &AppState) -> HashMap<String, String> {
    Path::<HashMap<String, String>>::from_request_parts(parts, state).await.map(|p| p.0).unwrap_or_default()
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
        // One parameter: read from the raw parameters, no map (this runs for every list).
        let segment = match RawPathParams::from_request_parts(parts, state).await {
            Ok(params) => params.iter().find(|(name, _)| *name == "config").map(|(_, v)| v.to_string()),
            Err(_) => None,
        }
        .unwrap_or_default();
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

/// The query of a playback URL.
#[derive(Debug, Default, serde::Deserialize)]
struct PlaybackQuery {
    /// The device binding (see `binding`).
    b: Option<String>,
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
        let param = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
        if let Some(sealed) = params.get("handle") {
            return from_handle(state, sealed, params.get("file_name").map(String::as_str));
        }
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
            file_name: params.get("file_name").map(String::as_str),
        };
        let config = state
            .decode_user_config(segments.config)
            .map_err(|p| PlaybackError::BadRequest(format!("invalid configuration: {p}")))?;
        let config = UserConfig::clone(&config);
        let path =
            PlaybackPath::parse_with(config, &segments, state.store_codes()).map_err(PlaybackError::BadRequest)?;
        let binding = Query::<PlaybackQuery>::from_request_parts(parts, state).await.ok().and_then(|q| q.0.b);
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
