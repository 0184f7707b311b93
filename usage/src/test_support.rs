//! What the unit tests of the spool and of delivery share: a scripted receiver, a spool config
//! in a temp folder, credentials and events.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chillproxy_core::{
    async_trait, AuthChain, AuthOutcome, AuthProvider, AuthRequest, Credential, InfoHash, Secret, UsageError,
    UsageEvent, UsageRecord, UsageTag,
};

use crate::spool::lock;
use crate::UsageConfig;

/// A provider that answers deliveries from a script (then `Ok`) and records what it got.
pub(crate) struct Receiver {
    name: &'static str,
    script: Mutex<VecDeque<Result<(), UsageError>>>,
    attempts: Mutex<Vec<String>>,
    accepted: Mutex<Vec<String>>,
}

impl Receiver {
    pub(crate) fn new(name: &'static str, script: Vec<Result<(), UsageError>>) -> Arc<Self> {
        Arc::new(Self {
            name,
            script: Mutex::new(script.into()),
            attempts: Mutex::default(),
            accepted: Mutex::default(),
        })
    }
    pub(crate) fn attempts(&self) -> Vec<String> {
        lock(&self.attempts).clone()
    }
    pub(crate) fn accepted(&self) -> Vec<String> {
        lock(&self.accepted).clone()
    }
}

#[async_trait]
impl AuthProvider for Receiver {
    fn name(&self) -> &'static str {
        self.name
    }
    async fn authorize(&self, _request: &AuthRequest<'_>) -> AuthOutcome {
        AuthOutcome::NotApplicable
    }
    async fn deliver_usage(&self, record: &UsageRecord) -> Result<(), UsageError> {
        lock(&self.attempts).push(record.event_id.clone());
        let result = lock(&self.script).pop_front().unwrap_or(Ok(()));
        if result.is_ok() {
            lock(&self.accepted).push(record.event_id.clone());
        }
        result
    }
}

pub(crate) fn chain(receiver: &Arc<Receiver>) -> AuthChain {
    AuthChain::new(vec![receiver.clone() as Arc<dyn AuthProvider>])
}

pub(crate) fn temp_config() -> UsageConfig {
    let dir = std::env::temp_dir().join(format!("chillproxy-usage-unit-{}", uuid::Uuid::new_v4()));
    UsageConfig {
        spool_path: dir.join("nested").join("usage.db"),
        backoff_initial_ms: 5,
        backoff_max_ms: 40,
        ..UsageConfig::default()
    }
}

pub(crate) fn cleanup(config: &UsageConfig) {
    if let Some(dir) = config.spool_path.parent().and_then(Path::parent) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

pub(crate) fn credential(provider: &'static str) -> Credential {
    Credential {
        key: Secret::new("pool-key-SECRET"),
        provider,
        usage: Some(UsageTag { user_id: "user-1".into(), pool_key_id: "pk-1".into() }),
    }
}

pub(crate) fn event(i: u64) -> UsageEvent {
    UsageEvent { hash: InfoHash::parse(&format!("{i:040x}")).unwrap(), cached: i < 3, bytes: 1000 + i }
}

pub(crate) async fn wait_until(mut done: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(10), "timed out");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub(crate) fn count(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::SeqCst)
}
