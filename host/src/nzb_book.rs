//! The NZBs behind the usenet releases a stream list offered, by usenet hash, so that playback
//! (which a URL names by its usenet hash only) finds the link to hand the store. The stream list
//! fills it; playback reads it. Values are [`Nzb`]s, which hold **no indexer key** (it is cut out
//! where the candidate is made and put back at playback), so the book is shared across users
//! and, through the shared tier, across replicas (`cp:v1:nzb:<usenet hash>`).

use std::time::Duration;

use chillproxy_core::cache::{FlightCache, SharedCache};
use chillproxy_core::{Found, Nzb, SharedState, UsenetHash};
use serde::{Deserialize, Serialize};

use crate::config::CacheConfig;

/// Fixed cost of one cache entry, on top of what it holds (as the availability memory counts).
const ENTRY_OVERHEAD: usize = 128;

/// How long an NZB a list offered stays playable without listing it again.
const KEEP: Duration = Duration::from_secs(24 * 3600);

/// One NZB as the book keeps it: the keyless NZB and the release title (the download's name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BookedNzb {
    pub nzb: Nzb,
    pub title: String,
}

#[derive(Clone)]
pub(crate) struct NzbBook {
    cache: SharedCache<UsenetHash, BookedNzb, ()>,
}

fn weigh(_: &UsenetHash, booked: &BookedNzb) -> usize {
    ENTRY_OVERHEAD + 64 + booked.nzb.link.len() + booked.title.len()
}

fn shared_part(hash: &UsenetHash) -> String {
    hash.as_str().to_string()
}

impl NzbBook {
    pub fn new(config: &CacheConfig, shared: SharedState) -> Self {
        Self { cache: SharedCache::new(FlightCache::with_limits(config.limits(), weigh), shared, "nzb", shared_part) }
    }

    /// Books the NZBs of `found` this process does not hold yet.
    pub async fn note(&self, found: &Found) {
        let entries: Vec<_> = found
            .candidates
            .iter()
            .filter_map(|c| c.nzb.as_ref().map(|nzb| (nzb, &c.title)))
            .filter(|(nzb, _)| self.cache.get(&nzb.hash).is_none())
            .map(|(nzb, title)| (nzb.hash.clone(), BookedNzb { nzb: nzb.clone(), title: title.clone() }, KEEP))
            .collect();
        if !entries.is_empty() {
            self.cache.insert_many(entries).await;
        }
    }

    /// The NZB a list offered under `hash`, from any replica.
    pub async fn lookup(&self, hash: &UsenetHash) -> Option<BookedNzb> {
        self.cache.lookup(hash).await
    }
}
