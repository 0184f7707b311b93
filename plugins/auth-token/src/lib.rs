//! The `token` auth plugin: the user's own debrid API token (`t` in the store entry), as classic
//! StremThru configs carry it. Depends on chillproxy-core only.

use std::sync::Arc;

use chillproxy_core::{
    async_trait, check_config, AuthOutcome, AuthPlugin, AuthPresentation, AuthProvider, AuthRequest, ConfigError,
    Credential, PluginConfig, PluginContext, PluginSettings,
};
use serde::{Deserialize, Serialize};

pub const NAME: &str = "token";

/// `[auth.token]` has no settings besides the generic `enabled`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TokenConfig {}

impl PluginConfig for TokenConfig {
    fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        settings.parse()
    }
}

fn build(context: &PluginContext<'_>) -> Result<Arc<dyn AuthProvider>, ConfigError> {
    TokenConfig::from_settings(context.settings)?;
    Ok(Arc::new(TokenAuth))
}

chillproxy_core::inventory::submit! {
    AuthPlugin {
        name: NAME,
        summary: "the user's own debrid API token (`t`)",
        enable_env: None,
        enabled_by_default: true,
        env: &[],
        check: check_config::<TokenConfig>,
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

    fn presentation(&self) -> AuthPresentation {
        AuthPresentation { display_name: "your API token", credential_label: "Your API token", entry_field: None }
    }

    async fn authorize(&self, request: &AuthRequest<'_>) -> AuthOutcome {
        match request.entry.token() {
            Some(token) => AuthOutcome::Granted(Credential::new(token.clone(), NAME)),
            None => AuthOutcome::NotApplicable,
        }
    }
}
