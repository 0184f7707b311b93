//! `[meta]`: where metadata for ids that need it comes from. The Anime Kitsu addon's meta
//! resource gives a `kitsu:` id its titles, year and IMDb mapping, and the episodes of an anime
//! `tt…` id their numbers from the show's start.

use serde::{Deserialize, Serialize};

/// The Anime Kitsu addon Stremio installs by default.
pub const DEFAULT_KITSU_URL: &str = "https://anime-kitsu.strem.fun";

/// `[meta]`. A missing key takes its value from [`MetaConfig::default`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetaConfig {
    /// The Anime Kitsu addon (`GET {kitsu_url}/meta/{type}/kitsu:ID.json`).
    pub kitsu_url: String,
    /// Longest wait for one lookup of a `kitsu:` id, in milliseconds (keep it under the stream
    /// list's budget: the list shows a ⚠️ when it passes).
    pub timeout_ms: u64,
    /// Longest wait of a `tt…:S:E` list for the episode's number from the show's start (anime
    /// released as `- 1085`); past it the list goes on without it, and the lookup finishes in the
    /// background for the next list.
    pub episode_wait_ms: u64,
}

impl Default for MetaConfig {
    fn default() -> Self {
        Self { kitsu_url: DEFAULT_KITSU_URL.to_string(), timeout_ms: 4_000, episode_wait_ms: 1_000 }
    }
}

impl MetaConfig {
    pub fn check(&self) -> Result<(), chillproxy_core::ConfigError> {
        chillproxy_core::upstream::check_base_url("meta", "kitsu_url", &self.kitsu_url)?;
        if !(100..=30_000).contains(&self.timeout_ms) || self.episode_wait_ms > self.timeout_ms {
            return Err(chillproxy_core::ConfigError::new(
                "[meta] timeout_ms must be between 100 and 30000, and episode_wait_ms at most timeout_ms",
            ));
        }
        Ok(())
    }
}
