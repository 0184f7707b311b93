//! Decoded `{config}` segments, kept by the segment as the client sent it (issue 25). A returning
//! viewer's list or playback then costs one lookup instead of base64, JSON, validation (or an
//! AEAD open for a sealed segment) and a SHA-256 fingerprint. What a segment decodes to depends
//! only on the segment and this process's settings (enabled stores, keyring, whether plain
//! configs are accepted), so the answer, a problem included, is the same every time.
//!
//! Bounded by entries and estimated bytes (`[cache] max_entries`, `max_memory_mb`), with moka's
//! TinyLFU admission: a stream of distinct junk segments churns the cache's window but does not
//! push out the segments real viewers keep sending.

use std::sync::Arc;
use std::time::Duration;

use chillproxy_stremio::{ConfigProblem, UserConfig};

use crate::config::CacheConfig;

/// A segment as decoded once: the config (or why it is refused) and the user's fingerprint for
/// per-user limits.
pub(crate) struct Decoded {
    pub config: Result<Arc<UserConfig>, ConfigProblem>,
    /// A fingerprint of the segment (never the segment), see `limits::user_fingerprint`.
    pub fingerprint: String,
}

/// How long a decoded segment is kept without use: long enough for a viewer's evening.
const IDLE: Duration = Duration::from_secs(3600);

#[derive(Clone)]
pub(crate) struct SegmentCache {
    cache: moka::sync::Cache<Box<str>, Arc<Decoded>>,
}

impl SegmentCache {
    #[allow(clippy::borrowed_box)] // moka's weigher takes &K, and K is Box<str>
    pub fn new(config: &CacheConfig) -> Self {
        let limits = config.limits();
        // Each entry weighs at least its share of the byte bound, so neither bound is exceeded.
        let floor = u32::try_from(limits.max_bytes / limits.max_entries.max(1)).unwrap_or(u32::MAX);
        let cache = moka::sync::Cache::builder()
            .max_capacity(limits.max_bytes as u64)
            // The segment, the config it decodes to (about its size again) and the fingerprint.
            .weigher(move |segment: &Box<str>, _: &Arc<Decoded>| -> u32 {
                u32::try_from(2 * segment.len() + 256).unwrap_or(u32::MAX).max(floor)
            })
            .time_to_idle(IDLE)
            .build();
        Self { cache }
    }

    /// The decoded segment, decoding it with `decode` on a miss.
    pub fn get_or_decode(
        &self,
        segment: &str,
        decode: impl FnOnce(&str) -> Result<UserConfig, ConfigProblem>,
    ) -> Arc<Decoded> {
        if let Some(hit) = self.cache.get(segment) {
            return hit;
        }
        let decoded = Arc::new(Decoded {
            config: decode(segment).map(Arc::new),
            fingerprint: crate::limits::user_fingerprint(segment),
        });
        self.cache.insert(segment.into(), decoded.clone());
        decoded
    }

    #[cfg(test)]
    fn entry_count(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn decode(calls: &AtomicUsize) -> impl FnOnce(&str) -> Result<UserConfig, ConfigProblem> + '_ {
        move |segment| {
            calls.fetch_add(1, Ordering::SeqCst);
            UserConfig::decode(segment, &["tb"])
        }
    }

    #[test]
    fn a_returning_segment_is_decoded_once_problems_included() {
        let cache = SegmentCache::new(&CacheConfig::default());
        let calls = AtomicUsize::new(0);
        let good = base64_url(r#"{"stores":[{"c":"tb","t":"k"}]}"#);
        for _ in 0..3 {
            let decoded = cache.get_or_decode(&good, decode(&calls));
            assert_eq!(decoded.config.as_ref().map(|c| c.stores.len()), Ok(1));
            assert_eq!(decoded.fingerprint, crate::limits::user_fingerprint(&good));
        }
        for _ in 0..3 {
            assert!(cache.get_or_decode("not-a-config", decode(&calls)).config.is_err());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn distinct_junk_stays_within_the_bound() {
        let config = CacheConfig { max_entries: 1_000, max_memory_mb: 1, ..CacheConfig::default() };
        let cache = SegmentCache::new(&config);
        let calls = AtomicUsize::new(0);
        for n in 0..100_000 {
            cache.get_or_decode(&format!("junk-{n}-{}", "x".repeat(200)), decode(&calls));
        }
        let held = cache.entry_count();
        assert!(held <= 1_000, "{held} entries held");
        assert!(cache.cache.weighted_size() <= 1024 * 1024, "{} bytes", cache.cache.weighted_size());
    }

    fn base64_url(json: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }
}
