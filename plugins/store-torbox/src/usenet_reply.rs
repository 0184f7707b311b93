//! What TorBox's usenet endpoints answer, read into the store's types: `usenet/checkcached`
//! items (by usenet hash), `usenet/mylist` downloads (with why one will not finish),
//! `createusenetdownload` ids and the plan in `user/me`. As lenient as the torrent readers
//! (`reply.rs`): ids as numbers or strings, `null` fields, `null`/`{}`/`[]` for "nothing".

use chillproxy_core::{CachedItem, Magnet, MagnetStatus, StoreError, StoreFile, UsenetHash};
use serde::Deserialize;
use serde_json::Value;

use crate::client::{USENET_CHECKCACHED, USENET_CREATE, USENET_MYLIST, USER_ME};
use crate::error::{error, Kind, STORE};
use crate::reply::{
    checkcached_entries, entry_hash, file_name, is_video_hash, lenient_f64, lenient_u64, listed_item, nullable,
    path_without_root, read, unexpected, Failure, Torrent,
};

/// What a usenet download's id starts with in a [`Magnet`], so `get_magnet` and
/// `generate_link` know it from a torrent id (a plain number).
pub(crate) const ID_PREFIX: &str = "usenet-";

/// The plan that has usenet: 2, Pro (0 Free, 1 Essential, 2 Pro, 3 Standard).
const PRO: u64 = 2;

