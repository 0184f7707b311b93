//! Per-credential request budgets, for upstreams that limit calls per API key (TorBox: 300
//! requests a minute on every endpoint, 60 new downloads an hour). A plugin gives its
//! [`Budget`] the [`Window`]s a call counts against; the call spends one unit of each *before*
//! it is sent, and a call over budget is never sent. An answer that says "too many requests"
//! feeds back through [`Budget::block`].
//!
//! Everything goes through the [`SharedState`] tier, so on a cluster-wide tier every replica
//! shares one count per key. Keys (the credential only as a [`Secret::fingerprint`]):
//! - `cp:v1:budget:<plugin>:<fingerprint>:<window>`: the window's counter ([`SharedTier::count`]);
//! - `…:<window>:start`: when the window's period began (Unix ms), to tell when it ends;
//! - `…:<window>:blocked`: the upstream said "no more until" (Unix ms).
//!
//! [`SharedTier::count`]: crate::shared::SharedTier::count

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::health::Tracker;
use crate::{Secret, SharedState};

/// The shortest pause before a waiting call tries again, so that a window whose end is not
/// known (or just passed) is not asked in a tight loop.
const MIN_PAUSE: Duration = Duration::from_millis(25);

/// Longest "blocked" period taken from an upstream's `Retry-After`.
const MAX_BLOCK: Duration = Duration::from_secs(3600);

/// One limit: at most `limit` calls per `period`, counted in fixed windows that start with
/// their first call. `limit == 0` turns the window off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// A fixed name, used in keys, logs and errors (`requests_per_minute`).
    pub name: &'static str,
    pub limit: u64,
    pub period: Duration,
}

impl Window {
    pub const fn per_minute(name: &'static str, limit: u64) -> Self {
        Self { name, limit, period: Duration::from_secs(60) }
    }

    pub const fn per_hour(name: &'static str, limit: u64) -> Self {
        Self { name, limit, period: Duration::from_secs(3600) }
    }

    fn is_on(&self) -> bool {
        self.limit > 0
    }
}

/// Why a call was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverBudget {
    /// The window that is used up ([`Window::name`]).
    pub window: &'static str,
    /// How long until it is expected to allow calls again, when known.
    pub retry_after: Option<Duration>,
    /// The upstream said so (a "too many requests" fed back with [`Budget::block`]), rather
    /// than our own count.
    pub upstream: bool,
}

/// One plugin's budgets over the shared tier. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Budget {
    shared: SharedState,
    plugin: &'static str,
    max_wait: Duration,
    /// Where each count and block is noted for operators (the store's health tracker).
    ledger: Option<Tracker>,
}

impl OverBudget {
    /// How long until calls are allowed again, in whole seconds rounded up ("try again in 7 s"
    /// must not say 6).
    pub fn retry_after_secs(&self) -> Option<Duration> {
        self.retry_after.map(|d| Duration::from_secs(d.as_millis().div_ceil(1000) as u64))
    }

    /// The store error for a call a request budget refused: `RateLimited` with `asked` when the
    /// store itself asked to slow down, else `BudgetExhausted` with `spent`.
    pub fn into_store_error(self, store: &'static str, asked: &str, spent: &str) -> crate::StoreError {
        let retry_after = self.retry_after_secs();
        if self.upstream {
            return crate::StoreError::RateLimited { store, retry_after, message: asked.to_string() };
        }
        crate::StoreError::BudgetExhausted { store, retry_after, message: spent.to_string() }
    }
}

impl Budget {
    /// `plugin` names the keys (`torbox`); a call over budget waits at most `max_wait` for its
    /// window to turn, and fails at once when the window ends later than that.
    pub fn new(shared: SharedState, plugin: &'static str, max_wait: Duration) -> Self {
        Self { shared, plugin, max_wait, ledger: None }
    }

    /// Notes every count and block in `tracker`'s budget ledger (what `/status` shows: the
    /// budget left per key fingerprint).
    pub fn noting_in(mut self, tracker: Tracker) -> Self {
        self.ledger = Some(tracker);
        self
    }

    /// Spends one unit of every window that is on, in order, for `credential`. `Err` means the
    /// call must not be sent: a window is used up, or the upstream blocked one (blocks apply to
    /// windows that are off too: the upstream's word stands even when we do not count). A
    /// refusal still counts in the windows before the one that refused (conservative: the
    /// upstream is never asked more than the limits allow).
    pub async fn spend(&self, credential: &Secret, windows: &[Window]) -> Result<(), OverBudget> {
        if windows.is_empty() {
            return Ok(());
        }
        let fingerprint = credential.fingerprint();
        let deadline = Instant::now() + self.max_wait;
        loop {
            let refusal = match self.try_spend(&fingerprint, windows).await {
                Ok(()) => return Ok(()),
                Err(refusal) => refusal,
            };
            let pause = refusal.retry_after.map(|after| after.max(MIN_PAUSE));
            match pause {
                Some(pause) if Instant::now() + pause <= deadline => tokio::time::sleep(pause).await,
                _ => {
                    tracing::debug!(
                        plugin = self.plugin,
                        credential = short(&fingerprint),
                        window = refusal.window,
                        retry_after_s = refusal.retry_after.map(|d| d.as_secs()),
                        upstream = refusal.upstream,
                        "over budget; call not sent"
                    );
                    return Err(refusal);
                }
            }
        }
    }

