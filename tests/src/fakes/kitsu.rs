//! A fake of the Anime Kitsu addon's meta resource (`https://anime-kitsu.strem.fun`, the
//! addon Stremio's anime catalogs come from), in the shape its code writes
//! (TheBeastLT/stremio-kitsu-anime, `lib/metadata.js` and `lib/metadataEnrich.js`):
//!
//! - `GET /meta/{type}/kitsu:ID.json` → `{"meta": {"id": "kitsu:ID", "kitsu_id", "type",
//!   "animeType", "name" (the canonical title), "aliases" (English and romaji titles, abbreviated
//!   titles), "releaseInfo" and "year" (`"2023-2024"`), "imdb_id" (when the addon maps the
//!   entry), "videos": [{"id": "kitsu:ID:N", "title", "released", "season": 1, "episode": N,
//!   and, when mapped, "imdb_id", "imdbSeason", "imdbEpisode"}]}, "cacheMaxAge"}`. A movie has
//!   no videos.
//! - `GET /meta/{type}/tt….json` for an IMDb id the addon maps: Cinemeta's meta with `kitsu_id`
//!   and, per video, `kitsu_id` and `kitsuEpisode` (the episode numbered from the Kitsu entry's
//!   start).
//! - An IMDb id it does not map, or a Kitsu id it does not know: the handler rejects it and the
//!   addon SDK answers HTTP 500 `{"err": "handler error"}`. [`KitsuControl::set_down`] answers
//!   503 (the host is down), [`KitsuControl::set_delay`] sleeps first. Every request is recorded.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{serve, Running};

/// One Kitsu entry.
#[derive(Debug, Clone)]
pub struct Anime {
    pub kitsu_id: u32,
    /// `TV`, `movie`, `OVA`, …
    pub anime_type: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub release_info: String,
    pub episodes: u32,
    /// The IMDb id the addon maps the entry to, and from which season and episode.
    pub imdb: Option<(String, u32, u32)>,
}

impl Anime {
    /// Sousou no Frieren as the addon lists it (TV, 28 episodes), under `kitsu_id`, mapped to
    /// IMDb from `imdb` (id, season, episode) when given.
    pub fn frieren(kitsu_id: u32, imdb: Option<(String, u32, u32)>) -> Self {
        Self {
            kitsu_id,
            anime_type: "TV".into(),
            name: "Sousou no Frieren".into(),
            aliases: vec!["Frieren: Beyond Journey's End".into()],
            release_info: "2023-2024".into(),
            episodes: 28,
            imdb,
        }
    }

    /// Kimi no Na wa. (Your Name.), a movie, under `kitsu_id`.
    pub fn your_name(kitsu_id: u32) -> Self {
        Self {
            kitsu_id,
            anime_type: "movie".into(),
            name: "Kimi no Na wa.".into(),
            aliases: vec!["Your Name.".into()],
            release_info: "2016".into(),
            episodes: 1,
            imdb: None,
        }
    }
}

/// An IMDb video the addon maps: (season, episode, kitsu id, kitsu episode).
pub type MappedVideo = (u32, u32, u32, u32);

#[derive(Debug, Default)]
struct FakeState {
    anime: Vec<Anime>,
    /// IMDb id → (name, videos: (season, episode, kitsu id, kitsu episode)).
    imdb: Vec<(String, String, Vec<MappedVideo>)>,
    down: bool,
    delay: Option<Duration>,
    calls: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct KitsuControl {
    state: Arc<Mutex<FakeState>>,
}

impl KitsuControl {
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn add_anime(&self, anime: Anime) {
        self.lock().anime.push(anime);
    }

    /// An IMDb show the addon maps: its videos `(season, episode, kitsu id, kitsu episode)`.
    pub fn add_imdb_show(&self, imdb_id: &str, name: &str, videos: Vec<MappedVideo>) {
        self.lock().imdb.push((imdb_id.into(), name.into(), videos));
    }

    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    pub fn set_delay(&self, delay: Option<Duration>) {
        self.lock().delay = delay;
    }

    /// The paths requested, oldest first.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    pub fn router(&self) -> Router {
        Router::new().route("/meta/{kind}/{file}", get(meta)).with_state(self.clone())
    }
}

fn kitsu_meta(anime: &Anime) -> Value {
    let kind = if anime.anime_type == "movie" { "movie" } else { "series" };
    let mut meta = json!({
        "id": format!("kitsu:{}", anime.kitsu_id),
        "kitsu_id": anime.kitsu_id.to_string(),
        "type": kind,
        "animeType": anime.anime_type,
        "name": anime.name,
        "slug": anime.name.to_lowercase().replace(' ', "-"),
        "aliases": anime.aliases,
        "genres": ["Adventure", "Fantasy"],
        "releaseInfo": anime.release_info,
        "year": anime.release_info,
        "status": "finished",
        "runtime": "24 min",
        "links": [],
    });
    if let Some((imdb, _, _)) = &anime.imdb {
        meta["imdb_id"] = json!(imdb);
    }
    if kind == "series" {
        let videos: Vec<Value> = (1..=anime.episodes)
            .map(|n| {
                let mut video = json!({
                    "id": format!("kitsu:{}:{n}", anime.kitsu_id),
                    "title": format!("Episode {n}"),
                    "released": "2023-09-29T00:00:00.000Z",
                    "season": 1,
                    "episode": n,
                });
                if let Some((imdb, season, from)) = &anime.imdb {
                    video["imdb_id"] = json!(imdb);
                    video["imdbSeason"] = json!(season);
                    video["imdbEpisode"] = json!(from - 1 + n);
                }
                video
            })
            .collect();
        meta["videos"] = json!(videos);
    }
    json!({ "meta": meta, "cacheMaxAge": 259_200 })
}

async fn meta(State(control): State<KitsuControl>, Path((kind, file)): Path<(String, String)>) -> Response {
    let (down, delay, reply) = {
        let mut state = control.lock();
        state.calls.push(format!("/meta/{kind}/{file}"));
        let id = file.strip_suffix(".json").unwrap_or(&file).to_string();
        let reply = if let Some(kitsu) = id.strip_prefix("kitsu:").and_then(|n| n.parse::<u32>().ok()) {
            state.anime.iter().find(|a| a.kitsu_id == kitsu).map(kitsu_meta)
        } else {
            state.imdb.iter().find(|(imdb, _, _)| *imdb == id).map(|(imdb, name, videos)| {
                let videos: Vec<Value> = videos
                    .iter()
                    .map(|(season, episode, kitsu_id, kitsu_episode)| {
                        json!({
                            "id": format!("{imdb}:{season}:{episode}"), "name": format!("Episode {episode}"),
                            "season": season, "episode": episode, "number": episode,
                            "kitsu_id": kitsu_id.to_string(), "kitsuEpisode": kitsu_episode,
                        })
                    })
                    .collect();
                json!({"meta": {"id": imdb, "imdb_id": imdb, "type": "series", "name": name, "videos": videos}})
            })
        };
        (state.down, state.delay, reply)
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    if down {
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
    }
    match reply {
        Some(body) => Json(body).into_response(),
        None => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"err": "handler error"}))).into_response(),
    }
}

/// A running fake on 127.0.0.1:0.
pub struct FakeKitsu {
    pub control: KitsuControl,
    server: Running,
}

impl std::ops::Deref for FakeKitsu {
    type Target = KitsuControl;

    fn deref(&self) -> &KitsuControl {
        &self.control
    }
}

impl FakeKitsu {
    pub async fn start() -> Self {
        let control = KitsuControl::default();
        let server = serve(control.router()).await;
        Self { control, server }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }
}
