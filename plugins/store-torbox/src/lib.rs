//! The `torbox` store plugin (code `tb`): TorBox's REST API (`/v1/api/...`), with its
//! `{success,error,detail,data}` envelope and error codes mapped to typed store errors.
//! The credential travels per call; the client holds no key. Depends on chillproxy-core only.

mod client;
mod error;
mod list;
mod nzb;
mod reply;
mod store;
mod usenet;
mod usenet_reply;

use std::sync::Arc;

use chillproxy_core::upstream::{check_base_url, UpstreamDefaults, UpstreamSettings};
use chillproxy_core::{
    check_config, ConfigError, PluginConfig, PluginContext, PluginSettings, StoreCapabilities, StoreIdentity,
    StorePlugin, StoreProvider,
};
use serde::{Deserialize, Serialize};

pub use client::DEFAULT_MAX_BODY_BYTES;
pub use store::TorBoxStore;

/// The reply interpreter (envelope → `data` or a typed error, `key` scrubbed from messages),
/// for the fuzz targets and property tests only; not a stable API.
#[doc(hidden)]
pub fn fuzz_interpret_reply(
    status: u16,
    content_type: &str,
    body: &[u8],
    key: &str,
) -> Result<serde_json::Value, chillproxy_core::StoreError> {
    client::interpret(status, None, content_type, body, key)
}

/// Who this store is: the descriptor below and [`TorBoxStore`]'s `identity()` both read it.
pub const IDENTITY: StoreIdentity = StoreIdentity {
    name: "torbox",
    code: "tb",
    display_name: "TorBox",
    capabilities: StoreCapabilities::EXACT.with_usenet(),
};
pub const NAME: &str = IDENTITY.name;
pub const CODE: &str = IDENTITY.code;
/// The plugin's table in `plugins.toml`.
pub const SECTION: &str = "store.torbox";

/// `[store.torbox]`. No `deny_unknown_fields`: serde does not support it next to `flatten`;
/// [`PluginSettings::parse`] rejects unknown keys instead.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct TorBoxConfig {
    /// Base URL of the TorBox API.
    pub api_url: String,
    /// `timeout_ms` (budget for one API call), `connect_timeout_ms`, `max_in_flight` (API calls
    /// at once, across all users), `max_body_bytes` (largest reply read), `proxy_url`.
    #[serde(flatten, deserialize_with = "UpstreamSettings::with_defaults::<_, TorBoxUpstream>")]
    pub upstream: UpstreamSettings,
    /// Calls a minute per API key, on every endpoint (TorBox's limit: 300). 0 turns it off.
    pub requests_per_minute: u64,
    /// New downloads (`createtorrent`) an hour per API key (TorBox's limit: 60). 0 turns it off.
    pub creates_per_hour: u64,
    /// New downloads a minute per API key (TorBox's edge: 10). 0 turns it off.
    pub creates_per_minute: u64,
    /// How long a key's torrent list is reused to find a torrent before adding it.
    pub list_ttl_s: u64,
    /// New downloads an hour per key kept for what viewers press play on: a download prepared
    /// in the background (the next episode) is added only while more than this many are left.
    pub reserve_creates: u64,
}

impl Default for TorBoxConfig {
    /// Every default, as an empty `[store.torbox]` table gives.
    fn default() -> Self {
        Self {
            api_url: "https://api.torbox.app".to_string(),
            upstream: UpstreamSettings::defaults::<TorBoxUpstream>(),
            requests_per_minute: 300,
            creates_per_hour: 60,
            creates_per_minute: 10,
            list_ttl_s: 30,
            reserve_creates: 10,
        }
    }
}

/// TorBox's upstream defaults: 15 s per call, 64 calls in flight, 2 MiB replies.
pub struct TorBoxUpstream;

impl UpstreamDefaults for TorBoxUpstream {
    const TIMEOUT_MS: u64 = 15_000;
    const MAX_IN_FLIGHT: usize = 64;
    const MAX_BODY_BYTES: usize = client::DEFAULT_MAX_BODY_BYTES;
}

