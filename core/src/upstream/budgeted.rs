//! [`BudgetedUpstream`]: a store plugin's API calls, each one spending from the caller's key's
//! request budgets ([`Budget`]) before it is sent. Written once for every store: the plugin keeps
//! only how it sends the key (a Bearer header, an `apikey` parameter, ...), its envelope and its
//! error codes, handed over as the request and the reply interpreter.
//!
//! One call: no key is `Unauthorized` at once; then one unit of each [`Spend`] window is spent
//! (over budget: the call is not sent, and the plugin's [`CallPolicy::over_budget`] words the
//! refusal); then the request goes through [`Upstream::call`] and the plugin's interpreter; a
//! "too many requests" answer ([`BlockOn`]) holds the key's calls on the spend's blocked window
//! back for the answer's `Retry-After` ([`CallPolicy::default_block`] when it names none).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};

use super::client::{Reply, Request, Upstream, UpstreamOptions};
use super::errors::UpstreamError;
use super::settings::UpstreamSettings;
use super::text::check_base_url;
use crate::budget::{Budget, OverBudget, Window};
use crate::health::{Health, Kind};
use crate::{ConfigError, Secret, SharedState, StoreError, StoreIdentity};

/// Which answers hold the key's calls back ([`Budget::block`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockOn {
    /// Replies with HTTP 429 only: for a store whose error codes also say "rate limited" about
    /// one operation without limiting the key (TorBox's `COOLDOWN_LIMIT` on new downloads).
    TooManyRequests,
    /// Any [`StoreError::RateLimited`] the interpreter returns: an HTTP 429, or an error code
    /// that says the key is sending too much.
    RateLimited,
}

/// What differs between stores' budgeted calls, besides the request and the interpreter.
#[derive(Debug, Clone, Copy)]
pub struct CallPolicy {
    /// What the credential is called in "no API key was given" (`API key`, `API token`).
    pub credential: &'static str,
    /// How long a call over a budget may wait for its window to turn before it fails.
    pub budget_wait: Duration,
    /// How long the key's calls are held back after a "too many requests" that names no
    /// `Retry-After`.
    pub default_block: Duration,
    /// Which answers hold the key's calls back.
    pub block_on: BlockOn,
    /// Log lines name a call by its path (never its query: TorBox's `/v1/api/torrents/mylist`)
    /// instead of its endpoint name (`torrents/mylist`, what the metrics say).
    pub log_path: bool,
    /// A call a budget refused, as the user reads it (which limit; whether the store asked for
    /// it): usually [`OverBudget::into_store_error`] with the store's two sentences.
    pub over_budget: fn(OverBudget) -> StoreError,
}

impl CallPolicy {
    /// An `API key`; a call over budget waits up to 2 s for its window; any
    /// [`StoreError::RateLimited`] holds the key back, 60 s when the store names no time.
    pub const fn new(over_budget: fn(OverBudget) -> StoreError) -> Self {
        Self {
            credential: "API key",
            budget_wait: Duration::from_secs(2),
            default_block: Duration::from_secs(60),
            block_on: BlockOn::RateLimited,
            log_path: false,
            over_budget,
        }
    }
}

/// What one call spends: one unit of each window, and the window a "too many requests" answer
/// blocks.
#[derive(Debug, Clone, Copy)]
pub struct Spend<'a> {
    pub windows: &'a [Window],
    /// [`Window::name`] of the window held back after a "too many requests".
    pub blocks: &'static str,
}

impl<'a> Spend<'a> {
    /// One window, which is also the one a "too many requests" blocks.
    pub fn one(window: &'a Window) -> Self {
        Self { windows: std::slice::from_ref(window), blocks: window.name }
    }
}

/// A store's API client with its keys' budgets. It holds no key: every call takes the caller's.
/// Redirects are not followed (an API reply is never one, and following one could carry the key
/// elsewhere). Cheap to clone.
#[derive(Debug, Clone)]
pub struct BudgetedUpstream {
    upstream: Upstream,
    budget: Budget,
    /// The display name, in errors and log lines.
    store: &'static str,
    /// The registry name: log lines say `<plugin> call`.
    plugin: &'static str,
    policy: CallPolicy,
}

