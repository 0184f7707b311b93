//! The `chillstreams` auth plugin: swaps a Chillstreams user UUID (`auth` in the store entry)
//! for a pooled TorBox key from the Chillstreams internal API, enforcing its answer (device
//! limits, inactive users). The pool key is injected server-side and never logged.
//!
//! Depends on chillproxy-core only (its upstream kit is the HTTP client).

mod breaker;
mod client;

use std::sync::Arc;
use std::time::Duration;

use chillproxy_core::cache::FlightCache;
use chillproxy_core::registry::check_config;
use chillproxy_core::upstream::{check_base_url, UpstreamDefaults, UpstreamSettings};
use chillproxy_core::{
    async_trait, AuthOutcome, AuthPlugin, AuthPresentation, AuthProvider, AuthPurpose, AuthRequest, ConfigError,
    Credential, DenyReason, EntryField, EnvVar, PluginConfig, PluginContext, PluginSettings, Secret, SharedState,
    UsageError, UsageRecord, UsageTag,
};
use serde::{Deserialize, Serialize};

pub use breaker::{Breaker, BreakerState};
pub use client::{ChillstreamsClient, GetKeyError, KeyAnswer, UsageReport};

pub const NAME: &str = "chillstreams";
pub const ENABLE_ENV: &str = "ENABLE_CHILLSTREAMS_AUTH";
pub const API_URL_ENV: &str = "CHILLSTREAMS_API_URL";
pub const API_KEY_ENV: &str = "CHILLSTREAMS_API_KEY";

/// `[auth.chillstreams]`. No `deny_unknown_fields`: serde does not support it next to
/// `flatten`; [`PluginSettings::parse`] rejects unknown keys instead.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ChillstreamsConfig {
    /// Base URL of the Chillstreams server. Env `CHILLSTREAMS_API_URL` beats it.
    pub api_url: String,
    /// The internal API key. Prefer env `CHILLSTREAMS_API_KEY`, which beats it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    /// `timeout_ms` (budget for one get-key call, connect to last byte), `connect_timeout_ms`,
    /// `max_in_flight` (calls to Chillstreams at once), `max_body_bytes`, `proxy_url`.
    #[serde(flatten, deserialize_with = "UpstreamSettings::with_defaults::<_, ChillstreamsUpstream>")]
    pub upstream: UpstreamSettings,
    /// How long a granted pool key is reused for the same (user, device).
    pub key_ttl_s: u64,
    /// How long a denial is remembered for the same (user, device). Failures are never cached.
    pub deny_ttl_s: u64,
    /// Consecutive failures that open the circuit breaker.
    pub breaker_failures: u32,
    /// How long the breaker stays open (answering "unavailable" at once) before one probe.
    pub breaker_open_s: u64,
    /// Most (user, device) answers kept in memory.
    pub cache_entries: usize,
    /// When Chillstreams fails (timeout, 5xx, unreadable reply, breaker open), a key granted to
    /// the same (user, device) at most this long ago is used. 0 turns it off. A denial always
    /// stands, and a key the store rejects is forgotten.
    pub stale_if_error_s: u64,
    /// The code of the store whose keys Chillstreams pools (its API has no store field: a pool
    /// is one store's keys). Entries for other stores ignore `auth`.
    pub store: String,
    /// Pool keys may be spent on the next episode, prepared in the background (`[playback]
    /// prepare_next`). Off by default: a pool key's new downloads are every user's.
    pub prepare_next: bool,
}

impl Default for ChillstreamsConfig {
    /// Every default, as an empty `[auth.chillstreams]` table (and no environment) gives.
    fn default() -> Self {
        Self {
            api_url: "http://localhost:3000".to_string(),
            api_key: None,
            upstream: UpstreamSettings::defaults::<ChillstreamsUpstream>(),
            key_ttl_s: 300,
            deny_ttl_s: 30,
            breaker_failures: 5,
            breaker_open_s: 15,
            cache_entries: 100_000,
            stale_if_error_s: 3600,
            store: POOLED_STORE_CODE.to_string(),
            prepare_next: false,
        }
    }
}

