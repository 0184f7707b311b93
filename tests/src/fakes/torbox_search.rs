//! A fake of TorBox's search API (search-api.torbox.app) as its documentation and the clients
//! that use it describe it: `GET /torrents/imdb:{id}[?season=&episode=]` with `Authorization:
//! Bearer <key>` answers `{"success": true, "message", "data": {"metadata": null, "torrents":
//! [{hash, raw_title, title, size, last_known_seeders, last_known_peers, tracker, type, …}],
//! "time_taken", "cached", "total_torrents"}}`; an unknown id is **404** (no results); a missing
//! or unknown key is **403** `{"success": false, "error": "BAD_TOKEN", "data": null}`. With
//! `check_cache=true` every torrent carries `cached` (TorBox's cache is global: the same answer
//! for every key).
//!
//! `GET /torrents/search/{query}` (the documented text search; the query percent-encoded in the
//! path) answers the same envelope with every torrent whose `raw_title` holds each word of the
//! query (case-insensitive), whatever id it is filed under, and 404 when none does.
//!
//! Every request is recorded whole.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{serve, Received, Running};

#[derive(Debug)]
struct FakeState {
    keys: Vec<String>,
    /// Hashes TorBox has cached, for `check_cache=true`.
    cached: Vec<String>,
    /// (sid as `tt…` or `tt…:s:e`, or empty for a torrent found by text only, torrent)
    torrents: Vec<(String, Value)>,
    received: Vec<Received>,
}

#[derive(Debug, Clone)]
pub struct SearchControl {
    state: Arc<Mutex<FakeState>>,
}

impl SearchControl {
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A torrent for `sid` (`tt…`, or `tt…:s:e` for an episode).
    pub fn add(&self, sid: &str, hash: &str, raw_title: &str, size: u64, seeders: u32) {
        self.add_torrent(sid, hash, raw_title, size, seeders);
    }

    /// A torrent filed under no id (anime releases often are): only the text search finds it.
    pub fn add_by_text(&self, hash: &str, raw_title: &str, size: u64, seeders: u32) {
        self.add_torrent("", hash, raw_title, size, seeders);
    }

    fn add_torrent(&self, sid: &str, hash: &str, raw_title: &str, size: u64, seeders: u32) {
        let torrent = json!({
            "hash": hash, "raw_title": raw_title, "title": raw_title.split('.').next().unwrap_or(raw_title),
            "magnet": format!("magnet:?xt=urn:btih:{hash}"), "torrent": null, "last_known_seeders": seeders,
            "last_known_peers": 3, "size": size, "tracker": "torrentgalaxy", "categories": [], "files": 1,
            "type": "torrent", "age": "72d", "user_search": false,
        });
        self.lock().torrents.push((sid.to_string(), torrent));
    }

    /// Another key the API accepts (a user's TorBox token or a pool key).
    pub fn add_key(&self, key: &str) {
        self.lock().keys.push(key.to_string());
    }

    /// TorBox has `hash` cached: `check_cache=true` answers `"cached": true` for it.
    pub fn set_cached(&self, hash: &str) {
        self.lock().cached.push(hash.to_string());
    }

    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    pub fn router(&self) -> Router {
        Router::new().fallback(any(handle)).with_state(self.clone())
    }
}

async fn handle(State(control): State<SearchControl>, request: Request) -> Response {
    let received = Received::of(&request);
    let (keys, cached, torrents) = {
        let mut state = control.lock();
        state.received.push(received.clone());
        (state.keys.clone(), state.cached.clone(), state.torrents.clone())
    };
    let bearer = received.headers.get("authorization").and_then(|h| h.strip_prefix("Bearer "));
    if !bearer.is_some_and(|b| keys.iter().any(|k| k == b)) {
        let body = json!({"success": false, "error": "BAD_TOKEN", "detail": "Invalid token.", "data": null});
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    }
    let param =
        |name: &str| received.query.split('&').find_map(|p| p.strip_prefix(&format!("{name}=")).map(str::to_string));
    let wanted = if let Some(text) = received.path.strip_prefix("/torrents/search/") {
        let query = words(&percent_decode(text));
        if query.is_empty() {
            return (StatusCode::NOT_FOUND, Json(json!({"success": false, "error": "NOT_FOUND", "data": null})))
                .into_response();
        }
        Asked::Text(query)
    } else if let Some(id) = received.path.strip_prefix("/torrents/imdb:").map(|id| id.replace("%3A", ":")) {
        let sid = match (param("season"), param("episode")) {
            (Some(s), Some(e)) => format!("{id}:{s}:{e}"),
            _ => id,
        };
        Asked::Id(sid)
    } else {
        return (StatusCode::NOT_FOUND, Json(json!({"success": false, "error": "NOT_FOUND", "data": null})))
            .into_response();
    };
    let check_cache = param("check_cache").as_deref() == Some("true");
    let found: Vec<Value> = torrents
        .into_iter()
        .filter(|(s, t)| wanted.finds(s, t))
        .map(|(_, mut t)| {
            if check_cache {
                let hash = t["hash"].as_str().unwrap_or_default().to_string();
                t["cached"] = Value::Bool(cached.contains(&hash));
            }
            t
        })
        .collect();
    if found.is_empty() {
        let body = json!({"success": false, "error": "NOT_FOUND", "message": "No torrents found.", "data": null});
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    }
    Json(json!({
        "success": true, "message": format!("Found {} torrents", found.len()),
        "data": {"metadata": null, "torrents": found, "time_taken": 0.19, "cached": true, "total_torrents": found.len()},
    }))
    .into_response()
}

/// What a request asks for: the torrents filed under an id, or those whose title holds every
/// word of a text query.
enum Asked {
    Id(String),
    Text(Vec<String>),
}

impl Asked {
    fn finds(&self, sid: &str, torrent: &Value) -> bool {
        match self {
            Asked::Id(wanted) => !sid.is_empty() && sid == wanted,
            Asked::Text(query) => {
                let title = words(torrent["raw_title"].as_str().unwrap_or_default());
                query.iter().all(|w| title.contains(w))
            }
        }
    }
}

/// A title's words, lowercased, apostrophes dropped (`Journey's` → `journeys`).
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace(['\'', '’'], "")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// A path segment with its `%XX` escapes decoded.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A running fake on 127.0.0.1:0 that accepts one key.
pub struct FakeTorBoxSearch {
    pub control: SearchControl,
    server: Running,
}

impl std::ops::Deref for FakeTorBoxSearch {
    type Target = SearchControl;

    fn deref(&self) -> &SearchControl {
        &self.control
    }
}

impl FakeTorBoxSearch {
    pub async fn start(key: &str) -> Self {
        let control = SearchControl {
            state: Arc::new(Mutex::new(FakeState {
                keys: vec![key.into()],
                cached: Vec::new(),
                torrents: Vec::new(),
                received: Vec::new(),
            })),
        };
        let server = serve(control.router()).await;
        Self { control, server }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }
}
