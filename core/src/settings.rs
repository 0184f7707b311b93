//! What a plugin receives to configure itself: its own `plugins.toml` table and a snapshot of
//! the environment (a snapshot, so tests never have to mutate the process environment).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A startup error: the message says what is wrong and, where it helps, what is available.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Environment variables, read once at startup. `Debug` shows names only: values may be keys.
#[derive(Clone, Default)]
pub struct Env(BTreeMap<String, String>);

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Env({} variables)", self.0.len())
    }
}

impl Env {
    /// The process environment.
    pub fn from_process() -> Self {
        Self(std::env::vars().collect())
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// The variable's value; an empty value counts as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    /// A boolean flag: `true`/`1` or `false`/`0` (any case); anything else is an error.
    pub fn flag(&self, name: &str) -> Result<Option<bool>, ConfigError> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(None),
            Some(v) if v == "true" || v == "1" => Ok(Some(true)),
            Some(v) if v == "false" || v == "0" => Ok(Some(false)),
            Some(v) => Err(ConfigError::new(format!("{name}={v:?} is not a valid flag: use true, false, 1 or 0"))),
        }
    }
}

/// One plugin's settings: the keys of its `[kind.name]` table (without the generic `enabled`
/// key, which the host handles) and the environment. `Debug` shows key names only.
#[derive(Clone)]
pub struct PluginSettings {
    /// The table's location in `plugins.toml`, e.g. `auth.chillstreams`, for error messages.
    pub section: String,
    pub table: toml::Table,
    pub env: Env,
}

impl fmt::Debug for PluginSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginSettings")
            .field("section", &self.section)
            .field("keys", &self.table.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl PluginSettings {
    pub fn new(section: impl Into<String>, table: toml::Table, env: Env) -> Self {
        Self { section: section.into(), table, env }
    }

    /// Deserialises the table into the plugin's config type. Config types use
    /// `#[serde(deny_unknown_fields)]`, so a misspelt key is an error that names it.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        // Deserialising from text (not from the Value) keeps a span, which names the key.
        let text = self.table.to_string();
        toml::from_str(&text).map_err(|e: toml::de::Error| {
            let key = e
                .span()
                .and_then(|span| text.get(..span.start))
                .and_then(|before| before.rsplit('\n').next())
                .and_then(|line| line.split_once('='))
                .map(|(key, _)| format!(" {}:", key.trim()))
                .unwrap_or_default();
            ConfigError::new(format!("[{}]{key} {}", self.section, e.message().trim()))
        })
    }
}

impl PluginSettings {
    /// `Ok` when `value` of `key` lies in `range`, else the error every plugin uses:
    /// `[section] key must be between A and B, got V`.
    pub fn check_range<T: PartialOrd + fmt::Display>(
        &self,
        key: &str,
        value: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<(), ConfigError> {
        if range.contains(&value) {
            return Ok(());
        }
        Err(ConfigError::new(format!(
            "[{}] {key} must be between {} and {}, got {value}",
            self.section,
            range.start(),
            range.end()
        )))
    }
}

/// Bounds every plugin applies to its `max_body_bytes`: 1 KiB to 64 MiB.
pub const MAX_BODY_BYTES_RANGE: std::ops::RangeInclusive<usize> = 1024..=64 * 1024 * 1024;

/// Renders a plugin's effective config for `chillproxy check-config`. Secrets serialise as
/// `[redacted]`, so this is safe to print.
pub fn effective_table<T: Serialize>(config: &T) -> toml::Table {
    toml::Table::try_from(config).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_accept_only_true_false_one_zero() {
        let env = Env::from_pairs([("A", "TRUE"), ("B", "0"), ("C", "maybe"), ("D", "")]);
        assert_eq!(env.flag("A").unwrap(), Some(true));
        assert_eq!(env.flag("B").unwrap(), Some(false));
        assert!(env.flag("C").unwrap_err().0.contains("C=\"maybe\""));
        assert_eq!(env.flag("D").unwrap(), None);
        assert_eq!(env.flag("E").unwrap(), None);
        assert!(!format!("{env:?}").contains("maybe"));
    }

    #[test]
    fn parse_names_the_unknown_key() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct C {
            url: Option<String>,
        }
        let table: toml::Table = toml::from_str("urll = 'x'").unwrap();
        let err = PluginSettings::new("store.x", table, Env::default()).parse::<C>().unwrap_err();
        assert!(err.0.contains("[store.x]") && err.0.contains("urll"), "{err}");
        let table: toml::Table = toml::from_str("url = 5").unwrap();
        let err = PluginSettings::new("store.x", table, Env::default()).parse::<C>().unwrap_err();
        assert!(err.0.starts_with("[store.x] url: invalid type"), "{err}");
    }
}
