//! Metadata for ids that need it, from the Anime Kitsu addon's meta resource (`[meta]`):
//!
//! - `kitsu:ID` / `kitsu:ID:EP`: `GET {kitsu_url}/meta/{type}/kitsu:ID.json` gives the title, its
//!   aliases and year (for sources that search by text) and, per episode, the IMDb id, season
//!   and episode the addon maps it to (`videos[].imdb_id`, `imdbSeason`, `imdbEpisode`), so
//!   sources that search by IMDb id can. A Kitsu addon that fails is a ⚠️ on kitsu lists only.
//! - `tt…:S:E`: `GET {kitsu_url}/meta/series/tt….json` answers for the anime the addon maps, its
//!   videos carrying `kitsuEpisode`: the episode's number from the show's start, as anime is
//!   released (`One Piece - 1085`). A tt list waits for it at most `episode_wait_ms` and goes on
//!   without it otherwise: a Kitsu addon that is down or slow never changes a tt list.
//!
//! Lookups are single-flighted and shared with the other replicas (`cp:v1:kitsu:<id>`), kept a
//! day; a failed one is remembered for a minute, an IMDb id the addon does not map for six hours
//! (the addon's SDK answers it with HTTP 500 `{"err": "handler error"}`, which counts as an answer).
//! Below both features: the stream list and playback read the same answers.

use std::sync::Arc;
use std::time::Duration;

use chillproxy_core::cache::{FlightCache, SharedCache};
use chillproxy_core::health::{Health, Kind};
use chillproxy_core::source_cache::SourceFailure;
use chillproxy_core::upstream::{
    check_base_url, Method, Reply, Upstream, UpstreamError, UpstreamOptions, UpstreamSettings,
};
use chillproxy_core::{ConfigError, MediaKind, MediaMeta, MediaQuery, SharedState};
use serde::{Deserialize, Serialize};

use crate::config::MetaConfig;

const KEEP: Duration = Duration::from_secs(24 * 3600);
const KEEP_UNKNOWN: Duration = Duration::from_secs(6 * 3600);
const KEEP_FAILURE: Duration = Duration::from_secs(60);

/// What is kept of one meta reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShowMeta {
    pub meta: MediaMeta,
    /// The IMDb id the addon maps the whole entry to.
    pub imdb_id: Option<String>,
    pub videos: Vec<Video>,
}

/// One episode of a meta reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Video {
    pub season: Option<u32>,
    pub episode: Option<u32>,
    pub imdb_id: Option<String>,
    pub imdb_season: Option<u32>,
    pub imdb_episode: Option<u32>,
    pub kitsu_episode: Option<u32>,
}

/// A lookup's outcome: the meta, or why there is none (`unknown`: the addon answered that it
/// has no such id).
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Lookup {
    Found(Arc<ShowMeta>),
    Failed { message: String, unknown: bool },
}

/// A media with what the metadata adds.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub media: MediaQuery,
    pub meta: Option<Arc<MediaMeta>>,
}

/// The lookups. Cheap to clone.
#[derive(Clone)]
pub struct MetaLookup {
    upstream: Upstream,
    cache: SharedCache<String, Lookup, ()>,
    timeout: Duration,
    episode_wait: Duration,
}

impl MetaLookup {
    /// Calls report to `health` as `metadata/kitsu`.
    pub fn new(config: &MetaConfig, shared: SharedState, health: &Health) -> Result<Self, ConfigError> {
        let base = check_base_url("meta", "kitsu_url", &config.kitsu_url)?;
        let mut settings = UpstreamSettings::defaults::<KitsuDefaults>();
        settings.timeout_ms = config.timeout_ms;
        settings.connect_timeout_ms = config.timeout_ms.min(2_000);
        let options =
            UpstreamOptions { health: Some(health.tracker(Kind::Metadata, "kitsu")), ..UpstreamOptions::default() };
        let upstream = Upstream::new("kitsu", Some(base), &settings, options)
            .map_err(|e| ConfigError::new(format!("[meta] {e}")))?;
        Ok(Self {
            upstream,
            cache: SharedCache::new(FlightCache::new(10_000), shared, "kitsu", |id: &String| id.clone()),
            timeout: Duration::from_millis(config.timeout_ms),
            episode_wait: Duration::from_millis(config.episode_wait_ms),
        })
    }

