//! What the two indexer plugins' `[source.<name>] indexers = [{ name, url, api_key |
//! api_key_env }]` entries share: the checks and the key's resolution.

use chillproxy_core::upstream::{check_base_url, UpstreamDefaults, UpstreamSettings};
use chillproxy_core::{ConfigError, Env, PluginSettings, Secret};

use crate::client::endpoint;

/// Checks one operator indexer: a name, a usable URL (the message never repeats the URL or the
/// key), and not both `api_key` and `api_key_env`.
pub fn check_indexer(section: &str, name: &str, url: &str, has_key: bool, has_env: bool) -> Result<(), ConfigError> {
    if name.trim().is_empty() {
        return Err(ConfigError::new(format!("[{section}] every indexer needs a name")));
    }
    endpoint(url).map_err(|e| ConfigError::new(format!("[{section}] indexer {name:?}: url: {e}")))?;
    if has_key && has_env {
        return Err(ConfigError::new(format!("[{section}] indexer {name:?}: set api_key or api_key_env, not both")));
    }
    Ok(())
}

/// The indexer's API key: `api_key`, or the variable `api_key_env` names. A variable that is
/// not set is an error naming the variable (never a value).
pub fn resolve_key(
    section: &str,
    name: &str,
    api_key: Option<&Secret>,
    api_key_env: Option<&str>,
    env: &Env,
) -> Result<Option<Secret>, ConfigError> {
    Ok(match (api_key, api_key_env) {
        (Some(key), _) => Some(key.clone()),
        (None, Some(var)) => {
            let value = env.get(var).ok_or_else(|| {
                ConfigError::new(format!(
                    "[{section}] indexer {name:?}: api_key_env is {var}, but the environment variable {var} is not set"
                ))
            })?;
            Some(Secret::new(value.trim()))
        }
        (None, None) => None,
    })
}

/// Both indexer plugins' upstream defaults: 10 s per query (at most 5 s of it to connect), 128
/// queries in flight, 5 MiB replies.
pub struct IndexerUpstream;

impl UpstreamDefaults for IndexerUpstream {
    const TIMEOUT_MS: u64 = 10_000;
    const CONNECT_TIMEOUT_MS: Option<u64> = Some(5_000);
    const MAX_IN_FLIGHT: usize = 128;
    const MAX_BODY_BYTES: usize = crate::client::MAX_BODY_BYTES;
}

/// Checks the settings both indexer plugins' sections have besides their indexers: the upstream
/// settings, `meta_url`, `meta_timeout_ms` (100–60000) and `failure_pause_s` (30–120).
pub fn check_source_settings(
    settings: &PluginSettings,
    upstream: &UpstreamSettings,
    meta_url: &str,
    meta_timeout_ms: u64,
    failure_pause_s: u64,
) -> Result<(), ConfigError> {
    let section = &settings.section;
    upstream.check(settings, 100..=60_000)?;
    check_base_url(section, "meta_url", meta_url)?;
    if !(100..=60_000).contains(&meta_timeout_ms) {
        return Err(ConfigError::new(format!("[{section}] meta_timeout_ms must be between 100 and 60000")));
    }
    if !(30..=120).contains(&failure_pause_s) {
        return Err(ConfigError::new(format!("[{section}] failure_pause_s must be between 30 and 120")));
    }
    Ok(())
}
