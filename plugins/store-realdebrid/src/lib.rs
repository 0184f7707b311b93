//! The `realdebrid` store plugin (code `rd`) — a **stub**: it is registered so that configs
//! naming `rd` get a clear "RealDebrid support is not available yet" answer, and every
//! operation returns `StoreError::NotImplemented`. Depends on chillproxy-core only.

use std::sync::Arc;

use chillproxy_core::settings::effective_table;
use chillproxy_core::store::NotImplementedStore;
use chillproxy_core::{ConfigError, PluginSettings, StorePlugin, StoreProvider};
use serde::{Deserialize, Serialize};

/// `[store.realdebrid]`: accepted now so operators can prepare their config.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RealDebridStubConfig {
    api_url: Option<String>,
}

fn check(settings: &PluginSettings) -> Result<toml::Table, ConfigError> {
    settings.parse::<RealDebridStubConfig>().map(|c| effective_table(&c))
}

fn build(settings: &PluginSettings) -> Result<Arc<dyn StoreProvider>, ConfigError> {
    settings.parse::<RealDebridStubConfig>()?;
    Ok(Arc::new(NotImplementedStore { name: "realdebrid", code: "rd", display_name: "RealDebrid" }))
}

chillproxy_core::inventory::submit! {
    StorePlugin {
        name: "realdebrid",
        code: "rd",
        display_name: "RealDebrid",
        summary: "RealDebrid (stub: not implemented yet)",
        check,
        build,
    }
}
