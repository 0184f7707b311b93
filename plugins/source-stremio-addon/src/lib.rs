//! The `stremio-addon` source plugin: reads the stream lists of Stremio addons the operator names
//! (`[source.stremio-addon] addons = [{ name, url = "https://…/manifest.json" }]`) and takes the
//! streams that carry an `infoHash` as candidates, with the file the addon meant. It sends an
//! addon nothing but the path `/stream/{type}/{id}.json`: never a user's config or key. Lists are
//! kept per addon and title as long as the addon says (`Cache-Control`, else `cacheMaxAge`), and
//! calls to each addon are held to a per-minute budget. Depends on chillproxy-core only.

mod streams;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chillproxy_core::source_cache::{CallBudget, Lifetimes, SourceCache, SourceFailure};
use chillproxy_core::upstream::{check_base_url, Upstream, UpstreamDefaults, UpstreamOptions, UpstreamSettings, Url};
use chillproxy_core::{
    async_trait, check_config, Candidate, ConfigError, Found, MediaKind, MediaQuery, PluginConfig, PluginContext,
    PluginSettings, SourceError, SourcePlugin, SourceProvider, SourceQuery,
};
use futures::future::join_all;
use serde::{Deserialize, Serialize};

pub use streams::{list_streams, parse_size, read_streams, AddonTorrent, StreamList};

pub const NAME: &str = "stremio-addon";

/// A list is kept at least this long whatever the addon says, and at most [`MAX_TTL`].
pub const MIN_TTL: Duration = Duration::from_secs(60);
pub const MAX_TTL: Duration = Duration::from_secs(6 * 3600);
/// Kept this long when the addon says nothing.
pub const DEFAULT_TTL: Duration = Duration::from_secs(1800);
/// A failed list is remembered this long.
pub const FAILURE_TTL: Duration = Duration::from_secs(60);

/// One addon, as the operator names it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AddonConfig {
    /// Shown to users as the candidates' indexer.
    pub name: String,
    /// The addon's manifest URL (`https://…/manifest.json`); streams are read beside it.
    pub url: String,
}

/// `[source.stremio-addon]`; a key left out takes its value from [`Default`]. No
/// `deny_unknown_fields` next to `flatten`; [`PluginSettings::parse`] rejects unknown keys
/// instead.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct StremioAddonConfig {
    pub addons: Vec<AddonConfig>,
    /// `timeout_ms` (default 5000), `connect_timeout_ms` (3000), `max_in_flight` (32),
    /// `max_body_bytes` (4 MiB), `proxy_url`.
    #[serde(flatten, deserialize_with = "UpstreamSettings::with_defaults::<_, AddonUpstream>")]
    pub upstream: UpstreamSettings,
    /// Most calls to each addon per minute from this server (1–6000, default 60).
    pub requests_per_minute: u64,
}

impl Default for StremioAddonConfig {
    fn default() -> Self {
        Self { addons: Vec::new(), upstream: UpstreamSettings::defaults::<AddonUpstream>(), requests_per_minute: 60 }
    }
}

pub struct AddonUpstream;

impl UpstreamDefaults for AddonUpstream {
    const TIMEOUT_MS: u64 = 5_000;
    const CONNECT_TIMEOUT_MS: Option<u64> = Some(3_000);
    const MAX_IN_FLIGHT: usize = 32;
    const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
}

/// The addon's base: its manifest URL without `/manifest.json`.
fn addon_base(section: &str, addon: &AddonConfig) -> Result<String, ConfigError> {
    let name = addon.name.trim();
    if name.is_empty() {
        return Err(ConfigError::new(format!("[{section}] every addon needs a name")));
    }
    let url = addon.url.trim();
    let Some(base) = url.strip_suffix("/manifest.json") else {
        return Err(ConfigError::new(format!("[{section}] addon {name:?}: url must end with /manifest.json")));
    };
    let base = check_base_url(section, "addons", base)?;
    Ok(base.as_str().to_string())
}

