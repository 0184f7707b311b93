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

    /// Deserialises the table into the plugin's config type; a key the type does not know is an
    /// error that names it (`[store.x] urll: unknown field `urll``).
    ///
    /// Unknown keys are rejected here rather than only by `#[serde(deny_unknown_fields)]`,
    /// because serde cannot combine that attribute with `#[serde(flatten)]`, which configs use
    /// to embed shared settings (such as [`crate::upstream::UpstreamSettings`]). After a
    /// successful parse, the value is serialised back and every key of the table must come back:
    /// a key that does not is one the type ignored. So a config type must serialise every key it
    /// reads (no `skip_serializing` on a field that can be set, no `skip_serializing_if` that
    /// hides a value that was given, no `alias`). Types without a flattened field keep
    /// `deny_unknown_fields` too, for serde's own message, which lists the expected keys.
    pub fn parse<T: DeserializeOwned + Serialize>(&self) -> Result<T, ConfigError> {
        // Deserialising from text (not from the Value) keeps a span, which names the key.
        let text = self.table.to_string();
        let value: T = toml::from_str(&text).map_err(|e: toml::de::Error| {
            let message = e.message().trim();
            let key = e
                .span()
                .and_then(|span| text.get(..span.start))
                .and_then(|before| before.rsplit('\n').next())
                .and_then(|line| line.split_once('='))
                .map(|(key, _)| key.trim())
                // A flattened struct's error has no position of its own; it names its key itself.
                .filter(|key| !message.starts_with(&format!("{key}:")))
                .map(|key| format!(" {key}:"))
                .unwrap_or_default();
            ConfigError::new(format!("[{}]{key} {message}", self.section))
        })?;
        let read_back = toml::Table::try_from(&value)
            .map_err(|e| ConfigError::new(format!("[{}] cannot check the keys: {e}", self.section)))?;
        if let Some(key) = unread_key(&self.table, &read_back, "") {
            let name = key.rsplit('.').next().unwrap_or(&key);
            return Err(ConfigError::new(format!("[{}] {key}: unknown field `{name}`", self.section)));
        }
        Ok(value)
    }
}

/// The first key of `given` (depth first, in order) that `read_back` lacks, as a dotted path
/// (`indexers.0.urll`).
fn unread_key(given: &toml::Table, read_back: &toml::Table, prefix: &str) -> Option<String> {
    given.iter().find_map(|(key, value)| {
        let path = format!("{prefix}{key}");
        match (value, read_back.get(key)) {
            (_, None) => Some(path),
            (toml::Value::Table(given), Some(toml::Value::Table(back))) => unread_key(given, back, &format!("{path}.")),
            (toml::Value::Array(given), Some(toml::Value::Array(back))) => {
                given.iter().zip(back).enumerate().find_map(|(i, pair)| match pair {
                    (toml::Value::Table(given), toml::Value::Table(back)) => {
                        unread_key(given, back, &format!("{path}.{i}."))
                    }
                    _ => None,
                })
            }
            _ => None,
        }
    })
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
        #[derive(serde::Deserialize, serde::Serialize, Debug)]
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

    /// Shared settings embedded with `flatten`, the way plugins embed `UpstreamSettings`.
    #[derive(serde::Deserialize, serde::Serialize, Debug)]
    struct Shared {
        #[serde(default)]
        limit: u32,
    }

    #[derive(serde::Deserialize, serde::Serialize, Debug)]
    struct Inner {
        name: String,
    }

    #[derive(serde::Deserialize, serde::Serialize, Debug)]
    struct Embedding {
        #[serde(default)]
        url: Option<String>,
        #[serde(flatten)]
        shared: Shared,
        #[serde(default)]
        items: Vec<Inner>,
    }

    fn parse_embedding(text: &str) -> Result<Embedding, ConfigError> {
        PluginSettings::new("store.x", toml::from_str(text).unwrap(), Env::default()).parse::<Embedding>()
    }

    #[test]
    fn parse_rejects_unknown_keys_next_to_flattened_settings() {
        let parsed = parse_embedding("url = 'u'\nlimit = 3\nitems = [{ name = 'a' }]").unwrap();
        assert_eq!((parsed.url.as_deref(), parsed.shared.limit, parsed.items.len()), (Some("u"), 3, 1));
        assert!(parse_embedding("").is_ok());

        let err = parse_embedding("url = 'u'\ncolour = 'blue'").unwrap_err();
        assert_eq!(err.0, "[store.x] colour: unknown field `colour`");
        let err = parse_embedding("items = [{ name = 'a' }, { name = 'b', extra = 1 }]").unwrap_err();
        assert_eq!(err.0, "[store.x] items.1.extra: unknown field `extra`");
        let err = parse_embedding("url = 5").unwrap_err();
        assert!(err.0.starts_with("[store.x] url: invalid type"), "{err}");
    }
}
