//! Why playback failed, and the short plain-text answer with a fitting status a player gets.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chillproxy_core::{AuthChainError, DenyReason, StoreError};

use crate::problems::{auth_problem, store_problem};

/// Why playback failed. The `&'static str` is the store's display name.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum PlaybackError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{1}")]
    Auth(&'static str, AuthChainError),
    #[error("{1}")]
    Store(&'static str, StoreError),
    #[error("{store} is still downloading this torrent ({status}); try again in a few minutes")]
    StillDownloading { store: &'static str, status: &'static str },
    /// A usenet download that has not finished within `[playback] wait_ms`.
    #[error("downloading from usenet: try again in a minute ({store} is fetching this release)")]
    UsenetDownloading { store: &'static str },
    #[error("no video file for this title in the torrent")]
    NoFile,
    /// A sealed stream link past its expiry (`[server] binding_ttl_s` after its list was made).
    #[error("this stream link has expired: open the title again in Stremio")]
    Expired,
    /// Over `[limits] playback_per_minute`.
    #[error("too many playback requests from here; try again in {} s", .0.as_secs().max(1))]
    TooManyRequests(std::time::Duration),
    /// The answer another replica gave to the same playback, read from the shared tier.
    #[error("{}", .0.message)]
    Replayed(SharedFailure),
}

/// A failed playback as replicas share it: the answer's status and text, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SharedFailure {
    pub status: u16,
    pub message: String,
}

impl PlaybackError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Auth(_, AuthChainError::Denied { .. }) => StatusCode::FORBIDDEN,
            Self::Auth(_, AuthChainError::Failed { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Auth(_, AuthChainError::NoCredentials { .. }) => StatusCode::UNAUTHORIZED,
            Self::Store(_, error) => match error {
                StoreError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
                StoreError::PaymentRequired { .. } => StatusCode::PAYMENT_REQUIRED,
                StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
                StoreError::RateLimited { .. }
                | StoreError::LimitExceeded { .. }
                | StoreError::BudgetExhausted { .. } => StatusCode::TOO_MANY_REQUESTS,
                StoreError::DownloadFailed { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                StoreError::Refused { .. } => StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
                StoreError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
                StoreError::NotImplemented { .. } => StatusCode::NOT_IMPLEMENTED,
                StoreError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                StoreError::BadRequest { .. } | StoreError::Upstream { .. } => StatusCode::BAD_GATEWAY,
            },
            Self::StillDownloading { .. } | Self::UsenetDownloading { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::NoFile => StatusCode::NOT_FOUND,
            Self::Expired => StatusCode::GONE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Replayed(failure) => StatusCode::from_u16(failure.status).unwrap_or(StatusCode::BAD_GATEWAY),
        }
    }

    fn message(&self, available: &[&str]) -> String {
        match self {
            Self::Auth(store, error) => auth_problem(store, error).description,
            Self::Store(store, error) => store_problem(store, error, available).description,
            other => other.to_string(),
        }
    }

    /// This answer in the form other replicas replay.
    pub(crate) fn to_shared(&self, available: &[&str]) -> SharedFailure {
        SharedFailure { status: self.status().as_u16(), message: self.message(available) }
    }

    /// The answer, worded like the stream list's ⚠️ streams. `available` names the stores of
    /// this server that work, for the advice on a store that is not written yet.
    pub(crate) fn respond(&self, available: &[&str]) -> Response {
        let message = self.message(available);
        let mut response =
            (self.status(), [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message).into_response();
        if let Some(after) = self.retry_after() {
            if let Ok(value) = HeaderValue::from_str(&after.as_secs().max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }

    /// The answer a video player gets: 302 to the status clip that says what happened, with
    /// the plain answer's status (`X-Chillproxy-Status`), its text (`X-Chillproxy-Error`,
    /// when it is printable ASCII) and `Retry-After` as headers. `base_url` is the public base.
    pub(crate) fn redirect_to_clip(&self, available: &[&str], base_url: &str) -> Response {
        let plain = self.respond(available);
        let location = chillproxy_stremio::routes::status_clip_url(base_url, self.clip());
        let mut response = (StatusCode::FOUND, [(header::CACHE_CONTROL, "no-store")]).into_response();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&location) {
            headers.insert(header::LOCATION, value);
        }
        headers.insert("x-chillproxy-status", HeaderValue::from(plain.status().as_u16()));
        if let Some(after) = plain.headers().get(header::RETRY_AFTER) {
            headers.insert(header::RETRY_AFTER, after.clone());
        }
        let text = self.to_string();
        if let Ok(value) = HeaderValue::from_str(
            &text.chars().filter(|c| c.is_ascii() && !c.is_control()).take(300).collect::<String>(),
        ) {
            headers.insert("x-chillproxy-error", value);
        }
        response
    }

    /// The status clip (see `http::status`) that says what happened.
    pub(crate) fn clip(&self) -> &'static str {
        match self {
            Self::BadRequest(_) | Self::NoFile | Self::Expired => "not_found",
            Self::Auth(_, AuthChainError::Denied { reason: DenyReason::DeviceLimit { .. }, .. }) => "device_limit",
            Self::Auth(_, AuthChainError::Denied { .. }) => "access_denied",
            Self::Auth(_, AuthChainError::Failed { .. }) => "unavailable",
            Self::Auth(_, AuthChainError::NoCredentials { .. }) => "api_key_rejected",
            Self::Store(_, error) => match error {
                StoreError::Unauthorized { .. } => "api_key_rejected",
                StoreError::PaymentRequired { .. } => "access_denied",
                StoreError::NotFound { .. } | StoreError::NotImplemented { .. } | StoreError::Refused { .. } => {
                    "not_found"
                }
                StoreError::RateLimited { .. } => "rate_limited",
                StoreError::LimitExceeded { .. } | StoreError::BudgetExhausted { .. } => "store_limit",
                StoreError::DownloadFailed { .. } => "download_failed",
                StoreError::Timeout { .. }
                | StoreError::Unavailable { .. }
                | StoreError::BadRequest { .. }
                | StoreError::Upstream { .. } => "unavailable",
            },
            Self::StillDownloading { .. } | Self::UsenetDownloading { .. } => "downloading",
            Self::TooManyRequests(_) => "rate_limited",
            // Another replica's answer: its status says which clip.
            Self::Replayed(failure) => match failure.status {
                401 => "api_key_rejected",
                402 | 403 => "access_denied",
                400 | 404 | 410 | 451 => "not_found",
                422 => "download_failed",
                429 => "rate_limited",
                504 => "downloading",
                _ => "unavailable",
            },
        }
    }
}

impl PlaybackError {
    fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Store(_, error) => error.retry_after(),
            _ => None,
        }
    }
}

impl IntoResponse for PlaybackError {
    fn into_response(self) -> Response {
        self.respond(&[])
    }
}
