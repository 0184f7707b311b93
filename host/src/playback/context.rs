//! What playback owns: resolved links and remembered failures per resolution ([`LinkKey`]), its
//! `[playback]` settings, where usage goes, and the availability memory it shares with the stream
//! list. Built once by `AppState::new`; a handler hands it to [`super::resolve_link`].

use std::sync::Arc;
use std::time::Duration;

use chillproxy_core::cache::{CacheStats, FlightCache, SharedCache};
use chillproxy_core::{Credential, InfoHash, UsageEvent};
use chillproxy_usage::UsageSpool;

use super::error::PlaybackError;
use crate::config::{CacheConfig, PlaybackConfig};
use crate::memory::{AvailabilityMemory, ENTRY_OVERHEAD};
use crate::plays::PlayRecords;
use crate::plugins::Plugins;
use crate::titles::{NoTitles, Titles};

/// Where usage events go (the durable spool in production; a list in unit tests).
pub(crate) trait UsageSink: Send + Sync {
    fn record(&self, credential: &Credential, event: &UsageEvent);
}

impl UsageSink for UsageSpool {
    fn record(&self, credential: &Credential, event: &UsageEvent) {
        UsageSpool::record(self, credential, event);
    }
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

#[allow(clippy::ptr_arg)] // the weigher's signature is fn(&K, &V), and V is String
fn weigh_link(key: &LinkKey, link: &String) -> usize {
    ENTRY_OVERHEAD + 40 + key.credential.len() + key.file_name.as_ref().map_or(0, String::len) + link.len()
}

/// Playback's plugins, caches and settings. Cheap to clone.
#[derive(Clone)]
pub(crate) struct PlaybackContext {
    pub plugins: Arc<Plugins>,
    pub memory: AvailabilityMemory,
    /// In memory, the flights; in the shared tier, links under `links:` and claims under
    /// `lock:resolve:` (see `replicas`).
    pub links: SharedCache<LinkKey, String, PlaybackError>,
    /// Failed resolutions, remembered for `[playback] error_ttl_s` so a player's retries get the
    /// same answer without another upstream call.
    pub failures: FlightCache<LinkKey, PlaybackError, ()>,
    /// How long a generated link is reused (`[cache] links_ttl_s`).
    pub links_ttl: Duration,
    pub settings: PlaybackConfig,
    pub usage: Arc<dyn UsageSink>,
    /// The stream list's search results, read only: where failover finds other releases.
    pub titles: Titles,
    /// What each user of a pooled key played (their library), and the plays recorded lately by
    /// this process (user fingerprint and hash), so a player's retries are not recorded again.
    pub plays: PlayRecords,
    pub recorded: FlightCache<(String, InfoHash), (), ()>,
}

impl PlaybackContext {
    pub fn new(
        plugins: Arc<Plugins>,
        memory: AvailabilityMemory,
        cache: &CacheConfig,
        settings: PlaybackConfig,
        usage: Arc<dyn UsageSink>,
    ) -> Self {
        let shared = plugins.shared.clone();
        let plays = PlayRecords::new(shared.clone());
        Self {
            links: SharedCache::new(
                FlightCache::with_limits(cache.limits(), weigh_link),
                shared,
                "links",
                LinkKey::shared_part,
            ),
            failures: FlightCache::new(cache.max_entries),
            links_ttl: Duration::from_secs(cache.links_ttl_s),
            plugins,
            memory,
            settings,
            usage,
            titles: Arc::new(NoTitles),
            plays,
            recorded: FlightCache::new(cache.max_entries),
        }
    }

    /// Reads the title's search results through `titles` (failover's candidates).
    pub fn with_titles(mut self, titles: Titles) -> Self {
        self.titles = titles;
        self
    }

    /// (name, stats) of the caches this feature owns, for metrics.
    pub fn cache_stats(&self) -> [(&'static str, CacheStats); 1] {
        [("links", self.links.local().stats())]
    }

    /// How long playback waits for a download before answering "still downloading".
    pub fn wait(&self) -> Duration {
        Duration::from_millis(self.settings.wait_ms)
    }

    /// How often a download's status is read while waiting.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.settings.poll_interval_ms)
    }
}
