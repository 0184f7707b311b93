//! Decoded `{config}` segments, kept by the segment as the client sent it (issue 25). A returning
//! viewer's list or playback then costs one lookup instead of base64, JSON, validation (or an
//! AEAD open for a sealed segment) and a SHA-256 fingerprint. What a segment decodes to depends
//! only on the segment and this process's settings (enabled stores, keyring, whether plain
//! configs are accepted), so the answer, a problem included, is the same every time.
//!
//! Bounded by entries and estimated bytes (`[cache] max_entries`, `max_memory_mb`), with
//! quick_cache's eviction: a segment read again since it came in is kept over segments seen
//! once, so a stream of distinct junk segments churns the cache's cold part but does not push
//! out the segments real viewers keep sending. (moka was here first; its per-read bookkeeping
//! showed in the warm list's profile, see `chillproxy_core::cache`.)

use std::sync::Arc;

use chillproxy_stremio::{ConfigProblem, UserConfig};

use crate::config::CacheConfig;

/// A segment as decoded once: the config (or why it is refused) and the user's fingerprint for
/// per-user limits.
pub(crate) struct Decoded {
    pub config: Result<Arc<UserConfig>, ConfigProblem>,
    /// A fingerprint of the segment (never the segment), see `limits::user_fingerprint`.
    pub fingerprint: String,
    /// The device binding last made for this segment's lists (plain configs only).
    pub binding: crate::binding::BindingSlot,
    /// The list parts last sealed for this segment's lists (with sealing keys only).
    pub lists: crate::handle::ListSlot,
}

/// Each entry weighs its segment, the config it decodes to (about its size again), the
/// fingerprint and, with sealing keys, the list parts it may keep; and at least its share of
/// the byte bound, so neither bound is exceeded.
#[derive(Clone, Copy)]
struct SegmentWeight {
    floor: u64,
    kept: u64,
}

impl quick_cache::Weighter<Box<str>, Arc<Decoded>> for SegmentWeight {
    fn weight(&self, segment: &Box<str>, _: &Arc<Decoded>) -> u64 {
        (2 * segment.len() as u64 + 256 + self.kept).max(self.floor)
    }
}

#[derive(Clone)]
pub(crate) struct SegmentCache {
    cache: Arc<quick_cache::sync::Cache<Box<str>, Arc<Decoded>, SegmentWeight>>,
}

impl SegmentCache {
    /// `sealing`: whether this server has sealing keys (its entries then keep list parts).
    pub fn new(config: &CacheConfig, sealing: bool) -> Self {
        let limits = config.limits();
        let max_entries = limits.max_entries.max(1);
        let floor = (limits.max_bytes / max_entries).max(1) as u64;
        let cache = quick_cache::sync::Cache::with_weighter(
            max_entries,
            limits.max_bytes.max(max_entries) as u64,
            SegmentWeight { floor, kept: if sealing { crate::handle::LIST_SLOT_BYTES } else { 0 } },
        );
        Self { cache: Arc::new(cache) }
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
            binding: Default::default(),
            lists: Default::default(),
        });
        self.cache.insert(segment.into(), decoded.clone());
        decoded
    }

    #[cfg(test)]
    fn entry_count(&self) -> usize {
        self.cache.len()
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
        let cache = SegmentCache::new(&CacheConfig::default(), false);
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
        let cache = SegmentCache::new(&config, true);
        let calls = AtomicUsize::new(0);
        for n in 0..100_000 {
            cache.get_or_decode(&format!("junk-{n}-{}", "x".repeat(200)), decode(&calls));
        }
        let real = base64_url(r#"{"stores":[{"c":"tb","t":"k"}]}"#);
        let real_calls = AtomicUsize::new(0);
        for n in 0..100_000 {
            cache.get_or_decode(&format!("junk-{n}-{}", "x".repeat(200)), decode(&calls));
            if n % 100 == 0 {
                cache.get_or_decode(&real, decode(&real_calls));
            }
        }
        assert_eq!(real_calls.load(Ordering::SeqCst), 1, "a viewer's segment returning amid junk stays decoded");
        let held = cache.entry_count();
        assert!(held <= 1_000, "{held} entries held");
        assert!(cache.cache.weight() <= 1024 * 1024, "{} bytes", cache.cache.weight());
    }

    fn base64_url(json: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }
}
