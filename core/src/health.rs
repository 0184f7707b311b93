//! What this process knows of its upstreams' health, for `/ready`, `/health` and `/status`: per
//! upstream the operator configured (an auth provider, a store, an operator indexer, a source,
//! the shared tier's server) a [`State`], the [`ErrorKind`] of its last failure and when each
//! changed; and, per store, what its request budgets had left for each key fingerprint.
//!
//! The host makes one [`Health`] and hands it to every plugin in its
//! [`PluginContext`](crate::PluginContext). A plugin asks it for a [`Tracker`] per upstream (by
//! [`Kind`] and the name the operator knows it by) and gives the tracker to its
//! [`Upstream`](crate::upstream::Upstream) (`UpstreamOptions::health`), or to one request
//! (`Request::report_to`, for a client that calls several upstreams): every call then reports
//! its outcome ([`Verdict`]) without more code. A plugin that knows more says so: a breaker that
//! opens holds its tracker [`State::Open`]; an error type decides which of its failures are the
//! upstream's (a store's "this key is wrong" is the user's, not the store's).
//!
//! Never a tracker for an upstream a user supplied (their own indexers): those are user data,
//! and the registry would grow with them. Everything here is fixed words, counts and times: no
//! URL, no key, no upstream's message.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Key fingerprints a store's budget ledger remembers (the most recently used ones).
pub const MAX_BUDGET_KEYS: usize = 16;

/// What an upstream is to this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An auth provider's API (Chillstreams).
    Auth,
    /// A debrid store's API.
    Store,
    /// A source with one upstream of its own (TorBox search, StremThru).
    Source,
    /// One of the operator's Torznab indexers, by its `name`.
    Indexer,
    /// One of the operator's Stremio addons, by its `name`.
    Addon,
    /// A source's metadata lookup (torznab's titles for text searches).
    Metadata,
    /// The shared-state tier's server (Redis).
    SharedTier,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Auth => "auth",
            Kind::Store => "store",
            Kind::Source => "source",
            Kind::Indexer => "indexer",
            Kind::Addon => "addon",
            Kind::Metadata => "metadata",
            Kind::SharedTier => "shared_tier",
        }
    }
}

/// How an upstream is doing, as its last answers (or its breaker) say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum State {
    /// Not called yet.
    Unknown = 0,
    /// Its last call was answered.
    Ok = 1,
    /// Its last call was told "too many requests".
    Throttled = 2,
    /// Its last call was refused our credential (401/403): a rejected service key, a key that is
    /// not whitelisted.
    Refused = 3,
    /// Its last call failed: no answer in time, no connection, a server error, an unreadable
    /// reply.
    Failing = 4,
    /// A breaker stopped calling it for a while.
    Open = 5,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Ok => "ok",
            State::Throttled => "throttled",
            State::Refused => "refused",
            State::Failing => "failing",
            State::Open => "open",
        }
    }

    /// Anything but `ok` and `unknown`: worth an operator's look.
    pub fn is_problem(self) -> bool {
        !matches!(self, State::Ok | State::Unknown)
    }

    fn from_u8(value: u8) -> Self {
        match value {
            1 => State::Ok,
            2 => State::Throttled,
            3 => State::Refused,
            4 => State::Failing,
            5 => State::Open,
            _ => State::Unknown,
        }
    }
}

/// Why a call failed, as a fixed word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ErrorKind {
    /// No complete answer within the budget.
    Timeout = 1,
    /// No connection: refused, no route, DNS, TLS.
    Connect = 2,
    /// The connection broke while sending or reading.
    Transport = 3,
    /// HTTP 5xx.
    Http5xx = 4,
    /// HTTP 4xx other than 401, 403 and 429.
    Http4xx = 5,
    /// HTTP 429, or an error code that says the same.
    RateLimited = 6,
    /// HTTP 401/403: our credential was refused.
    Auth = 7,
    /// An answer that could not be read (not the upstream's format, too large, an error in a
    /// 200).
    BadReply = 8,
    /// An error reply of a server that does not speak HTTP (Redis).
    ServerError = 9,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::Transport => "transport",
            ErrorKind::Http5xx => "http_5xx",
            ErrorKind::Http4xx => "http_4xx",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Auth => "auth",
            ErrorKind::BadReply => "bad_reply",
            ErrorKind::ServerError => "server_error",
        }
    }

    fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            1 => ErrorKind::Timeout,
            2 => ErrorKind::Connect,
            3 => ErrorKind::Transport,
            4 => ErrorKind::Http5xx,
            5 => ErrorKind::Http4xx,
            6 => ErrorKind::RateLimited,
            7 => ErrorKind::Auth,
            8 => ErrorKind::BadReply,
            9 => ErrorKind::ServerError,
            _ => return None,
        })
    }

    /// The state a failure of this kind leaves its upstream in.
    fn state(self) -> State {
        match self {
            ErrorKind::RateLimited => State::Throttled,
            ErrorKind::Auth => State::Refused,
            _ => State::Failing,
        }
    }
}