    /// What is left of `window` for `credential` now, without spending (`None`: the window is
    /// off, or the upstream blocked it, in which case nothing is left: `Some(0)`).
    pub async fn left(&self, credential: &Secret, window: &Window) -> Option<u64> {
        let fingerprint = credential.fingerprint();
        let tier = self.shared.tier();
        if tier.get(&self.key(&fingerprint, window.name, Some("blocked"))).await.is_some() {
            return Some(0);
        }
        if !window.is_on() {
            return None;
        }
        let used = tier.get(&self.key(&fingerprint, window.name, None)).await.map(|v| read_count(&v)).unwrap_or(0);
        Some(window.limit.saturating_sub(used))
    }

    /// The upstream answered "too many requests" for `window`: no call that counts against it
    /// is sent for `duration` (at most an hour).
    pub async fn block(&self, credential: &Secret, window: &'static str, duration: Duration) {
        let duration = duration.clamp(MIN_PAUSE, MAX_BLOCK);
        let fingerprint = credential.fingerprint();
        let until = unix_ms().saturating_add(duration.as_millis() as u64);
        tracing::info!(
            plugin = self.plugin,
            credential = short(&fingerprint),
            window,
            for_s = duration.as_secs(),
            "the upstream is limiting this key; holding calls back"
        );
        let key = self.key(&fingerprint, window, Some("blocked"));
        self.shared.tier().put(&key, until.to_le_bytes().to_vec(), duration).await;
        if let Some(ledger) = &self.ledger {
            ledger.note_blocked(&fingerprint, window, duration);
        }
    }

    async fn try_spend(&self, fingerprint: &str, windows: &[Window]) -> Result<(), OverBudget> {
        let tier = self.shared.tier();
        for window in windows {
            let blocked = self.key(fingerprint, window.name, Some("blocked"));
            if let Some(left) = tier.get(&blocked).await.and_then(|v| remaining(&v, Duration::ZERO)) {
                return Err(OverBudget { window: window.name, retry_after: Some(left), upstream: true });
            }
        }
        for window in windows.iter().filter(|w| w.is_on()) {
            let counter = self.key(fingerprint, window.name, None);
            let start = self.key(fingerprint, window.name, Some("start"));
            let count = tier.count(&counter, window.period).await;
            if let Some(ledger) = &self.ledger {
                ledger.note_budget(fingerprint, window.name, count, window.limit, window.period);
            }
            if count == 1 {
                tier.put(&start, unix_ms().to_le_bytes().to_vec(), window.period).await;
            }
            if count > window.limit {
                let retry_after = tier.get(&start).await.and_then(|v| remaining(&v, window.period));
                return Err(OverBudget { window: window.name, retry_after, upstream: false });
            }
        }
        Ok(())
    }

    fn key(&self, fingerprint: &str, window: &str, suffix: Option<&str>) -> String {
        let mut parts = vec![self.plugin, fingerprint, window];
        parts.extend(suffix);
        SharedState::key("budget", &parts)
    }
}

/// A counter as a tier stores it: a decimal string (Redis `INCR`) or 8 bytes little-endian
/// (the in-process tier).
fn read_count(stored: &[u8]) -> u64 {
    if !stored.is_empty() && stored.len() <= 20 && stored.iter().all(u8::is_ascii_digit) {
        return std::str::from_utf8(stored).ok().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
    }
    let mut bytes = [0u8; 8];
    let n = stored.len().min(8);
    bytes[..n].copy_from_slice(&stored[..n]);
    u64::from_le_bytes(bytes)
}

