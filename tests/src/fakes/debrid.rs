//! What the RealDebrid, AllDebrid and Premiumize fakes share: the swarm (torrents the service
//! can fetch, cached or not), faults, per-key request windows, the recorded calls and the fake
//! CDN the links point at. Each fake renders these in its own service's documented format.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub use super::torbox::{parse_urlencoded, RecordedCall};

/// A torrent the service can fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmTorrent {
    pub hash: String,
    /// The torrent's name (RealDebrid's content filter reads it).
    pub name: String,
    /// Paths relative to the torrent's root folder, and sizes.
    pub files: Vec<(String, u64)>,
    /// On the service's servers already: finishes as soon as it is added.
    pub cached: bool,
    /// Status reads that show it unfinished after it is added (uncached only).
    pub polls: u32,
    /// Nobody seeds it: it never finishes (RD `dead`, AD statusCode 15).
    pub dead: bool,
}

/// A failure mode applied to every API call until cleared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Fault {
    #[default]
    None,
    /// HTTP 429 with `Retry-After: <retry_after_secs>`, in the service's error format.
    RateLimited { retry_after_secs: u64 },
    /// HTTP `status` in the service's error format.
    ServerError { status: u16 },
    /// Adding a torrent that is not cached fails with the service's "too many active downloads".
    AccountLimit,
}

/// Shared bookkeeping of a fake.
#[derive(Debug, Default)]
pub struct Common {
    pub base_url: String,
    pub keys: Vec<String>,
    pub swarm: BTreeMap<String, SwarmTorrent>,
    pub calls: Vec<RecordedCall>,
    pub fault: Fault,
    /// Calls a minute per key before HTTP 429 (0: no limit).
    pub requests_per_minute: u64,
    windows: BTreeMap<String, (Instant, u64)>,
}

impl Common {
    /// Counts a call for `key`; false when its minute is used up.
    pub fn admit(&mut self, key: &str) -> bool {
        if self.requests_per_minute == 0 {
            return true;
        }
        let now = Instant::now();
        let window = self.windows.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(window.0) >= Duration::from_secs(60) {
            *window = (now, 0);
        }
        if window.1 >= self.requests_per_minute {
            return false;
        }
        window.1 += 1;
        true
    }

    pub fn add(&mut self, hash: &str, name: &str, files: &[(&str, u64)], cached: bool, polls: u32) {
        let torrent = SwarmTorrent {
            hash: hash.to_ascii_lowercase(),
            name: name.to_string(),
            files: files.iter().map(|(p, s)| (p.to_string(), *s)).collect(),
            cached,
            polls,
            dead: false,
        };
        self.swarm.insert(torrent.hash.clone(), torrent);
    }

    /// The swarm's torrent, or an unknown one that never finishes.
    pub fn torrent(&self, hash: &str) -> SwarmTorrent {
        self.swarm.get(hash).cloned().unwrap_or_else(|| SwarmTorrent {
            hash: hash.to_string(),
            name: hash.to_string(),
            files: Vec::new(),
            cached: false,
            polls: u32::MAX,
            dead: false,
        })
    }

    pub fn cdn_link(&self, store: &str, id: &str, file: u64, name: &str) -> String {
        let name = name.rsplit('/').next().unwrap_or(name);
        format!("{}/cdn/{store}/{id}/{file}/{}", self.base_url, encode_segment(name))
    }
}

/// The info hash of a magnet URI or a bare hash, lowercased.
pub fn hash_of(magnet: &str) -> Option<String> {
    let hash = match magnet.find("btih:") {
        Some(at) => &magnet[at + 5..],
        None => magnet,
    };
    let hash: String = hash.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    (hash.len() == 40).then(|| hash.to_ascii_lowercase())
}

pub fn encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A recorded call from the parts of a request.
pub fn record(
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> RecordedCall {
    RecordedCall {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        authorization: headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string),
        body: String::from_utf8_lossy(body).into_owned(),
    }
}
