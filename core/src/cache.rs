//! An in-process TTL cache with single-flight loading: concurrent misses for one key share one
//! load, and the loader decides per result how long (if at all) it is kept.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};

type Flight<V, E> = Shared<BoxFuture<'static, Result<V, E>>>;

enum Slot<V, E> {
    Ready { value: V, expires: Instant },
    Loading { flight: Flight<V, E>, generation: u64 },
}

struct Inner<K, V, E> {
    slots: HashMap<K, Slot<V, E>>,
    next_generation: u64,
}

/// Hit/miss counters, for metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub shared: u64,
}

/// A TTL cache whose loads are shared by concurrent callers. Cheap to clone (one shared map).
pub struct FlightCache<K, V, E> {
    inner: Arc<Mutex<Inner<K, V, E>>>,
    stats: Arc<Mutex<CacheStats>>,
    capacity: usize,
}

impl<K, V, E> Clone for FlightCache<K, V, E> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), stats: self.stats.clone(), capacity: self.capacity }
    }
}

impl<K, V, E> FlightCache<K, V, E>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    /// A cache holding at most `capacity` entries; beyond that, expired entries are dropped
    /// first and then arbitrary ones.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner { slots: HashMap::new(), next_generation: 0 })),
            stats: Arc::new(Mutex::new(CacheStats::default())),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<K, V, E>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self, f: impl FnOnce(&mut CacheStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub fn stats(&self) -> CacheStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached value, if fresh (counted as a hit). A caller that then loads the value itself
    /// counts the miss with [`FlightCache::note_miss`] or through [`FlightCache::get_or_load`].
    pub fn get(&self, key: &K) -> Option<V> {
        let found = match self.lock().slots.get(key) {
            Some(Slot::Ready { value, expires }) if *expires > Instant::now() => Some(value.clone()),
            _ => None,
        };
        if found.is_some() {
            self.count(|s| s.hits += 1);
        }
        found
    }

    /// Counts a miss for a caller that fills the cache with [`FlightCache::insert`].
    pub fn note_miss(&self) {
        self.count(|s| s.misses += 1);
    }

    pub fn insert(&self, key: K, value: V, ttl: Duration) {
        let mut inner = self.lock();
        self.make_room(&mut inner);
        inner.slots.insert(key, Slot::Ready { value, expires: Instant::now() + ttl });
    }

    /// Forgets a key (a load in flight still completes for its waiters, but is not stored).
    pub fn remove(&self, key: &K) {
        self.lock().slots.remove(key);
    }

    pub fn len(&self) -> usize {
        self.lock().slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the fresh cached value, or joins the load in flight, or starts `load`. The
    /// result is kept for `ttl(&result)` (`None`: not kept, e.g. for failures).
    pub async fn get_or_load<F, Fut, T>(&self, key: K, ttl: T, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
        T: FnOnce(&Result<V, E>) -> Option<Duration> + Send + 'static,
    {
        let flight = {
            let mut inner = self.lock();
            match inner.slots.get(&key) {
                Some(Slot::Ready { value, expires }) if *expires > Instant::now() => {
                    let value = value.clone();
                    drop(inner);
                    self.count(|s| s.hits += 1);
                    return Ok(value);
                }
                Some(Slot::Loading { flight, .. }) => {
                    let flight = flight.clone();
                    drop(inner);
                    self.count(|s| s.shared += 1);
                    flight
                }
                _ => {
                    let generation = inner.next_generation;
                    inner.next_generation += 1;
                    let cache = self.clone();
                    let slot_key = key.clone();
                    let fut = load();
                    // The flight stores its own result, so it completes even if the caller
                    // that started it goes away while others still wait.
                    let flight = async move {
                        let result = fut.await;
                        cache.settle(slot_key, generation, &result, ttl(&result));
                        result
                    }
                    .boxed()
                    .shared();
                    self.make_room(&mut inner);
                    inner.slots.insert(key, Slot::Loading { flight: flight.clone(), generation });
                    drop(inner);
                    self.count(|s| s.misses += 1);
                    flight
                }
            }
        };
        flight.await
    }

    fn settle(&self, key: K, generation: u64, result: &Result<V, E>, ttl: Option<Duration>) {
        let mut inner = self.lock();
        let ours = matches!(inner.slots.get(&key), Some(Slot::Loading { generation: g, .. }) if *g == generation);
        if !ours {
            return;
        }
        match (result, ttl) {
            (Ok(value), Some(ttl)) => {
                inner.slots.insert(key, Slot::Ready { value: value.clone(), expires: Instant::now() + ttl });
            }
            _ => {
                inner.slots.remove(&key);
            }
        }
    }

    fn make_room(&self, inner: &mut Inner<K, V, E>) {
        if inner.slots.len() < self.capacity {
            return;
        }
        let now = Instant::now();
        inner.slots.retain(|_, slot| !matches!(slot, Slot::Ready { expires, .. } if *expires <= now));
        while inner.slots.len() >= self.capacity {
            let Some(victim) =
                inner.slots.iter().find(|(_, s)| matches!(s, Slot::Ready { .. })).map(|(k, _)| k.clone())
            else {
                break;
            };
            inner.slots.remove(&victim);
        }
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
}
