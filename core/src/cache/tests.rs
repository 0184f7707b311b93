//! FlightCache and SharedCache behaviour.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;

use super::*;
use crate::SharedState;
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
    let loads = Arc::new(AtomicUsize::new(0));
    for cache in [&one, &two] {
        let loads = loads.clone();
        let got = cache
            .get_or_load(7, move || async move {
                loads.fetch_add(1, Ordering::SeqCst);
                Ok(("seven".to_string(), Some(Duration::from_secs(60))))
            })
            .await;
        assert_eq!(got.as_deref(), Ok("seven"));
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1, "the second instance read the first one's value");
    one.insert_many(vec![(1, "a".into(), Duration::from_secs(60)), (2, "b".into(), Duration::from_millis(1))]).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(two.lookup_many(&[1, 2, 3]).await, vec![Some("a".to_string()), None, None]);
    assert_eq!(two.get(&1).as_deref(), Some("a"), "kept in memory after the shared read");
    assert!(shared.tier().get("cp:v1:t:1").await.is_some());
    one.remove(&1).await;
    assert_eq!(shared.tier().get("cp:v1:t:1").await, None);
}

#[tokio::test]
async fn a_loader_sets_its_values_lifetime_and_a_shared_value_keeps_only_what_is_left() {
    let shared = SharedState::in_process(100);
    let key = |k: &u32| k.to_string();
    let one: SharedCache<u32, String, String> = SharedCache::new(FlightCache::new(10), shared.clone(), "t", key);
    let two: SharedCache<u32, String, String> = SharedCache::new(FlightCache::new(10), shared.clone(), "t", key);
    let loads = Arc::new(AtomicUsize::new(0));
    let load = |keep: Option<Duration>| {
        let loads = loads.clone();
        move || async move {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(("v".to_string(), keep))
        }
    };
    // Not kept: the next call loads again, and nothing reaches the shared tier.
    assert_eq!(one.get_or_load(1, load(None)).await.as_deref(), Ok("v"));
    assert_eq!(one.get_or_load(1, load(None)).await.as_deref(), Ok("v"));
    assert_eq!(loads.load(Ordering::SeqCst), 2);
    assert_eq!(shared.tier().get("cp:v1:t:1").await, None);
    // Kept for 40 s by the loader; the other instance takes it for what is left of those 40 s,
    // however long it would have kept its own load.
    assert_eq!(one.get_or_load(2, load(Some(Duration::from_secs(40)))).await.as_deref(), Ok("v"));
    assert_eq!(two.get_or_load(2, load(Some(Duration::from_secs(3600)))).await.as_deref(), Ok("v"));
    assert_eq!(loads.load(Ordering::SeqCst), 3, "the second instance did not load");
    let (_, until) = two.local().get_all(&[2]).expect("kept in the second instance's memory");
    let left = until.saturating_duration_since(Instant::now());
    assert!(left <= Duration::from_secs(40) && left > Duration::from_secs(20), "kept for what was left: {left:?}");
}
