//! Durable usage delivery.
//!
//! Each successful playback with a credential that carries a usage tag (Chillstreams) becomes one
//! [`UsageRecord`] with a fresh UUID v4 `event_id`. The record goes to a spool on disk, and a
//! background worker delivers it to the auth provider that granted the credential
//! ([`AuthProvider::deliver_usage`]). A record is deleted only after the receiver accepted it
//! (2xx), so events survive an outage of the receiver and a restart of chillproxy. Delivery is at
//! least once: when a reply is lost after the receiver stored the event, the event is sent again
//! and the receiver drops the duplicate by its `eventId`.
//!
//! # Storage: redb
//!
//! The spool is a [redb](https://docs.rs/redb) database: one file (`[usage] spool_path`, its
//! folder created when missing) with one table, `u64 sequence → record as JSON`, whose key order
//! is the delivery order (oldest first). We chose redb because it is pure Rust (no C toolchain),
//! ACID on a single file (copy-on-write B-trees: a crash leaves the last committed state) and has
//! one writer at a time, which is exactly how the spool writes. SQLite would need a C build and
//! bring SQL we do not need.
//!
//! # Writing: one writer thread, group commit
//!
//! [`UsageSpool::record`] never touches the disk. It checks the bound, reserves a slot and hands
//! the record to a dedicated writer thread over a channel, which takes microseconds, so the
//! playback request is not held up and no async runtime thread ever waits for an fsync. The
//! writer drains whatever is queued into one write transaction and commits it durably, so under
//! load many events share one fsync. The same thread applies the worker's deletions and answers
//! its reads: it is the database's only owner, and dropping it closes the file. Between
//! `record` and the commit there are a few milliseconds in which a hard crash (not a graceful
//! shutdown, which commits everything queued) could lose the event.
//!
//! # Delivering: bounded concurrency, exponential backoff
//!
//! The worker reads pending records oldest first and delivers up to `max_in_flight` at once.
//! - Success: the record is deleted and the backoff resets.
//! - Retryable failure (timeout, 5xx): the record stays and every delivery pauses for the current
//!   backoff, which starts at `backoff_initial_ms` and doubles with each failure up to
//!   `backoff_max_ms`. After the pause one delivery probes the receiver; full concurrency resumes
//!   once one succeeds. During an outage the receiver sees about one attempt per backoff period,
//!   not one per event.
//! - Rejection (`retryable: false`, e.g. HTTP 400): the record is removed with an error log and
//!   counted in [`UsageCounters::dropped_rejected`]; it would fail forever otherwise.
//! - A record whose provider is not running (e.g. the operator disabled Chillstreams) stays in the
//!   spool for a later start; that is logged once per provider and start, at warn.
//!
//! The worker sleeps on a [`Notify`] that the writer signals after each commit of new events,
//! so it wakes at once and never polls.
//!
//! # Bound, shutdown, counters
//!
//! At most `max_events` events wait (committed or queued to the writer). Beyond that, `record`
//! drops the new event with an error log and counts it in [`UsageCounters::dropped_full`].
//! [`UsageSpool::shutdown`] stops the worker, gives deliveries in flight `shutdown_grace_ms` to
//! finish, commits everything queued and closes the file, so the same path can be opened again.
//!
//! Records hold no key, and no credential is ever logged.

