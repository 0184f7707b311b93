//! Fake AllDebrid API (`/v4.1/...`) plus a fake CDN (`/cdn/...`), following AllDebrid's
//! documented API (see the project's reference notes, §2):
//!
//! - `Authorization: Bearer <apikey>` and the `agent` query parameter on every call. Replies
//!   are `{"status":"success","data":…}` or `{"status":"error","error":{"code","message"}}`.
//!   An unknown key is HTTP 401 `AUTH_BAD_APIKEY`; a key flagged with
//!   [`FakeAllDebrid::block_key`] is `AUTH_BLOCKED` (used from a new IP until the owner
//!   approves it by e-mail); a missing agent is `AUTH_MISSING_AGENT`.
//! - `POST magnet/upload` (form `magnets[]`) answers `data.magnets[{id, hash, name, size, ready}]`;
//!   uploading a hash the account has returns the same id. **Uploads from servers are refused**
//!   with `NO_SERVER` unless the call came through a proxy (it carries a `Via` header), as
//!   AllDebrid refuses datacenter addresses.
//! - `GET magnet/status?id=` answers `data.magnets` as an object (`statusCode` 0–15: a cached
//!   torrent is 4 = ready, an uncached one is 1 = downloading for its `polls` reads, a dead one
//!   15); `?status=ready` lists the ready magnets as an array. An unknown id is `MAGNET_INVALID_ID`.
//! - `GET magnet/files?id[]=` answers `data.magnets[{id, files}]`, files as the `{n, s, l}` /
//!   `{n, e}` tree. `GET link/unlock?link=` answers `data.link` on the CDN. `GET user` answers
//!   `data.user`.
//! - Faults: HTTP 429 with `Retry-After`; a 5xx `GENERIC`; [`Fault::AccountLimit`] makes the
//!   upload of an uncached torrent answer `MAGNET_TOO_MANY_ACTIVE`.

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

pub const PREFIX: &str = "/v4.1";
pub const UPLOAD: &str = "/v4.1/magnet/upload";
pub const STATUS: &str = "/v4.1/magnet/status";
pub const FILES: &str = "/v4.1/magnet/files";
pub const UNLOCK: &str = "/v4.1/link/unlock";

#[derive(Debug, Clone)]
pub struct Magnet {
    pub id: u64,
    pub key: String,
    pub hash: String,
    pub reads: u32,
}

#[derive(Debug, Default)]
pub struct AllDebridState {
    pub common: Common,
    pub magnets: Vec<Magnet>,
    pub blocked: Vec<String>,
    /// Headers of every upload, lowercased names (to see whether it came through a proxy).
    pub upload_headers: Vec<BTreeMap<String, String>>,
    next_id: u64,
}

#[derive(Clone, Default)]
pub struct FakeAllDebrid {
    state: Arc<Mutex<AllDebridState>>,
}

impl FakeAllDebrid {
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

    pub fn state(&self) -> MutexGuard<'_, AllDebridState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add_key(&self, key: &str) {
        self.state().common.keys.push(key.to_string());
    }

    /// The key is blocked until its owner approves the new IP (`AUTH_BLOCKED`).
    pub fn block_key(&self, key: &str) {
        self.state().blocked.push(key.to_string());
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

    /// Puts a ready magnet in `key`'s account.
    pub fn add_to_library(&self, key: &str, hash: &str) {
        let mut state = self.state();
        state.next_id += 1;
        let id = state.next_id;
        state.magnets.push(Magnet { id, key: key.into(), hash: hash.into(), reads: u32::MAX });
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

    pub fn upload_headers(&self) -> Vec<BTreeMap<String, String>> {
        self.state().upload_headers.clone()
    }
}

fn failure(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(json!({"status": "error", "error": {"code": code, "message": message}}))).into_response()
}

fn success(data: Value) -> Response {
    Json(json!({"status": "success", "data": data})).into_response()
}

