//! The `torbox` store plugin (code `tb`): TorBox's REST API (`/v1/api/...`), with its
//! `{success,error,detail,data}` envelope and error codes mapped to typed store errors.
//! The credential travels per call; the client holds no key. Depends on chillproxy-core only.

mod client;
mod error;
mod store;

use std::sync::Arc;

use chillproxy_core::settings::effective_table;
use chillproxy_core::{ConfigError, PluginSettings, StorePlugin, StoreProvider};
use serde::{Deserialize, Serialize};

pub use store::TorBoxStore;

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
        if !(100..=120_000).contains(&config.timeout_ms) {
            return Err(ConfigError::new(format!(
                "[{}] timeout_ms must be between 100 and 120000, got {}",
                settings.section, config.timeout_ms
            )));
        }
        Ok(config)
    }
}

fn check(settings: &PluginSettings) -> Result<toml::Table, ConfigError> {
    TorBoxConfig::from_settings(settings).map(|c| effective_table(&c))
}

fn build(settings: &PluginSettings) -> Result<Arc<dyn StoreProvider>, ConfigError> {
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
        check,
        build,
    }
}
