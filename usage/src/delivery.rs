//! The delivery worker: reads pending records oldest first and hands each to the auth provider
//! that granted its credential ([`AuthProvider::deliver_usage`]). A record is deleted only after
//! the receiver accepted it (2xx).
//!
//! # Bounded concurrency, exponential backoff
//!
//! The worker reads pending records oldest first and delivers up to `max_in_flight` at once.
//! - Success: the record is deleted and the backoff resets.
//! - Retryable failure (timeout, 5xx): the record stays and every delivery pauses for the current
//!   backoff, which starts at `backoff_initial_ms` and doubles with each failure up to
//!   `backoff_max_ms`. After the pause one delivery probes the receiver; full concurrency resumes
//!   once one succeeds. During an outage the receiver sees about one attempt per backoff period,
//!   not one per event.
//! - Rejection (`retryable: false`, e.g. HTTP 400): the record is removed with an error log and
//!   counted in [`UsageCounters::dropped_rejected`](crate::UsageCounters::dropped_rejected); it would fail forever otherwise.
//! - A record whose provider is not running (e.g. the operator disabled Chillstreams) stays in the
//!   spool for a later start; that is logged once per provider and start, at warn.
//!
//! The worker sleeps on a [`Notify`](tokio::sync::Notify) that the writer signals after each
//! commit of new events, so it wakes at once and never polls.
//!
//! On shutdown the worker stops starting deliveries and gives those in flight
//! `shutdown_grace_ms` to finish; the rest stay in the spool for the next start.

use std::collections::{BTreeMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chillproxy_core::{AuthChain, AuthProvider, UsageError, UsageRecord};
use futures::FutureExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::UsageConfig;
use crate::spool::{Loaded, Op, Shared};

/// Records the worker reads at once.
const LOAD_BATCH: usize = 256;
/// Exponential backoff: `initial`, then doubling after each failure, capped at `max`; `reset`
/// after a success.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.min(max);
        Self { initial, max, next: initial }
    }

    /// The pause before the next attempt; the one after it is twice as long, up to `max`.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = self.next.checked_mul(2).map_or(self.max, |d| d.min(self.max));
        delay
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.initial;
    }
}
// ---- the delivery worker ----

/// One finished delivery attempt.
struct Delivery {
    key: u64,
    record: UsageRecord,
    result: Result<(), UsageError>,
}

enum Wake {
    Stop,
    Delivered(Delivery),
    NewEvents,
    Resume,
    Nothing,
}

pub(crate) struct Worker {
    shared: Arc<Shared>,
    ops: mpsc::UnboundedSender<Op>,
    auth: AuthChain,
    max_in_flight: usize,
    backoff: Backoff,
    grace: Duration,
    stop: watch::Receiver<bool>,
    flying: JoinSet<Delivery>,
    /// Read from the spool, not in flight, oldest first.
    ready: BTreeMap<u64, UsageRecord>,
    /// No new delivery starts before this (after a retryable failure).
    paused_until: Option<Instant>,
    /// After a failure, one delivery at a time until one succeeds.
    probing: bool,
}

impl Worker {
    pub(crate) fn new(
        shared: Arc<Shared>,
        ops: mpsc::UnboundedSender<Op>,
        auth: AuthChain,
        config: &UsageConfig,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Self {
            shared,
            ops,
            auth,
            max_in_flight: config.max_in_flight,
            backoff: Backoff::new(
                Duration::from_millis(config.backoff_initial_ms),
                Duration::from_millis(config.backoff_max_ms),
            ),
            grace: Duration::from_millis(config.shutdown_grace_ms),
            stop,
            flying: JoinSet::new(),
            ready: BTreeMap::new(),
            paused_until: None,
            probing: false,
        }
    }