/// Whether the `user/me` data's plan is Pro, the only plan with usenet.
pub(crate) fn parse_has_usenet(data: &Value) -> Result<bool, StoreError> {
    let plan = data.as_object().ok_or_else(|| unexpected(USER_ME))?.get("plan");
    let plan = match plan {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Ok(plan == Some(PRO))
}

/// `usenet/checkcached` data (`format=list`, or an object keyed by hash): the cached usenet
/// hashes with their files, each under the release's key.
pub(crate) fn parse_usenet_checkcached(data: Value) -> Result<Vec<CachedItem>, StoreError> {
    let entries = checkcached_entries(data, USENET_CHECKCACHED)?;
    let mut items = Vec::with_capacity(entries.len());
    for (map_key, value) in entries {
        let cached: CachedNzb = read(value, USENET_CHECKCACHED)?;
        let Some(hash) = UsenetHash::parse(&entry_hash(cached.hash, map_key)) else {
            tracing::debug!(store = STORE, "usenet checkcached returned an item without a valid hash; skipped");
            continue;
        };
        let files = cached
            .files
            .into_iter()
            .enumerate()
            .map(|(i, f)| StoreFile {
                id: i as u64,
                name: if f.short_name.trim().is_empty() { file_name(&f.name) } else { f.short_name },
                path: path_without_root(&f.name),
                size: f.size,
                video_hash: None,
            })
            .collect();
        items.push(CachedItem { hash: hash.key(), files });
    }
    Ok(items)
}

/// `createusenetdownload` data: the new download's id (a string in the docs, a number in
/// practice; 0 when absent) and TorBox's hash for it.
pub(crate) fn parse_usenet_created(data: Value) -> Result<(u64, String), StoreError> {
    if !data.is_object() {
        return Err(unexpected(USENET_CREATE));
    }
    let created: Created = read(data, USENET_CREATE)?;
    Ok((created.usenetdownload_id, created.hash))
}

/// `usenet/mylist?id=` data: one download. Null, `{}`, `[]` or `id: 0` mean "not in this
/// account". `ours` is the release's usenet hash: the download is filed under its key, whatever
/// hash TorBox gave it (TorBox's own is the md5 of what it was sent, which may hold a key).
pub(crate) fn parse_usenet_download(data: Value, id: u64, ours: Option<&UsenetHash>) -> Result<Torrent, StoreError> {
    let download = listed_item(data, id, USENET_MYLIST, |d: &MyDownload| d.id)?
        .ok_or_else(|| error(Kind::NotFound, format!("usenet download {id} is not in this account"), None))?;
    download_of(download, ours)
}

/// One download of a `usenet/mylist` page, filed under TorBox's hash; `None` for an entry
/// without an id or a usenet hash.
pub(crate) fn parse_usenet_listed(value: Value) -> Result<Option<Torrent>, StoreError> {
    let download: MyDownload = read(value, USENET_MYLIST)?;
    if download.id == 0 || UsenetHash::parse(&download.hash).is_none() {
        return Ok(None);
    }
    download_of(download, None).map(Some)
}

fn download_of(download: MyDownload, ours: Option<&UsenetHash>) -> Result<Torrent, StoreError> {
    let id = download.id;
    let hash = match ours {
        Some(hash) => hash.clone(),
        None => UsenetHash::parse(&download.hash)
            .ok_or_else(|| error(Kind::Upstream, format!("usenet download {id} has no valid hash"), None))?,
    };
    let (status, failure) = state_of(&download);
    let name = if download.name.trim().is_empty() { hash.as_str().to_string() } else { download.name.clone() };
    let files = download
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
    let magnet = Magnet { id: format!("{ID_PREFIX}{id}"), hash: hash.key(), name, size: download.size, status, files };
    Ok(Torrent { magnet, failure })
}

/// Ready is `download_finished && download_present` (also a finished `direct unpack:
/// completed…`); a state with `fail` or `invalid` in it will not finish; anything else is still
/// being fetched from usenet or unpacked.
fn state_of(download: &MyDownload) -> (MagnetStatus, Option<Failure>) {
    const ENCRYPTED: Failure =
        Failure { reason: "the usenet release is password-protected (TorBox aborted it)", readd_may_help: false };
    const FAILED: Failure =
        Failure { reason: "the usenet download failed on TorBox (incomplete or removed)", readd_may_help: false };
    let state = download.download_state.trim().to_ascii_lowercase();
    if download.download_finished && (download.download_present || state.starts_with("direct unpack: completed")) {
        return (MagnetStatus::Downloaded, None);
    }
    if state.contains("encrypt") || state.contains("password") {
        return (MagnetStatus::Failed, Some(ENCRYPTED));
    }
    if state.contains("fail") || state.contains("invalid") || state.starts_with("error") {
        return (MagnetStatus::Failed, Some(FAILED));
    }
    let status = match state.as_str() {
        s if s.starts_with("queued") || s.is_empty() && download.progress <= 0.0 => MagnetStatus::Queued,
        s if s.contains("unpack") || s.contains("repair") || s.contains("verif") || s.contains("extract") => {
            MagnetStatus::Processing
        }
        "completed" | "cached" | "uploading" => MagnetStatus::Uploading,
        _ => MagnetStatus::Downloading,
    };
    (status, None)
}

#[derive(Deserialize)]
struct CachedNzb {
    #[serde(default, deserialize_with = "nullable")]
    hash: String,
    #[serde(default, deserialize_with = "nullable")]
    files: Vec<NzbFile>,
}

#[derive(Deserialize)]
struct NzbFile {
    #[serde(default, deserialize_with = "lenient_u64")]
    id: u64,
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    #[serde(default, deserialize_with = "nullable")]
    short_name: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    size: u64,
    #[serde(default, deserialize_with = "nullable")]
    opensubtitles_hash: String,
}

#[derive(Deserialize)]
struct Created {
    #[serde(default, deserialize_with = "lenient_u64")]
    usenetdownload_id: u64,
    #[serde(default, deserialize_with = "nullable")]
    hash: String,
}

#[derive(Deserialize)]
struct MyDownload {
    #[serde(default, deserialize_with = "lenient_u64")]
    id: u64,
    #[serde(default, deserialize_with = "nullable")]
    hash: String,
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    size: u64,
    #[serde(default, deserialize_with = "nullable")]
    download_state: String,
    #[serde(default, deserialize_with = "lenient_f64")]
    progress: f64,
    #[serde(default, deserialize_with = "nullable")]
    download_finished: bool,
    #[serde(default, deserialize_with = "nullable")]
    download_present: bool,
    #[serde(default, deserialize_with = "nullable")]
    files: Vec<NzbFile>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const MD5: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn only_pro_has_usenet() {
        assert!(parse_has_usenet(&json!({"plan": 2})).unwrap());
        assert!(parse_has_usenet(&json!({"plan": "2"})).unwrap());
        for plan in [json!(0), json!(1), json!(3), json!(null)] {
            assert!(!parse_has_usenet(&json!({ "plan": plan })).unwrap());
        }
        assert!(parse_has_usenet(&json!([])).is_err());
    }

    #[test]
    fn checkcached_items_are_filed_under_the_key() {
        let data = json!([{"name": "Movie.2020", "size": 10, "hash": MD5.to_uppercase(),
            "files": [{"name": "Movie.2020/movie.mkv", "size": 9, "short_name": "movie.mkv", "id": 0}]},
            {"hash": "not-a-hash", "files": []}]);
        let items = parse_usenet_checkcached(data).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].hash, UsenetHash::parse(MD5).unwrap().key());
        assert_eq!((items[0].files[0].name.as_str(), items[0].files[0].path.as_str()), ("movie.mkv", "/movie.mkv"));
        for empty in [json!(null), json!({}), json!([])] {
            assert!(parse_usenet_checkcached(empty).unwrap().is_empty());
        }
        assert!(parse_usenet_checkcached(json!("x")).is_err());
    }

    #[test]
    fn created_ids_read_as_strings_or_numbers() {
        let data = json!({"hash": MD5, "usenetdownload_id": "17", "auth_id": "a"});
        assert_eq!(parse_usenet_created(data).unwrap(), (17, MD5.to_string()));
        assert_eq!(parse_usenet_created(json!({"usenetdownload_id": 4})).unwrap().0, 4);
        assert!(parse_usenet_created(json!(null)).is_err());
    }

    fn download(state: &str, finished: bool, present: bool) -> Value {
        json!({"id": 5, "hash": MD5, "name": "Movie", "size": 100, "download_state": state, "progress": 0.5,
            "download_finished": finished, "download_present": present,
            "files": [{"id": 0, "name": "Movie/movie.mkv", "short_name": "movie.mkv", "size": 90}]})
    }

    #[test]
    fn download_states() {
        let ours = UsenetHash::parse(&"ee".repeat(16)).unwrap();
        let ready = parse_usenet_download(download("completed", true, true), 5, Some(&ours)).unwrap();
        assert_eq!(ready.magnet.status, MagnetStatus::Downloaded);
        assert_eq!((ready.magnet.id.as_str(), ready.magnet.hash.clone()), ("usenet-5", ours.key()));
        assert_eq!(ready.magnet.files[0].id, 0, "file ids start at 0");
        let unpacked = parse_usenet_download(download("direct unpack: completed (2s)", true, false), 5, None).unwrap();
        assert_eq!(unpacked.magnet.status, MagnetStatus::Downloaded);
        let busy = parse_usenet_download(download("downloading", false, false), 5, None).unwrap();
        assert_eq!((busy.magnet.status, busy.failure), (MagnetStatus::Downloading, None));
        let locked = parse_usenet_download(download("failed (Aborted, encryption detected)", false, false), 5, None);
        assert!(locked.unwrap().failure.unwrap().reason.contains("password"));
        let failed = parse_usenet_download(download("failed", false, false), 5, None).unwrap();
        assert_eq!(failed.magnet.status, MagnetStatus::Failed);
        let gone = parse_usenet_download(json!(null), 5, None).unwrap_err();
        assert!(matches!(gone, StoreError::NotFound { .. }), "{gone:?}");
        assert!(parse_usenet_listed(json!({"id": 0, "hash": MD5})).unwrap().is_none());
        assert!(parse_usenet_listed(download("cached", true, true)).unwrap().is_some());
    }
}