impl PluginConfig for StremioAddonConfig {
    fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        let config: Self = settings.parse()?;
        let section = &settings.section;
        config.upstream.check(settings, 100..=60_000)?;
        if !(1..=6_000).contains(&config.requests_per_minute) {
            return Err(ConfigError::new(format!("[{section}] requests_per_minute must be between 1 and 6000")));
        }
        for addon in &config.addons {
            addon_base(section, addon)?;
        }
        Ok(config)
    }
}

fn build(context: &PluginContext<'_>) -> Result<Arc<dyn SourceProvider>, ConfigError> {
    let section = &context.settings.section;
    let config = StremioAddonConfig::from_settings(context.settings)?;
    let upstream = Upstream::new(NAME, None, &config.upstream, UpstreamOptions::default())
        .map_err(|e| ConfigError::new(format!("[{section}] {e}")))?;
    let addons = config
        .addons
        .iter()
        .map(|a| {
            let base = addon_base(section, a)?;
            let budget = CallBudget::per_minute(context.shared.clone(), NAME, &base, config.requests_per_minute);
            let name = a.name.trim().to_string();
            let tracker = context.health.tracker(chillproxy_core::health::Kind::Addon, &name);
            Ok(Addon { name, base, budget, tracker })
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    Ok(Arc::new(StremioAddonSource { upstream, addons, lists: SourceCache::new(20_000, LIFETIMES) }))
}

chillproxy_core::inventory::submit! {
    SourcePlugin {
        name: NAME,
        summary: "torrents from the streams of Stremio addons the operator names",
        searches: "Stremio addons",
        env: &[],
        check: check_config::<StremioAddonConfig>,
        build,
    }
}

struct Addon {
    name: String,
    base: String,
    /// Its own budget, named by a fingerprint of its URL (which may carry its config).
    budget: CallBudget,
    /// Its entry in the server's health registry, by the operator's name for it.
    tracker: chillproxy_core::health::Tracker,
}

type Listed = Result<Arc<Vec<AddonTorrent>>, SourceFailure>;

/// How long lists and failed lists are kept.
const LIFETIMES: Lifetimes = Lifetimes { default: DEFAULT_TTL, min: MIN_TTL, max: MAX_TTL, failure: FAILURE_TTL };

pub struct StremioAddonSource {
    upstream: Upstream,
    addons: Vec<Addon>,
    /// (addon index, stream path) → the list.
    lists: SourceCache<(usize, String), Arc<Vec<AddonTorrent>>>,
}

/// `/stream/{type}/{id}.json` for the media.
fn stream_path(media: &MediaQuery) -> String {
    let kind = match media.kind {
        MediaKind::Movie => "movie",
        MediaKind::Series => "series",
    };
    match (media.imdb(), media.kitsu_id, media.season, media.episode) {
        (Some(imdb), _, Some(s), Some(e)) => format!("/stream/{kind}/{imdb}:{s}:{e}.json"),
        // A Kitsu id that maps to no IMDb episode: as Stremio asked (Torrentio takes them).
        (None, Some(kitsu), _, _) => match media.absolute_episode {
            Some(episode) => format!("/stream/{kind}/kitsu:{kitsu}:{episode}.json"),
            None => format!("/stream/{kind}/kitsu:{kitsu}.json"),
        },
        _ => format!("/stream/{kind}/{}.json", media.imdb_id),
    }
}

impl StremioAddonSource {
    async fn list(&self, index: usize, path: &str) -> Listed {
        let addon = &self.addons[index];
        let upstream = self.upstream.clone();
        let tracker = addon.tracker.clone();
        let url = Url::parse(&format!("{}{path}", addon.base));
        self.lists
            .get_or_load((index, path.to_string()), Some(addon.budget.clone()), move || async move {
                let url = url.map_err(|_| SourceFailure::new("the stream URL is not valid"))?;
                let list = list_streams(&upstream, url, Some(&tracker)).await?;
                Ok((Arc::new(list.torrents), list.max_age))
            })
            .await
    }
}

#[async_trait]
impl SourceProvider for StremioAddonSource {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Every addon in parallel; a failing addon is a notice, the search fails only when every
    /// addon failed. The user's own indexers are never sent.
    async fn search(&self, query: &SourceQuery<'_>) -> Result<Found, SourceError> {
        if self.addons.is_empty() {
            return Ok(Found::default());
        }
        let path = stream_path(query.media);
        let results = join_all((0..self.addons.len()).map(|i| self.list(i, &path))).await;
        let mut merged: HashMap<_, Candidate> = HashMap::new();
        let mut failures = Vec::new();
        for (addon, result) in self.addons.iter().zip(results) {
            match result {
                Ok(torrents) => {
                    for t in torrents.iter() {
                        let candidate = Candidate {
                            hash: t.hash.clone(),
                            title: t.title.clone(),
                            size: t.size,
                            seeders: t.seeders,
                            indexer: addon.name.clone(),
                            files: Vec::new(),
                            file_idx: t.file_idx,
                            cached_on: Vec::new(),
                            nzb: None,
                        };
                        match merged.get(&t.hash) {
                            Some(existing) if existing.seeders >= candidate.seeders => {}
                            _ => {
                                merged.insert(t.hash.clone(), candidate);
                            }
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(source = NAME, addon = %addon.name, error = %error.message, "addon failed");
                    failures.push(format!("{} failed: {}", addon.name, error.message));
                }
            }
        }
        if failures.len() == self.addons.len() {
            return Err(SourceError::Upstream { source_name: "Stremio addons".into(), message: failures.join("; ") });
        }
        Ok(Found { candidates: merged.into_values().collect(), notices: failures })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chillproxy_core::Env;

    fn settings(text: &str) -> PluginSettings {
        PluginSettings::new("source.stremio-addon", toml::from_str(text).unwrap(), Env::default())
    }

    #[test]
    fn addon_urls_must_be_manifests() {
        let ok = StremioAddonConfig::from_settings(&settings(
            "addons = [{ name = 'Torrentio', url = 'https://torrentio.example/manifest.json' }]",
        ))
        .unwrap();
        assert_eq!(addon_base("s", &ok.addons[0]).unwrap(), "https://torrentio.example");
        let bad = StremioAddonConfig::from_settings(&settings("addons = [{ name = 'X', url = 'https://x.example/' }]"));
        assert!(bad.unwrap_err().to_string().contains("must end with /manifest.json"));
    }

    #[test]
    fn keys_left_out_take_the_defaults() {
        let empty = StremioAddonConfig::from_settings(&settings("")).unwrap();
        let table = |config: &StremioAddonConfig| toml::Table::try_from(config).unwrap();
        assert_eq!(table(&empty), table(&StremioAddonConfig::default()));
        assert!(empty.addons.is_empty());
        assert_eq!(empty.requests_per_minute, 60);
        assert_eq!((empty.upstream.timeout_ms, empty.upstream.max_in_flight), (5_000, 32));
        let some = StremioAddonConfig::from_settings(&settings("max_in_flight = 4")).unwrap();
        assert_eq!((some.requests_per_minute, some.upstream.max_in_flight), (60, 4));
    }

    #[test]
    fn stream_paths() {
        let episode = MediaQuery::episode("tt0903747", 1, 3);
        assert_eq!(stream_path(&episode), "/stream/series/tt0903747:1:3.json");
        let movie = MediaQuery::movie("tt0111161");
        assert_eq!(stream_path(&movie), "/stream/movie/tt0111161.json");
        let kitsu = MediaQuery { kitsu_id: Some(46474), absolute_episode: Some(8), ..episode.clone() };
        assert_eq!(stream_path(&kitsu), "/stream/series/tt0903747:1:3.json", "mapped: the IMDb episode");
        let unmapped = MediaQuery { imdb_id: String::new(), season: None, episode: None, ..kitsu };
        assert_eq!(stream_path(&unmapped), "/stream/series/kitsu:46474:8.json");
    }
}
