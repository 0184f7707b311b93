//! Fake RealDebrid REST API (`/rest/1.0/...`) plus a fake CDN (`/cdn/...`), following
//! RealDebrid's documented API (see the project's reference notes, §1):
//!
//! - `Authorization: Bearer <token>`; an unknown token gets HTTP 401
//!   `{"error":"bad_token","error_code":8}`. Errors are always `{"error", "error_code"}`.
//! - `POST /torrents/addMagnet` (form `magnet`, optional `ip`) answers 201 `{id, uri}` and adds a
//!   *new* torrent each time, as RealDebrid does. A torrent whose name matches the content
//!   filter ([`CONTENT_FILTER`], the release-name patterns reported since May 2026) gets HTTP
//!   **451** `{"error":"infringing_file","error_code":35}`.
//! - `GET /torrents/info/{id}`: a new torrent is `waiting_files_selection` (every file
//!   `selected: 0`) until `POST /torrents/selectFiles/{id}` (form `files=1,3|all`, 204); then a
//!   cached one is `downloaded` with one `links[]` entry per selected file, an uncached one is
//!   `downloading` for its `polls` reads, a dead one is `dead`. File ids start at 1.
//! - `GET /torrents` lists the token's torrents (`id, filename, hash, bytes, status, links`),
//!   with `X-Total-Count`. `DELETE /torrents/delete/{id}` answers 204.
//! - `POST /unrestrict/link` (form `link`) answers `{download: <base>/cdn/rd/<id>/<file>/<name>, …}`,
//!   or 451 `infringing_file` for a torrent named with [`FakeRealDebrid::refuse_links`].
//! - `GET /user` answers the account. An unknown torrent id is 404
//!   `{"error":"unknown_ressource","error_code":7}`.
//! - Faults: 429 `too_many_requests` (34) with `Retry-After`; a 5xx `internal_error` (-1);
//!   [`Fault::AccountLimit`] makes `addMagnet` of an uncached torrent answer HTTP 509
//!   `too_many_active_downloads` (21). A per-token minute window answers 429 (34).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::debrid::{hash_of, parse_urlencoded, record, Common, Fault, RecordedCall};
use super::{serve, Running};

pub const PREFIX: &str = "/rest/1.0";
pub const ADD_MAGNET: &str = "/rest/1.0/torrents/addMagnet";
pub const SELECT_FILES: &str = "/rest/1.0/torrents/selectFiles/";
pub const INFO: &str = "/rest/1.0/torrents/info/";
pub const TORRENTS: &str = "/rest/1.0/torrents";
pub const DELETE: &str = "/rest/1.0/torrents/delete/";
pub const UNRESTRICT: &str = "/rest/1.0/unrestrict/link";

/// Release-name patterns RealDebrid's filter refuses (rivenmedia/riven-ts#203).
pub const CONTENT_FILTER: &[&str] =
    &["web-dl", "webrip", "bdrip", "hdrip", "dvdrip", "bluray.x264", "hdtv.x264", "hdtv.xvid", "web.x264", "web.h264"];

#[derive(Debug, Clone)]
pub struct Torrent {
    pub id: String,
    pub key: String,
    pub hash: String,
    pub selected: Option<Vec<u64>>,
    pub reads: u32,
}

#[derive(Debug, Default)]
pub struct RealDebridState {
    pub common: Common,
    pub torrents: Vec<Torrent>,
    /// Hashes whose links `unrestrict/link` refuses with 451 (the filter also acts there).
    pub refused_links: Vec<String>,
    next_id: u64,
}

#[derive(Clone, Default)]
pub struct FakeRealDebrid {
    state: Arc<Mutex<RealDebridState>>,
}

impl FakeRealDebrid {
    pub async fn start() -> (Self, Running) {
        let fake = Self::default();
        let router = Router::new().fallback(handle).with_state(fake.clone());
        let running = serve(router).await;
        fake.state().common.base_url = running.url();
        (fake, running)
    }

    /// The base URL to configure (`api_url`).
    pub fn api_url(running: &Running) -> String {
        format!("{}{PREFIX}", running.url())
    }