/// What the wire said about a call, before the plugin read the reply: how it failed to get one,
/// or the reply's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    NoReply(ErrorKind),
    Status(u16),
}

impl Wire {
    /// What a call the plugin counts as failed says of its upstream, judged by the wire alone:
    /// the transport's failure, else the status (429 throttles, 401/403 refuse, 5xx and other
    /// 4xx fail; a failed call with a success status had an unreadable reply).
    pub fn failure(self) -> Verdict {
        Verdict::Failed(match self {
            Wire::NoReply(kind) => kind,
            Wire::Status(429) => ErrorKind::RateLimited,
            Wire::Status(401 | 403) => ErrorKind::Auth,
            Wire::Status(500..=599) => ErrorKind::Http5xx,
            Wire::Status(400..=499) => ErrorKind::Http4xx,
            Wire::Status(_) => ErrorKind::BadReply,
        })
    }
}

/// What one call says of its upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It answered (an answer that says "no" about one user or one torrent is still an answer).
    Answered,
    /// It failed for this reason.
    Failed(ErrorKind),
    /// Nothing either way (no call was made).
    Silent,
}

/// The registry of one server's upstreams. Cheap to clone; clones share it.
#[derive(Clone)]
pub struct Health {
    inner: Arc<Registry>,
}

struct Registry {
    epoch: Instant,
    trackers: Mutex<Vec<Tracker>>,
}

impl Default for Health {
    fn default() -> Self {
        Self { inner: Arc::new(Registry { epoch: Instant::now(), trackers: Mutex::default() }) }
    }
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health").field("upstreams", &lock(&self.inner.trackers).len()).finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Health {
    /// The tracker of the upstream `name` of `kind`, made on first use: asking again for the
    /// same kind and name gives the same one. Only for upstreams the operator configured.
    pub fn tracker(&self, kind: Kind, name: &str) -> Tracker {
        let mut trackers = lock(&self.inner.trackers);
        if let Some(found) = trackers.iter().find(|t| t.entry.kind == kind && t.entry.name == name) {
            return found.clone();
        }
        let tracker = Tracker { entry: Arc::new(Entry::new(kind, name.to_string(), self.inner.epoch)) };
        trackers.push(tracker.clone());
        tracker
    }

    /// Every upstream, in the order their trackers were made.
    pub fn upstreams(&self) -> Vec<UpstreamHealth> {
        let trackers = lock(&self.inner.trackers).clone();
        trackers.iter().map(Tracker::read).collect()
    }

    /// The budgets every store's ledger remembers, by store.
    pub fn budgets(&self) -> Vec<BudgetUse> {
        let trackers = lock(&self.inner.trackers).clone();
        trackers.iter().flat_map(Tracker::budgets).collect()
    }
}

/// One upstream's entry: updated from call outcomes (lock-free), read by the host.
#[derive(Clone)]
pub struct Tracker {
    entry: Arc<Entry>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tracker({} {})", self.entry.kind.as_str(), self.entry.name)
    }
}

struct Entry {
    kind: Kind,
    name: String,
    epoch: Instant,
    state: AtomicU8,
    /// Milliseconds since `epoch` when `state` last changed.
    changed_ms: AtomicU64,
    last_error: AtomicU8,
    last_error_ms: AtomicU64,
    /// While now is before this (ms since `epoch`, 0: no hold), the state reads `open`.
    open_until_ms: AtomicU64,
    open_since_ms: AtomicU64,
    calls: AtomicU64,
    failures: AtomicU64,
    budgets: Mutex<Ledgers>,
}

