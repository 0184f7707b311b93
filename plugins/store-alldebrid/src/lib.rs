//! The `alldebrid` store plugin (code `ad`) — a **stub**: it is registered so that configs
//! naming `ad` get a clear "AllDebrid support is not available yet" answer, and every
//! operation returns `StoreError::NotImplemented`. Depends on chillproxy-core only.

use std::sync::Arc;

use chillproxy_core::store::NotImplementedStore;
use chillproxy_core::{
    check_config, ConfigError, PluginConfig, PluginContext, PluginSettings, StoreCapabilities, StorePlugin,
    StoreProvider,
};
use serde::{Deserialize, Serialize};

/// `[store.alldebrid]`: accepted now so operators can prepare their config.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AllDebridStubConfig {
    api_url: Option<String>,
}

impl PluginConfig for AllDebridStubConfig {
    fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        settings.parse()
    }
}

fn build(context: &PluginContext<'_>) -> Result<Arc<dyn StoreProvider>, ConfigError> {
    AllDebridStubConfig::from_settings(context.settings)?;
    Ok(Arc::new(NotImplementedStore { name: "alldebrid", code: "ad", display_name: "AllDebrid" }))
}

chillproxy_core::inventory::submit! {
    StorePlugin {
        name: "alldebrid",
        code: "ad",
        display_name: "AllDebrid",
        summary: "AllDebrid (stub: not implemented yet)",
        capabilities: StoreCapabilities::STUB,
        token_help: "",
        env: &[],
        check: check_config::<AllDebridStubConfig>,
        build,
    }
}
