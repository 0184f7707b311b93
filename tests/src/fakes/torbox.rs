//! Fake TorBox API (`/v1/api/...`) plus a fake CDN (`/cdn/...`), following the real formats:
//! every API reply is the `{"success","error","detail","data"}` envelope.
//!
//! What the fake knows:
//! - **Accounts**: API keys registered with [`FakeTorBox::add_key`] / [`FakeTorBox::add_key_with_plan`].
//!   A missing or unknown `Authorization: Bearer` gets HTTP 401 `BAD_TOKEN`. `requestdl` is
//!   authorised by its `token` query parameter instead, as on TorBox.
//! - **The swarm**: torrents TorBox can fetch. [`FakeTorBox::add_cached`] ones are on TorBox's
//!   servers already (they show in `checkcached` and finish instantly when added);
//!   [`FakeTorBox::add_uncached`] ones download when added: the first `polls` `mylist` replies for
//!   the torrent show it unfinished (the first one queued, progress 0; later ones downloading),
//!   and every reply after that shows it downloaded. Once downloaded it counts as cached.
//!   A hash the swarm does not know can still be added: it stays queued forever, named after its
//!   hash, with no files.
//! - File paths are given relative to the torrent's root folder: `add_cached(h, "Movie",
//!   &[("Subs/en.srt", 10)])` is reported by TorBox as `Movie/Subs/en.srt` (and the plugin turns
//!   it into `/Subs/en.srt`). File ids are the positions in that list, from 0.
//! - **Per-key torrent lists**: `createtorrent` adds to the caller's list (adding a hash that is
//!   already there returns the same `torrent_id`); `mylist` and `requestdl` only see the caller's
//!   torrents. `mylist?id=` for a torrent that is not the caller's answers `success: true` with
//!   `data: null`.
//! - `checkcached` answers `POST` (JSON `{"hashes":[...]}`) and `GET` (`hash=` repeated or
//!   comma-separated), with `format=list` (an array) or `format=object` (keyed by hash). When
//!   nothing is cached, `data` is an empty object `{}` in both formats.
//! - `requestdl` returns `{base}/cdn/<torrent_id>/<file_id>/<file name>`; a torrent that is not
//!   downloaded yet, or an unknown file id, gets HTTP 404 `ITEM_NOT_FOUND`. `GET /cdn/...`
//!   answers 200 with a small text body.
//! - **Faults** ([`Fault`]) apply to every `/v1/api` call (not to `/cdn`) until cleared with
//!   `set_fault(Fault::None)`. Calls are recorded before the fault is applied.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{serve, Running};

pub const CHECKCACHED: &str = "/v1/api/torrents/checkcached";
pub const CREATETORRENT: &str = "/v1/api/torrents/createtorrent";
pub const MYLIST: &str = "/v1/api/torrents/mylist";
pub const REQUESTDL: &str = "/v1/api/torrents/requestdl";
pub const USER_ME: &str = "/v1/api/user/me";

/// A failure mode applied to every API call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Fault {
    #[default]
    None,
    /// HTTP 429 with `Retry-After: <retry_after_secs>` and an envelope without error code.
    RateLimited { retry_after_secs: u64 },
    /// HTTP `status` (e.g. 500) with the envelope `error: "UNKNOWN_ERROR"`.
    ServerError { status: u16 },
    /// HTTP `status` (e.g. 502) with a large HTML error page, as a proxy in front of TorBox would
    /// send. The page contains the marker text `FAKE-HTML-ERROR-PAGE`.
    HtmlPage { status: u16 },
    /// HTTP 200, `application/json`, with a reply cut off mid-way.
    TruncatedJson,
    /// HTTP 200, `application/json`, a valid envelope of about 3 MiB (over the plugin's 2 MiB cap).
    Oversized,
    /// Sleeps this long before answering normally.
    Hang(Duration),
    /// Any TorBox error envelope: HTTP `status`, `error: code`, `detail`.
    Error { status: u16, code: String, detail: String },
}

