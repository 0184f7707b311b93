//! Playback: credential → add the torrent → wait (bounded) until the store has it → pick the
//! file → direct link → 302. Usage is reported in the background for credentials that carry a
//! usage tag (Chillstreams).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chillproxy_core::{
    AuthChainError, AuthPurpose, AuthRequest, Credential, InfoHash, MagnetStatus, MediaQuery, StoreError,
    StoreProvider, UsageEvent,
};

use crate::caches::LinkKey;
use crate::client::ClientInfo;
use crate::media::parse_media;
use crate::streams::pick_file;
use crate::userconfig::UserConfig;
use crate::AppState;

/// The raw path segments of a playback URL:
/// `/stremio/torz/{config}/_/strem/{id}/{store}/{hash}/{file_idx}/{file_name}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlaybackSegments<'a> {
    pub config: &'a str,
    pub id: &'a str,
    pub store: &'a str,
    pub hash: &'a str,
    pub file_idx: &'a str,
    pub file_name: Option<&'a str>,
}

/// A playback URL, parsed and validated.
#[derive(Debug, Clone)]
pub struct PlaybackTarget {
    pub config: UserConfig,
    pub media: MediaQuery,
    pub store_code: String,
    pub hash: InfoHash,
    pub file_idx: Option<u64>,
    pub file_name: Option<String>,
}

/// Longest file name accepted in a playback URL.
pub const MAX_FILE_NAME_BYTES: usize = 1024;

impl PlaybackTarget {
    /// Parses the segments against the stores this server has enabled. Any problem is a
    /// `BadRequest` that says which part is wrong.
    pub fn parse(segments: &PlaybackSegments<'_>, enabled_codes: &[&str]) -> Result<Self, PlaybackError> {
        let bad = |what: &str| PlaybackError::BadRequest(what.to_string());
        let config = UserConfig::decode(segments.config, enabled_codes)
            .map_err(|p| PlaybackError::BadRequest(format!("invalid configuration: {p}")))?;
        let kind = if segments.id.contains(':') { "series" } else { "movie" };
        let media = parse_media(kind, segments.id).ok_or_else(|| bad("invalid id"))?;
        if !enabled_codes.contains(&segments.store) {
            return Err(bad("unknown store code"));
        }
        let hash = InfoHash::parse(segments.hash).ok_or_else(|| bad("invalid info hash"))?;
        let file_idx = match segments.file_idx {
            "-1" => None,
            raw if raw.len() <= 9 => Some(raw.parse::<u64>().map_err(|_| bad("invalid file index"))?),
            _ => return Err(bad("invalid file index")),
        };
        let file_name = match segments.file_name.filter(|n| !n.is_empty()) {
            // A file name is one path segment: no separators, no dot segments, no controls.
            Some(name)
                if name.len() > MAX_FILE_NAME_BYTES
                    || name.chars().any(|c| c.is_control() || c == '/' || c == '\\')
                    || name == "."
                    || name == ".." =>
            {
                return Err(bad("invalid file name"))
            }
            other => other.map(str::to_string),
        };
        Ok(Self { config, media, store_code: segments.store.to_string(), hash, file_idx, file_name })
    }
}

pub struct PlaybackRequest<'a> {
    pub config: &'a UserConfig,
    pub media: &'a MediaQuery,
    pub store_code: &'a str,
    pub hash: InfoHash,
    pub file_idx: Option<u64>,
    pub file_name: Option<&'a str>,
    pub client: &'a ClientInfo,
}

/// Why playback failed; each answers a short plain-text message with a fitting status.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlaybackError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Auth(AuthChainError),
    #[error("{1}")]
    Store(&'static str, StoreError),
    #[error("{store} is still downloading this torrent ({status}); try again in a few minutes")]
    StillDownloading { store: &'static str, status: &'static str },
    #[error("no video file for this title in the torrent")]
    NoFile,
}

