//! The HTTP side of the TorBox API: the per-call Bearer key over the shared upstream kit, the
//! key's request budgets (TorBox limits every key to 300 calls a minute and 60 new downloads an
//! hour), the `{success,error,detail,data}` envelope, and transport errors mapped to
//! [`StoreError`]. URLs never reach an error or a log line (`requestdl` carries the key in its
//! query string), and neither does the key.

use std::time::Duration;

use chillproxy_core::health::Health;
use chillproxy_core::upstream::{
    size_text, BlockOn, BudgetedUpstream, CallPolicy, Method, Spend, Stage, UpstreamError,
};
use chillproxy_core::{ConfigError, OverBudget, Secret, SharedState, StoreError, Window};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{clean_message, error, error_of_code, kind_of_status, Kind, STORE};
use crate::TorBoxConfig;

/// The TorBox API paths the store calls.
pub(crate) const CHECKCACHED: &str = "/v1/api/torrents/checkcached";
pub(crate) const CREATETORRENT: &str = "/v1/api/torrents/createtorrent";
pub(crate) const MYLIST: &str = "/v1/api/torrents/mylist";
pub(crate) const CONTROLTORRENT: &str = "/v1/api/torrents/controltorrent";
pub(crate) const REQUESTDL: &str = "/v1/api/torrents/requestdl";
pub(crate) const USER_ME: &str = "/v1/api/user/me";
pub(crate) const USENET_CHECKCACHED: &str = "/v1/api/usenet/checkcached";
pub(crate) const USENET_CREATE: &str = "/v1/api/usenet/createusenetdownload";
pub(crate) const USENET_MYLIST: &str = "/v1/api/usenet/mylist";
pub(crate) const USENET_REQUESTDL: &str = "/v1/api/usenet/requestdl";

/// Budget window names (in keys, logs and errors).
const REQUESTS: &str = "requests_per_minute";
const CREATES_PER_MINUTE: &str = "creates_per_minute";
const CREATES_PER_HOUR: &str = "creates_per_hour";

/// TorBox's budgeted calls: a call over a per-minute budget waits up to 2 s for the minute to
/// turn; only an HTTP 429 holds the key back (60 s when it names no `Retry-After`), not a
/// `COOLDOWN_LIMIT` on adding downloads; logs name the `/v1/api/...` path.
const POLICY: CallPolicy =
    CallPolicy { block_on: BlockOn::TooManyRequests, log_path: true, ..CallPolicy::new(over_budget) };

/// What a call spends from its key's budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cost {
    /// Any call: one of the key's requests this minute.
    Request,
    /// `createtorrent` or `createusenetdownload` (TorBox documents one limit for every create
    /// endpoint): a request, and one of the key's new downloads this minute and hour.
    Create,
}

/// Largest reply body read from TorBox unless `[store.torbox] max_body_bytes` says otherwise.
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// What a call sends besides the query string.
pub(crate) enum Body<'a> {
    Empty,
    Json(&'a Value),
    Form(&'a [(&'a str, &'a str)]),
    /// A `multipart/form-data` body, already encoded, with its content type (and boundary).
    Multipart {
        content_type: String,
        body: Vec<u8>,
    },
}

/// The TorBox API client. It holds no key: every call takes the caller's. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Client {
    calls: BudgetedUpstream,
    requests: Window,
    creates_per_minute: Window,
    creates_per_hour: Window,
}

impl Client {
    pub(crate) fn new(config: &TorBoxConfig, shared: SharedState, health: &Health) -> Result<Self, ConfigError> {
        Ok(Self {
            calls: BudgetedUpstream::new(&crate::IDENTITY, &config.api_url, &config.upstream, shared, health, POLICY)?,
            requests: Window::per_minute(REQUESTS, config.requests_per_minute),
            creates_per_minute: Window::per_minute(CREATES_PER_MINUTE, config.creates_per_minute),
            creates_per_hour: Window::per_hour(CREATES_PER_HOUR, config.creates_per_hour),
        })
    }

    /// New downloads `key` may still make this hour (`None`: no hourly limit).
    pub(crate) async fn creates_left(&self, key: &Secret) -> Option<u64> {
        self.calls.budget().left(key, &self.creates_per_hour).await
    }

