//! The `torbox-search` source plugin: TorBox's search API (`GET {url}/torrents/imdb:{id}
//! ?season=&episode=&check_cache=true`, `Authorization: Bearer <key>`), reply `{success, message,
//! data: {torrents: [{hash, raw_title, title, size, last_known_seeders, cached, …}]}}`; 404 means
//! no results, 418 no metadata for the id. One call gives candidates and TorBox's cached state
//! (`cached: true` becomes `Candidate::cached_on = ["torbox"]`, so the stream list does not ask
//! TorBox again).
//!
//! A Kitsu id is searched by the IMDb id (and season/episode) its metadata maps it to; one that
//! maps to none by text (`GET {url}/torrents/search/{query}`) with the Kitsu title, keeping the
//! releases that hold the wanted episode ([`text`]).
//!
//! Which key it searches with, `credential`:
//! - `"request"` (the default): the request's TorBox credential (the user's own token or the
//!   pool key Chillstreams granted them). The source runs only for requests that have one, and
//!   the host keeps its results per credential fingerprint.
//! - `"operator"`: the operator's key (`api_key_env`, default `TORBOX_SEARCH_API_KEY`), never a
//!   user's; results are shared by every user. Since May 2026 TorBox admits only whitelisted apps
//!   to this API, so a whitelisted operator key is the way to serve users whose keys are not.
//!
//! Off by default: list it in `[source] chain`. Depends on chillproxy-core, and
//! chillproxy-stremio for release names.

use std::sync::Arc;
use std::time::Duration;

use chillproxy_core::source_cache::{Lifetimes, SourceCache, SourceFailure};
use chillproxy_core::upstream::{
    check_base_url, Method, Reply, Upstream, UpstreamDefaults, UpstreamError, UpstreamOptions, UpstreamSettings,
};
use chillproxy_core::{
    async_trait, check_config, Candidate, ConfigError, EnvVar, Found, InfoHash, MediaQuery, PluginConfig,
    PluginContext, PluginSettings, Secret, SourceError, SourcePlugin, SourceProvider, SourceQuery,
};
use serde::{Deserialize, Serialize};

pub mod text;

pub const NAME: &str = "torbox-search";
const DISPLAY: &str = "TorBox search";
pub const DEFAULT_URL: &str = "https://search-api.torbox.app";
/// The store plugin whose cache `check_cache` reports on, and whose credential is used.
const STORE: &str = "torbox";
pub const DEFAULT_KEY_ENV: &str = "TORBOX_SEARCH_API_KEY";
/// Results are kept an hour (TorBox's reply says nothing about it); failures a minute.
const LIFETIMES: Lifetimes = Lifetimes::fixed(Duration::from_secs(3600), Duration::from_secs(60));

/// Whose TorBox key searches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    /// The request's TorBox credential.
    #[default]
    Request,
    /// The operator's key from `api_key_env`.
    Operator,
}

/// `[source.torbox-search]`; a key left out takes its value from [`Default`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct TorBoxSearchConfig {
    /// The search API's base URL (default TorBox's).
    pub url: String,
    /// `"request"` (default) or `"operator"`.
    pub credential: KeySource,
    /// The environment variable holding the operator's whitelisted TorBox key (with
    /// `credential = "operator"`; default `TORBOX_SEARCH_API_KEY`).
    pub api_key_env: String,
    /// `timeout_ms` (default 8000), `connect_timeout_ms` (3000), `max_in_flight` (16),
    /// `max_body_bytes` (4 MiB), `proxy_url`.
    #[serde(flatten, deserialize_with = "UpstreamSettings::with_defaults::<_, SearchUpstream>")]
    pub upstream: UpstreamSettings,
}

impl Default for TorBoxSearchConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_URL.to_string(),
            credential: KeySource::default(),
            api_key_env: DEFAULT_KEY_ENV.to_string(),
            upstream: UpstreamSettings::defaults::<SearchUpstream>(),
        }
    }
}

pub struct SearchUpstream;

impl UpstreamDefaults for SearchUpstream {
    const TIMEOUT_MS: u64 = 8_000;
    const CONNECT_TIMEOUT_MS: Option<u64> = Some(3_000);
    const MAX_IN_FLIGHT: usize = 16;
    const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
}

impl PluginConfig for TorBoxSearchConfig {
    fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        let config: Self = settings.parse()?;
        config.upstream.check(settings, 100..=60_000)?;
        check_base_url(&settings.section, "url", &config.url)?;
        Ok(config)
    }
}