/// Time left until `stored` (Unix ms, little-endian) plus `period`; `None` when it has passed
/// or the value is not a timestamp.
fn remaining(stored: &[u8], period: Duration) -> Option<Duration> {
    let at = u64::from_le_bytes(stored.try_into().ok()?);
    let end = at.saturating_add(period.as_millis() as u64);
    let now = unix_ms();
    (end > now).then(|| Duration::from_millis(end - now))
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Enough of a fingerprint to tell keys apart in a log line.
fn short(fingerprint: &str) -> &str {
    fingerprint.get(..12).unwrap_or(fingerprint)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUESTS: Window = Window { name: "requests", limit: 3, period: Duration::from_millis(300) };
    const CREATES: Window = Window { name: "creates", limit: 1, period: Duration::from_secs(3600) };

    fn budget(max_wait: Duration) -> Budget {
        Budget::new(SharedState::in_process(1000), "test", max_wait)
    }

    #[tokio::test]
    async fn each_credential_has_its_own_count_and_a_refusal_says_when() {
        let budget = budget(Duration::ZERO);
        let (a, b) = (Secret::new("key-a"), Secret::new("key-b"));
        for _ in 0..3 {
            budget.spend(&a, &[REQUESTS]).await.unwrap();
        }
        let refusal = budget.spend(&a, &[REQUESTS]).await.unwrap_err();
        assert_eq!(refusal.window, "requests");
        assert!(!refusal.upstream);
        let after = refusal.retry_after.expect("the window's end is known");
        assert!(after <= Duration::from_millis(300) && after > Duration::ZERO, "{after:?}");
        budget.spend(&b, &[REQUESTS]).await.expect("another key has its own budget");

        tokio::time::sleep(Duration::from_millis(350)).await;
        budget.spend(&a, &[REQUESTS]).await.expect("a new window");
    }

    #[tokio::test]
    async fn what_is_left_is_read_without_spending() {
        let budget = budget(Duration::ZERO);
        let key = Secret::new("key-left");
        const HOURLY: Window = Window { name: "hourly", limit: 10, period: Duration::from_secs(3600) };
        assert_eq!(budget.left(&key, &HOURLY).await, Some(10));
        for _ in 0..3 {
            budget.spend(&key, &[HOURLY]).await.unwrap();
        }
        assert_eq!(budget.left(&key, &HOURLY).await, Some(7));
        assert_eq!(budget.left(&key, &HOURLY).await, Some(7), "reading spends nothing");
        assert_eq!(budget.left(&key, &Window { limit: 0, ..HOURLY }).await, None, "a window that is off");
        budget.block(&key, "hourly", Duration::from_secs(60)).await;
        assert_eq!(budget.left(&key, &HOURLY).await, Some(0));
        assert_eq!(read_count(b"42"), 42, "Redis keeps counters as text");
    }

    #[tokio::test]
    async fn a_short_wait_for_the_window_to_turn_is_taken_and_a_long_one_is_not() {
        let budget = budget(Duration::from_secs(1));
        let key = Secret::new("k");
        for _ in 0..3 {
            budget.spend(&key, &[REQUESTS]).await.unwrap();
        }
        let started = Instant::now();
        budget.spend(&key, &[REQUESTS]).await.expect("waits for the 300 ms window to turn");
        assert!(started.elapsed() < Duration::from_millis(900), "{:?}", started.elapsed());

        budget.spend(&key, &[CREATES]).await.unwrap();
        let started = Instant::now();
        let refusal = budget.spend(&key, &[REQUESTS, CREATES]).await.unwrap_err();
        assert_eq!(refusal.window, "creates");
        assert!(started.elapsed() < Duration::from_millis(900), "an hour away: fails at once, not after the 1 s wait");
        assert!(refusal.retry_after.unwrap() > Duration::from_secs(3500));
    }

    #[tokio::test]
    async fn an_upstream_block_holds_calls_back_until_it_ends() {
        let budget = budget(Duration::ZERO);
        let key = Secret::new("k");
        budget.block(&key, "creates", Duration::from_millis(200)).await;
        let refusal = budget.spend(&key, &[REQUESTS, CREATES]).await.unwrap_err();
        assert_eq!((refusal.window, refusal.upstream), ("creates", true));
        budget.spend(&key, &[REQUESTS]).await.expect("other windows still work");
        tokio::time::sleep(Duration::from_millis(250)).await;
        budget.spend(&key, &[REQUESTS, CREATES]).await.expect("the block is over");
    }

    #[tokio::test]
    async fn keys_hold_fingerprints_never_the_credential_and_off_windows_cost_nothing() {
        let budget = budget(Duration::ZERO);
        let key = Secret::new("super-secret-key");
        let off = Window::per_minute("off", 0);
        for _ in 0..10 {
            budget.spend(&key, &[off]).await.unwrap();
        }
        let counter = SharedState::key("budget", &["test", &key.fingerprint(), "off"]);
        assert_eq!(budget.shared.tier().get(&counter).await, None, "an off window is not counted");
        budget.block(&key, "off", Duration::from_secs(5)).await;
        assert!(budget.spend(&key, &[off]).await.unwrap_err().upstream, "an upstream block holds even when off");
        budget.spend(&key, &[REQUESTS]).await.unwrap();
        let counter = budget.key(&key.fingerprint(), "requests", None);
        assert!(counter.starts_with("cp:v1:budget:test:") && !counter.contains("super-secret-key"), "{counter}");
        assert!(budget.shared.tier().get(&counter).await.is_some());
    }
}