use std::collections::{BTreeMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chillproxy_core::{AuthChain, AuthProvider, ConfigError, Credential, UsageError, UsageEvent, UsageRecord};
use futures::FutureExt;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::UsageConfig;

/// Pending events: sequence number → the record as JSON.
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("usage_events");
/// Events handed to the writer and not yet committed, at most; beyond it `record` drops (the
/// disk is not keeping up) rather than growing memory.
const INTAKE_CAPACITY: u64 = 65_536;
/// Operations applied in one write transaction, at most.
const WRITE_BATCH: usize = 4_096;
/// Records the worker reads at once.
const LOAD_BATCH: usize = 256;
/// redb's page cache (its default is 1 GiB; the spool is read once, front to back).
const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Counters for metrics and tests. All only grow.
#[derive(Debug, Default)]
pub struct UsageCounters {
    /// Events accepted into the spool.
    pub recorded: AtomicU64,
    /// Events the receiver accepted (2xx), then deleted from the spool.
    pub delivered: AtomicU64,
    /// Events dropped by `record` because the spool was full (`max_events`, or the writer's queue).
    pub dropped_full: AtomicU64,
    /// Events removed because the receiver rejected them (non-retryable failure).
    pub dropped_rejected: AtomicU64,
    /// Events lost to a storage error, an unreadable row, or `record` after shutdown.
    pub dropped_error: AtomicU64,
    /// Delivery attempts that failed and will be retried.
    pub failed_attempts: AtomicU64,
}

/// Exponential backoff: `initial`, then doubling after each failure, capped at `max`; `reset`
/// after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.min(max);
        Self { initial, max, next: initial }
    }

    /// The pause before the next attempt; the one after it is twice as long, up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = self.next.checked_mul(2).map_or(self.max, |d| d.min(self.max));
        delay
    }

    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// State shared by the handle, the writer thread and the worker.
struct Shared {
    counters: UsageCounters,
    /// Events waiting for delivery: committed rows plus inserts queued to the writer.
    occupied: AtomicU64,
    /// Inserts queued to the writer and not yet committed.
    queued: AtomicU64,
    /// Signalled by the writer after it committed new events.
    committed: Notify,
    max_events: u64,
    path: PathBuf,
    /// The writer's last write transaction failed (cleared by the next one that succeeds).
    write_failing: AtomicBool,
}

/// What the writer thread is asked to do, in order.
enum Op {
    Insert(UsageRecord),
    Delete(u64),
    /// Up to `limit` records with a key of at least `from`, oldest first.
    Load {
        from: u64,
        limit: usize,
        reply: oneshot::Sender<Loaded>,
    },
    /// Answered once everything sent before it is committed.
    Flush(oneshot::Sender<()>),
    /// Commit what is queued, close the database and end.
    Stop,
}

/// One read of the spool.
struct Loaded {
    records: Vec<(u64, UsageRecord)>,
    /// The key to read from next time.
    next: u64,
    /// The read stopped at its limit: there may be more.
    more: bool,
}

/// The usage spool: `record` from request handlers, `start` once to deliver in the background,
/// `shutdown` to flush and close on exit. Cheap to clone.
#[derive(Clone)]
pub struct UsageSpool {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    ops: mpsc::UnboundedSender<Op>,
    config: UsageConfig,
    /// `true` asks the worker to stop; dropping it (the last handle gone) stops it too.
    stop: watch::Sender<bool>,
    started: AtomicBool,
    worker: Mutex<Option<tokio::task::JoinHandle<()>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl UsageSpool {
    /// Opens (or creates) the spool file and starts its writer thread. An unusable path, a file
    /// that is not a spool, or a spool another process has open is a [`ConfigError`] naming the
    /// path.
    pub fn open(config: &UsageConfig) -> Result<Self, ConfigError> {
        check(config)?;
        let path = config.spool_path.clone();
        let error = |what: &str, error: &dyn std::fmt::Display| {
            ConfigError::new(format!("[usage] spool_path {}: {what}: {error}", path.display()))
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| error("cannot create its folder", &e))?;
        }
        if path.is_dir() {
            return Err(ConfigError::new(format!(
                "[usage] spool_path {} is a directory; it must name a file (e.g. {}/usage.db)",
                path.display(),
                path.display()
            )));
        }
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| error("cannot open the spool database (is another chillproxy using it?)", &e))?;
        let (len, next_key) = prepare(&db).map_err(|e| error("cannot read the spool database", &e))?;