/// Chillstreams' upstream defaults: 5 s per call, 64 calls in flight, 1 MiB replies (its
/// answers are a few hundred bytes).
pub struct ChillstreamsUpstream;

impl UpstreamDefaults for ChillstreamsUpstream {
    const TIMEOUT_MS: u64 = 5000;
    const MAX_IN_FLIGHT: usize = 64;
    const MAX_BODY_BYTES: usize = 1024 * 1024;
}

impl ChillstreamsConfig {
    /// Reads the table, applies the environment and checks the values. A missing API key is
    /// not an error here (a disabled plugin needs none); [`build`] checks it.
    pub fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        let mut config: Self = settings.parse()?;
        if let Some(url) = settings.env.get(API_URL_ENV) {
            config.api_url = url.trim().to_string();
        }
        if let Some(key) = settings.env.get(API_KEY_ENV) {
            config.api_key = Some(Secret::new(key.trim()));
        }
        config.api_url = check_base_url(&settings.section, "api_url", &config.api_url)?.as_str().to_string();
        config.upstream.check(settings, 100..=60_000)?;
        if config.breaker_failures == 0 || config.upstream.max_in_flight == 0 || config.cache_entries == 0 {
            return Err(ConfigError::new(format!(
                "[{}] breaker_failures, max_in_flight and cache_entries must be at least 1",
                settings.section
            )));
        }
        if config.key_ttl_s > 86_400 || config.deny_ttl_s > 86_400 || config.breaker_open_s > 3_600 {
            return Err(ConfigError::new(format!(
                "[{}] key_ttl_s and deny_ttl_s must be at most 86400, breaker_open_s at most 3600",
                settings.section
            )));
        }
        settings.check_range("stale_if_error_s", config.stale_if_error_s, 0..=604_800)?;
        config.store = config.store.trim().to_string();
        // Checked against the linked store plugins (a crate built alone links none).
        let codes: Vec<&str> = chillproxy_core::registry::stores()?.iter().map(|s| s.code).collect();
        if !codes.is_empty() && !codes.contains(&config.store.as_str()) {
            return Err(ConfigError::new(format!(
                "[{}] store {:?} is not the code of a registered store; available: {}",
                settings.section,
                config.store,
                codes.join(", ")
            )));
        }
        Ok(config)
    }
}

impl PluginConfig for ChillstreamsConfig {
    fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        ChillstreamsConfig::from_settings(settings)
    }
}

fn build(context: &PluginContext<'_>) -> Result<Arc<dyn AuthProvider>, ConfigError> {
    let settings = context.settings;
    let config = ChillstreamsConfig::from_settings(settings)?;
    let api_key = config.api_key.clone().filter(|k| !k.is_empty()).ok_or_else(|| {
        ConfigError::new(format!(
            "chillstreams auth is enabled but has no API key: set {API_KEY_ENV} (or api_key in [{}]), \
             or disable it with {ENABLE_ENV}=false",
            settings.section
        ))
    })?;
    let api_url = check_base_url(&settings.section, "api_url", &config.api_url)?;
    let tracker = context.health.tracker(chillproxy_core::health::Kind::Auth, NAME);
    let client = ChillstreamsClient::new(api_url, api_key, &config.upstream, tracker.clone())
        .map_err(|e| ConfigError::new(format!("[{}] {e}", settings.section)))?;
    let auth = Arc::new(ChillstreamsAuth {
        client,
        answers: FlightCache::new(config.cache_entries),
        shared: context.shared.clone(),
        last_grants: FlightCache::new(config.cache_entries),
        breaker: Breaker::new(config.breaker_failures, Duration::from_secs(config.breaker_open_s))
            .reporting_to(tracker),
        key_ttl: Duration::from_secs(config.key_ttl_s),
        deny_ttl: Duration::from_secs(config.deny_ttl_s),
        stale_if_error: Duration::from_secs(config.stale_if_error_s),
        stale_grants: chillproxy_core::metrics::counter(STALE_GRANTS, STALE_GRANTS_HELP, &[("provider", NAME)]),
        store: config.store.clone(),
        prepare_next: config.prepare_next,
    });
    register_metrics(&auth);
    Ok(auth)
}

