//! What the two indexer plugins' `[source.<name>] indexers = [{ name, url, api_key |
//! api_key_env }]` entries share: the checks and the key's resolution.

use chillproxy_core::{ConfigError, Env, Secret};

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
