//! Fake TorBox API (`/v1/api/...`) plus a fake CDN (`/cdn/...`), following TorBox's documented
//! API (its Postman collection, the `torbox-api` SDKs and its rate-limit article; see the
//! project's reference notes): every API reply is the `{"success","error","detail","data"}`
//! envelope.
//!
//! What the fake knows:
//! - **Accounts**: API keys registered with [`FakeTorBox::add_key`] / [`FakeTorBox::add_key_with_plan`].
//!   A missing or unknown `Authorization: Bearer` gets HTTP **403** `BAD_TOKEN` (the docs: "403
//!   means authentication error"). `requestdl` is authorised by its `token` query parameter
//!   instead, as on TorBox.
//! - **The swarm**: torrents TorBox can fetch. [`FakeTorBox::add_cached`] ones are on TorBox's
//!   servers already (they show in `checkcached` and finish instantly when added);
//!   [`FakeTorBox::add_uncached`] ones download when added: the first `polls` `mylist?id=`
//!   replies for the torrent show it unfinished (the first one fetching metadata, `metaDL`,
//!   progress 0; later ones downloading), and every reply after that shows it downloaded. Once downloaded it counts as
//!   cached. [`FakeTorBox::add_failing`] ones fail when added (`download_state` such as `"error"`
//!   or `"stalled (no seeds)"`, `active: false`) for their first `times` additions; deleting and
//!   adding one again uses up one failure. A hash the swarm does not know can still be added:
//!   it stays in `metaDL` forever, named after its hash, with no files.
//! - File paths are given relative to the torrent's root folder: `add_cached(h, "Movie",
//!   &[("Subs/en.srt", 10)])` is reported by TorBox as `Movie/Subs/en.srt` (and the plugin turns
//!   it into `/Subs/en.srt`). File ids are the positions in that list, from 0.
//! - **Per-key torrent lists**: `createtorrent` adds to the caller's list (adding a hash that is
//!   already there returns the same `torrent_id`); [`FakeTorBox::add_to_account`] puts one there
//!   directly. `mylist` and `requestdl` only see the caller's torrents. `mylist?id=` for a
//!   torrent that is not the caller's answers `success: true` with `data: null`. `mylist`
//!   without `id` lists the caller's torrents (`offset`, `limit`, default limit 1000) without
//!   advancing any download; without `bypass_cache=true` it answers from a snapshot of the list
//!   that TorBox refreshes only every 600 s ([`TorBoxState::list_cache`]).
//! - `controltorrent` (POST JSON `{"torrent_id","operation"}`) deletes (`"delete"`) a torrent of
//!   the caller's.
//! - `checkcached` answers the documented `GET` (`hash=` repeated or comma-separated) and also
//!   the undocumented `POST` (JSON `{"hashes":[...]}`) that StremThru uses, with `format=list`
//!   (an array) or `format=object` (keyed by hash). When nothing is cached, `data` is `null`, as
//!   in the documented example.
//! - `requestdl` returns `{base}/cdn/<torrent_id>/<file_id>/<file name>`; a torrent that is not
//!   downloaded yet, or an unknown file id, gets HTTP 404 `ITEM_NOT_FOUND`. `GET /cdn/...`
//!   answers 200 with a small text body.
//! - **The active limit** ([`FakeTorBox::set_active_limit`]): while a key has that many
//!   unfinished torrents, `createtorrent` of a torrent that is not cached answers the documented
//!   reply: HTTP 200, `success: false`, `error: null`, the text in `detail` and `data:
//!   {"active_limit", "current_active_downloads"}`.
//! - **Per-token rate limits** ([`FakeTorBox::set_limits`], off unless set): TorBox's documented
//!   300 requests a minute on every endpoint and 60 `createtorrent` an hour (with a 10 a minute
//!   edge), counted per API key in fixed windows from their first call. A call over a limit gets
//!   HTTP 429 `{"error": "Rate limit exceeded: 60 per 1 hour"}` (the FastAPI rate limiter's reply,
//!   as seen from TorBox's search API), without `Retry-After`, and is not counted.
//! - **Usenet** (`/v1/api/usenet/...`, Pro accounts only): see [`super::torbox_usenet`]; its
//!   creates count against the same create limits as `createtorrent`.
//! - **Faults** ([`Fault`]) apply to every `/v1/api` call (not to `/cdn`) until cleared with
//!   `set_fault(Fault::None)`; [`FakeTorBox::set_endpoint_fault`] applies one to one endpoint
//!   only. Calls are recorded before a limit or a fault is applied.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
pub const CONTROLTORRENT: &str = "/v1/api/torrents/controltorrent";
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
    /// How many `mylist?id=` replies show it unfinished after it is added (uncached only).
    pub polls: u32,
    /// The next `failures` additions of it fail with this `download_state`.
    pub failure: Option<String>,
    pub failures: u32,
}