fn build(context: &PluginContext<'_>) -> Result<Arc<dyn SourceProvider>, ConfigError> {
    let settings = context.settings;
    let config = TorBoxSearchConfig::from_settings(settings)?;
    let base = check_base_url(&settings.section, "url", &config.url)?;
    // A 401/403 reads `refused`: TorBox admits only whitelisted apps to this API.
    let tracker = context.health.tracker(chillproxy_core::health::Kind::Source, NAME);
    let options = UpstreamOptions { health: Some(tracker), ..UpstreamOptions::default() };
    let upstream = Upstream::new(NAME, Some(base), &config.upstream, options)
        .map_err(|e| ConfigError::new(format!("[{}] {e}", settings.section)))?;
    let key = match config.credential {
        KeySource::Request => None,
        KeySource::Operator => {
            let key = settings.env.get(&config.api_key_env).map(str::trim).filter(|k| !k.is_empty()).map(Secret::new);
            if key.is_none() {
                tracing::warn!(source = NAME, variable = %config.api_key_env, "no key set; TorBox search finds nothing");
            }
            Some(key)
        }
    };
    Ok(Arc::new(TorBoxSearch { upstream, key, results: SourceCache::new(20_000, LIFETIMES) }))
}

chillproxy_core::inventory::submit! {
    SourcePlugin {
        name: NAME,
        summary: "TorBox's search API with the request's TorBox key, or the operator's (list it in [source] chain)",
        searches: "TorBox search",
        env: &[EnvVar { name: DEFAULT_KEY_ENV, help: "the operator's whitelisted TorBox key for the torbox-search source" }],
        check: check_config::<TorBoxSearchConfig>,
        build,
    }
}

type Searched = Result<Arc<Vec<Candidate>>, SourceFailure>;

pub struct TorBoxSearch {
    upstream: Upstream,
    /// `None`: the request's credential. `Some`: the operator's key (`Some(None)` when its
    /// variable is unset, and then nothing is searched).
    key: Option<Option<Secret>>,
    /// Per search and key fingerprint: a cached answer never serves another credential.
    results: SourceCache<(Asked, String), Arc<Vec<Candidate>>>,
}

/// What one call asks: by id (a title or episode), or by text (kept whole, so every episode of
/// a show shares one text search; each request keeps its own episode from it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Asked {
    Id(MediaQuery),
    Text(String),
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    success: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(default)]
    torrents: Vec<Torrent>,
}

#[derive(Deserialize)]
struct Torrent {
    hash: String,
    #[serde(default)]
    raw_title: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    size: Option<serde_json::Value>,
    #[serde(default)]
    last_known_seeders: Option<i64>,
    /// With `check_cache=true`: whether TorBox has it cached.
    #[serde(default)]
    cached: Option<bool>,
}

/// Reads a reply: 404 and 418 are "nothing" (no results, no metadata), not failures.
pub fn read_reply(reply: Result<Reply, UpstreamError>, timeout: Duration) -> Result<Vec<Candidate>, SourceFailure> {
    let fail = SourceFailure::new;
    let reply = reply.map_err(|e| SourceFailure::from_upstream(e, timeout))?;
    if matches!(reply.status.as_u16(), 404 | 418) {
        return Ok(Vec::new());
    }
    let envelope: Option<Envelope> = serde_json::from_slice(&reply.body).ok();
    let Some(envelope) = envelope else {
        return Err(fail(format!("HTTP {}: the reply is not TorBox's", reply.status.as_u16())));
    };
    if !reply.status.is_success() || !envelope.success {
        let said = envelope.error.or(envelope.message).unwrap_or_default();
        return Err(fail(format!("HTTP {}: {}", reply.status.as_u16(), said.trim())));
    }
    let torrents = envelope.data.map(|d| d.torrents).unwrap_or_default();
    Ok(torrents
        .into_iter()
        .filter_map(|t| {
            let hash = InfoHash::parse(t.hash.trim())?;
            let title = t.raw_title.or(t.title).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
            let size = match t.size {
                Some(serde_json::Value::Number(n)) => n.as_u64(),
                Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
                _ => None,
            };
            Some(Candidate {
                title: title.unwrap_or_else(|| hash.to_string()),
                hash,
                size: size.filter(|s| *s > 0),
                seeders: t.last_known_seeders.and_then(|s| u32::try_from(s).ok()),
                indexer: DISPLAY.to_string(),
                files: Vec::new(),
                file_idx: None,
                cached_on: if t.cached == Some(true) { vec![STORE.to_string()] } else { Vec::new() },
                nzb: None,
            })
        })
        .collect())
}

async fn search_torbox(upstream: &Upstream, key: &Secret, asked: &Asked) -> Searched {
    let mut query: Vec<(&str, String)> = vec![("metadata", "false".into()), ("check_cache", "true".into())];
    let (path, endpoint) = match asked {
        Asked::Id(media) => {
            if let (Some(season), Some(episode)) = (media.season, media.episode) {
                query.push(("season", season.to_string()));
                query.push(("episode", episode.to_string()));
            }
            (format!("/torrents/imdb:{}", media.imdb_id), "torrents")
        }
        Asked::Text(words) => (text::path(words), "torrents_search"),
    };
    let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let request = upstream.request(Method::GET, endpoint, &path).query(&pairs).bearer(key).accept("application/json");
    let timeout = upstream.timeout();
    upstream.call(request, |reply| read_reply(reply, timeout)).await.map(Arc::new)
}

