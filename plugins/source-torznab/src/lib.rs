//! The `torznab` source plugin: queries Torznab indexers (Jackett, Prowlarr) by IMDb id and
//! parses their RSS. Operator indexers come from `[source.torznab]`, user indexers from the
//! config. Depends on chillproxy-core only.

use std::sync::Arc;

use chillproxy_core::settings::effective_table;
use chillproxy_core::{
    async_trait, Candidate, ConfigError, PluginSettings, Secret, SourceError, SourcePlugin, SourceProvider, SourceQuery,
};
use serde::{Deserialize, Serialize};

pub const NAME: &str = "torznab";

/// One operator-level indexer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IndexerConfig {
    pub name: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    /// Read the API key from this environment variable instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
}

/// `[source.torznab]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TorznabConfig {
    /// Budget for each indexer query.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub indexers: Vec<IndexerConfig>,
}

fn default_timeout_ms() -> u64 {
    10_000
}

impl TorznabConfig {
    pub fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        let config: Self = settings.parse()?;
        if !(100..=60_000).contains(&config.timeout_ms) {
            return Err(ConfigError::new(format!(
                "[{}] timeout_ms must be between 100 and 60000, got {}",
                settings.section, config.timeout_ms
            )));
        }
        for indexer in &config.indexers {
            reqwest::Url::parse(&indexer.url).map_err(|e| {
                ConfigError::new(format!("[{}] indexer {:?}: url is not a URL: {e}", settings.section, indexer.name))
            })?;
        }
        Ok(config)
    }
}

fn check(settings: &PluginSettings) -> Result<toml::Table, ConfigError> {
    TorznabConfig::from_settings(settings).map(|c| effective_table(&c))
}

fn build(settings: &PluginSettings) -> Result<Arc<dyn SourceProvider>, ConfigError> {
    let _config = TorznabConfig::from_settings(settings)?;
    Ok(Arc::new(TorznabSource))
}

chillproxy_core::inventory::submit! {
    SourcePlugin {
        name: NAME,
        summary: "Torznab indexers: Jackett, Prowlarr",
        check,
        build,
    }
}

/// Placeholder until the Torznab client lands (issue 3).
pub struct TorznabSource;

#[async_trait]
impl SourceProvider for TorznabSource {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn search(&self, _query: &SourceQuery<'_>) -> Result<Vec<Candidate>, SourceError> {
        Err(SourceError::Upstream { source_name: NAME.to_string(), message: "not implemented yet".to_string() })
    }
}
