//! The `realdebrid` store plugin (code `rd`) — a **stub**: it is registered so that configs
//! naming `rd` get a clear "RealDebrid support is not available yet" answer, and every
//! operation returns `StoreError::NotImplemented`. Depends on chillproxy-core only.

use std::sync::Arc;

use chillproxy_core::store::NotImplementedStore;
use chillproxy_core::{
    check_config, ConfigError, PluginConfig, PluginContext, PluginSettings, StoreCapabilities, StorePlugin,
    StoreProvider,
};
use serde::{Deserialize, Serialize};

/// `[store.realdebrid]`: accepted now so operators can prepare their config.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RealDebridStubConfig {
    api_url: Option<String>,
}

impl PluginConfig for RealDebridStubConfig {
    fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        settings.parse()
    }
}

fn build(context: &PluginContext<'_>) -> Result<Arc<dyn StoreProvider>, ConfigError> {
    RealDebridStubConfig::from_settings(context.settings)?;
    Ok(Arc::new(NotImplementedStore { name: "realdebrid", code: "rd", display_name: "RealDebrid" }))
}

chillproxy_core::inventory::submit! {
    StorePlugin {
        name: "realdebrid",
        code: "rd",
        display_name: "RealDebrid",
        summary: "RealDebrid (stub: not implemented yet)",
        capabilities: StoreCapabilities::STUB,
        token_help: "",
        env: &[],
        check: check_config::<RealDebridStubConfig>,
        build,
    }
}
