//! The cluster-wide shared-state tier: Redis, through redis-rs's `ConnectionManager` (one
//! multiplexed connection that reconnects by itself). Chosen by `[cache] redis_url`.
//!
//! Redis down or slow is not an outage: every call has a short timeout; after a few failures
//! in a row a breaker skips Redis for a while, and meanwhile the tier answers from this
//! process (the in-process tier): reads of what only Redis held are misses, claims become
//! in-process single-flight, budget counters count this replica's calls. After the pause, the
//! next call tries Redis again, so sharing resumes by itself when it is back. The tier never
//! connects at start: a replica starts whether Redis is up or not.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chillproxy_core::health::{ErrorKind, Health, Kind, Tracker, Verdict};
use chillproxy_core::shared::InProcessTier;
use chillproxy_core::{async_trait, ConfigError, SharedState, SharedTier, TierStatus};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script};

use crate::config::CacheConfig;

/// Largest value the in-process fallback keeps while Redis is away: counters, window starts,
/// claims, denials, links and remembered failures fit; cache values (file lists, candidates)
/// are dropped, since the caches in front of the tier keep their own copy in memory.
const LOCAL_MAX_VALUE: usize = 1024;

/// Failures in a row that open the breaker.
const BREAKER_FAILURES: u32 = 3;
/// How long the open breaker skips Redis before the next call tries it again.
const BREAKER_OPEN: Duration = Duration::from_secs(3);

/// `INCR`, and start the window's expiry with its first count.
const COUNT: &str = r"local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n";
/// Extend a claim only for its owner.
const EXTEND: &str = r"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0";
/// Compare-and-delete: release a claim only for its owner.
const RELEASE: &str = r"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

pub struct RedisTier {
    client: redis::Client,
    /// Made on first use (inside the runtime), dropped when the breaker opens so that the next
    /// attempt starts from a fresh connection.
    connection: Mutex<Option<ConnectionManager>>,
    timeout: Duration,
    /// What answers while Redis cannot.
    local: InProcessTier,
    failures_in_a_row: AtomicU32,
    open_until: Mutex<Option<Instant>>,
    errors: AtomicU64,
    /// The last call failed (cleared by the next success).
    failing: AtomicBool,
    last_error: Mutex<String>,
    count: Script,
    extend: Script,
    release: Script,
    /// Redis's entry in the server's health registry.
    tracker: Option<Tracker>,
}

impl RedisTier {
    /// Checks the URL only; nothing connects until the first call.
    pub fn new(url: &str, timeout: Duration, local_entries: u64) -> RedisResult<Self> {
        Ok(Self {
            client: redis::Client::open(url)?,
            connection: Mutex::new(None),
            timeout,
            local: InProcessTier::new(local_entries),
            failures_in_a_row: AtomicU32::new(0),
            open_until: Mutex::new(None),
            errors: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            last_error: Mutex::new(String::new()),
            count: Script::new(COUNT),
            extend: Script::new(EXTEND),
            release: Script::new(RELEASE),
            tracker: None,
        })
    }

    /// Reports every call to `tracker`, and holds it `open` while the breaker is.
    pub fn reporting_to(mut self, tracker: Tracker) -> Self {
        self.tracker = Some(tracker);
        self
    }

    /// The connection, unless the breaker is open.
    fn connection(&self) -> Option<ConnectionManager> {
        let mut open_until = self.open_until.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = *open_until {
            if Instant::now() < until {
                return None;
            }
            // Half-open: let calls try again; one more failure opens it again.
            *open_until = None;
        }
        drop(open_until);
        let mut connection = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        if connection.is_none() {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(self.timeout))
                .set_response_timeout(Some(self.timeout))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_millis(200));
            match ConnectionManager::new_lazy_with_config(self.client.clone(), config) {
                Ok(manager) => *connection = Some(manager),
                Err(error) => {
                    drop(connection);
                    self.failed(&error.to_string(), error_kind(&error));
                    return None;
                }
            }
        }
        connection.clone()
    }

    /// Runs one call against Redis within the timeout. `None`: Redis is skipped or failed.
    async fn call<T, F, Fut>(&self, what: &'static str, call: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = RedisResult<T>>,
    {
        let connection = self.connection()?;
        match tokio::time::timeout(self.timeout, call(connection)).await {
            Ok(Ok(value)) => {
                if let Some(tracker) = &self.tracker {
                    tracker.record(Verdict::Answered);
                }
                self.failures_in_a_row.store(0, Ordering::Relaxed);
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("redis answers again; sharing state across replicas");
                }
                Some(value)
            }
            Ok(Err(error)) => {
                self.failed(&format!("{what}: {error}"), error_kind(&error));
                None
            }
            Err(_) => {
                self.failed(&format!("{what}: no answer within {} ms", self.timeout.as_millis()), ErrorKind::Timeout);
                None
            }
        }
    }

    fn failed(&self, error: &str, kind: ErrorKind) {
        if let Some(tracker) = &self.tracker {
            tracker.record(Verdict::Failed(kind));
        }
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = error.to_string();
        if !self.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(%error, "redis failed; serving shared state from this replica until it answers");
        }
        let in_a_row = self.failures_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
        if in_a_row >= BREAKER_FAILURES {
            self.failures_in_a_row.store(0, Ordering::Relaxed);
            *self.open_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + BREAKER_OPEN);
            *self.connection.lock().unwrap_or_else(|p| p.into_inner()) = None;
            if let Some(tracker) = &self.tracker {
                tracker.hold_open(BREAKER_OPEN);
            }
            tracing::debug!(open_s = BREAKER_OPEN.as_secs(), "redis breaker open");
        }
    }
}

