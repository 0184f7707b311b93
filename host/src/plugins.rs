//! Builds the plugins that `plugins.toml` enables, in its order.

use std::sync::Arc;

use chillproxy_core::{AuthChain, ConfigError, SourceProvider, StoreProvider};

use crate::config::Config;

/// The built plugins of one configuration.
pub struct Plugins {
    pub auth: AuthChain,
    /// Enabled stores, in the operator's order.
    pub stores: Vec<Arc<dyn StoreProvider>>,
    pub sources: Vec<Arc<dyn SourceProvider>>,
}

impl Plugins {
    pub fn build(config: &Config) -> Result<Self, ConfigError> {
        let mut auth = Vec::new();
        for descriptor in &config.auth.active {
            if let Some(state) = config.auth.state(descriptor.name) {
                auth.push((descriptor.build)(&state.settings)?);
            }
        }
        let mut stores = Vec::new();
        for descriptor in &config.store.active {
            if let Some(state) = config.store.state(descriptor.name) {
                stores.push((descriptor.build)(&state.settings)?);
            }
        }
        let mut sources = Vec::new();
        for descriptor in &config.source.active {
            if let Some(state) = config.source.state(descriptor.name) {
                sources.push((descriptor.build)(&state.settings)?);
            }
        }
        tracing::info!(
            auth = ?auth.iter().map(|p| p.name()).collect::<Vec<_>>(),
            stores = ?stores.iter().map(|s| s.name()).collect::<Vec<_>>(),
            sources = ?sources.iter().map(|s| s.name()).collect::<Vec<_>>(),
            "plugins built"
        );
        Ok(Self { auth: AuthChain::new(auth), stores, sources })
    }

    /// The enabled store for a user-config code (`tb`).
    pub fn store_by_code(&self, code: &str) -> Option<&Arc<dyn StoreProvider>> {
        self.stores.iter().find(|s| s.code() == code)
    }
}
