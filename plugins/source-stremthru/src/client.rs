//! StremThru's torrent database: `GET {url}/v0/torrents?sid=<tt…>[:<season>:<episode>]`, no
//! authentication. The reply is StremThru's envelope,
//! `{"data": {"items": [{hash, name, size, indexer, src, category, seeders, leechers, private,
//! files: [{p, i, s, sid, asid, src, vhash}]}], "total_items"}}`, or
//! `{"error": {"code", "message", "status_code"}}`, with `Cache-Control: public, max-age=7200`.

use std::time::Duration;

use chillproxy_core::source_cache::SourceFailure;
use chillproxy_core::upstream::{max_age, Method, Reply, Upstream, UpstreamError};
use chillproxy_core::{InfoHash, MediaQuery};
use serde::Deserialize;

/// One torrent as the database lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torrent {
    pub hash: InfoHash,
    pub name: String,
    /// `None` when the database does not know it (it sends 0 or -1).
    pub size: Option<u64>,
    pub seeders: Option<u32>,
    /// The indexer the database learnt it from (may be empty).
    pub indexer: String,
    pub files: Vec<TorrentFile>,
}

/// A file of a torrent, as the database knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorrentFile {
    /// Path inside the torrent, `/`-rooted.
    pub path: String,
    /// The file's index in the torrent; `None` when the database does not know it (-1).
    pub index: Option<u64>,
    pub size: Option<u64>,
    /// The Stremio id the file plays (`tt0903747:1:3`), when known.
    pub sid: Option<String>,
}

/// A listing and how long the database says it may be kept.
#[derive(Debug, Clone)]
pub struct Listing {
    pub torrents: Vec<Torrent>,
    pub max_age: Option<Duration>,
}

#[derive(Deserialize)]
struct Envelope {
    data: Option<Data>,
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(default)]
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct Item {
    hash: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    size: Option<i64>,
    #[serde(default)]
    indexer: Option<String>,
    #[serde(default)]
    seeders: Option<i64>,
    #[serde(default)]
    files: Option<Vec<FileItem>>,
}

#[derive(Deserialize)]
struct FileItem {
    #[serde(default)]
    p: Option<String>,
    #[serde(default)]
    i: Option<i64>,
    #[serde(default)]
    s: Option<i64>,
    #[serde(default)]
    sid: Option<String>,
}

/// The `sid` StremThru takes: the IMDb id, then `:season:episode` for an episode.
pub fn stream_id(media: &MediaQuery) -> String {
    match (media.season, media.episode) {
        (Some(season), Some(episode)) => format!("{}:{season}:{episode}", media.imdb_id),
        _ => media.imdb_id.clone(),
    }
}

/// Asks the database for the torrents of `sid`. Sends nothing but the id. A failure's text is
/// for the user and never has the URL.
pub async fn list_torrents(upstream: &Upstream, sid: &str) -> Result<Listing, SourceFailure> {
    let request =
        upstream.request(Method::GET, "torrents", "/v0/torrents").query(&[("sid", sid)]).accept("application/json");
    let timeout = upstream.timeout();
    upstream.call(request, |reply| read_listing(reply, timeout)).await
}

fn read_listing(reply: Result<Reply, UpstreamError>, timeout: Duration) -> Result<Listing, SourceFailure> {
    let fail = SourceFailure::new;
    let reply = reply.map_err(|e| SourceFailure::from_upstream(e, timeout))?;
    let envelope: Option<Envelope> = serde_json::from_slice(&reply.body).ok();
    if !reply.status.is_success() {
        let said = envelope.and_then(|e| e.error).map(|e| e.message).filter(|m| !m.trim().is_empty());
        return Err(fail(match said {
            Some(message) => format!("HTTP {}: {}", reply.status.as_u16(), message.trim()),
            None => format!("HTTP {}", reply.status.as_u16()),
        }));
    }
    let envelope = envelope.ok_or_else(|| fail("the reply is not a StremThru listing".to_string()))?;
    if let Some(error) = envelope.error {
        return Err(fail(error.message));
    }
    let items = envelope.data.map(|d| d.items).unwrap_or_default();
    Ok(Listing {
        torrents: items.into_iter().filter_map(torrent).collect(),
        max_age: reply.cache_control.as_deref().and_then(max_age),
    })
}

