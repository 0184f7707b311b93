//! The `alldebrid` store plugin (code `ad`): AllDebrid's v4.1 API, Bearer key plus the `agent`
//! parameter, the `{status, data | error{code, message}}` envelope and its error codes mapped to
//! typed store errors. AllDebrid removed `magnet/instant`, so the plugin is
//! [`StoreCapabilities::HISTORY_ONLY`]: `check_cached` answers from the user's ready magnets,
//! and the host's availability memory says the rest. AllDebrid refuses magnet uploads from
//! datacenter addresses (`NO_SERVER`): `proxy_url` sends every call through another egress.
//! Depends on chillproxy-core only.

mod client;
mod store;

use std::sync::Arc;

use chillproxy_core::upstream::{check_base_url, UpstreamDefaults, UpstreamSettings};
use chillproxy_core::{
    check_config, ConfigError, PluginConfig, PluginContext, PluginSettings, StoreCapabilities, StoreIdentity,
    StorePlugin, StoreProvider,
};
use serde::{Deserialize, Serialize};

pub use store::AllDebridStore;

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

/// Who this store is: the descriptor below and [`AllDebridStore`]'s `identity()` both read it.
pub const IDENTITY: StoreIdentity = StoreIdentity {
    name: "alldebrid",
    code: "ad",
    display_name: "AllDebrid",
    capabilities: StoreCapabilities::HISTORY_ONLY,
};
pub const NAME: &str = IDENTITY.name;
pub const CODE: &str = IDENTITY.code;
/// The plugin's table in `plugins.toml`.
pub const SECTION: &str = "store.alldebrid";

/// `[store.alldebrid]`. No `deny_unknown_fields` (it sits next to `flatten`);
/// [`PluginSettings::parse`] rejects unknown keys instead.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct AllDebridConfig {
    /// Base URL of the AllDebrid API, version included.
    pub api_url: String,
    /// The `agent` parameter sent with every call (AllDebrid asks apps to name themselves).
    pub agent: String,
    /// `timeout_ms`, `connect_timeout_ms`, `max_in_flight`, `max_body_bytes`, and `proxy_url`:
    /// AllDebrid refuses magnet uploads from servers (`NO_SERVER`), so a host in a datacenter
    /// needs a proxy with a residential address here.
    #[serde(flatten, deserialize_with = "UpstreamSettings::with_defaults::<_, AllDebridUpstream>")]
    pub upstream: UpstreamSettings,
    /// Calls a minute per API key (AllDebrid's limit: 600). 0 turns it off.
    pub requests_per_minute: u64,
    /// How long a key's ready magnets (what counts as cached for that user) are reused.
    pub library_ttl_s: u64,
}

impl Default for AllDebridConfig {
    fn default() -> Self {
        Self {
            api_url: "https://api.alldebrid.com/v4.1".to_string(),
            agent: "chillproxy".to_string(),
            upstream: UpstreamSettings::defaults::<AllDebridUpstream>(),
            requests_per_minute: 600,
            library_ttl_s: 300,
        }
    }
}

/// AllDebrid's upstream defaults: 15 s per call, 64 calls in flight, 4 MiB replies.
pub struct AllDebridUpstream;

impl UpstreamDefaults for AllDebridUpstream {
    const TIMEOUT_MS: u64 = 15_000;
    const MAX_IN_FLIGHT: usize = 64;
    const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
}

impl PluginConfig for AllDebridConfig {
    fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        let mut config: Self = settings.parse()?;
        config.api_url = check_base_url(&settings.section, "api_url", &config.api_url)?.as_str().to_string();
        config.upstream.check(settings, 100..=120_000)?;
        settings.check_range("requests_per_minute", config.requests_per_minute, 0..=100_000)?;
        settings.check_range("library_ttl_s", config.library_ttl_s, 0..=3_600)?;
        if config.agent.trim().is_empty() || !config.agent.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::new(format!("[{}] agent must be a non-empty word", settings.section)));
        }
        Ok(config)
    }
}

fn build(context: &PluginContext<'_>) -> Result<Arc<dyn StoreProvider>, ConfigError> {
    let config = AllDebridConfig::from_settings(context.settings)?;
    Ok(Arc::new(AllDebridStore::new(&config, context.shared.clone(), &context.health)?))
}

chillproxy_core::inventory::submit! {
    StorePlugin {
        name: IDENTITY.name,
        code: IDENTITY.code,
        display_name: IDENTITY.display_name,
        summary: "AllDebrid (api.alldebrid.com); cached = resolved before or in your own library",
        capabilities: IDENTITY.capabilities,
        token_help: "Create an API key at alldebrid.com/apikeys.",
        env: &[],
        check: check_config::<AllDebridConfig>,
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
    fn defaults_follow_alldebrids_limits_and_bad_values_are_named() {
        let config = AllDebridConfig::from_settings(&settings("")).unwrap();
        assert_eq!((config.requests_per_minute, config.agent.as_str()), (600, "chillproxy"));
        let config = AllDebridConfig::from_settings(&settings("proxy_url = 'http://home.lan:3128'")).unwrap();
        assert_eq!(config.upstream.proxy(), Some("http://home.lan:3128"));
        let err = AllDebridConfig::from_settings(&settings("agent = ''")).unwrap_err();
        assert!(err.0.contains("agent"), "{err}");
    }

    #[test]
    fn an_empty_table_gives_the_default_config() {
        let config = AllDebridConfig::from_settings(&settings("")).unwrap();
        assert_eq!((config.api_url.as_str(), config.library_ttl_s), ("https://api.alldebrid.com/v4.1", 300));
        assert_eq!(effective_table(&AllDebridConfig::default()), effective_table(&config));
    }
}
