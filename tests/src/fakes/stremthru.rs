//! A fake StremThru instance with its public torrent database, as documented by StremThru
//! (`internal/endpoint/torrent.go`, `internal/torrent_info`): `GET /v0/torrents?sid=<id>` with no
//! authentication answers its envelope `{"data": {"items": [{hash, name, size, indexer, src,
//! category, seeders, leechers, private, files: [{p, i, s, sid, asid, src, vhash}]}],
//! "total_items"}}` and `Cache-Control: public, max-age=7200`. A missing `sid` is 400
//! `missing sid`, one that starts with neither `tt` nor `anidb:` is 400 `unsupported sid`, both in
//! the error envelope `{"error": {"code", "message", "status_code"}}`. A movie id lists the
//! torrents of the movie; `tt…:season:episode` the torrents holding that episode.
//!
//! Every request is recorded whole (method, path, query, headers), so a test can check that
//! nothing of a user ever reaches it.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{serve, Received, Running};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// HTTP 500 in the error envelope.
    Error500,
}

/// One torrent of the database and the stream ids it is listed under.
#[derive(Debug, Clone)]
pub struct DbTorrent {
    sids: Vec<String>,
    item: Value,
}

impl DbTorrent {
    /// A movie release: one video file at index 0.
    pub fn movie(imdb: &str, name: &str, hash: &str, size: u64, seeders: u32) -> Self {
        let file =
            json!({"p": format!("/{name}.mkv"), "i": 0, "s": size, "sid": imdb, "asid": "", "src": "dmm", "vhash": ""});
        Self { sids: vec![imdb.to_string()], item: item(name, hash, size, seeders, "movie", vec![file]) }
    }

    /// A season pack: episode `e` is file index `e` (index 0 is an `.nfo`), so indices matter.
    pub fn season_pack(imdb: &str, season: u32, episodes: u32, name: &str, hash: &str, episode_size: u64) -> Self {
        let mut files = vec![
            json!({"p": format!("/{name}/{name}.nfo"), "i": 0, "s": 4000, "sid": "", "asid": "", "src": "dmm", "vhash": ""}),
        ];
        let mut sids = vec![imdb.to_string()];
        for e in 1..=episodes {
            let sid = format!("{imdb}:{season}:{e}");
            files.push(json!({
                "p": format!("/{name}/{}.S{season:02}E{e:02}.mkv", name.split('.').next().unwrap_or(name)),
                "i": e, "s": episode_size, "sid": sid, "asid": "", "src": "dmm", "vhash": "",
            }));
            sids.push(sid);
        }
        let size = episode_size * u64::from(episodes) + 4000;
        Self { sids, item: item(name, hash, size, 0, "series", files) }
    }
}

fn item(name: &str, hash: &str, size: u64, seeders: u32, category: &str, files: Vec<Value>) -> Value {
    json!({
        "hash": hash, "name": name, "size": size, "indexer": "", "src": "dmm", "category": category,
        "seeders": seeders, "leechers": 0, "private": false, "files": files,
    })
}

#[derive(Debug)]
struct FakeState {
    torrents: Vec<DbTorrent>,
    mode: Mode,
    received: Vec<Received>,
}

#[derive(Debug, Clone)]
pub struct StremThruControl {
    state: Arc<Mutex<FakeState>>,
}

impl StremThruControl {
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn add(&self, torrent: DbTorrent) {
        self.lock().torrents.push(torrent);
    }

    pub fn set_mode(&self, mode: Mode) {
        self.lock().mode = mode;
    }

    /// Every request received, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// The `sid`s asked for, oldest first.
    pub fn sids(&self) -> Vec<String> {
        self.received().iter().filter_map(|r| query_value(&r.query, "sid")).collect()
    }

    pub fn router(&self) -> Router {
        Router::new().fallback(any(handle)).with_state(self.clone())
    }
}

fn query_value(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| v.replace("%3A", ":").replace("%3a", ":"))
    })
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message, "status_code": status.as_u16()}});
    (status, Json(body)).into_response()
}

async fn handle(State(control): State<StremThruControl>, request: Request) -> Response {
    let received = Received::of(&request);
    let (mode, torrents) = {
        let mut state = control.lock();
        state.received.push(received.clone());
        (state.mode, state.torrents.clone())
    };
    if received.path != "/v0/torrents" {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "not found");
    }
    if received.method != "GET" {
        return error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "method not allowed");
    }
    if mode == Mode::Error500 {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR", "database is locked");
    }
    let Some(sid) = query_value(&received.query, "sid").filter(|s| !s.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "missing sid");
    };
    if !sid.starts_with("tt") && !sid.starts_with("anidb:") {
        return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "unsupported sid");
    }
    let items: Vec<Value> = torrents.into_iter().filter(|t| t.sids.contains(&sid)).map(|t| t.item).collect();
    let body = json!({"data": {"items": items, "total_items": items.len()}});
    ([(header::CACHE_CONTROL, "public, max-age=7200")], Json(body)).into_response()
}

/// A running fake on 127.0.0.1:0.
pub struct FakeStremThru {
    pub control: StremThruControl,
    server: Running,
}

impl std::ops::Deref for FakeStremThru {
    type Target = StremThruControl;

    fn deref(&self) -> &StremThruControl {
        &self.control
    }
}

impl FakeStremThru {
    pub async fn start() -> Self {
        let control = StremThruControl {
            state: Arc::new(Mutex::new(FakeState { torrents: Vec::new(), mode: Mode::Normal, received: Vec::new() })),
        };
        let server = serve(control.router()).await;
        Self { control, server }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }
}
