//! [`FlightCache`]: memory (quick_cache) plus the map of loads in flight.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};
type Flight<V, E> = Shared<BoxFuture<'static, Result<V, E>>>;

/// A loaded value and how long to keep it (`None`: not kept).
pub type Kept<V> = (V, Option<Duration>);

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
    /// The entry's weight, worked out once at insertion (quick_cache asks for it while evicting).
    weight: u64,
}

/// Reads the weight stored with each entry.
#[derive(Clone, Copy)]
struct StoredWeight;

impl<K, V> quick_cache::Weighter<K, Stored<V>> for StoredWeight {
    fn weight(&self, _key: &K, stored: &Stored<V>) -> u64 {
        stored.weight
    }
}

type Store<K, V> = quick_cache::sync::Cache<K, Stored<V>, StoredWeight>;

/// A quick_cache store bounded by `max_bytes` of weight, each entry weighing at least
/// `max_bytes / max_entries`. Small caches get one shard, so their bound is exact; large ones
/// get several, so concurrent readers rarely meet on one lock.
fn bounded_store<K: Eq + Hash, V: Clone>(max_entries: usize, max_bytes: usize) -> Store<K, V> {
    let shards = (max_entries / 256).clamp(1, 16).next_power_of_two();
    let options = quick_cache::OptionsBuilder::new()
        .estimated_items_capacity(max_entries)
        .weight_capacity(max_bytes as u64)
        .shards(shards)
        .build()
        .unwrap_or_else(|_| unreachable!("every option is set"));
    quick_cache::sync::Cache::with_options(options, StoredWeight, Default::default(), Default::default())
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
    store: Arc<Store<K, V>>,
    flights: Arc<Mutex<Flights<K, V, E>>>,
    stats: Arc<Counters>,
    limits: CacheLimits,
    weigher: Weigher<K, V>,
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
            weigher: self.weigher,
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

    /// A cache bounded by entries and by the bytes `weigher` estimates. Past either bound,
    /// quick_cache evicts the entries least likely to be used again (entries read since they
    /// came in are kept over ones that never were).
    pub fn with_limits(limits: CacheLimits, weigher: Weigher<K, V>) -> Self {
        let max_entries = limits.max_entries.max(1);
        let max_bytes = limits.max_bytes.max(max_entries);
        Self {
            store: Arc::new(bounded_store(max_entries, max_bytes)),
            flights: Arc::new(Mutex::new(Flights { running: HashMap::new(), next_generation: 0 })),
            stats: Arc::new(Counters::default()),
            limits: CacheLimits { max_entries, max_bytes },
            weigher,
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
        // Every entry weighs at least max_bytes / max_entries, so at most max_entries fit.
        let floor = (self.limits.max_bytes / self.limits.max_entries).max(1);
        let weight = (self.weigher)(&key, &value).max(floor) as u64;
        self.store.insert(key, Stored { value, expires: Instant::now() + ttl, weight });
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
        self.store.remove(key);
    }

    /// Entries held that have not expired (expired ones are dropped first). Not for the
    /// request path.
    pub fn len(&self) -> usize {
        self.drop_expired();
        self.store.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Estimated bytes held (as weighed, with each entry at least `max_bytes / max_entries`),
    /// expired entries dropped first. Not for the request path.
    pub fn weighted_size(&self) -> u64 {
        self.drop_expired();
        self.store.weight()
    }

    /// Expired entries otherwise stay until evicted (bounded all the same); the counts above
    /// should not include them.
    fn drop_expired(&self) {
        let now = Instant::now();
        self.store.retain(|_, stored| stored.expires > now);
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
        self.get_or_load_kept(key, move || {
            let fut = load();
            async move {
                let result = fut.await;
                let keep = ttl(&result);
                result.map(|value| (value, keep))
            }
        })
        .await
    }

    /// As [`FlightCache::get_or_load`], for loaders that learn how long their value holds only
    /// while loading (a link's expiry, what is left of a value another replica cached): `load`
    /// returns the value with its lifetime ([`Kept`]); failures are never kept.
    pub async fn get_or_load_kept<F, Fut>(&self, key: K, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Kept<V>, E>> + Send + 'static,
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
                    let loaded = fut.await;
                    cache.settle(slot_key, generation, &loaded);
                    loaded.map(|(value, _)| value)
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

    fn settle(&self, key: K, generation: u64, loaded: &Result<Kept<V>, E>) {
        let mut flights = self.flights();
        let ours = matches!(flights.running.get(&key), Some((g, _)) if *g == generation);
        if !ours {
            return;
        }
        if let Ok((value, Some(ttl))) = loaded {
            self.insert(key.clone(), value.clone(), *ttl);
        }
        flights.running.remove(&key);
    }
}
