//! The shared-state tier: what plugins and the host keep beyond one request, behind one
//! interface so that a cluster-wide implementation (Redis) can replace the in-process one
//! without touching its users. Plugins receive it in their [`crate::PluginContext`].
//!
//! Keys are namespaced and versioned (`cp:v1:<area>:<parts…>`, see [`SharedState::key`]); a key
//! part that identifies a credential must be a fingerprint ([`crate::Secret::fingerprint`]),
//! never the credential, and values must hold nothing secret.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

/// One implementation of the tier.
#[async_trait]
pub trait SharedTier: Send + Sync {
    /// Which implementation (`in-process`, `redis`), for logs and `/ready`.
    fn kind(&self) -> &'static str;
    /// The value under `key`, if present and not expired.
    async fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Stores `value` under `key` for `ttl`.
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration);
    /// Forgets `key`.
    async fn delete(&self, key: &str);
    /// Adds one to the counter of the fixed window `key` (which lasts `window` from its first
    /// count) and returns the new count. The basis of per-token request budgets.
    async fn count(&self, key: &str, window: Duration) -> u64;
}

/// A handle on the tier in use. Cheap to clone.
#[derive(Clone)]
pub struct SharedState {
    tier: Arc<dyn SharedTier>,
}

impl std::fmt::Debug for SharedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedState({})", self.tier.kind())
    }
}

impl Default for SharedState {
    fn default() -> Self {
        Self::in_process(100_000)
    }
}

impl SharedState {
    pub fn new(tier: Arc<dyn SharedTier>) -> Self {
        Self { tier }
    }

    /// The single-node tier: a bounded in-process map.
    pub fn in_process(max_entries: u64) -> Self {
        Self::new(Arc::new(InProcessTier::new(max_entries)))
    }

    pub fn tier(&self) -> &dyn SharedTier {
        self.tier.as_ref()
    }

    /// `cp:v1:<area>:<part>:<part>…`. Parts must not be secrets.
    pub fn key(area: &str, parts: &[&str]) -> String {
        let mut key = format!("cp:v1:{area}");
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }
}

#[derive(Clone)]
struct Entry {
    value: Vec<u8>,
    expires: Instant,
    ttl: Duration,
}

struct EntryTtl;

impl moka::Expiry<String, Entry> for EntryTtl {
    fn expire_after_create(&self, _: &String, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }
    fn expire_after_update(&self, _: &String, entry: &Entry, _: Instant, _: Option<Duration>) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// The in-process tier: moka with per-entry expiry; counters are entries holding a count.
pub struct InProcessTier {
    entries: moka::sync::Cache<String, Entry>,
    /// Serialises read-modify-write of counters (cheap: counting is rare next to reads).
    counting: std::sync::Mutex<()>,
}

impl InProcessTier {
    pub fn new(max_entries: u64) -> Self {
        let entries = moka::sync::Cache::builder().max_capacity(max_entries.max(1)).expire_after(EntryTtl).build();
        Self { entries, counting: std::sync::Mutex::new(()) }
    }

    fn fresh(&self, key: &str) -> Option<Entry> {
        self.entries.get(key).filter(|e| e.expires > Instant::now())
    }
}

#[async_trait]
impl SharedTier for InProcessTier {
    fn kind(&self) -> &'static str {
        "in-process"
    }

    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.fresh(key).map(|e| e.value)
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) {
        self.entries.insert(key.to_string(), Entry { value, expires: Instant::now() + ttl, ttl });
    }

    async fn delete(&self, key: &str) {
        self.entries.invalidate(key);
    }

    async fn count(&self, key: &str, window: Duration) -> u64 {
        let _guard = self.counting.lock().unwrap_or_else(|p| p.into_inner());
        let (count, expires) = match self.fresh(key) {
            Some(entry) => {
                let mut bytes = [0u8; 8];
                let n = entry.value.len().min(8);
                bytes[..n].copy_from_slice(&entry.value[..n]);
                (u64::from_le_bytes(bytes) + 1, entry.expires)
            }
            None => (1, Instant::now() + window),
        };
        let ttl = expires.saturating_duration_since(Instant::now());
        self.entries.insert(key.to_string(), Entry { value: count.to_le_bytes().to_vec(), expires, ttl });
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_expire_and_counters_reset_with_their_window() {
        let shared = SharedState::in_process(100);
        let tier = shared.tier();
        tier.put("cp:v1:t:a", b"x".to_vec(), Duration::from_millis(50)).await;
        assert_eq!(tier.get("cp:v1:t:a").await, Some(b"x".to_vec()));
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(tier.get("cp:v1:t:a").await, None);

        let window = Duration::from_millis(100);
        assert_eq!(tier.count("cp:v1:budget:k", window).await, 1);
        assert_eq!(tier.count("cp:v1:budget:k", window).await, 2);
        assert_eq!(tier.count("cp:v1:budget:other", window).await, 1);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(tier.count("cp:v1:budget:k", window).await, 1, "a new window starts from one");
        assert_eq!(SharedState::key("links", &["tb", "fp"]), "cp:v1:links:tb:fp");
    }
}