    /// `media` with what its metadata adds: for a Kitsu id, the IMDb mapping and the titles
    /// (`Err`: a message for the user, the addon failed); for an IMDb episode the addon
    /// numbers, its absolute number. Anything else comes back as it is.
    pub async fn resolve(&self, media: &MediaQuery) -> Result<Resolved, String> {
        let unchanged = || Resolved { media: media.clone(), meta: None };
        if let Some(kitsu_id) = media.kitsu_id {
            let kind = kind_path(media.kind);
            let lookup = tokio::time::timeout(
                self.timeout + Duration::from_millis(250),
                self.lookup(kind, format!("kitsu:{kitsu_id}")),
            )
            .await
            .unwrap_or_else(|_| Lookup::Failed { message: self.timed_out(), unknown: false });
            return match lookup {
                Lookup::Found(show) => Ok(apply_kitsu(media, &show)),
                Lookup::Failed { unknown: true, .. } => {
                    Err(format!("The Kitsu addon has no details for kitsu:{kitsu_id}; try again later."))
                }
                Lookup::Failed { message, .. } => Err(format!("The anime's details could not be read: {message}.")),
            };
        }
        let (Some(imdb), Some(season), Some(episode)) = (media.imdb(), media.season, media.episode) else {
            return Ok(unchanged());
        };
        // The flight goes on after the wait: the next list has the answer.
        let lookup = tokio::time::timeout(self.episode_wait, self.lookup("series", imdb.to_string())).await;
        let Ok(Lookup::Found(show)) = lookup else { return Ok(unchanged()) };
        let absolute = show
            .videos
            .iter()
            .find(|v| v.season == Some(season) && v.episode == Some(episode))
            .and_then(|v| v.kitsu_episode);
        let Some(absolute) = absolute else { return Ok(unchanged()) };
        // The show's name comes with it: sources search `<name> <absolute>` by text.
        Ok(Resolved {
            media: MediaQuery { absolute_episode: Some(absolute), ..media.clone() },
            meta: Some(Arc::new(show.meta.clone())),
        })
    }

    fn timed_out(&self) -> String {
        format!("the Kitsu addon did not answer within {} ms", self.timeout.as_millis())
    }

    async fn lookup(&self, kind: &'static str, id: String) -> Lookup {
        let upstream = self.upstream.clone();
        let loaded = self
            .cache
            .get_or_load(id.clone(), move || async move {
                let lookup = fetch(&upstream, kind, &id).await;
                // An IMDb id the addon does not map stays unmapped for hours; a Kitsu id it has no
                // details for may be Kitsu's own outage: a minute.
                let keep = match &lookup {
                    Lookup::Found(_) => KEEP,
                    Lookup::Failed { unknown: true, .. } if id.starts_with("tt") => KEEP_UNKNOWN,
                    Lookup::Failed { .. } => KEEP_FAILURE,
                };
                Ok((lookup, Some(keep)))
            })
            .await;
        loaded.unwrap_or_else(|()| Lookup::Failed { message: "the lookup failed".into(), unknown: false })
    }
}

struct KitsuDefaults;

impl chillproxy_core::upstream::UpstreamDefaults for KitsuDefaults {
    const TIMEOUT_MS: u64 = 4_000;
    const MAX_IN_FLIGHT: usize = 32;
    const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
}

fn kind_path(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Movie => "movie",
        MediaKind::Series => "series",
    }
}