/// `chillproxy_breaker_open{plugin="chillstreams"}` (0 closed, 0.5 half-open, 1 open) and the
/// answer cache's `chillproxy_cache_{hits,misses}_total{cache="chillstreams_answers"}`, read at
/// render time for as long as this instance lives.
fn register_metrics(auth: &Arc<ChillstreamsAuth>) {
    use chillproxy_core::metrics;
    let weak = Arc::downgrade(auth);
    metrics::register_gauge_fn(
        metrics::BREAKER_OPEN,
        "Circuit breaker state by plugin: 0 closed, 0.5 half-open (one probe allowed), 1 open.",
        &[("plugin", NAME)],
        Arc::new(move || {
            weak.upgrade().map(|auth| match auth.breaker.state() {
                BreakerState::Closed => 0.0,
                BreakerState::HalfOpen => 0.5,
                BreakerState::Open => 1.0,
            })
        }),
    );
    let labels = [("cache", "chillstreams_answers")];
    let weak = Arc::downgrade(auth);
    metrics::register_counter_fn(
        metrics::CACHE_HITS,
        metrics::CACHE_HITS_HELP,
        &labels,
        Arc::new(move || {
            weak.upgrade().map(|auth| {
                let stats = auth.answers.stats();
                (stats.hits + stats.shared) as f64
            })
        }),
    );
    let weak = Arc::downgrade(auth);
    metrics::register_counter_fn(
        metrics::CACHE_MISSES,
        metrics::CACHE_MISSES_HELP,
        &labels,
        Arc::new(move || weak.upgrade().map(|auth| auth.answers.stats().misses as f64)),
    );
}

/// How logs name a Chillstreams user: the first 12 hex digits of the id's SHA-256. The id is a
/// bearer credential for a pool slot, so it never reaches a log; the reference still lets an
/// operator follow one user's lines.
fn user_ref(user_id: &str) -> String {
    chillproxy_core::secret::fingerprint(user_id.as_bytes())[..12].to_string()
}

chillproxy_core::inventory::submit! {
    AuthPlugin {
        name: NAME,
        summary: "pooled TorBox keys from the Chillstreams internal API (`auth` = user UUID)",
        enable_env: Some(ENABLE_ENV),
        enabled_by_default: false,
        env: &[
            EnvVar { name: API_URL_ENV, help: "Chillstreams base URL" },
            EnvVar { name: API_KEY_ENV, help: "Chillstreams internal API key" },
        ],
        check: check_config::<ChillstreamsConfig>,
        build,
    }
}

/// Answers are cached per (user id, device id).
type AnswerKey = (String, String);

/// `chillproxy_auth_stale_grants_total{provider}`: Chillstreams failed and a key it granted the
/// same (user, device) earlier was used.
pub const STALE_GRANTS: &str = chillproxy_core::metrics::AUTH_STALE_GRANTS;
const STALE_GRANTS_HELP: &str =
    "Requests served with a key granted earlier to the same user and device because the provider failed, by provider.";

/// The last key Chillstreams granted one (user, device), kept for `stale_if_error`.
#[derive(Clone)]
struct LastGrant {
    pool_key: Secret,
    pool_key_id: String,
    granted: std::time::Instant,
}

pub struct ChillstreamsAuth {
    client: ChillstreamsClient,
    /// Grants for `key_ttl`, denials for `deny_ttl`; concurrent misses share one call.
    answers: FlightCache<AnswerKey, KeyAnswer, GetKeyError>,
    /// Denials are shared with the other replicas for `deny_ttl` (under fingerprints of the
    /// user and device, with Chillstreams' message); grants, which carry the pool key, never are.
    shared: SharedState,
    /// The last grant per (user, device), for `stale_if_error` from when it was granted;
    /// removed by a denial and by a rejected key. Kept in this process only: pool keys never go
    /// to the shared tier.
    last_grants: FlightCache<AnswerKey, LastGrant, ()>,
    breaker: Breaker,
    key_ttl: Duration,
    deny_ttl: Duration,
    stale_if_error: Duration,
    stale_grants: chillproxy_core::metrics::Counter,
    prepare_next: bool,
    /// The store code whose keys the pool holds (`[auth.chillstreams] store`).
    store: String,
}

