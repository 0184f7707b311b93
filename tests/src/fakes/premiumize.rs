//! Fake Premiumize API (`/api/...`) plus a fake CDN (`/cdn/...`), following Premiumize's API
//! (see the project's reference notes, §3):
//!
//! - The key is only the `apikey` **query parameter** (form bodies carry none); an unknown key
//!   gets HTTP 200 `{"status":"error","message":"Not logged in."}`. Replies are
//!   `{"status":"success", …}` or `{"status":"error","message"}`.
//! - `GET cache/check?items[]=…` answers `response` (one boolean per item), with `transcoded`,
//!   `filename`, `filesize`.
//! - `POST transfer/directdl` (form `src` = magnet) answers `content[{path, size, link,
//!   stream_link}]` for a cached item, else `content not in cache`.
//! - `POST transfer/create` (form `src`) answers `{id, name, type}`; `GET transfer/list` shows
//!   the transfer `running` for its `polls` reads, then `finished` (and the item is cached).
//! - `GET account/info` answers `{customer_id, premium_until, limit_used, space_used}`.
//! - Faults: HTTP 429 with `Retry-After`; a 5xx; [`Fault::AccountLimit`] makes `transfer/create`
//!   answer the fair-use limit message.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::debrid::{hash_of, parse_urlencoded, record, Common, Fault, RecordedCall};
use super::{serve, Running};

pub const PREFIX: &str = "/api";
pub const CACHE_CHECK: &str = "/api/cache/check";
pub const DIRECTDL: &str = "/api/transfer/directdl";
pub const CREATE: &str = "/api/transfer/create";
pub const LIST: &str = "/api/transfer/list";

#[derive(Debug, Clone)]
pub struct Transfer {
    pub id: String,
    pub key: String,
    pub hash: String,
    pub reads: u32,
}

#[derive(Debug, Default)]
pub struct PremiumizeState {
    pub common: Common,
    pub transfers: Vec<Transfer>,
    next_id: u64,
}

#[derive(Clone, Default)]
pub struct FakePremiumize {
    state: Arc<Mutex<PremiumizeState>>,
}

impl FakePremiumize {
    pub async fn start() -> (Self, Running) {
        let fake = Self::default();
        let router = Router::new().fallback(handle).with_state(fake.clone());
        let running = serve(router).await;
        fake.state().common.base_url = running.url();
        (fake, running)
    }

    pub fn api_url(running: &Running) -> String {
        format!("{}{PREFIX}", running.url())
    }

    pub fn state(&self) -> MutexGuard<'_, PremiumizeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add_key(&self, key: &str) {
        self.state().common.keys.push(key.to_string());
    }

    pub fn add_cached(&self, hash: &str, name: &str, files: &[(&str, u64)]) {
        self.state().common.add(hash, name, files, true, 0);
    }

    /// Puts a transfer of `hash` into `key`'s list, as if it had been created earlier.
    pub fn add_to_library(&self, key: &str, hash: &str) {
        let mut state = self.state();
        state.next_id += 1;
        let id = format!("pmtr{:05}", state.next_id);
        state.transfers.push(Transfer { id, key: key.into(), hash: hash.to_ascii_lowercase(), reads: 0 });
    }

    pub fn add_uncached(&self, hash: &str, name: &str, files: &[(&str, u64)], polls: u32) {
        self.state().common.add(hash, name, files, false, polls);
    }

    pub fn set_fault(&self, fault: Fault) {
        self.state().common.fault = fault;
    }

    pub fn set_requests_per_minute(&self, limit: u64) {
        self.state().common.requests_per_minute = limit;
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        self.state().common.calls.clone()
    }

    pub fn calls_to(&self, path: &str) -> Vec<RecordedCall> {
        self.calls().into_iter().filter(|c| c.path == path).collect()
    }
}

fn failure(status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(json!({"status": "error", "message": message}))).into_response()
}

fn success(mut body: Value) -> Response {
    body["status"] = json!("success");
    Json(body).into_response()
}