/// A Kitsu id's media: the episode's IMDb mapping (or, for a movie, the entry's), the titles.
fn apply_kitsu(media: &MediaQuery, show: &ShowMeta) -> Resolved {
    let mut resolved = media.clone();
    match media.absolute_episode {
        Some(number) => {
            let video = show.videos.iter().find(|v| v.episode == Some(number));
            if let Some((imdb, season, episode)) =
                video.and_then(|v| Some((v.imdb_id.as_ref()?, v.imdb_season?, v.imdb_episode?)))
            {
                resolved.imdb_id = imdb.clone();
                resolved.season = Some(season);
                resolved.episode = Some(episode);
            }
        }
        None if media.kind == MediaKind::Movie => {
            if let Some(imdb) = &show.imdb_id {
                resolved.imdb_id = imdb.clone();
            }
        }
        None => {}
    }
    if !resolved.imdb_id.starts_with("tt") {
        resolved.imdb_id.clear();
    }
    Resolved { media: resolved, meta: Some(Arc::new(show.meta.clone())) }
}

async fn fetch(upstream: &Upstream, kind: &str, id: &str) -> Lookup {
    let request = upstream.request(Method::GET, "meta", &format!("/meta/{kind}/{id}.json"));
    let timeout = upstream.timeout();
    match upstream.call(request, |reply| read_meta(reply, timeout)).await {
        Ok(Some(show)) => Lookup::Found(Arc::new(show)),
        Ok(None) => Lookup::Failed { message: "no such id".into(), unknown: true },
        Err(failure) => Lookup::Failed { message: failure.message, unknown: false },
    }
}

#[derive(Deserialize)]
struct MetaReply {
    meta: Option<RawMeta>,
}

#[derive(Deserialize)]
struct RawMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    aliases: Vec<serde_json::Value>,
    #[serde(default)]
    year: Option<serde_json::Value>,
    #[serde(default, rename = "releaseInfo")]
    release_info: Option<serde_json::Value>,
    #[serde(default)]
    imdb_id: Option<String>,
    #[serde(default)]
    videos: Vec<RawVideo>,
}

#[derive(Deserialize)]
struct RawVideo {
    #[serde(default)]
    season: Option<serde_json::Value>,
    #[serde(default)]
    episode: Option<serde_json::Value>,
    #[serde(default)]
    number: Option<serde_json::Value>,
    #[serde(default)]
    imdb_id: Option<String>,
    #[serde(default, rename = "imdbSeason")]
    imdb_season: Option<serde_json::Value>,
    #[serde(default, rename = "imdbEpisode")]
    imdb_episode: Option<serde_json::Value>,
    #[serde(default, rename = "kitsuEpisode")]
    kitsu_episode: Option<serde_json::Value>,
}

