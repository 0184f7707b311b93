//! Why playback failed, and the short plain-text answer with a fitting status a player gets.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chillproxy_core::{AuthChainError, StoreError};

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
    #[error("no video file for this title in the torrent")]
    NoFile,
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
                StoreError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
                StoreError::NotImplemented { .. } => StatusCode::NOT_IMPLEMENTED,
                StoreError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                StoreError::BadRequest { .. } | StoreError::Upstream { .. } => StatusCode::BAD_GATEWAY,
            },
            Self::StillDownloading { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::NoFile => StatusCode::NOT_FOUND,
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
