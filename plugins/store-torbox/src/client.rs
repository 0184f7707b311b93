//! The HTTP side of the TorBox API: one pooled client, the per-call Bearer key, the
//! `{success,error,detail,data}` envelope, a capped body read, and transport errors mapped to
//! [`StoreError`]. URLs never reach an error or a log line (`requestdl` carries the key in its
//! query string), and neither does the key.

use std::time::{Duration, Instant};

use chillproxy_core::metrics::{self, Outcome};
use chillproxy_core::{Secret, StoreError};
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{clean_message, error, kind_of_code, kind_of_status, parse_retry_after, Kind, STORE};

/// Largest reply body read from TorBox unless `[store.torbox] max_body_bytes` says otherwise.
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// What a call sends besides the query string.
pub(crate) enum Body<'a> {
    Empty,
    Json(&'a Value),
    Form(&'a [(&'a str, &'a str)]),
}

/// The TorBox API client. It holds no key: every call takes the caller's.
pub(crate) struct Client {
    http: reqwest::Client,
    /// Bounds the calls in flight; waiting for a permit counts against the timeout.
    permits: tokio::sync::Semaphore,
    api_url: String,
    timeout: Duration,
    /// Largest reply body read; a longer reply is an error naming the limit.
    max_body_bytes: usize,
}

/// A reply as read off the wire, before the envelope is looked at.
struct RawReply {
    status: u16,
    retry_after: Option<Duration>,
    content_type: String,
    body: Vec<u8>,
}

impl Client {
    pub(crate) fn new(
        api_url: &str,
        timeout: Duration,
        max_in_flight: usize,
        max_body_bytes: usize,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            // An API reply is never a redirect; following one could carry the key elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("chillproxy/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            permits: tokio::sync::Semaphore::new(max_in_flight.max(1)),
            api_url: api_url.trim_end_matches('/').to_string(),
            timeout,
            max_body_bytes,
        })
    }

    /// Calls `path` (which starts with `/v1/api/`) and returns the envelope's `data`
    /// (`Value::Null` when absent). `path` is what gets logged, never the query.
    pub(crate) async fn call(
        &self,
        key: &Secret,
        method: Method,
        path: &'static str,
        query: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<Value, StoreError> {
        if key.is_empty() {
            return Err(error(Kind::Unauthorized, "no API key was given".to_string(), None));
        }
        let started = Instant::now();
        let mut request = self
            .http
            .request(method.clone(), format!("{}{}", self.api_url, path))
            .bearer_auth(key.expose())
            .header(ACCEPT, "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        request = match body {
            Body::Empty => request,
            Body::Json(value) => request.json(value),
            Body::Form(fields) => request.form(fields),
        };
        let bounded = async {
            let _permit = self.permits.acquire().await.map_err(|_| StoreError::Timeout { store: STORE })?;
            self.exchange(request, key).await
        };
        let result = match tokio::time::timeout(self.timeout, bounded).await {
            Ok(Ok(raw)) => {
                let result = interpret(raw.status, raw.retry_after, &raw.content_type, &raw.body, key.expose());
                tracing::debug!(
                    store = STORE,
                    %method,
                    endpoint = path,
                    status = raw.status,
                    bytes = raw.body.len(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "torbox call"
                );
                result
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(StoreError::Timeout { store: STORE }),
        };
        if let Err(e) = &result {
            tracing::debug!(
                store = STORE,
                %method,
                endpoint = path,
                elapsed_ms = started.elapsed().as_millis() as u64,
                error = %e,
                "torbox call failed"
            );
        }
        let outcome = match &result {
            Ok(_) => Outcome::Ok,
            Err(StoreError::Timeout { .. }) => Outcome::Timeout,
            Err(_) => Outcome::Error,
        };
        metrics::record_upstream(crate::NAME, path.trim_start_matches("/v1/api/"), outcome, started.elapsed());
        result
    }

    async fn exchange(&self, request: reqwest::RequestBuilder, key: &Secret) -> Result<RawReply, StoreError> {
        let mut response = request.send().await.map_err(|e| transport_error(e, key))?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let retry_after = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let content_type =
            headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
        let limit = self.max_body_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large(status, limit));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(e, key))? {
            if body.len() + chunk.len() > limit {
                return Err(too_large(status, limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawReply { status, retry_after, content_type, body })
    }
}

/// The reply is over `[store.torbox] max_body_bytes`: the message names the limit.
fn too_large(status: u16, limit: usize) -> StoreError {
    error(
        Kind::Upstream,
        format!(
            "the reply (HTTP {status}) is larger than {} ([store.torbox] max_body_bytes = {limit})",
            size_text(limit)
        ),
        None,
    )
}

/// `2 MiB`, `64 KiB` or `1500 bytes`.
pub(crate) fn size_text(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// A transport failure, described without the URL and without the key.
fn transport_error(e: reqwest::Error, key: &Secret) -> StoreError {
    if e.is_timeout() {
        return StoreError::Timeout { store: STORE };
    }
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    let text = clean_message(&text, key.expose());
    if e.is_connect() {
        error(Kind::Unavailable, format!("could not connect ({text})"), None)
    } else if e.is_body() || e.is_decode() {
        error(Kind::Upstream, format!("reading the reply failed ({text})"), None)
    } else {
        error(Kind::Unavailable, format!("the request failed ({text})"), None)
    }
}

/// TorBox's reply envelope. Every field is optional so that FastAPI's own `{"detail": ...}`
/// replies and odd variants still read.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    detail: Option<Value>,
    #[serde(default)]
    data: Value,
}

impl Envelope {
    fn is_envelope(&self) -> bool {
        self.success.is_some() || self.error.is_some() || self.detail.is_some()
    }

    /// The error code, if there is a non-empty one.
    fn code(&self) -> Option<String> {
        match &self.error {
            Some(Value::String(code)) if !code.trim().is_empty() => Some(code.trim().to_string()),
            Some(Value::Null) | None => None,
            Some(Value::String(_)) | Some(Value::Bool(false)) => None,
            Some(other) => Some(other.to_string()),
        }
    }

    fn detail(&self, key: &str) -> Option<String> {
        match &self.detail {
            Some(Value::String(detail)) => Some(clean_message(detail, key)).filter(|d| !d.is_empty()),
            _ => None,
        }
    }
}

/// Turns a reply into the envelope's `data` or a typed error.
pub(crate) fn interpret(
    status: u16,
    retry_after: Option<Duration>,
    content_type: &str,
    body: &[u8],
    key: &str,
) -> Result<Value, StoreError> {
    let envelope = serde_json::from_slice::<Envelope>(body).ok().filter(Envelope::is_envelope);
    let Some(envelope) = envelope else {
        let what = describe_body(content_type, body, key);
        if (200..300).contains(&status) {
            return Err(error(Kind::Upstream, format!("the reply could not be read ({what})"), None));
        }
        return Err(error(kind_of_status(status), format!("HTTP {status} with {what}"), retry_after));
    };
    let code = envelope.code();
    let ok_status = (200..300).contains(&status);
    if ok_status && envelope.success == Some(true) && code.is_none() {
        return Ok(envelope.data);
    }
    let message = envelope.detail(key).unwrap_or_else(|| match &code {
        Some(code) => clean_message(code, key),
        None => format!("HTTP {status}, no detail given"),
    });
    if status == 429 {
        return Err(error(Kind::RateLimited, message, retry_after));
    }
    let kind = match &code {
        Some(code) => kind_of_code(code),
        None if !ok_status => kind_of_status(status),
        None => Kind::Upstream,
    };
    Err(error(kind, message, retry_after))
}

/// A short description of a body that is not a TorBox envelope; never the body itself unless
/// it is short plain text.
fn describe_body(content_type: &str, body: &[u8], key: &str) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let trimmed = text.trim_start();
    let lower = trimmed.get(..trimmed.len().min(64)).unwrap_or_default().to_ascii_lowercase();
    if body.iter().all(u8::is_ascii_whitespace) {
        "an empty body".to_string()
    } else if content_type.contains("html") || lower.starts_with("<!doctype") || lower.starts_with("<html") {
        "an HTML page instead of JSON".to_string()
    } else if content_type.contains("json") || trimmed.starts_with('{') || trimmed.starts_with('[') {
        "truncated or invalid JSON".to_string()
    } else if content_type.starts_with("text/plain") && body.len() <= 512 {
        format!("the text {:?}", clean_message(trimmed, key))
    } else {
        "a body that is not JSON".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "tb-key-abc";

    fn ok(body: &str) -> Result<Value, StoreError> {
        interpret(200, None, "application/json", body.as_bytes(), KEY)
    }

    #[test]
    fn success_returns_data() {
        let data = ok(r#"{"success":true,"error":null,"detail":"ok","data":{"id":5}}"#).unwrap();
        assert_eq!(data["id"], 5);
        assert_eq!(ok(r#"{"success":true,"error":"","detail":"ok"}"#).unwrap(), Value::Null);
    }

    #[test]
    fn error_codes_win_over_status() {
        let e = interpret(
            401,
            None,
            "application/json",
            br#"{"success":false,"error":"BAD_TOKEN","detail":"Invalid API token.","data":null}"#,
            KEY,
        )
        .unwrap_err();
        assert_eq!(e, StoreError::Unauthorized { store: "TorBox", message: "Invalid API token.".into() });
        let e = ok(r#"{"success":false,"error":"ACTIVE_LIMIT","detail":"Too many active.","data":null}"#).unwrap_err();
        assert!(matches!(e, StoreError::LimitExceeded { .. }), "{e:?}");
        let e = ok(r#"{"success":true,"error":"ITEM_NOT_FOUND","detail":"","data":null}"#).unwrap_err();
        assert_eq!(e, StoreError::NotFound { store: "TorBox", message: "ITEM_NOT_FOUND".into() });
    }

    #[test]
    fn rate_limit_keeps_retry_after() {
        let e = interpret(429, Some(Duration::from_secs(9)), "text/html", b"<html>slow</html>", KEY).unwrap_err();
        assert!(
            matches!(e, StoreError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(9)),
            "{e:?}"
        );
        let e = interpret(
            429,
            Some(Duration::from_secs(3)),
            "application/json",
            br#"{"success":false,"error":"COOLDOWN_LIMIT","detail":"Wait.","data":null}"#,
            KEY,
        )
        .unwrap_err();
        assert_eq!(
            e,
            StoreError::RateLimited {
                store: "TorBox",
                retry_after: Some(Duration::from_secs(3)),
                message: "Wait.".into()
            }
        );
    }

    #[test]
    fn unreadable_bodies_are_typed_errors_without_the_body() {
        let page = format!("<!DOCTYPE html><html><body>{}</body></html>", "oops ".repeat(10_000));
        let e = interpret(502, None, "text/html", page.as_bytes(), KEY).unwrap_err();
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
        assert!(e.to_string().len() < 300, "{e}");
        assert!(!e.to_string().contains("oops"));

        let e = ok(r#"{"success":true,"error":null,"data":[{"hash":"ab"#).unwrap_err();
        assert!(matches!(e, StoreError::Upstream { .. }), "{e:?}");
        assert!(e.to_string().contains("truncated"), "{e}");

        let e = interpret(401, None, "text/plain", b"Unauthorized", KEY).unwrap_err();
        assert!(matches!(e, StoreError::Unauthorized { .. }), "{e:?}");
        let e = interpret(500, None, "text/plain", format!("boom {KEY}").as_bytes(), KEY).unwrap_err();
        assert!(!e.to_string().contains(KEY), "{e}");
        let e = interpret(200, None, "", b"", KEY).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[test]
    fn the_body_limit_is_named() {
        assert_eq!(size_text(DEFAULT_MAX_BODY_BYTES), "2 MiB");
        assert_eq!(size_text(64 * 1024), "64 KiB");
        assert_eq!(size_text(1500), "1500 bytes");
        let e = too_large(200, 1500);
        assert!(matches!(e, StoreError::Upstream { .. }), "{e:?}");
        assert!(e.to_string().contains("larger than 1500 bytes ([store.torbox] max_body_bytes = 1500)"), "{e}");
    }

    #[test]
    fn fastapi_detail_only_replies_are_read() {
        let e = interpret(404, None, "application/json", br#"{"detail":"Not Found"}"#, KEY).unwrap_err();
        assert_eq!(e, StoreError::NotFound { store: "TorBox", message: "Not Found".into() });
    }

    #[test]
    fn the_key_never_reaches_a_message() {
        let body = format!(r#"{{"success":false,"error":"BAD_TOKEN","detail":"token {KEY} unknown"}}"#);
        let e = interpret(403, None, "application/json", body.as_bytes(), KEY).unwrap_err();
        assert!(!e.to_string().contains(KEY), "{e}");
    }
}