    pub(crate) async fn run(mut self) {
        // Every key below `cursor` has been read (and is delivered, in flight, ready or parked).
        let mut cursor = 0u64;
        let mut more = true;
        let mut parked_providers = HashSet::new();
        loop {
            if *self.stop.borrow() {
                break;
            }
            let now = Instant::now();
            let paused = matches!(self.paused_until, Some(until) if until > now);
            let limit = if self.probing { 1 } else { self.max_in_flight };
            if more && !paused && self.ready.len() < limit {
                let Some(loaded) = self.load(cursor, LOAD_BATCH).await else {
                    tracing::error!("usage spool writer is gone; delivery stops");
                    break;
                };
                cursor = loaded.next;
                more = loaded.more;
                for (key, record) in loaded.records {
                    if self.auth.provider(&record.provider).is_some() {
                        self.ready.insert(key, record);
                    } else if parked_providers.insert(record.provider.clone()) {
                        tracing::warn!(
                            provider = %record.provider,
                            "usage events for an auth provider that is not running stay in the spool until it runs again"
                        );
                    }
                }
                continue;
            }
            if !paused {
                while self.flying.len() < limit {
                    let Some((key, record)) = self.ready.pop_first() else { break };
                    let Some(provider) = self.auth.provider(&record.provider).cloned() else { continue };
                    self.flying.spawn(deliver(provider, key, record));
                }
            }
            let resume_at = self.paused_until.filter(|_| paused);
            let wake = tokio::select! {
                changed = self.stop.changed() => if changed.is_err() { Wake::Stop } else { Wake::Nothing },
                Some(joined) = self.flying.join_next(), if !self.flying.is_empty() => match joined {
                    Ok(delivery) => Wake::Delivered(delivery),
                    Err(_) => Wake::Nothing,
                },
                () = self.shared.committed.notified(), if !more => Wake::NewEvents,
                () = tokio::time::sleep_until(resume_at.unwrap_or(now)), if resume_at.is_some() => Wake::Resume,
            };
            match wake {
                Wake::Stop => break,
                Wake::Delivered(delivery) => self.settle(delivery, false),
                Wake::NewEvents => more = true,
                Wake::Resume => self.paused_until = None,
                Wake::Nothing => {}
            }
        }
        self.drain().await;
    }

    async fn load(&self, from: u64, limit: usize) -> Option<Loaded> {
        let (reply, loaded) = oneshot::channel();
        self.ops.send(Op::Load { from, limit, reply }).ok()?;
        loaded.await.ok()
    }

    fn settle(&mut self, delivery: Delivery, stopping: bool) {
        let Delivery { key, record, result } = delivery;
        let counters = &self.shared.counters;
        match result {
            Ok(()) => {
                let _ = self.ops.send(Op::Delete(key));
                counters.delivered.fetch_add(1, Ordering::Relaxed);
                self.receiver_answered();
            }
            Err(error) if error.retryable => {
                let failed = counters.failed_attempts.fetch_add(1, Ordering::Relaxed) + 1;
                if stopping {
                    tracing::info!(provider = %record.provider, event_id = %record.event_id, %error, "usage delivery failed during shutdown; the event stays in the spool");
                    return;
                }
                self.probing = true;
                let now = Instant::now();
                if matches!(self.paused_until, Some(until) if until > now) {
                    tracing::debug!(provider = %record.provider, event_id = %record.event_id, %error, "usage delivery failed");
                } else {
                    let delay = self.backoff.next_delay();
                    self.paused_until = Some(now + delay);
                    tracing::warn!(
                        provider = %record.provider,
                        event_id = %record.event_id,
                        %error,
                        failed_attempts = failed,
                        retry_in_ms = delay.as_millis() as u64,
                        "usage delivery failed; retrying after a pause"
                    );
                }
                self.ready.insert(key, record);
            }
            Err(error) => {
                let _ = self.ops.send(Op::Delete(key));
                let dropped = counters.dropped_rejected.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::error!(
                    provider = %record.provider,
                    event_id = %record.event_id,
                    %error,
                    dropped_rejected = dropped,
                    "usage event rejected by the receiver; removed from the spool"
                );
                self.receiver_answered();
            }
        }
    }

    /// The receiver works: back to full speed.
    fn receiver_answered(&mut self) {
        self.backoff.reset();
        self.probing = false;
        self.paused_until = None;
    }

    /// Lets deliveries in flight finish within the grace period; the rest stay in the spool.
    async fn drain(mut self) {
        let deadline = Instant::now() + self.grace;
        loop {
            match tokio::time::timeout_at(deadline, self.flying.join_next()).await {
                Ok(Some(Ok(delivery))) => self.settle(delivery, true),
                Ok(Some(Err(_))) => {}
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(
                        abandoned = self.flying.len(),
                        "usage deliveries still in flight at shutdown were abandoned; they stay in the spool"
                    );
                    self.flying.abort_all();
                    break;
                }
            }
        }
    }
}

async fn deliver(provider: Arc<dyn AuthProvider>, key: u64, record: UsageRecord) -> Delivery {
    let result = AssertUnwindSafe(provider.deliver_usage(&record))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(UsageError { retryable: true, message: "the usage delivery panicked".to_string() }));
    Delivery { key, record, result }
}