async fn handle(
    State(fake): State<FakePremiumize>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = record(&method, &uri, &headers, &body);
    if let Some(rest) = call.path.strip_prefix("/cdn/") {
        return (StatusCode::OK, format!("fake premiumize cdn {rest}\n")).into_response();
    }
    let mut state = fake.state();
    state.common.calls.push(call.clone());
    let Some(key) = call.query_param("apikey").filter(|k| state.common.keys.contains(k)) else {
        return failure(200, "Not logged in.");
    };
    if !state.common.admit(&key) {
        return failure(429, "Too many requests");
    }
    match state.common.fault.clone() {
        Fault::RateLimited { retry_after_secs } => {
            let mut response = failure(429, "Too many requests");
            response.headers_mut().insert("retry-after", retry_after_secs.to_string().parse().expect("header"));
            return response;
        }
        Fault::ServerError { status } => return failure(status, "Internal server error"),
        Fault::AccountLimit | Fault::None => {}
    }
    route(&mut state, &key, &call)
}

fn is_cached(state: &PremiumizeState, hash: &str) -> bool {
    let swarm = state.common.torrent(hash);
    swarm.cached
        || state
            .transfers
            .iter()
            .any(|t| t.hash == hash && t.reads > swarm.polls && !swarm.dead && swarm.polls != u32::MAX)
}

fn route(state: &mut PremiumizeState, key: &str, call: &RecordedCall) -> Response {
    let form = parse_urlencoded(&call.body);
    let src = form.iter().find(|(k, _)| k == "src").map(|(_, v)| v.clone()).unwrap_or_default();
    match call.path.as_str() {
        "/api/account/info" => success(
            json!({"customer_id": "1234567", "premium_until": 1_900_000_000u64, "limit_used": 0.12, "space_used": 0}),
        ),
        CACHE_CHECK => {
            let items = call.query_params("items[]");
            let answers: Vec<bool> = items.iter().map(|i| hash_of(i).is_some_and(|h| is_cached(state, &h))).collect();
            let names: Vec<Value> = items
                .iter()
                .map(|i| match hash_of(i).filter(|h| is_cached(state, h)) {
                    Some(h) => json!(state.common.torrent(&h).files.iter().max_by_key(|f| f.1).map(|f| f.0.clone())),
                    None => Value::Null,
                })
                .collect();
            success(json!({"response": answers, "transcoded": answers.iter().map(|_| false).collect::<Vec<_>>(),
                           "filename": names, "filesize": items.iter().map(|_| Value::Null).collect::<Vec<_>>()}))
        }
        DIRECTDL => {
            let Some(hash) = hash_of(&src) else { return failure(200, "src is not a valid link") };
            if !is_cached(state, &hash) {
                return failure(200, "content not in cache");
            }
            let swarm = state.common.torrent(&hash);
            let multi = swarm.files.len() > 1;
            let content: Vec<Value> = swarm
                .files
                .iter()
                .enumerate()
                .map(|(i, (path, size))| {
                    let full = if multi { format!("{}/{path}", swarm.name) } else { path.clone() };
                    json!({"path": full, "size": size, "link": state.common.cdn_link("pm", &hash, i as u64, path),
                           "stream_link": Value::Null, "transcode_status": "not_applicable"})
                })
                .collect();
            success(
                json!({"location": "", "filename": swarm.name, "filetype": "torrent", "filesize": 0, "content": content}),
            )
        }
        CREATE => {
            let Some(hash) = hash_of(&src) else { return failure(200, "src is not a valid link") };
            if state.common.fault == Fault::AccountLimit {
                return failure(200, "You have reached your fair use limit. Please wait until it is reset.");
            }
            state.next_id += 1;
            let id = format!("pmtr{:05}", state.next_id);
            state.transfers.push(Transfer { id: id.clone(), key: key.into(), hash: hash.clone(), reads: 0 });
            success(json!({"id": id, "name": state.common.torrent(&hash).name, "type": "torrent"}))
        }
        LIST => {
            let mut out = Vec::new();
            for index in 0..state.transfers.len() {
                if state.transfers[index].key != key {
                    continue;
                }
                state.transfers[index].reads = state.transfers[index].reads.saturating_add(1);
                let t = state.transfers[index].clone();
                let swarm = state.common.torrent(&t.hash);
                let status = if swarm.dead {
                    "error"
                } else if swarm.cached || t.reads > swarm.polls {
                    "finished"
                } else {
                    "running"
                };
                out.push(json!({"id": t.id, "name": swarm.name, "message": if status == "error" { "No seeders" } else { "" },
                                "status": status, "progress": if status == "finished" { 1.0 } else { 0.1 },
                                "src": format!("magnet:?xt=urn:btih:{}", t.hash), "folder_id": "f1", "file_id": Value::Null}));
            }
            success(json!({"transfers": out}))
        }
        _ => failure(404, "unknown endpoint"),
    }
}