#[async_trait]
impl SourceProvider for TorBoxSearch {
    fn name(&self) -> &'static str {
        NAME
    }

    fn credential_store(&self) -> Option<&'static str> {
        self.key.is_none().then_some(STORE)
    }

    async fn search(&self, query: &SourceQuery<'_>) -> Result<Found, SourceError> {
        let key = match &self.key {
            Some(operator) => operator.clone(),
            None => query.credential.map(|c| c.key.clone()),
        };
        let Some(key) = key else { return Ok(Found::default()) };
        let media = query.media;
        if media.imdb().is_some() {
            let candidates = self.load(Asked::Id(media.clone()), key).await?;
            return Ok(Found::from(candidates.as_ref().clone()));
        }
        // A Kitsu id that maps to no IMDb id: by its titles, the first that finds the episode.
        let Some(meta) = query.meta else { return Ok(Found::default()) };
        let titles = meta.titles();
        for title in titles.iter().take(text::MAX_TITLES) {
            let Some(words) = text::query_text(title) else { continue };
            let candidates = self.load(Asked::Text(words), key.clone()).await?;
            let kept: Vec<Candidate> =
                candidates.iter().filter(|c| text::wanted(&c.title, media, &titles, meta.year)).cloned().collect();
            if !kept.is_empty() {
                return Ok(Found::from(kept));
            }
        }
        Ok(Found::default())
    }
}

impl TorBoxSearch {
    /// One search with `key`, cached per search and key fingerprint.
    async fn load(&self, asked: Asked, key: Secret) -> Result<Arc<Vec<Candidate>>, SourceError> {
        let upstream = self.upstream.clone();
        let cache_key = (asked.clone(), key.fingerprint());
        self.results
            .get_or_load(cache_key, None, move || async move {
                search_torbox(&upstream, &key, &asked).await.map(|candidates| (candidates, None))
            })
            .await
            .map_err(|failure| failure.into_source_error(DISPLAY, self.upstream.timeout()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chillproxy_core::upstream::StatusCode;

    fn reply(status: u16, body: &str) -> Result<Reply, UpstreamError> {
        Ok(Reply {
            status: StatusCode::from_u16(status).unwrap(),
            content_type: "application/json".into(),
            retry_after: None,
            location: None,
            cache_control: None,
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn keys_left_out_take_the_defaults() {
        let parse = |text: &str| {
            let table = toml::from_str(text).unwrap();
            let settings = PluginSettings::new("source.torbox-search", table, chillproxy_core::Env::default());
            TorBoxSearchConfig::from_settings(&settings).unwrap()
        };
        let table = |config: &TorBoxSearchConfig| toml::Table::try_from(config).unwrap();
        let empty = parse("");
        assert_eq!(table(&empty), table(&TorBoxSearchConfig::default()));
        assert_eq!(
            (empty.url.as_str(), empty.credential, empty.api_key_env.as_str()),
            (DEFAULT_URL, KeySource::Request, DEFAULT_KEY_ENV)
        );
        assert_eq!((empty.upstream.timeout_ms, empty.upstream.connect_timeout_ms), (8_000, 3_000));
        let operator = parse("credential = 'operator'");
        assert_eq!((operator.credential, operator.api_key_env.as_str()), (KeySource::Operator, DEFAULT_KEY_ENV));
    }

    #[test]
    fn reads_the_documented_reply() {
        let body = r#"{"success":true,"message":"Found 2 torrents","data":{"metadata":null,"torrents":[
            {"hash":"1111111111111111111111111111111111111111","raw_title":"Movie.1994.1080p.BluRay","title":"Movie","size":"8400000000","last_known_seeders":412,"type":"torrent","cached":true},
            {"hash":"nope","raw_title":"x"}],"time_taken":0.19,"cached":true,"total_torrents":2}}"#;
        let found = read_reply(reply(200, body), Duration::from_secs(1)).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].title.as_str(), found[0].size, found[0].seeders),
            ("Movie.1994.1080p.BluRay", Some(8_400_000_000), Some(412))
        );
        assert_eq!(found[0].cached_on, vec!["torbox".to_string()], "check_cache's answer is kept");
        assert!(read_reply(reply(404, r#"{"success":false,"error":"NOT_FOUND","data":null}"#), Duration::from_secs(1))
            .unwrap()
            .is_empty());
        assert!(read_reply(reply(418, ""), Duration::from_secs(1)).unwrap().is_empty());
        let error =
            read_reply(reply(403, r#"{"success":false,"error":"BAD_TOKEN","data":null}"#), Duration::from_secs(1))
                .unwrap_err();
        assert_eq!(error.message, "HTTP 403: BAD_TOKEN");
    }
}
