//! The Chillstreams internal API: `pool/get-key` and `pool/log-usage`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chillproxy_core::metrics::{self, Outcome};
use chillproxy_core::Secret;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

/// One pooled HTTP client for the plugin. The internal API key is a [`Secret`].
#[derive(Clone)]
pub struct ChillstreamsClient {
    http: reqwest::Client,
    /// Bounds the calls in flight to Chillstreams.
    permits: Arc<Semaphore>,
    api_url: String,
    api_key: Secret,
    timeout: Duration,
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

/// Why get-key gave no answer. Displayed to users after "Chillstreams unavailable: ", so it
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

impl ChillstreamsClient {
    pub fn new(
        api_url: &str,
        api_key: Secret,
        timeout: Duration,
        max_in_flight: usize,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("chillproxy/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            permits: Arc::new(Semaphore::new(max_in_flight.max(1))),
            api_url: api_url.trim_end_matches('/').to_string(),
            api_key,
            timeout,
        })
    }

    /// `POST {api_url}/api/v1/internal/pool/get-key`, bounded by the timeout as a whole.
    pub async fn get_key(&self, user_id: &str, device_id: &str, hash: &str) -> Result<KeyAnswer, GetKeyError> {
        let started = Instant::now();
        let call = async {
            let _permit = self.permits.acquire().await.map_err(|_| GetKeyError::Transport)?;
            let response = self
                .http
                .post(format!("{}/api/v1/internal/pool/get-key", self.api_url))
                .bearer_auth(self.api_key.expose())
                .json(&GetKeyBody { user_id, device_id, action: "init", hash })
                .send()
                .await
                .map_err(|e| self.transport_error(&e))?;
            let status = response.status().as_u16();
            match status {
                200 => {}
                401 | 403 => {
                    tracing::error!(status, "chillstreams rejected the internal API key; check CHILLSTREAMS_API_KEY");
                    return Err(GetKeyError::Rejected(status));
                }
                _ => return Err(GetKeyError::Status(status)),
            }
            let body = response.bytes().await.map_err(|e| self.transport_error(&e))?;
            let reply: GetKeyReply = serde_json::from_slice(&body).map_err(|_| GetKeyError::BadReply)?;
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
        };
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(GetKeyError::Timeout(self.timeout)),
        };
        // A denial is an answer: `ok`.
        let outcome = match &result {
            Ok(_) => Outcome::Ok,
            Err(GetKeyError::Timeout(_)) => Outcome::Timeout,
            Err(_) => Outcome::Error,
        };
        metrics::record_upstream(crate::NAME, "get_key", outcome, started.elapsed());
        result
    }

    /// `POST {api_url}/api/v1/internal/pool/log-usage`. Returns the HTTP status on a reply.
    pub async fn log_usage(&self, report: &UsageReport) -> Result<u16, GetKeyError> {
        let started = Instant::now();
        let call = async {
            let _permit = self.permits.acquire().await.map_err(|_| GetKeyError::Transport)?;
            let response = self
                .http
                .post(format!("{}/api/v1/internal/pool/log-usage", self.api_url))
                .bearer_auth(self.api_key.expose())
                .json(report)
                .send()
                .await
                .map_err(|e| self.transport_error(&e))?;
            Ok(response.status().as_u16())
        };
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(GetKeyError::Timeout(self.timeout)),
        };
        let outcome = match &result {
            Ok(status) if (200..300).contains(status) => Outcome::Ok,
            Err(GetKeyError::Timeout(_)) => Outcome::Timeout,
            _ => Outcome::Error,
        };
        metrics::record_upstream(crate::NAME, "log_usage", outcome, started.elapsed());
        result
    }

    fn transport_error(&self, error: &reqwest::Error) -> GetKeyError {
        if error.is_timeout() {
            GetKeyError::Timeout(self.timeout)
        } else if error.is_connect() {
            GetKeyError::Connect
        } else {
            GetKeyError::Transport
        }
    }
}
