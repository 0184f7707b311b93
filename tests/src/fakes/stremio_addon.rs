//! A fake Stremio addon with Torrentio's stream shape, as the Stremio addon protocol documents
//! it: `GET /manifest.json` answers a manifest, `GET /stream/{type}/{id}.json` answers
//! `{"streams": [{name, title, infoHash, fileIdx, behaviorHints: {bingeGroup, filename},
//! sources}]}` with the title in Torrentio's form (`"Release\nfile\n👤 12 💾 1.4 GB ⚙️ site"`),
//! `Cache-Control: max-age=3600`; an unknown id answers `{"streams": []}`. The list also holds a
//! stream with a `url` and no `infoHash` (a debrid link), which a source must skip.
//!
//! Every request is recorded whole (method, path, query, headers).

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{serve, Received, Running};

/// One torrent stream the addon offers for a Stremio id (`tt…` or `tt…:s:e`).
#[derive(Debug, Clone)]
pub struct AddonStream {
    pub id: String,
    pub release: String,
    pub hash: String,
    pub file_idx: Option<u64>,
    pub filename: String,
    pub seeders: u32,
    /// As Torrentio writes it: `1.4 GB`.
    pub size_text: String,
}

#[derive(Debug)]
struct FakeState {
    streams: Vec<AddonStream>,
    down: bool,
    received: Vec<Received>,
}

#[derive(Debug, Clone)]
pub struct AddonControl {
    state: Arc<Mutex<FakeState>>,
}

impl AddonControl {
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn add(&self, stream: AddonStream) {
        self.lock().streams.push(stream);
    }

    /// Answer HTTP 503 to everything.
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// The paths asked for, oldest first.
    pub fn paths(&self) -> Vec<String> {
        self.received().into_iter().map(|r| r.path).collect()
    }

    pub fn router(&self) -> Router {
        Router::new().fallback(any(handle)).with_state(self.clone())
    }
}

fn stream_json(stream: &AddonStream) -> Value {
    let mut value = json!({
        "name": "Torrentio\n1080p",
        "title": format!("{}\n{}\n👤 {} 💾 {} ⚙️ ThePirateBay", stream.release, stream.filename, stream.seeders, stream.size_text),
        "infoHash": stream.hash,
        "behaviorHints": {"bingeGroup": format!("torrentio|{}", stream.hash), "filename": stream.filename},
        "sources": [format!("tracker:udp://tracker.example:1337/announce"), format!("dht:{}", stream.hash)],
    });
    if let Some(idx) = stream.file_idx {
        value["fileIdx"] = json!(idx);
    }
    value
}

async fn handle(State(control): State<AddonControl>, request: Request) -> Response {
    let received = Received::of(&request);
    let (down, streams) = {
        let mut state = control.lock();
        state.received.push(received.clone());
        (state.down, state.streams.clone())
    };
    if down {
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
    }
    if received.path == "/manifest.json" {
        return Json(json!({
            "id": "com.example.fake-torrentio", "version": "0.0.1", "name": "Fake Torrentio",
            "resources": ["stream"], "types": ["movie", "series"], "idPrefixes": ["tt"], "catalogs": [],
        }))
        .into_response();
    }
    let Some(rest) = received.path.strip_prefix("/stream/") else {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    };
    let Some((_, file)) = rest.split_once('/') else {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    };
    let id = file.strip_suffix(".json").unwrap_or(file).replace("%3A", ":");
    let mut list: Vec<Value> = streams.iter().filter(|s| s.id == id).map(stream_json).collect();
    if !list.is_empty() {
        list.push(
            json!({"name": "Debrid\n1080p", "title": "a debrid link", "url": "https://debrid.example/dl/abc.mkv"}),
        );
    }
    ([(header::CACHE_CONTROL, "max-age=3600, public")], Json(json!({"streams": list}))).into_response()
}

/// A running fake on 127.0.0.1:0.
pub struct FakeStremioAddon {
    pub control: AddonControl,
    server: Running,
}

impl std::ops::Deref for FakeStremioAddon {
    type Target = AddonControl;

    fn deref(&self) -> &AddonControl {
        &self.control
    }
}

impl FakeStremioAddon {
    pub async fn start() -> Self {
        let control = AddonControl {
            state: Arc::new(Mutex::new(FakeState { streams: Vec::new(), down: false, received: Vec::new() })),
        };
        let server = serve(control.router()).await;
        Self { control, server }
    }

    pub fn manifest_url(&self) -> String {
        format!("{}/manifest.json", self.server.url())
    }
}