    pub fn state(&self) -> MutexGuard<'_, RealDebridState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add_key(&self, key: &str) {
        self.state().common.keys.push(key.to_string());
    }

    pub fn add_cached(&self, hash: &str, name: &str, files: &[(&str, u64)]) {
        self.state().common.add(hash, name, files, true, 0);
    }

    pub fn add_uncached(&self, hash: &str, name: &str, files: &[(&str, u64)], polls: u32) {
        self.state().common.add(hash, name, files, false, polls);
    }

    pub fn set_dead(&self, hash: &str) {
        if let Some(t) = self.state().common.swarm.get_mut(hash) {
            t.dead = true;
        }
    }

    /// Puts a torrent in `key`'s library, downloaded (all files selected).
    pub fn add_to_library(&self, key: &str, hash: &str) {
        let mut state = self.state();
        let files = state.common.torrent(hash).files.len() as u64;
        let id = new_id(&mut state);
        state.torrents.push(Torrent {
            id,
            key: key.into(),
            hash: hash.into(),
            selected: Some((1..=files).collect()),
            reads: u32::MAX,
        });
    }

    pub fn set_fault(&self, fault: Fault) {
        self.state().common.fault = fault;
    }

    /// `unrestrict/link` answers 451 `infringing_file` for this torrent's links.
    pub fn refuse_links(&self, hash: &str) {
        self.state().refused_links.push(hash.to_string());
    }

    pub fn set_requests_per_minute(&self, limit: u64) {
        self.state().common.requests_per_minute = limit;
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        self.state().common.calls.clone()
    }

    /// Calls whose path starts with `prefix`.
    pub fn calls_to(&self, prefix: &str) -> Vec<RecordedCall> {
        self.calls().into_iter().filter(|c| c.path.starts_with(prefix)).collect()
    }

    pub fn torrents_of(&self, key: &str) -> Vec<Torrent> {
        self.state().torrents.iter().filter(|t| t.key == key).cloned().collect()
    }
}

fn new_id(state: &mut RealDebridState) -> String {
    state.next_id += 1;
    format!("RDT{:06}", state.next_id)
}

fn error(status: u16, name: &str, code: i64) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(json!({"error": name, "error_code": code}))).into_response()
}

async fn handle(
    State(fake): State<FakeRealDebrid>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = record(&method, &uri, &headers, &body);
    if let Some(rest) = call.path.strip_prefix("/cdn/") {
        return (StatusCode::OK, format!("fake realdebrid cdn {rest}\n")).into_response();
    }
    let mut state = fake.state();
    state.common.calls.push(call.clone());
    let Some(key) = call.bearer().map(str::to_string).filter(|k| state.common.keys.contains(k)) else {
        return error(401, "bad_token", 8);
    };
    if !state.common.admit(&key) {
        return error(429, "too_many_requests", 34);
    }
    match state.common.fault.clone() {
        Fault::RateLimited { retry_after_secs } => {
            let mut response = error(429, "too_many_requests", 34);
            response.headers_mut().insert("retry-after", retry_after_secs.to_string().parse().expect("header"));
            return response;
        }
        Fault::ServerError { status } => return error(status, "internal_error", -1),
        Fault::AccountLimit | Fault::None => {}
    }
    route(&mut state, &key, &method, &call)
}