impl IntoResponse for PlaybackError {
    fn into_response(self) -> Response {
        let mut retry_after = None;
        let status = match &self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Auth(AuthChainError::Denied { .. }) => StatusCode::FORBIDDEN,
            Self::Auth(AuthChainError::Failed { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Auth(AuthChainError::NoCredentials { .. }) => StatusCode::UNAUTHORIZED,
            Self::Store(_, error) => match error {
                StoreError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
                StoreError::PaymentRequired { .. } => StatusCode::PAYMENT_REQUIRED,
                StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
                StoreError::RateLimited { retry_after: after, .. } => {
                    retry_after = *after;
                    StatusCode::TOO_MANY_REQUESTS
                }
                StoreError::LimitExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
                StoreError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
                StoreError::NotImplemented { .. } => StatusCode::NOT_IMPLEMENTED,
                StoreError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                StoreError::BadRequest { .. } | StoreError::Upstream { .. } => StatusCode::BAD_GATEWAY,
            },
            Self::StillDownloading { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::NoFile => StatusCode::NOT_FOUND,
        };
        let message = match &self {
            Self::Auth(error) => {
                let (_, description) = crate::streams::auth_problem("TorBox", error);
                description
            }
            Self::Store(store, error) => crate::streams::store_problem(store, error).1,
            other => other.to_string(),
        };
        let mut response = (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message).into_response();
        if let Some(after) = retry_after {
            if let Ok(value) = HeaderValue::from_str(&after.as_secs().max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// Resolves a playback request to a direct link. Concurrent identical requests (same store,
/// credential, hash and file) share one resolution, and links are reused for `links_ttl_s`.
/// A pooled key the store rejects is forgotten and asked for again, once.
pub async fn resolve_link(state: &AppState, request: &PlaybackRequest<'_>) -> Result<String, PlaybackError> {
    let plugins = state.plugins();
    let entry =
        request.config.stores.iter().find(|s| s.c == request.store_code).ok_or_else(|| {
            PlaybackError::BadRequest(format!("store {:?} is not in this config", request.store_code))
        })?;
    let store = plugins
        .store_by_code(&entry.c)
        .ok_or_else(|| PlaybackError::BadRequest(format!("store {:?} is not enabled here", entry.c)))?;
    let auth = AuthRequest {
        entry,
        device: &request.client.device,
        purpose: AuthPurpose::Playback { hash: request.hash.clone() },
    };
    let credential = plugins.auth.resolve(&auth).await.map_err(PlaybackError::Auth)?;
    match resolve_shared(state, store, credential.clone(), request).await {
        Err(PlaybackError::Store(_, StoreError::Unauthorized { .. }))
            if plugins.auth.invalidate(&auth, &credential).await =>
        {
            let credential = plugins.auth.resolve(&auth).await.map_err(PlaybackError::Auth)?;
            resolve_shared(state, store, credential, request).await
        }
        other => other,
    }
}

async fn resolve_shared(
    state: &AppState,
    store: &Arc<dyn StoreProvider>,
    credential: Credential,
    request: &PlaybackRequest<'_>,
) -> Result<String, PlaybackError> {
    let key = LinkKey {
        store: store.name(),
        credential: credential.key.fingerprint(),
        hash: request.hash.clone(),
        file_idx: request.file_idx,
        file_name: request.file_name.map(str::to_string),
        episode: request.media.season.zip(request.media.episode),
    };
    let job = Resolution {
        state: state.clone(),
        store: store.clone(),
        credential,
        hash: request.hash.clone(),
        media: request.media.clone(),
        file_name: request.file_name.map(str::to_string),
        file_idx: request.file_idx,
        user_ip: public_ip(request.client.ip),
    };
    let ttl = state.caches().links_ttl();
    state.caches().links.get_or_load(key, move |r| r.is_ok().then_some(ttl), move || job.run()).await
}

/// One playback resolution, owned so that it can outlive the request that started it while
/// others wait on it.
struct Resolution {
    state: AppState,
    store: Arc<dyn StoreProvider>,
    credential: Credential,
    hash: InfoHash,
    media: MediaQuery,
    file_name: Option<String>,
    file_idx: Option<u64>,
    user_ip: Option<IpAddr>,
}

impl Resolution {
    /// Add the torrent, wait (bounded) until the store has it, pick the file, get its link.
    async fn run(self) -> Result<String, PlaybackError> {
        let Self { state, store, credential, hash, media, file_name, file_idx, user_ip } = self;
        let display = store.display_name();
        let store_error = |e| PlaybackError::Store(display, e);
        let started = Instant::now();
        let settings = &state.config().playback;
        let mut magnet = store.add_magnet(&credential, &hash, user_ip).await.map_err(store_error)?;
        let cached = magnet.status == MagnetStatus::Downloaded;
        while magnet.status != MagnetStatus::Downloaded {
            match magnet.status {
                MagnetStatus::Failed | MagnetStatus::Invalid => {
                    let message = "the torrent failed to download".to_string();
                    return Err(store_error(StoreError::Upstream { store: display, message }));
                }
                _ if started.elapsed() + settings.poll_interval() > settings.wait() => {
                    return Err(PlaybackError::StillDownloading { store: display, status: status_name(magnet.status) })
                }
                _ => {}
            }
            tokio::time::sleep(settings.poll_interval()).await;
            magnet = store.get_magnet(&credential, &magnet.id, user_ip).await.map_err(store_error)?;
        }
        // The store has it now, whatever an earlier cache check said.
        state.caches().availability.insert(
            (store.name(), hash.clone()),
            Some(magnet.files.clone()),
            state.caches().cached_ttl(),
        );

        let file = pick_file(&magnet.files, &media, file_name.as_deref(), file_idx).ok_or(PlaybackError::NoFile)?;
        let link = store.generate_link(&credential, &magnet, file, user_ip).await.map_err(store_error)?;
        tracing::info!(
            store = store.name(),
            hash = %hash,
            cached,
            provider = credential.provider,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "playback resolved"
        );
        state.usage().record(&credential, &UsageEvent { hash, cached, bytes: file.size });
        Ok(link)
    }
}

fn status_name(status: MagnetStatus) -> &'static str {
    match status {
        MagnetStatus::Queued => "queued",
        MagnetStatus::Downloading => "downloading",
        MagnetStatus::Processing => "processing",
        MagnetStatus::Uploading => "uploading",
        MagnetStatus::Downloaded => "downloaded",
        MagnetStatus::Failed => "failed",
        MagnetStatus::Invalid => "invalid",
        MagnetStatus::Unknown => "unknown",
    }
}

/// Stores want the viewer's public IP (TorBox `user_ip`); loopback and private ranges mean
/// nothing to them.
fn public_ip(ip: IpAddr) -> Option<IpAddr> {
    let private = match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    };
    (!private).then_some(ip)
}

/// `[playback]` settings as durations.
pub trait PlaybackTiming {
    fn wait(&self) -> Duration;
    fn poll_interval(&self) -> Duration;
}

impl PlaybackTiming for crate::config::PlaybackConfig {
    fn wait(&self) -> Duration {
        Duration::from_millis(self.wait_ms)
    }
    fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}