fn positive(value: Option<i64>) -> Option<u64> {
    value.and_then(|v| u64::try_from(v).ok()).filter(|v| *v > 0)
}

fn torrent(item: Item) -> Option<Torrent> {
    let hash = InfoHash::parse(&item.hash)?;
    let name = item.name.trim().to_string();
    let files = item.files.unwrap_or_default().into_iter().filter_map(|f| {
        let path = f.p.filter(|p| !p.trim().is_empty())?;
        Some(TorrentFile {
            path,
            index: f.i.and_then(|i| u64::try_from(i).ok()),
            size: positive(f.s),
            sid: f.sid.filter(|s| !s.is_empty()),
        })
    });
    Some(Torrent {
        name: if name.is_empty() { hash.to_string() } else { name },
        hash,
        size: positive(item.size),
        seeders: item.seeders.and_then(|s| u32::try_from(s).ok()),
        indexer: item.indexer.unwrap_or_default().trim().to_string(),
        files: files.collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chillproxy_core::upstream::StatusCode;

    fn reply(status: u16, body: &str, cache_control: Option<&str>) -> Result<Reply, UpstreamError> {
        Ok(Reply {
            status: StatusCode::from_u16(status).unwrap(),
            content_type: "application/json".into(),
            retry_after: None,
            location: None,
            cache_control: cache_control.map(str::to_string),
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn reads_items_files_and_max_age() {
        let body = r#"{"data":{"items":[
            {"hash":"3333333333333333333333333333333333333333","name":"Breaking.Bad.S01.1080p","size":6300000000,
             "indexer":"","src":"dmm","category":"series","seeders":0,"leechers":0,"private":false,
             "files":[{"p":"/Breaking.Bad.S01E03.mkv","i":2,"s":2100000000,"sid":"tt0903747:1:3","asid":"","src":"dmm","vhash":""},
                      {"p":null,"i":null,"s":null,"sid":null}]},
            {"hash":"not-a-hash","name":"x","size":1,"files":[]},
            {"hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","name":"","size":-1,"seeders":-1,"files":null}
        ],"total_items":3}}"#;
        let listing = read_listing(reply(200, body, Some("public, max-age=7200")), Duration::from_secs(1)).unwrap();
        assert_eq!(listing.max_age, Some(Duration::from_secs(7200)));
        assert_eq!(listing.torrents.len(), 2, "the item without a hash is dropped");
        let pack = &listing.torrents[0];
        assert_eq!(pack.size, Some(6_300_000_000));
        assert_eq!(pack.seeders, Some(0));
        assert_eq!(
            pack.files,
            [TorrentFile {
                path: "/Breaking.Bad.S01E03.mkv".into(),
                index: Some(2),
                size: Some(2_100_000_000),
                sid: Some("tt0903747:1:3".into())
            }]
        );
        let bare = &listing.torrents[1];
        assert_eq!((bare.size, bare.seeders, bare.files.len()), (None, None, 0));
        assert_eq!(bare.name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    }

    #[test]
    fn errors_carry_the_message_and_status() {
        let body = r#"{"error":{"code":"BAD_REQUEST","message":"unsupported sid","status_code":400}}"#;
        let error = read_listing(reply(400, body, None), Duration::from_secs(1)).unwrap_err();
        assert_eq!(error.message, "HTTP 400: unsupported sid");
        let error = read_listing(reply(200, "<html>", None), Duration::from_secs(1)).unwrap_err();
        assert_eq!(error.message, "the reply is not a StremThru listing");
        let error = read_listing(Err(UpstreamError::Timeout), Duration::from_millis(900)).unwrap_err();
        assert!(error.timed_out && error.message.contains("900 ms"));
    }

    #[test]
    fn cache_control_and_stream_ids() {
        assert_eq!(max_age("public, max-age=7200"), Some(Duration::from_secs(7200)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        let episode = MediaQuery::episode("tt0903747", 1, 3);
        assert_eq!(stream_id(&episode), "tt0903747:1:3");
        let movie = MediaQuery::movie("tt0111161");
        assert_eq!(stream_id(&movie), "tt0111161");
    }
}
