//! The user's config: the `{config}` path segment, base64 of JSON
//! `{"stores":[{"c","t","auth"}],"indexers":[{"n","u","ak"}],"newznab":[{"n","u","ak"}],"cached":bool}`.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use chillproxy_core::{StoreEntry, UserIndexer};
use serde::Deserialize;

use crate::preferences::ListPreferences;
use crate::truncate;

pub const MAX_ENCODED_BYTES: usize = 8 * 1024;
pub const MAX_STORES: usize = 5;
pub const MAX_INDEXERS: usize = 5;
/// The user-config field of the user's own usenet indexers ([`UserConfig::usenet_indexers`]),
/// for the configure page's script.
pub const USENET_INDEXERS_FIELD: &str = "newznab";

/// A decoded and validated user config.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserConfig {
    #[serde(default)]
    pub stores: Vec<StoreEntry>,
    #[serde(default)]
    pub indexers: Vec<UserIndexer>,
    /// The user's own Newznab (usenet) indexers: `{"n": name, "u": API URL, "ak": key}`.
    #[serde(default)]
    pub newznab: Vec<UserIndexer>,
    /// Only show cached streams.
    #[serde(default)]
    pub cached: bool,
    /// With `cached`: when nothing is cached, start the best release downloading and show it
    /// as one "⏳ Downloading" stream.
    #[serde(default)]
    pub acquire: bool,
    /// The viewer's filters and order.
    #[serde(flatten)]
    pub prefs: ListPreferences,
}

/// What is wrong with a config, phrased for the user: the field it is about (`stores[0].c`,
/// `indexers`), when there is one, and the rule. Displays as `field: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub field: Option<String>,
    pub message: String,
}

impl ConfigProblem {
    /// A problem with the config as a whole (unreadable, too large).
    pub fn whole(message: impl Into<String>) -> Self {
        Self { field: None, message: message.into() }
    }

    /// A problem with one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: Some(field.into()), message: message.into() }
    }
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigProblem {}

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

impl UserConfig {
    /// The user's own usenet (Newznab) indexers: the `newznab` list, in its order.
    pub fn usenet_indexers(&self) -> &[UserIndexer] {
        &self.newznab
    }

    /// The same config with these usenet indexers (a sealed playback handle's).
    pub fn with_usenet_indexers(mut self, indexers: Vec<UserIndexer>) -> Self {
        self.newznab = indexers;
        self
    }

    /// Decodes the path segment (standard or URL-safe base64, padded or not) and validates it
    /// against the stores this server has enabled.
    pub fn decode(segment: &str, enabled_codes: &[&str]) -> Result<Self, ConfigProblem> {
        if segment.len() > MAX_ENCODED_BYTES {
            return Err(ConfigProblem::whole(format!(
                "the config is {} bytes; at most {MAX_ENCODED_BYTES} are accepted",
                segment.len()
            )));
        }
        let segment = segment.trim();
        let bytes = STANDARD
            .decode(segment)
            .or_else(|_| URL_SAFE.decode(segment))
            .map_err(|_| ConfigProblem::whole("the config in the URL is not valid base64"))?;
        Self::from_json(&bytes, enabled_codes)
    }

