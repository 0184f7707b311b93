//! What the plugin remembers about each indexer across searches, and the manners that follow:
//! caps kept a day, an indexer that failed held back (a 429 or a limit error for its
//! `Retry-After`, a refused key longer), and the id form an indexer took.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chillproxy_core::cache::FlightCache;

use crate::caps::Caps;
use crate::client::QueryError;

/// How long caps are believed.
pub const CAPS_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long "these caps could not be read" is believed before asking again.
pub const UNKNOWN_CAPS_TTL: Duration = Duration::from_secs(3600);
/// The longest `Retry-After` honoured; a longer one is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// A 429 (or a limit error) without `Retry-After` holds the indexer back this long.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);
/// A refused key holds the indexer back this many times the failure pause: it will not fix
/// itself within a minute.
pub const UNAUTHORIZED_FACTOR: u32 = 5;
/// Past this many remembered indexers, expired entries are dropped.
const MEMORY_PRUNE_AT: usize = 4096;

/// Why an indexer gave nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// It was asked, or is paused after failing: the reason.
    Failed(String),
    /// The outbound URL policy refused its address or a redirect's (it was not asked), or it is
    /// paused after that: the reason.
    Refused(String),
    /// It searches by title only and the title is unknown (the metadata addon is down).
    NoTitle(String),
}

impl Failure {
    pub fn reason(&self) -> &str {
        match self {
            Failure::Failed(reason) | Failure::Refused(reason) | Failure::NoTitle(reason) => reason,
        }
    }

    /// The same failure with its reason rewritten.
    pub fn map(self, rewrite: impl FnOnce(String) -> String) -> Self {
        match self {
            Failure::Failed(reason) => Failure::Failed(rewrite(reason)),
            Failure::Refused(reason) => Failure::Refused(rewrite(reason)),
            Failure::NoTitle(reason) => Failure::NoTitle(rewrite(reason)),
        }
    }
}

impl From<&QueryError> for Failure {
    fn from(error: &QueryError) -> Self {
        match error {
            QueryError::Refused(_) => Failure::Refused(error.to_string()),
            _ => Failure::Failed(error.to_string()),
        }
    }
}

/// What the plugin remembers across searches, by [`crate::Indexer::memory_key`].
pub struct Memory {
    /// Caps as last read (`None`: the indexer answered something that is not caps), one read in
    /// flight per indexer however many searches wait for it.
    caps: FlightCache<String, Option<Caps>, QueryError>,
    /// Indexers that refused `tt…` ids and took digits.
    digits: Mutex<HashMap<String, Instant>>,
    /// Until when, and the failure that paused it.
    paused: Mutex<HashMap<String, (Instant, Failure)>>,
    failure_pause: Duration,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn prune<V>(map: &mut HashMap<String, V>, expired: impl Fn(&V) -> bool) {
    if map.len() > MEMORY_PRUNE_AT {
        map.retain(|_, v| !expired(v));
    }
}

fn caps_ttl(caps: &Option<Caps>) -> Duration {
    if caps.is_some() {
        CAPS_TTL
    } else {
        UNKNOWN_CAPS_TTL
    }
}

impl Memory {
    /// `failure_pause`: how long an indexer that failed is held back.
    pub fn new(failure_pause: Duration) -> Self {
        Self {
            caps: FlightCache::new(MEMORY_PRUNE_AT),
            digits: Mutex::default(),
            paused: Mutex::default(),
            failure_pause,
        }
    }

    /// `Some(caps)` when known, `Some(None)` when the indexer's caps could not be read lately,
    /// `None` when they should be read.
    pub fn caps(&self, key: &str) -> Option<Option<Caps>> {
        self.caps.get(&key.to_string())
    }

    pub fn remember_caps(&self, key: &str, caps: Option<Caps>) {
        let ttl = caps_ttl(&caps);
        self.caps.insert(key.to_string(), caps, ttl);
    }

