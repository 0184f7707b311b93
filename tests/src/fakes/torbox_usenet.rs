//! The usenet endpoints of the fake TorBox (`/v1/api/usenet/...`), following TorBox's
//! documented API (the SDKs' `UsenetService`, the Postman collection; see the project's reference
//! notes, `usenet.md` §2):
//!
//! - **Pro only**: a key whose account is not on plan 2 gets HTTP 403 `PLAN_RESTRICTED_FEATURE`
//!   from every usenet endpoint.
//! - **Releases** TorBox can fetch from usenet ([`FakeTorBox::add_usenet_cached`],
//!   [`FakeTorBox::add_usenet_uncached`]): each has its identity (the md5 the usenet cache is
//!   keyed by, what a client computes from the normalised link) and a `token`, the part of an
//!   NZB link or NZB file that says which release it is (the fake has no usenet to look in).
//! - `checkcached` (`GET ?hash=a,b&format=list|object`, also `POST {"hashes":[…]}`): the cached
//!   releases among the hashes asked (by identity, or by the hash of a finished download); `data:
//!   null` when none.
//! - `createusenetdownload` (POST, a `link` form field or a multipart `file`): TorBox names the
//!   download by the md5 of what it was sent (the link as given, or the file's bytes). A link
//!   whose release is not [`UsenetRelease::fetchable`] (a LAN indexer, a redirect, a private
//!   one), or names no known release, answers HTTP 400 `BOZO_NZB`; a file is read for a release
//!   token or name. Adding a release the key already has returns that download. Reply data: `{"hash",
//!   "usenetdownload_id": "<id as a string>", "auth_id"}` (the documented example).
//! - `mylist` (`id` → one object or `null`; else the key's list, `offset`/`limit`): a cached
//!   release is `completed` at once; an uncached one is `downloading` for its first `polls`
//!   `mylist?id=` replies, then `completed` (and cached from then on); a failing one shows its
//!   `download_state` (`failed (Aborted, encryption detected)`). File ids start at 0. `created_at`
//!   is half a minute after the torrent added last (torrents are a minute apart).
//! - `requestdl` (`token`, `usenet_id`, `file_id`): `{base}/cdn/usenet/<id>/<file_id>/<name>`;
//!   404 `ITEM_NOT_FOUND` while it downloads.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use md5::{Digest, Md5};
use serde_json::{json, Value};

use super::torbox::{envelope_reply, FakeTorBox, RecordedCall, TorBoxState};

pub const CHECKCACHED: &str = "/v1/api/usenet/checkcached";
pub const CREATE: &str = "/v1/api/usenet/createusenetdownload";
pub const MYLIST: &str = "/v1/api/usenet/mylist";
pub const REQUESTDL: &str = "/v1/api/usenet/requestdl";
pub const PREFIX: &str = "/v1/api/usenet/";

/// A release TorBox can download from usenet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsenetRelease {
    /// Lowercase-hex md5: the usenet cache's key for it.
    pub identity: String,
    /// What in a link or an NZB file names this release.
    pub token: String,
    pub name: String,
    /// Paths below the release folder, and sizes.
    pub files: Vec<(String, u64)>,
    pub cached: bool,
    /// `mylist?id=` replies that show it downloading after it is added (uncached only).
    pub polls: u32,
    /// TorBox can fetch a link to it itself; `false`: only an uploaded file works.
    pub fetchable: bool,
    /// Its downloads fail with this `download_state`.
    pub failure: Option<String>,
}

/// A usenet download in one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsenetDownload {
    pub id: u64,
    pub key: String,
    /// TorBox's hash for it: the md5 of the link or file it was sent.
    pub hash: String,
    /// The release's identity.
    pub release: String,
    /// Created from an uploaded file (not a link).
    pub from_file: bool,
    pub polls_seen: u32,
    pub finished: bool,
    /// When it was added: half a minute after the torrent added last (so a key's torrents and
    /// usenet downloads read in the order they were added).
    pub created_at: String,
}

/// The usenet part of [`TorBoxState`].
#[derive(Debug, Default)]
pub struct UsenetState {
    pub releases: BTreeMap<String, UsenetRelease>,
    pub downloads: Vec<UsenetDownload>,
    next_id: u64,
}

