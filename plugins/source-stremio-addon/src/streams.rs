//! A Stremio addon's stream list, `GET {base}/stream/{type}/{id}.json` →
//! `{"streams": [{name, title | description, infoHash, fileIdx, behaviorHints: {filename,
//! videoSize}, sources}], "cacheMaxAge"?}`, read for its torrents: streams with an `infoHash`.
//! Seeders and size come from the text where addons put them (Torrentio:
//! `"Release.Name\nfile.mkv\n👤 12 💾 1.4 GB ⚙️ site"`), else from `behaviorHints.videoSize`.

use std::time::Duration;

use chillproxy_core::source_cache::SourceFailure;
use chillproxy_core::upstream::{max_age, Method, Reply, Upstream, UpstreamError};
use chillproxy_core::InfoHash;
use serde::Deserialize;

/// One torrent an addon offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonTorrent {
    pub hash: InfoHash,
    /// The release name: the first line of `title` (or `description`), else the file name.
    pub title: String,
    pub size: Option<u64>,
    pub seeders: Option<u32>,
    /// The file the addon meant (`fileIdx`), when it said.
    pub file_idx: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct StreamList {
    pub torrents: Vec<AddonTorrent>,
    pub max_age: Option<Duration>,
}

#[derive(Deserialize)]
struct Reply_ {
    #[serde(default)]
    streams: Vec<Stream>,
    #[serde(default, rename = "cacheMaxAge")]
    cache_max_age: Option<u64>,
}

#[derive(Deserialize)]
struct Stream {
    #[serde(default, rename = "infoHash")]
    info_hash: Option<String>,
    #[serde(default, rename = "fileIdx")]
    file_idx: Option<serde_json::Value>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, rename = "behaviorHints")]
    hints: Option<Hints>,
}

#[derive(Deserialize)]
struct Hints {
    #[serde(default)]
    filename: Option<String>,
    #[serde(default, rename = "videoSize")]
    video_size: Option<u64>,
}

/// The addon's streams for `kind` (`movie` or `series`) and `id` (`tt…` or `tt…:s:e`). Sends
/// nothing but the path. A failure's text is for the user and never has the URL. The call
/// reports to `tracker` (the addon's health entry) when given.
pub async fn list_streams(
    upstream: &Upstream,
    url: chillproxy_core::upstream::Url,
    tracker: Option<&chillproxy_core::health::Tracker>,
) -> Result<StreamList, SourceFailure> {
    let mut request = upstream.request_url(Method::GET, "stream", url).accept("application/json");
    if let Some(tracker) = tracker {
        request = request.report_to(tracker);
    }
    let timeout = upstream.timeout();
    upstream.call(request, |reply| read_streams(reply, timeout)).await
}

pub fn read_streams(reply: Result<Reply, UpstreamError>, timeout: Duration) -> Result<StreamList, SourceFailure> {
    let fail = SourceFailure::new;
    let reply = reply.map_err(|e| SourceFailure::from_upstream(e, timeout))?;
    if !reply.status.is_success() {
        return Err(fail(format!("HTTP {}", reply.status.as_u16())));
    }
    let parsed: Reply_ =
        serde_json::from_slice(&reply.body).map_err(|_| fail("the reply is not a Stremio stream list".to_string()))?;
    let header_age = reply.cache_control.as_deref().and_then(max_age);
    Ok(StreamList {
        torrents: parsed.streams.into_iter().filter_map(torrent).collect(),
        max_age: header_age.or(parsed.cache_max_age.map(Duration::from_secs)),
    })
}

fn torrent(stream: Stream) -> Option<AddonTorrent> {
    let hash = InfoHash::parse(stream.info_hash.as_deref()?.trim())?;
    let text = stream.title.or(stream.description).unwrap_or_default();
    let filename = stream.hints.as_ref().and_then(|h| h.filename.clone());
    let first_line = text.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_string);
    let title = first_line
        .filter(|l| !l.starts_with('👤') && !l.starts_with('💾'))
        .or(filename)
        .unwrap_or_else(|| hash.to_string());
    let file_idx = match stream.file_idx {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Some(AddonTorrent {
        size: after_marker(&text, '💾')
            .and_then(|s| parse_size(&s))
            .or(stream.hints.and_then(|h| h.video_size))
            .filter(|s| *s > 0),
        seeders: after_marker(&text, '👤').and_then(|s| s.parse().ok()),
        title,
        hash,
        file_idx,
    })
}