impl BudgetedUpstream {
    /// The client of the store `identity` (its table `[store.<name>]`): calls go under
    /// `api_url` (checked, and named `api_url` in the error) with `settings`; the metrics and the
    /// budget keys are labelled with the store's name; the budgets are counted in `shared`. Calls
    /// and budget counts are reported to the store's tracker in `health`.
    pub fn new(
        identity: &StoreIdentity,
        api_url: &str,
        settings: &UpstreamSettings,
        shared: SharedState,
        health: &Health,
        policy: CallPolicy,
    ) -> Result<Self, ConfigError> {
        let section = format!("store.{}", identity.name);
        let api_url = check_base_url(&section, "api_url", api_url)?;
        let tracker = health.tracker(Kind::Store, identity.name);
        let options = UpstreamOptions { health: Some(tracker.clone()), ..UpstreamOptions::default() };
        let upstream = Upstream::new(identity.name, Some(api_url), settings, options)
            .map_err(|e| ConfigError::new(format!("[{section}] {e}")))?;
        Ok(Self {
            upstream,
            budget: Budget::new(shared, identity.name, policy.budget_wait).noting_in(tracker),
            store: identity.display_name,
            plugin: identity.name,
            policy,
        })
    }

    /// A request to `path` under the API URL, counted in the metrics as `endpoint` (and logged
    /// so, unless [`CallPolicy::log_path`]); the plugin adds its key, query and body, then sends
    /// it with [`Self::call`].
    /// The keys' budgets (to read what is left, [`Budget::left`]).
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    pub fn request(&self, method: Method, endpoint: &'static str, path: &str) -> Request<'_> {
        let mut request = self.upstream.request(method, endpoint, path);
        if self.policy.log_path {
            request.logged_as = path.split('?').next().map(str::to_string);
        }
        request
    }

    /// Sends `request` for `key` after spending `spend` from the key's budgets, and hands the
    /// reply (or why there is none) to `interpret`. A missing key is `Unauthorized` and a call
    /// over budget is refused ([`CallPolicy::over_budget`]); neither is sent. A "too many
    /// requests" answer ([`CallPolicy::block_on`]) blocks `spend.blocks` for the error's
    /// `retry_after`, else [`CallPolicy::default_block`].
    pub async fn call<T>(
        &self,
        key: &Secret,
        spend: Spend<'_>,
        request: Request<'_>,
        interpret: impl FnOnce(Result<Reply, UpstreamError>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let (store, plugin) = (self.store, self.plugin);
        if key.is_empty() {
            let message = format!("no {} was given", self.policy.credential);
            return Err(StoreError::Unauthorized { store, message });
        }
        self.budget.spend(key, spend.windows).await.map_err(self.policy.over_budget)?;
        let started = Instant::now();
        let mut request = request;
        let method = request.method.clone();
        let logged_as = request.logged_as.take();
        let endpoint = logged_as.as_deref().unwrap_or(request.endpoint);
        let mut replied = None;
        let result = self
            .upstream
            .call(request, |reply| {
                if let Ok(raw) = &reply {
                    replied = Some((raw.status, raw.body.len()));
                }
                interpret(reply)
            })
            .await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        if let Some((status, bytes)) = replied {
            let status = status.as_u16();
            tracing::debug!(store, %method, endpoint, status, bytes, elapsed_ms, "{plugin} call");
        }
        if let Err(error) = &result {
            tracing::debug!(store, %method, endpoint, elapsed_ms, %error, "{plugin} call failed");
        }
        let limited = match self.policy.block_on {
            BlockOn::TooManyRequests => replied.is_some_and(|(status, _)| status == StatusCode::TOO_MANY_REQUESTS),
            BlockOn::RateLimited => matches!(result, Err(StoreError::RateLimited { .. })),
        };
        if limited {
            let retry_after = result.as_ref().err().and_then(StoreError::retry_after);
            self.budget.block(key, spend.blocks, retry_after.unwrap_or(self.policy.default_block)).await;
        }
        result
    }
}
