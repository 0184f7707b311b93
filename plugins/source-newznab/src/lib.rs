//! The `newznab` source plugin: usenet indexers that speak Newznab (NZBHydra2, Prowlarr's
//! Newznab endpoints, NZBgeek-like indexers). Each indexer's caps are read first (kept a day);
//! it is searched with `t=movie`/`t=tvsearch` and `imdbid` **without** `tt` (with `season`/`ep`)
//! only where the caps announce them, otherwise by title (the same lookup Torznab uses); anime
//! (a Kitsu id, an episode numbered from the show's start) by title too, with the request's
//! metadata, as Torznab does (`chillproxy_indexer_protocol::search`). Items
//! become NZB candidates ([`Candidate::usenet`]): title, size, the link's identity (the md5 of
//! the normalised link, `chillproxy_indexer_protocol::nzb`) and the link with the indexer's key
//! cut out. Operator indexers come from `[source.newznab]`, user indexers from the user config's
//! `newznab` list (at most [`MAX_USER_INDEXERS`]). The indexer protocol (caps, search URLs, error
//! codes, RSS, manners, the outbound URL policy for users' indexers) is
//! `chillproxy-indexer-protocol`, shared with `source-torznab`.
//!
//! Modules: `items` (an item and its candidate); `search` (one indexer's search); this file
//! (config, merging).

mod items;
mod search;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chillproxy_core::upstream::{check_base_url, OutboundPolicy, Upstream, UpstreamOptions, UpstreamSettings};
use chillproxy_core::{
    async_trait, check_config, ConfigError, Env, Found, NzbIndexer, PluginConfig, PluginContext, PluginSettings,
    Secret, SourceError, SourcePlugin, SourceProvider, SourceQuery, UserIndexer,
};
use chillproxy_indexer_protocol as protocol;
use protocol::{Dialect, Indexer};
use serde::{Deserialize, Serialize};

pub use items::{nzb_item, NzbItem};

pub const NAME: &str = "newznab";
/// Stremio's Cinemeta, the default metadata addon for titles.
pub const DEFAULT_META_URL: &str = "https://v3-cinemeta.strem.io";
/// At most this many of the user's own indexers are queried; the rest are ignored.
pub const MAX_USER_INDEXERS: usize = 5;

/// One operator-level indexer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IndexerConfig {
    pub name: String,
    /// The indexer's API URL (`https://api.nzbgeek.info`, `http://hydra:5076`, a Prowlarr
    /// `http://prowlarr:9696/{id}`): `/api` is added unless the path ends in it.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    /// Read the API key from this environment variable instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
}

/// `[source.newznab]`; a key left out takes its value from [`Default`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct NewznabConfig {
    /// `timeout_ms` (budget for each indexer query), `connect_timeout_ms`, `max_in_flight`,
    /// `max_body_bytes`, `proxy_url`.
    #[serde(flatten, deserialize_with = "UpstreamSettings::with_defaults::<_, NewznabUpstream>")]
    pub upstream: UpstreamSettings,
    pub indexers: Vec<IndexerConfig>,
    /// The Stremio metadata addon that names titles for indexers that search by text only.
    pub meta_url: String,
    /// Budget of one title lookup, in ms (default 3000).
    pub meta_timeout_ms: u64,
    /// How long an indexer that failed is not asked again, in seconds (30–120, default 60); a
    /// refused key five times as long; a 429 or a limit error for its `Retry-After`.
    pub failure_pause_s: u64,
}

impl Default for NewznabConfig {
    fn default() -> Self {
        Self {
            upstream: UpstreamSettings::defaults::<NewznabUpstream>(),
            indexers: Vec::new(),
            meta_url: DEFAULT_META_URL.to_string(),
            meta_timeout_ms: 3_000,
            failure_pause_s: 60,
        }
    }
}

/// The upstream defaults both indexer plugins share (`chillproxy_indexer_protocol::config`).
pub type NewznabUpstream = protocol::config::IndexerUpstream;