/// The md5 of `bytes`, lowercase hex.
pub fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl FakeTorBox {
    /// A release TorBox has cached on usenet: shows in `checkcached`, completes when added.
    pub fn add_usenet_cached(&self, identity: &str, token: &str, name: &str, files: &[(&str, u64)]) {
        self.add_usenet(identity, token, name, files, true, 0);
    }

    /// A release TorBox downloads when added: `polls` `mylist?id=` replies show it downloading.
    pub fn add_usenet_uncached(&self, identity: &str, token: &str, name: &str, files: &[(&str, u64)], polls: u32) {
        self.add_usenet(identity, token, name, files, false, polls);
    }

    fn add_usenet(&self, identity: &str, token: &str, name: &str, files: &[(&str, u64)], cached: bool, polls: u32) {
        let release = UsenetRelease {
            identity: identity.to_ascii_lowercase(),
            token: token.to_string(),
            name: name.to_string(),
            files: files.iter().map(|(p, s)| (p.trim_start_matches('/').to_string(), *s)).collect(),
            cached,
            polls,
            fetchable: true,
            failure: None,
        };
        self.state().usenet.releases.insert(release.identity.clone(), release);
    }

    /// Whether TorBox can fetch links to this release itself (`false`: only an upload works).
    pub fn set_usenet_fetchable(&self, identity: &str, fetchable: bool) {
        if let Some(release) = self.state().usenet.releases.get_mut(&identity.to_ascii_lowercase()) {
            release.fetchable = fetchable;
        }
    }

    /// Downloads of this release fail with `download_state: state`.
    pub fn set_usenet_failure(&self, identity: &str, state: &str) {
        if let Some(release) = self.state().usenet.releases.get_mut(&identity.to_ascii_lowercase()) {
            release.failure = Some(state.to_string());
        }
    }

    /// Puts the release into `key`'s usenet list as if added earlier from `link`, without a
    /// call. Returns its id.
    pub fn add_usenet_to_account(&self, key: &str, identity: &str, link: &str) -> u64 {
        let mut state = self.state();
        add_download(&mut state, key, &identity.to_ascii_lowercase(), md5_hex(link.as_bytes()), false)
    }

    /// The usenet downloads of one key.
    pub fn usenet_downloads_of(&self, key: &str) -> Vec<UsenetDownload> {
        self.state().usenet.downloads.iter().filter(|d| d.key == key).cloned().collect()
    }

    /// Calls to any usenet endpoint.
    pub fn usenet_calls(&self) -> Vec<RecordedCall> {
        self.calls().into_iter().filter(|c| c.path.starts_with(PREFIX)).collect()
    }
}

/// Answers a call to `/v1/api/usenet/...`.
pub(super) fn route(state: &mut TorBoxState, method: &Method, call: &RecordedCall) -> Response {
    let known = matches!(
        (method.as_str(), call.path.as_str()),
        ("GET" | "POST", CHECKCACHED) | ("POST", CREATE) | ("GET", MYLIST) | ("GET", REQUESTDL)
    );
    if !known {
        return envelope_reply(
            StatusCode::NOT_FOUND,
            Some("ENDPOINT_NOT_FOUND"),
            "The endpoint does not exist.",
            Value::Null,
        );
    }
    let key = if call.path == REQUESTDL { call.query_param("token") } else { call.bearer().map(str::to_string) };
    let Some(account) = key.as_ref().and_then(|k| state.accounts.get(k)) else {
        return envelope_reply(
            StatusCode::FORBIDDEN,
            Some("BAD_TOKEN"),
            "Invalid API token. Please check your token and try again.",
            Value::Null,
        );
    };
    if account.plan != 2 {
        return envelope_reply(
            StatusCode::FORBIDDEN,
            Some("PLAN_RESTRICTED_FEATURE"),
            "Usenet downloads are only available on the Pro plan.",
            Value::Null,
        );
    }
    let key = key.unwrap_or_default();
    match call.path.as_str() {
        CHECKCACHED => checkcached(state, call),
        CREATE => create(state, &key, call),
        MYLIST => mylist(state, &key, call),
        _ => requestdl(state, &key, call),
    }
}