/// The text after `marker` up to the next emoji or line end: `"1.4 GB"` after `💾`.
fn after_marker(text: &str, marker: char) -> Option<String> {
    let (_, rest) = text.split_once(marker)?;
    let value: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == ',' || *c == ' ')
        .collect();
    let value = value.trim().to_string();
    (!value.is_empty()).then_some(value)
}

/// `"1.4 GB"`, `"700 MB"`, `"1,2 GB"` in bytes (binary units, as addons compute them).
pub fn parse_size(text: &str) -> Option<u64> {
    let mut parts = text.split_whitespace();
    let number: f64 = parts.next()?.replace(',', ".").parse().ok()?;
    let unit = parts.next().unwrap_or("B").to_ascii_uppercase();
    let scale: f64 = match unit.as_str() {
        "B" => 1.0,
        "KB" | "KIB" => 1024.0,
        "MB" | "MIB" => 1024.0 * 1024.0,
        "GB" | "GIB" => 1024.0 * 1024.0 * 1024.0,
        "TB" | "TIB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number * scale;
    (bytes.is_finite() && bytes >= 1.0).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chillproxy_core::upstream::StatusCode;

    fn reply(body: &str) -> Result<Reply, UpstreamError> {
        Ok(Reply {
            status: StatusCode::OK,
            content_type: "application/json".into(),
            retry_after: None,
            location: None,
            cache_control: None,
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn reads_torrentio_shaped_streams() {
        let body = r#"{"streams":[
            {"name":"Torrentio\n1080p","title":"Breaking.Bad.S01.720p.BluRay.x264\nBreaking.Bad.S01E03.720p.BluRay.x264.mkv\n👤 12 💾 1.4 GB ⚙️ ThePirateBay",
             "infoHash":"5555555555555555555555555555555555555555","fileIdx":3,"behaviorHints":{"bingeGroup":"x","filename":"Breaking.Bad.S01E03.720p.BluRay.x264.mkv"}},
            {"name":"Other","description":"Movie.2020.1080p.WEB\n💾 700 MB","infoHash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
            {"name":"Debrid","url":"https://example.com/x.mkv","title":"no hash here"},
            {"name":"Hints","title":"👤 3","infoHash":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","fileIdx":"2","behaviorHints":{"filename":"F.mkv","videoSize":123456}}
        ],"cacheMaxAge":3600}"#;
        let list = read_streams(reply(body), Duration::from_secs(1)).unwrap();
        assert_eq!(list.max_age, Some(Duration::from_secs(3600)));
        assert_eq!(list.torrents.len(), 3, "the stream without infoHash is not a torrent");
        let pack = &list.torrents[0];
        assert_eq!(pack.title, "Breaking.Bad.S01.720p.BluRay.x264");
        assert_eq!((pack.seeders, pack.file_idx), (Some(12), Some(3)));
        assert_eq!(pack.size, Some((1.4 * 1024.0 * 1024.0 * 1024.0) as u64));
        let other = &list.torrents[1];
        assert_eq!(
            (other.title.as_str(), other.size, other.seeders),
            ("Movie.2020.1080p.WEB", Some(700 * 1024 * 1024), None)
        );
        let hinted = &list.torrents[2];
        assert_eq!(
            (hinted.title.as_str(), hinted.size, hinted.seeders, hinted.file_idx),
            ("F.mkv", Some(123_456), Some(3), Some(2))
        );
    }

    #[test]
    fn sizes_and_failures() {
        assert_eq!(parse_size("1,5 GB"), Some(1_610_612_736));
        assert_eq!(parse_size("12 parsecs"), None);
        assert!(read_streams(reply("<html>"), Duration::from_secs(1)).is_err());
        let timeout = read_streams(Err(UpstreamError::Timeout), Duration::from_millis(700)).unwrap_err();
        assert!(timeout.timed_out && timeout.message.contains("700 ms"));
    }
}