fn route(state: &mut RealDebridState, key: &str, method: &Method, call: &RecordedCall) -> Response {
    let path = call.path.as_str();
    let form: BTreeMap<String, String> = parse_urlencoded(&call.body).into_iter().collect();
    match (method.as_str(), path) {
        ("GET", "/rest/1.0/user") => Json(json!({
            "id": 4242, "username": "viewer", "email": "viewer@example.com", "points": 100, "locale": "en",
            "avatar": "", "type": "premium", "premium": 86400 * 30, "expiration": "2027-01-01T00:00:00.000Z"
        }))
        .into_response(),
        ("POST", ADD_MAGNET) => {
            let Some(hash) = form.get("magnet").and_then(|m| hash_of(m)) else {
                return error(400, "parameter_missing", 1);
            };
            let swarm = state.common.torrent(&hash);
            let name = swarm.name.to_ascii_lowercase();
            if CONTENT_FILTER.iter().any(|p| name.contains(p)) {
                return error(451, "infringing_file", 35);
            }
            if state.common.fault == Fault::AccountLimit && !swarm.cached {
                return error(509, "too_many_active_downloads", 21);
            }
            let id = new_id(state);
            state.torrents.push(Torrent { id: id.clone(), key: key.into(), hash, selected: None, reads: 0 });
            let uri = format!("{}/rest/1.0/torrents/info/{id}", state.common.base_url);
            (StatusCode::CREATED, Json(json!({"id": id, "uri": uri}))).into_response()
        }
        ("GET", TORRENTS) => {
            let list: Vec<Value> = state
                .torrents
                .iter()
                .filter(|t| t.key == key)
                .collect::<Vec<_>>()
                .into_iter()
                .enumerate()
                .rev()
                .map(|(n, t)| {
                    let (status, _) = status_of(&state.common, t);
                    let swarm = state.common.torrent(&t.hash);
                    // `added`: a minute after the torrent before it (newest first, as documented).
                    let added = format!("2026-11-28T{:02}:{:02}:00.000Z", 10 + n / 60, n % 60);
                    json!({"id": t.id, "filename": swarm.name, "hash": t.hash, "bytes": swarm.files.iter().map(|f| f.1).sum::<u64>(),
                           "status": status, "progress": if status == "downloaded" { 100 } else { 0 }, "links": [],
                           "added": added})
                })
                .collect();
            let total = list.len();
            ([("x-total-count", total.to_string())], Json(Value::Array(list))).into_response()
        }
        ("GET", p) if p.starts_with(INFO) => {
            let id = &p[INFO.len()..];
            let Some(index) = state.torrents.iter().position(|t| t.id == id && t.key == key) else {
                return error(404, "unknown_ressource", 7);
            };
            if state.torrents[index].selected.is_some() {
                state.torrents[index].reads = state.torrents[index].reads.saturating_add(1);
            }
            Json(info(state, &state.torrents[index].clone())).into_response()
        }
        ("POST", p) if p.starts_with(SELECT_FILES) => {
            let id = &p[SELECT_FILES.len()..];
            let Some(torrent) = state.torrents.iter_mut().find(|t| t.id == id && t.key == key) else {
                return error(404, "unknown_ressource", 7);
            };
            let count = state.common.swarm.get(&torrent.hash).map_or(0, |s| s.files.len() as u64);
            let files = form.get("files").cloned().unwrap_or_default();
            let selected: Vec<u64> = if files == "all" {
                (1..=count).collect()
            } else {
                files.split(',').filter_map(|f| f.trim().parse().ok()).filter(|f| (1..=count).contains(f)).collect()
            };
            if selected.is_empty() {
                return error(400, "parameter_value", 2);
            }
            torrent.selected = Some(selected);
            StatusCode::NO_CONTENT.into_response()
        }
        ("DELETE", p) if p.starts_with(DELETE) => {
            let id = &p[DELETE.len()..];
            let before = state.torrents.len();
            state.torrents.retain(|t| !(t.id == id && t.key == key));
            if state.torrents.len() == before {
                return error(404, "unknown_ressource", 7);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", UNRESTRICT) => {
            let link = form.get("link").cloned().unwrap_or_default();
            // Links are `https://real-debrid.com/d/<torrent id>-<file id>`.
            let Some((id, file)) = link.strip_prefix("https://real-debrid.com/d/").and_then(|l| l.split_once('-'))
            else {
                return error(400, "parameter_value", 2);
            };
            let Some(torrent) = state.torrents.iter().find(|t| t.id == id) else {
                return error(404, "unknown_ressource", 7);
            };
            if state.refused_links.contains(&torrent.hash) {
                return error(451, "infringing_file", 35);
            }
            let swarm = state.common.torrent(&torrent.hash);
            let Some((name, size)) = file.parse::<usize>().ok().and_then(|f| swarm.files.get(f.wrapping_sub(1))) else {
                return error(404, "unknown_ressource", 7);
            };
            let download = state.common.cdn_link("rd", id, file.parse().unwrap_or(0), name);
            Json(json!({"id": "UNR1", "filename": name.rsplit('/').next(), "mimeType": "video/x-matroska", "filesize": size,
                        "link": link, "host": "real-debrid.com", "chunks": 32, "crc": 1, "download": download, "streamable": 1}))
            .into_response()
        }
        _ => error(404, "unknown_method", 3),
    }
}

/// The torrent's status and whether it finished.
fn status_of(common: &Common, torrent: &Torrent) -> (&'static str, bool) {
    let swarm = common.torrent(&torrent.hash);
    match &torrent.selected {
        None => ("waiting_files_selection", false),
        Some(_) if swarm.dead => ("dead", false),
        Some(_) if swarm.cached || torrent.reads > swarm.polls => ("downloaded", true),
        Some(_) => ("downloading", false),
    }
}

fn info(state: &RealDebridState, torrent: &Torrent) -> Value {
    let swarm = state.common.torrent(&torrent.hash);
    let (status, done) = status_of(&state.common, torrent);
    let selected = torrent.selected.clone().unwrap_or_default();
    let files: Vec<Value> = swarm
        .files
        .iter()
        .enumerate()
        .map(|(i, (path, size))| {
            let id = i as u64 + 1;
            json!({"id": id, "path": format!("/{path}"), "bytes": size, "selected": u8::from(selected.contains(&id))})
        })
        .collect();
    let links: Vec<String> = if done {
        let mut ids = selected.clone();
        ids.sort();
        ids.iter().map(|f| format!("https://real-debrid.com/d/{}-{f}", torrent.id)).collect()
    } else {
        Vec::new()
    };
    json!({"id": torrent.id, "filename": swarm.name, "original_filename": swarm.name, "hash": torrent.hash,
           "bytes": swarm.files.iter().filter(|_| done).map(|f| f.1).sum::<u64>(), "original_bytes": swarm.files.iter().map(|f| f.1).sum::<u64>(),
           "host": "real-debrid.com", "split": 2000, "progress": if done { 100 } else { 0 }, "status": status,
           "added": "2026-11-28T10:00:00.000Z", "files": files, "links": links})
}