    /// Calls `path` (which starts with `/v1/api/`) with the key as a Bearer token and returns
    /// the envelope's `data` (`Value::Null` when absent), after spending `cost` from the key's
    /// budgets: a call over budget is not sent. A 429 holds the key's calls back for its
    /// `Retry-After` (60 s when it names none): all of them, or for a `createtorrent` its new
    /// downloads. The metrics and logs name the endpoint without `/v1/api/`, never the query.
    pub(crate) async fn call(
        &self,
        key: &Secret,
        cost: Cost,
        method: Method,
        path: &'static str,
        query: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<Value, StoreError> {
        let create = [self.requests, self.creates_per_minute, self.creates_per_hour];
        let spend = match cost {
            Cost::Request => Spend::one(&self.requests),
            Cost::Create => Spend { windows: &create, blocks: CREATES_PER_HOUR },
        };
        let mut request = self
            .calls
            .request(method, path.trim_start_matches("/v1/api/"), path)
            .bearer(key)
            .accept("application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        request = match body {
            Body::Empty => request,
            Body::Json(value) => request.json(value),
            Body::Form(fields) => request.form(fields),
            Body::Multipart { content_type, body } => request.body(&content_type, body),
        };
        self.calls
            .call(key, spend, request, |reply| {
                let raw = reply.map_err(|e| transport_error(e, key))?;
                interpret(raw.status.as_u16(), raw.retry_after, &raw.content_type, &raw.body, key.expose())
            })
            .await
    }
}

/// A call the key's budget refused, as the user reads it. A block TorBox asked for on ordinary
/// calls reads as TorBox rate limiting; our own counts, and any limit on new downloads, say
/// which limit it is and that cached streams still play.
fn over_budget(over: OverBudget) -> StoreError {
    let retry_after = over.retry_after_secs();
    let message = match (over.window, over.upstream) {
        (REQUESTS, true) => {
            let message = "TorBox asked to slow down for this key".to_string();
            return StoreError::RateLimited { store: STORE, retry_after, message };
        }
        (REQUESTS, false) => "TorBox's limit of requests a minute for this key is reached",
        (CREATES_PER_MINUTE, false) => {
            "TorBox's per-minute limit for new downloads is reached; cached streams still play"
        }
        (_, true) => "TorBox is limiting new downloads for this key; cached streams still play",
        _ => "TorBox's hourly limit for new downloads is reached; cached streams still play",
    };
    StoreError::BudgetExhausted { store: STORE, retry_after, message: message.to_string() }
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

/// A transport failure as a store error. The kit's text has neither the URL nor the key;
/// `clean_message` shortens it (and scrubs the key once more).
fn transport_error(e: UpstreamError, key: &Secret) -> StoreError {
    match e {
        UpstreamError::Timeout => StoreError::Timeout { store: STORE },
        UpstreamError::BodyTooLarge { status, limit } => too_large(status, limit),
        UpstreamError::Connect(failure) => error(
            Kind::Unavailable,
            format!("could not connect ({})", clean_message(&failure.text, key.expose())),
            None,
        ),
        UpstreamError::Other { stage: Stage::Body, failure } => error(
            Kind::Upstream,
            format!("reading the reply failed ({})", clean_message(&failure.text, key.expose())),
            None,
        ),
        UpstreamError::Other { failure, .. } => error(
            Kind::Unavailable,
            format!("the request failed ({})", clean_message(&failure.text, key.expose())),
            None,
        ),
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
    let detail = envelope.detail(key);
    let message = detail.clone().unwrap_or_else(|| match &code {
        Some(code) => clean_message(code, key),
        None => format!("HTTP {status}, no detail given"),
    });
    if status == 429 {
        return Err(error(Kind::RateLimited, message, retry_after));
    }
    if code.is_none() {
        if let Some(limit) = active_limit(&envelope.data) {
            return Err(limit);
        }
    }
    Err(match &code {
        Some(code) => error_of_code(code, detail, message, retry_after),
        None if !ok_status => error(kind_of_status(status), message, retry_after),
        None => error(Kind::Upstream, message, retry_after),
    })
}

/// The documented reply of `createtorrent` at the account's active limit: HTTP 200, `success:
/// false`, `error: null`, `data: {"active_limit", "current_active_downloads"}`.
fn active_limit(data: &Value) -> Option<StoreError> {
    let limit = data.get("active_limit")?.as_u64()?;
    let active = data.get("current_active_downloads").and_then(Value::as_u64).unwrap_or(limit);
    Some(error(
        Kind::LimitExceeded,
        format!(
            "the account is already downloading as many torrents as it may ({active} of {limit}); cached streams \
             still play"
        ),
        None,
    ))
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
    fn the_documented_active_limit_reply_is_a_limit_not_a_failure() {
        let body = br#"{"success":false,"error":null,"detail":"You have reached your active torrent download limit..","data":{"active_limit":5,"current_active_downloads":5}}"#;
        let e = interpret(200, None, "application/json", body, KEY).unwrap_err();
        assert_eq!(
            e.to_string(),
            "TorBox account limit reached: the account is already downloading as many torrents as it may (5 of 5); \
             cached streams still play"
        );
    }

    #[test]
    fn a_budget_refusal_says_which_limit_and_rounds_the_wait_up() {
        let over = |window, upstream| OverBudget { window, retry_after: Some(Duration::from_millis(6_200)), upstream };
        let e = over_budget(over(CREATES_PER_HOUR, false));
        assert_eq!(
            e,
            StoreError::BudgetExhausted {
                store: "TorBox",
                retry_after: Some(Duration::from_secs(7)),
                message: "TorBox's hourly limit for new downloads is reached; cached streams still play".into()
            }
        );
        assert!(matches!(over_budget(over(REQUESTS, true)), StoreError::RateLimited { .. }));
        assert!(matches!(over_budget(over(REQUESTS, false)), StoreError::BudgetExhausted { .. }));
        assert!(over_budget(over(CREATES_PER_HOUR, true)).to_string().contains("cached streams still play"));
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