        let shared = Arc::new(Shared {
            counters: UsageCounters::default(),
            occupied: AtomicU64::new(len),
            queued: AtomicU64::new(0),
            committed: Notify::new(),
            max_events: config.max_events,
            path: path.clone(),
            write_failing: AtomicBool::new(false),
        });
        let (ops, receiver) = mpsc::unbounded_channel();
        let writer_shared = shared.clone();
        let writer = std::thread::Builder::new()
            .name("usage-spool".into())
            .spawn(move || run_writer(db, receiver, writer_shared, next_key))
            .map_err(|e| error("cannot start the spool writer thread", &e))?;
        if len > 0 {
            tracing::info!(path = %path.display(), waiting = len, "usage spool opened with events waiting for delivery");
        } else {
            tracing::debug!(path = %path.display(), "usage spool opened");
        }
        let (stop, _) = watch::channel(false);
        Ok(Self {
            inner: Arc::new(Inner {
                shared,
                ops,
                config: config.clone(),
                stop,
                started: AtomicBool::new(false),
                worker: Mutex::new(None),
                writer: Mutex::new(Some(writer)),
            }),
        })
    }

    /// Records one event for a credential that carries a usage tag; does nothing otherwise.
    /// Never blocks on the disk (see the module docs); a full spool drops the event with an
    /// error log and a counter.
    pub fn record(&self, credential: &Credential, event: &UsageEvent) {
        let Some(tag) = &credential.usage else { return };
        let created_at_ms =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default();
        self.record_usage(UsageRecord {
            event_id: uuid::Uuid::new_v4().to_string(),
            provider: credential.provider.to_string(),
            user_id: tag.user_id.clone(),
            pool_key_id: tag.pool_key_id.clone(),
            hash: event.hash.to_string(),
            cached: event.cached,
            bytes: event.bytes,
            created_at_ms,
        });
    }

    /// Spools a ready-made record (what [`UsageSpool::record`] does after building it).
    pub fn record_usage(&self, record: UsageRecord) {
        let shared = &self.inner.shared;
        let max = shared.max_events;
        if shared.occupied.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max).then_some(n + 1)).is_err() {
            let dropped = shared.counters.dropped_full.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::error!(
                max_events = max,
                dropped_full = dropped,
                provider = %record.provider,
                event_id = %record.event_id,
                "usage spool is full; usage event dropped"
            );
            return;
        }
        if shared
            .queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < INTAKE_CAPACITY).then_some(n + 1))
            .is_err()
        {
            shared.occupied.fetch_sub(1, Ordering::SeqCst);
            let dropped = shared.counters.dropped_full.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::error!(
                queued = INTAKE_CAPACITY,
                dropped_full = dropped,
                provider = %record.provider,
                event_id = %record.event_id,
                "usage spool writer is not keeping up with the disk; usage event dropped"
            );
            return;
        }
        if let Err(mpsc::error::SendError(op)) = self.inner.ops.send(Op::Insert(record)) {
            shared.queued.fetch_sub(1, Ordering::SeqCst);
            shared.occupied.fetch_sub(1, Ordering::SeqCst);
            let dropped = shared.counters.dropped_error.fetch_add(1, Ordering::Relaxed) + 1;
            if let Op::Insert(record) = op {
                tracing::error!(
                    dropped_error = dropped,
                    provider = %record.provider,
                    event_id = %record.event_id,
                    "usage spool is shut down; usage event dropped"
                );
            }
            return;
        }
        shared.counters.recorded.fetch_add(1, Ordering::Relaxed);
    }

    /// Starts the background delivery worker (once; later calls, or calls after `shutdown`, do
    /// nothing). Call it inside the tokio runtime.
    pub fn start(&self, auth: AuthChain) {
        if *self.inner.stop.borrow() || self.inner.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!("usage delivery not started: no async runtime; events stay in the spool");
            return;
        };
        let config = &self.inner.config;
        let worker = Worker {
            shared: self.inner.shared.clone(),
            ops: self.inner.ops.clone(),
            auth,
            max_in_flight: config.max_in_flight,
            backoff: Backoff::new(
                Duration::from_millis(config.backoff_initial_ms),
                Duration::from_millis(config.backoff_max_ms),
            ),
            grace: Duration::from_millis(config.shutdown_grace_ms),
            stop: self.inner.stop.subscribe(),
            flying: JoinSet::new(),
            ready: BTreeMap::new(),
            paused_until: None,
            probing: false,
        };
        *lock(&self.inner.worker) = Some(runtime.spawn(worker.run()));
    }

    /// Waits until every event recorded so far (and every deletion so far) is committed.
    pub async fn flush(&self) {
        let (reply, done) = oneshot::channel();
        if self.inner.ops.send(Op::Flush(reply)).is_ok() {
            let _ = done.await;
        }
    }

    /// Stops the worker, lets deliveries in flight finish (at most `shutdown_grace_ms`; the rest
    /// stay in the spool), commits everything queued and closes the file. Later calls do
    /// nothing; `record` after it drops with an error log.
    pub async fn shutdown(&self) {
        self.inner.stop.send_replace(true);
        let worker = lock(&self.inner.worker).take();
        if let Some(mut worker) = worker {
            let bound = Duration::from_millis(self.inner.config.shutdown_grace_ms) + Duration::from_secs(2);
            if tokio::time::timeout(bound, &mut worker).await.is_err() {
                tracing::warn!("usage delivery worker did not stop in time; aborting it");
                worker.abort();
            }
        }
        let writer = lock(&self.inner.writer).take();
        if let Some(writer) = writer {
            let _ = self.inner.ops.send(Op::Stop);
            if tokio::task::spawn_blocking(move || writer.join()).await.is_err() {
                tracing::error!("usage spool writer thread failed while closing");
            }
            tracing::info!(
                path = %self.inner.shared.path.display(),
                waiting = self.depth(),
                "usage spool flushed and closed"
            );
        }
    }

    pub fn counters(&self) -> &UsageCounters {
        &self.inner.shared.counters
    }

    /// Events waiting for delivery (in the spool or about to be written to it).
    pub fn depth(&self) -> u64 {
        self.inner.shared.occupied.load(Ordering::SeqCst)
    }

    /// Whether the spool can take events, for readiness: `Err` names why not (shut down, the
    /// writer thread ended, or its last write to the file failed). Cheap: no disk access.
    pub fn health(&self) -> Result<(), &'static str> {
        let writer_running = lock(&self.inner.writer).as_ref().is_some_and(|w| !w.is_finished());
        if *self.inner.stop.borrow() {
            Err("the usage spool is shut down")
        } else if !writer_running || self.inner.ops.is_closed() {
            Err("the usage spool's writer thread has stopped")
        } else if self.inner.shared.write_failing.load(Ordering::Relaxed) {
            Err("the usage spool file cannot be written (see the error log)")
        } else {
            Ok(())
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.health().is_ok()
    }

    /// The spool file.
    pub fn path(&self) -> &Path {
        &self.inner.shared.path
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn check(config: &UsageConfig) -> Result<(), ConfigError> {
    if config.max_events == 0 || config.max_in_flight == 0 || config.max_in_flight > 1024 {
        return Err(ConfigError::new("[usage] max_events must be at least 1 and max_in_flight between 1 and 1024"));
    }
    if config.backoff_initial_ms == 0 || config.backoff_max_ms < config.backoff_initial_ms {
        return Err(ConfigError::new(
            "[usage] backoff_initial_ms must be at least 1 and backoff_max_ms at least backoff_initial_ms",
        ));
    }
    if config.shutdown_grace_ms > 60_000 {
        return Err(ConfigError::new("[usage] shutdown_grace_ms must be at most 60000"));
    }
    Ok(())
}

/// Creates the table when missing; returns the number of waiting events and the next key.
fn prepare(db: &Database) -> Result<(u64, u64), redb::Error> {
    let txn = db.begin_write()?;
    let found = {
        let table = txn.open_table(EVENTS)?;
        let len = table.len()?;
        let next = table.last()?.map_or(0, |(key, _)| key.value().saturating_add(1));
        (len, next)
    };
    txn.commit()?;
    Ok(found)
}

// ---- the writer thread ----

fn run_writer(db: Database, mut ops: mpsc::UnboundedReceiver<Op>, shared: Arc<Shared>, mut next_key: u64) {
    loop {
        // `None`: every handle is gone without a shutdown; what was sent is already applied.
        let Some(first) = ops.blocking_recv() else { break };
        let mut batch = vec![first];
        while batch.len() < WRITE_BATCH {
            match ops.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let stopping = batch.iter().any(|op| matches!(op, Op::Stop));
        if stopping {
            // Nothing sent from now on is accepted, and nothing accepted is left behind.
            ops.close();
            while let Ok(op) = ops.try_recv() {
                batch.push(op);
            }
        }
        apply(&db, &shared, &mut next_key, batch);
        if stopping {
            break;
        }
    }
    if let Err(error) = db.close() {
        tracing::error!(path = %shared.path.display(), %error, "closing the usage spool failed");
    }
}

fn apply(db: &Database, shared: &Shared, next_key: &mut u64, batch: Vec<Op>) {
    let mut deletes = Vec::new();
    let mut inserts = Vec::new();
    let mut loads = Vec::new();
    let mut flushes = Vec::new();
    for op in batch {
        match op {
            Op::Insert(record) => match serde_json::to_vec(&record) {
                Ok(bytes) => inserts.push(bytes),
                Err(error) => {
                    shared.queued.fetch_sub(1, Ordering::SeqCst);
                    shared.occupied.fetch_sub(1, Ordering::SeqCst);
                    shared.counters.dropped_error.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(event_id = %record.event_id, %error, "cannot encode a usage event; dropped");
                }
            },
            Op::Delete(key) => deletes.push(key),
            Op::Load { from, limit, reply } => loads.push((from, limit, reply)),
            Op::Flush(reply) => flushes.push(reply),
            Op::Stop => {}
        }
    }
    if !deletes.is_empty() || !inserts.is_empty() {
        let inserted = inserts.len() as u64;
        match write(db, *next_key, &deletes, &inserts) {
            Ok(removed) => {
                shared.write_failing.store(false, Ordering::Relaxed);
                *next_key += inserted;
                shared.queued.fetch_sub(inserted, Ordering::SeqCst);
                shared.occupied.fetch_sub(removed, Ordering::SeqCst);
                if inserted > 0 {
                    shared.committed.notify_one();
                }
            }
            Err(error) => {
                shared.write_failing.store(true, Ordering::Relaxed);
                shared.queued.fetch_sub(inserted, Ordering::SeqCst);
                shared.occupied.fetch_sub(inserted, Ordering::SeqCst);
                shared.counters.dropped_error.fetch_add(inserted, Ordering::Relaxed);
                tracing::error!(
                    path = %shared.path.display(),
                    %error,
                    lost = inserted,
                    not_deleted = deletes.len(),
                    "cannot write the usage spool: new events are lost, delivered ones may be sent again after a restart"
                );
            }
        }
    }
    for (from, limit, reply) in loads {
        let _ = reply.send(load(db, shared, from, limit));
    }
    for reply in flushes {
        let _ = reply.send(());
    }
}

/// Deletes, then inserts from `first_key` on, in one durable transaction; returns how many rows
/// were deleted.
fn write(db: &Database, first_key: u64, deletes: &[u64], inserts: &[Vec<u8>]) -> Result<u64, redb::Error> {
    let txn = db.begin_write()?;
    let mut removed = 0;
    {
        let mut table = txn.open_table(EVENTS)?;
        for key in deletes {
            if table.remove(key)?.is_some() {
                removed += 1;
            }
        }
        for (key, bytes) in (first_key..).zip(inserts) {
            table.insert(key, bytes.as_slice())?;
        }
    }
    txn.commit()?;
    Ok(removed)
}

fn load(db: &Database, shared: &Shared, from: u64, limit: usize) -> Loaded {
    let rows = match read(db, from, limit) {
        Ok(rows) => rows,
        Err(error) => {
            tracing::error!(path = %shared.path.display(), %error, "cannot read the usage spool");
            return Loaded { records: Vec::new(), next: from, more: false };
        }
    };
    let more = rows.len() == limit;
    let next = rows.last().map_or(from, |(key, _)| key.saturating_add(1));
    let mut records = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for (key, bytes) in rows {
        match serde_json::from_slice::<UsageRecord>(&bytes) {
            Ok(record) => records.push((key, record)),
            Err(error) => {
                tracing::error!(path = %shared.path.display(), key, %error, "unreadable usage event; removing it");
                unreadable.push(key);
            }
        }
    }
    if !unreadable.is_empty() {
        if let Ok(removed) = write(db, 0, &unreadable, &[]) {
            shared.occupied.fetch_sub(removed, Ordering::SeqCst);
            shared.counters.dropped_error.fetch_add(removed, Ordering::Relaxed);
        }
    }
    Loaded { records, next, more }
}

fn read(db: &Database, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, redb::Error> {
    let txn = db.begin_read()?;
    let table = txn.open_table(EVENTS)?;
    let mut rows = Vec::new();
    for entry in table.range(from..)?.take(limit) {
        let (key, value) = entry?;
        rows.push((key.value(), value.value().to_vec()));
    }
    Ok(rows)
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

struct Worker {
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
    async fn run(mut self) {
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
    use std::collections::VecDeque;

    use chillproxy_core::{async_trait, AuthOutcome, AuthRequest, InfoHash, Secret, UsageTag};

    use super::*;

    /// A provider that answers deliveries from a script (then `Ok`) and records what it got.
    struct Receiver {
        name: &'static str,
        script: Mutex<VecDeque<Result<(), UsageError>>>,
        attempts: Mutex<Vec<String>>,
        accepted: Mutex<Vec<String>>,
    }

    impl Receiver {
        fn new(name: &'static str, script: Vec<Result<(), UsageError>>) -> Arc<Self> {
            Arc::new(Self {
                name,
                script: Mutex::new(script.into()),
                attempts: Mutex::default(),
                accepted: Mutex::default(),
            })
        }
        fn attempts(&self) -> Vec<String> {
            lock(&self.attempts).clone()
        }
        fn accepted(&self) -> Vec<String> {
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

    fn chain(receiver: &Arc<Receiver>) -> AuthChain {
        AuthChain::new(vec![receiver.clone() as Arc<dyn AuthProvider>])
    }

    fn temp_config() -> UsageConfig {
        let dir = std::env::temp_dir().join(format!("chillproxy-usage-unit-{}", uuid::Uuid::new_v4()));
        UsageConfig {
            spool_path: dir.join("nested").join("usage.db"),
            backoff_initial_ms: 5,
            backoff_max_ms: 40,
            ..UsageConfig::default()
        }
    }

    fn cleanup(config: &UsageConfig) {
        if let Some(dir) = config.spool_path.parent().and_then(Path::parent) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    fn credential(provider: &'static str) -> Credential {
        Credential {
            key: Secret::new("pool-key-SECRET"),
            provider,
            usage: Some(UsageTag { user_id: "user-1".into(), pool_key_id: "pk-1".into() }),
        }
    }

    fn event(i: u64) -> UsageEvent {
        UsageEvent { hash: InfoHash::parse(&format!("{i:040x}")).unwrap(), cached: i < 3, bytes: 1000 + i }
    }

    async fn wait_until(mut done: impl FnMut() -> bool) {
        let started = std::time::Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(10), "timed out");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn count(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }

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
    async fn events_persist_across_reopen_and_are_delivered_oldest_first_once() {
        let config = UsageConfig { max_in_flight: 1, ..temp_config() };
        let spool = UsageSpool::open(&config).unwrap();
        assert!(config.spool_path.exists(), "the folder is created");
        for i in 0..5 {
            spool.record(&credential("receiver"), &event(i));
        }
        spool.record(&Credential::new(Secret::new("own-token"), "token"), &event(9));
        spool.flush().await;
        assert_eq!(
            (spool.depth(), count(&spool.counters().recorded)),
            (5, 5),
            "a credential without a tag records nothing"
        );
        spool.shutdown().await;
        spool.shutdown().await;

        let spool = UsageSpool::open(&config).unwrap();
        assert_eq!(spool.depth(), 5);
        let receiver = Receiver::new("receiver", vec![]);
        spool.start(chain(&receiver));
        wait_until(|| spool.depth() == 0).await;
        let accepted = receiver.accepted();
        assert_eq!(accepted.len(), 5);
        assert_eq!(receiver.attempts(), accepted);
        for id in &accepted {
            let parsed = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(parsed.get_version_num(), 4);
        }
        spool.shutdown().await;

        // The order survived: oldest first, as recorded.
        let spool = UsageSpool::open(&config).unwrap();
        assert_eq!(spool.depth(), 0, "delivered events were deleted for good");
        for i in 10..13 {
            spool.record(&credential("receiver"), &event(i));
        }
        let receiver = Receiver::new("receiver", vec![]);
        spool.start(chain(&receiver));
        wait_until(|| spool.depth() == 0).await;
        assert_eq!(count(&spool.counters().delivered), 3);
        spool.shutdown().await;
        spool.record(&credential("receiver"), &event(20));
        assert_eq!(count(&spool.counters().dropped_error), 1, "record after shutdown is not silent");
        assert_eq!(spool.depth(), 0);
        cleanup(&config);
    }

    #[tokio::test]
    async fn health_follows_the_writer() {
        let config = temp_config();
        let spool = UsageSpool::open(&config).unwrap();
        assert_eq!(spool.health(), Ok(()));
        assert!(spool.is_healthy());
        spool.shutdown().await;
        assert!(spool.health().unwrap_err().contains("shut down"));
        cleanup(&config);
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
    async fn a_full_spool_drops_new_events_and_counts_them() {
        let config = UsageConfig { max_events: 3, ..temp_config() };
        let spool = UsageSpool::open(&config).unwrap();
        for i in 0..5 {
            spool.record(&credential("receiver"), &event(i));
        }
        assert_eq!(count(&spool.counters().dropped_full), 2);
        assert_eq!(count(&spool.counters().recorded), 3);
        spool.shutdown().await;
        // The bound holds across a restart too.
        let spool = UsageSpool::open(&config).unwrap();
        spool.record(&credential("receiver"), &event(7));
        assert_eq!((spool.depth(), count(&spool.counters().dropped_full)), (3, 1));
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

    #[tokio::test]
    async fn unusable_paths_are_config_errors_naming_the_path() {
        let config = temp_config();
        let dir = config.spool_path.parent().unwrap().to_path_buf();
        std::fs::create_dir_all(&dir).unwrap();
        let error = UsageSpool::open(&UsageConfig { spool_path: dir.clone(), ..config.clone() }).err().unwrap();
        assert!(error.to_string().contains(&dir.display().to_string()), "{error}");

        let not_a_db = dir.join("notes.txt");
        std::fs::write(&not_a_db, "hello, this is not a database file at all").unwrap();
        let error = UsageSpool::open(&UsageConfig { spool_path: not_a_db.clone(), ..config.clone() }).err().unwrap();
        assert!(error.to_string().contains("notes.txt"), "{error}");

        let spool = UsageSpool::open(&config).unwrap();
        let error = UsageSpool::open(&config).err().unwrap();
        assert!(error.to_string().contains("usage.db"), "already open: {error}");
        spool.shutdown().await;

        let error = UsageSpool::open(&UsageConfig { max_in_flight: 0, ..config.clone() }).err().unwrap();
        assert!(error.to_string().contains("max_in_flight"), "{error}");
        cleanup(&config);
    }
}