/// A torrent in one account's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTorrent {
    pub id: u64,
    /// The API key that owns it.
    pub key: String,
    pub hash: String,
    /// `mylist?id=` replies sent for it so far.
    pub polls_seen: u32,
    pub finished: bool,
    /// The `download_state` of a download that failed.
    pub failed: Option<String>,
}

/// TorBox's per-token limits, as documented: requests a minute on every endpoint, and
/// `createtorrent` calls an hour and a minute. `0` turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub requests_per_minute: u64,
    pub creates_per_hour: u64,
    pub creates_per_minute: u64,
}

impl Limits {
    /// The documented values: 300 requests a minute, 60 creations an hour, 10 a minute.
    pub const DOCUMENTED: Limits = Limits { requests_per_minute: 300, creates_per_hour: 60, creates_per_minute: 10 };
}

/// One key's fixed window: when it started and how many calls it admitted.
#[derive(Debug, Clone, Copy)]
struct WindowCount {
    started: Instant,
    count: u64,
}

/// Everything the fake knows; tests may read and change it through [`FakeTorBox::state`].
#[derive(Debug)]
pub struct TorBoxState {
    /// The fake's own base URL (`http://127.0.0.1:port`), used in `requestdl` links.
    pub base_url: String,
    pub accounts: BTreeMap<String, FakeAccount>,
    pub swarm: BTreeMap<String, SwarmTorrent>,
    pub torrents: Vec<UserTorrent>,
    pub calls: Vec<RecordedCall>,
    pub fault: Fault,
    /// Faults for one endpoint (path), applied after the global one.
    pub endpoint_faults: BTreeMap<String, Fault>,
    /// Per-token limits; `None` (the default) enforces none.
    pub limits: Option<Limits>,
    /// Most unfinished torrents a key may have; `None`: no limit.
    pub active_limit: Option<usize>,
    /// How long a `mylist` reply without `bypass_cache=true` is served from the key's snapshot
    /// (TorBox: 600 s).
    pub list_cache: Duration,
    /// Calls refused with 429 because of [`TorBoxState::limits`].
    pub rate_limited: usize,
    /// Usenet releases and downloads.
    pub usenet: super::torbox_usenet::UsenetState,
    windows: BTreeMap<(String, &'static str), WindowCount>,
    list_snapshots: BTreeMap<String, (Instant, Vec<Value>)>,
    next_torrent_id: u64,
}

impl Default for TorBoxState {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            accounts: BTreeMap::new(),
            swarm: BTreeMap::new(),
            torrents: Vec::new(),
            calls: Vec::new(),
            fault: Fault::None,
            endpoint_faults: BTreeMap::new(),
            limits: None,
            active_limit: None,
            list_cache: Duration::from_secs(600),
            rate_limited: 0,
            usenet: Default::default(),
            windows: BTreeMap::new(),
            list_snapshots: BTreeMap::new(),
            next_torrent_id: 0,
        }
    }
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

    /// Adds a torrent whose next `times` additions fail: `mylist` shows it with
    /// `download_state: state` (e.g. `"error"`, `"stalled (no seeds)"`), `active: false`,
    /// progress 0, never finished. Later additions download it like [`FakeTorBox::add_uncached`]
    /// with `polls` polls.
    pub fn add_failing(&self, hash: &str, name: &str, files: &[(&str, u64)], state: &str, times: u32, polls: u32) {
        self.add_swarm(hash, name, files, false, polls);
        if let Some(torrent) = self.state().swarm.get_mut(&hash.to_ascii_lowercase()) {
            torrent.failure = Some(state.to_string());
            torrent.failures = times;
        }
    }

    fn add_swarm(&self, hash: &str, name: &str, files: &[(&str, u64)], cached: bool, polls: u32) {
        let hash = hash.to_ascii_lowercase();
        let torrent = SwarmTorrent {
            hash: hash.clone(),
            name: name.to_string(),
            files: files.iter().map(|(p, s)| (p.trim_start_matches('/').to_string(), *s)).collect(),
            cached,
            polls,
            failure: None,
            failures: 0,
        };
        self.state().swarm.insert(hash, torrent);
    }

    /// Puts a torrent of the swarm into `key`'s list, as if it had been added earlier (a
    /// cached one finished), without a call. Returns its id.
    pub fn add_to_account(&self, key: &str, hash: &str) -> u64 {
        let mut state = self.state();
        add_torrent(&mut state, key, &hash.to_ascii_lowercase())
    }

    /// Sets the failure mode for every following API call (`Fault::None` clears it).
    pub fn set_fault(&self, fault: Fault) {
        self.state().fault = fault;
    }

    /// Sets the failure mode for every following call to one endpoint, e.g. [`CREATETORRENT`]
    /// (`Fault::None` clears it).
    pub fn set_endpoint_fault(&self, path: &str, fault: Fault) {
        let mut state = self.state();
        if fault == Fault::None {
            state.endpoint_faults.remove(path);
        } else {
            state.endpoint_faults.insert(path.to_string(), fault);
        }
    }

    /// Enforces TorBox's per-token limits from now on (`None`: none, the default).
    pub fn set_limits(&self, limits: Option<Limits>) {
        let mut state = self.state();
        state.limits = limits;
        state.windows.clear();
    }

    /// Calls refused with 429 because of the per-token limits.
    pub fn rate_limited(&self) -> usize {
        self.state().rate_limited
    }

    /// Most unfinished torrents one key may have before `createtorrent` answers the documented
    /// active-limit reply (`None`: no limit).
    pub fn set_active_limit(&self, limit: Option<usize>) {
        self.state().active_limit = limit;
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
    let faults = {
        let mut state = fake.state();
        state.calls.push(call.clone());
        if let Some(refused) = over_limit(&mut state, &call) {
            return refused;
        }
        let endpoint = state.endpoint_faults.get(&call.path).cloned().unwrap_or_default();
        [state.fault.clone(), endpoint]
    };
    for fault in faults {
        if let Some(response) = apply(fault).await {
            return response;
        }
    }
    let mut state = fake.state();
    route(&mut state, &method, &call)
}