fn checkcached(state: &TorBoxState, call: &RecordedCall) -> Response {
    let asked = super::torbox::requested_hashes(call);
    let object = call.query_param("format").as_deref() == Some("object");
    let mut list = Vec::new();
    let mut map = serde_json::Map::new();
    for hash in asked {
        let release = state.usenet.releases.get(&hash).filter(|r| r.cached).or_else(|| {
            let download = state.usenet.downloads.iter().find(|d| d.hash == hash && d.finished)?;
            state.usenet.releases.get(&download.release)
        });
        let Some(release) = release else { continue };
        let files: Vec<Value> = release
            .files
            .iter()
            .enumerate()
            .map(|(i, (path, size))| {
                json!({"id": i, "name": format!("{}/{path}", release.name), "size": size,
                    "short_name": path.rsplit('/').next().unwrap_or(path), "mimetype": "video/x-matroska"})
            })
            .collect();
        let size: u64 = release.files.iter().map(|(_, s)| s).sum();
        let item = json!({"name": release.name, "size": size, "hash": hash, "files": files});
        if object {
            map.insert(hash, item);
        } else {
            list.push(item);
        }
    }
    let data = match (object, list.is_empty() && map.is_empty()) {
        (_, true) => Value::Null,
        (true, false) => Value::Object(map),
        (false, false) => Value::Array(list),
    };
    envelope_reply(StatusCode::OK, None, "Found cached usenet downloads.", data)
}

fn bozo() -> Response {
    envelope_reply(StatusCode::BAD_REQUEST, Some("BOZO_NZB"), "The NZB could not be fetched or read.", Value::Null)
}

fn create(state: &mut TorBoxState, key: &str, call: &RecordedCall) -> Response {
    let (hash, release, from_file) = match multipart_file(&call.body) {
        Some(file) => {
            let named = |r: &&UsenetRelease| file.contains(&r.token) || file.contains(&r.name);
            let release = state.usenet.releases.values().find(named).map(|r| r.identity.clone());
            (md5_hex(file.as_bytes()), release, true)
        }
        None => {
            let Some(link) = call.form_param("link").filter(|l| !l.is_empty()) else {
                return envelope_reply(
                    StatusCode::BAD_REQUEST,
                    Some("MISSING_REQUIRED_OPTION"),
                    "Either a link or a file is required.",
                    Value::Null,
                );
            };
            let release = state.usenet.releases.values().find(|r| link.contains(&r.token));
            match release {
                Some(r) if r.fetchable => (md5_hex(link.as_bytes()), Some(r.identity.clone()), false),
                _ => return bozo(),
            }
        }
    };
    let Some(release) = release else { return bozo() };
    let id = add_download(state, key, &release, hash.clone(), from_file);
    let data = json!({"hash": hash, "usenetdownload_id": id.to_string(), "auth_id": format!("auth-{key}")});
    envelope_reply(StatusCode::OK, None, "Download started successfully", data)
}

/// The text of the `file` part of a multipart body, if it is one.
fn multipart_file(body: &str) -> Option<String> {
    let boundary = body.strip_prefix("--")?.split("\r\n").next()?.to_string();
    for part in body.split(&format!("--{boundary}")) {
        let Some((headers, content)) = part.split_once("\r\n\r\n") else { continue };
        if headers.contains("name=\"file\"") {
            return Some(content.strip_suffix("\r\n").unwrap_or(content).to_string());
        }
    }
    None
}

fn add_download(state: &mut TorBoxState, key: &str, release: &str, hash: String, from_file: bool) -> u64 {
    if let Some(existing) = state.usenet.downloads.iter().find(|d| d.key == key && d.release == release) {
        return existing.id;
    }
    state.usenet.next_id += 1;
    let id = 500 + state.usenet.next_id;
    let cached = state.usenet.releases.get(release).is_some_and(|r| r.cached);
    let download = UsenetDownload {
        id,
        key: key.to_string(),
        hash,
        release: release.to_string(),
        from_file,
        polls_seen: 0,
        finished: cached,
        created_at: super::torbox::created_at_after_last_torrent(state),
    };
    state.usenet.downloads.push(download);
    id
}

