//! What the library catalog owns: the stores' lists per key (read briefly, through the keys'
//! budgets) and the pooled users' recorded plays. Built once by `AppState::new`; a handler hands
//! it to [`super::catalog`] and [`super::meta`].

use std::sync::Arc;
use std::time::Duration;

use chillproxy_core::cache::FlightCache;
use chillproxy_core::{LibraryItem, StoreError};

use crate::plays::PlayRecords;
use crate::plugins::Plugins;

/// How long a store's list of one key is reused: browsing pages and opening items costs one read.
pub(crate) const LIST_TTL: Duration = Duration::from_secs(60);

/// (store registry name, credential fingerprint).
pub(crate) type ListKey = (&'static str, String);

/// The library's plugins, lists and records. Cheap to clone.
#[derive(Clone)]
pub(crate) struct LibraryContext {
    pub plugins: Arc<Plugins>,
    /// Each key's list, newest first, kept [`LIST_TTL`] (failures are not kept).
    pub lists: FlightCache<ListKey, Arc<Vec<LibraryItem>>, StoreError>,
    /// What each user of a pooled key played.
    pub plays: PlayRecords,
}

impl LibraryContext {
    pub fn new(plugins: Arc<Plugins>, max_entries: usize) -> Self {
        let plays = PlayRecords::new(plugins.shared.clone());
        Self { plugins, lists: FlightCache::new(max_entries), plays }
    }
}
