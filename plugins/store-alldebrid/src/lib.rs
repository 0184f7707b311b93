//! The `alldebrid` store plugin (code `ad`) — a **stub**: it is registered so that configs
//! naming `ad` get a clear "AllDebrid support is not available yet" answer, and every
//! operation returns `StoreError::NotImplemented`. Depends on chillproxy-core only.

use std::sync::Arc;

use chillproxy_core::settings::effective_table;
use chillproxy_core::store::NotImplementedStore;
use chillproxy_core::{ConfigError, PluginSettings, StorePlugin, StoreProvider};
use serde::{Deserialize, Serialize};

/// `[store.alldebrid]`: accepted now so operators can prepare their config.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AllDebridStubConfig {
    api_url: Option<String>,
}

fn check(settings: &PluginSettings) -> Result<toml::Table, ConfigError> {
    settings.parse::<AllDebridStubConfig>().map(|c| effective_table(&c))
}

fn build(settings: &PluginSettings) -> Result<Arc<dyn StoreProvider>, ConfigError> {
    settings.parse::<AllDebridStubConfig>()?;
    Ok(Arc::new(NotImplementedStore { name: "alldebrid", code: "ad", display_name: "AllDebrid" }))
}

chillproxy_core::inventory::submit! {
    StorePlugin {
        name: "alldebrid",
        code: "ad",
        display_name: "AllDebrid",
        summary: "AllDebrid (stub: not implemented yet)",
        check,
        build,
    }
}