impl ChillstreamsAuth {
    pub fn client(&self) -> &ChillstreamsClient {
        &self.client
    }

    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// The cached answer for (user, device), else one get-key call shared by everyone asking
    /// for it now, unless the breaker is open.
    async fn answer(&self, user_id: &str, device_id: &str, hash: &str) -> Result<KeyAnswer, GetKeyError> {
        let key = (user_id.to_string(), device_id.to_string());
        if let Some(answer) = self.answers.get(&key) {
            return Ok(answer);
        }
        let denial = denial_key(user_id, device_id);
        if let Some(message) = self.shared.tier().get(&denial).await.and_then(|m| String::from_utf8(m).ok()) {
            // Another replica was denied this within deny_ttl: not kept here (its life is
            // the shared entry's), so the next request reads it again.
            return Ok(KeyAnswer::Denied { message });
        }
        if !self.breaker.allow() {
            return Err(GetKeyError::CircuitOpen {
                failures: self.breaker.threshold(),
                open_s: self.breaker.open_for().as_secs(),
            });
        }
        let (client, breaker) = (self.client.clone(), self.breaker.clone());
        let (last_grants, stale_if_error) = (self.last_grants.clone(), self.stale_if_error);
        let (user_id, device_id, hash) = (user_id.to_string(), device_id.to_string(), hash.to_string());
        let (key_ttl, deny_ttl, shared) = (self.key_ttl, self.deny_ttl, self.shared.clone());
        let ttl = move |result: &Result<KeyAnswer, GetKeyError>| match result {
            Ok(KeyAnswer::Granted { .. }) => Some(key_ttl),
            Ok(KeyAnswer::Denied { .. }) => Some(deny_ttl),
            Err(_) => None,
        };
        self.answers
            .get_or_load(key.clone(), ttl, move || async move {
                let result = client.get_key(&user_id, &device_id, &hash).await;
                match &result {
                    Ok(_) => breaker.record_success(),
                    Err(_) => breaker.record_failure(),
                }
                // Recorded by the flight itself, so an answer whose callers all hung up counts.
                match &result {
                    Ok(KeyAnswer::Granted { pool_key, pool_key_id, .. }) if !stale_if_error.is_zero() => {
                        let grant = LastGrant {
                            pool_key: pool_key.clone(),
                            pool_key_id: pool_key_id.clone(),
                            granted: std::time::Instant::now(),
                        };
                        last_grants.insert(key, grant, stale_if_error);
                    }
                    Ok(KeyAnswer::Denied { .. }) => last_grants.remove(&key),
                    _ => {}
                }
                match &result {
                    Ok(KeyAnswer::Denied { message }) if !deny_ttl.is_zero() => {
                        shared.tier().put(&denial, message.clone().into_bytes(), deny_ttl).await;
                    }
                    Ok(KeyAnswer::Granted { .. }) => shared.tier().delete(&denial).await,
                    _ => {}
                }
                result
            })
            .await
    }

    /// The key granted to (user, device) within `stale_if_error`, for when Chillstreams fails.
    fn last_grant(&self, user_id: &str, device_id: &str) -> Option<LastGrant> {
        if self.stale_if_error.is_zero() {
            return None;
        }
        self.last_grants
            .get(&(user_id.to_string(), device_id.to_string()))
            .filter(|grant| grant.granted.elapsed() < self.stale_if_error)
    }
}

/// `cp:v1:deny:chillstreams:<user fingerprint>:<device fingerprint>`.
fn denial_key(user_id: &str, device_id: &str) -> String {
    let (user, device) = (
        chillproxy_core::secret::fingerprint(user_id.as_bytes()),
        chillproxy_core::secret::fingerprint(device_id.as_bytes()),
    );
    SharedState::key("deny", &[NAME, &user, &device])
}

/// `auth` must be a hyphenated UUID; it is sent to Chillstreams in canonical lowercase form.
fn parse_user_id(auth: &str) -> Option<String> {
    if auth.len() != 36 {
        return None;
    }
    uuid::Uuid::try_parse(auth).ok().map(|u| u.hyphenated().to_string())
}

pub const INVALID_UUID: &str = "invalid auth format, expected UUID";