/// A store's budget windows per key, with the order they were touched in.
#[derive(Default)]
struct Ledgers {
    touched: u64,
    windows: HashMap<(String, &'static str), Ledger>,
}

/// The last count one budget window of one key was seen at.
#[derive(Debug, Clone)]
struct Ledger {
    used: u64,
    limit: u64,
    period: Duration,
    /// When its window was counted last, and when a "too many requests" holds it until.
    seen_ms: u64,
    blocked_until_ms: u64,
    /// [`Ledgers::touched`] when it was last noted.
    touched: u64,
}

impl Entry {
    fn new(kind: Kind, name: String, epoch: Instant) -> Self {
        Self {
            kind,
            name,
            epoch,
            state: AtomicU8::new(State::Unknown as u8),
            changed_ms: AtomicU64::new(0),
            last_error: AtomicU8::new(0),
            last_error_ms: AtomicU64::new(0),
            open_until_ms: AtomicU64::new(0),
            open_since_ms: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            budgets: Mutex::default(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX).max(1)
    }
}

impl Tracker {
    /// A tracker in no registry (tests, a plugin built alone).
    pub fn detached(kind: Kind, name: &str) -> Self {
        Self { entry: Arc::new(Entry::new(kind, name.to_string(), Instant::now())) }
    }

    pub fn kind(&self) -> Kind {
        self.entry.kind
    }

    pub fn name(&self) -> &str {
        &self.entry.name
    }

    /// One call's outcome.
    pub fn record(&self, verdict: Verdict) {
        let entry = &self.entry;
        let state = match verdict {
            Verdict::Silent => return,
            Verdict::Answered => State::Ok,
            Verdict::Failed(kind) => {
                let now = entry.now_ms();
                entry.failures.fetch_add(1, Ordering::Relaxed);
                entry.last_error.store(kind as u8, Ordering::Relaxed);
                entry.last_error_ms.store(now, Ordering::Relaxed);
                kind.state()
            }
        };
        entry.calls.fetch_add(1, Ordering::Relaxed);
        self.set(state);
    }

    /// Sets the state (from a plugin that knows it without a call).
    pub fn set(&self, state: State) {
        let entry = &self.entry;
        // The common case, a call that leaves the state as it was, writes nothing shared.
        if entry.state.load(Ordering::Relaxed) == state as u8 {
            return;
        }
        if entry.state.swap(state as u8, Ordering::Relaxed) != state as u8 {
            entry.changed_ms.store(entry.now_ms(), Ordering::Relaxed);
        }
    }

    /// A breaker opened: the upstream reads `open` for `period`, whatever calls say meanwhile.
    pub fn hold_open(&self, period: Duration) {
        let entry = &self.entry;
        let now = entry.now_ms();
        let until = now.saturating_add(u64::try_from(period.as_millis()).unwrap_or(u64::MAX)).max(now + 1);
        if entry.open_until_ms.load(Ordering::Relaxed) <= now {
            entry.open_since_ms.store(now, Ordering::Relaxed);
        }
        entry.open_until_ms.store(until, Ordering::Relaxed);
    }

    /// The breaker closed before its period ended.
    pub fn release(&self) {
        self.entry.open_until_ms.store(0, Ordering::Relaxed);
    }

    /// A store's budget window for the key with fingerprint `fingerprint` was counted at `used`
    /// of `limit` per `period`. Only a short prefix of the fingerprint is kept; the ledger keeps
    /// the [`MAX_BUDGET_KEYS`] keys seen last.
    pub fn note_budget(&self, fingerprint: &str, window: &'static str, used: u64, limit: u64, period: Duration) {
        let now = self.entry.now_ms();
        self.with_ledger(fingerprint, window, |ledger| {
            ledger.used = used;
            ledger.limit = limit;
            ledger.period = period;
            ledger.seen_ms = now;
        });
    }

    /// The upstream holds the key's calls on `window` back for `period` ("too many requests").
    pub fn note_blocked(&self, fingerprint: &str, window: &'static str, period: Duration) {
        let now = self.entry.now_ms();
        let until = now.saturating_add(u64::try_from(period.as_millis()).unwrap_or(u64::MAX));
        self.with_ledger(fingerprint, window, |ledger| ledger.blocked_until_ms = until);
    }

    fn with_ledger(&self, fingerprint: &str, window: &'static str, update: impl FnOnce(&mut Ledger)) {
        let key = short_fingerprint(fingerprint);
        let mut ledgers = lock(&self.entry.budgets);
        ledgers.touched += 1;
        let touched = ledgers.touched;
        let windows = &mut ledgers.windows;
        if !windows.keys().any(|(k, _)| *k == key) {
            let mut last_touched: HashMap<&String, u64> = HashMap::new();
            for ((k, _), ledger) in windows.iter() {
                let at = last_touched.entry(k).or_default();
                *at = (*at).max(ledger.touched);
            }
            if last_touched.len() >= MAX_BUDGET_KEYS {
                // Forget the key noted longest ago, all its windows.
                let oldest = last_touched.into_iter().min_by_key(|(_, at)| *at).map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    windows.retain(|(k, _), _| *k != oldest);
                }
            }
        }
        let ledger = windows.entry((key, window)).or_insert(Ledger {
            used: 0,
            limit: 0,
            period: Duration::ZERO,
            seen_ms: 0,
            blocked_until_ms: 0,
            touched,
        });
        ledger.touched = touched;
        update(ledger);
    }