/// A Redis error as a fixed word for the health registry.
fn error_kind(error: &redis::RedisError) -> ErrorKind {
    if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.kind() == redis::ErrorKind::AuthenticationFailed {
        ErrorKind::Auth
    } else if error.is_connection_refusal() {
        ErrorKind::Connect
    } else if error.is_io_error() || error.is_connection_dropped() {
        ErrorKind::Transport
    } else if matches!(error.kind(), redis::ErrorKind::Server(_) | redis::ErrorKind::Extension) {
        ErrorKind::ServerError
    } else {
        ErrorKind::BadReply
    }
}

fn millis(ttl: Duration) -> u64 {
    (ttl.as_millis() as u64).max(1)
}

#[async_trait]
impl SharedTier for RedisTier {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let found = self
            .call("GET", |mut c| async move { redis::cmd("GET").arg(key).query_async::<Option<Vec<u8>>>(&mut c).await })
            .await;
        match found {
            Some(value) => value,
            None => self.local.get(key).await,
        }
    }

    async fn get_many(&self, keys: &[String]) -> Vec<Option<Vec<u8>>> {
        if keys.is_empty() {
            return Vec::new();
        }
        let found = self
            .call("MGET", |mut c| async move {
                redis::cmd("MGET").arg(keys).query_async::<Vec<Option<Vec<u8>>>>(&mut c).await
            })
            .await;
        match found {
            Some(values) if values.len() == keys.len() => values,
            _ => self.local.get_many(keys).await,
        }
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) {
        self.put_many(vec![(key.to_string(), value, ttl)]).await;
    }

    async fn put_many(&self, entries: Vec<(String, Vec<u8>, Duration)>) {
        if entries.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for (key, value, ttl) in &entries {
            pipe.cmd("SET").arg(key).arg(value).arg("PX").arg(millis(*ttl)).ignore();
        }
        let stored = self.call("SET", |mut c| async move { pipe.query_async::<()>(&mut c).await }).await;
        if stored.is_none() {
            let small = entries.into_iter().filter(|(_, value, _)| value.len() <= LOCAL_MAX_VALUE).collect();
            self.local.put_many(small).await;
        }
    }

    async fn delete(&self, key: &str) {
        let deleted =
            self.call("DEL", |mut c| async move { redis::cmd("DEL").arg(key).query_async::<u64>(&mut c).await }).await;
        // Forget any copy made while Redis was away, too.
        let _ = deleted;
        self.local.delete(key).await;
    }

    async fn count(&self, key: &str, window: Duration) -> u64 {
        let script = &self.count;
        let counted = self
            .call("count", |mut c| async move { script.key(key).arg(millis(window)).invoke_async::<u64>(&mut c).await })
            .await;
        match counted {
            Some(count) => count,
            None => self.local.count(key, window).await,
        }
    }

    async fn claim(&self, key: &str, owner: &str, ttl: Duration) -> bool {
        let claimed = self
            .call("SET NX", |mut c| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(owner)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(ttl))
                    .query_async::<Option<String>>(&mut c)
                    .await
            })
            .await;
        match claimed {
            Some(answer) => answer.is_some(),
            None => self.local.claim(key, owner, ttl).await,
        }
    }

    async fn extend_claim(&self, key: &str, owner: &str, ttl: Duration) -> bool {
        let script = &self.extend;
        let extended = self
            .call("extend", |mut c| async move {
                script.key(key).arg(owner).arg(millis(ttl)).invoke_async::<u64>(&mut c).await
            })
            .await;
        match extended {
            Some(n) => n == 1,
            None => self.local.extend_claim(key, owner, ttl).await,
        }
    }

    async fn release_claim(&self, key: &str, owner: &str) {
        let script = &self.release;
        let _ = self
            .call("release", |mut c| async move { script.key(key).arg(owner).invoke_async::<u64>(&mut c).await })
            .await;
        self.local.release_claim(key, owner).await;
    }

    fn status(&self) -> TierStatus {
        let breaker_open =
            self.open_until.lock().unwrap_or_else(|p| p.into_inner()).is_some_and(|t| Instant::now() < t);
        let failing = self.failing.load(Ordering::Relaxed);
        let degraded = (breaker_open || failing).then(|| {
            let error = self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
            format!("redis unreachable ({error}); caches, locks and budgets are per replica until it answers")
        });
        TierStatus { degraded, errors: self.errors.load(Ordering::Relaxed), breaker_open }
    }
}

