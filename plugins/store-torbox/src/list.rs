//! The torrents (or usenet downloads) already in a key's account, so that playing one of them
//! costs no `createtorrent` / `createusenetdownload` (TorBox allows 60 an hour per key, and the
//! Chillstreams pool key is one key for many users). One listing per key (by fingerprint), read once for every concurrent lookup,
//! kept `list_ttl_s`, and updated with what this process learns about a torrent (added, polled,
//! gone), so learning it costs no second read.
//!
//! The list is read with `bypass_cache=true`: without it TorBox answers from a copy that it
//! refreshes only every 600 s, which would add torrents the account already has and offer
//! torrents it no longer has. Our own cache is what keeps the reads few.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chillproxy_core::cache::{CacheLimits, FlightCache};
use chillproxy_core::upstream::Method;
use chillproxy_core::{ContentKind, InfoHash, LibraryItem, MagnetStatus, Secret, StoreError};
use serde_json::Value;

use crate::client::{Body, Client, Cost};
use crate::error::STORE;
use crate::reply::{unexpected, Torrent};

/// Reads one entry of a list page; `None` for an entry without an id or hash.
pub(crate) type ParseListed = fn(Value) -> Result<Option<Torrent>, StoreError>;

/// Torrents read per `mylist` page: small enough that a page of torrents with many files stays
/// well under the 2 MiB reply limit.
const PAGE: usize = 500;
/// Pages read at most per listing (5,000 torrents); a torrent past them is found by adding it
/// (TorBox answers with the one it has).
const MAX_PAGES: usize = 10;

/// Keys whose listing is kept, and the memory they may take.
const LIMITS: CacheLimits = CacheLimits { max_entries: 10_000, max_bytes: 64 * 1024 * 1024 };

/// One key's torrents by hash.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    torrents: Mutex<HashMap<InfoHash, Torrent>>,
}

impl Listing {
    fn lock(&self) -> MutexGuard<'_, HashMap<InfoHash, Torrent>> {
        self.torrents.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every key's listing of one list endpoint.
pub(crate) struct Listings {
    cache: FlightCache<String, Arc<Listing>, StoreError>,
    ttl: Duration,
    /// `torrents/mylist` or `usenet/mylist`, and how its entries read.
    endpoint: &'static str,
    parse: ParseListed,
}

impl Listings {
    pub(crate) fn new(ttl: Duration, endpoint: &'static str, parse: ParseListed) -> Self {
        Self { cache: FlightCache::with_limits(LIMITS, weigh), ttl, endpoint, parse }
    }

    /// The torrent with `hash` in `key`'s account, from the listing (read now if it is not
    /// kept, by one read for everyone asking at once).
    pub(crate) async fn find(
        &self,
        client: &Client,
        key: &Secret,
        hash: &InfoHash,
    ) -> Result<Option<Torrent>, StoreError> {
        let (ttl, endpoint, parse) = (self.ttl, self.endpoint, self.parse);
        let (client, owned_key) = (client.clone(), key.clone());
        let listing = self
            .cache
            .get_or_load(
                key.fingerprint(),
                move |r| r.is_ok().then_some(ttl),
                move || read_listing(client, owned_key, endpoint, parse),
            )
            .await?;
        let found = listing.lock().get(hash).cloned();
        Ok(found)
    }

    /// Records what a read of one torrent said, in the key's listing if one is kept.
    pub(crate) fn remember(&self, key: &Secret, torrent: &Torrent) {
        if let Some(listing) = self.cache.get(&key.fingerprint()) {
            listing.lock().insert(torrent.magnet.hash.clone(), torrent.clone());
        }
    }

    /// The torrent is gone from the account.
    pub(crate) fn forget(&self, key: &Secret, hash: &InfoHash) {
        if let Some(listing) = self.cache.get(&key.fingerprint()) {
            listing.lock().remove(hash);
        }
    }

