//! The spool: a redb file of pending usage events, the one thread that writes it, and the
//! [`UsageSpool`] handle that playback records into and the host starts and shuts down.
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
//! # Bound and shutdown
//!
//! At most `max_events` events wait (committed or queued to the writer). Beyond that, `record`
//! drops the new event with an error log and counts it in [`UsageCounters::dropped_full`].
//! [`UsageSpool::shutdown`] stops the delivery worker, gives deliveries in flight
//! `shutdown_grace_ms` to finish, commits everything queued and closes the file, so the same path
//! can be opened again.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chillproxy_core::{AuthChain, ConfigError, Credential, UsageEvent, UsageRecord};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use tokio::sync::{mpsc, oneshot, watch, Notify};

use crate::config::UsageConfig;
use crate::delivery::Worker;

/// Pending events: sequence number → the record as JSON.
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("usage_events");
/// Events handed to the writer and not yet committed, at most; beyond it `record` drops (the
/// disk is not keeping up) rather than growing memory.
const INTAKE_CAPACITY: u64 = 65_536;
/// Operations applied in one write transaction, at most.
const WRITE_BATCH: usize = 4_096;
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

/// State shared by the handle, the writer thread and the worker.
pub(crate) struct Shared {
    pub(crate) counters: UsageCounters,
    /// Events waiting for delivery: committed rows plus inserts queued to the writer.
    occupied: AtomicU64,
    /// Inserts queued to the writer and not yet committed.
    queued: AtomicU64,
    /// Signalled by the writer after it committed new events.
    pub(crate) committed: Notify,
    max_events: u64,
    path: PathBuf,
    /// The writer's last write transaction failed (cleared by the next one that succeeds).
    write_failing: AtomicBool,
}

/// What the writer thread is asked to do, in order.
pub(crate) enum Op {
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
pub(crate) struct Loaded {
    pub(crate) records: Vec<(u64, UsageRecord)>,
    /// The key to read from next time.
    pub(crate) next: u64,
    /// The read stopped at its limit: there may be more.
    pub(crate) more: bool,
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
        config.check()?;
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
    pub(crate) fn record_usage(&self, record: UsageRecord) {
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
        let worker = Worker::new(
            self.inner.shared.clone(),
            self.inner.ops.clone(),
            auth,
            &self.inner.config,
            self.inner.stop.subscribe(),
        );
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

    /// For the unit tests; callers use [`UsageSpool::health`], which also says why not.
    #[cfg(test)]
    pub(crate) fn is_healthy(&self) -> bool {
        self.health().is_ok()
    }

    /// The spool file.
    pub fn path(&self) -> &Path {
        &self.inner.shared.path
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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

#[cfg(test)]
mod tests {
    use chillproxy_core::{Credential, Secret};

    use super::*;
    use crate::test_support::*;

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
