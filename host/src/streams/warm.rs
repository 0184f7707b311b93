//! The warm path's bookkeeping: what is worked out once per search result and reused while it
//! holds. A search result gets a [`Prepared`] form (parsed release names, rendered streams),
//! kept as long as the search result is cached; on it hang the availability memory's answers
//! for its hashes ([`AvailabilityMemo`]) and whole list shapes ([`ListPlan`]), both valid while
//! the memory's generation is unchanged. A warm list is then one lookup of each and the
//! request's own playback URLs.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chillproxy_core::cache::FlightCache;
use chillproxy_core::{Found, InfoHash, MediaQuery};
use chillproxy_stremio::preferences::ListPreferences;

use super::format::PreparedCandidate;
use super::render::Rendered;
use super::request::StreamRequest;
use crate::handle::StreamPart;
use crate::memory::{Availability, AvailabilityMemory, ENTRY_OVERHEAD};

/// What is worked out once per search result: each candidate's parsed release name, the file
/// name its URL ends in when the store names no file, and its rendered variants.
pub(crate) struct Prepared {
    /// Held so the search result's address (the cache key) cannot be reused while this lives.
    pub found: Arc<Found>,
    pub candidates: Vec<PreparedCandidate>,
    /// What the availability memory answered for these hashes (see `availability`).
    pub memos: Mutex<Vec<AvailabilityMemo>>,
    /// List shapes worked out wholly from the availability memory, for reuse while it holds.
    plans: Mutex<Vec<Arc<ListPlan>>>,
    /// The keys of the NZB (usenet) candidates.
    usenet: HashSet<InfoHash>,
    /// Whether this process booked the result's NZBs for playback (`NzbBook::note`).
    pub nzbs_booked: AtomicBool,
}

/// Most memos and plans kept per search result (one per distinct store set and preferences).
pub(crate) const MAX_PLANS: usize = 16;

/// What decides a list's shape besides the search result and the availability memory: the
/// stores the viewer's credentials were granted for (in config order), their preferences, and
/// the title asked for.
pub(crate) struct ListShape<'a> {
    pub codes: Vec<&'a str>,
    /// Per store entry: whether it plays usenet with the viewer's credential.
    pub usenet: Vec<bool>,
    pub request: &'a StreamRequest<'a>,
}

/// A list's shape: which candidate plays from which store with which file, in order, each with
/// its rendered body. Valid for the same [`ListShape`] while the availability memory's
/// generation is `generation` and until `until` (when it came wholly from the memory).
pub(crate) struct ListPlan {
    codes: Vec<String>,
    usenet: Vec<bool>,
    prefs: ListPreferences,
    cached_only: bool,
    media: MediaQuery,
    generation: u64,
    until: Option<Instant>,
    pub entries: Vec<PlanEntry>,
}

pub(crate) struct PlanEntry {
    /// Index of the session (the store entry with a credential) the stream plays from.
    pub session: usize,
    /// Index of the candidate in the search result.
    pub candidate: usize,
    pub rendered: Arc<Rendered>,
    pub file_idx: Option<u64>,
    /// The stream's part of a sealed handle (its hash and file as bytes), made once per plan.
    pub part: StreamPart,
}

impl ListPlan {
    pub fn new(shape: &ListShape<'_>, generation: u64, until: Option<Instant>, entries: Vec<PlanEntry>) -> Self {
        let config = shape.request.config;
        Self {
            codes: shape.codes.iter().map(|c| c.to_string()).collect(),
            usenet: shape.usenet.clone(),
            prefs: config.prefs.clone(),
            cached_only: config.cached,
            media: shape.request.media.clone(),
            generation,
            until,
            entries,
        }
    }

    fn fits(&self, shape: &ListShape<'_>, generation: u64, now: Instant) -> bool {
        let config = shape.request.config;
        self.generation == generation
            && self.until.is_some_and(|until| until > now)
            && self.cached_only == config.cached
            && self.codes.len() == shape.codes.len()
            && self.codes.iter().zip(&shape.codes).all(|(a, b)| a == b)
            && self.usenet == shape.usenet
            && self.prefs == config.prefs
            && self.media == *shape.request.media
    }
}

/// The availability memory's answers for one store and a list of hashes, read when every one
/// was in this process's memory: they hold while the memory's generation is unchanged (no entry
/// added or removed) and until the earliest of them expires.
pub(crate) struct AvailabilityMemo {
    pub store: &'static str,
    pub hashes: Vec<InfoHash>,
    pub generation: u64,
    pub until: Instant,
    pub answers: Vec<Availability>,
}

