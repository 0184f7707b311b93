//! The load generator: `clients` tokio tasks, each on its own keep-alive connection (see
//! [`crate::http`]), requesting the run's paths until the deadline, and what they saw: latencies,
//! unexpected statuses, warning stream lists, transport errors and timeouts.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use crate::http::{self, Conn};

/// Every simulated client sends this, from 127.0.0.1: one Chillstreams device.
const USER_AGENT: &str = "Mozilla/5.0 (loadbench) Stremio/4.4";

/// One request on a fresh connection.
pub async fn fetch(addr: SocketAddr, path: &str) -> std::io::Result<http::Response> {
    let mut conn = Conn::connect(addr).await?;
    conn.get(&addr.to_string(), path, USER_AGENT).await
}

/// Which paths a run requests.
pub struct Target {
    pub paths: Arc<Vec<String>>,
    pub cursor: Arc<AtomicUsize>,
    /// Round-robin over `paths`; else each path once, then stop.
    pub wrap: bool,
}

impl Target {
    pub fn next(&self) -> Option<&str> {
        let i = self.cursor.fetch_add(1, Ordering::Relaxed);
        if self.wrap {
            Some(&self.paths[i % self.paths.len()])
        } else {
            self.paths.get(i).map(String::as_str)
        }
    }
}

pub struct RunSpec {
    /// (address, Host header) of each replica; client `i` uses entry `i % len`.
    pub targets: Vec<(SocketAddr, String)>,
    pub target: Target,
    pub expect: u16,
    /// A 200 stream list holding a ⚠️ stream is an error too.
    pub check_warnings: bool,
    pub started: Instant,
    pub deadline: Instant,
    pub max_requests: u64,
    pub issued: AtomicU64,
    pub timeout: Duration,
}

#[derive(Debug, Default)]
pub struct Tally {
    pub latencies_us: Vec<u64>,
    /// When each response in `latencies_us` completed, in ms since the run started.
    pub finished_ms: Vec<u32>,
    pub wrong_status: BTreeMap<u16, u64>,
    pub warnings: u64,
    pub transport: u64,
    pub timeouts: u64,
    /// A fresh-title run ran out of titles.
    pub exhausted: bool,
}

impl Tally {
    pub fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.finished_ms.extend(other.finished_ms);
        for (status, n) in other.wrong_status {
            *self.wrong_status.entry(status).or_default() += n;
        }
        self.warnings += other.warnings;
        self.transport += other.transport;
        self.timeouts += other.timeouts;
        self.exhausted |= other.exhausted;
    }

    pub fn errors(&self) -> u64 {
        self.wrong_status.values().sum::<u64>() + self.warnings + self.transport + self.timeouts
    }

    /// Completed responses plus failed attempts.
    pub fn requests(&self) -> u64 {
        self.latencies_us.len() as u64 + self.transport + self.timeouts
    }
}

/// The UTF-8 of ⚠ (U+26A0), which starts every warning stream's name.
pub const WARNING_SIGN: &[u8] = "\u{26a0}".as_bytes();

pub async fn client(spec: Arc<RunSpec>, index: usize) -> Tally {
    let (addr, host) = &spec.targets[index % spec.targets.len()];
    let mut tally = Tally::default();
    let mut conn: Option<Conn> = None;
    loop {
        if Instant::now() >= spec.deadline || spec.issued.fetch_add(1, Ordering::Relaxed) >= spec.max_requests {
            break;
        }
        let Some(path) = spec.target.next() else {
            tally.exhausted = true;
            break;
        };
        let started = Instant::now();
        let attempt = tokio::time::timeout(spec.timeout, async {
            if conn.is_none() {
                conn = Some(Conn::connect(*addr).await?);
            }
            match conn.as_mut() {
                Some(c) => c.get(host, path, USER_AGENT).await,
                None => Err(std::io::ErrorKind::NotConnected.into()),
            }
        })
        .await;
        let elapsed = started.elapsed();
        match attempt {
            Ok(Ok(response)) => {
                tally.latencies_us.push(elapsed.as_micros() as u64);
                tally.finished_ms.push(spec.started.elapsed().as_millis() as u32);
                if response.status != spec.expect {
                    *tally.wrong_status.entry(response.status).or_default() += 1;
                } else if spec.check_warnings && contains(&response.body, WARNING_SIGN) {
                    tally.warnings += 1;
                }
                if response.close {
                    conn = None;
                }
            }
            Ok(Err(_)) => {
                tally.transport += 1;
                conn = None;
            }
            Err(_) => {
                tally.timeouts += 1;
                conn = None;
            }
        }
    }
    tally
}

/// Whether `needle` is in `haystack`. memchr's vectorised search: a byte-window scan cost the
/// client about 14 µs per 12.8 KB list, CPU the server under test then lacked (both share the
/// machine), so warm lists measured slower than the bare endpoint for the client's sake.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// Runs `clients` clients until the deadline; the merged tally and the wall time.
pub fn drive(rt: &Runtime, spec: RunSpec, clients: usize) -> (Tally, Duration) {
    let spec = Arc::new(spec);
    let started = Instant::now();
    let tally = rt.block_on(async {
        let handles: Vec<_> = (0..clients).map(|i| tokio::spawn(client(spec.clone(), i))).collect();
        let mut total = Tally::default();
        for handle in handles {
            if let Ok(tally) = handle.await {
                total.merge(tally);
            }
        }
        total
    });
    (tally, started.elapsed())
}