/// One request that reached the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?` (empty when there is none).
    pub query: String,
    /// The `Authorization` header value, e.g. `Bearer tb-key`.
    pub authorization: Option<String>,
    /// The raw body, as text (lossy UTF-8).
    pub body: String,
}

impl RecordedCall {
    /// Every decoded value of a query parameter.
    pub fn query_params(&self, name: &str) -> Vec<String> {
        parse_urlencoded(&self.query).into_iter().filter(|(k, _)| k == name).map(|(_, v)| v).collect()
    }

    /// The first decoded value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_params(name).into_iter().next()
    }

    /// The first decoded value of a form-urlencoded body field.
    pub fn form_param(&self, name: &str) -> Option<String> {
        parse_urlencoded(&self.body).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The key of the `Bearer` authorization, if any.
    pub fn bearer(&self) -> Option<&str> {
        self.authorization.as_deref().and_then(|a| a.strip_prefix("Bearer "))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeAccount {
    pub id: u64,
    pub email: String,
    /// 0 free, 1 essential, 2 pro, 3 standard.
    pub plan: u8,
}

/// A torrent TorBox can fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmTorrent {
    pub hash: String,
    pub name: String,
    /// Paths relative to the root folder, and sizes.
    pub files: Vec<(String, u64)>,
    pub cached: bool,
    /// How many `mylist` replies show it unfinished after it is added (uncached only).
    pub polls: u32,
}

/// A torrent in one account's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTorrent {
    pub id: u64,
    /// The API key that owns it.
    pub key: String,
    pub hash: String,
    /// `mylist` replies sent for it so far.
    pub polls_seen: u32,
    pub finished: bool,
}

/// Everything the fake knows; tests may read and change it through [`FakeTorBox::state`].
#[derive(Debug, Default)]
pub struct TorBoxState {
    /// The fake's own base URL (`http://127.0.0.1:port`), used in `requestdl` links.
    pub base_url: String,
    pub accounts: BTreeMap<String, FakeAccount>,
    pub swarm: BTreeMap<String, SwarmTorrent>,
    pub torrents: Vec<UserTorrent>,
    pub calls: Vec<RecordedCall>,
    pub fault: Fault,
    next_torrent_id: u64,
}

/// A handle on the fake. Cheap to clone; all clones share one state.
#[derive(Clone, Default)]
pub struct FakeTorBox {
    pub state: Arc<Mutex<TorBoxState>>,
}

impl FakeTorBox {
    /// Starts the fake on a fresh loopback port. Stop it by dropping the [`Running`].
    pub async fn start() -> (FakeTorBox, Running) {
        let fake = FakeTorBox::default();
        let running = serve(fake.router()).await;
        fake.state().base_url = running.url();
        (fake, running)
    }

