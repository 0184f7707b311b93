//! What a source that keeps its results needs, written once: [`SourceCache`] keeps each result
//! as long as the upstream says within the source's [`Lifetimes`], keeps failures a short while
//! (a down upstream costs one call per key and period, not one per stream list), runs one load
//! per key at a time, and spends one call of a [`CallBudget`] before each load. A failed load is
//! a [`SourceFailure`]: text for the user, and whether it was a timeout.

use std::convert::Infallible;
use std::future::Future;
use std::hash::Hash;
use std::time::Duration;

use crate::cache::FlightCache;
use crate::upstream::{UpstreamError, UpstreamFailure};
use crate::{SharedState, SourceError};

/// What a budget that is spent says (after the source's name: "StremThru failed: …").
pub const BUDGET_SPENT: &str = "this server's budget of calls to it is spent for this minute; try again shortly";

/// How long a source keeps what it loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// A result whose reply did not say how long it holds is kept this long …
    pub default: Duration,
    /// … and any result at least this long (also when the reply says `no-store`) …
    pub min: Duration,
    /// … and at most this long.
    pub max: Duration,
    /// A failure is kept this long (zero: not kept).
    pub failure: Duration,
}

impl Lifetimes {
    /// Every result kept `result` long, whatever its reply says; failures `failure` long.
    pub const fn fixed(result: Duration, failure: Duration) -> Self {
        Self { default: result, min: result, max: result, failure }
    }

    /// How long a result is kept whose reply allows `max_age` (`None`: it did not say).
    pub fn keep(&self, max_age: Option<Duration>) -> Duration {
        max_age.unwrap_or(self.default).clamp(self.min, self.max.max(self.min))
    }
}

/// Why a source's load gave nothing: a message for the user (never a URL or a key), and whether
/// the upstream did not answer in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFailure {
    pub message: String,
    pub timed_out: bool,
}

impl SourceFailure {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), timed_out: false }
    }

    /// No complete answer within `timeout`: "did not answer within 5000 ms".
    pub fn timeout(timeout: Duration) -> Self {
        Self { message: format!("did not answer within {} ms", timeout.as_millis()), timed_out: true }
    }

    /// A call that got no reply, `timeout` being its budget: a timeout, or the kit's text (which
    /// has neither the URL nor a secret).
    pub fn from_upstream(error: UpstreamError, timeout: Duration) -> Self {
        match error {
            UpstreamError::Timeout => Self::timeout(timeout),
            other => Self::new(other.to_string()),
        }
    }

    /// The search's error for a source that has only this one upstream: a timeout is
    /// [`SourceError::timed_out`], anything else `"{source_name} failed: {message}"`.
    pub fn into_source_error(self, source_name: &str, timeout: Duration) -> SourceError {
        if self.timed_out {
            SourceError::timed_out(source_name, timeout)
        } else {
            SourceError::Upstream { source_name: source_name.to_string(), message: self.message }
        }
    }
}

impl UpstreamFailure for SourceFailure {
    fn is_timeout(&self) -> bool {
        self.timed_out
    }
}

/// At most `limit` calls a minute to one upstream, counted in the shared tier: one count for
/// every replica when the tier is shared. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CallBudget {
    shared: SharedState,
    source: &'static str,
    /// `cp:v1:budget:<source>:<fingerprint of the upstream>`.
    key: String,
    limit: u64,
}

impl CallBudget {
    /// The budget of `source` (its registry name) for the upstream `identity` names (its base
    /// URL; only a fingerprint of it is used, as the URL may carry a config or a key).
    pub fn per_minute(shared: SharedState, source: &'static str, identity: &str, limit: u64) -> Self {
        let fingerprint = crate::secret::fingerprint(identity.as_bytes());
        Self { shared, source, key: SharedState::key("budget", &[source, &fingerprint]), limit }
    }

    /// Counts one call; `false` when this minute's calls are spent (the call is not to be made).
    pub async fn spend(&self) -> bool {
        let within = self.shared.tier().count(&self.key, Duration::from_secs(60)).await <= self.limit;
        if !within {
            tracing::warn!(source = self.source, limit = self.limit, "request budget spent for this minute");
        }
        within
    }
}

/// A source's results per key, loaded once for concurrent callers (on their own task, so a
/// caller that goes away never cancels a load) and kept per [`Lifetimes`]. Cheap to clone.
pub struct SourceCache<K, V> {
    cache: FlightCache<K, Result<V, SourceFailure>, Infallible>,
    lifetimes: Lifetimes,
}

impl<K, V> Clone for SourceCache<K, V> {
    fn clone(&self) -> Self {
        Self { cache: self.cache.clone(), lifetimes: self.lifetimes }
    }
}