/// Counts the call in its key's windows; the 429 reply when one is used up.
fn over_limit(state: &mut TorBoxState, call: &RecordedCall) -> Option<Response> {
    let limits = state.limits?;
    let by_token = call.path == REQUESTDL || call.path == super::torbox_usenet::REQUESTDL;
    let key = if by_token { call.query_param("token") } else { call.bearer().map(str::to_string) }?;
    let minute = Duration::from_secs(60);
    let mut windows = vec![("requests_per_minute", limits.requests_per_minute, minute)];
    if call.path == CREATETORRENT || call.path == super::torbox_usenet::CREATE {
        windows.push(("creates_per_minute", limits.creates_per_minute, minute));
        windows.push(("creates_per_hour", limits.creates_per_hour, Duration::from_secs(3600)));
    }
    let now = Instant::now();
    let mut over = None;
    for (name, limit, period) in &windows {
        let window = state.windows.entry((key.clone(), name)).or_insert(WindowCount { started: now, count: 0 });
        if now.duration_since(window.started) >= *period {
            *window = WindowCount { started: now, count: 0 };
        }
        if *limit > 0 && window.count >= *limit {
            let unit = if *period == minute { "minute" } else { "hour" };
            over = Some(format!("{limit} per 1 {unit}"));
            break;
        }
    }
    if let Some(text) = over {
        state.rate_limited += 1;
        let body = json!({ "error": format!("Rate limit exceeded: {text}") });
        return Some((StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response());
    }
    for (name, _, _) in &windows {
        if let Some(window) = state.windows.get_mut(&(key.clone(), *name)) {
            window.count += 1;
        }
    }
    None
}

/// The reply a fault gives instead of the real one (`None`: answer normally, after a hang).
async fn apply(fault: Fault) -> Option<Response> {
    Some(match fault {
        Fault::None => return None,
        Fault::RateLimited { retry_after_secs } => {
            let mut response =
                envelope(StatusCode::TOO_MANY_REQUESTS, None, "Too many requests. Please slow down.", Value::Null);
            if let Ok(value) = retry_after_secs.to_string().parse() {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Fault::ServerError { status } => {
            envelope(status_code(status), Some("UNKNOWN_ERROR"), "An unknown error occurred.", Value::Null)
        }
        Fault::HtmlPage { status } => {
            let page = format!(
                "<!DOCTYPE html><html><head><title>{status} Bad Gateway</title></head><body><h1>FAKE-HTML-ERROR-PAGE</h1>{}</body></html>",
                "<p>The origin server did not answer.</p>".repeat(50)
            );
            (status_code(status), [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
        }
        Fault::TruncatedJson => {
            let body = r#"{"success":true,"error":null,"detail":"ok","data":[{"name":"Trunc","size":1,"hash":"0123"#;
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Fault::Oversized => {
            let padding = "x".repeat(3 * 1024 * 1024);
            envelope(StatusCode::OK, None, &padding, json!({}))
        }
        Fault::Hang(duration) => {
            tokio::time::sleep(duration).await;
            return None;
        }
        Fault::Error { status, code, detail } => envelope(status_code(status), Some(&code), &detail, Value::Null),
    })
}

fn route(state: &mut TorBoxState, method: &Method, call: &RecordedCall) -> Response {
    if call.path == REQUESTDL && method == Method::GET {
        return requestdl(state, call);
    }
    if call.path.starts_with(super::torbox_usenet::PREFIX) {
        return super::torbox_usenet::route(state, method, call);
    }
    let known = matches!(
        (method.as_str(), call.path.as_str()),
        ("GET" | "POST", CHECKCACHED)
            | ("POST", CREATETORRENT)
            | ("GET", MYLIST)
            | ("GET", USER_ME)
            | ("POST", CONTROLTORRENT)
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
        CONTROLTORRENT => controltorrent(state, &key, call),
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
        Value::Null
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
    let cached = state.swarm.get(&hash).is_some_and(|t| t.cached);
    let active = state.torrents.iter().filter(|t| t.key == key && !t.finished && t.failed.is_none()).count();
    if let Some(limit) = state.active_limit.filter(|limit| !cached && active >= *limit) {
        // The documented example: HTTP 200, success false, no error code, the numbers in data.
        let body = json!({
            "success": false,
            "error": null,
            "detail": "You have reached your active torrent download limit. Please wait for a torrent to finish downloading or upgrade your plan..",
            "data": { "active_limit": limit, "current_active_downloads": active },
        });
        return (StatusCode::OK, Json(body)).into_response();
    }
    let id = add_torrent(state, key, &hash);
    let data = json!({ "torrent_id": id, "hash": hash, "auth_id": auth_id });
    let detail = if cached { "Found Cached Torrent. Using Cached Torrent." } else { "Successfully added torrent." };
    envelope(StatusCode::OK, None, detail, data)
}

/// Adds `hash` to `key`'s list (a failing swarm torrent uses up one failure); returns its id.
fn add_torrent(state: &mut TorBoxState, key: &str, hash: &str) -> u64 {
    if let Some(existing) = state.torrents.iter().find(|t| t.key == key && t.hash == hash) {
        return existing.id;
    }
    state.next_torrent_id += 1;
    let id = 1000 + state.next_torrent_id;
    let swarm = state.swarm.get_mut(hash);
    let cached = swarm.as_ref().is_some_and(|t| t.cached);
    let failed = match swarm {
        Some(torrent) if torrent.failures > 0 => {
            torrent.failures -= 1;
            torrent.failure.clone()
        }
        _ => None,
    };
    let torrent =
        UserTorrent { id, key: key.to_string(), hash: hash.to_string(), polls_seen: 0, finished: cached, failed };
    state.torrents.push(torrent);
    id
}

/// `controltorrent`: `delete` removes one of the caller's torrents; other operations are
/// accepted and change nothing.
fn controltorrent(state: &mut TorBoxState, key: &str, call: &RecordedCall) -> Response {
    let Some(body) = call.json() else {
        return envelope(StatusCode::BAD_REQUEST, Some("INVALID_OPTION"), "The body must be JSON.", Value::Null);
    };
    let id = body.get("torrent_id").and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
    let operation = body.get("operation").and_then(Value::as_str).unwrap_or_default().to_string();
    let Some(index) = id.and_then(|id| state.torrents.iter().position(|t| t.id == id && t.key == key)) else {
        return envelope(StatusCode::NOT_FOUND, Some("ITEM_NOT_FOUND"), "The torrent was not found.", Value::Null);
    };
    match operation.as_str() {
        "delete" => {
            state.torrents.remove(index);
            envelope(StatusCode::OK, None, "Torrent deleted successfully.", Value::Null)
        }
        "pause" | "resume" | "reannounce" => envelope(StatusCode::OK, None, "Torrent updated.", Value::Null),
        _ => envelope(StatusCode::BAD_REQUEST, Some("INVALID_OPTION"), "Unknown operation.", Value::Null),
    }
}

fn mylist(state: &mut TorBoxState, key: &str, call: &RecordedCall) -> Response {
    let detail = "Torrent list retrieved successfully.";
    let Some(id) = call.query_param("id") else {
        let bypass = call.query_param("bypass_cache").as_deref() == Some("true");
        let list = match state.list_snapshots.get(key) {
            Some((taken, list)) if !bypass && taken.elapsed() < state.list_cache => list.clone(),
            _ => {
                let ids: Vec<u64> = state.torrents.iter().filter(|t| t.key == key).map(|t| t.id).collect();
                let list: Vec<Value> = ids.into_iter().filter_map(|id| render(state, key, id, false)).collect();
                state.list_snapshots.insert(key.to_string(), (Instant::now(), list.clone()));
                list
            }
        };
        let number = |name: &str| call.query_param(name).and_then(|v| v.trim().parse::<usize>().ok());
        let (offset, limit) = (number("offset").unwrap_or(0), number("limit").unwrap_or(1000));
        let page: Vec<Value> = list.into_iter().skip(offset).take(limit).collect();
        return envelope(StatusCode::OK, None, detail, Value::Array(page));
    };
    let data = id.trim().parse::<u64>().ok().and_then(|id| render(state, key, id, true)).unwrap_or(Value::Null);
    envelope(StatusCode::OK, None, detail, data)
}

/// One `mylist` look at a torrent of `key`, rendered as TorBox does; a look at this torrent
/// alone (`poll`) advances its download.
fn render(state: &mut TorBoxState, key: &str, id: u64, poll: bool) -> Option<Value> {
    let index = state.torrents.iter().position(|t| t.id == id && t.key == key)?;
    let swarm = state.swarm.get(&state.torrents[index].hash).cloned();
    let torrent = &mut state.torrents[index];
    let needed = swarm.as_ref().map(|s| s.polls);
    if poll && torrent.failed.is_none() {
        torrent.polls_seen += 1;
        if !torrent.finished {
            if let Some(needed) = needed {
                torrent.finished = torrent.polls_seen > needed;
            }
        }
    }
    let torrent = torrent.clone();
    let progress = match (torrent.finished, needed) {
        (true, _) => 1.0,
        (false, Some(needed)) if needed > 0 && torrent.failed.is_none() => {
            f64::from(torrent.polls_seen.saturating_sub(1)) / f64::from(needed)
        }
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
                "opensubtitles_hash": opensubtitles_hash(&torrent.hash, path, *size),
            })
        })
        .collect();
    let state_text = if let Some(failed) = &torrent.failed {
        failed.as_str()
    } else if torrent.finished {
        "cached"
    } else if progress > 0.0 {
        "downloading"
    } else {
        // qBittorrent's state while it fetches the torrent's metadata.
        "metaDL"
    };
    Some(json!({
        "id": torrent.id,
        "auth_id": format!("auth-{}", state.accounts.get(key).map(|a| a.id).unwrap_or_default()),
        "server": 1,
        "hash": torrent.hash,
        "name": name,
        "magnet": format!("magnet:?xt=urn:btih:{}", torrent.hash),
        "size": size,
        "active": !torrent.finished && torrent.failed.is_none(),
        "created_at": created_at(torrent.id),
        "updated_at": "2024-01-01T00:00:00Z",
        "download_state": state_text,
        "seeds": 3,
        "peers": 1,
        "ratio": 0.0,
        "progress": progress,
        "download_speed": if torrent.finished || torrent.failed.is_some() { 0 } else { 1_000_000 },
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

/// When the fake says a torrent was added: a minute after the one before it (ids count up).
fn created_at(id: u64) -> String {
    format!("2024-01-{:02}T{:02}:{:02}:00Z", 1 + id / 1440, (id / 60) % 24, id % 60)
}

/// When the fake says a usenet download added now was added: half a minute after the torrent
/// added last, so a list of both kinds reads in the order they were added.
pub(super) fn created_at_after_last_torrent(state: &TorBoxState) -> String {
    let last = created_at(1000 + state.next_torrent_id);
    format!("{}30Z", &last[..last.len() - 3])
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
        StatusCode::FORBIDDEN,
        Some("BAD_TOKEN"),
        "Invalid API token. Please check your token and try again.",
        Value::Null,
    )
}

/// A reply in TorBox's envelope (`success` is true for a 2xx without an error code).
pub(super) fn envelope_reply(status: StatusCode, error: Option<&str>, detail: &str, data: Value) -> Response {
    envelope(status, error, detail, data)
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

/// The `opensubtitles_hash` this fake gives a library file: TorBox computes the OpenSubtitles
/// hash (file size plus 64-bit sums of the first and last 64 KiB) for video files and gives
/// `null` for others. The fake has no content, so it stands in a stable 16-hex-digit value made
/// from the torrent, the path and the size.
pub fn opensubtitles_hash(hash: &str, path: &str, size: u64) -> Option<String> {
    let video = [".mkv", ".mp4", ".avi", ".m4v", ".webm"].iter().any(|ext| path.to_ascii_lowercase().ends_with(ext));
    video.then(|| {
        let mut sum = size;
        for byte in hash.bytes().chain(path.bytes()) {
            sum = sum.wrapping_mul(0x100_0000_01b3).wrapping_add(u64::from(byte));
        }
        format!("{sum:016x}")
    })
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