impl NewznabConfig {
    pub fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        let config: Self = settings.parse()?;
        let section = &settings.section;
        protocol::config::check_source_settings(
            settings,
            &config.upstream,
            &config.meta_url,
            config.meta_timeout_ms,
            config.failure_pause_s,
        )?;
        let mut names = HashSet::new();
        for indexer in &config.indexers {
            protocol::config::check_indexer(
                section,
                &indexer.name,
                &indexer.url,
                indexer.api_key.is_some(),
                indexer.api_key_env.is_some(),
            )?;
            // Playback finds an operator indexer's key by its name.
            if !names.insert(indexer.name.trim().to_string()) {
                return Err(ConfigError::new(format!("[{section}] two indexers are named {:?}", indexer.name.trim())));
            }
        }
        Ok(config)
    }

    /// The operator's indexers with their API keys (`api_key`, or the variable `api_key_env`
    /// names).
    pub fn resolve_indexers(&self, section: &str, env: &Env) -> Result<Vec<Indexer>, ConfigError> {
        self.indexers
            .iter()
            .map(|indexer| {
                let name = indexer.name.trim().to_string();
                let key = indexer.api_key.as_ref();
                let api_key = protocol::config::resolve_key(section, &name, key, indexer.api_key_env.as_deref(), env)?;
                Ok(Indexer::new(name, &indexer.url, api_key).speaking(Dialect::Newznab))
            })
            .collect()
    }
}

impl PluginConfig for NewznabConfig {
    fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        NewznabConfig::from_settings(settings)
    }
}

fn build(context: &PluginContext<'_>) -> Result<Arc<dyn SourceProvider>, ConfigError> {
    Ok(Arc::new(NewznabSource::new(
        context.settings,
        context.shared.clone(),
        context.outbound.clone(),
        &context.health,
    )?))
}

chillproxy_core::inventory::submit! {
    SourcePlugin {
        name: NAME,
        summary: "Newznab usenet indexers: NZBHydra2, Prowlarr, NZBgeek-like (NZBs for stores that play usenet)",
        searches: "Newznab indexers",
        env: &[],
        check: check_config::<NewznabConfig>,
        build,
    }
}

/// Queries the operator's indexers and the user's own in parallel and merges their NZBs by
/// identity.
pub struct NewznabSource {
    searcher: search::IndexerSearch,
    indexers: Vec<Indexer>,
}

impl NewznabSource {
    /// With a fresh in-process shared tier and the public-only outbound policy: tests.
    pub fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        Self::new(
            settings,
            chillproxy_core::SharedState::default(),
            OutboundPolicy::public_only(),
            &chillproxy_core::health::Health::default(),
        )
    }

    /// `policy` governs users' indexers (each redirect hop and resolved address checked); each
    /// operator indexer reports to its entry in `health`, the title lookups to `metadata`.
    pub fn new(
        settings: &PluginSettings,
        shared: chillproxy_core::SharedState,
        policy: OutboundPolicy,
        health: &chillproxy_core::health::Health,
    ) -> Result<Self, ConfigError> {
        use chillproxy_core::health::Kind;
        let config = NewznabConfig::from_settings(settings)?;
        let section = &settings.section;
        let mut indexers = config.resolve_indexers(section, &settings.env)?;
        for indexer in &mut indexers {
            indexer.health = Some(health.tracker(Kind::Indexer, &indexer.name));
        }
        let built = |e: chillproxy_core::upstream::UpstreamBuildError| ConfigError::new(format!("[{section}] {e}"));
        let trusted = UpstreamOptions { follow_redirects: true, ..UpstreamOptions::default() };
        let policed = UpstreamOptions { follow_redirects: true, outbound: Some(policy), health: None };
        let upstream = Upstream::new(NAME, None, &config.upstream, trusted).map_err(built)?;
        let user_upstream = Upstream::new(NAME, None, &config.upstream, policed).map_err(built)?;
        let meta_base = check_base_url(section, "meta_url", &config.meta_url)?;
        let mut meta_settings = config.upstream.clone();
        meta_settings.timeout_ms = config.meta_timeout_ms;
        meta_settings.max_body_bytes = 1024 * 1024;
        let meta_options =
            UpstreamOptions { health: Some(health.tracker(Kind::Metadata, NAME)), ..UpstreamOptions::default() };
        let meta = Upstream::new(NAME, Some(meta_base), &meta_settings, meta_options).map_err(built)?;
        Ok(Self {
            searcher: search::IndexerSearch {
                upstream,
                user_upstream,
                titles: protocol::meta::Titles::new(meta, shared),
                memory: protocol::Memory::new(Duration::from_secs(config.failure_pause_s)),
            },
            indexers,
        })
    }

    /// The operator's indexers' display names, in config order.
    pub fn indexer_names(&self) -> Vec<&str> {
        self.indexers.iter().map(|i| i.name.as_str()).collect()
    }
}