/// The service as users know it.
pub const DISPLAY_NAME: &str = "Chillstreams";

/// How the configure page and messages present this provider.
const PRESENTATION: AuthPresentation = AuthPresentation {
    display_name: DISPLAY_NAME,
    credential_label: "The Chillstreams credential",
    entry_field: Some(EntryField {
        key: "auth",
        label: "Chillstreams user id",
        hint: "Chillstreams members: enter your Chillstreams user id instead of a token; the TorBox key is provided \
               for you and never shown. With both, Chillstreams is tried first, then your token.",
        unused_note: "Your Chillstreams user id was not used for it; your own API token was.",
    }),
};

/// What a Chillstreams denial is about. Its API answers `allowed: false` with a message and no
/// code; the messages it documents name the device limit or an inactive account.
fn deny_reason(message: &str) -> DenyReason {
    let lower = message.to_ascii_lowercase();
    if lower.contains("device") {
        DenyReason::DeviceLimit { devices: None }
    } else if lower.contains("inactive") || lower.contains("subscription") || lower.contains("expired") {
        DenyReason::Inactive
    } else {
        DenyReason::Other
    }
}

/// The store whose keys Chillstreams pools unless `[auth.chillstreams] store` says otherwise.
pub const POOLED_STORE_CODE: &str = "tb";

