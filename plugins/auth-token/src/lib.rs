//! The `token` auth plugin: the user's own debrid API token (`t` in the store entry), as classic
//! StremThru configs carry it. Depends on chillproxy-core only.

use std::sync::Arc;

use chillproxy_core::settings::effective_table;
use chillproxy_core::{
    async_trait, AuthOutcome, AuthPlugin, AuthProvider, AuthRequest, ConfigError, Credential, PluginSettings,
};
use serde::{Deserialize, Serialize};

pub const NAME: &str = "token";

/// `[auth.token]` has no settings besides the generic `enabled`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TokenConfig {}

fn check(settings: &PluginSettings) -> Result<toml::Table, ConfigError> {
    settings.parse::<TokenConfig>().map(|c| effective_table(&c))
}

fn build(settings: &PluginSettings) -> Result<Arc<dyn AuthProvider>, ConfigError> {
    settings.parse::<TokenConfig>()?;
    Ok(Arc::new(TokenAuth))
}

chillproxy_core::inventory::submit! {
    AuthPlugin {
        name: NAME,
        summary: "the user's own debrid API token (`t`)",
        enable_env: None,
        enabled_by_default: true,
        check,
        build,
    }
}

/// Grants the entry's own token when it has a non-empty one.
pub struct TokenAuth;

#[async_trait]
impl AuthProvider for TokenAuth {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn authorize(&self, request: &AuthRequest<'_>) -> AuthOutcome {
        match request.entry.token() {
            Some(token) => AuthOutcome::Granted(Credential::new(token.clone(), NAME)),
            None => AuthOutcome::NotApplicable,
        }
    }
}
