//! The viewer's own filters and order for a stream list, carried in the user config (all
//! optional): allowed resolutions, a size range, excluded keywords, preferred languages, a cap
//! per resolution and the sort order in StremThru's form (`-resolution,-quality,-size`).

use serde::Deserialize;

use crate::config::ConfigProblem;
use crate::languages::{Language, LANGUAGES};

/// Resolutions a config may name (`unknown`: the release name says none).
pub const RESOLUTIONS: &[&str] = &["2160p", "1440p", "1080p", "720p", "576p", "480p", "360p", "unknown"];
const MAX_KEYWORDS: usize = 20;
const MAX_KEYWORD_CHARS: usize = 40;
const MAX_SIZE_GB: f64 = 1000.0;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct ListPreferences {
    /// Only these resolutions (empty: all).
    #[serde(default)]
    pub resolutions: Vec<String>,
    /// Largest size, in GB (10⁹ bytes), of the file (or the torrent when the file is unknown).
    #[serde(default)]
    pub max_size_gb: Option<f64>,
    #[serde(default)]
    pub min_size_gb: Option<f64>,
    /// Releases whose name holds one of these words are left out (case-insensitive, whole words).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Releases in these languages come first, the first one first (ISO 639-1 codes or English
    /// names: `fr`, `French`; see [`crate::languages`]). Nothing is left out.
    #[serde(default)]
    pub languages: Vec<String>,
    /// At most this many streams per resolution.
    #[serde(default)]
    pub per_resolution: Option<u32>,
    /// `field,field,…` with `-` for descending: `resolution`, `quality`, `size`, `seeders`.
    #[serde(default)]
    pub sort: Option<String>,
}

/// What a sort key orders by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    Resolution,
    Quality,
    Size,
    Seeders,
}

/// The default order: best resolution, then quality, then the biggest.
pub const DEFAULT_SORT: &[(SortField, bool)] =
    &[(SortField::Resolution, true), (SortField::Quality, true), (SortField::Size, true)];

impl ListPreferences {
    pub fn validate(&self) -> Result<(), ConfigProblem> {
        for (i, resolution) in self.resolutions.iter().enumerate() {
            if !RESOLUTIONS.contains(&resolution.to_ascii_lowercase().as_str()) {
                return Err(ConfigProblem::field(
                    format!("resolutions[{i}]"),
                    format!("unknown resolution; use any of {}", RESOLUTIONS.join(", ")),
                ));
            }
        }
        for (name, value) in [("max_size_gb", self.max_size_gb), ("min_size_gb", self.min_size_gb)] {
            if value.is_some_and(|v| !v.is_finite() || v <= 0.0 || v > MAX_SIZE_GB) {
                return Err(ConfigProblem::field(name, format!("must be a number above 0 and at most {MAX_SIZE_GB}")));
            }
        }
        if let (Some(min), Some(max)) = (self.min_size_gb, self.max_size_gb) {
            if min > max {
                return Err(ConfigProblem::field("min_size_gb", "must not be above max_size_gb"));
            }
        }
        if self.languages.len() > LANGUAGES.len() {
            return Err(ConfigProblem::field("languages", format!("at most {} languages", LANGUAGES.len())));
        }
        if let Some(i) = self.languages.iter().position(|l| Language::find(l).is_none()) {
            return Err(ConfigProblem::field(
                format!("languages[{i}]"),
                format!(
                    "unknown language {:?}; use an ISO 639-1 code or an English name, like fr or French",
                    crate::truncate(&self.languages[i], 24)
                ),
            ));
        }
        if self.exclude.len() > MAX_KEYWORDS {
            return Err(ConfigProblem::field("exclude", format!("at most {MAX_KEYWORDS} words")));
        }
        if let Some(i) =
            self.exclude.iter().position(|w| normalise(w).trim().is_empty() || w.chars().count() > MAX_KEYWORD_CHARS)
        {
            return Err(ConfigProblem::field(
                format!("exclude[{i}]"),
                format!("a word of 1 to {MAX_KEYWORD_CHARS} letters or digits"),
            ));
        }
        if self.per_resolution.is_some_and(|n| !(1..=50).contains(&n)) {
            return Err(ConfigProblem::field("per_resolution", "must be between 1 and 50"));
        }
        self.sort_keys()?;
        Ok(())
    }

    /// The sort keys, `(field, descending)`, or the default order.
    pub fn sort_keys(&self) -> Result<Vec<(SortField, bool)>, ConfigProblem> {
        let Some(sort) = self.sort.as_deref().filter(|s| !s.trim().is_empty()) else {
            return Ok(DEFAULT_SORT.to_vec());
        };
        let mut keys = Vec::new();
        for part in sort.split(',').map(str::trim) {
            let (descending, name) = match part.strip_prefix('-') {
                Some(name) => (true, name),
                None => (false, part.strip_prefix('+').unwrap_or(part)),
            };
            let field = match name {
                "resolution" => SortField::Resolution,
                "quality" => SortField::Quality,
                "size" => SortField::Size,
                "seeders" => SortField::Seeders,
                _ => {
                    return Err(ConfigProblem::field(
                        "sort",
                        "use resolution, quality, size or seeders, each optionally with - for descending, \
                         separated by commas (e.g. -resolution,-size)",
                    ))
                }
            };
            if keys.iter().any(|(f, _)| *f == field) || keys.len() >= 4 {
                return Err(ConfigProblem::field("sort", format!("{name} is listed twice")));
            }
            keys.push((field, descending));
        }
        Ok(keys)
    }

    /// Whether `title` holds one of `words` as whole words (case-insensitive).
    pub fn mentions(title: &str, words: &[String]) -> bool {
        let title = format!(" {} ", normalise(title));
        words.iter().any(|w| title.contains(&format!(" {} ", normalise(w).trim())))
    }
}

/// Lowercase letters and digits, every other run of characters one space.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefs(json: &str) -> ListPreferences {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn invalid_values_name_their_field() {
        let field = |json: &str| prefs(json).validate().unwrap_err().field.unwrap();
        assert_eq!(field(r#"{"resolutions":["1080p","8k"]}"#), "resolutions[1]");
        assert_eq!(field(r#"{"max_size_gb":-1}"#), "max_size_gb");
        assert_eq!(field(r#"{"min_size_gb":10,"max_size_gb":2}"#), "min_size_gb");
        assert_eq!(field(r#"{"exclude":["cam","  "]}"#), "exclude[1]");
        assert_eq!(field(r#"{"per_resolution":0}"#), "per_resolution");
        assert_eq!(field(r#"{"languages":["fr","xx"]}"#), "languages[1]");
        assert!(prefs(r#"{"languages":["fr","French","JA","english"]}"#).validate().is_ok());
        assert_eq!(field(r#"{"sort":"-resolution,colour"}"#), "sort");
        assert_eq!(field(r#"{"sort":"size,-size"}"#), "sort");
        assert!(prefs(r#"{"resolutions":["2160P"],"sort":"seeders,-size","exclude":["hdts"]}"#).validate().is_ok());
    }

    #[test]
    fn keywords_match_whole_words() {
        let cam = vec!["cam".to_string()];
        assert!(ListPreferences::mentions("Movie.2019.CAM.x264", &cam));
        assert!(!ListPreferences::mentions("Cameron.Movie.2019.1080p", &cam));
        assert!(ListPreferences::mentions("Film 2019 MULTi FRENCH 1080p", &["french".into()]));
    }
}
