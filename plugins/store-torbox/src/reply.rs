//! What TorBox's endpoints answer, read into the store's types: `checkcached` items, `mylist`
//! torrents (with why one will not finish), `createtorrent` ids and the `user/me` account. The
//! readers are lenient where TorBox's replies vary (numbers as strings, `null` fields) and fail
//! with "unexpected reply from <endpoint>" where the shape is wrong.

use chillproxy_core::{Account, CachedItem, InfoHash, Magnet, MagnetStatus, StoreError, StoreFile};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::client::{CHECKCACHED, CREATETORRENT, MYLIST, USER_ME};
use crate::error::{error, Kind, STORE};

/// A torrent of the account as `mylist` shows it, and why it will not finish, if it will not.
#[derive(Debug, Clone)]
pub(crate) struct Torrent {
    pub magnet: Magnet,
    pub failure: Option<Failure>,
}

/// Why a torrent will not finish downloading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failure {
    /// What the user reads after "TorBox could not download this torrent: ".
    pub reason: &'static str,
    /// Deleting it and adding it again may help (an error or a stop; not a lack of seeds).
    pub readd_may_help: bool,
}

pub(crate) fn unexpected(endpoint: &str) -> StoreError {
    error(Kind::Upstream, format!("unexpected reply from {endpoint}"), None)
}

pub(crate) fn read<T: DeserializeOwned>(data: Value, endpoint: &'static str) -> Result<T, StoreError> {
    serde_json::from_value(data).map_err(|e| {
        tracing::debug!(store = STORE, endpoint, category = ?e.classify(), "torbox reply has an unexpected shape");
        unexpected(endpoint)
    })
}

/// `checkcached` data: a list (`format=list`), an object keyed by hash (`format=object`), or
/// null / `{}` / `[]` when nothing is cached.
pub(crate) fn parse_checkcached(data: Value) -> Result<Vec<CachedItem>, StoreError> {
    let entries = checkcached_entries(data, CHECKCACHED)?;
    let mut items = Vec::with_capacity(entries.len());
    for (map_key, value) in entries {
        let torrent: CachedTorrent = read(value, CHECKCACHED)?;
        let Some(hash) = InfoHash::parse(&entry_hash(torrent.hash, map_key)) else {
            tracing::debug!(store = STORE, "checkcached returned an item without a valid hash; skipped");
            continue;
        };
        let files = torrent
            .files
            .into_iter()
            .enumerate()
            .map(|(i, f)| StoreFile {
                id: i as u64,
                name: file_name(&f.name),
                path: path_without_root(&f.name),
                size: f.size,
                // `checkcached` names no OpenSubtitles hash; a library torrent's files do.
                video_hash: None,
            })
            .collect();
        items.push(CachedItem { hash, files });
    }
    Ok(items)
}

/// The entries of a cache check's data (torrents' `checkcached` or `usenet/checkcached`): a list
/// (`format=list`), an object keyed by hash (`format=object`), or null / `{}` / `[]` / `false`
/// when nothing is cached. Each entry comes with its object key, when it had one.
pub(crate) fn checkcached_entries(
    data: Value,
    endpoint: &'static str,
) -> Result<Vec<(Option<String>, Value)>, StoreError> {
    Ok(match data {
        Value::Null | Value::Bool(false) => Vec::new(),
        Value::Array(items) => items.into_iter().map(|v| (None, v)).collect(),
        Value::Object(map) => map.into_iter().map(|(k, v)| (Some(k), v)).collect(),
        _ => return Err(unexpected(endpoint)),
    })
}

/// An entry's hash: the one it names, else the object key it was listed under.
pub(crate) fn entry_hash(named: String, map_key: Option<String>) -> String {
    if named.trim().is_empty() {
        map_key.unwrap_or_default()
    } else {
        named
    }
}

/// `createtorrent` data.
pub(crate) fn parse_created(data: Value) -> Result<Created, StoreError> {
    read(data, CREATETORRENT)
}