    /// What this upstream's budget ledger remembers, keys and windows sorted.
    pub fn budgets(&self) -> Vec<BudgetUse> {
        let now = self.entry.now_ms();
        let ledgers = lock(&self.entry.budgets);
        let mut out: Vec<BudgetUse> = ledgers
            .windows
            .iter()
            .map(|((key, window), ledger)| {
                // A window whose period has passed since it was counted has turned.
                let turned = ledger.period.is_zero()
                    || now.saturating_sub(ledger.seen_ms) > u64::try_from(ledger.period.as_millis()).unwrap_or(0);
                let used = if turned { 0 } else { ledger.used.min(ledger.limit) };
                let blocked_s = ledger.blocked_until_ms.saturating_sub(now).div_ceil(1000);
                BudgetUse {
                    upstream: self.entry.name.clone(),
                    key: key.clone(),
                    window,
                    used,
                    limit: ledger.limit,
                    left: ledger.limit.saturating_sub(used),
                    blocked_s,
                    seen_s: now.saturating_sub(ledger.seen_ms) / 1000,
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.key, a.window).cmp(&(&b.key, b.window)));
        out
    }

    /// The entry as it is now.
    pub fn read(&self) -> UpstreamHealth {
        let entry = &self.entry;
        let now = entry.now_ms();
        let open_until = entry.open_until_ms.load(Ordering::Relaxed);
        let (state, changed) = if now < open_until {
            (State::Open, entry.open_since_ms.load(Ordering::Relaxed))
        } else {
            (State::from_u8(entry.state.load(Ordering::Relaxed)), entry.changed_ms.load(Ordering::Relaxed))
        };
        let last_error = ErrorKind::from_u8(entry.last_error.load(Ordering::Relaxed));
        let secs = |at: u64| now.saturating_sub(at) / 1000;
        UpstreamHealth {
            kind: entry.kind,
            name: entry.name.clone(),
            state,
            since_s: (state != State::Unknown).then(|| secs(changed)),
            last_error,
            last_error_s: last_error.map(|_| secs(entry.last_error_ms.load(Ordering::Relaxed))),
            calls: entry.calls.load(Ordering::Relaxed),
            failures: entry.failures.load(Ordering::Relaxed),
        }
    }
}

/// The first 12 hex digits of a key's fingerprint: enough to tell an operator's keys apart,
/// nothing to find the key by.
pub fn short_fingerprint(fingerprint: &str) -> String {
    fingerprint.chars().take(12).collect()
}

/// One upstream, read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpstreamHealth {
    pub kind: Kind,
    pub name: String,
    #[serde(serialize_with = "state_word")]
    pub state: State,
    /// Seconds since the state changed (`None` while `unknown`).
    pub since_s: Option<u64>,
    #[serde(serialize_with = "error_word")]
    pub last_error: Option<ErrorKind>,
    /// Seconds since the last failure.
    pub last_error_s: Option<u64>,
    /// Calls reported, and how many of them failed.
    pub calls: u64,
    pub failures: u64,
}

fn state_word<S: serde::Serializer>(state: &State, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(state.as_str())
}

fn error_word<S: serde::Serializer>(kind: &Option<ErrorKind>, serializer: S) -> Result<S::Ok, S::Error> {
    match kind {
        Some(kind) => serializer.serialize_str(kind.as_str()),
        None => serializer.serialize_none(),
    }
}

/// One budget window of one key, as a store's ledger last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetUse {
    /// The store (its registry name).
    pub upstream: String,
    /// [`short_fingerprint`] of the key.
    pub key: String,
    pub window: &'static str,
    pub used: u64,
    pub limit: u64,
    pub left: u64,
    /// Seconds the upstream still holds the window back (0: not held).
    pub blocked_s: u64,
    /// Seconds since it was counted.
    pub seen_s: u64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn calls_set_the_state_and_the_last_error_and_a_tracker_is_found_again() {
        let health = Health::default();
        let torbox = health.tracker(Kind::Store, "torbox");
        assert_eq!(torbox.read().state, State::Unknown);
        assert_eq!(torbox.read().since_s, None);
        torbox.record(Verdict::Answered);
        assert_eq!(torbox.read().state, State::Ok);
        health.tracker(Kind::Store, "torbox").record(Verdict::Failed(ErrorKind::Http5xx));
        let read = torbox.read();
        assert_eq!(
            (read.state, read.last_error, read.calls, read.failures),
            (State::Failing, Some(ErrorKind::Http5xx), 2, 1)
        );
        torbox.record(Verdict::Failed(ErrorKind::RateLimited));
        assert_eq!(torbox.read().state, State::Throttled);
        torbox.record(Verdict::Failed(ErrorKind::Auth));
        assert_eq!(torbox.read().state, State::Refused);
        torbox.record(Verdict::Silent);
        assert_eq!(torbox.read().calls, 4);
        torbox.record(Verdict::Answered);
        let read = torbox.read();
        assert_eq!((read.state, read.last_error), (State::Ok, Some(ErrorKind::Auth)), "the last error stays known");
        // Another kind of the same name is another upstream.
        health.tracker(Kind::Indexer, "torbox");
        let all = health.upstreams();
        assert_eq!(all.len(), 2);
        let json = serde_json::to_value(&all[0]).unwrap();
        assert_eq!(json["kind"], "store");
        assert_eq!(json["state"], "ok");
        assert_eq!(json["last_error"], "auth");
        assert_eq!(all[1].state, State::Unknown);
        assert_eq!(serde_json::to_value(&all[1]).unwrap()["last_error"], serde_json::Value::Null);
    }

