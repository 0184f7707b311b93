//! The host's caches (DESIGN §6): store availability per (store, hash), source results per
//! title, and resolved playback links. Each is this process's memory in front of the shared
//! tier (Redis when `[cache] redis_url` is set, so that replicas share them; see
//! [`chillproxy_core::cache::SharedCache`]). Pool keys are cached by the auth plugin itself and
//! never leave the process.

use std::sync::Arc;
use std::time::Duration;

use chillproxy_core::cache::{CacheLimits, CacheStats, FlightCache, SharedCache};
use chillproxy_core::{
    CachedItem, Candidate, ConfigError, Credential, Found, InfoHash, MediaQuery, Secret, SharedState, StoreError,
    StoreFile, UserIndexer,
};
use serde::{Deserialize, Serialize};

use crate::playback::PlaybackError;
use crate::streams::Prepared;

/// `[cache]`. A missing key takes its value from [`CacheConfig::default`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Most entries per cache.
    pub max_entries: usize,
    /// Most memory per cache, in MiB of estimated entry size (keys, file lists, titles, links).
    /// Each of the host's caches (availability, sources, links) is bounded by both this and
    /// `max_entries`; past either, the least recently used entries go.
    pub max_memory_mb: usize,
    /// How long "the store has this hash cached" is believed.
    pub cached_ttl_s: u64,
    /// How long "the store does not have this hash" is believed (stores with an exact cache
    /// check only).
    pub uncached_ttl_s: u64,
    /// How long "the store refuses this release" (a content filter's HTTP 451, a dead torrent) is
    /// believed: the stream is not offered as playable on that store and never added again.
    pub refused_ttl_s: u64,
    /// How long the candidates for one title are reused.
    pub sources_ttl_s: u64,
    /// How long a generated direct link is reused.
    pub links_ttl_s: u64,
    /// `Cache-Control: max-age` of a stream list with real streams (players and proxies may
    /// reuse it this long; keep it well under `[server] binding_ttl_s`).
    pub list_max_age_s: u64,
    /// `stale-while-revalidate` of a stream list with real streams.
    pub list_stale_while_revalidate_s: u64,
    /// `stale-if-error` of a stream list with real streams.
    pub list_stale_if_error_s: u64,
    /// `max-age` of a list that is only warnings (or empty): short, so a fixed problem shows.
    /// 0 sends `no-store`.
    pub warning_list_max_age_s: u64,
    /// `redis://host:port/db`: several replicas share caches, playback resolutions, budgets
    /// and denials through this Redis (then every replica needs the same `CHILLPROXY_SECRET`).
    /// Unset: everything stays in this process. Env `CHILLPROXY_REDIS_URL` beats it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<Secret>,
    /// Longest wait for one Redis call; past it the call counts as a miss (and a failure).
    pub redis_timeout_ms: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_memory_mb: 64,
            cached_ttl_s: 24 * 3600,
            uncached_ttl_s: 8 * 3600,
            refused_ttl_s: 5 * 24 * 3600,
            sources_ttl_s: 3600,
            links_ttl_s: 3600,
            list_max_age_s: 300,
            list_stale_while_revalidate_s: 600,
            list_stale_if_error_s: 86_400,
            warning_list_max_age_s: 30,
            redis_url: None,
            redis_timeout_ms: 250,
        }
    }
}

/// The shared-state tier `config` asks for: Redis when `redis_url` is set (nothing connects
/// yet: a replica starts whether Redis is up or not), else this process's memory.
pub fn shared_state(config: &CacheConfig) -> Result<SharedState, ConfigError> {
    match config.redis_url.as_ref().filter(|url| !url.is_empty()) {
        Some(url) => {
            let timeout = std::time::Duration::from_millis(config.redis_timeout_ms);
            let tier = crate::redis_tier::RedisTier::new(url.expose(), timeout, config.max_entries as u64)
                .map_err(|e| ConfigError::new(format!("[cache] redis_url is not a Redis URL: {}", e.category())))?;
            Ok(SharedState::new(Arc::new(tier)))
        }
        None => Ok(SharedState::in_process(config.max_entries as u64)),
    }
}