/// `user/me` data: the account's id (a number or a string), e-mail and plan.
pub(crate) fn parse_account(data: Value) -> Result<Account, StoreError> {
    if !data.is_object() {
        return Err(unexpected(USER_ME));
    }
    let me: Me = read(data, USER_ME)?;
    let id = match me.id {
        Value::String(id) => id,
        Value::Number(id) => id.to_string(),
        _ => return Err(unexpected(USER_ME)),
    };
    Ok(Account { id, email: me.email, subscription: subscription(me.plan).to_string() })
}

/// The item `id` of a `mylist?id=`-style answer (torrents or usenet downloads): one object, or
/// a list holding it. Null, `{}`, `[]` or `id: 0` mean "not in this account" (`None`).
pub(crate) fn listed_item<T: DeserializeOwned>(
    data: Value,
    id: u64,
    endpoint: &'static str,
    id_of: impl Fn(&T) -> u64,
) -> Result<Option<T>, StoreError> {
    let item = match data {
        Value::Null => None,
        Value::Array(items) => {
            let mut found = None;
            for item in items {
                let item: T = read(item, endpoint)?;
                if id_of(&item) == id {
                    found = Some(item);
                    break;
                }
            }
            found
        }
        value @ Value::Object(_) => Some(read::<T>(value, endpoint)?),
        _ => return Err(unexpected(endpoint)),
    };
    Ok(item.filter(|item| id_of(item) != 0))
}

/// `mylist?id=` data: one torrent object (see [`listed_item`]).
pub(crate) fn parse_torrent(data: Value, id: u64) -> Result<Torrent, StoreError> {
    let torrent = listed_item(data, id, MYLIST, |t: &MyTorrent| t.id)?
        .ok_or_else(|| error(Kind::NotFound, format!("torrent {id} is not in this account"), None))?;
    torrent_of(torrent)
}

/// The state of one torrent of a `mylist` page; `None` for an entry without an id or hash.
pub(crate) fn parse_listed(value: Value) -> Result<Option<Torrent>, StoreError> {
    let torrent: MyTorrent = read(value, MYLIST)?;
    if torrent.id == 0 || InfoHash::parse(&torrent.hash).is_none() {
        return Ok(None);
    }
    torrent_of(torrent).map(Some)
}

#[cfg(test)]
fn parse_mylist(data: Value, id: u64) -> Result<Magnet, StoreError> {
    parse_torrent(data, id).map(|t| t.magnet)
}

fn torrent_of(torrent: MyTorrent) -> Result<Torrent, StoreError> {
    let id = torrent.id;
    let hash = InfoHash::parse(&torrent.hash)
        .ok_or_else(|| error(Kind::Upstream, format!("torrent {id} has no valid info hash"), None))?;
    let (status, failure) = match state_of(&torrent) {
        State::Waiting(status) => (status, None),
        State::Failed(failure) => (MagnetStatus::Failed, Some(failure)),
    };
    let name = if !torrent.name.trim().is_empty() {
        torrent.name.clone()
    } else {
        torrent.files.first().and_then(|f| root_folder(&f.name)).unwrap_or(hash.as_str()).to_string()
    };
    let files = torrent
        .files
        .into_iter()
        .map(|f| StoreFile {
            id: f.id,
            name: if f.short_name.trim().is_empty() { file_name(&f.name) } else { f.short_name },
            path: path_without_root(&f.name),
            size: f.size,
            video_hash: Some(f.opensubtitles_hash).filter(|h| is_video_hash(h)),
        })
        .collect();
    Ok(Torrent { magnet: Magnet { id: id.to_string(), hash, name, size: torrent.size, status, files }, failure })
}

/// Where a torrent's download stands.
enum State {
    Waiting(MagnetStatus),
    Failed(Failure),
}

