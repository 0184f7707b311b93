//! Usage events for auth providers that account for them (Chillstreams). Playback records an
//! event and moves on; a background worker delivers it.
//!
//! PLACEHOLDER (being replaced by the durable spool): events are kept in memory and delivered
//! once each, so they do not survive an outage or a restart yet.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use chillproxy_core::{AuthChain, ConfigError, Credential, UsageEvent, UsageRecord};
use tokio::sync::mpsc;

use crate::config::UsageConfig;

/// Counters for metrics and tests.
#[derive(Debug, Default)]
pub struct UsageCounters {
    pub recorded: AtomicU64,
    pub delivered: AtomicU64,
    pub dropped: AtomicU64,
    pub failed_attempts: AtomicU64,
}

/// The usage spool: `record` from request handlers, `start` once to deliver in the background,
/// `shutdown` to flush on exit.
#[derive(Clone)]
pub struct UsageSpool {
    sender: mpsc::UnboundedSender<UsageRecord>,
    receiver: Arc<std::sync::Mutex<Option<mpsc::UnboundedReceiver<UsageRecord>>>>,
    counters: Arc<UsageCounters>,
}

impl UsageSpool {
    pub fn open(_config: &UsageConfig) -> Result<Self, ConfigError> {
        let (sender, receiver) = mpsc::unbounded_channel();
        Ok(Self {
            sender,
            receiver: Arc::new(std::sync::Mutex::new(Some(receiver))),
            counters: Arc::new(UsageCounters::default()),
        })
    }

    /// Records one event for a credential that carries a usage tag; does nothing otherwise.
    pub fn record(&self, credential: &Credential, event: &UsageEvent) {
        let Some(tag) = &credential.usage else { return };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let record = UsageRecord {
            event_id: format!("{now:x}-{}", self.counters.recorded.fetch_add(1, Ordering::Relaxed)),
            provider: credential.provider.to_string(),
            user_id: tag.user_id.clone(),
            pool_key_id: tag.pool_key_id.clone(),
            hash: event.hash.to_string(),
            cached: event.cached,
            bytes: event.bytes,
            created_at_ms: now,
        };
        if self.sender.send(record).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Starts the background delivery worker (once; later calls do nothing).
    pub fn start(&self, auth: AuthChain) {
        let Some(mut receiver) = self.receiver.lock().ok().and_then(|mut r| r.take()) else { return };
        let counters = self.counters.clone();
        tokio::spawn(async move {
            while let Some(record) = receiver.recv().await {
                let Some(provider) = auth.provider(&record.provider).cloned() else { continue };
                match provider.deliver_usage(&record).await {
                    Ok(()) => counters.delivered.fetch_add(1, Ordering::Relaxed),
                    Err(error) => {
                        tracing::warn!(provider = %record.provider, %error, "usage delivery failed");
                        counters.failed_attempts.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        });
    }

    /// Flushes what is pending (nothing to do for the in-memory placeholder).
    pub async fn shutdown(&self) {}

    pub fn counters(&self) -> &UsageCounters {
        &self.counters
    }

    /// Events waiting for delivery.
    pub fn depth(&self) -> u64 {
        0
    }
}