/// A user's indexer: its display name is `n` (cleaned up), else the URL's host.
fn user_indexer(position: usize, entry: &UserIndexer) -> Indexer {
    let name: String = entry.n.chars().filter(|c| !c.is_control()).take(64).collect();
    let name = name.trim();
    let name = if name.is_empty() {
        protocol::host_of(&entry.u).unwrap_or_else(|| format!("user indexer {}", position + 1))
    } else {
        name.to_string()
    };
    Indexer::new(name, &entry.u, entry.ak.clone()).speaking(Dialect::Newznab)
}

fn is_imdb_id(id: &str) -> bool {
    id.strip_prefix("tt")
        .is_some_and(|digits| !digits.is_empty() && digits.len() <= 12 && digits.bytes().all(|b| b.is_ascii_digit()))
}

#[async_trait]
impl SourceProvider for NewznabSource {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn search(&self, query: &SourceQuery<'_>) -> Result<Found, SourceError> {
        let media = query.media;
        // A Kitsu id the metadata maps to no IMDb id is searched by its titles.
        let by_title = media.kitsu_id.is_some() && query.meta.is_some();
        if !is_imdb_id(&media.imdb_id) && !by_title {
            return Err(SourceError::InvalidInput {
                source_name: NAME.to_string(),
                message: "the IMDb id must be `tt` followed by digits".to_string(),
            });
        }
        // Users' indexers keep their place in the config's list: playback finds the key by it.
        let user: Vec<(Indexer, NzbIndexer)> = query
            .usenet_indexers
            .iter()
            .enumerate()
            .filter(|(_, u)| !u.u.trim().is_empty())
            .take(MAX_USER_INDEXERS)
            .map(|(index, entry)| (user_indexer(index, entry), NzbIndexer::User { source: NAME.to_string(), index }))
            .collect();
        let operator = self
            .indexers
            .iter()
            .map(|i| (i, NzbIndexer::Operator { source: NAME.to_string(), name: i.name.clone() }, true));
        let all: Vec<(&Indexer, NzbIndexer, bool)> =
            operator.chain(user.iter().map(|(i, whose)| (i, whose.clone(), false))).collect();
        // Usenet is optional: without any indexer (the operator's or the user's) there is
        // nothing to search, and nothing to complain about.
        if all.is_empty() {
            return Ok(Found::default());
        }
        let outcomes = futures::future::join_all(
            all.iter()
                .map(|(indexer, whose, operator)| self.searcher.query(indexer, media, query.meta, whose, *operator)),
        )
        .await;
        search::gather(NAME, &all, outcomes)
    }

    fn nzb_key(&self, indexer: &NzbIndexer, user_indexers: &[UserIndexer]) -> Option<Secret> {
        match indexer {
            NzbIndexer::Operator { source, name } if source == NAME => {
                self.indexers.iter().find(|i| &i.name == name).and_then(|i| i.api_key.clone())
            }
            NzbIndexer::User { source, index } if source == NAME => user_indexers
                .get(*index)
                .filter(|u| !u.u.trim().is_empty())
                .and_then(|u| u.ak.clone())
                .filter(|k| !k.is_empty()),
            _ => None,
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