    /// The axum app, for tests that serve it themselves (then set `state().base_url`).
    pub fn router(&self) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }

    /// Locks the state (recovering from a poisoned lock).
    pub fn state(&self) -> MutexGuard<'_, TorBoxState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Accepts `key` as the API key of a new account on the Pro plan.
    pub fn add_key(&self, key: &str) {
        self.add_key_with_plan(key, 2);
    }

    /// Accepts `key` as the API key of a new account on `plan` (0 free, 1 essential, 2 pro,
    /// 3 standard).
    pub fn add_key_with_plan(&self, key: &str, plan: u8) {
        let mut state = self.state();
        let id = state.accounts.len() as u64 + 1;
        state.accounts.insert(key.to_string(), FakeAccount { id, email: format!("user{id}@torbox.fake"), plan });
    }

    /// Adds a torrent that TorBox already has: it shows in `checkcached` and finishes as soon as
    /// it is added. `files` are (path below the root folder, size).
    pub fn add_cached(&self, hash: &str, name: &str, files: &[(&str, u64)]) {
        self.add_swarm(hash, name, files, true, 0);
    }

    /// Adds a torrent the swarm has but TorBox does not: once added, the first `polls` `mylist`
    /// replies show it unfinished and later ones show it downloaded.
    pub fn add_uncached(&self, hash: &str, name: &str, files: &[(&str, u64)], polls: u32) {
        self.add_swarm(hash, name, files, false, polls);
    }

    fn add_swarm(&self, hash: &str, name: &str, files: &[(&str, u64)], cached: bool, polls: u32) {
        let hash = hash.to_ascii_lowercase();
        let torrent = SwarmTorrent {
            hash: hash.clone(),
            name: name.to_string(),
            files: files.iter().map(|(p, s)| (p.trim_start_matches('/').to_string(), *s)).collect(),
            cached,
            polls,
        };
        self.state().swarm.insert(hash, torrent);
    }

    /// Sets the failure mode for every following API call (`Fault::None` clears it).
    pub fn set_fault(&self, fault: Fault) {
        self.state().fault = fault;
    }

    /// Every call received so far, oldest first.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.state().calls.clone()
    }

    /// Calls received for one path (e.g. [`CHECKCACHED`]).
    pub fn calls_to(&self, path: &str) -> Vec<RecordedCall> {
        self.state().calls.iter().filter(|c| c.path == path).cloned().collect()
    }

    /// How many calls reached one path.
    pub fn count(&self, path: &str) -> usize {
        self.state().calls.iter().filter(|c| c.path == path).count()
    }

    pub fn clear_calls(&self) {
        self.state().calls.clear();
    }

    /// The hashes each `checkcached` call asked about (POST body or GET `hash` params), in order.
    pub fn checkcached_batches(&self) -> Vec<Vec<String>> {
        self.calls_to(CHECKCACHED).iter().map(requested_hashes).collect()
    }

    /// The torrents in one key's list.
    pub fn torrents_of(&self, key: &str) -> Vec<UserTorrent> {
        self.state().torrents.iter().filter(|t| t.key == key).cloned().collect()
    }
}

