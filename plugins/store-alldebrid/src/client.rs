//! The HTTP side of the AllDebrid API: the per-call Bearer key and `agent` parameter over the
//! upstream kit, the key's budget (600 calls a minute), and the `{status, data | error{code,
//! message}}` envelope read into `data` or a typed [`StoreError`]. Neither the key nor a URL
//! reaches an error or a log line.

use std::time::Duration;

use chillproxy_core::health::Health;
use chillproxy_core::upstream::{clean_text, BudgetedUpstream, CallPolicy, Method, Spend};
use chillproxy_core::{ConfigError, OverBudget, Secret, SharedState, StoreError, StoreErrorKind, Window};
use serde_json::Value;

use crate::AllDebridConfig;

/// The store name shown in errors.
pub(crate) const STORE: &str = crate::IDENTITY.display_name;

const REQUESTS: &str = "requests_per_minute";
/// A call over budget may wait up to 2 s for the minute to turn; a "too many requests" holds
/// the key back, 60 s when it names no `Retry-After`.
const POLICY: CallPolicy = CallPolicy::new(over_budget);

#[derive(Clone)]
pub(crate) struct Client {
    calls: BudgetedUpstream,
    requests: Window,
    agent: String,
}

impl Client {
    pub(crate) fn new(config: &AllDebridConfig, shared: SharedState, health: &Health) -> Result<Self, ConfigError> {
        Ok(Self {
            calls: BudgetedUpstream::new(&crate::IDENTITY, &config.api_url, &config.upstream, shared, health, POLICY)?,
            requests: Window::per_minute(REQUESTS, config.requests_per_minute),
            agent: config.agent.trim().to_string(),
        })
    }

    /// Calls `endpoint` (`magnet/status`, the path under the base URL) and returns the
    /// envelope's `data`, after spending one of the key's calls.
    pub(crate) async fn call(
        &self,
        key: &Secret,
        method: Method,
        endpoint: &'static str,
        query: &[(&str, &str)],
        form: Option<&[(&str, &str)]>,
    ) -> Result<Value, StoreError> {
        let path = format!("/{endpoint}");
        let mut query = query.to_vec();
        query.push(("agent", self.agent.as_str()));
        let mut request =
            self.calls.request(method, endpoint, &path).bearer(key).accept("application/json").query(&query);
        if let Some(form) = form {
            request = request.form(form);
        }
        self.calls
            .call(key, Spend::one(&self.requests), request, |reply| {
                let raw = reply.map_err(|e| StoreError::from_transport(STORE, e, key.expose()))?;
                interpret(raw.status.as_u16(), raw.retry_after, &raw.body, key.expose())
            })
            .await
    }
}

fn over_budget(over: OverBudget) -> StoreError {
    over.into_store_error(
        STORE,
        "AllDebrid asked to slow down for this key",
        "AllDebrid's limit of 600 requests a minute for this key is reached",
    )
}

/// The envelope's `data`, or the typed error its `error.code` (else the HTTP status) stands for.
pub(crate) fn interpret(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    key: &str,
) -> Result<Value, StoreError> {
    let json = serde_json::from_slice::<Value>(body).ok();
    let envelope_status = json.as_ref().and_then(|v| v.get("status")).and_then(Value::as_str);
    if (200..300).contains(&status) && envelope_status == Some("success") {
        return Ok(json.and_then(|mut v| v.get_mut("data").map(Value::take)).unwrap_or(Value::Null));
    }
    let error = json.as_ref().and_then(|v| v.get("error"));
    let code = error.and_then(|e| e.get("code")).and_then(Value::as_str).map(|c| clean_text(c, key));
    let message = error.and_then(|e| e.get("message")).and_then(Value::as_str).map(|m| clean_text(m, key));
    if status == 429 {
        let message = message.unwrap_or_else(|| "too many requests".into());
        return Err(StoreError::RateLimited { store: STORE, retry_after, message });
    }
    Err(match code.as_deref() {
        Some(code) => error_of_code(code, message, retry_after),
        None if (200..300).contains(&status) => {
            StoreError::Upstream { store: STORE, message: "the reply could not be read".into() }
        }
        None => StoreError::of(StoreErrorKind::of_status(status), STORE, format!("HTTP {status}"), retry_after),
    })
}

/// The error for one AllDebrid error code (also used for per-magnet errors in upload replies).
pub(crate) fn error_of_code(code: &str, message: Option<String>, retry_after: Option<Duration>) -> StoreError {
    let (kind, sentence) = of_code(code);
    let code = clean_text(code, "");
    let text = match (sentence, message) {
        (Some(sentence), _) => format!("{sentence} ({code})"),
        (None, Some(message)) => format!("{message} ({code})"),
        (None, None) => code,
    };
    StoreError::of(kind, STORE, text, retry_after)
}