    /// Reads the config's JSON (a plain segment decoded, or a sealed one opened) and validates it
    /// against the stores this server has enabled.
    pub fn from_json(bytes: &[u8], enabled_codes: &[&str]) -> Result<Self, ConfigProblem> {
        if bytes.len() > MAX_ENCODED_BYTES {
            return Err(ConfigProblem::whole(format!(
                "the config is {} bytes; at most {MAX_ENCODED_BYTES} are accepted",
                bytes.len()
            )));
        }
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| ConfigProblem::whole(format!("the config is not valid JSON ({})", json_reason(&e))))?;
        crate::shape::check(&value)?;
        let config: UserConfig = serde_json::from_value(value).map_err(|e| {
            ConfigProblem::whole(format!("the config is not valid JSON of the expected shape ({})", json_reason(&e)))
        })?;
        config.validate(enabled_codes)?;
        Ok(config)
    }

    fn validate(&self, enabled_codes: &[&str]) -> Result<(), ConfigProblem> {
        if self.stores.is_empty() {
            return Err(ConfigProblem::field("stores", "add at least one store"));
        }
        if self.stores.len() > MAX_STORES {
            return Err(ConfigProblem::field("stores", format!("at most {MAX_STORES} stores are allowed")));
        }
        if self.indexers.len() > MAX_INDEXERS {
            return Err(ConfigProblem::field("indexers", format!("at most {MAX_INDEXERS} indexers are allowed")));
        }
        if self.newznab.len() > MAX_INDEXERS {
            return Err(ConfigProblem::field(
                "newznab",
                format!("at most {MAX_INDEXERS} Newznab indexers are allowed"),
            ));
        }
        for (i, store) in self.stores.iter().enumerate() {
            if !enabled_codes.contains(&store.c.as_str()) {
                return Err(ConfigProblem::field(
                    format!("stores[{i}].c"),
                    format!(
                        "unknown store code {:?}; this server offers: {}",
                        truncate(&store.c, 16),
                        enabled_codes.join(", ")
                    ),
                ));
            }
            if self.stores[..i].iter().any(|s| s.c == store.c) {
                return Err(ConfigProblem::field(
                    format!("stores[{i}].c"),
                    format!("store {:?} is listed twice", store.c),
                ));
            }
            if store.token().is_none() && store.auth().is_none() {
                return Err(ConfigProblem::field(
                    format!("stores[{i}]"),
                    "needs an API token (t) or a Chillstreams user id (auth)",
                ));
            }
        }
        for (field, what, list) in [("indexers", "Torznab", &self.indexers), ("newznab", "Newznab", &self.newznab)] {
            for (i, indexer) in list.iter().enumerate() {
                let url = indexer.u.trim();
                if url.is_empty() {
                    return Err(ConfigProblem::field(format!("{field}[{i}].u"), format!("the {what} URL is empty")));
                }
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(ConfigProblem::field(
                        format!("{field}[{i}].u"),
                        format!("the {what} URL must start with http:// or https://"),
                    ));
                }
            }
        }
        self.prefs.validate()?;
        Ok(())
    }

    /// The JSON inside a plain segment (standard or URL-safe base64), unchecked; `None` when it
    /// is not base64 or too large. Used to seal a plain config.
    pub fn plain_json(segment: &str) -> Option<Vec<u8>> {
        let segment = segment.trim();
        if segment.len() > MAX_ENCODED_BYTES {
            return None;
        }
        STANDARD.decode(segment).or_else(|_| URL_SAFE.decode(segment)).ok()
    }

    /// A config the server rejected, read without its rules (and with a larger size bound), so
    /// the configure page can show it for fixing. `None` when it is not readable at all.
    pub fn read_unvalidated(segment: &str) -> Option<Self> {
        let segment = segment.trim();
        if segment.len() > 2 * MAX_ENCODED_BYTES {
            return None;
        }
        let bytes = STANDARD.decode(segment).or_else(|_| URL_SAFE.decode(segment)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The store codes, in config order, for the manifest description.
    pub fn store_codes(&self) -> Vec<&str> {
        self.stores.iter().map(|s| s.c.as_str()).collect()
    }
}

/// serde_json's message names the expected type and the position, but it may quote the input
/// (which can hold a token): blank out every quoted part.
fn json_reason(error: &serde_json::Error) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    for ch in error.to_string().chars() {
        match quote {
            Some(q) if ch == q => {
                out.push('…');
                out.push(ch);
                quote = None;
            }
            Some(_) => {}
            None => {
                out.push(ch);
                if ch == '"' || ch == '`' {
                    quote = Some(ch);
                }
            }
        }
    }
    truncate(&out, 160).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD as STD, URL_SAFE_NO_PAD};

    const CODES: &[&str] = &["tb", "rd", "ad"];

    #[test]
    fn accepts_both_alphabets_padded_or_not() {
        // A JSON whose base64 contains both '+'/'/' (standard) or '-'/'_' (URL-safe).
        let json = r#"{"stores":[{"c":"tb","t":"??>>??>>"}],"cached":true}"#;
        for encoded in
            [STD.encode(json), STD.encode(json).trim_end_matches('=').to_string(), URL_SAFE_NO_PAD.encode(json)]
        {
            let config = UserConfig::decode(&encoded, CODES).unwrap();
            assert_eq!(config.stores[0].token().unwrap().expose(), "??>>??>>");
            assert!(config.cached);
        }
    }

    #[test]
    fn problems_name_the_field() {
        let check = |json: &str| UserConfig::decode(&STD.encode(json), CODES).unwrap_err().to_string();
        assert!(check(r#"{"stores":[]}"#).starts_with("stores: add at least one"));
        assert!(check(r#"{"stores":[{"c":"xx","t":"a"}]}"#).starts_with("stores[0].c: unknown store code \"xx\""));
        assert!(check(r#"{"stores":[{"c":"tb"}]}"#).starts_with("stores[0]: needs an API token"));
        assert!(check(r#"{"stores":[{"c":"tb","t":""}]}"#).starts_with("stores[0]: needs"));
        assert!(check(r#"{"stores":[{"c":"tb","t":"a"}],"indexers":[{"n":"x","u":"ftp://x"}]}"#)
            .starts_with("indexers[0].u"));
        assert!(check(r#"{"stores":[{"c":"tb","t":"a"}],"newznab":[{"n":"x","u":"ftp://x"}]}"#)
            .starts_with("newznab[0].u: the Newznab URL must start with"));
        let six =
            format!(r#"{{"stores":[{{"c":"tb","t":"a"}}],"newznab":[{}]}}"#, [r#"{"u":"https://x"}"#; 6].join(","));
        assert!(check(&six).starts_with("newznab: at most 5"));
        assert!(check(r#"{"stores":[{"c":"tb","t":"a"}],"newznab":{"u":"https://x"}}"#)
            .starts_with("newznab: must be a list"));
        assert!(check(r#"{"stores":"tb"}"#).starts_with("stores: must be a list"));
        assert!(check(r#"{"stores":[{"c":"tb","t":"a"}],"cached":1,"#).starts_with("the config is not valid JSON"));
        let many = format!(r#"{{"stores":[{}]}}"#, [r#"{"c":"tb","t":"a"}"#; 6].join(","));
        assert!(check(&many).contains("at most 5 stores"));
        assert!(UserConfig::decode("%%%", CODES).unwrap_err().to_string().contains("not valid base64"));
        assert!(UserConfig::decode(&"A".repeat(9000), CODES).unwrap_err().to_string().contains("at most 8192"));
    }

    #[test]
    fn problems_never_echo_a_token() {
        for json in [
            r#"{"stores":[{"c":"tb","t":"SECRET-TOKEN","auth":5}]}"#,
            r#"{"stores":"SECRET-TOKEN"}"#,
            r#"{"stores":[{"c":"tb","t":987654321}]}"#,
            r#"{"stores":[{"c":"tb","t":"SECRET-TOKEN"}],"cached":"SECRET-TOKEN"}"#,
            r#"{"stores":[{"c":"tb","t":"SECRET-TOKEN"}"#,
        ] {
            let problem = UserConfig::decode(&STD.encode(json), CODES).unwrap_err().to_string();
            assert!(!problem.contains("SECRET-TOKEN") && !problem.contains("987654321"), "{problem}");
        }
    }

    /// Every wrongly typed value is named with its field and what the field takes.
    #[test]
    fn wrong_types_name_their_field() {
        let base = r#""stores":[{"c":"tb","t":"a"},{"c":"rd","t":"b"}]"#;
        for (extra, field, expects) in [
            (r#""max_size_gb":"big""#, "max_size_gb", "a number"),
            (r#""min_size_gb":[1]"#, "min_size_gb", "a number"),
            (r#""per_resolution":"3""#, "per_resolution", "a whole number"),
            (r#""per_resolution":2.5"#, "per_resolution", "a whole number"),
            (r#""exclude":"cam""#, "exclude", "a list"),
            (r#""exclude":["cam",4]"#, "exclude[1]", "a list"),
            (r#""languages":"fr""#, "languages", "a list"),
            (r#""resolutions":{"1080p":true}"#, "resolutions", "a list"),
            (r#""sort":["-size"]"#, "sort", "text"),
            (r#""cached":"yes""#, "cached", "true or false"),
            (r#""indexers":{"u":"http://x"}"#, "indexers", "a list"),
            (r#""indexers":[{"n":"x","u":7}]"#, "indexers[0].u", "text"),
            (r#""indexers":["http://x"]"#, "indexers[0]", "an indexer"),
        ] {
            let json = format!("{{{base},{extra}}}");
            let problem = UserConfig::decode(&STD.encode(&json), CODES).unwrap_err();
            assert_eq!(problem.field.as_deref(), Some(field), "{json}: {problem}");
            assert!(problem.message.contains(expects), "{json}: {problem}");
        }
        for (stores, field) in [
            (r#"[{"c":"tb","t":"a"},{"c":5,"t":"b"}]"#, "stores[1].c"),
            (r#"[{"c":"tb","t":["a"]}]"#, "stores[0].t"),
            (r#"[{"c":"tb","auth":12}]"#, "stores[0].auth"),
            (r#"["tb"]"#, "stores[0]"),
        ] {
            let json = format!(r#"{{"stores":{stores}}}"#);
            let problem = UserConfig::decode(&STD.encode(&json), CODES).unwrap_err();
            assert_eq!(problem.field.as_deref(), Some(field), "{json}: {problem}");
        }
        let ok = format!(r#"{{{base},"max_size_gb":null,"per_resolution":null,"sort":null}}"#);
        assert!(UserConfig::decode(&STD.encode(&ok), CODES).is_ok());
    }
}
