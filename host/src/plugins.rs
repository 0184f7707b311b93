//! Builds the plugins that `plugins.toml` enables, in its order, each with the shared services
//! of its [`PluginContext`].

use std::sync::Arc;

use chillproxy_core::health::Health;
use chillproxy_core::registry::PluginContext;
use chillproxy_core::upstream::OutboundPolicy;
use chillproxy_core::{AuthChain, ConfigError, SharedState, SourceProvider, StoreProvider};

use crate::config::Config;

/// The built plugins of one configuration.
pub struct Plugins {
    pub auth: AuthChain,
    /// Enabled stores, in the operator's order.
    pub stores: Vec<Arc<dyn StoreProvider>>,
    pub sources: Vec<Arc<dyn SourceProvider>>,
    /// The codes of the enabled stores, in order.
    pub store_codes: Vec<&'static str>,
    /// Display names of the enabled stores that work (not stubs), for advice in messages.
    pub available_stores: Vec<&'static str>,
    /// What the enabled sources search, as their plugins word it, for the manifest.
    pub searches: Vec<&'static str>,
    /// The shared-state tier the plugins were built with.
    pub shared: SharedState,
    /// Their upstreams' health (and the shared tier's server's): what `/ready` and `/status`
    /// read.
    pub health: Health,
}

impl Plugins {
    /// Builds with the shared-state tier `[cache]` asks for (Redis with `redis_url`, else
    /// in-process).
    pub fn build(config: &Config) -> Result<Self, ConfigError> {
        let health = Health::default();
        Self::build_with(config, crate::redis_tier::shared_state(&config.cache, &health)?, health)
    }

    /// Builds with `shared`; every plugin reports its upstreams' health to `health`.
    pub fn build_with(config: &Config, shared: SharedState, health: Health) -> Result<Self, ConfigError> {
        let server = &config.server;
        let outbound = OutboundPolicy::new(server.allow_private_user_urls, &server.user_url_allow);
        let context = |settings| {
            PluginContext::with_shared(settings, shared.clone())
                .with_outbound(outbound.clone())
                .with_health(health.clone())
        };
        let mut auth = Vec::new();
        for descriptor in &config.auth.active {
            if let Some(state) = config.auth.state(descriptor.name) {
                auth.push((descriptor.build)(&context(&state.settings))?);
            }
        }
        let mut stores = Vec::new();
        for descriptor in &config.store.active {
            if let Some(state) = config.store.state(descriptor.name) {
                stores.push((descriptor.build)(&context(&state.settings))?);
            }
        }
        let mut sources = Vec::new();
        let mut searches = Vec::new();
        for descriptor in &config.source.active {
            if let Some(state) = config.source.state(descriptor.name) {
                sources.push((descriptor.build)(&context(&state.settings))?);
                searches.push(descriptor.searches);
            }
        }
        tracing::info!(
            auth = ?auth.iter().map(|p| p.name()).collect::<Vec<_>>(),
            stores = ?stores.iter().map(|s| s.name()).collect::<Vec<_>>(),
            sources = ?sources.iter().map(|s| s.name()).collect::<Vec<_>>(),
            shared = shared.tier().kind(),
            "plugins built"
        );
        let mut plugins = Self::assemble(AuthChain::new(auth), stores, sources, searches, shared);
        plugins.health = health;
        Ok(plugins)
    }

    /// Plugins from already-built providers (unit tests use in-memory ones).
    pub(crate) fn assemble(
        auth: AuthChain,
        stores: Vec<Arc<dyn StoreProvider>>,
        sources: Vec<Arc<dyn SourceProvider>>,
        searches: Vec<&'static str>,
        shared: SharedState,
    ) -> Self {
        let store_codes = stores.iter().map(|s| s.code()).collect();
        let available_stores = stores.iter().filter(|s| !s.capabilities().stub).map(|s| s.display_name()).collect();
        Self { auth, stores, sources, store_codes, available_stores, searches, shared, health: Health::default() }
    }

    /// The enabled store for a user-config code (`tb`).
    pub fn store_by_code(&self, code: &str) -> Option<&Arc<dyn StoreProvider>> {
        self.stores.iter().find(|s| s.code() == code)
    }
}