#[async_trait]
impl AuthProvider for ChillstreamsAuth {
    fn name(&self) -> &'static str {
        NAME
    }

    fn presentation(&self) -> AuthPresentation {
        PRESENTATION
    }

    fn allows_background_adds(&self) -> bool {
        self.prepare_next
    }

    async fn authorize(&self, request: &AuthRequest<'_>) -> AuthOutcome {
        // Pool keys are one store's keys: for other stores `auth` means nothing.
        if request.entry.c != self.store {
            return AuthOutcome::NotApplicable;
        }
        let Some(auth) = request.entry.auth() else {
            return AuthOutcome::NotApplicable;
        };
        let Some(user_id) = parse_user_id(auth) else {
            return AuthOutcome::Denied { reason: DenyReason::Other, message: INVALID_UUID.to_string() };
        };
        let hash = match &request.purpose {
            AuthPurpose::Playback { hash } => hash.as_str(),
            AuthPurpose::StreamList | AuthPurpose::Configure => "",
        };
        match self.answer(&user_id, request.device.as_str(), hash).await {
            Ok(client::KeyAnswer::Granted { pool_key, pool_key_id, device_count }) => {
                tracing::info!(user = %user_ref(&user_id), device = ?request.device, device_count, "chillstreams granted a pool key");
                AuthOutcome::Granted(Credential {
                    key: pool_key,
                    provider: NAME,
                    usage: Some(UsageTag { user_id, pool_key_id }),
                })
            }
            Ok(client::KeyAnswer::Denied { message }) => {
                tracing::info!(user = %user_ref(&user_id), device = ?request.device, reason = %message, "chillstreams denied access");
                AuthOutcome::Denied { reason: deny_reason(&message), message }
            }
            Err(error) => match self.last_grant(&user_id, request.device.as_str()) {
                Some(grant) => {
                    self.stale_grants.inc();
                    tracing::warn!(
                        user = %user_ref(&user_id),
                        device = ?request.device,
                        error = %error,
                        granted_s_ago = grant.granted.elapsed().as_secs(),
                        "chillstreams get-key failed; using the key it granted this device earlier"
                    );
                    AuthOutcome::Granted(Credential {
                        key: grant.pool_key,
                        provider: NAME,
                        usage: Some(UsageTag { user_id, pool_key_id: grant.pool_key_id }),
                    })
                }
                None => {
                    tracing::warn!(user = %user_ref(&user_id), error = %error, "chillstreams get-key failed");
                    AuthOutcome::Failed { message: error.to_string() }
                }
            },
        }
    }

    async fn invalidate(&self, request: &AuthRequest<'_>) -> bool {
        let Some(user_id) = request.entry.auth().and_then(parse_user_id) else { return false };
        tracing::info!(user = %user_ref(&user_id), "forgetting a pool key the store rejected");
        let key = (user_id, request.device.as_str().to_string());
        self.answers.remove(&key);
        self.last_grants.remove(&key);
        true
    }

    async fn deliver_usage(&self, record: &UsageRecord) -> Result<(), UsageError> {
        let report = UsageReport {
            event_id: record.event_id.clone(),
            user_id: record.user_id.clone(),
            pool_key_id: record.pool_key_id.clone(),
            action: "stream-served".to_string(),
            hash: record.hash.clone(),
            cached: record.cached,
            bytes: record.bytes,
        };
        match self.client.log_usage(&report).await {
            Ok(()) => Ok(()),
            // A rejected record stays rejected; anything else may work later.
            Err(GetKeyError::Status(status)) if (400..500).contains(&status) && status != 408 && status != 429 => {
                Err(UsageError { retryable: false, message: format!("chillstreams rejected it (HTTP {status})") })
            }
            Err(GetKeyError::Status(status)) => {
                Err(UsageError { retryable: true, message: format!("chillstreams answered HTTP {status}") })
            }
            Err(error) => Err(UsageError { retryable: true, message: error.to_string() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_must_be_a_hyphenated_uuid() {
        assert_eq!(
            parse_user_id("550E8400-E29B-41D4-A716-446655440000").as_deref(),
            Some("550e8400-e29b-41d4-a716-446655440000")
        );
        assert!(parse_user_id("550e8400e29b41d4a716446655440000").is_none());
        assert!(parse_user_id("not-a-uuid").is_none());
        assert!(parse_user_id("{550e8400-e29b-41d4-a716-4466554400}").is_none());
    }

    #[test]
    fn env_beats_file_and_key_is_redacted() {
        let table: toml::Table = toml::from_str("api_url = 'http://file:1'\napi_key = 'filekey'").unwrap();
        let env = chillproxy_core::Env::from_pairs([(API_URL_ENV, "http://env:2/"), (API_KEY_ENV, "envkey")]);
        let settings = PluginSettings::new("auth.chillstreams", table, env);
        let config = ChillstreamsConfig::from_settings(&settings).unwrap();
        assert_eq!(config.api_url, "http://env:2");
        assert_eq!(config.api_key.as_ref().unwrap().expose(), "envkey");
        let shown = check_config::<ChillstreamsConfig>(&settings).unwrap().to_string();
        assert!(!shown.contains("envkey") && shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn stale_if_error_defaults_to_an_hour_and_is_bounded() {
        let parse = |text: &str| {
            let table: toml::Table = toml::from_str(text).unwrap();
            ChillstreamsConfig::from_settings(&PluginSettings::new("auth.chillstreams", table, Default::default()))
        };
        assert_eq!(parse("").unwrap().stale_if_error_s, 3600);
        assert_eq!(parse("stale_if_error_s = 0").unwrap().stale_if_error_s, 0);
        let err = parse("stale_if_error_s = 9999999").err().unwrap();
        assert!(err.0.contains("stale_if_error_s must be between 0 and 604800"), "{err}");
    }

    #[test]
    fn enabled_without_key_is_an_error_that_says_so() {
        let settings = PluginSettings::new("auth.chillstreams", toml::Table::new(), chillproxy_core::Env::default());
        let err = build(&PluginContext::new(&settings)).err().unwrap();
        assert!(err.0.contains("no API key") && err.0.contains(API_KEY_ENV), "{err}");
    }

    #[test]
    fn an_empty_table_gives_the_default_config() {
        let settings = PluginSettings::new("auth.chillstreams", toml::Table::new(), chillproxy_core::Env::default());
        let config = ChillstreamsConfig::from_settings(&settings).unwrap();
        assert_eq!((config.api_url.as_str(), config.store.as_str()), ("http://localhost:3000", POOLED_STORE_CODE));
        assert_eq!(
            (config.key_ttl_s, config.deny_ttl_s, config.breaker_failures, config.breaker_open_s),
            (300, 30, 5, 15)
        );
        assert_eq!((config.cache_entries, config.stale_if_error_s, config.upstream.timeout_ms), (100_000, 3600, 5000));
        let effective = chillproxy_core::settings::effective_table;
        assert_eq!(effective(&ChillstreamsConfig::default()), effective(&config));
    }
}
