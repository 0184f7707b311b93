//! The `torznab` source plugin: queries Torznab indexers (Jackett, Prowlarr, Bitmagnet, Zilean)
//! by IMDb id where their caps allow and by title otherwise, reads `.torrent` links for items that
//! name no hash, and parses their RSS. Operator indexers come from `[source.torznab]`, user
//! indexers from the config. Depends on chillproxy-core and chillproxy-stremio only.
//!
//! The indexer API Torznab shares with Newznab (caps, search URLs, error codes, the RSS feed,
//! titles for text searches, back-off) is `chillproxy-indexer-protocol`. Here, leaves first:
//! `torrent` (info hashes from `.torrent` files); `search` (one indexer's search through the
//! shared protocol, and the torrent-only step of reading `.torrent` links); this file (config,
//! merging).

mod search;
mod torrent;

use chillproxy_indexer_protocol as protocol;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chillproxy_core::metrics::{self, Outcome};
use chillproxy_core::upstream::{check_base_url, OutboundPolicy, Upstream, UpstreamOptions, UpstreamSettings};
use chillproxy_core::{
    async_trait, check_config, Candidate, ConfigError, Env, Found, InfoHash, MediaQuery, PluginConfig, PluginContext,
    PluginSettings, Secret, SourceError, SourcePlugin, SourceProvider, SourceQuery, UserIndexer,
};
use serde::{Deserialize, Serialize};

pub use protocol::search::matches_title;
pub use protocol::{
    base32_to_hex, hash_from_magnet, parse_caps, parse_feed, parse_hash, Caps, FeedError, FeedItem, ImdbidForm,
    Indexer, QueryError, SearchFunction, MAX_BODY_BYTES,
};
pub use search::{fetch_torrent, MAX_TORRENT_REDIRECTS, TORRENTS_IN_FLIGHT_PER_SEARCH};
pub use torrent::{parse_torrent, TorrentFile, TorrentInfo};

/// Largest `.torrent` file read.
pub const MAX_TORRENT_BYTES: usize = 2 * 1024 * 1024;
/// `.torrent` files read at once across all searches.
const TORRENTS_IN_FLIGHT: usize = 16;
/// Stremio's Cinemeta, the default metadata addon for titles.
pub const DEFAULT_META_URL: &str = "https://v3-cinemeta.strem.io";

pub const NAME: &str = "torznab";

/// At most this many of the user's own indexers are queried; the rest are ignored.
pub const MAX_USER_INDEXERS: usize = 5;

/// One operator-level indexer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IndexerConfig {
    pub name: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    /// Read the API key from this environment variable instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// How the indexer takes IMDb ids: `auto` (default), `tt`, `digits` or `off`.
    #[serde(default)]
    pub imdbid: ImdbidForm,
}

/// `[source.torznab]`; a key left out takes its value from [`Default`]. No `deny_unknown_fields`:
/// serde does not support it next to `flatten`; [`PluginSettings::parse`] rejects unknown keys
/// instead.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct TorznabConfig {
    /// `timeout_ms` (budget for each indexer query), `connect_timeout_ms`, `max_in_flight`
    /// (indexer queries at once, across all requests), `max_body_bytes` (largest indexer reply
    /// read), `proxy_url`.
    #[serde(flatten, deserialize_with = "UpstreamSettings::with_defaults::<_, TorznabUpstream>")]
    pub upstream: UpstreamSettings,
    pub indexers: Vec<IndexerConfig>,
    /// The Stremio metadata addon that names titles for indexers that search by text only
    /// (default Cinemeta).
    pub meta_url: String,
    /// Budget of one title lookup, in ms (default 3000).
    pub meta_timeout_ms: u64,
    /// How long an indexer that failed is not asked again, in seconds (30–120, default 60). A
    /// 429 pauses it for its `Retry-After` instead.
    pub failure_pause_s: u64,
}