async fn handle(State(fake): State<FakeTorBox>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let call = RecordedCall {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        authorization: headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    if call.path.starts_with("/cdn/") {
        return cdn(&call);
    }
    let fault = {
        let mut state = fake.state();
        state.calls.push(call.clone());
        state.fault.clone()
    };
    match fault {
        Fault::None => {}
        Fault::RateLimited { retry_after_secs } => {
            let mut response =
                envelope(StatusCode::TOO_MANY_REQUESTS, None, "Too many requests. Please slow down.", Value::Null);
            if let Ok(value) = retry_after_secs.to_string().parse() {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        Fault::ServerError { status } => {
            return envelope(status_code(status), Some("UNKNOWN_ERROR"), "An unknown error occurred.", Value::Null);
        }
        Fault::HtmlPage { status } => {
            let page = format!(
                "<!DOCTYPE html><html><head><title>{status} Bad Gateway</title></head><body><h1>FAKE-HTML-ERROR-PAGE</h1>{}</body></html>",
                "<p>The origin server did not answer.</p>".repeat(50)
            );
            return (status_code(status), [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response();
        }
        Fault::TruncatedJson => {
            let body = r#"{"success":true,"error":null,"detail":"ok","data":[{"name":"Trunc","size":1,"hash":"0123"#;
            return (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        }
        Fault::Oversized => {
            let padding = "x".repeat(3 * 1024 * 1024);
            return envelope(StatusCode::OK, None, &padding, json!({}));
        }
        Fault::Hang(duration) => tokio::time::sleep(duration).await,
        Fault::Error { status, code, detail } => {
            return envelope(status_code(status), Some(&code), &detail, Value::Null);
        }
    }
    let mut state = fake.state();
    route(&mut state, &method, &call)
}

fn route(state: &mut TorBoxState, method: &Method, call: &RecordedCall) -> Response {
    if call.path == REQUESTDL && method == Method::GET {
        return requestdl(state, call);
    }
    let known = matches!(
        (method.as_str(), call.path.as_str()),
        ("GET" | "POST", CHECKCACHED) | ("POST", CREATETORRENT) | ("GET", MYLIST) | ("GET", USER_ME)
    );
    if !known {
        return envelope(
            StatusCode::NOT_FOUND,
            Some("ENDPOINT_NOT_FOUND"),
            "The endpoint does not exist.",
            Value::Null,
        );
    }
    let Some(key) = call.bearer().filter(|k| state.accounts.contains_key(*k)).map(str::to_string) else {
        return bad_token();
    };
    match call.path.as_str() {
        CHECKCACHED => checkcached(state, call),
        CREATETORRENT => createtorrent(state, &key, call),
        MYLIST => mylist(state, &key, call),
        _ => user_me(state, &key, call),
    }
}

fn checkcached(state: &TorBoxState, call: &RecordedCall) -> Response {
    if call.method == "POST" && call.json().is_none() {
        return envelope(
            StatusCode::BAD_REQUEST,
            Some("INVALID_OPTION"),
            "The body must be JSON with a `hashes` list.",
            Value::Null,
        );
    }
    let hashes = requested_hashes(call);
    let format = call.query_param("format").unwrap_or_else(|| "object".to_string());
    let list_files = call.query_param("list_files").is_none_or(|v| v == "true");
    let mut list = Vec::new();
    let mut object = serde_json::Map::new();
    for hash in hashes {
        let Some(torrent) = state.swarm.get(&hash).filter(|t| t.cached) else {
            continue;
        };
        let mut item = json!({
            "name": torrent.name,
            "size": torrent.files.iter().map(|(_, s)| s).sum::<u64>(),
            "hash": torrent.hash,
        });
        if list_files {
            item["files"] = torrent
                .files
                .iter()
                .map(|(path, size)| json!({ "name": format!("{}/{}", torrent.name, path), "size": size }))
                .collect();
        }
        object.insert(hash.clone(), item.clone());
        list.push(item);
    }
    let data = if list.is_empty() {
        json!({})
    } else if format == "list" {
        Value::Array(list)
    } else {
        Value::Object(object)
    };
    envelope(StatusCode::OK, None, "Found cached torrents.", data)
}

fn createtorrent(state: &mut TorBoxState, key: &str, call: &RecordedCall) -> Response {
    let Some(magnet) = call.form_param("magnet").filter(|m| !m.trim().is_empty()) else {
        return envelope(
            StatusCode::BAD_REQUEST,
            Some("MISSING_REQUIRED_OPTION"),
            "A magnet or torrent file is required.",
            Value::Null,
        );
    };
    let Some(hash) = btih(&magnet) else {
        return envelope(StatusCode::BAD_REQUEST, Some("INVALID_OPTION"), "The magnet link is not valid.", Value::Null);
    };
    let auth_id = format!("auth-{}", state.accounts.get(key).map(|a| a.id).unwrap_or_default());
    if let Some(existing) = state.torrents.iter().find(|t| t.key == key && t.hash == hash) {
        let data = json!({ "torrent_id": existing.id, "hash": hash, "auth_id": auth_id });
        return envelope(StatusCode::OK, None, "Found Cached Torrent. Using Cached Torrent.", data);
    }
    state.next_torrent_id += 1;
    let id = 1000 + state.next_torrent_id;
    let cached = state.swarm.get(&hash).is_some_and(|t| t.cached);
    state.torrents.push(UserTorrent { id, key: key.to_string(), hash: hash.clone(), polls_seen: 0, finished: cached });
    let data = json!({ "torrent_id": id, "hash": hash, "auth_id": auth_id });
    let detail = if cached { "Found Cached Torrent. Using Cached Torrent." } else { "Successfully added torrent." };
    envelope(StatusCode::OK, None, detail, data)
}

fn mylist(state: &mut TorBoxState, key: &str, call: &RecordedCall) -> Response {
    let detail = "Torrent list retrieved successfully.";
    let Some(id) = call.query_param("id") else {
        let ids: Vec<u64> = state.torrents.iter().filter(|t| t.key == key).map(|t| t.id).collect();
        let list: Vec<Value> = ids.into_iter().filter_map(|id| poll(state, key, id)).collect();
        return envelope(StatusCode::OK, None, detail, Value::Array(list));
    };
    let data = id.trim().parse::<u64>().ok().and_then(|id| poll(state, key, id)).unwrap_or(Value::Null);
    envelope(StatusCode::OK, None, detail, data)
}

/// One `mylist` look at a torrent of `key`: advances its download and renders it.
fn poll(state: &mut TorBoxState, key: &str, id: u64) -> Option<Value> {
    let index = state.torrents.iter().position(|t| t.id == id && t.key == key)?;
    let swarm = state.swarm.get(&state.torrents[index].hash).cloned();
    let torrent = &mut state.torrents[index];
    torrent.polls_seen += 1;
    let needed = swarm.as_ref().map(|s| s.polls);
    if !torrent.finished {
        if let Some(needed) = needed {
            torrent.finished = torrent.polls_seen > needed;
        }
    }
    let torrent = torrent.clone();
    let progress = match (torrent.finished, needed) {
        (true, _) => 1.0,
        (false, Some(needed)) if needed > 0 => f64::from(torrent.polls_seen - 1) / f64::from(needed),
        _ => 0.0,
    };
    if torrent.finished {
        if let Some(entry) = state.swarm.get_mut(&torrent.hash) {
            entry.cached = true;
        }
    }
    let (name, files) = match &swarm {
        Some(s) => (s.name.clone(), s.files.clone()),
        None => (torrent.hash.clone(), Vec::new()),
    };
    let size: u64 = files.iter().map(|(_, s)| s).sum();
    let files: Vec<Value> = files
        .iter()
        .enumerate()
        .map(|(i, (path, size))| {
            json!({
                "id": i,
                "md5": null,
                "hash": torrent.hash,
                "name": format!("{name}/{path}"),
                "size": size,
                "zipped": false,
                "s3_path": format!("{}/{name}/{path}", torrent.hash),
                "infected": false,
                "mimetype": "video/x-matroska",
                "short_name": path.rsplit('/').next().unwrap_or(path),
                "absolute_path": format!("/{name}/{path}"),
                "opensubtitles_hash": null,
            })
        })
        .collect();
    let state_text = if torrent.finished {
        "cached"
    } else if progress > 0.0 {
        "downloading"
    } else {
        "queued"
    };
    Some(json!({
        "id": torrent.id,
        "auth_id": format!("auth-{}", state.accounts.get(key).map(|a| a.id).unwrap_or_default()),
        "server": 1,
        "hash": torrent.hash,
        "name": name,
        "magnet": format!("magnet:?xt=urn:btih:{}", torrent.hash),
        "size": size,
        "active": !torrent.finished,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "download_state": state_text,
        "seeds": 3,
        "peers": 1,
        "ratio": 0.0,
        "progress": progress,
        "download_speed": if torrent.finished { 0 } else { 1_000_000 },
        "upload_speed": 0,
        "eta": 0,
        "torrent_file": false,
        "expires_at": null,
        "download_present": torrent.finished,
        "download_finished": torrent.finished,
        "files": files,
        "inactive_check": 0,
        "availability": 1.0,
    }))
}

fn requestdl(state: &TorBoxState, call: &RecordedCall) -> Response {
    let Some(key) = call.query_param("token").filter(|k| state.accounts.contains_key(k)) else {
        return bad_token();
    };
    let torrent_id = call.query_param("torrent_id").and_then(|v| v.trim().parse::<u64>().ok());
    let Some(torrent) = torrent_id.and_then(|id| state.torrents.iter().find(|t| t.id == id && t.key == key)) else {
        return envelope(
            StatusCode::NOT_FOUND,
            Some("ITEM_NOT_FOUND"),
            "The torrent was not found in your account.",
            Value::Null,
        );
    };
    if !torrent.finished {
        return envelope(
            StatusCode::NOT_FOUND,
            Some("ITEM_NOT_FOUND"),
            "The torrent is not ready for download yet.",
            Value::Null,
        );
    }
    let file_id = call.query_param("file_id").and_then(|v| v.trim().parse::<usize>().ok()).unwrap_or(0);
    let file = state.swarm.get(&torrent.hash).and_then(|s| s.files.get(file_id));
    let Some((path, _)) = file else {
        return envelope(
            StatusCode::NOT_FOUND,
            Some("ITEM_NOT_FOUND"),
            "The file was not found in this torrent.",
            Value::Null,
        );
    };
    let file_name = path.rsplit('/').next().unwrap_or(path);
    let link = format!("{}/cdn/{}/{}/{}", state.base_url, torrent.id, file_id, encode_segment(file_name));
    envelope(StatusCode::OK, None, "Download link generated.", Value::String(link))
}

fn user_me(state: &TorBoxState, key: &str, call: &RecordedCall) -> Response {
    let Some(account) = state.accounts.get(key) else {
        return bad_token();
    };
    let mut data = json!({
        "id": account.id,
        "auth_id": format!("auth-{}", account.id),
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "plan": account.plan,
        "total_downloaded": 0,
        "customer": format!("cus_{}", account.id),
        "is_subscribed": account.plan > 0,
        "premium_expires_at": if account.plan > 0 { json!("2099-01-01T00:00:00Z") } else { Value::Null },
        "cooldown_until": null,
        "email": account.email,
        "user_referral": "00000000-0000-0000-0000-000000000000",
        "base_email": account.email,
    });
    if call.query_param("settings").as_deref() == Some("true") {
        data["settings"] = json!({ "stremio_quality": [], "stremio_allow_adult": false });
    }
    envelope(StatusCode::OK, None, "User found.", data)
}

fn cdn(call: &RecordedCall) -> Response {
    let body = format!("fake torbox cdn {}\n", call.path.trim_start_matches("/cdn/"));
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/octet-stream")], body).into_response()
}

fn bad_token() -> Response {
    envelope(
        StatusCode::UNAUTHORIZED,
        Some("BAD_TOKEN"),
        "Invalid API token. Please check your token and try again.",
        Value::Null,
    )
}

fn envelope(status: StatusCode, error: Option<&str>, detail: &str, data: Value) -> Response {
    let body =
        json!({ "success": error.is_none() && status.is_success(), "error": error, "detail": detail, "data": data });
    (status, Json(body)).into_response()
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The hashes a `checkcached` call asked about, lowercased: the JSON body's `hashes` for POST,
/// the `hash` query parameters (repeated or comma-separated) for GET.
pub fn requested_hashes(call: &RecordedCall) -> Vec<String> {
    let raw: Vec<String> = if call.method == "POST" {
        call.json()
            .and_then(|v| v.get("hashes").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    } else {
        call.query_params("hash").iter().flat_map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>()).collect()
    };
    raw.into_iter().map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect()
}

/// The info hash of a magnet link (`xt=urn:btih:<40 hex>`), lowercased.
fn btih(magnet: &str) -> Option<String> {
    let lower = magnet.to_ascii_lowercase();
    let start = lower.find("xt=urn:btih:")? + "xt=urn:btih:".len();
    let hash: String = lower[start..].chars().take_while(char::is_ascii_hexdigit).collect();
    (hash.len() == 40).then_some(hash)
}

/// Decodes `a=1&b=x%20y` (also `+` as space) into pairs.
pub fn parse_urlencoded(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(input: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes one URL path segment.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_round_trip() {
        assert_eq!(
            parse_urlencoded("magnet=magnet%3A%3Fxt%3Durn%3Abtih%3AABC&allow_zip=false&x=a+b&bad=%zz&end=%4"),
            vec![
                ("magnet".to_string(), "magnet:?xt=urn:btih:ABC".to_string()),
                ("allow_zip".to_string(), "false".to_string()),
                ("x".to_string(), "a b".to_string()),
                ("bad".to_string(), "%zz".to_string()),
                ("end".to_string(), "%4".to_string()),
            ]
        );
        assert_eq!(encode_segment("a b/é.mkv"), "a%20b%2F%C3%A9.mkv");
        assert_eq!(
            btih("magnet:?xt=urn:btih:0123456789ABCDEF0123456789abcdef01234567&dn=x").as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(btih("magnet:?xt=urn:btih:0123"), None);
    }
}