pub use chillproxy_core::settings::MAX_BODY_BYTES_RANGE;

impl TorBoxConfig {
    pub fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        let mut config: Self = settings.parse()?;
        config.api_url = check_base_url(&settings.section, "api_url", &config.api_url)?.as_str().to_string();
        config.upstream.check(settings, 100..=120_000)?;
        settings.check_range("requests_per_minute", config.requests_per_minute, 0..=100_000)?;
        settings.check_range("creates_per_hour", config.creates_per_hour, 0..=100_000)?;
        settings.check_range("creates_per_minute", config.creates_per_minute, 0..=100_000)?;
        settings.check_range("list_ttl_s", config.list_ttl_s, 0..=3_600)?;
        settings.check_range("reserve_creates", config.reserve_creates, 0..=100_000)?;
        Ok(config)
    }
}

impl PluginConfig for TorBoxConfig {
    fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        TorBoxConfig::from_settings(settings)
    }
}

fn build(context: &PluginContext<'_>) -> Result<Arc<dyn StoreProvider>, ConfigError> {
    let settings = context.settings;
    let config = TorBoxConfig::from_settings(settings)?;
    Ok(Arc::new(TorBoxStore::with_outbound(
        &config,
        context.shared.clone(),
        &context.health,
        context.outbound.clone(),
    )?))
}

chillproxy_core::inventory::submit! {
    StorePlugin {
        name: IDENTITY.name,
        code: IDENTITY.code,
        display_name: IDENTITY.display_name,
        summary: "TorBox (api.torbox.app)",
        capabilities: IDENTITY.capabilities,
        token_help: "Your API key is under Settings → API on torbox.app.",
        env: &[],
        check: check_config::<TorBoxConfig>,
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chillproxy_core::settings::effective_table;
    use chillproxy_core::Env;

    fn settings(toml_text: &str) -> PluginSettings {
        PluginSettings::new("store.torbox", toml::from_str(toml_text).unwrap(), Env::default())
    }

    #[test]
    fn max_body_bytes_defaults_to_2_mib_and_is_bounded() {
        assert_eq!(TorBoxConfig::from_settings(&settings("")).unwrap().upstream.max_body_bytes, 2 * 1024 * 1024);
        assert_eq!(
            TorBoxConfig::from_settings(&settings("max_body_bytes = 4096")).unwrap().upstream.max_body_bytes,
            4096
        );
        for bad in ["max_body_bytes = 1023", "max_body_bytes = 67108865", "max_body_bytes = 0"] {
            let err = TorBoxConfig::from_settings(&settings(bad)).unwrap_err();
            assert!(err.0.contains("[store.torbox] max_body_bytes must be between 1024 and 67108864"), "{err}");
        }
        assert!(check_config::<TorBoxConfig>(&settings("")).unwrap().contains_key("max_body_bytes"));
    }

    #[test]
    fn budgets_default_to_torboxs_documented_limits() {
        let config = TorBoxConfig::from_settings(&settings("")).unwrap();
        assert_eq!((config.requests_per_minute, config.creates_per_hour, config.creates_per_minute), (300, 60, 10));
        assert_eq!(config.list_ttl_s, 30);
        let config = TorBoxConfig::from_settings(&settings("creates_per_hour = 3\nrequests_per_minute = 0")).unwrap();
        assert_eq!((config.requests_per_minute, config.creates_per_hour), (0, 3));
        let err = TorBoxConfig::from_settings(&settings("list_ttl_s = 7200")).unwrap_err();
        assert!(err.0.contains("list_ttl_s"), "{err}");
        let err = TorBoxConfig::from_settings(&settings("creates_per_day = 3")).unwrap_err();
        assert!(err.0.contains("creates_per_day"), "{err}");
        let parsed = effective_table(&TorBoxConfig::from_settings(&settings("")).unwrap());
        assert_eq!(effective_table(&TorBoxConfig::default()), parsed, "Default is the empty table's config");
    }
}