/// The shared-state tier `config` asks for: Redis when `redis_url` is set (nothing connects
/// yet: a replica starts whether Redis is up or not; it reports to `redis` in `health`), else
/// this process's memory.
pub fn shared_state(config: &CacheConfig, health: &Health) -> Result<SharedState, ConfigError> {
    match config.redis_url.as_ref().filter(|url| !url.is_empty()) {
        Some(url) => {
            let timeout = std::time::Duration::from_millis(config.redis_timeout_ms);
            let tier = RedisTier::new(url.expose(), timeout, config.max_entries as u64)
                .map_err(|e| ConfigError::new(format!("[cache] redis_url is not a Redis URL: {}", e.category())))?
                .reporting_to(health.tracker(Kind::SharedTier, "redis"));
            Ok(SharedState::new(std::sync::Arc::new(tier)))
        }
        None => Ok(SharedState::in_process(config.max_entries as u64)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Nothing listens on the discard port: every call fails at once, as with Redis down.
    fn unreachable() -> RedisTier {
        RedisTier::new("redis://127.0.0.1:9/0", Duration::from_millis(200), 100).unwrap()
    }

    #[tokio::test]
    async fn without_redis_the_tier_answers_from_this_process_and_says_it_is_degraded() {
        let health = Health::default();
        let tier = unreachable().reporting_to(health.tracker(Kind::SharedTier, "redis"));
        assert_eq!(tier.status(), TierStatus::default(), "nothing is known before the first call");
        tier.put("cp:v1:t:a", b"x".to_vec(), Duration::from_secs(60)).await;
        assert_eq!(tier.get("cp:v1:t:a").await, Some(b"x".to_vec()), "kept in this process");
        tier.put("cp:v1:t:big", vec![b'x'; LOCAL_MAX_VALUE + 1], Duration::from_secs(60)).await;
        assert_eq!(tier.get("cp:v1:t:big").await, None, "a cache value is dropped");
        assert_eq!(tier.count("cp:v1:budget:k", Duration::from_secs(60)).await, 1);
        assert_eq!(tier.count("cp:v1:budget:k", Duration::from_secs(60)).await, 2, "counted per replica");
        assert!(tier.claim("cp:v1:lock:a", "one", Duration::from_secs(5)).await);
        assert!(!tier.claim("cp:v1:lock:a", "two", Duration::from_secs(5)).await, "single-flight in process");
        tier.release_claim("cp:v1:lock:a", "one").await;
        assert!(tier.claim("cp:v1:lock:a", "two", Duration::from_secs(5)).await);
        let status = tier.status();
        assert!(status.breaker_open, "{status:?}");
        assert!(status.errors >= BREAKER_FAILURES as u64, "{status:?}");
        assert!(status.degraded.as_deref().is_some_and(|r| r.starts_with("redis unreachable")), "{status:?}");
        // While the breaker is open, calls do not try Redis.
        let errors = status.errors;
        let _ = tier.get("cp:v1:t:b").await;
        assert_eq!(tier.status().errors, errors);
        // The health registry says so in fixed words.
        let redis = &health.upstreams()[0];
        assert_eq!((redis.name.as_str(), redis.state.as_str()), ("redis", "open"));
        let error = redis.last_error.map(|e| e.as_str());
        assert!(matches!(error, Some("connect" | "transport")), "{redis:?}");
    }

    #[test]
    fn a_url_that_is_not_redis_is_refused_at_start() {
        assert!(RedisTier::new("http://127.0.0.1:6379", Duration::from_millis(100), 10).is_err());
    }
}