    /// The listing is wrong: the next lookup reads it again.
    pub(crate) fn drop_listing(&self, key: &Secret) {
        self.cache.remove(&key.fingerprint());
    }
}

/// Reads every page of `key`'s list at `endpoint`.
async fn read_listing(
    client: Client,
    key: Secret,
    endpoint: &'static str,
    parse: ParseListed,
) -> Result<Arc<Listing>, StoreError> {
    let mut torrents = HashMap::new();
    let mut ids = HashSet::new();
    let limit = PAGE.to_string();
    for page in 0..MAX_PAGES {
        let offset = (page * PAGE).to_string();
        let query = [("bypass_cache", "true"), ("offset", offset.as_str()), ("limit", limit.as_str())];
        let items = match client.call(&key, Cost::Request, Method::GET, endpoint, &query, Body::Empty).await {
            Ok(Value::Array(items)) => items,
            Ok(Value::Null) | Err(StoreError::NotFound { .. }) => Vec::new(),
            Ok(_) => return Err(unexpected(endpoint)),
            Err(e) => return Err(e),
        };
        let count = items.len();
        for item in items {
            match parse(item) {
                Ok(Some(torrent)) if ids.insert(torrent.magnet.id.clone()) => {
                    torrents.entry(torrent.magnet.hash.clone()).or_insert(torrent);
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(store = STORE, error = %e, "a mylist entry could not be read; skipped"),
            }
        }
        if count < PAGE {
            tracing::debug!(store = STORE, endpoint, items = torrents.len(), pages = page + 1, "torbox list read");
            return Ok(Arc::new(Listing { torrents: Mutex::new(torrents) }));
        }
    }
    tracing::warn!(
        store = STORE,
        torrents = torrents.len(),
        "the account has more torrents than one listing reads; the others are found by adding them"
    );
    Ok(Arc::new(Listing { torrents: Mutex::new(torrents) }))
}

/// Every download of `key`'s account at `endpoint` (`torrents/mylist` or `usenet/mylist`, read
/// by `parse`) as a library item of `kind` (fresh: `bypass_cache=true`), at most [`MAX_PAGES`]
/// pages of [`PAGE`]. A usenet download is filed under [`UsenetHash::key`] of TorBox's hash for
/// it, which is what playback finds it by in the account.
///
/// [`UsenetHash::key`]: chillproxy_core::UsenetHash::key
pub(crate) async fn read_library(
    client: &Client,
    key: &Secret,
    endpoint: &'static str,
    parse: ParseListed,
    kind: ContentKind,
) -> Result<Vec<LibraryItem>, StoreError> {
    let mut items = Vec::new();
    let mut ids = HashSet::new();
    let limit = PAGE.to_string();
    for page in 0..MAX_PAGES {
        let offset = (page * PAGE).to_string();
        let query = [("bypass_cache", "true"), ("offset", offset.as_str()), ("limit", limit.as_str())];
        let listed = match client.call(key, Cost::Request, Method::GET, endpoint, &query, Body::Empty).await {
            Ok(Value::Array(listed)) => listed,
            Ok(Value::Null) | Err(StoreError::NotFound { .. }) => Vec::new(),
            Ok(_) => return Err(unexpected(endpoint)),
            Err(e) => return Err(e),
        };
        let count = listed.len();
        for value in listed {
            let added = value.get("created_at").and_then(Value::as_str).map(str::to_string);
            match parse(value) {
                Ok(Some(torrent)) if ids.insert(torrent.magnet.id.clone()) => {
                    let magnet = torrent.magnet;
                    items.push(LibraryItem {
                        id: magnet.id,
                        hash: magnet.hash,
                        name: magnet.name,
                        size: magnet.size,
                        added,
                        ready: magnet.status == MagnetStatus::Downloaded,
                        files: magnet.files,
                        kind,
                    });
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(store = STORE, error = %e, "a mylist entry could not be read; skipped"),
            }
        }
        if count < PAGE {
            break;
        }
    }
    Ok(items)
}

/// About what a listing holds in memory.
fn weigh(_: &String, listing: &Arc<Listing>) -> usize {
    listing
        .lock()
        .values()
        .map(|t| 256 + t.magnet.files.iter().map(|f| 96 + f.name.len() + f.path.len()).sum::<usize>())
        .sum()
}
