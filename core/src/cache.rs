//! An in-process TTL cache with single-flight loading: concurrent misses for one key share one
//! load, and the loader decides per result how long (if at all) it is kept.
//!
//! Two rules keep it safe under clients that hang up (issue 9):
//! - **A load runs on its own task.** Waiters only hold a handle on it. When every waiter goes
//!   away (a Stremio client closed its socket), the load still runs to its end under its own
//!   deadline, releases whatever it holds (in-flight permits, locks) and fills the cache for the
//!   next request. Nothing is ever held by a future that nobody polls.
//! - **Storage and eviction are `moka`'s** (LRU with O(1) amortised eviction), bounded
//!   by entries *and* by estimated bytes: each entry weighs `max(its size, max_bytes /
//!   max_entries)`, so neither bound can be exceeded. No full scan ever happens on the request
//!   path.
//!
//! moka's own single-flight loaders (`get_with`) run the load on the caller's task and cancel it
//! with that caller; we want the opposite (every flight in chillproxy is bounded by its own
//! timeout, and its result is useful to the next viewer), so flights are a small map of spawned
//! tasks next to the moka store.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::SharedState;

type Flight<V, E> = Shared<BoxFuture<'static, Result<V, E>>>;

/// Estimated heap size of a cache entry, in bytes (key and value). An estimate, used for the
/// memory bound; it should err on the large side.
pub type Weigher<K, V> = fn(&K, &V) -> usize;

/// How big a cache may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// Most entries held.
    pub max_entries: usize,
    /// Most estimated bytes held (entries and values, as the weigher counts them).
    pub max_bytes: usize,
}

impl CacheLimits {
    /// Only an entry bound; the byte bound is what `max_entries` entries of 4 KiB would take.
    pub fn entries(max_entries: usize) -> Self {
        Self { max_entries, max_bytes: max_entries.saturating_mul(4096) }
    }
}

#[derive(Clone)]
struct Stored<V> {
    value: V,
    expires: Instant,
    /// Time to live at insertion, read by moka's per-entry expiry.
    ttl: Duration,
}

struct PerEntryTtl;

impl<K, V> moka::Expiry<K, Stored<V>> for PerEntryTtl {
    fn expire_after_create(&self, _key: &K, value: &Stored<V>, _created_at: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &K,
        value: &Stored<V>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Hit/miss counters, for metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub shared: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    shared: AtomicU64,
}

struct Flights<K, V, E> {
    running: HashMap<K, (u64, Flight<V, E>)>,
    next_generation: u64,
}

/// A TTL cache whose loads are shared by concurrent callers. Cheap to clone (one shared store).
pub struct FlightCache<K, V, E> {
    store: moka::sync::Cache<K, Stored<V>>,
    flights: Arc<Mutex<Flights<K, V, E>>>,
    stats: Arc<Counters>,
    limits: CacheLimits,
    /// Changes on every insert and removal: a caller that kept answers read at one generation
    /// knows they still hold while it is unchanged (and none has expired).
    generation: Arc<AtomicU64>,
}

impl<K, V, E> Clone for FlightCache<K, V, E> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            flights: self.flights.clone(),
            stats: self.stats.clone(),
            limits: self.limits,
            generation: self.generation.clone(),
        }
    }
}