impl Default for TorznabConfig {
    fn default() -> Self {
        Self {
            upstream: UpstreamSettings::defaults::<TorznabUpstream>(),
            indexers: Vec::new(),
            meta_url: DEFAULT_META_URL.to_string(),
            meta_timeout_ms: 3_000,
            failure_pause_s: 60,
        }
    }
}

/// The upstream defaults both indexer plugins share (`chillproxy_indexer_protocol::config`).
pub type TorznabUpstream = protocol::config::IndexerUpstream;

pub use chillproxy_core::settings::MAX_BODY_BYTES_RANGE;

impl TorznabConfig {
    pub fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        let config: Self = settings.parse()?;
        let section = &settings.section;
        protocol::config::check_source_settings(
            settings,
            &config.upstream,
            &config.meta_url,
            config.meta_timeout_ms,
            config.failure_pause_s,
        )?;
        for indexer in &config.indexers {
            protocol::config::check_indexer(
                section,
                &indexer.name,
                &indexer.url,
                indexer.api_key.is_some(),
                indexer.api_key_env.is_some(),
            )?;
        }
        Ok(config)
    }

    /// The operator's indexers with their API keys: `api_key`, or the variable `api_key_env`
    /// names. A variable that is not set is an error naming the variable (never a value).
    pub fn resolve_indexers(&self, section: &str, env: &Env) -> Result<Vec<Indexer>, ConfigError> {
        self.indexers
            .iter()
            .map(|indexer| {
                let api_key = protocol::config::resolve_key(
                    section,
                    &indexer.name,
                    indexer.api_key.as_ref(),
                    indexer.api_key_env.as_deref(),
                    env,
                )?;
                let mut built = Indexer::new(indexer.name.trim().to_string(), &indexer.url, api_key);
                built.imdbid = indexer.imdbid;
                Ok(built)
            })
            .collect()
    }
}

impl PluginConfig for TorznabConfig {
    fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        TorznabConfig::from_settings(settings)
    }
}

fn build(context: &PluginContext<'_>) -> Result<Arc<dyn SourceProvider>, ConfigError> {
    Ok(Arc::new(TorznabSource::new(
        context.settings,
        context.shared.clone(),
        context.outbound.clone(),
        &context.health,
    )?))
}

chillproxy_core::inventory::submit! {
    SourcePlugin {
        name: NAME,
        summary: "Torznab indexers: Jackett, Prowlarr (by IMDb id or by title)",
        searches: "Torznab indexers",
        env: &[],
        check: check_config::<TorznabConfig>,
        build,
    }
}

/// Queries the operator's indexers and the user's own (at most [`MAX_USER_INDEXERS`]) in
/// parallel (bounded by `max_in_flight`), each by id or by title as its caps allow, and merges
/// their results by info hash.
pub struct TorznabSource {
    /// Follows redirects, as it always has: indexer URLs are typed by people, and Jackett or
    /// Prowlarr behind a reverse proxy may redirect (say, to https).
    upstream: Upstream,
    /// The same for users' indexers, under the outbound URL policy (each redirect hop and each
    /// resolved address checked).
    user_upstream: Upstream,
    /// Reads `.torrent` links: redirects are followed by hand (each hop is checked by the
    /// outbound URL policy unless it points back at the operator indexer that listed it, and one
    /// may lead to a magnet), bodies are capped at 2 MiB.
    downloads: search::Downloads,
    indexers: Vec<Indexer>,
    titles: protocol::meta::Titles,
    memory: search::Memory,
}