impl<K, V> SourceCache<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// At most `capacity` keys.
    pub fn new(capacity: usize, lifetimes: Lifetimes) -> Self {
        Self { cache: FlightCache::new(capacity), lifetimes }
    }

    pub fn lifetimes(&self) -> Lifetimes {
        self.lifetimes
    }

    /// The kept result (or failure) for `key`, or the load in flight for it, or a new load:
    /// first one call of `budget` is spent (a spent budget fails with [`BUDGET_SPENT`], not
    /// kept: the next minute has a fresh one), then `load` runs and gives the value with the
    /// `max-age` its reply allows (`None`: it did not say), kept [`Lifetimes::keep`] long, or a
    /// failure, kept [`Lifetimes::failure`] long.
    pub async fn get_or_load<F, Fut>(&self, key: K, budget: Option<CallBudget>, load: F) -> Result<V, SourceFailure>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(V, Option<Duration>), SourceFailure>> + Send + 'static,
    {
        let lifetimes = self.lifetimes;
        let kept = |ttl: Duration| (!ttl.is_zero()).then_some(ttl);
        let loaded = self
            .cache
            .get_or_load_kept(key, move || {
                let load = load();
                async move {
                    if let Some(budget) = budget {
                        if !budget.spend().await {
                            return Ok((Err(SourceFailure::new(BUDGET_SPENT)), None));
                        }
                    }
                    Ok(match load.await {
                        Ok((value, max_age)) => (Ok(value), kept(lifetimes.keep(max_age))),
                        Err(failure) => (Err(failure), kept(lifetimes.failure)),
                    })
                }
            })
            .await;
        match loaded {
            Ok(result) => result,
            Err(never) => match never {},
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    const LIFETIMES: Lifetimes = Lifetimes {
        default: Duration::from_secs(1800),
        min: Duration::from_secs(60),
        max: Duration::from_secs(6 * 3600),
        failure: Duration::from_secs(60),
    };

    #[test]
    fn max_age_is_clamped_to_the_lifetimes() {
        assert_eq!(LIFETIMES.keep(None), Duration::from_secs(1800));
        assert_eq!(LIFETIMES.keep(Some(Duration::ZERO)), Duration::from_secs(60), "no-store: the least");
        assert_eq!(LIFETIMES.keep(Some(Duration::from_secs(7200))), Duration::from_secs(7200));
        assert_eq!(LIFETIMES.keep(Some(Duration::from_secs(1 << 31))), Duration::from_secs(6 * 3600));
        let fixed = Lifetimes::fixed(Duration::from_secs(3600), Duration::from_secs(60));
        assert_eq!(fixed.keep(Some(Duration::from_secs(5))), Duration::from_secs(3600));
        assert_eq!(fixed.keep(None), Duration::from_secs(3600));
    }

    #[test]
    fn timeouts_read_the_same_everywhere() {
        let failure = SourceFailure::from_upstream(UpstreamError::Timeout, Duration::from_millis(900));
        assert!(failure.timed_out && failure.is_timeout());
        assert_eq!(failure.message, "did not answer within 900 ms");
        assert_eq!(
            failure.into_source_error("StremThru", Duration::from_millis(900)).to_string(),
            "StremThru did not answer within 900 ms"
        );
        let failure = SourceFailure::new("HTTP 500");
        assert_eq!(failure.into_source_error("StremThru", Duration::ZERO).to_string(), "StremThru failed: HTTP 500");
    }

    async fn load(
        cache: &SourceCache<&'static str, u32>,
        budget: Option<CallBudget>,
        calls: &Arc<AtomicUsize>,
        result: Result<(u32, Option<Duration>), SourceFailure>,
    ) -> Result<u32, SourceFailure> {
        let calls = calls.clone();
        cache
            .get_or_load("k", budget, move || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                result
            })
            .await
    }

    #[tokio::test]
    async fn results_and_failures_are_kept_but_a_spent_budget_is_not() {
        let calls = Arc::new(AtomicUsize::new(0));
        let cache = SourceCache::new(10, LIFETIMES);
        assert_eq!(load(&cache, None, &calls, Ok((7, Some(Duration::ZERO)))).await, Ok(7));
        assert_eq!(load(&cache, None, &calls, Ok((8, None))).await, Ok(7), "kept at least `min`");
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let failing = SourceCache::new(10, LIFETIMES);
        let failed = load(&failing, None, &calls, Err(SourceFailure::new("down"))).await;
        assert_eq!(failed, Err(SourceFailure::new("down")));
        assert_eq!(load(&failing, None, &calls, Ok((1, None))).await, failed, "the failure is kept");
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        let not_kept = SourceCache::new(10, Lifetimes { failure: Duration::ZERO, ..LIFETIMES });
        assert!(load(&not_kept, None, &calls, Err(SourceFailure::new("down"))).await.is_err());
        assert_eq!(load(&not_kept, None, &calls, Ok((1, None))).await, Ok(1), "a zero lifetime keeps nothing");

        let shared = SharedState::default();
        let budget = CallBudget::per_minute(shared.clone(), "test", "https://upstream.example", 1);
        let limited = SourceCache::new(10, LIFETIMES);
        let other = SourceCache::new(10, LIFETIMES);
        let before = calls.load(Ordering::SeqCst);
        assert_eq!(load(&limited, Some(budget.clone()), &calls, Ok((1, None))).await, Ok(1));
        let spent = load(&other, Some(budget.clone()), &calls, Ok((2, None))).await;
        assert_eq!(spent, Err(SourceFailure::new(BUDGET_SPENT)));
        assert_eq!(calls.load(Ordering::SeqCst), before + 1, "over budget: not called");
        let again = CallBudget::per_minute(shared, "test", "https://upstream.example", 3);
        assert_eq!(load(&other, Some(again), &calls, Ok((2, None))).await, Ok(2), "a spent budget is not kept");
    }
}
