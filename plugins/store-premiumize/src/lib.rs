//! The `premiumize` store plugin (code `pm`): Premiumize's API (`/api`), with a real bulk cache
//! check (`/cache/check`), `/transfer/directdl` for cached items and `/transfer/create` for the
//! rest. Premiumize takes the key only as the `apikey` **query parameter**, so it is in every
//! URL sent: the plugin logs endpoint names only, and the key is scrubbed from every error
//! text. Depends on chillproxy-core only.

mod client;
mod store;

use std::sync::Arc;

use chillproxy_core::upstream::{check_base_url, UpstreamDefaults, UpstreamSettings};
use chillproxy_core::{
    check_config, ConfigError, PluginConfig, PluginContext, PluginSettings, StoreCapabilities, StoreIdentity,
    StorePlugin, StoreProvider,
};
use serde::{Deserialize, Serialize};

pub use store::PremiumizeStore;

/// The reply interpreter (a reply → JSON or a typed error, `key` scrubbed from messages), for
/// the property tests and fuzzing only; not a stable API.
#[doc(hidden)]
pub fn fuzz_interpret_reply(
    status: u16,
    body: &[u8],
    key: &str,
) -> Result<serde_json::Value, chillproxy_core::StoreError> {
    client::interpret(status, None, body, key)
}

/// Who this store is: the descriptor below and [`PremiumizeStore`]'s `identity()` both read it.
pub const IDENTITY: StoreIdentity = StoreIdentity {
    name: "premiumize",
    code: "pm",
    display_name: "Premiumize",
    capabilities: StoreCapabilities::EXACT_WITHOUT_FILES,
};
pub const NAME: &str = IDENTITY.name;
pub const CODE: &str = IDENTITY.code;
/// The plugin's table in `plugins.toml`.
pub const SECTION: &str = "store.premiumize";

/// `[store.premiumize]`. No `deny_unknown_fields` (it sits next to `flatten`);
/// [`PluginSettings::parse`] rejects unknown keys instead.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct PremiumizeConfig {
    /// Base URL of the Premiumize API, `/api` included.
    pub api_url: String,
    /// `timeout_ms`, `connect_timeout_ms`, `max_in_flight`, `max_body_bytes`, `proxy_url`.
    #[serde(flatten, deserialize_with = "UpstreamSettings::with_defaults::<_, PremiumizeUpstream>")]
    pub upstream: UpstreamSettings,
    /// Calls a minute per API key (Premiumize publishes no number; this keeps a key polite).
    /// 0 turns it off.
    pub requests_per_minute: u64,
}

impl Default for PremiumizeConfig {
    fn default() -> Self {
        Self {
            api_url: "https://www.premiumize.me/api".to_string(),
            upstream: UpstreamSettings::defaults::<PremiumizeUpstream>(),
            requests_per_minute: 300,
        }
    }
}

/// Premiumize's upstream defaults: 15 s per call, 64 calls in flight, 4 MiB replies.
pub struct PremiumizeUpstream;

impl UpstreamDefaults for PremiumizeUpstream {
    const TIMEOUT_MS: u64 = 15_000;
    const MAX_IN_FLIGHT: usize = 64;
    const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
}

impl PluginConfig for PremiumizeConfig {
    fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        let mut config: Self = settings.parse()?;
        config.api_url = check_base_url(&settings.section, "api_url", &config.api_url)?.as_str().to_string();
        config.upstream.check(settings, 100..=120_000)?;
        settings.check_range("requests_per_minute", config.requests_per_minute, 0..=100_000)?;
        Ok(config)
    }
}

fn build(context: &PluginContext<'_>) -> Result<Arc<dyn StoreProvider>, ConfigError> {
    let config = PremiumizeConfig::from_settings(context.settings)?;
    Ok(Arc::new(PremiumizeStore::new(&config, context.shared.clone(), &context.health)?))
}

chillproxy_core::inventory::submit! {
    StorePlugin {
        name: IDENTITY.name,
        code: IDENTITY.code,
        display_name: IDENTITY.display_name,
        summary: "Premiumize (www.premiumize.me)",
        capabilities: IDENTITY.capabilities,
        token_help: "Your API key is on premiumize.me/account.",
        env: &[],
        check: check_config::<PremiumizeConfig>,
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chillproxy_core::settings::effective_table;
    use chillproxy_core::Env;

    #[test]
    fn defaults_and_unknown_keys() {
        let settings = |t: &str| PluginSettings::new(SECTION, toml::from_str(t).unwrap(), Env::default());
        let config = PremiumizeConfig::from_settings(&settings("")).unwrap();
        assert_eq!(config.api_url, "https://www.premiumize.me/api");
        let err = PremiumizeConfig::from_settings(&settings("apikey = 'x'")).unwrap_err();
        assert!(err.0.contains("apikey"), "{err}");
    }

    #[test]
    fn an_empty_table_gives_the_default_config() {
        let config = PremiumizeConfig::from_settings(&PluginSettings::new(SECTION, Default::default(), Env::default()));
        let config = config.unwrap();
        assert_eq!(config.requests_per_minute, 300);
        assert_eq!(effective_table(&PremiumizeConfig::default()), effective_table(&config));
    }
}