impl TorznabSource {
    /// With a fresh in-process shared tier and the default outbound policy for user URLs
    /// (public addresses only): tests, a single node.
    pub fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        Self::new(
            settings,
            chillproxy_core::SharedState::default(),
            OutboundPolicy::public_only(),
            &chillproxy_core::health::Health::default(),
        )
    }

    /// Title lookups are shared with other replicas through `shared`; `policy` governs every
    /// URL a user supplies: their indexers, and the `.torrent` links (with their redirects) that
    /// do not point back at the operator indexer that listed them. Each operator indexer reports
    /// to its entry in `health` (by its `name`), the title lookups to torznab's `metadata` one;
    /// users' indexers report nowhere.
    pub fn new(
        settings: &PluginSettings,
        shared: chillproxy_core::SharedState,
        policy: OutboundPolicy,
        health: &chillproxy_core::health::Health,
    ) -> Result<Self, ConfigError> {
        use chillproxy_core::health::Kind;
        let config = TorznabConfig::from_settings(settings)?;
        let section = &settings.section;
        let mut indexers = config.resolve_indexers(section, &settings.env)?;
        for indexer in &mut indexers {
            indexer.health = Some(health.tracker(Kind::Indexer, &indexer.name));
        }
        let built = |e: chillproxy_core::upstream::UpstreamBuildError| ConfigError::new(format!("[{section}] {e}"));
        let trusted = UpstreamOptions { follow_redirects: true, ..UpstreamOptions::default() };
        let policed = UpstreamOptions { follow_redirects: true, outbound: Some(policy.clone()), health: None };
        let upstream = Upstream::new(NAME, None, &config.upstream, trusted).map_err(built)?;
        let user_upstream = Upstream::new(NAME, None, &config.upstream, policed).map_err(built)?;
        let mut download_settings = config.upstream.clone();
        download_settings.max_body_bytes = MAX_TORRENT_BYTES;
        download_settings.max_in_flight = TORRENTS_IN_FLIGHT;
        let downloads = search::Downloads {
            trusted: Upstream::new(NAME, None, &download_settings, UpstreamOptions::default()).map_err(built)?,
            policed: Upstream::new(
                NAME,
                None,
                &download_settings,
                UpstreamOptions { follow_redirects: false, outbound: Some(policy.clone()), health: None },
            )
            .map_err(built)?,
            policy,
        };
        let meta_base = check_base_url(section, "meta_url", &config.meta_url)?;
        let mut meta_settings = config.upstream.clone();
        meta_settings.timeout_ms = config.meta_timeout_ms;
        meta_settings.max_body_bytes = 1024 * 1024;
        let meta_options =
            UpstreamOptions { health: Some(health.tracker(Kind::Metadata, NAME)), ..UpstreamOptions::default() };
        let meta = Upstream::new(NAME, Some(meta_base), &meta_settings, meta_options).map_err(built)?;
        Ok(Self {
            upstream,
            user_upstream,
            downloads,
            indexers,
            titles: protocol::meta::Titles::new(meta, shared),
            memory: search::Memory::new(Duration::from_secs(config.failure_pause_s)),
        })
    }

    /// The operator's indexers' display names, in config order.
    pub fn indexer_names(&self) -> Vec<&str> {
        self.indexers.iter().map(|i| i.name.as_str()).collect()
    }

    async fn query_indexer(
        &self,
        indexer: &Indexer,
        media: &MediaQuery,
        hint: Option<&chillproxy_core::MediaMeta>,
    ) -> Result<search::Answer, protocol::Failure> {
        let started = Instant::now();
        // Never the indexer's name (users name their own): `search` for the operator's indexers,
        // `user_search` for indexers from a user's config.
        let operator = self.indexers.iter().any(|i| std::ptr::eq(i, indexer));
        let operation = if operator { "search" } else { "user_search" };
        let outcome = match &indexer.endpoint {
            Ok(endpoint) => {
                let searcher = search::Searcher {
                    upstream: if operator { &self.upstream } else { &self.user_upstream },
                    downloads: &self.downloads,
                    trusted_origin: operator.then(|| search::origin(endpoint)).flatten(),
                    titles: &self.titles,
                    memory: &self.memory,
                    hint,
                };
                searcher.search(indexer, endpoint, media, operation).await
            }
            Err(reason) => {
                // No call is made, but an unusable URL counts as a failed search, as it always has.
                metrics::record_upstream(NAME, operation, Outcome::Error, started.elapsed());
                Err(protocol::Failure::Failed(reason.clone()))
            }
        };
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match outcome {
            Ok(answer) => {
                tracing::debug!(
                    indexer = %indexer.name,
                    items = answer.returned,
                    usable = answer.items.len(),
                    without_hash = answer.unusable,
                    elapsed_ms,
                    "torznab query answered"
                );
                Ok(answer)
            }
            Err(failure) => {
                let failure = failure.map(|reason| indexer.scrub(reason));
                let reason = failure.reason();
                tracing::warn!(indexer = %indexer.name, %reason, elapsed_ms, "torznab indexer failed; its results are dropped");
                Err(failure)
            }
        }
    }
}