async fn handle(
    State(fake): State<FakeAllDebrid>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = record(&method, &uri, &headers, &body);
    if let Some(rest) = call.path.strip_prefix("/cdn/") {
        return (StatusCode::OK, format!("fake alldebrid cdn {rest}\n")).into_response();
    }
    let mut state = fake.state();
    state.common.calls.push(call.clone());
    if call.query_param("agent").is_none_or(|a| a.is_empty()) {
        return failure(400, "AUTH_MISSING_AGENT", "You must send a meaningful agent parameter");
    }
    let Some(key) = call.bearer().map(str::to_string).filter(|k| state.common.keys.contains(k)) else {
        return failure(401, "AUTH_BAD_APIKEY", "The auth apikey is invalid");
    };
    if state.blocked.contains(&key) {
        return failure(
            403,
            "AUTH_BLOCKED",
            "This apikey is geo-blocked or ip-blocked, check your email to approve this new location",
        );
    }
    if !state.common.admit(&key) {
        return failure(429, "TOO_MANY_REQUESTS", "Too many requests");
    }
    match state.common.fault.clone() {
        Fault::RateLimited { retry_after_secs } => {
            let mut response = failure(429, "TOO_MANY_REQUESTS", "Too many requests");
            response.headers_mut().insert("retry-after", retry_after_secs.to_string().parse().expect("header"));
            return response;
        }
        Fault::ServerError { status } => return failure(status, "GENERIC", "An error occurred"),
        Fault::AccountLimit | Fault::None => {}
    }
    if call.path == UPLOAD {
        let lowered = headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        state.upload_headers.push(lowered);
        if !headers.contains_key("via") {
            return failure(
                200,
                "NO_SERVER",
                "Servers are not allowed to use this feature. Visit https://alldebrid.com/vpn if you're using a VPN.",
            );
        }
    }
    route(&mut state, &key, &call)
}

