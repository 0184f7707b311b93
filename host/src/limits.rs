//! Inbound rate limits (`[limits]`): token buckets (GCRA, the `governor` crate) per client IP
//! and per user, separately for stream lists, playback and the configure check, so one client
//! cannot spend the operator's indexer quota or a pooled key's budget for everyone.
//!
//! With replicas sharing a cluster-wide tier (Redis), the same limits also hold for the
//! cluster: fixed one-minute windows counted in the shared tier per client IP and per user
//! (both as fingerprints), on top of each replica's own buckets, which stay the floor when
//! Redis is away.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use chillproxy_core::SharedState;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::LimitsConfig;

/// Which route family a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Streams,
    Playback,
    ConfigureCheck,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Self::Streams => "streams",
            Self::Playback => "playback",
            Self::ConfigureCheck => "configure",
        }
    }
}

/// One family's limiters: per client IP and per user (a fingerprint of their config).
struct Pair {
    by_ip: DefaultKeyedRateLimiter<IpAddr>,
    by_user: DefaultKeyedRateLimiter<String>,
    per_minute: u64,
}

impl Pair {
    fn new(per_minute: u32) -> Option<Self> {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute)?);
        Some(Self {
            by_ip: RateLimiter::keyed(quota),
            by_user: RateLimiter::keyed(quota),
            per_minute: per_minute.into(),
        })
    }
}

/// The limiters of every family.
pub(crate) struct InboundLimits {
    streams: Option<Pair>,
    playback: Option<Pair>,
    configure: Option<Pair>,
    /// The cluster-wide tier, when replicas share one (not for the in-process tier: the
    /// buckets above already are this process's limits).
    cluster: Option<SharedState>,
}

impl InboundLimits {
    pub(crate) fn new(config: &LimitsConfig) -> Self {
        Self {
            streams: Pair::new(config.streams_per_minute),
            playback: Pair::new(config.playback_per_minute),
            configure: Pair::new(config.configure_checks_per_minute),
            cluster: None,
        }
    }

    /// Counts the limits for the cluster too, in `shared` (when it is cluster-wide).
    pub(crate) fn with_shared(mut self, shared: &SharedState) -> Self {
        self.cluster = (shared.tier().kind() != "in-process").then(|| shared.clone());
        self
    }

    fn pair(&self, family: Family) -> Option<&Pair> {
        match family {
            Family::Streams => self.streams.as_ref(),
            Family::Playback => self.playback.as_ref(),
            Family::ConfigureCheck => self.configure.as_ref(),
        }
    }

    /// [`InboundLimits::check`], then the cluster's count when replicas share a tier: `Err`
    /// with the time until the current minute ends when the client or the user has made
    /// `per_minute` requests of `family` on all replicas together this minute.
    pub(crate) async fn admit(&self, family: Family, ip: IpAddr, user: Option<&str>) -> Result<(), Duration> {
        self.check(family, ip, user)?;
        let (Some(shared), Some(pair)) = (&self.cluster, self.pair(family)) else { return Ok(()) };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        let (minute, left) = (now / 60, Duration::from_secs(60 - now % 60));
        let window = minute.to_string();
        let ip = chillproxy_core::secret::fingerprint(ip.to_canonical().to_string().as_bytes());
        let by_ip = SharedState::key("rl", &["in", family.name(), "ip", &ip, &window]);
        let mut keys = vec![by_ip];
        if let Some(user) = user {
            keys.push(SharedState::key("rl", &["in", family.name(), "user", user, &window]));
        }
        let counts =
            futures::future::join_all(keys.iter().map(|key| shared.tier().count(key, Duration::from_secs(61)))).await;
        if counts.iter().any(|count| *count > pair.per_minute) {
            Err(left)
        } else {
            Ok(())
        }
    }

    /// `Ok` when this client and this user may make one more request of `family`; else how long
    /// until they may. The client's bucket is charged first, then the user's.
    pub(crate) fn check(&self, family: Family, ip: IpAddr, user: Option<&str>) -> Result<(), Duration> {
        let Some(pair) = self.pair(family) else { return Ok(()) };
        let ip = ip.to_canonical();
        check_key(&pair.by_ip, &ip)?;
        match user {
            Some(user) => check_key(&pair.by_user, &user.to_string()),
            None => Ok(()),
        }
    }

    /// Forgets buckets that are full again (run now and then, so memory follows active clients).
    pub(crate) fn forget_idle(&self) {
        for pair in [&self.streams, &self.playback, &self.configure].into_iter().flatten() {
            pair.by_ip.retain_recent();
            pair.by_user.retain_recent();
            pair.by_ip.shrink_to_fit();
            pair.by_user.shrink_to_fit();
        }
    }
}

fn check_key<K: Hash + Eq + Clone>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), Duration> {
    limiter.check_key(key).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

/// Who a config belongs to, for per-user limits: a fingerprint of its segment (never the segment).
pub(crate) fn user_fingerprint(segment: &str) -> String {
    chillproxy_core::secret::fingerprint(segment.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_and_each_user_has_its_own_bucket() {
        let limits = InboundLimits::new(&LimitsConfig {
            streams_per_minute: 2,
            playback_per_minute: 0,
            configure_checks_per_minute: 1,
        });
        let (a, b): (IpAddr, IpAddr) = ([203, 0, 113, 1].into(), [203, 0, 113, 2].into());
        assert!(limits.check(Family::Streams, a, Some("u1")).is_ok());
        assert!(limits.check(Family::Streams, a, Some("u2")).is_ok());
        let wait = limits.check(Family::Streams, a, Some("u3")).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(30), "{wait:?}");
        assert!(limits.check(Family::Streams, b, Some("u1")).is_ok(), "another client");
        assert!(limits.check(Family::Streams, b, Some("u1")).is_err(), "u1's own bucket is empty");
        for _ in 0..100 {
            assert!(limits.check(Family::Playback, a, Some("u1")).is_ok(), "0 turns it off");
        }
        limits.forget_idle();
    }
}
