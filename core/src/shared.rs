//! The shared-state tier: what plugins and the host keep beyond one request, behind one
//! interface so that a cluster-wide implementation (Redis) can replace the in-process one
//! without touching its users. Plugins receive it in their [`crate::PluginContext`].
//!
//! Keys are namespaced and versioned (`cp:v1:<area>:<parts…>`, see [`SharedState::key`]); a key
//! part that identifies a credential must be a fingerprint ([`crate::Secret::fingerprint`]),
//! never the credential, and values must hold nothing secret.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
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

    /// The values under `keys`, in order (one round trip on a remote tier).
    async fn get_many(&self, keys: &[String]) -> Vec<Option<Vec<u8>>> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.get(key).await);
        }
        values
    }

    /// Stores every `(key, value, ttl)` (one round trip on a remote tier).
    async fn put_many(&self, entries: Vec<(String, Vec<u8>, Duration)>) {
        for (key, value, ttl) in entries {
            self.put(&key, value, ttl).await;
        }
    }

    /// Takes the claim `key` for `owner` for `ttl` if nobody holds it (`SET NX PX`). `true`:
    /// this owner holds it now.
    async fn claim(&self, key: &str, owner: &str, ttl: Duration) -> bool;

    /// Extends `owner`'s claim to `ttl` from now; `false` when it is not `owner`'s any more.
    async fn extend_claim(&self, key: &str, owner: &str, ttl: Duration) -> bool;

    /// Releases `owner`'s claim (compare-and-delete: someone else's claim is left alone).
    async fn release_claim(&self, key: &str, owner: &str);

    /// How the tier is doing, for `/ready` and metrics.
    fn status(&self) -> TierStatus {
        TierStatus::default()
    }
}

/// How a tier is doing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierStatus {
    /// Why the tier works below its design (a cluster tier that cannot reach its server serves
    /// from this process only), if it does.
    pub degraded: Option<String>,
    /// Calls to the tier's server that failed or timed out, since start.
    pub errors: u64,
    /// The breaker skips the server for now.
    pub breaker_open: bool,
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

    /// Runs `work` once across every replica sharing this tier: `check` looks for a result
    /// someone already settled; when there is none, whoever takes the claim `lock` runs `work`
    /// (which must settle its result where `check` looks) while the others poll `check`, first
    /// after `poll`, then less and less often (up to ten times `poll`), for at most `wait`. The claim lives `claim_ttl` and is extended while `work`
    /// runs, so a crashed owner's claim expires and a live one's does not. `None`: nothing
    /// settled within `wait`.
    pub async fn run_once<T, C, CF, W>(
        &self,
        lock: &str,
        claim_ttl: Duration,
        wait: Duration,
        poll: Duration,
        mut check: C,
        work: W,
    ) -> Option<T>
    where
        C: FnMut() -> CF,
        CF: Future<Output = Option<T>>,
        W: Future<Output = T>,
    {
        let owner = owner_token();
        let deadline = Instant::now() + wait;
        let mut pause = poll;
        loop {
            if let Some(done) = check().await {
                return Some(done);
            }
            if self.tier.claim(lock, &owner, claim_ttl).await {
                // A result may have settled between the look and the claim.
                if let Some(done) = check().await {
                    self.tier.release_claim(lock, &owner).await;
                    return Some(done);
                }
                let _extender = ClaimExtender::start(self.clone(), lock, &owner, claim_ttl);
                let done = work.await;
                self.tier.release_claim(lock, &owner).await;
                return Some(done);
            }
            if Instant::now() + pause > deadline {
                return None;
            }
            tokio::time::sleep(pause).await;
            // A quick resolution is seen at once; a long one (an uncached torrent) is not
            // asked about twenty times a second.
            pause = (pause * 3 / 2).min(poll * 10);
        }
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

/// A claim owner's token: unique per claim attempt in this process and across processes (pid,
/// start time, counter); it only needs to be unique, not unguessable.
fn owner_token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    format!("{}-{nanos}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Extends a claim every third of its life while its owner works; stops when dropped.
struct ClaimExtender(tokio::task::JoinHandle<()>);

impl ClaimExtender {
    fn start(shared: SharedState, lock: &str, owner: &str, ttl: Duration) -> Self {
        let (lock, owner) = (lock.to_string(), owner.to_string());
        let every = (ttl / 3).max(Duration::from_millis(10));
        Self(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if !shared.tier.extend_claim(&lock, &owner, ttl).await {
                    break;
                }
            }
        }))
    }
}

impl Drop for ClaimExtender {
    fn drop(&mut self) {
        self.0.abort();
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
    /// Serialises read-modify-write of counters and claims (cheap: both are rare next to reads).
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

    async fn claim(&self, key: &str, owner: &str, ttl: Duration) -> bool {
        let _guard = self.counting.lock().unwrap_or_else(|p| p.into_inner());
        if self.fresh(key).is_some() {
            return false;
        }
        self.entries
            .insert(key.to_string(), Entry { value: owner.as_bytes().to_vec(), expires: Instant::now() + ttl, ttl });
        true
    }

    async fn extend_claim(&self, key: &str, owner: &str, ttl: Duration) -> bool {
        let _guard = self.counting.lock().unwrap_or_else(|p| p.into_inner());
        match self.fresh(key) {
            Some(entry) if entry.value == owner.as_bytes() => {
                self.entries.insert(key.to_string(), Entry { value: entry.value, expires: Instant::now() + ttl, ttl });
                true
            }
            _ => false,
        }
    }

    async fn release_claim(&self, key: &str, owner: &str) {
        let _guard = self.counting.lock().unwrap_or_else(|p| p.into_inner());
        if self.fresh(key).is_some_and(|entry| entry.value == owner.as_bytes()) {
            self.entries.invalidate(key);
        }
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

    #[tokio::test]
    async fn claims_have_one_owner_until_released_or_expired() {
        let shared = SharedState::in_process(100);
        let tier = shared.tier();
        let ttl = Duration::from_millis(80);
        assert!(tier.claim("cp:v1:lock:a", "one", ttl).await);
        assert!(!tier.claim("cp:v1:lock:a", "two", ttl).await);
        tier.release_claim("cp:v1:lock:a", "two").await;
        assert!(!tier.claim("cp:v1:lock:a", "two", ttl).await, "only the owner releases");
        assert!(tier.extend_claim("cp:v1:lock:a", "one", ttl).await);
        assert!(!tier.extend_claim("cp:v1:lock:a", "two", ttl).await);
        tier.release_claim("cp:v1:lock:a", "one").await;
        assert!(tier.claim("cp:v1:lock:a", "two", ttl).await);
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(tier.claim("cp:v1:lock:a", "three", ttl).await, "an abandoned claim expires");
    }

    #[tokio::test]
    async fn run_once_runs_the_work_once_and_the_others_read_its_result() {
        let shared = SharedState::in_process(100);
        let runs = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (shared, runs) = (shared.clone(), runs.clone());
            tasks.push(tokio::spawn(async move {
                let check = || {
                    let shared = shared.clone();
                    async move { shared.tier().get("cp:v1:t:result").await }
                };
                let work = async {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    shared.tier().put("cp:v1:t:result", b"done".to_vec(), Duration::from_secs(5)).await;
                    b"done".to_vec()
                };
                let lock = "cp:v1:lock:t";
                shared
                    .run_once(
                        lock,
                        Duration::from_millis(30),
                        Duration::from_secs(2),
                        Duration::from_millis(5),
                        check,
                        work,
                    )
                    .await
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), Some(b"done".to_vec()));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1, "the claim outlived its ttl while the owner worked");
    }
}