/// A number as the addon writes it (`8`, `"8"`).
fn number(value: &Option<serde_json::Value>) -> Option<u32> {
    match value.as_ref()? {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The first four-digit run: `"2023-2024"`, `2023`.
fn first_year(value: &Option<serde_json::Value>) -> Option<u32> {
    match value.as_ref()? {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(s) => {
            s.split(|c: char| !c.is_ascii_digit()).find(|run| run.len() == 4).and_then(|run| run.parse().ok())
        }
        _ => None,
    }
}

/// The meta in a reply: `Ok(None)` when the addon says it has no such id (`{"meta": null}`, or
/// a 4xx/5xx the SDK sends for an id it rejects).
fn read_meta(reply: Result<Reply, UpstreamError>, timeout: Duration) -> Result<Option<ShowMeta>, SourceFailure> {
    let reply = reply.map_err(|e| match e {
        UpstreamError::Timeout => SourceFailure {
            message: format!("the Kitsu addon did not answer within {} ms", timeout.as_millis()),
            timed_out: true,
        },
        other => SourceFailure::new(format!("the Kitsu addon failed: {other}")),
    })?;
    // The addon SDK answers an id its handler rejects (`No imdb mapping for: tt…`, an id Kitsu
    // does not know) with 500 `{"err": "handler error"}`: the addon works, it has no such id.
    let handler_error =
        || serde_json::from_slice::<serde_json::Value>(&reply.body).is_ok_and(|body| body.get("err").is_some());
    if reply.status.as_u16() == 404 || (reply.status.as_u16() == 500 && handler_error()) {
        return Ok(None);
    }
    if !reply.status.is_success() {
        return Err(SourceFailure::new(format!("the Kitsu addon answered HTTP {}", reply.status.as_u16())));
    }
    let parsed: MetaReply = serde_json::from_slice(&reply.body)
        .map_err(|_| SourceFailure::new("the Kitsu addon's reply is not a Stremio meta"))?;
    let Some(raw) = parsed.meta.filter(|m| !m.name.trim().is_empty()) else { return Ok(None) };
    let aliases = raw.aliases.iter().filter_map(|a| a.as_str()).map(|a| a.trim().to_string()).filter(|a| !a.is_empty());
    let meta = MediaMeta {
        name: raw.name.trim().to_string(),
        aliases: aliases.take(20).collect(),
        year: first_year(&raw.year).or_else(|| first_year(&raw.release_info)),
    };
    let videos = raw
        .videos
        .iter()
        .take(5_000)
        .map(|v| Video {
            season: number(&v.season),
            episode: number(&v.episode).or_else(|| number(&v.number)),
            imdb_id: v.imdb_id.clone().filter(|id| id.starts_with("tt")),
            imdb_season: number(&v.imdb_season),
            imdb_episode: number(&v.imdb_episode),
            kitsu_episode: number(&v.kitsu_episode),
        })
        .collect();
    let imdb_id = raw.imdb_id.filter(|id| id.starts_with("tt"));
    Ok(Some(ShowMeta { meta, imdb_id, videos }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(body: serde_json::Value) -> Result<Reply, UpstreamError> {
        Ok(Reply {
            status: chillproxy_core::upstream::StatusCode::OK,
            content_type: "application/json".into(),
            retry_after: None,
            location: None,
            cache_control: None,
            body: body.to_string().into_bytes(),
        })
    }

    #[test]
    fn reads_the_addons_meta_shape() {
        let body = serde_json::json!({"meta": {
            "id": "kitsu:46474", "kitsu_id": "46474", "type": "series", "animeType": "TV",
            "name": "Sousou no Frieren", "aliases": ["Frieren: Beyond Journey's End", "Sousou no Frieren"],
            "releaseInfo": "2023-2024", "year": "2023-2024", "imdb_id": "tt22248376",
            "videos": [
                {"id": "kitsu:46474:1", "season": 1, "episode": 1, "imdb_id": "tt22248376", "imdbSeason": 1, "imdbEpisode": 1},
                {"id": "kitsu:46474:8", "season": 1, "episode": 8, "imdb_id": "tt22248376", "imdbSeason": 1, "imdbEpisode": 8},
            ],
        }});
        let show = read_meta(reply(body), Duration::from_secs(1)).unwrap().unwrap();
        assert_eq!(show.meta.year, Some(2023));
        assert_eq!(show.meta.titles(), vec!["Sousou no Frieren", "Frieren: Beyond Journey's End"]);
        let media = chillproxy_stremio::parse_media("series", "kitsu:46474:8").unwrap();
        let resolved = apply_kitsu(&media, &show);
        assert_eq!(
            (resolved.media.imdb_id.as_str(), resolved.media.season, resolved.media.episode),
            ("tt22248376", Some(1), Some(8))
        );
        assert_eq!(resolved.media.absolute_episode, Some(8));
        let unmapped = chillproxy_stremio::parse_media("series", "kitsu:46474:20").unwrap();
        assert_eq!(apply_kitsu(&unmapped, &show).media.imdb(), None);
        assert!(read_meta(reply(serde_json::json!({"meta": null})), Duration::from_secs(1)).unwrap().is_none());
        let mut rejected = reply(serde_json::json!({"err": "handler error"})).unwrap();
        rejected.status = chillproxy_core::upstream::StatusCode::INTERNAL_SERVER_ERROR;
        assert!(read_meta(Ok(rejected.clone()), Duration::from_secs(1)).unwrap().is_none(), "the SDK's rejection");
        rejected.body = b"<html>502 Bad Gateway</html>".to_vec();
        assert!(read_meta(Ok(rejected), Duration::from_secs(1)).is_err(), "a broken addon is a failure");
    }
}
