//! The HTTP side of the Premiumize API: the key as the `apikey` query parameter (the only way
//! Premiumize takes it), the key's budget, and the `{status: "success" | "error", message}`
//! replies read into JSON or a typed [`StoreError`]. The URL is never logged and the key is
//! scrubbed from every error text, transport errors included.

use std::time::{Duration, Instant};

use chillproxy_core::upstream::{check_base_url, clean_text, Method, Upstream, UpstreamOptions};
use chillproxy_core::{Budget, ConfigError, OverBudget, Secret, SharedState, StoreError, StoreErrorKind, Window};
use serde_json::Value;

use crate::PremiumizeConfig;

pub(crate) const STORE: &str = crate::IDENTITY.display_name;

const REQUESTS: &str = "requests_per_minute";
const BUDGET_WAIT: Duration = Duration::from_secs(2);
const DEFAULT_BLOCK: Duration = Duration::from_secs(60);

/// The text Premiumize answers `directdl` with for an item that is not cached.
pub(crate) const NOT_IN_CACHE: &str = "content not in cache";

#[derive(Clone)]
pub(crate) struct Client {
    upstream: Upstream,
    budget: Budget,
    requests: Window,
}

impl Client {
    pub(crate) fn new(config: &PremiumizeConfig, shared: SharedState) -> Result<Self, ConfigError> {
        let section = crate::SECTION;
        let api_url = check_base_url(section, "api_url", &config.api_url)?;
        let upstream = Upstream::new(crate::NAME, Some(api_url), &config.upstream, UpstreamOptions::default())
            .map_err(|e| ConfigError::new(format!("[{section}] {e}")))?;
        Ok(Self {
            upstream,
            budget: Budget::new(shared, crate::NAME, BUDGET_WAIT),
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
        if key.is_empty() {
            return Err(StoreError::Unauthorized { store: STORE, message: "no API key was given".into() });
        }
        self.budget.spend(key, &[self.requests]).await.map_err(over_budget)?;
        let started = Instant::now();
        let path = format!("/{endpoint}");
        let mut query = query.to_vec();
        query.push(("apikey", key.expose()));
        // `secret`: the key is in the URL, so it is scrubbed from any transport error's text.
        let mut request =
            self.upstream.request(method.clone(), endpoint, &path).secret(key).accept("application/json").query(&query);
        if let Some(form) = form {
            request = request.form(form);
        }
        let result = self
            .upstream
            .call(request, |reply| {
                let raw = reply.map_err(|e| StoreError::from_transport(STORE, e, key.expose()))?;
                let status = raw.status.as_u16();
                tracing::debug!(
                    store = STORE,
                    %method,
                    endpoint,
                    status,
                    bytes = raw.body.len(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "premiumize call"
                );
                interpret(status, raw.retry_after, &raw.body, key.expose())
            })
            .await;
        if let Err(error) = &result {
            tracing::debug!(store = STORE, endpoint, %error, "premiumize call failed");
            if let StoreError::RateLimited { retry_after, .. } = error {
                self.budget.block(key, REQUESTS, retry_after.unwrap_or(DEFAULT_BLOCK)).await;
            }
        }
        result
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