/// Reads `download_finished`/`download_present`, `download_state` (qBittorrent's states and
/// TorBox's own: `"error"`, `"stalled (no seeds)"`, `"metaDL"`, `"paused"`, `"downloading"`,
/// `"uploading"`, `"cached"`, `"completed"`, ...) and `active`. A torrent that is neither
/// finished nor active has been stopped: TorBox will not finish it.
fn state_of(torrent: &MyTorrent) -> State {
    const ERROR: Failure = Failure { reason: "the download stopped with an error on TorBox", readd_may_help: true };
    const NO_SEEDS: Failure =
        Failure { reason: "no one is seeding it (TorBox reports it stalled)", readd_may_help: false };
    const STOPPED: Failure = Failure { reason: "TorBox stopped downloading it", readd_may_help: true };
    if torrent.download_finished && torrent.download_present {
        return State::Waiting(MagnetStatus::Downloaded);
    }
    let state = torrent.download_state.trim().to_ascii_lowercase();
    let finished = torrent.download_finished;
    match state.as_str() {
        s if s.starts_with("error") || s == "missingfiles" => State::Failed(ERROR),
        s if s.starts_with("stalled") && !finished => State::Failed(NO_SEEDS),
        s if (s.starts_with("paused") || s.starts_with("stopped")) && !finished => State::Failed(STOPPED),
        _ if !torrent.active && !finished => State::Failed(STOPPED),
        "metadl" | "allocating" | "moving" => State::Waiting(MagnetStatus::Queued),
        s if s.starts_with("queued") || s.starts_with("checking") => State::Waiting(MagnetStatus::Queued),
        s if s == "downloading" || s.starts_with("forced") => State::Waiting(MagnetStatus::Downloading),
        s if s.starts_with("uploading") || s == "completed" || s == "cached" => State::Waiting(MagnetStatus::Uploading),
        _ if torrent.progress > 0.0 => State::Waiting(MagnetStatus::Downloading),
        _ => State::Waiting(MagnetStatus::Queued),
    }
}

/// The meaningful segments of a TorBox file path (`.` and `..` dropped).
fn segments(full: &str) -> Vec<&str> {
    full.split('/').filter(|s| !s.is_empty() && *s != "." && *s != "..").collect()
}

/// `Show/Season 1/e01.mkv` → `/Season 1/e01.mkv`; a path without a folder stays as it is:
/// `e01.mkv` → `/e01.mkv`.
pub(crate) fn path_without_root(full: &str) -> String {
    let parts = segments(full);
    let rest = if parts.len() > 1 { &parts[1..] } else { &parts[..] };
    format!("/{}", rest.join("/"))
}

/// The last path component: `Show/Season 1/e01.mkv` → `e01.mkv`.
pub(crate) fn file_name(full: &str) -> String {
    segments(full).last().copied().unwrap_or_default().to_string()
}

/// The torrent's root folder, if the path has one.
fn root_folder(full: &str) -> Option<&str> {
    let parts = segments(full);
    (parts.len() > 1).then(|| parts[0])
}

#[derive(Deserialize)]
struct CachedTorrent {
    #[serde(default, deserialize_with = "nullable")]
    hash: String,
    #[serde(default, deserialize_with = "nullable")]
    files: Vec<CachedFile>,
}

#[derive(Deserialize)]
struct CachedFile {
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    size: u64,
}

/// What `createtorrent` answers: the new torrent's id, or the queue entry's when TorBox queued
/// it instead (0 when absent).
#[derive(Deserialize, Default)]
pub(crate) struct Created {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub torrent_id: u64,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub queued_id: u64,
}

#[derive(Deserialize)]
struct MyTorrent {
    #[serde(default, deserialize_with = "lenient_u64")]
    id: u64,
    #[serde(default, deserialize_with = "nullable")]
    hash: String,
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    size: u64,
    #[serde(default, deserialize_with = "nullable")]
    download_finished: bool,
    #[serde(default, deserialize_with = "nullable")]
    download_present: bool,
    #[serde(default, deserialize_with = "lenient_f64")]
    progress: f64,
    #[serde(default, deserialize_with = "nullable")]
    download_state: String,
    /// Absent in older replies: then the torrent counts as active.
    #[serde(default = "active_by_default", deserialize_with = "nullable_true")]
    active: bool,
    #[serde(default, deserialize_with = "nullable")]
    files: Vec<MyFile>,
}

