//! The HTTP side of the RealDebrid API: the per-call Bearer token over the upstream kit, the
//! token's budget (250 calls a minute, refused ones included), and replies read into JSON or a
//! typed [`StoreError`] from RealDebrid's `{"error", "error_code"}` body. Neither the token
//! nor a URL reaches an error or a log line.

use std::time::Duration;

use chillproxy_core::health::Health;
use chillproxy_core::upstream::{clean_text, BudgetedUpstream, CallPolicy, Method, Spend};
use chillproxy_core::{ConfigError, OverBudget, Secret, SharedState, StoreError, StoreErrorKind, Window};
use serde_json::Value;

use crate::RealDebridConfig;

/// The store name shown in errors.
pub(crate) const STORE: &str = crate::IDENTITY.display_name;

const REQUESTS: &str = "requests_per_minute";

/// A call over budget may wait up to 2 s for the minute to turn; any "too many requests"
/// (HTTP 429, `error_code` 5 or 34) holds the token back, 60 s when it names no `Retry-After`.
const POLICY: CallPolicy = CallPolicy { credential: "API token", ..CallPolicy::new(over_budget) };

#[derive(Clone)]
pub(crate) struct Client {
    calls: BudgetedUpstream,
    requests: Window,
}

impl Client {
    pub(crate) fn new(config: &RealDebridConfig, shared: SharedState, health: &Health) -> Result<Self, ConfigError> {
        Ok(Self {
            calls: BudgetedUpstream::new(&crate::IDENTITY, &config.api_url, &config.upstream, shared, health, POLICY)?,
            requests: Window::per_minute(REQUESTS, config.requests_per_minute),
        })
    }

    /// Calls `endpoint` (a fixed name, logged and counted) at `path` (which may carry an id),
    /// with the token as a Bearer token, after spending one of the token's calls. 204 is
    /// `Value::Null`.
    pub(crate) async fn call(
        &self,
        key: &Secret,
        method: Method,
        endpoint: &'static str,
        path: &str,
        query: &[(&str, &str)],
        form: Option<&[(&str, &str)]>,
    ) -> Result<Value, StoreError> {
        let mut request = self.calls.request(method, endpoint, path).bearer(key).accept("application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
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
        "RealDebrid asked to slow down for this token",
        "RealDebrid's limit of 250 requests a minute for this token is reached",
    )
}

/// A reply as JSON, or the typed error its status and `error_code` stand for.
pub(crate) fn interpret(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    key: &str,
) -> Result<Value, StoreError> {
    let json = serde_json::from_slice::<Value>(body).ok();
    if (200..300).contains(&status) {
        return match json {
            Some(value) => Ok(value),
            None if body.iter().all(u8::is_ascii_whitespace) => Ok(Value::Null),
            None => Err(StoreError::Upstream { store: STORE, message: "the reply could not be read".into() }),
        };
    }
    let code = json.as_ref().and_then(|v| v.get("error_code")).and_then(Value::as_i64);
    let name = json.as_ref().and_then(|v| v.get("error")).and_then(Value::as_str).map(|e| clean_text(e, key));
    let (kind, sentence) = match code {
        Some(code) => of_code(code),
        None => (StoreErrorKind::of_status(status), None),
    };
    let kind = if status == 429 { StoreErrorKind::RateLimited } else { kind };
    let kind = if status == 451 { StoreErrorKind::Refused } else { kind };
    let detail = match (&name, code) {
        (Some(name), Some(code)) => format!("{name}, error_code {code}"),
        (Some(name), None) => name.clone(),
        (None, Some(code)) => format!("error_code {code}"),
        (None, None) => format!("HTTP {status}"),
    };
    let message = match sentence {
        Some(sentence) => format!("{sentence} ({detail})"),
        None => detail,
    };
    Err(StoreError::of(kind, STORE, message, retry_after))
}

/// Every documented `error_code`: its kind and, where RealDebrid's name reads badly, a sentence.
pub(crate) fn of_code(code: i64) -> (StoreErrorKind, Option<&'static str>) {
    use StoreErrorKind::*;
    match code {
        -1 => (Unavailable, Some("RealDebrid had an internal error")),
        1 | 2 => (BadRequest, Some("a parameter is missing or wrong")),
        3 | 4 => (BadRequest, Some("the method is not allowed")),
        5 | 34 => (RateLimited, Some("too many requests for this token")),
        6 => (Unavailable, Some("the resource is unreachable")),
        7 => (NotFound, Some("the torrent is not in the account")),
        8 => (Unauthorized, Some("the API token is invalid or expired")),
        9 => (PaymentRequired, Some("permission denied (is the account premium?)")),
        10 | 11 => (Unauthorized, Some("the account needs two-factor authentication")),
        12 | 13 => (Unauthorized, Some("the login is invalid")),
        14 | 15 => (Unauthorized, Some("the account is locked or not activated")),
        16..=19 => (Unavailable, Some("the hoster is unavailable; try again later")),
        20 => (PaymentRequired, Some("this needs a premium account")),
        21 => (LimitExceeded, Some("the account has too many active downloads; cached streams still play")),
        22 => (BadRequest, Some("RealDebrid does not allow this IP address")),
        23 => (LimitExceeded, Some("the account's traffic is used up")),
        24 => (DownloadFailed, Some("the file is unavailable")),
        25 => (Unavailable, Some("the service is unavailable")),
        26..=28 | 30 | 32 => (DownloadFailed, Some("the torrent is not accepted")),
        29 => (DownloadFailed, Some("the torrent is too big")),
        31 | 33 => (BadRequest, Some("the torrent is already active")),
        35 => (Refused, Some("its content filter blocks it")),
        36 => (LimitExceeded, Some("the account's fair-usage limit is reached")),
        37 => (Unavailable, Some("the endpoint is disabled")),
        _ => (Upstream, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_map_to_what_the_user_needs() {
        let e = interpret(451, None, br#"{"error":"infringing_file","error_code":35}"#, "k").unwrap_err();
        assert_eq!(
            e.to_string(),
            "RealDebrid refuses this release: its content filter blocks it (infringing_file, error_code 35)"
        );
        let e = interpret(401, None, br#"{"error":"bad_token","error_code":8}"#, "k").unwrap_err();
        assert!(matches!(e, StoreError::Unauthorized { .. }), "{e:?}");
        let e = interpret(429, Some(Duration::from_secs(7)), br#"{"error":"too_many_requests","error_code":34}"#, "k")
            .unwrap_err();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        let e = interpret(503, None, b"<html>down</html>", "k").unwrap_err();
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
        for (code, kind) in [
            (21, StoreErrorKind::LimitExceeded),
            (23, StoreErrorKind::LimitExceeded),
            (36, StoreErrorKind::LimitExceeded),
            (9, StoreErrorKind::PaymentRequired),
            (7, StoreErrorKind::NotFound),
        ] {
            assert_eq!(of_code(code).0, kind, "{code}");
        }
        let e =
            interpret(403, None, br#"{"error":"token sekrit-key is bad","error_code":8}"#, "sekrit-key").unwrap_err();
        assert!(!e.to_string().contains("sekrit-key"), "{e}");
        assert_eq!(interpret(204, None, b"", "k").unwrap(), Value::Null);
    }
}