    #[test]
    fn an_open_breaker_holds_the_state_for_its_period() {
        let tracker = Tracker::detached(Kind::Auth, "chillstreams");
        tracker.record(Verdict::Failed(ErrorKind::Timeout));
        tracker.hold_open(Duration::from_millis(80));
        tracker.record(Verdict::Failed(ErrorKind::Timeout));
        assert_eq!(tracker.read().state, State::Open);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(tracker.read().state, State::Failing, "then the calls speak again");
        tracker.hold_open(Duration::from_secs(60));
        tracker.release();
        tracker.record(Verdict::Answered);
        assert_eq!(tracker.read().state, State::Ok);
    }

    #[test]
    fn the_wire_judges_a_failed_call() {
        assert_eq!(Wire::NoReply(ErrorKind::Connect).failure(), Verdict::Failed(ErrorKind::Connect));
        assert_eq!(Wire::Status(429).failure(), Verdict::Failed(ErrorKind::RateLimited));
        assert_eq!(Wire::Status(403).failure(), Verdict::Failed(ErrorKind::Auth));
        assert_eq!(Wire::Status(502).failure(), Verdict::Failed(ErrorKind::Http5xx));
        assert_eq!(Wire::Status(404).failure(), Verdict::Failed(ErrorKind::Http4xx));
        assert_eq!(Wire::Status(200).failure(), Verdict::Failed(ErrorKind::BadReply));
    }

    #[test]
    fn the_budget_ledger_keeps_short_fingerprints_of_the_keys_seen_last() {
        let tracker = Tracker::detached(Kind::Store, "torbox");
        let fingerprint = crate::Secret::new("pool-key").fingerprint();
        tracker.note_budget(&fingerprint, "requests_per_minute", 7, 300, Duration::from_secs(60));
        tracker.note_blocked(&fingerprint, "creates_per_hour", Duration::from_secs(30));
        let budgets = tracker.budgets();
        assert_eq!(budgets.len(), 2);
        let requests = budgets.iter().find(|b| b.window == "requests_per_minute").unwrap();
        assert_eq!((requests.used, requests.left, requests.key.len()), (7, 293, 12));
        assert!(fingerprint.starts_with(&requests.key));
        let creates = budgets.iter().find(|b| b.window == "creates_per_hour").unwrap();
        assert!(creates.blocked_s > 25 && creates.blocked_s <= 30, "{creates:?}");
        for i in 0..MAX_BUDGET_KEYS + 5 {
            let other = crate::Secret::new(format!("key-{i}")).fingerprint();
            tracker.note_budget(&other, "requests_per_minute", 1, 300, Duration::from_secs(60));
        }
        let keys: std::collections::BTreeSet<String> = tracker.budgets().into_iter().map(|b| b.key).collect();
        assert_eq!(keys.len(), MAX_BUDGET_KEYS);
        assert!(!keys.contains(&short_fingerprint(&fingerprint)), "the key seen longest ago is forgotten");
    }
}
