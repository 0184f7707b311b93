//! A fake Stremio metadata addon in Cinemeta's shape: `GET /meta/{movie|series}/{imdb}.json`
//! answers `{"meta": {"id", "type", "name", "year", "releaseInfo"}}` for a known id and
//! `{"meta": null}` otherwise (HTTP 200, as Cinemeta does). [`CinemetaControl::set_down`] makes
//! it answer HTTP 503. Every request is recorded.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::{serve, Running};

#[derive(Debug, Default)]
struct FakeState {
    /// (type, id, name, releaseInfo)
    titles: Vec<(String, String, String, String)>,
    down: bool,
    calls: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CinemetaControl {
    state: Arc<Mutex<FakeState>>,
}

impl CinemetaControl {
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A title: `kind` is `movie` or `series`; `release_info` `1994` or `2008–2013`.
    pub fn add(&self, kind: &str, imdb_id: &str, name: &str, release_info: &str) {
        self.lock().titles.push((kind.into(), imdb_id.into(), name.into(), release_info.into()));
    }

    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// The paths requested, oldest first.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    pub fn router(&self) -> Router {
        Router::new().route("/meta/{kind}/{file}", get(meta)).with_state(self.clone())
    }
}

async fn meta(State(control): State<CinemetaControl>, Path((kind, file)): Path<(String, String)>) -> Response {
    let (down, found) = {
        let mut state = control.lock();
        state.calls.push(format!("/meta/{kind}/{file}"));
        let id = file.strip_suffix(".json").unwrap_or(&file).to_string();
        let found = state.titles.iter().find(|(k, i, _, _)| *k == kind && *i == id).cloned();
        (state.down, found)
    };
    if down {
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
    }
    match found {
        Some((kind, id, name, info)) => Json(json!({"meta": {
            "id": id, "imdb_id": id, "type": kind, "name": name, "year": info, "releaseInfo": info,
        }}))
        .into_response(),
        None => Json(json!({"meta": null})).into_response(),
    }
}

/// A running fake on 127.0.0.1:0.
pub struct FakeCinemeta {
    pub control: CinemetaControl,
    server: Running,
}

impl std::ops::Deref for FakeCinemeta {
    type Target = CinemetaControl;

    fn deref(&self) -> &CinemetaControl {
        &self.control
    }
}

impl FakeCinemeta {
    pub async fn start() -> Self {
        let control = CinemetaControl::default();
        let server = serve(control.router()).await;
        Self { control, server }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }
}
