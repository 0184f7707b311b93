//! The Chillstreams internal API: `pool/get-key` and `pool/log-usage`, over the upstream kit.

use std::fmt;
use std::time::Duration;

use chillproxy_core::health::Tracker;
use chillproxy_core::upstream::{
    BaseUrl, Method, Reply, Upstream, UpstreamBuildError, UpstreamError, UpstreamFailure, UpstreamOptions,
    UpstreamSettings,
};
use chillproxy_core::Secret;
use serde::{Deserialize, Serialize};

const GET_KEY: &str = "/api/v1/internal/pool/get-key";
const LOG_USAGE: &str = "/api/v1/internal/pool/log-usage";

/// One pooled HTTP client for the plugin (cloning shares it). The internal API key is a
/// [`Secret`]. Redirects are not followed: the internal API never redirects, and the key must
/// not travel elsewhere.
#[derive(Clone)]
pub struct ChillstreamsClient {
    upstream: Upstream,
    api_key: Secret,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GetKeyBody<'a> {
    user_id: &'a str,
    device_id: &'a str,
    action: &'a str,
    hash: &'a str,
}

/// The reply of `get-key`. Every field is optional: Chillstreams omits what does not apply.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetKeyReply {
    #[serde(default)]
    allowed: bool,
    #[serde(default)]
    pool_key: Option<Secret>,
    #[serde(default)]
    pool_key_id: Option<String>,
    #[serde(default)]
    device_count: Option<u32>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Clone)]
pub enum KeyAnswer {
    Granted { pool_key: Secret, pool_key_id: String, device_count: u32 },
    Denied { message: String },
}

/// Why get-key gave no answer. Displayed to users as the cause of "Chillstreams is unavailable", so it
/// names the cause and nothing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetKeyError {
    Timeout(Duration),
    Connect,
    Transport,
    /// 401/403: Chillstreams rejected this server's internal API key.
    Rejected(u16),
    Status(u16),
    BadReply,
    NoPoolKey,
    /// The circuit breaker is open: no call was made.
    CircuitOpen {
        failures: u32,
        open_s: u64,
    },
}

impl fmt::Display for GetKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout(d) => write!(f, "no answer within {} ms", d.as_millis()),
            Self::Connect => f.write_str("could not connect"),
            Self::Transport => f.write_str("the connection failed"),
            Self::Rejected(s) => write!(f, "it rejected this server's API key (HTTP {s})"),
            Self::Status(s) => write!(f, "it answered HTTP {s}"),
            Self::BadReply => f.write_str("its reply could not be read"),
            Self::NoPoolKey => f.write_str("it granted access but sent no pool key"),
            Self::CircuitOpen { failures, open_s } => {
                write!(f, "it failed {failures} times in a row; not asking again for up to {open_s} s")
            }
        }
    }
}

/// A usage event for `log-usage`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UsageReport {
    /// Unique per event: lets Chillstreams drop a duplicate after a lost reply.
    pub event_id: String,
    pub user_id: String,
    pub pool_key_id: String,
    pub action: String,
    pub hash: String,
    pub cached: bool,
    pub bytes: u64,
}

impl UpstreamFailure for GetKeyError {
    fn is_timeout(&self) -> bool {
        matches!(self, GetKeyError::Timeout(_))
    }
}

impl ChillstreamsClient {
    /// Every call reports to `tracker` (Chillstreams' entry in the server's health registry).
    pub fn new(
        api_url: BaseUrl,
        api_key: Secret,
        settings: &UpstreamSettings,
        tracker: Tracker,
    ) -> Result<Self, UpstreamBuildError> {
        let options = UpstreamOptions { health: Some(tracker), ..UpstreamOptions::default() };
        let upstream = Upstream::new(crate::NAME, Some(api_url), settings, options)?;
        Ok(Self { upstream, api_key })
    }

    /// `POST {api_url}/api/v1/internal/pool/get-key`, bounded by the timeout as a whole. A
    /// denial is an answer (`ok` in the metrics).
    pub async fn get_key(&self, user_id: &str, device_id: &str, hash: &str) -> Result<KeyAnswer, GetKeyError> {
        let request = self.upstream.request(Method::POST, "get_key", GET_KEY).bearer(&self.api_key).json(&GetKeyBody {
            user_id,
            device_id,
            action: "init",
            hash,
        });
        self.upstream.call(request, |reply| self.read_key_answer(reply)).await
    }

    fn read_key_answer(&self, reply: Result<Reply, UpstreamError>) -> Result<KeyAnswer, GetKeyError> {
        let reply = match reply {
            Ok(reply) => reply,
            // An error status says more than its oversized body.
            Err(UpstreamError::BodyTooLarge { status, .. }) => {
                check_status(status)?;
                return Err(GetKeyError::BadReply);
            }
            Err(e) => return Err(self.call_error(e)),
        };
        check_status(reply.status.as_u16())?;
        let reply: GetKeyReply = serde_json::from_slice(&reply.body).map_err(|_| GetKeyError::BadReply)?;
        if !reply.allowed {
            let message = reply
                .message
                .filter(|m| !m.trim().is_empty())
                .unwrap_or_else(|| "Chillstreams refused access for this account".to_string());
            return Ok(KeyAnswer::Denied { message });
        }
        match reply.pool_key.filter(|k| !k.is_empty()) {
            Some(pool_key) => Ok(KeyAnswer::Granted {
                pool_key,
                pool_key_id: reply.pool_key_id.unwrap_or_default(),
                device_count: reply.device_count.unwrap_or(0),
            }),
            None => Err(GetKeyError::NoPoolKey),
        }
    }

    /// `POST {api_url}/api/v1/internal/pool/log-usage`. Any status but 2xx is
    /// [`GetKeyError::Status`]; the caller decides whether to retry.
    pub async fn log_usage(&self, report: &UsageReport) -> Result<(), GetKeyError> {
        let request = self.upstream.request(Method::POST, "log_usage", LOG_USAGE).bearer(&self.api_key).json(report);
        self.upstream
            .call(request, |reply| {
                let status = match reply {
                    Ok(reply) => reply.status.as_u16(),
                    // Only the status matters here.
                    Err(UpstreamError::BodyTooLarge { status, .. }) => status,
                    Err(e) => return Err(self.call_error(e)),
                };
                if (200..300).contains(&status) {
                    Ok(())
                } else {
                    Err(GetKeyError::Status(status))
                }
            })
            .await
    }

    fn call_error(&self, error: UpstreamError) -> GetKeyError {
        match error {
            UpstreamError::Timeout => GetKeyError::Timeout(self.upstream.timeout()),
            UpstreamError::Connect(_) => GetKeyError::Connect,
            UpstreamError::BodyTooLarge { .. } => GetKeyError::BadReply,
            UpstreamError::Other { .. } => GetKeyError::Transport,
        }
    }
}

/// get-key's status: 200 reads on; 401/403 means this server's internal API key was rejected.
fn check_status(status: u16) -> Result<(), GetKeyError> {
    match status {
        200 => Ok(()),
        401 | 403 => {
            tracing::error!(status, "chillstreams rejected the internal API key; check CHILLSTREAMS_API_KEY");
            Err(GetKeyError::Rejected(status))
        }
        _ => Err(GetKeyError::Status(status)),
    }
}
