//! The `realdebrid` store plugin (code `rd`): RealDebrid's REST API (`/rest/1.0`), Bearer token,
//! its `{error, error_code}` replies mapped to typed store errors. RealDebrid has no cache check
//! any more (`instantAvailability` was removed in November 2024), so the plugin is
//! [`StoreCapabilities::HISTORY_ONLY`]: `check_cached` answers from the user's own library
//! (torrents `downloaded`), and the host's availability memory says the rest. Depends on
//! chillproxy-core only.

mod client;
mod store;

use std::sync::Arc;

use chillproxy_core::upstream::{check_base_url, UpstreamDefaults, UpstreamSettings};
use chillproxy_core::{
    check_config, ConfigError, PluginConfig, PluginContext, PluginSettings, StoreCapabilities, StoreIdentity,
    StorePlugin, StoreProvider,
};
use serde::{Deserialize, Serialize};

pub use store::RealDebridStore;

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

/// Who this store is: the descriptor below and [`RealDebridStore`]'s `identity()` both read it.
pub const IDENTITY: StoreIdentity = StoreIdentity {
    name: "realdebrid",
    code: "rd",
    display_name: "RealDebrid",
    capabilities: StoreCapabilities::HISTORY_ONLY,
};
pub const NAME: &str = IDENTITY.name;
pub const CODE: &str = IDENTITY.code;
/// The plugin's table in `plugins.toml`.
pub const SECTION: &str = "store.realdebrid";

/// `[store.realdebrid]`. No `deny_unknown_fields` (it sits next to `flatten`);
/// [`PluginSettings::parse`] rejects unknown keys instead.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct RealDebridConfig {
    /// Base URL of the RealDebrid API, `/rest/1.0` included.
    pub api_url: String,
    /// `timeout_ms`, `connect_timeout_ms`, `max_in_flight`, `max_body_bytes`, `proxy_url`.
    #[serde(flatten, deserialize_with = "UpstreamSettings::with_defaults::<_, RealDebridUpstream>")]
    pub upstream: UpstreamSettings,
    /// Calls a minute per API token (RealDebrid's limit: 250, refused calls included). 0 turns
    /// it off.
    pub requests_per_minute: u64,
    /// How long a token's torrent list (its library: what is `downloaded` counts as cached for
    /// that user) is reused.
    pub library_ttl_s: u64,
    /// Torrents chillproxy added for a play that have not finished this long after are deleted
    /// from the account, so it does not fill with leftovers. Checked on the token's next use
    /// (when its library is read again). 0 keeps them.
    pub cleanup_after_s: u64,
}

impl Default for RealDebridConfig {
    fn default() -> Self {
        Self {
            api_url: "https://api.real-debrid.com/rest/1.0".to_string(),
            upstream: UpstreamSettings::defaults::<RealDebridUpstream>(),
            requests_per_minute: 250,
            library_ttl_s: 300,
            cleanup_after_s: 3 * 3600,
        }
    }
}

/// RealDebrid's upstream defaults: 15 s per call, 64 calls in flight, 4 MiB replies (a
/// library of 1000 torrents).
pub struct RealDebridUpstream;

impl UpstreamDefaults for RealDebridUpstream {
    const TIMEOUT_MS: u64 = 15_000;
    const MAX_IN_FLIGHT: usize = 64;
    const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
}

impl PluginConfig for RealDebridConfig {
    fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        let mut config: Self = settings.parse()?;
        config.api_url = check_base_url(&settings.section, "api_url", &config.api_url)?.as_str().to_string();
        config.upstream.check(settings, 100..=120_000)?;
        settings.check_range("requests_per_minute", config.requests_per_minute, 0..=100_000)?;
        settings.check_range("library_ttl_s", config.library_ttl_s, 0..=3_600)?;
        settings.check_range("cleanup_after_s", config.cleanup_after_s, 0..=30 * 86_400)?;
        Ok(config)
    }
}

fn build(context: &PluginContext<'_>) -> Result<Arc<dyn StoreProvider>, ConfigError> {
    let config = RealDebridConfig::from_settings(context.settings)?;
    Ok(Arc::new(RealDebridStore::new(&config, context.shared.clone(), &context.health)?))
}

chillproxy_core::inventory::submit! {
    StorePlugin {
        name: IDENTITY.name,
        code: IDENTITY.code,
        display_name: IDENTITY.display_name,
        summary: "RealDebrid (api.real-debrid.com); cached = resolved before or in your own library",
        capabilities: IDENTITY.capabilities,
        token_help: "Your private API token is at real-debrid.com/apitoken.",
        env: &[],
        check: check_config::<RealDebridConfig>,
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chillproxy_core::settings::effective_table;
    use chillproxy_core::Env;

    fn settings(toml_text: &str) -> PluginSettings {
        PluginSettings::new(SECTION, toml::from_str(toml_text).unwrap(), Env::default())
    }

    #[test]
    fn defaults_follow_realdebrids_limits_and_bad_keys_are_named() {
        let config = RealDebridConfig::from_settings(&settings("")).unwrap();
        assert_eq!(config.requests_per_minute, 250);
        assert_eq!(config.api_url, "https://api.real-debrid.com/rest/1.0");
        let err = RealDebridConfig::from_settings(&settings("library_ttl_s = 7200")).unwrap_err();
        assert!(err.0.contains("library_ttl_s"), "{err}");
        let err = RealDebridConfig::from_settings(&settings("nope = 1")).unwrap_err();
        assert!(err.0.contains("nope"), "{err}");
    }

    #[test]
    fn an_empty_table_gives_the_default_config() {
        let config = RealDebridConfig::from_settings(&settings("")).unwrap();
        assert_eq!((config.library_ttl_s, config.cleanup_after_s), (300, 3 * 3600));
        assert_eq!(config.upstream.max_body_bytes, 4 * 1024 * 1024);
        assert_eq!(effective_table(&RealDebridConfig::default()), effective_table(&config));
    }
}
