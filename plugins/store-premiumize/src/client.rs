//! The HTTP side of the Premiumize API: the key as the `apikey` query parameter (the only way
//! Premiumize takes it), the key's budget, and the `{status: "success" | "error", message}`
//! replies read into JSON or a typed [`StoreError`]. The URL is never logged and the key is
//! scrubbed from every error text, transport errors included.

use std::time::Duration;

use chillproxy_core::health::Health;
use chillproxy_core::upstream::{clean_text, BudgetedUpstream, CallPolicy, Method, Spend};
use chillproxy_core::{ConfigError, OverBudget, Secret, SharedState, StoreError, StoreErrorKind, Window};
use serde_json::Value;

use crate::PremiumizeConfig;

pub(crate) const STORE: &str = crate::IDENTITY.display_name;

const REQUESTS: &str = "requests_per_minute";
/// A call over budget may wait up to 2 s for the minute to turn; a "too many requests" holds
/// the key back, 60 s when it names no `Retry-After`.
const POLICY: CallPolicy = CallPolicy::new(over_budget);

/// The text Premiumize answers `directdl` with for an item that is not cached.
pub(crate) const NOT_IN_CACHE: &str = "content not in cache";

#[derive(Clone)]
pub(crate) struct Client {
    calls: BudgetedUpstream,
    requests: Window,
}

impl Client {
    pub(crate) fn new(config: &PremiumizeConfig, shared: SharedState, health: &Health) -> Result<Self, ConfigError> {
        Ok(Self {
            calls: BudgetedUpstream::new(&crate::IDENTITY, &config.api_url, &config.upstream, shared, health, POLICY)?,
            requests: Window::per_minute(REQUESTS, config.requests_per_minute),
        })
    }

    /// Calls `endpoint` (`cache/check`, the path under the base URL) with the key as `apikey`.
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
        query.push(("apikey", key.expose()));
        // `secret`: the key is in the URL, so it is scrubbed from any transport error's text.
        let mut request =
            self.calls.request(method, endpoint, &path).secret(key).accept("application/json").query(&query);
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
        "Premiumize asked to slow down for this key",
        "the limit of requests a minute for this Premiumize key is reached",
    )
}

/// The reply, or the typed error its `message` (else its HTTP status) stands for.
pub(crate) fn interpret(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    key: &str,
) -> Result<Value, StoreError> {
    let json = serde_json::from_slice::<Value>(body).ok();
    let ok = json.as_ref().and_then(|v| v.get("status")).and_then(Value::as_str) == Some("success");
    if (200..300).contains(&status) && ok {
        return json
            .ok_or_else(|| StoreError::Upstream { store: STORE, message: "the reply could not be read".into() });
    }
    let message = json.as_ref().and_then(|v| v.get("message")).and_then(Value::as_str).map(|m| clean_text(m, key));
    if status == 429 {
        let message = message.unwrap_or_else(|| "too many requests".into());
        return Err(StoreError::RateLimited { store: STORE, retry_after, message });
    }
    let Some(message) = message else {
        let kind =
            if (200..300).contains(&status) { StoreErrorKind::Upstream } else { StoreErrorKind::of_status(status) };
        let message = if (200..300).contains(&status) {
            "the reply could not be read".to_string()
        } else {
            format!("HTTP {status}")
        };
        return Err(StoreError::of(kind, STORE, message, retry_after));
    };
    let lower = message.to_ascii_lowercase();
    let kind =
        if lower.contains("not logged in") || lower.contains("apikey") || lower.contains("api key") || status == 401 {
            StoreErrorKind::Unauthorized
        } else if lower.contains("premium") {
            StoreErrorKind::PaymentRequired
        } else if lower.contains("fair use") || lower.contains("limit") {
            StoreErrorKind::LimitExceeded
        } else if lower.contains(NOT_IN_CACHE) || lower.contains("not found") {
            StoreErrorKind::NotFound
        } else if (200..300).contains(&status) {
            StoreErrorKind::BadRequest
        } else {
            StoreErrorKind::of_status(status)
        };
    Err(StoreError::of(kind, STORE, message, retry_after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_map_to_typed_errors_without_the_key() {
        assert!(interpret(200, None, br#"{"status":"success","response":[true]}"#, "k").is_ok());
        let e = interpret(200, None, br#"{"status":"error","message":"Not logged in."}"#, "k").unwrap_err();
        assert!(matches!(e, StoreError::Unauthorized { .. }), "{e:?}");
        let e = interpret(200, None, br#"{"status":"error","message":"Fair use limit reached"}"#, "k").unwrap_err();
        assert!(matches!(e, StoreError::LimitExceeded { .. }), "{e:?}");
        let e = interpret(429, Some(Duration::from_secs(3)), b"", "k").unwrap_err();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        let e = interpret(502, None, b"<html>", "k").unwrap_err();
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
        let e = interpret(200, None, br#"{"status":"error","message":"apikey pm-sekrit invalid"}"#, "pm-sekrit")
            .unwrap_err();
        assert!(!e.to_string().contains("pm-sekrit"), "{e}");
    }
}