fn route(state: &mut AllDebridState, key: &str, call: &RecordedCall) -> Response {
    let form: Vec<(String, String)> = parse_urlencoded(&call.body);
    match call.path.as_str() {
        "/v4.1/user" => {
            success(json!({"user": {"username": "viewer", "email": "viewer@example.com", "isPremium": true,
            "isSubscribed": true, "isTrial": false, "premiumUntil": 1_900_000_000u64}}))
        }
        UPLOAD => {
            let magnets: Vec<String> = form.iter().filter(|(k, _)| k == "magnets[]").map(|(_, v)| v.clone()).collect();
            if magnets.is_empty() {
                return failure(400, "MAGNET_NO_URI", "No magnet sent");
            }
            let mut out = Vec::new();
            for magnet in magnets {
                let Some(hash) = hash_of(&magnet) else {
                    out.push(json!({"magnet": magnet, "error": {"code": "MAGNET_INVALID_URI", "message": "Magnet URI is not valid"}}));
                    continue;
                };
                let swarm = state.common.torrent(&hash);
                let existing = state.magnets.iter().find(|m| m.key == key && m.hash == hash).map(|m| m.id);
                let id = match existing {
                    Some(id) => id,
                    None if state.common.fault == Fault::AccountLimit && !swarm.cached => {
                        out.push(json!({"magnet": magnet, "error": {"code": "MAGNET_TOO_MANY_ACTIVE", "message": "Already have maximum allowed active magnets (30)"}}));
                        continue;
                    }
                    None => {
                        state.next_id += 1;
                        let id = state.next_id;
                        state.magnets.push(Magnet { id, key: key.into(), hash: hash.clone(), reads: 0 });
                        id
                    }
                };
                out.push(json!({"magnet": magnet, "hash": hash, "name": swarm.name, "filename_original": swarm.name,
                    "size": swarm.files.iter().map(|f| f.1).sum::<u64>(), "ready": swarm.cached, "id": id}));
            }
            success(json!({"magnets": out}))
        }
        STATUS => {
            if let Some(id) =
                call.query_param("id").or_else(|| form.iter().find(|(k, _)| k == "id").map(|(_, v)| v.clone()))
            {
                let Some(index) = state.magnets.iter().position(|m| m.key == key && m.id.to_string() == id) else {
                    return failure(200, "MAGNET_INVALID_ID", "Magnet ID does not exists");
                };
                state.magnets[index].reads = state.magnets[index].reads.saturating_add(1);
                let magnet = state.magnets[index].clone();
                return success(json!({"magnets": status(&state.common, &magnet)}));
            }
            let ready_only = call.query_param("status").as_deref() == Some("ready");
            let list: Vec<Value> = state
                .magnets
                .iter()
                .filter(|m| m.key == key)
                .map(|m| status(&state.common, m))
                .filter(|m| !ready_only || m["statusCode"] == 4)
                .collect();
            success(json!({"magnets": list}))
        }
        FILES => {
            let ids: Vec<String> = call.query_params("id[]");
            let mut out = Vec::new();
            for id in ids {
                match state.magnets.iter().find(|m| m.key == key && m.id.to_string() == id) {
                    Some(m) if status(&state.common, m)["statusCode"] == 4 => {
                        let swarm = state.common.torrent(&m.hash);
                        let mut root = Vec::new();
                        for (i, (path, size)) in swarm.files.iter().enumerate() {
                            insert(&mut root, path, *size, &format!("https://alldebrid.com/f/{}/{i}", m.id));
                        }
                        out.push(json!({"id": m.id.to_string(), "files": [{"n": swarm.name, "e": root}]}));
                    }
                    Some(_) => out.push(json!({"id": id, "error": {"code": "MAGNET_NOT_READY", "message": "not ready"}})),
                    None => out.push(json!({"id": id, "error": {"code": "MAGNET_INVALID_ID", "message": "Magnet ID does not exists"}})),
                }
            }
            success(json!({"magnets": out}))
        }
        UNLOCK => {
            let link = call.query_param("link").unwrap_or_default();
            let parsed = link.strip_prefix("https://alldebrid.com/f/").and_then(|l| l.split_once('/'));
            let Some((id, file)) = parsed else {
                return failure(200, "LINK_HOST_NOT_SUPPORTED", "This host or link is not supported");
            };
            let Some(m) = state.magnets.iter().find(|m| m.id.to_string() == id) else {
                return failure(200, "LINK_DOWN", "This link is not available");
            };
            let swarm = state.common.torrent(&m.hash);
            let Some((name, size)) = file.parse::<usize>().ok().and_then(|f| swarm.files.get(f)) else {
                return failure(200, "LINK_DOWN", "This link is not available");
            };
            let link = state.common.cdn_link("ad", id, file.parse().unwrap_or(0), name);
            success(
                json!({"link": link, "host": "alldebrid", "filename": name.rsplit('/').next(), "streaming": [], "paws": false, "filesize": size}),
            )
        }
        _ => failure(404, "GENERIC", "Unknown endpoint"),
    }
}

fn status(common: &Common, magnet: &Magnet) -> Value {
    let swarm = common.torrent(&magnet.hash);
    let code = if swarm.dead {
        15
    } else if swarm.cached || magnet.reads > swarm.polls {
        4
    } else {
        1
    };
    let text = match code {
        4 => "Ready",
        15 => "No peer after 30 minutes",
        _ => "Downloading",
    };
    json!({"id": magnet.id, "filename": swarm.name, "size": swarm.files.iter().map(|f| f.1).sum::<u64>(), "hash": magnet.hash,
           "status": text, "statusCode": code, "downloaded": 0, "uploaded": 0, "seeders": 3, "downloadSpeed": 0,
           "uploadSpeed": 0, "uploadDate": 1_764_000_000u64 + magnet.id * 60, "completionDate": 0})
}

/// Puts a file at `path` (folders separated by `/`) into the `{n, e}` / `{n, s, l}` tree.
fn insert(nodes: &mut Vec<Value>, path: &str, size: u64, link: &str) {
    match path.split_once('/') {
        None => nodes.push(json!({"n": path, "s": size, "l": link})),
        Some((folder, rest)) => {
            let position = nodes.iter().position(|n| n["n"] == folder && n.get("e").is_some());
            let index = match position {
                Some(i) => i,
                None => {
                    nodes.push(json!({"n": folder, "e": []}));
                    nodes.len() - 1
                }
            };
            if let Some(Value::Array(children)) = nodes[index].get_mut("e") {
                insert(children, rest, size, link);
            }
        }
    }
}