/// A user's indexer. Its display name is `n` (cleaned up), else the URL's host.
fn user_indexer(position: usize, entry: &UserIndexer) -> Indexer {
    let name: String = entry.n.chars().filter(|c| !c.is_control()).take(64).collect();
    let name = name.trim();
    let name = if name.is_empty() {
        protocol::host_of(&entry.u).unwrap_or_else(|| format!("user indexer {}", position + 1))
    } else {
        name.to_string()
    };
    Indexer::new(name, &entry.u, entry.ak.clone())
}

fn is_imdb_id(id: &str) -> bool {
    id.strip_prefix("tt")
        .is_some_and(|digits| !digits.is_empty() && digits.len() <= 12 && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Merges the indexers' items by info hash, keeping the entry with the most seeders (the
/// first one on a tie) and filling in a missing size from the others. Items without a hash
/// are dropped. The order is that of first appearance.
fn merge<'a>(results: impl IntoIterator<Item = (&'a str, Vec<FeedItem>)>) -> Vec<Candidate> {
    let mut position: HashMap<InfoHash, usize> = HashMap::new();
    let mut merged: Vec<Candidate> = Vec::new();
    for (indexer, items) in results {
        for item in items {
            let Some(hash) = item.hash else { continue };
            let candidate = Candidate {
                hash,
                title: item.title,
                size: item.size,
                seeders: item.seeders,
                indexer: indexer.to_string(),
                files: Vec::new(),
                file_idx: None,
                cached_on: Vec::new(),
                nzb: None,
            };
            match position.get(&candidate.hash) {
                Some(&at) => {
                    let kept = &mut merged[at];
                    if candidate.seeders > kept.seeders {
                        let size = candidate.size.or(kept.size);
                        *kept = Candidate { size, ..candidate };
                    } else if kept.size.is_none() {
                        kept.size = candidate.size;
                    }
                }
                None => {
                    position.insert(candidate.hash.clone(), merged.len());
                    merged.push(candidate);
                }
            }
        }
    }
    merged
}