#[cfg(test)]
mod tests {
    use chillproxy_core::UsageRecord;

    use super::*;
    use crate::test_support::*;
    use crate::UsageSpool;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(1_000));
        let delays: Vec<u64> = (0..7).map(|_| backoff.next_delay().as_millis() as u64).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1_000, 1_000, 1_000]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(100));
        assert_eq!(backoff.next_delay(), Duration::from_millis(200));

        let mut huge = Backoff::new(Duration::from_secs(u64::MAX / 2), Duration::MAX);
        huge.next_delay();
        huge.next_delay();
        assert_eq!(huge.next_delay(), Duration::MAX, "no overflow");
        let mut inverted = Backoff::new(Duration::from_secs(5), Duration::from_secs(1));
        assert_eq!(inverted.next_delay(), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn delivery_order_is_recording_order() {
        let config = UsageConfig { max_in_flight: 1, ..temp_config() };
        let spool = UsageSpool::open(&config).unwrap();
        let mut ids = Vec::new();
        for i in 0..20 {
            let record = UsageRecord {
                event_id: format!("event-{i:02}"),
                provider: "receiver".into(),
                user_id: "u".into(),
                pool_key_id: "k".into(),
                hash: format!("{i:040x}"),
                cached: true,
                bytes: i,
                created_at_ms: 0,
            };
            ids.push(record.event_id.clone());
            spool.record_usage(record);
        }
        spool.shutdown().await;
        let spool = UsageSpool::open(&config).unwrap();
        let receiver = Receiver::new("receiver", vec![]);
        spool.start(chain(&receiver));
        wait_until(|| spool.depth() == 0).await;
        assert_eq!(receiver.accepted(), ids);
        spool.shutdown().await;
        cleanup(&config);
    }

    #[tokio::test]
    async fn retryable_failures_are_retried_until_delivered() {
        let config = temp_config();
        let spool = UsageSpool::open(&config).unwrap();
        let failure = || Err(UsageError { retryable: true, message: "HTTP 503".into() });
        let receiver = Receiver::new("receiver", vec![failure(), failure(), failure()]);
        spool.start(chain(&receiver));
        spool.record(&credential("receiver"), &event(1));
        wait_until(|| spool.depth() == 0).await;
        assert_eq!(count(&spool.counters().failed_attempts), 3);
        assert_eq!(count(&spool.counters().delivered), 1);
        let attempts = receiver.attempts();
        assert_eq!(attempts.len(), 4);
        assert!(attempts.iter().all(|id| *id == attempts[0]), "the same event each time");
        spool.shutdown().await;
        cleanup(&config);
    }

    #[tokio::test]
    async fn a_rejected_event_is_removed_and_counted() {
        let config = temp_config();
        let spool = UsageSpool::open(&config).unwrap();
        let receiver =
            Receiver::new("receiver", vec![Err(UsageError { retryable: false, message: "HTTP 400".into() })]);
        spool.start(chain(&receiver));
        spool.record(&credential("receiver"), &event(1));
        wait_until(|| spool.depth() == 0).await;
        spool.record(&credential("receiver"), &event(2));
        wait_until(|| count(&spool.counters().delivered) == 1 && spool.depth() == 0).await;
        assert_eq!(count(&spool.counters().dropped_rejected), 1);
        assert_eq!(receiver.attempts().len(), 2, "no retry of the rejected event");
        spool.shutdown().await;
        cleanup(&config);
    }

    #[tokio::test]
    async fn events_of_a_provider_that_is_not_running_stay() {
        let config = temp_config();
        let spool = UsageSpool::open(&config).unwrap();
        spool.record(&credential("chillstreams"), &event(1));
        spool.record(&credential("receiver"), &event(2));
        let receiver = Receiver::new("receiver", vec![]);
        spool.start(chain(&receiver));
        wait_until(|| count(&spool.counters().delivered) == 1).await;
        spool.flush().await;
        assert_eq!(spool.depth(), 1);
        spool.shutdown().await;
        let spool = UsageSpool::open(&config).unwrap();
        assert_eq!(spool.depth(), 1);
        let chillstreams = Receiver::new("chillstreams", vec![]);
        spool.start(chain(&chillstreams));
        wait_until(|| spool.depth() == 0).await;
        assert_eq!(chillstreams.accepted().len(), 1);
        spool.shutdown().await;
        cleanup(&config);
    }
}