fn active_by_default() -> bool {
    true
}

/// `null` reads as `true`.
fn nullable_true<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(true))
}

#[derive(Deserialize)]
struct MyFile {
    #[serde(default, deserialize_with = "lenient_u64")]
    id: u64,
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    size: u64,
    #[serde(default, deserialize_with = "nullable")]
    short_name: String,
    /// The file's OpenSubtitles hash (16 hex digits), when TorBox computed it.
    #[serde(default, deserialize_with = "nullable")]
    opensubtitles_hash: String,
}

/// An OpenSubtitles hash as Stremio takes it: 16 hex digits.
pub(crate) fn is_video_hash(hash: &str) -> bool {
    hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

#[derive(Deserialize)]
struct Me {
    #[serde(default)]
    id: Value,
    #[serde(default, deserialize_with = "nullable")]
    email: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    plan: u64,
}

/// `null` reads as the type's default.
pub(crate) fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A non-negative integer given as a number, a float or a string; anything else reads as 0.
pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)).unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

pub(crate) fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    })
}

/// TorBox plans: 0 free, 1 essential, 2 pro, 3 standard.
fn subscription(plan: u64) -> &'static str {
    if plan == 0 {
        "expired"
    } else {
        "premium"
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const H1: &str = "0123456789abcdef0123456789abcdef01234567";
    const H2: &str = "89abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn paths_lose_the_root_folder() {
        assert_eq!(path_without_root("Show.S01/Season 1/e01.mkv"), "/Season 1/e01.mkv");
        assert_eq!(path_without_root("Movie/movie.mkv"), "/movie.mkv");
        assert_eq!(path_without_root("movie.mkv"), "/movie.mkv");
        assert_eq!(path_without_root("/Movie//movie.mkv"), "/movie.mkv");
        assert_eq!(path_without_root("Movie/../x/./a.mkv"), "/x/a.mkv");
        assert_eq!(path_without_root(""), "/");
        assert_eq!(file_name("Show.S01/Season 1/e01.mkv"), "e01.mkv");
        assert_eq!(file_name("movie.mkv"), "movie.mkv");
        assert_eq!(root_folder("Show.S01/Season 1/e01.mkv"), Some("Show.S01"));
        assert_eq!(root_folder("movie.mkv"), None);
    }

    #[test]
    fn checkcached_list_and_empty_shapes() {
        let data = json!([{
            "name": "Movie", "size": 30, "hash": H1.to_uppercase(),
            "files": [{"name": "Movie/movie.mkv", "size": 20}, {"name": "Movie/Subs/en.srt", "size": 10}]
        }]);
        let items = parse_checkcached(data).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].hash.as_str(), H1);
        assert_eq!(
            items[0].files,
            vec![
                StoreFile { id: 0, name: "movie.mkv".into(), path: "/movie.mkv".into(), size: 20, video_hash: None },
                StoreFile { id: 1, name: "en.srt".into(), path: "/Subs/en.srt".into(), size: 10, video_hash: None },
            ]
        );
        for empty in [Value::Null, json!({}), json!([])] {
            assert!(parse_checkcached(empty).unwrap().is_empty());
        }
        let by_key = json!({ H2: {"name": "x", "size": 1, "files": null} });
        let items = parse_checkcached(by_key).unwrap();
        assert_eq!(items[0].hash.as_str(), H2);
        assert!(items[0].files.is_empty());
        assert!(parse_checkcached(json!("nope")).is_err());
    }

    #[test]
    fn mylist_status_and_files() {
        let mut data = json!({
            "id": 42, "hash": H1, "name": "Show.S01", "size": 100,
            "created_at": "2024-01-01T00:00:00Z",
            "download_finished": true, "download_present": true, "progress": 1.0,
            "files": [
                {"id": 3, "name": "Show.S01/Season 1/e01.mkv", "size": 100, "short_name": "e01.mkv", "opensubtitles_hash": "8e245d9679d31e12"},
                {"id": 4, "name": "Show.S01/Season 1/e02.mkv", "size": 90, "short_name": "e02.mkv", "opensubtitles_hash": null},
                {"id": 5, "name": "Show.S01/Season 1/e03.mkv", "size": 80, "short_name": "e03.mkv", "opensubtitles_hash": "not a hash"}
            ]
        });
        let m = parse_mylist(data.clone(), 42).unwrap();
        assert_eq!(m.id, "42");
        assert_eq!(m.status, MagnetStatus::Downloaded);
        let file = |id, name: &str, size, hash: Option<&str>| StoreFile {
            id,
            name: name.into(),
            path: format!("/Season 1/{name}"),
            size,
            video_hash: hash.map(str::to_string),
        };
        assert_eq!(
            m.files,
            vec![
                file(3, "e01.mkv", 100, Some("8e245d9679d31e12")),
                file(4, "e02.mkv", 90, None),
                file(5, "e03.mkv", 80, None),
            ],
            "the OpenSubtitles hash when TorBox gives a well-formed one"
        );

        data["download_present"] = json!(false);
        data["progress"] = json!(0.4);
        assert_eq!(parse_mylist(data.clone(), 42).unwrap().status, MagnetStatus::Downloading);
        data["progress"] = json!(0);
        data["download_finished"] = json!(null);
        assert_eq!(parse_mylist(data.clone(), 42).unwrap().status, MagnetStatus::Queued);

        for missing in [Value::Null, json!({}), json!({"id": 0}), json!([])] {
            let e = parse_mylist(missing, 42).unwrap_err();
            assert!(matches!(e, StoreError::NotFound { .. }), "{e:?}");
        }
    }

    #[test]
    fn download_states_and_active_say_whether_it_will_finish() {
        let with = |state: &str, active: Value, progress: f64| {
            let data = json!({
                "id": 7, "hash": H1, "name": "T", "size": 1, "download_state": state, "active": active,
                "download_finished": false, "download_present": false, "progress": progress, "files": []
            });
            let torrent = parse_torrent(data, 7).unwrap();
            (torrent.magnet.status, torrent.failure.map(|f| (f.reason, f.readd_may_help)))
        };
        let waiting = |status| (status, None);
        assert_eq!(with("metaDL", json!(true), 0.0), waiting(MagnetStatus::Queued));
        assert_eq!(with("queuedDL", json!(true), 0.0), waiting(MagnetStatus::Queued));
        assert_eq!(with("checkingResumeData", json!(true), 0.1), waiting(MagnetStatus::Queued));
        assert_eq!(with("downloading", json!(true), 0.5), waiting(MagnetStatus::Downloading));
        assert_eq!(with("uploading", json!(true), 1.0), waiting(MagnetStatus::Uploading));
        assert_eq!(with("", Value::Null, 0.3), waiting(MagnetStatus::Downloading), "no state: progress decides");
        let failed = |state, active| with(state, active, 0.0).1.expect("a failure");
        assert_eq!(failed("error", json!(false)), ("the download stopped with an error on TorBox", true));
        assert!(!failed("stalled (no seeds)", json!(true)).1, "re-adding finds no seeds either");
        assert_eq!(failed("paused", json!(false)).0, "TorBox stopped downloading it");
        assert_eq!(failed("downloading", json!(false)).0, "TorBox stopped downloading it", "inactive, unfinished");
        assert_eq!(with("error", json!(false), 0.0).0, MagnetStatus::Failed);

        // Finished and present wins over any state.
        let data = json!({"id": 7, "hash": H1, "download_state": "stalledUP", "active": false,
            "download_finished": true, "download_present": true});
        assert_eq!(parse_torrent(data, 7).unwrap().magnet.status, MagnetStatus::Downloaded);
    }

    #[test]
    fn plans() {
        assert_eq!(subscription(0), "expired");
        for plan in [1, 2, 3] {
            assert_eq!(subscription(plan), "premium");
        }
    }
}
