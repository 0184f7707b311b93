//! The host's in-process caches (DESIGN §6): store availability per (store, hash), source
//! results per title, and resolved playback links. Pool keys are cached by the auth
//! plugin itself.

use std::sync::Arc;
use std::time::Duration;

use chillproxy_core::cache::{CacheLimits, CacheStats, FlightCache};
use chillproxy_core::{
    CachedItem, Candidate, Credential, Found, InfoHash, MediaQuery, StoreError, StoreFile, UserIndexer,
};
use serde::{Deserialize, Serialize};

use crate::playback::PlaybackError;

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
        }
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
        Self {
            media: media.clone(),
            user_indexers: chillproxy_core::secret::fingerprint(material.as_bytes()),
            credential: String::new(),
        }
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

/// One upstream cache check in flight: store, credential fingerprint, fingerprint of the hashes.
pub type CheckKey = (&'static str, String, String);

pub struct Caches {
    pub config: CacheConfig,
    pub availability: FlightCache<(&'static str, InfoHash), Availability, ()>,
    /// Not a cache (nothing is kept): lets concurrent identical cache checks share one call.
    pub checks: FlightCache<CheckKey, Arc<Vec<CachedItem>>, StoreError>,
    pub sources: FlightCache<SourceKey, Arc<Found>, String>,
    pub links: FlightCache<LinkKey, String, PlaybackError>,
    /// Failed resolutions, remembered for `[playback] error_ttl_s` so a player's retries get the
    /// same answer without another upstream call.
    pub failures: FlightCache<LinkKey, PlaybackError, ()>,
}

impl Caches {
    pub fn new(config: CacheConfig) -> Self {
        let limits = CacheLimits {
            max_entries: config.max_entries,
            max_bytes: config.max_memory_mb.saturating_mul(1024 * 1024),
        };
        Self {
            availability: FlightCache::with_limits(limits, weigh_availability),
            // Holds flights only; results are never kept.
            checks: FlightCache::new(config.max_entries),
            sources: FlightCache::with_limits(limits, weigh_sources),
            links: FlightCache::with_limits(limits, weigh_link),
            failures: FlightCache::new(config.max_entries),
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
        [("availability", self.availability.stats()), ("sources", self.sources.stats()), ("links", self.links.stats())]
    }
}