/// Every documented code that matters: its kind and, where AllDebrid's text is not what the
/// user should read, a sentence.
pub(crate) fn of_code(code: &str) -> (StoreErrorKind, Option<&'static str>) {
    use StoreErrorKind::*;
    match code {
        "AUTH_MISSING_APIKEY" | "AUTH_BAD_APIKEY" => (Unauthorized, Some("the API key is missing or wrong")),
        "AUTH_USER_BANNED" => (Unauthorized, Some("the account is banned")),
        "AUTH_BLOCKED" => (
            BadRequest,
            Some("the key is blocked for this server's address: approve this server in the e-mail AllDebrid sent you"),
        ),
        "AUTH_MISSING_AGENT" | "AUTH_BAD_AGENT" => (BadRequest, Some("the agent parameter was refused")),
        "NO_SERVER" => (
            BadRequest,
            Some("AllDebrid refuses requests from servers: set [store.alldebrid] proxy_url to a proxy with a residential address"),
        ),
        "MUST_BE_PREMIUM" | "MAGNET_MUST_BE_PREMIUM" => (PaymentRequired, Some("this needs a premium account")),
        "FREE_TRIAL_LIMIT_REACHED" => (PaymentRequired, Some("the free trial's limit is reached")),
        "MAGNET_TOO_MANY_ACTIVE" => {
            (LimitExceeded, Some("the account has too many active downloads; cached streams still play"))
        }
        "MAGNET_TOO_MANY" => (LimitExceeded, Some("the account holds too many magnets; delete some")),
        "MAGNET_INVALID_ID" | "DELAYED_INVALID_ID" => (NotFound, Some("the magnet is not in the account")),
        "MAGNET_INVALID_URI" | "MAGNET_INVALID_FILE" => (Refused, Some("it is not a valid torrent")),
        "MAGNET_NO_URI" | "LINK_IS_MISSING" => (BadRequest, None),
        "MAGNET_PROCESSING_FAILED" | "MAGNET_CANT_BOOTSTRAP" | "MAGNET_UPLOAD_FAILED" | "MAGNET_FILE_UPLOAD_FAILED" => {
            (DownloadFailed, Some("AllDebrid could not process the torrent"))
        }
        "LINK_DOWN" | "LINK_PASS_PROTECTED" | "LINK_NOT_SUPPORTED" | "LINK_HOST_NOT_SUPPORTED" => {
            (DownloadFailed, Some("the file's link does not work"))
        }
        "LINK_HOST_UNAVAILABLE" | "LINK_HOST_FULL" | "LINK_TEMPORARY_UNAVAILABLE" | "MAINTENANCE" => {
            (Unavailable, Some("AllDebrid cannot serve the file right now; try again later"))
        }
        "LINK_TOO_MANY_DOWNLOADS" | "LINK_HOST_LIMIT_REACHED" => {
            (LimitExceeded, Some("the account's download limit for now is reached"))
        }
        _ => (Upstream, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_and_its_codes_are_read() {
        let data = interpret(200, None, br#"{"status":"success","data":{"x":1}}"#, "k").unwrap();
        assert_eq!(data["x"], 1);
        let e = interpret(200, None, br#"{"status":"error","error":{"code":"NO_SERVER","message":"Servers are not allowed to use this feature"}}"#, "k").unwrap_err();
        assert!(e.to_string().contains("proxy_url"), "{e}");
        let e = interpret(
            401,
            None,
            br#"{"status":"error","error":{"code":"AUTH_BAD_APIKEY","message":"The auth apikey is invalid"}}"#,
            "k",
        )
        .unwrap_err();
        assert!(matches!(e, StoreError::Unauthorized { .. }), "{e:?}");
        let e = interpret(200, None, br#"{"status":"error","error":{"code":"AUTH_BLOCKED","message":"blocked"}}"#, "k")
            .unwrap_err();
        assert!(e.to_string().contains("approve this server in the e-mail AllDebrid sent you"), "{e}");
        let e = interpret(429, Some(Duration::from_secs(4)), b"", "k").unwrap_err();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(4)));
        let e = interpret(500, None, b"oops", "k").unwrap_err();
        assert!(matches!(e, StoreError::Upstream { .. } | StoreError::Unavailable { .. }), "{e:?}");
        let e = interpret(
            200,
            None,
            br#"{"status":"error","error":{"code":"GENERIC","message":"key sekrit bad"}}"#,
            "sekrit",
        )
        .unwrap_err();
        assert!(!e.to_string().contains("sekrit"), "{e}");
    }
}