    /// The caps, read by `read` unless known (`fresh`: read again whatever is known). One read
    /// per indexer is in flight at a time; concurrent searches wait for it. An answer that is
    /// not caps (not XML, an HTML page, error 201–203) is `Ok(None)` and kept an hour; a failure
    /// that is the indexer's (down, a refused key, a limit) is not kept.
    pub async fn caps_or_read<F, Fut>(&self, key: &str, fresh: bool, read: F) -> Result<Option<Caps>, QueryError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Caps, QueryError>> + Send + 'static,
    {
        if fresh {
            self.caps.remove(&key.to_string());
        }
        let reading = read();
        let load = move || async move {
            match reading.await {
                Ok(caps) => Ok(Some(caps)),
                Err(QueryError::Unreadable(_) | QueryError::Unsupported(_) | QueryError::BadParameter(_)) => Ok(None),
                Err(error) => Err(error),
            }
        };
        let ttl = |result: &Result<Option<Caps>, QueryError>| result.as_ref().ok().map(caps_ttl);
        self.caps.get_or_load(key.to_string(), ttl, load).await
    }

    /// Whether the indexer took digits after refusing `tt…` ids.
    pub fn takes_digits(&self, key: &str) -> bool {
        lock(&self.digits).contains_key(key)
    }

    pub fn remember_digits(&self, key: &str) {
        let mut map = lock(&self.digits);
        prune(&mut map, |_| false);
        map.insert(key.to_string(), Instant::now());
    }

    /// The failure that paused the indexer and the time left, when it is paused.
    pub fn paused(&self, key: &str) -> Option<(Failure, Duration)> {
        let paused = lock(&self.paused);
        let (until, failure) = paused.get(key)?;
        let left = until.checked_duration_since(Instant::now())?;
        Some((failure.clone(), left))
    }

    /// Holds the indexer back after `error`: for its `Retry-After` after a 429 or a limit (60 s
    /// without one, an hour at most), five failure pauses after a refused key, one otherwise.
    pub fn pause(&self, key: &str, error: &QueryError) {
        let pause = match error {
            QueryError::Throttled { retry_after, .. } => {
                retry_after.unwrap_or(DEFAULT_RETRY_AFTER).min(MAX_RETRY_AFTER)
            }
            QueryError::Unauthorized(_) => self.failure_pause * UNAUTHORIZED_FACTOR,
            _ => self.failure_pause,
        };
        let mut map = lock(&self.paused);
        prune(&mut map, |(until, _)| *until <= Instant::now());
        map.insert(key.to_string(), (Instant::now() + pause, Failure::from(error)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_remembers_a_refusal_as_one() {
        let memory = Memory::new(Duration::from_secs(60));
        memory.pause("refused", &QueryError::Refused("could not connect: a loopback address".into()));
        memory.pause("failed", &QueryError::Failed("HTTP 500".into()));
        let (failure, left) = memory.paused("refused").unwrap();
        assert_eq!(failure, Failure::Refused("could not connect: a loopback address".into()));
        assert!(left <= Duration::from_secs(60));
        assert_eq!(memory.paused("failed").unwrap().0, Failure::Failed("HTTP 500".into()));
        assert!(memory.paused("never").is_none());
    }

    #[test]
    fn pauses_follow_the_error() {
        let memory = Memory::new(Duration::from_secs(60));
        memory.pause("key", &QueryError::Unauthorized("Newznab error 100".into()));
        let left = memory.paused("key").unwrap().1;
        assert!(left > Duration::from_secs(240) && left <= Duration::from_secs(300), "{left:?}");
        let throttled = |secs| QueryError::Throttled { reason: "x".into(), retry_after: secs };
        memory.pause("429", &throttled(Some(Duration::from_secs(7))));
        assert!(memory.paused("429").unwrap().1 <= Duration::from_secs(7));
        memory.pause("429", &throttled(Some(Duration::from_secs(86_400))));
        assert!(memory.paused("429").unwrap().1 <= MAX_RETRY_AFTER);
        memory.pause("429", &throttled(None));
        assert!(memory.paused("429").unwrap().1 > Duration::from_secs(50));
    }

    #[test]
    fn unknown_caps_are_remembered_too() {
        let memory = Memory::new(Duration::from_secs(60));
        assert_eq!(memory.caps("x"), None);
        memory.remember_caps("x", None);
        assert_eq!(memory.caps("x"), Some(None));
        memory.remember_caps("x", Some(Caps::default()));
        assert_eq!(memory.caps("x"), Some(Some(Caps::default())));
    }
}