fn mylist(state: &mut TorBoxState, key: &str, call: &RecordedCall) -> Response {
    let detail = "Usenet list retrieved successfully.";
    let Some(id) = call.query_param("id") else {
        let ids: Vec<u64> = state.usenet.downloads.iter().filter(|d| d.key == key).map(|d| d.id).collect();
        let number = |name: &str| call.query_param(name).and_then(|v| v.trim().parse::<usize>().ok());
        let (offset, limit) = (number("offset").unwrap_or(0), number("limit").unwrap_or(1000));
        let list: Vec<Value> =
            ids.into_iter().skip(offset).take(limit).filter_map(|id| render(state, key, id, false)).collect();
        return envelope_reply(StatusCode::OK, None, detail, Value::Array(list));
    };
    let data = id.trim().parse::<u64>().ok().and_then(|id| render(state, key, id, true)).unwrap_or(Value::Null);
    envelope_reply(StatusCode::OK, None, detail, data)
}

fn render(state: &mut TorBoxState, key: &str, id: u64, poll: bool) -> Option<Value> {
    let index = state.usenet.downloads.iter().position(|d| d.id == id && d.key == key)?;
    let release = state.usenet.releases.get(&state.usenet.downloads[index].release).cloned()?;
    let download = &mut state.usenet.downloads[index];
    if poll && release.failure.is_none() {
        download.polls_seen += 1;
        if !download.finished {
            download.finished = download.polls_seen > release.polls;
        }
    }
    let download = download.clone();
    if download.finished {
        if let Some(entry) = state.usenet.releases.get_mut(&download.release) {
            entry.cached = true;
        }
    }
    let progress =
        if download.finished { 1.0 } else { f64::from(download.polls_seen) / f64::from(release.polls.max(1)) };
    let download_state = match (&release.failure, download.finished) {
        (Some(failure), _) => failure.clone(),
        (None, true) => "completed".to_string(),
        (None, false) => "downloading".to_string(),
    };
    let files: Vec<Value> = release
        .files
        .iter()
        .enumerate()
        .map(|(i, (path, size))| {
            json!({"id": i, "md5": null, "hash": download.hash, "name": format!("{}/{path}", release.name),
                "size": size, "short_name": path.rsplit('/').next().unwrap_or(path),
                "mimetype": "video/x-matroska", "s3_path": format!("{}/{path}", download.hash), "zipped": false,
                "infected": false, "absolute_path": format!("/{}/{path}", release.name), "opensubtitles_hash": null})
        })
        .collect();
    let size: u64 = release.files.iter().map(|(_, s)| s).sum();
    Some(json!({
        "id": download.id, "hash": download.hash, "name": release.name, "size": size,
        "created_at": download.created_at, "updated_at": download.created_at,
        "download_state": download_state, "progress": progress,
        "download_speed": if download.finished { 0 } else { 5_000_000 }, "eta": 0,
        "active": !download.finished && release.failure.is_none(),
        "download_present": download.finished, "download_finished": download.finished,
        "cached": download.finished, "cached_at": null, "expires_at": null,
        "original_url": null, "download_id": format!("dl-{}", download.id), "server": 1, "files": files,
    }))
}

fn requestdl(state: &TorBoxState, key: &str, call: &RecordedCall) -> Response {
    let id = call.query_param("usenet_id").and_then(|v| v.trim().parse::<u64>().ok());
    let not_found = |detail: &str| envelope_reply(StatusCode::NOT_FOUND, Some("ITEM_NOT_FOUND"), detail, Value::Null);
    let Some(download) = id.and_then(|id| state.usenet.downloads.iter().find(|d| d.id == id && d.key == key)) else {
        return not_found("The usenet download was not found in your account.");
    };
    if !download.finished {
        return not_found("The usenet download is not ready yet.");
    }
    let file_id = call.query_param("file_id").and_then(|v| v.trim().parse::<usize>().ok()).unwrap_or(0);
    let release = state.usenet.releases.get(&download.release);
    let Some((path, _)) = release.and_then(|r| r.files.get(file_id)) else {
        return not_found("The file was not found in this download.");
    };
    let name = path.rsplit('/').next().unwrap_or(path).replace(' ', "%20");
    let link = format!("{}/cdn/usenet/{}/{}/{}", state.base_url, download.id, file_id, name);
    envelope_reply(StatusCode::OK, None, "Download link generated.", Value::String(link))
}
