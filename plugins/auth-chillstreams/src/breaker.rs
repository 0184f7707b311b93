//! A circuit breaker for the Chillstreams API: after `threshold` consecutive failures it opens
//! for `open_for`, answering "no" at once; then one probe goes through, and its result closes or
//! re-opens it. While open, the upstream's health tracker reads `open`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chillproxy_core::health::Tracker;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

#[derive(Debug, Clone)]
pub struct Breaker {
    inner: Arc<Mutex<Inner>>,
    threshold: u32,
    open_for: Duration,
    /// Held `open` while the breaker is.
    tracker: Option<Tracker>,
}

impl Breaker {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner { consecutive_failures: 0, open_until: None, probing: false })),
            threshold: threshold.max(1),
            open_for,
            tracker: None,
        }
    }

    /// Holds `tracker` `open` whenever the breaker opens, and lets it go when it closes.
    pub fn reporting_to(mut self, tracker: Tracker) -> Self {
        self.tracker = Some(tracker);
        self
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn state(&self) -> BreakerState {
        let inner = self.lock();
        match inner.open_until {
            None => BreakerState::Closed,
            Some(until) if until > Instant::now() => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    /// Whether a call may go out now. While open: no. Once the open period is over, exactly one
    /// caller (the probe) gets a yes until its result is recorded.
    pub fn allow(&self) -> bool {
        let mut inner = self.lock();
        match inner.open_until {
            None => true,
            Some(until) if until > Instant::now() => false,
            Some(_) if inner.probing => false,
            Some(_) => {
                inner.probing = true;
                true
            }
        }
    }

    pub fn record_success(&self) {
        let mut inner = self.lock();
        if inner.open_until.is_some() {
            tracing::info!("chillstreams answered again; circuit closed");
        }
        inner.consecutive_failures = 0;
        inner.open_until = None;
        inner.probing = false;
        if let Some(tracker) = &self.tracker {
            tracker.release();
        }
    }

    pub fn record_failure(&self) {
        let mut inner = self.lock();
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        let reopen = inner.probing || inner.consecutive_failures >= self.threshold;
        inner.probing = false;
        if reopen {
            if inner.open_until.is_none_or(|until| until <= Instant::now()) {
                tracing::warn!(
                    failures = inner.consecutive_failures,
                    open_s = self.open_for.as_secs(),
                    "chillstreams keeps failing; circuit open"
                );
            }
            inner.open_until = Some(Instant::now() + self.open_for);
            if let Some(tracker) = &self.tracker {
                tracker.hold_open(self.open_for);
            }
        }
    }

    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    pub fn open_for(&self) -> Duration {
        self.open_for
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_probes_once() {
        let breaker = Breaker::new(3, Duration::from_millis(50));
        for _ in 0..2 {
            breaker.record_failure();
            assert!(breaker.allow());
        }
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(!breaker.allow());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(breaker.allow(), "one probe");
        assert!(!breaker.allow(), "only one");
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open, "a failed probe re-opens");
        std::thread::sleep(Duration::from_millis(60));
        assert!(breaker.allow());
        breaker.record_success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert!(breaker.allow() && breaker.allow());
    }

    #[test]
    fn the_tracker_reads_open_while_the_breaker_is() {
        use chillproxy_core::health::{Kind, State};
        let tracker = Tracker::detached(Kind::Auth, "chillstreams");
        let breaker = Breaker::new(2, Duration::from_secs(60)).reporting_to(tracker.clone());
        breaker.record_failure();
        assert_eq!(tracker.read().state, State::Unknown, "one failure does not open it");
        breaker.record_failure();
        assert_eq!(tracker.read().state, State::Open);
        breaker.record_success();
        assert_ne!(tracker.read().state, State::Open);
    }
}