/// What is known about one (store, hash), from any user: the availability memory. It holds no
/// credential, so it can be shared across users and replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// The store has it ready (its cache check said so, or it resolved for someone), with its
    /// files when known.
    Cached(Vec<StoreFile>),
    /// The store's exact cache check said it does not have it.
    NotCached,
    /// The store refuses it (content filter, dead torrent): not playable there.
    Refused,
}

/// Candidates for one title and one set of user indexers, or for one title from one source that
/// searches with the request's credential.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceKey {
    pub media: MediaQuery,
    /// Fingerprint of the user's own indexers (they differ per user; the key is not stored).
    pub user_indexers: String,
    /// Empty for the sources every user shares; `<source>:<credential fingerprint>` for a source
    /// that searches with the request's credential.
    pub credential: String,
}

impl SourceKey {
    pub fn new(media: &MediaQuery, indexers: &[UserIndexer]) -> Self {
        let mut material = String::new();
        for indexer in indexers {
            material.push_str(&indexer.n);
            material.push('\u{1f}');
            material.push_str(&indexer.u);
            material.push('\u{1f}');
            material.push_str(indexer.ak.as_ref().map(|k| k.expose()).unwrap_or_default());
            material.push('\u{1e}');
        }
        // Most configs name no indexer of their own: that fingerprint is the same every time.
        static NONE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let user_indexers = match indexers.is_empty() {
            true => NONE.get_or_init(|| chillproxy_core::secret::fingerprint(b"")).clone(),
            false => chillproxy_core::secret::fingerprint(material.as_bytes()),
        };
        Self { media: media.clone(), user_indexers, credential: String::new() }
    }

    /// The key of one credential-bound source's results (see `SourceProvider::credential_store`).
    pub fn with_credential(media: &MediaQuery, source: &str, credential: &Credential) -> Self {
        Self {
            media: media.clone(),
            user_indexers: String::new(),
            credential: format!("{source}:{}", credential.key.fingerprint()),
        }
    }
}

/// Fixed cost of one cache entry (moka's node, key and bookkeeping), on top of what it holds.
const ENTRY_OVERHEAD: usize = 128;

fn weigh_availability(_: &(&'static str, InfoHash), files: &Availability) -> usize {
    let files = match files {
        Availability::Cached(files) => files.as_slice(),
        _ => &[],
    };
    ENTRY_OVERHEAD
        + 40
        + files.iter().map(|f| std::mem::size_of::<StoreFile>() + f.name.len() + f.path.len()).sum::<usize>()
}

fn weigh_sources(key: &SourceKey, found: &Arc<Found>) -> usize {
    ENTRY_OVERHEAD
        + key.user_indexers.len()
        + key.credential.len()
        + found
            .candidates
            .iter()
            .map(|c| {
                let files = c.files.iter().map(|f| std::mem::size_of::<StoreFile>() + f.name.len() + f.path.len());
                std::mem::size_of::<Candidate>() + 40 + c.title.len() + c.indexer.len() + files.sum::<usize>()
            })
            .sum::<usize>()
        + found.notices.iter().map(|n| 24 + n.len()).sum::<usize>()
}

#[allow(clippy::ptr_arg)] // the weigher's signature is fn(&K, &V), and V is String
fn weigh_link(key: &LinkKey, link: &String) -> usize {
    ENTRY_OVERHEAD + 40 + key.credential.len() + key.file_name.as_ref().map_or(0, String::len) + link.len()
}

/// One playback resolution: same store, credential, hash and file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinkKey {
    pub store: &'static str,
    /// Fingerprint of the credential's key.
    pub credential: String,
    pub hash: InfoHash,
    pub file_idx: Option<u64>,
    pub file_name: Option<String>,
    pub episode: Option<(u32, u32)>,
}

