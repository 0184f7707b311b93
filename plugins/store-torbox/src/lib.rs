//! The `torbox` store plugin (code `tb`): TorBox's REST API (`/v1/api/...`), with its
//! `{success,error,detail,data}` envelope and error codes mapped to typed store errors.
//! The credential travels per call; the client holds no key. Depends on chillproxy-core only.

mod client;
mod error;
mod store;

use std::sync::Arc;

use chillproxy_core::{
    check_config, ConfigError, PluginConfig, PluginContext, PluginSettings, StoreCapabilities, StorePlugin,
    StoreProvider,
};
use serde::{Deserialize, Serialize};

pub use client::DEFAULT_MAX_BODY_BYTES;
pub use store::TorBoxStore;

/// The reply interpreter (envelope → `data` or a typed error, `key` scrubbed from messages),
/// for the fuzz targets and property tests only; not a stable API.
#[doc(hidden)]
pub fn fuzz_interpret_reply(
    status: u16,
    content_type: &str,
    body: &[u8],
    key: &str,
) -> Result<serde_json::Value, chillproxy_core::StoreError> {
    client::interpret(status, None, content_type, body, key)
}

pub const NAME: &str = "torbox";
pub const CODE: &str = "tb";

/// `[store.torbox]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TorBoxConfig {
    /// Base URL of the TorBox API.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// Budget for one API call.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// API calls in flight at once, across all users.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Largest reply body read from TorBox, in bytes.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
}

pub use chillproxy_core::settings::MAX_BODY_BYTES_RANGE;

fn default_max_body_bytes() -> usize {
    client::DEFAULT_MAX_BODY_BYTES
}

fn default_max_in_flight() -> usize {
    64
}

fn default_api_url() -> String {
    "https://api.torbox.app".to_string()
}

fn default_timeout_ms() -> u64 {
    15_000
}

impl TorBoxConfig {
    pub fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        let mut config: Self = settings.parse()?;
        config.api_url = config.api_url.trim().trim_end_matches('/').to_string();
        reqwest::Url::parse(&config.api_url).map_err(|e| {
            ConfigError::new(format!("[{}] api_url {:?} is not a URL: {e}", settings.section, config.api_url))
        })?;
        settings.check_range("timeout_ms", config.timeout_ms, 100..=120_000)?;
        settings.check_range("max_body_bytes", config.max_body_bytes, MAX_BODY_BYTES_RANGE)?;
        Ok(config)
    }
}

impl PluginConfig for TorBoxConfig {
    fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        TorBoxConfig::from_settings(settings)
    }
}

fn build(context: &PluginContext<'_>) -> Result<Arc<dyn StoreProvider>, ConfigError> {
    let settings = context.settings;
    let config = TorBoxConfig::from_settings(settings)?;
    TorBoxStore::new(&config)
        .map(|s| Arc::new(s) as Arc<dyn StoreProvider>)
        .map_err(|e| ConfigError::new(format!("[{}] cannot build the HTTP client: {e}", settings.section)))
}

chillproxy_core::inventory::submit! {
    StorePlugin {
        name: NAME,
        code: CODE,
        display_name: "TorBox",
        summary: "TorBox (api.torbox.app)",
        capabilities: StoreCapabilities::EXACT,
        token_help: "Your API key is under Settings → API on torbox.app.",
        env: &[],
        check: check_config::<TorBoxConfig>,
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chillproxy_core::Env;

    fn settings(toml_text: &str) -> PluginSettings {
        PluginSettings::new("store.torbox", toml::from_str(toml_text).unwrap(), Env::default())
    }

    #[test]
    fn max_body_bytes_defaults_to_2_mib_and_is_bounded() {
        assert_eq!(TorBoxConfig::from_settings(&settings("")).unwrap().max_body_bytes, 2 * 1024 * 1024);
        assert_eq!(TorBoxConfig::from_settings(&settings("max_body_bytes = 4096")).unwrap().max_body_bytes, 4096);
        for bad in ["max_body_bytes = 1023", "max_body_bytes = 67108865", "max_body_bytes = 0"] {
            let err = TorBoxConfig::from_settings(&settings(bad)).unwrap_err();
            assert!(err.0.contains("[store.torbox] max_body_bytes must be between 1024 and 67108864"), "{err}");
        }
        assert!(check_config::<TorBoxConfig>(&settings("")).unwrap().contains_key("max_body_bytes"));
    }
}