impl Prepared {
    pub fn new(found: Arc<Found>) -> Self {
        let candidates = found.candidates.iter().map(|candidate| PreparedCandidate::new(&candidate.title)).collect();
        let usenet = found.candidates.iter().filter(|c| c.nzb.is_some()).map(|c| c.hash.clone()).collect();
        Self {
            found,
            candidates,
            memos: Mutex::new(Vec::new()),
            plans: Mutex::new(Vec::new()),
            usenet,
            nzbs_booked: AtomicBool::new(false),
        }
    }

    /// Whether `hash` is the key of an NZB (usenet) candidate.
    pub fn is_usenet(&self, hash: &InfoHash) -> bool {
        self.usenet.contains(hash)
    }

    /// Whether the search result has NZB candidates.
    pub fn has_usenet(&self) -> bool {
        !self.usenet.is_empty()
    }

    /// The kept plan for this shape, if it still holds.
    pub fn plan(&self, shape: &ListShape<'_>, generation: u64) -> Option<Arc<ListPlan>> {
        let now = Instant::now();
        let plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        plans.iter().find(|p| p.fits(shape, generation, now)).cloned()
    }

    /// Keeps `plan` (dropping plans that no longer hold; at most [`MAX_PLANS`]).
    pub fn keep_plan(&self, plan: Arc<ListPlan>) {
        let now = Instant::now();
        let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        plans.retain(|p| p.generation == plan.generation && p.until.is_some_and(|until| until > now));
        if plans.len() < MAX_PLANS {
            plans.push(plan);
        }
    }

    /// Roughly what this holds beyond the search result itself, for the cache's memory bound.
    pub fn weight(&self) -> usize {
        self.candidates.iter().map(PreparedCandidate::weight).sum()
    }
}

/// Prepared forms by the cached search result's address.
pub(crate) type PreparedCache = FlightCache<usize, Arc<Prepared>, ()>;

/// A cache of prepared forms within `[cache]`'s bounds.
pub(crate) fn prepared_cache(limits: chillproxy_core::cache::CacheLimits) -> PreparedCache {
    FlightCache::with_limits(limits, |_, prepared| ENTRY_OVERHEAD + prepared.weight())
}

/// The search result's prepared form (parsed names, rendered streams), made on its first use
/// and kept as long as the search result is cached: keyed by the result's address, which
/// cannot be reused while the entry holds it.
pub(crate) fn prepared(cache: &PreparedCache, found: &Arc<Found>, ttl: Duration) -> Arc<Prepared> {
    let key = Arc::as_ptr(found) as usize;
    if let Some(hit) = cache.get(&key).filter(|p| Arc::ptr_eq(&p.found, found)) {
        return hit;
    }
    let made = Arc::new(Prepared::new(found.clone()));
    cache.insert(key, made.clone(), ttl);
    made
}

/// What the availability memory says of `hashes` on `store`: from the search result's memo
/// when it still holds, else read (and memoised when every answer was in this process's
/// memory, which is what a warm list finds).
pub(crate) async fn remembered(
    memory: &AvailabilityMemory,
    prepared: &Prepared,
    store: &'static str,
    hashes: &[InfoHash],
) -> (Vec<Option<Availability>>, Option<Instant>) {
    let memory = &memory.cache;
    // Read before the answers it vouches for: an insert in between makes the memo stale.
    let generation = memory.local().generation();
    let now = Instant::now();
    {
        let memos = prepared.memos.lock().unwrap_or_else(|p| p.into_inner());
        let held = memos
            .iter()
            .find(|m| m.store == store && m.generation == generation && m.until > now && m.hashes == hashes);
        if let Some(memo) = held {
            memory.local().note_hits(hashes.len());
            return (memo.answers.iter().cloned().map(Some).collect(), Some(memo.until));
        }
    }
    let keys: Vec<_> = hashes.iter().map(|hash| (store, hash.clone())).collect();
    if let Some((answers, until)) = memory.local().get_all(&keys) {
        let mut memos = prepared.memos.lock().unwrap_or_else(|p| p.into_inner());
        memos.retain(|m| m.generation == generation && m.until > now && !(m.store == store && m.hashes == hashes));
        if memos.len() < MAX_PLANS {
            let memo = AvailabilityMemo { store, hashes: hashes.to_vec(), generation, until, answers: answers.clone() };
            memos.push(memo);
        }
        return (answers.into_iter().map(Some).collect(), Some(until));
    }
    (memory.lookup_many(&keys).await, None)
}
