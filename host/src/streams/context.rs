//! What the stream list owns: the search results per title ([`SourceKey`]), the cache checks in
//! flight, the prepared forms of search results (see `warm`), and the availability memory it
//! shares with playback. Built once by `AppState::new`; a handler hands it to
//! [`super::list_streams`].

use std::sync::Arc;
use std::time::Duration;

use chillproxy_core::cache::{CacheStats, FlightCache, SharedCache};
use chillproxy_core::{
    CachedItem, Candidate, Credential, Found, MediaQuery, SharedState, StoreError, StoreFile, UserIndexer,
};

use super::warm::{prepared_cache, PreparedCache};
use crate::config::CacheConfig;
use crate::memory::{AvailabilityMemory, ENTRY_OVERHEAD};
use crate::plugins::Plugins;

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

    /// The same key for a user who also brings usenet indexers (none: the key is unchanged).
    pub fn with_usenet_indexers(mut self, usenet: &[UserIndexer]) -> Self {
        if !usenet.is_empty() {
            let mut material = self.user_indexers.clone();
            for indexer in usenet {
                material.push('\u{1d}');
                material.push_str(&indexer.n);
                material.push('\u{1f}');
                material.push_str(&indexer.u);
                material.push('\u{1f}');
                material.push_str(indexer.ak.as_ref().map(|k| k.expose()).unwrap_or_default());
            }
            self.user_indexers = chillproxy_core::secret::fingerprint(material.as_bytes());
        }
        self
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

/// The stream list's plugins and caches. Cheap to clone.
#[derive(Clone)]
pub(crate) struct StreamsContext {
    pub plugins: Arc<Plugins>,
    pub memory: AvailabilityMemory,
    /// Search results per title (and user indexers, or credential for credential-bound sources).
    pub sources: SharedCache<SourceKey, Arc<Found>, String>,
    /// Not a cache (nothing is kept): lets concurrent identical cache checks share one call.
    pub checks: FlightCache<CheckKey, Arc<Vec<CachedItem>>, StoreError>,
    /// Search results in their prepared form, in this process only (see `warm`).
    pub prepared: PreparedCache,
    /// How long a search result is reused (`[cache] sources_ttl_s`).
    pub sources_ttl: Duration,
}

impl StreamsContext {
    pub fn new(plugins: Arc<Plugins>, memory: AvailabilityMemory, config: &CacheConfig) -> Self {
        let limits = config.limits();
        let shared: SharedState = plugins.shared.clone();
        Self {
            sources: SharedCache::new(FlightCache::with_limits(limits, weigh_sources), shared, "src", sources_part),
            // Holds flights only; results are never kept.
            checks: FlightCache::new(config.max_entries),
            prepared: prepared_cache(limits),
            sources_ttl: Duration::from_secs(config.sources_ttl_s),
            plugins,
            memory,
        }
    }

    /// (name, stats) of the caches this feature owns, for metrics.
    pub fn cache_stats(&self) -> [(&'static str, CacheStats); 2] {
        [("availability", self.memory.stats()), ("sources", self.sources.local().stats())]
    }
}
