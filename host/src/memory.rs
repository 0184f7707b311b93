//! The availability memory: what is known about one (store, hash) from any user, learnt from
//! exact cache checks, playbacks and refusals. It holds no credential, so it is shared across
//! users and, through the shared tier, across replicas. The stream list reads and fills it; so
//! does playback (a resolved release is cached for everyone, a refused one is not offered again).
//! Next to it, the [`NzbBook`]: the keyless NZBs behind the usenet releases the list offered,
//! which playback reads to add them.

use std::time::Duration;

use chillproxy_core::cache::{CacheStats, FlightCache, SharedCache};
use chillproxy_core::{InfoHash, SharedState, StoreFile};
use serde::{Deserialize, Serialize};

use crate::config::CacheConfig;
use crate::nzb_book::NzbBook;

/// What is known about one (store, hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Availability {
    /// The store has it ready (its cache check said so, or it resolved for someone), with its
    /// files when known.
    Cached(Vec<StoreFile>),
    /// The store's exact cache check said it does not have it.
    NotCached,
    /// The store refuses it (content filter, dead torrent): not playable there.
    Refused,
}

/// (store registry name, hash).
pub(crate) type MemoryKey = (&'static str, InfoHash);

/// The memory and how long each kind of answer is believed (`[cache]`).
#[derive(Clone)]
pub(crate) struct AvailabilityMemory {
    pub cache: SharedCache<MemoryKey, Availability, ()>,
    /// "The store has it".
    pub cached_ttl: Duration,
    /// "The store does not have it" (exact checks only).
    pub uncached_ttl: Duration,
    /// "The store refuses it".
    pub refused_ttl: Duration,
    /// The NZBs of the usenet releases listed, by usenet hash.
    pub nzbs: NzbBook,
}

/// Fixed cost of one cache entry (the cache's node, key and bookkeeping), on top of what it holds.
pub(crate) const ENTRY_OVERHEAD: usize = 128;

fn weigh(_: &MemoryKey, known: &Availability) -> usize {
    let files = match known {
        Availability::Cached(files) => files.as_slice(),
        _ => &[],
    };
    ENTRY_OVERHEAD
        + 40
        + files.iter().map(|f| std::mem::size_of::<StoreFile>() + f.name.len() + f.path.len()).sum::<usize>()
}

fn shared_part(key: &MemoryKey) -> String {
    format!("{}:{}", key.0, key.1)
}

impl AvailabilityMemory {
    pub fn new(config: &CacheConfig, shared: SharedState) -> Self {
        Self {
            nzbs: NzbBook::new(config, shared.clone()),
            cache: SharedCache::new(FlightCache::with_limits(config.limits(), weigh), shared, "av", shared_part),
            cached_ttl: Duration::from_secs(config.cached_ttl_s),
            uncached_ttl: Duration::from_secs(config.uncached_ttl_s),
            refused_ttl: Duration::from_secs(config.refused_ttl_s),
        }
    }

    /// The store has `hash` ready, with `files`: for every user.
    pub async fn remember_cached(&self, store: &'static str, hash: InfoHash, files: Vec<StoreFile>) {
        self.cache.insert((store, hash), Availability::Cached(files), self.cached_ttl).await;
    }

    /// The store refuses `hash`: it is not offered there, nor added again.
    pub async fn remember_refused(&self, store: &'static str, hash: InfoHash) {
        self.cache.insert((store, hash), Availability::Refused, self.refused_ttl).await;
    }

    pub fn stats(&self) -> CacheStats {
        self.cache.local().stats()
    }
}