impl<K, V, E> FlightCache<K, V, E>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    /// A cache holding at most `capacity` entries of typical size.
    pub fn new(capacity: usize) -> Self {
        Self::with_limits(CacheLimits::entries(capacity), |_, _| 0)
    }

    /// A cache bounded by entries and by the bytes `weigher` estimates. Past either bound, moka
    /// evicts the entries least likely to be used again.
    pub fn with_limits(limits: CacheLimits, weigher: Weigher<K, V>) -> Self {
        let max_entries = limits.max_entries.max(1);
        let max_bytes = limits.max_bytes.max(max_entries);
        // Every entry weighs at least max_bytes / max_entries, so at most max_entries fit.
        let floor = (max_bytes / max_entries).max(1);
        let store = moka::sync::Cache::builder()
            .max_capacity(max_bytes as u64)
            // Plain LRU: a title looked up a minute ago must still hit. TinyLFU's admission
            // filter would refuse new entries once the cache is full of one-hit titles.
            .eviction_policy(moka::policy::EvictionPolicy::lru())
            .weigher(move |key: &K, stored: &Stored<V>| {
                let size = weigher(key, &stored.value).max(floor);
                u32::try_from(size).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        Self {
            store,
            flights: Arc::new(Mutex::new(Flights { running: HashMap::new(), next_generation: 0 })),
            stats: Arc::new(Counters::default()),
            limits: CacheLimits { max_entries, max_bytes },
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    fn flights(&self) -> MutexGuard<'_, Flights<K, V, E>> {
        self.flights.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn limits(&self) -> CacheLimits {
        self.limits
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.stats.hits.load(Ordering::Relaxed),
            misses: self.stats.misses.load(Ordering::Relaxed),
            shared: self.stats.shared.load(Ordering::Relaxed),
        }
    }

    fn fresh(&self, key: &K) -> Option<V> {
        self.store.get(key).filter(|stored| stored.expires > Instant::now()).map(|stored| stored.value)
    }

    /// The cached value, if fresh (counted as a hit). A caller that then loads the value itself
    /// counts the miss with [`FlightCache::note_miss`] or through [`FlightCache::get_or_load`].
    pub fn get(&self, key: &K) -> Option<V> {
        let found = self.fresh(key);
        if found.is_some() {
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Counts `n` hits for a caller that answered from values it kept (see `get_all`).
    pub fn note_hits(&self, n: usize) {
        self.stats.hits.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts a miss for a caller that fills the cache with [`FlightCache::insert`].
    pub fn note_miss(&self) {
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
    }

    pub fn insert(&self, key: K, value: V, ttl: Duration) {
        self.generation.fetch_add(1, Ordering::Release);
        self.store.insert(key, Stored { value, expires: Instant::now() + ttl, ttl });
    }

    /// See the field: read it before the values it is to vouch for.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Every key's fresh value and the earliest of their expiries, or `None` when any key is
    /// missing or stale (counted as hits only when all are there).
    pub fn get_all(&self, keys: &[K]) -> Option<(Vec<V>, Instant)> {
        let now = Instant::now();
        let mut values = Vec::with_capacity(keys.len());
        let mut until: Option<Instant> = None;
        for key in keys {
            let stored = self.store.get(key).filter(|stored| stored.expires > now)?;
            until = Some(until.map_or(stored.expires, |u| u.min(stored.expires)));
            values.push(stored.value);
        }
        self.stats.hits.fetch_add(keys.len() as u64, Ordering::Relaxed);
        Some((values, until.unwrap_or(now)))
    }

    /// Forgets a key (a load in flight still completes for its waiters, but is not stored).
    pub fn remove(&self, key: &K) {
        let mut flights = self.flights();
        flights.running.remove(key);
        self.generation.fetch_add(1, Ordering::Release);
        self.store.invalidate(key);
    }

    /// Entries held, after pending evictions are applied. Not for the request path.
    pub fn len(&self) -> usize {
        self.store.run_pending_tasks();
        usize::try_from(self.store.entry_count()).unwrap_or(usize::MAX)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Estimated bytes held (as weighed, with each entry at least `max_bytes / max_entries`),
    /// after pending evictions are applied. Not for the request path.
    pub fn weighted_size(&self) -> u64 {
        self.store.run_pending_tasks();
        self.store.weighted_size()
    }

    /// Loads in flight right now (each on its own task).
    pub fn in_flight(&self) -> usize {
        self.flights().running.len()
    }

    /// Returns the fresh cached value, or joins the load in flight, or starts `load` on its own
    /// task. The result is kept for `ttl(&result)` (`None`: not kept, e.g. for failures).
    ///
    /// Must be called inside a Tokio runtime. Dropping the returned future never cancels the
    /// load: it runs to its end (bounded by the loader's own timeouts) and fills the cache.
    pub async fn get_or_load<F, Fut, T>(&self, key: K, ttl: T, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
        T: FnOnce(&Result<V, E>) -> Option<Duration> + Send + 'static,
    {
        if let Some(value) = self.fresh(&key) {
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(value);
        }
        let flight = {
            let mut flights = self.flights();
            if let Some((_, flight)) = flights.running.get(&key) {
                self.stats.shared.fetch_add(1, Ordering::Relaxed);
                flight.clone()
            } else if let Some(value) = self.fresh(&key) {
                // A load settled between the first look and taking the lock.
                drop(flights);
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(value);
            } else {
                let generation = flights.next_generation;
                flights.next_generation += 1;
                let cache = self.clone();
                let slot_key = key.clone();
                let fut = load();
                let task = tokio::spawn(async move {
                    let result = fut.await;
                    let keep = ttl(&result);
                    cache.settle(slot_key, generation, &result, keep);
                    result
                });
                let flight = async move {
                    match task.await {
                        Ok(result) => result,
                        // The loader panicked: surface it to the waiters as the panic it was.
                        Err(e) => std::panic::resume_unwind(e.into_panic()),
                    }
                }
                .boxed()
                .shared();
                flights.running.insert(key, (generation, flight.clone()));
                drop(flights);
                self.stats.misses.fetch_add(1, Ordering::Relaxed);
                flight
            }
        };
        flight.await
    }

    fn settle(&self, key: K, generation: u64, result: &Result<V, E>, ttl: Option<Duration>) {
        let mut flights = self.flights();
        let ours = matches!(flights.running.get(&key), Some((g, _)) if *g == generation);
        if !ours {
            return;
        }
        if let (Ok(value), Some(ttl)) = (result, ttl) {
            self.insert(key.clone(), value.clone(), ttl);
        }
        flights.running.remove(&key);
    }
}

/// How long a loaded result is kept (`None`: not kept), for [`SharedCache::get_or_load`].
pub type KeepFor<V, E> = Arc<dyn Fn(&Result<V, E>) -> Option<Duration> + Send + Sync>;

/// A value as the shared tier holds it: its absolute expiry (Unix ms), so that a replica that
/// reads it keeps it in memory no longer than its writer meant, and the value. JSON: serde_json
/// is already in the tree, values are small (a link, a file list, a few dozen candidates), and
/// an operator can read them with `redis-cli`; no binary format is in the tree to reuse.
#[derive(Serialize, Deserialize)]
struct Envelope<V> {
    e: u64,
    v: V,
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Two tiers: this process's [`FlightCache`] in front of the [`SharedState`] tier (Redis when
/// several replicas share state, or the in-process tier). Reads try memory, then the shared
/// tier (filling memory for what is left of the entry's life); writes go to both; loads are
/// shared by concurrent callers in this process and look in the shared tier before loading.
/// Shared keys are `cp:v1:<area>:<key(k)>`: `key` must render no secret (fingerprints only).
pub struct SharedCache<K, V, E> {
    local: FlightCache<K, V, E>,
    shared: SharedState,
    area: &'static str,
    key: fn(&K) -> String,
}

impl<K, V, E> Clone for SharedCache<K, V, E> {
    fn clone(&self) -> Self {
        Self { local: self.local.clone(), shared: self.shared.clone(), area: self.area, key: self.key }
    }
}

impl<K, V, E> SharedCache<K, V, E>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    E: Clone + Send + Sync + 'static,
{
    pub fn new(local: FlightCache<K, V, E>, shared: SharedState, area: &'static str, key: fn(&K) -> String) -> Self {
        Self { local, shared, area, key }
    }

    /// The in-process tier (stats, sizes, flights).
    pub fn local(&self) -> &FlightCache<K, V, E> {
        &self.local
    }

    /// The key of `key` in the shared tier.
    pub fn shared_key(&self, key: &K) -> String {
        SharedState::key(self.area, &[&(self.key)(key)])
    }

    /// The value in this process's memory only (no round trip).
    pub fn get(&self, key: &K) -> Option<V> {
        self.local.get(key)
    }

    /// The value from memory, else from the shared tier.
    pub async fn lookup(&self, key: &K) -> Option<V> {
        match self.local.get(key) {
            Some(value) => Some(value),
            None => self.lookup_shared(key).await,
        }
    }

    /// The value from the shared tier (kept in memory for what is left of its life).
    pub async fn lookup_shared(&self, key: &K) -> Option<V> {
        let raw = self.shared.tier().get(&self.shared_key(key)).await?;
        self.accept(key.clone(), &raw)
    }

    /// The value in the shared tier and what is left of its life, without keeping it in memory.
    pub async fn read_shared(&self, key: &K) -> Option<(V, Duration)> {
        let raw = self.shared.tier().get(&self.shared_key(key)).await?;
        Self::decode(&raw)
    }

    /// The values of `keys`, in order: from memory, the rest in one read of the shared tier.
    pub async fn lookup_many(&self, keys: &[K]) -> Vec<Option<V>> {
        let mut found: Vec<Option<V>> = keys.iter().map(|k| self.local.get(k)).collect();
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| found[i].is_none()).collect();
        if missing.is_empty() {
            return found;
        }
        let shared_keys: Vec<String> = missing.iter().map(|&i| self.shared_key(&keys[i])).collect();
        let raws = self.shared.tier().get_many(&shared_keys).await;
        for (i, raw) in missing.into_iter().zip(raws) {
            if let Some(raw) = raw {
                found[i] = self.accept(keys[i].clone(), &raw);
            }
        }
        found
    }

    fn decode(raw: &[u8]) -> Option<(V, Duration)> {
        let envelope: Envelope<V> = serde_json::from_slice(raw).ok()?;
        let left = Duration::from_millis(envelope.e.checked_sub(unix_ms())?);
        (!left.is_zero()).then_some((envelope.v, left))
    }

    fn encode(value: &V, ttl: Duration) -> Option<Vec<u8>> {
        let envelope = Envelope { e: unix_ms().saturating_add(ttl.as_millis() as u64), v: value };
        serde_json::to_vec(&envelope).ok()
    }

    fn accept(&self, key: K, raw: &[u8]) -> Option<V> {
        let (value, left) = Self::decode(raw)?;
        self.local.insert(key, value.clone(), left);
        Some(value)
    }

    /// Keeps `value` for `ttl` in both tiers.
    pub async fn insert(&self, key: K, value: V, ttl: Duration) {
        self.insert_many(vec![(key, value, ttl)]).await;
    }

    /// Keeps every `(key, value, ttl)` in both tiers (one write to the shared tier).
    pub async fn insert_many(&self, entries: Vec<(K, V, Duration)>) {
        let mut shared = Vec::with_capacity(entries.len());
        for (key, value, ttl) in entries {
            if let Some(raw) = Self::encode(&value, ttl) {
                shared.push((self.shared_key(&key), raw, ttl));
            }
            self.local.insert(key, value, ttl);
        }
        self.shared.tier().put_many(shared).await;
    }

    /// Forgets `key` in both tiers.
    pub async fn remove(&self, key: &K) {
        self.local.remove(key);
        self.shared.tier().delete(&self.shared_key(key)).await;
    }

    /// As [`FlightCache::get_or_load`], with the shared tier between memory and `load`: a
    /// value another replica loaded is used as it is, and a loaded value `keep` keeps goes to
    /// both tiers.
    pub async fn get_or_load<F, Fut>(&self, key: K, keep: KeepFor<V, E>, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
    {
        // A value read from the shared tier is kept in memory for what is left of its life.
        let left_of_shared: Arc<Mutex<Option<Duration>>> = Arc::default();
        let (this, shared_key, left) = (self.clone(), self.shared_key(&key), left_of_shared.clone());
        let keep_loaded = keep.clone();
        let ttl = move |result: &Result<V, E>| {
            let left = left_of_shared.lock().unwrap_or_else(|p| p.into_inner()).take();
            left.or_else(|| keep(result))
        };
        self.local
            .get_or_load(key, ttl, move || {
                let fut = load();
                async move {
                    if let Some((value, ttl)) =
                        this.shared.tier().get(&shared_key).await.and_then(|raw| Self::decode(&raw))
                    {
                        *left.lock().unwrap_or_else(|p| p.into_inner()) = Some(ttl);
                        return Ok(value);
                    }
                    let result = fut.await;
                    if let (Ok(value), Some(ttl)) = (&result, keep_loaded(&result)) {
                        if let Some(raw) = Self::encode(value, ttl) {
                            this.shared.tier().put(&shared_key, raw, ttl).await;
                        }
                    }
                    result
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn keep_ok(r: &Result<u32, String>) -> Option<Duration> {
        r.is_ok().then_some(Duration::from_secs(60))
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_load() {
        let cache: FlightCache<&str, u32, String> = FlightCache::new(10);
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let cache = cache.clone();
            let loads = loads.clone();
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_load("k", keep_ok, move || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(7)
                    })
                    .await
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), Ok(7));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        let stats = cache.stats();
        assert_eq!(stats.misses, 1);
        assert_eq!(stats.hits + stats.shared, 49);
        assert_eq!(cache.get(&"k"), Some(7));
        assert_eq!(cache.stats().hits, stats.hits + 1, "a fresh get counts as a hit");
    }

    #[tokio::test]
    async fn failures_are_shared_but_not_kept() {
        let cache: FlightCache<&str, u32, String> = FlightCache::new(10);
        let r = cache.get_or_load("k", keep_ok, || async { Err("down".to_string()) }).await;
        assert_eq!(r, Err("down".into()));
        assert!(cache.is_empty());
        let r = cache.get_or_load("k", keep_ok, || async { Ok(1) }).await;
        assert_eq!(r, Ok(1));
    }

    #[test]
    fn get_all_answers_only_when_every_key_is_fresh_and_the_generation_tracks_changes() {
        let cache: FlightCache<u32, u32, String> = FlightCache::new(10);
        let start = cache.generation();
        cache.insert(1, 10, Duration::from_secs(60));
        cache.insert(2, 20, Duration::from_secs(5));
        assert_ne!(cache.generation(), start, "an insert changes the generation");
        let (values, until) = cache.get_all(&[1, 2]).unwrap();
        assert_eq!(values, [10, 20]);
        let left = until.saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_secs(5) && left > Duration::from_secs(3), "the earliest expiry: {left:?}");
        assert_eq!(cache.get_all(&[1, 3]), None, "one key missing");
        cache.insert(3, 30, Duration::from_millis(0));
        assert_eq!(cache.get_all(&[1, 3]), None, "one key expired");
        let before = cache.generation();
        cache.remove(&1);
        assert_ne!(cache.generation(), before, "a removal changes the generation");
        assert_eq!(cache.get_all(&[1, 2]), None);
    }

    #[tokio::test]
    async fn expired_entries_reload_and_capacity_is_bounded() {
        let cache: FlightCache<u32, u32, String> = FlightCache::new(3);
        cache.insert(1, 1, Duration::from_millis(0));
        assert_eq!(cache.get(&1), None);
        for k in 0..10 {
            cache.insert(k, k, Duration::from_secs(60));
        }
        assert!(cache.len() <= 3);
        cache.remove(&9);
        assert_eq!(cache.get(&9), None);
    }

    /// The wedge of issue 9: every waiter hangs up while the load holds a permit. The load must
    /// still finish, release its permit and fill the cache.
    #[tokio::test]
    async fn a_load_whose_waiters_all_left_still_finishes_and_releases_what_it_holds() {
        let cache: FlightCache<u32, u32, String> = FlightCache::new(100);
        let permits = Arc::new(tokio::sync::Semaphore::new(2));
        for key in 0..2 {
            let permits = permits.clone();
            let waiter = cache.get_or_load(key, keep_ok, move || async move {
                let _permit = permits.acquire_owned().await.map_err(|e| e.to_string())?;
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok(key + 10)
            });
            // The client hangs up after 10 ms.
            assert!(tokio::time::timeout(Duration::from_millis(10), waiter).await.is_err());
        }
        assert_eq!(permits.available_permits(), 0, "both loads hold a permit");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(permits.available_permits(), 2, "the permits came back with nobody polling");
        assert_eq!(cache.in_flight(), 0);
        assert_eq!(cache.get(&0), Some(10), "the abandoned load filled the cache");
        assert_eq!(cache.get(&1), Some(11));
    }

    /// A timeout inside the load expires on its own task even when nobody waits on it.
    #[tokio::test]
    async fn a_deadline_inside_an_abandoned_load_still_expires() {
        let cache: FlightCache<u32, u32, String> = FlightCache::new(100);
        let finished = Arc::new(AtomicUsize::new(0));
        let done = finished.clone();
        let waiter = cache.get_or_load(1, keep_ok, move || async move {
            let r = tokio::time::timeout(Duration::from_millis(50), std::future::pending::<()>()).await;
            done.fetch_add(1, Ordering::SeqCst);
            r.map(|_| 0).map_err(|_| "timed out".to_string())
        });
        drop(waiter.boxed());
        // Dropped before it was ever polled: nothing started, nothing is held.
        assert_eq!(cache.in_flight(), 0);
        let waiter = cache.get_or_load(1, keep_ok, move || async move {
            let r = tokio::time::timeout(Duration::from_millis(50), std::future::pending::<()>()).await;
            r.map(|_| 0).map_err(|_| "timed out".to_string())
        });
        let _ = tokio::time::timeout(Duration::from_millis(5), waiter).await;
        assert_eq!(cache.in_flight(), 1);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(cache.in_flight(), 0, "the flight ended on its own deadline");
        assert_eq!(finished.load(Ordering::SeqCst), 0, "the first loader was never started");
    }

    #[tokio::test]
    async fn a_full_cache_evicts_keeps_recent_entries_and_stays_within_its_byte_bound() {
        let limits = CacheLimits { max_entries: 1_000, max_bytes: 64 * 1024 };
        let cache: FlightCache<u64, Vec<u8>, String> =
            FlightCache::with_limits(limits, |_, v| std::mem::size_of::<u64>() + v.capacity());
        for k in 0..20_000u64 {
            cache.insert(k, vec![0u8; 200], Duration::from_secs(600));
        }
        assert!(cache.len() <= 1_000, "entries bounded: {}", cache.len());
        assert!(cache.weighted_size() <= 64 * 1024, "bytes bounded: {}", cache.weighted_size());
        assert!(cache.len() >= 100, "the cache still holds entries: {}", cache.len());
        // Recent, used entries stay: read one repeatedly while inserting more.
        cache.insert(1_000_000, vec![1], Duration::from_secs(600));
        for k in 20_000..40_000u64 {
            assert_eq!(cache.get(&1_000_000), Some(vec![1]), "hot entry evicted at {k}");
            cache.insert(k, vec![0u8; 200], Duration::from_secs(600));
        }
        assert!(cache.weighted_size() <= 64 * 1024);
    }

    #[tokio::test]
    async fn a_shared_cache_serves_what_another_instance_loaded() {
        let shared = SharedState::in_process(100);
        let key = |k: &u32| k.to_string();
        let one: SharedCache<u32, String, String> = SharedCache::new(FlightCache::new(10), shared.clone(), "t", key);
        let two: SharedCache<u32, String, String> = SharedCache::new(FlightCache::new(10), shared.clone(), "t", key);
        let keep: KeepFor<String, String> = Arc::new(|r| r.is_ok().then_some(Duration::from_secs(60)));
        let loads = Arc::new(AtomicUsize::new(0));
        for cache in [&one, &two] {
            let loads = loads.clone();
            let got = cache
                .get_or_load(7, keep.clone(), move || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    Ok("seven".to_string())
                })
                .await;
            assert_eq!(got.as_deref(), Ok("seven"));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1, "the second instance read the first one's value");
        one.insert_many(vec![(1, "a".into(), Duration::from_secs(60)), (2, "b".into(), Duration::from_millis(1))])
            .await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(two.lookup_many(&[1, 2, 3]).await, vec![Some("a".to_string()), None, None]);
        assert_eq!(two.get(&1).as_deref(), Some("a"), "kept in memory after the shared read");
        assert!(shared.tier().get("cp:v1:t:1").await.is_some());
        one.remove(&1).await;
        assert_eq!(shared.tier().get("cp:v1:t:1").await, None);
    }
}