impl LinkKey {
    /// The key's shared form: store, credential fingerprint, hash, and a fingerprint of the
    /// file choice (a file name is not a secret, but it is long).
    pub fn shared_part(&self) -> String {
        let file = format!("{:?}|{:?}|{:?}", self.file_idx, self.file_name, self.episode);
        format!(
            "{}:{}:{}:{}",
            self.store,
            self.credential,
            self.hash,
            &chillproxy_core::secret::fingerprint(file.as_bytes())[..16]
        )
    }
}

fn availability_part(key: &(&'static str, InfoHash)) -> String {
    format!("{}:{}", key.0, key.1)
}

fn sources_part(key: &SourceKey) -> String {
    let media = &key.media;
    let episode = match (media.season, media.episode) {
        (Some(s), Some(e)) => format!("{s}:{e}"),
        _ => "-".to_string(),
    };
    // `credential` is empty, or `<source>:<credential fingerprint>` (never the credential).
    format!("{}:{episode}:{}:{}", media.imdb_id, key.user_indexers, key.credential)
}

/// One upstream cache check in flight: store, credential fingerprint, fingerprint of the hashes.
pub type CheckKey = (&'static str, String, String);

pub struct Caches {
    pub config: CacheConfig,
    pub availability: SharedCache<(&'static str, InfoHash), Availability, ()>,
    /// Not a cache (nothing is kept): lets concurrent identical cache checks share one call.
    pub checks: FlightCache<CheckKey, Arc<Vec<CachedItem>>, StoreError>,
    pub sources: SharedCache<SourceKey, Arc<Found>, String>,
    /// In memory, the flights; in the shared tier, links under `links:` and claims under
    /// `lock:resolve:` (see `playback::resolve_shared`).
    pub links: SharedCache<LinkKey, String, PlaybackError>,
    /// Failed resolutions, remembered for `[playback] error_ttl_s` so a player's retries get the
    /// same answer without another upstream call.
    pub failures: FlightCache<LinkKey, PlaybackError, ()>,
    /// Search results in their prepared form (parsed release names, rendered streams), by the
    /// cached result's address; in this process only (see `streams::prepared`).
    pub prepared: FlightCache<usize, Arc<Prepared>, ()>,
    pub shared: SharedState,
}

impl Caches {
    pub fn new(config: CacheConfig, shared: SharedState) -> Self {
        let limits = CacheLimits {
            max_entries: config.max_entries,
            max_bytes: config.max_memory_mb.saturating_mul(1024 * 1024),
        };
        Self {
            availability: SharedCache::new(
                FlightCache::with_limits(limits, weigh_availability),
                shared.clone(),
                "av",
                availability_part,
            ),
            // Holds flights only; results are never kept.
            checks: FlightCache::new(config.max_entries),
            sources: SharedCache::new(
                FlightCache::with_limits(limits, weigh_sources),
                shared.clone(),
                "src",
                sources_part,
            ),
            links: SharedCache::new(
                FlightCache::with_limits(limits, weigh_link),
                shared.clone(),
                "links",
                LinkKey::shared_part,
            ),
            shared,
            failures: FlightCache::new(config.max_entries),
            prepared: FlightCache::with_limits(limits, |_, prepared| ENTRY_OVERHEAD + prepared.weight()),
            config,
        }
    }

    pub fn cached_ttl(&self) -> Duration {
        Duration::from_secs(self.config.cached_ttl_s)
    }

    pub fn uncached_ttl(&self) -> Duration {
        Duration::from_secs(self.config.uncached_ttl_s)
    }

    pub fn refused_ttl(&self) -> Duration {
        Duration::from_secs(self.config.refused_ttl_s)
    }

    pub fn sources_ttl(&self) -> Duration {
        Duration::from_secs(self.config.sources_ttl_s)
    }

    pub fn links_ttl(&self) -> Duration {
        Duration::from_secs(self.config.links_ttl_s)
    }

    /// (name, stats) of every cache, for metrics.
    pub fn stats(&self) -> [(&'static str, CacheStats); 3] {
        [
            ("availability", self.availability.local().stats()),
            ("sources", self.sources.local().stats()),
            ("links", self.links.local().stats()),
        ]
    }
}
