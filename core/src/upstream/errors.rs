//! Why an upstream call got no reply: [`UpstreamError`], decided from reqwest's error kinds and
//! described without the URL (query strings carry keys) and without any credential.

use std::error::Error as _;
use std::fmt;

use super::outbound::{OutboundRefused, RefusalKind};
use super::text::{scrub, size_text};
use crate::health::{ErrorKind, Verdict, Wire};

/// A call that ended without a usable reply. The plugin maps it to its own error type and
/// wording; `Display` gives a plain default.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// No complete reply within `timeout_ms` (waiting for a permit included), or the connect
    /// budget ran out.
    #[error("timed out")]
    Timeout,
    /// The connection could not be opened: refused, no route, DNS, TLS handshake; or the
    /// outbound URL policy refused the URL, and none was attempted ([`Failure::refused`],
    /// [`UpstreamError::refusal`]).
    #[error("could not connect: {0}")]
    Connect(Failure),
    /// The reply's body is over `max_body_bytes`; it was not read further.
    #[error("the reply (HTTP {status}) is larger than {} (max_body_bytes = {limit})", size_text(*limit))]
    BodyTooLarge { status: u16, limit: usize },
    /// Anything else, at the given stage.
    #[error("{}: {failure}", stage.as_str())]
    Other { stage: Stage, failure: Failure },
}

/// Where a call failed that is neither a timeout nor a connect failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Sending the request or reading the reply's head.
    Request,
    /// Following redirects (only when the client follows them).
    Redirect,
    /// Reading the reply's body.
    Body,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Request => "request failed",
            Stage::Redirect => "too many redirects",
            Stage::Body => "reading the reply failed",
        }
    }
}

/// A transport failure as text: never the URL, never a secret of the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error and its causes, joined by `: ` the way reqwest prints them
    /// (`error sending request: client error (Connect): tcp connect error: Connection refused`).
    pub text: String,
    /// The innermost cause alone (`Connection refused (os error 111)`), when there is one.
    pub cause: Option<String>,
    /// Which rule of the outbound URL policy refused the call, when it was refused (then `text`
    /// and `cause` are the policy's reason, and no connection was made).
    pub refused: Option<RefusalKind>,
}

impl Failure {
    /// The innermost cause, else the whole text.
    pub fn short(&self) -> &str {
        self.cause.as_deref().unwrap_or(&self.text)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short())
    }
}

impl UpstreamError {
    /// The outbound URL policy refused the URL, a redirect hop or every address of its host: no
    /// connection was made. A connect failure whose cause says why (never the URL), marked with
    /// the rule that refused it.
    pub fn refused(refused: OutboundRefused) -> Self {
        let OutboundRefused { kind, reason } = refused;
        Self::Connect(Failure { text: reason.clone(), cause: Some(reason), refused: Some(kind) })
    }

    /// Which rule of the outbound URL policy refused the call, when that is why it failed.
    pub fn refusal(&self) -> Option<RefusalKind> {
        match self {
            Self::Connect(failure) => failure.refused,
            _ => None,
        }
    }

    /// Classifies a reqwest error by its kind (never by its text) and describes it without the
    /// URL and without `secrets`. A refusal of the outbound URL policy (a redirect hop, or every
    /// address a name resolved to) is found among the causes by its type.
    pub(crate) fn from_reqwest(error: reqwest::Error, secrets: &[&str]) -> Self {
        if error.is_timeout() {
            return Self::Timeout;
        }
        let error = error.without_url();
        let mut source = error.source();
        while let Some(cause) = source {
            if let Some(refused) = cause.downcast_ref::<OutboundRefused>() {
                return Self::refused(refused.clone());
            }
            source = cause.source();
        }
        let clean = |text: String| secrets.iter().fold(text, |text, secret| scrub(&text, secret));
        let mut text = error.to_string();
        let mut innermost = None;
        let mut source = error.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            innermost = Some(cause.to_string());
            source = cause.source();
        }
        let failure = Failure { text: clean(text), cause: innermost.map(clean), refused: None };
        if error.is_connect() {
            Self::Connect(failure)
        } else if error.is_redirect() {
            Self::Other { stage: Stage::Redirect, failure }
        } else if error.is_body() || error.is_decode() {
            Self::Other { stage: Stage::Body, failure }
        } else {
            Self::Other { stage: Stage::Request, failure }
        }
    }
}

/// What decides the `outcome` label of `chillproxy_upstream_requests_total` for a failed call:
/// `timeout` when this says so, else `error`; and what the failure says of the upstream's health.
/// Implemented by each plugin's error type.
pub trait UpstreamFailure {
    fn is_timeout(&self) -> bool;

    /// What this failed call says of its upstream, given what the wire said. By default the
    /// wire's word ([`Wire::failure`]); an error type overrides it for failures that are about
    /// the request rather than the upstream (a user's wrong key, a torrent it does not have).
    fn verdict(&self, wire: Wire) -> Verdict {
        wire.failure()
    }
}

impl UpstreamFailure for UpstreamError {
    fn is_timeout(&self) -> bool {
        matches!(self, UpstreamError::Timeout)
    }
}

impl UpstreamFailure for crate::StoreError {
    fn is_timeout(&self) -> bool {
        matches!(self, crate::StoreError::Timeout { .. })
    }

    /// A timeout, a "too many requests", an unavailable or failed store are the store's; a
    /// rejected key, a plan or account limit, a torrent it will not or cannot download, a missing
    /// item, a refused request are answers about the user or the torrent: the store works.
    fn verdict(&self, wire: Wire) -> Verdict {
        use crate::StoreError as E;
        match self {
            E::Timeout { .. } => Verdict::Failed(ErrorKind::Timeout),
            E::RateLimited { .. } => Verdict::Failed(ErrorKind::RateLimited),
            E::Unavailable { .. } | E::Upstream { .. } => match wire.failure() {
                // A store's own error code for "down" inside a reply it could read.
                Verdict::Failed(ErrorKind::Auth | ErrorKind::Http4xx) => Verdict::Failed(ErrorKind::BadReply),
                verdict => verdict,
            },
            E::Unauthorized { .. }
            | E::PaymentRequired { .. }
            | E::LimitExceeded { .. }
            | E::BudgetExhausted { .. }
            | E::DownloadFailed { .. }
            | E::Refused { .. }
            | E::NotFound { .. }
            | E::BadRequest { .. }
            | E::NotImplemented { .. } => Verdict::Answered,
        }
    }
}

/// The HTTP client could not be built. The text never repeats the proxy URL, which may carry
/// a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct UpstreamBuildError(pub(crate) String);