#[async_trait]
impl SourceProvider for TorznabSource {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn search(&self, query: &SourceQuery<'_>) -> Result<Found, SourceError> {
        let media = query.media;
        // A Kitsu id the metadata maps to no IMDb id is searched by its titles.
        let by_title = media.kitsu_id.is_some() && query.meta.is_some();
        if !is_imdb_id(&media.imdb_id) && !by_title {
            return Err(SourceError::InvalidInput {
                source_name: NAME.to_string(),
                message: "the IMDb id must be `tt` followed by digits".to_string(),
            });
        }
        let given: Vec<&UserIndexer> = query.user_indexers.iter().filter(|u| !u.u.trim().is_empty()).collect();
        if given.len() > MAX_USER_INDEXERS {
            tracing::debug!(given = given.len(), used = MAX_USER_INDEXERS, "ignoring user indexers past the limit");
        }
        let user: Vec<Indexer> =
            given.iter().take(MAX_USER_INDEXERS).enumerate().map(|(i, entry)| user_indexer(i, entry)).collect();
        let indexers: Vec<&Indexer> = self.indexers.iter().chain(user.iter()).collect();
        if indexers.is_empty() {
            return Err(SourceError::InvalidInput {
                source_name: NAME.to_string(),
                message: "no indexers configured: add a Torznab indexer to your config".to_string(),
            });
        }

        let outcomes =
            futures::future::join_all(indexers.iter().map(|indexer| self.query_indexer(indexer, media, query.meta)))
                .await;

        let mut answered = Vec::new();
        let mut failures = Vec::new();
        let mut notices = Vec::new();
        for (indexer, outcome) in indexers.iter().zip(outcomes) {
            match outcome {
                Ok(answer) => {
                    if answer.returned > 0 && answer.items.is_empty() && answer.unusable > 0 {
                        notices.push(format!(
                            "{} returned {} results, but none could be used: {} had no info hash and their .torrent links could not be read.",
                            indexer.name, answer.returned, answer.unusable
                        ));
                    }
                    answered.push((indexer.name.as_str(), answer.items));
                }
                Err(failure) => {
                    match &failure {
                        protocol::Failure::NoTitle(reason) => {
                            notices.push(format!("{} was skipped: {reason}.", indexer.name));
                        }
                        // A user's indexer (or its redirect) aimed at the server's own network.
                        protocol::Failure::Refused(reason) => {
                            notices.push(format!("{} was not searched: {reason}.", indexer.name));
                        }
                        protocol::Failure::Failed(_) => {}
                    }
                    failures.push(format!("{}: {}", indexer.name, failure.reason()));
                }
            }
        }
        if answered.is_empty() {
            let message = if failures.len() == 1 {
                format!("the only indexer failed: {}", failures.join(""))
            } else {
                format!("all {} indexers failed: {}", failures.len(), failures.join("; "))
            };
            return Err(SourceError::Upstream { source_name: NAME.to_string(), message });
        }
        Ok(Found { candidates: merge(answered), notices })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(hash: &str, title: &str, size: Option<u64>, seeders: Option<u32>) -> FeedItem {
        FeedItem {
            title: title.to_string(),
            hash: InfoHash::parse(hash),
            size,
            seeders,
            peers: None,
            ..FeedItem::default()
        }
    }

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn merge_keeps_most_seeders_and_fills_size() {
        let merged = merge([
            (
                "one",
                vec![item(A, "a1", None, Some(5)), item(B, "b1", Some(10), Some(9)), item("x", "nohash", None, None)],
            ),
            ("two", vec![item(A, "a2", Some(7), Some(50)), item(B, "b2", None, Some(9))]),
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(
            (merged[0].title.as_str(), merged[0].indexer.as_str(), merged[0].size, merged[0].seeders),
            ("a2", "two", Some(7), Some(50))
        );
        assert_eq!((merged[1].title.as_str(), merged[1].indexer.as_str(), merged[1].size), ("b1", "one", Some(10)));
    }

    #[test]
    fn merge_prefers_known_seeders_over_unknown() {
        let merged = merge([("one", vec![item(A, "a1", Some(1), None)]), ("two", vec![item(A, "a2", None, Some(0))])]);
        assert_eq!((merged[0].indexer.as_str(), merged[0].size), ("two", Some(1)));
    }

    #[test]
    fn imdb_ids() {
        assert!(is_imdb_id("tt0111161"));
        assert!(!is_imdb_id("tt"));
        assert!(!is_imdb_id("0111161"));
        assert!(!is_imdb_id("tt01x"));
        assert!(!is_imdb_id("tt0111161&t=search"));
    }

    #[test]
    fn user_indexer_names() {
        let entry = UserIndexer { n: " jackett\n".to_string(), u: "http://h:9117/x".to_string(), ak: None };
        assert_eq!(user_indexer(0, &entry).name, "jackett");
        let entry = UserIndexer { n: String::new(), u: "http://prowlarr.lan:9696/1".to_string(), ak: None };
        assert_eq!(user_indexer(0, &entry).name, "prowlarr.lan");
        let entry = UserIndexer { n: String::new(), u: "nonsense".to_string(), ak: None };
        let indexer = user_indexer(2, &entry);
        assert_eq!(indexer.name, "user indexer 3");
        assert!(indexer.endpoint.is_err());
    }

    fn settings(toml_text: &str, env: &[(&str, &str)]) -> PluginSettings {
        PluginSettings::new("source.torznab", toml::from_str(toml_text).unwrap(), Env::from_pairs(env.iter().copied()))
    }

    #[test]
    fn config_errors() {
        let err = TorznabSource::from_settings(&settings(
            "indexers = [{ name = 'p', url = 'http://h/x', api_key_env = 'PROWLARR_KEY' }]",
            &[],
        ))
        .err()
        .unwrap();
        assert!(err.0.contains("PROWLARR_KEY") && err.0.contains("not set"), "{err}");
        let ok = TorznabSource::from_settings(&settings(
            "indexers = [{ name = 'p', url = 'http://h/x', api_key_env = 'PROWLARR_KEY' }]",
            &[("PROWLARR_KEY", "s3cret")],
        ))
        .unwrap();
        assert_eq!(ok.indexers[0].api_key.as_ref().unwrap().expose(), "s3cret");
        assert_eq!(ok.indexer_names(), vec!["p"]);

        let both = "indexers = [{ name = 'p', url = 'http://h/x', api_key = 'a', api_key_env = 'B' }]";
        assert!(TorznabConfig::from_settings(&settings(both, &[])).unwrap_err().0.contains("not both"));
        let nameless = "indexers = [{ name = ' ', url = 'http://h/x' }]";
        assert!(TorznabConfig::from_settings(&settings(nameless, &[])).unwrap_err().0.contains("name"));
        let bad_url = "indexers = [{ name = 'p', url = 'ftp://h/x', api_key = 'zzz' }]";
        let err = TorznabConfig::from_settings(&settings(bad_url, &[])).unwrap_err();
        assert!(err.0.contains("\"p\"") && !err.0.contains("zzz"), "{err}");
        let slow = "timeout_ms = 60001";
        assert!(TorznabConfig::from_settings(&settings(slow, &[])).unwrap_err().0.contains("timeout_ms"));
        assert_eq!(TorznabConfig::from_settings(&settings("", &[])).unwrap().upstream.max_body_bytes, MAX_BODY_BYTES);
        for bad in ["max_body_bytes = 1023", "max_body_bytes = 67108865"] {
            let err = TorznabConfig::from_settings(&settings(bad, &[])).unwrap_err();
            assert!(err.0.contains("max_body_bytes must be between 1024 and 67108864"), "{err}");
        }
        assert_eq!(
            TorznabConfig::from_settings(&settings("max_body_bytes = 1024", &[])).unwrap().upstream.max_body_bytes,
            1024
        );
    }

    #[test]
    fn keys_left_out_take_the_defaults() {
        let empty = TorznabConfig::from_settings(&settings("", &[])).unwrap();
        let table = |config: &TorznabConfig| toml::Table::try_from(config).unwrap();
        assert_eq!(table(&empty), table(&TorznabConfig::default()));
        assert_eq!(
            (empty.meta_url.as_str(), empty.meta_timeout_ms, empty.failure_pause_s, empty.indexers.len()),
            (DEFAULT_META_URL, 3_000, 60, 0)
        );
        assert_eq!((empty.upstream.timeout_ms, empty.upstream.connect_timeout_ms), (10_000, 5_000));
        assert_eq!(empty.upstream.max_in_flight, 128);
        let some = TorznabConfig::from_settings(&settings("failure_pause_s = 30", &[])).unwrap();
        assert_eq!((some.failure_pause_s, some.meta_timeout_ms), (30, 3_000));
    }

    #[test]
    fn effective_config_redacts_the_key() {
        let table = check_config::<TorznabConfig>(&settings(
            "indexers = [{ name = 'p', url = 'http://h/x', api_key = 'zzz' }]",
            &[],
        ))
        .unwrap();
        let printed = table.to_string();
        assert!(!printed.contains("zzz") && printed.contains("[redacted]"), "{printed}");
    }
}
