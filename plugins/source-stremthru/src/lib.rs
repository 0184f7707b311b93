//! The `stremthru` source plugin: StremThru's public, crowdsourced torrent database
//! (`GET {url}/v0/torrents?sid=…`). It needs no setup and no account, and sends nothing of the
//! user: only the IMDb id (with season and episode). Listings are kept per title as long as the
//! reply's `Cache-Control` says, and calls to one instance are held to a per-minute budget
//! through the shared-state tier. Depends on chillproxy-core only.

mod client;

use std::sync::Arc;
use std::time::Duration;

use chillproxy_core::source_cache::{CallBudget, Lifetimes, SourceCache, SourceFailure};
use chillproxy_core::upstream::{check_base_url, Upstream, UpstreamDefaults, UpstreamOptions, UpstreamSettings};
use chillproxy_core::{
    async_trait, check_config, Candidate, ConfigError, Found, PluginConfig, PluginContext, PluginSettings, SharedState,
    SourceError, SourcePlugin, SourceProvider, SourceQuery, StoreFile,
};
use serde::{Deserialize, Serialize};

pub use client::{list_torrents, stream_id, Listing, Torrent, TorrentFile};

pub const NAME: &str = "stremthru";
/// How users read the source in stream descriptions and messages.
pub const DISPLAY: &str = "StremThru";
/// The public instance StremThru itself pulls from by default.
pub const DEFAULT_URL: &str = "https://stremthru.13377001.xyz";

/// A listing is kept at least this long, whatever `Cache-Control` says (also when it says
/// nothing or `no-store`): one call per title per minute is the least a polite client does.
pub const MIN_TTL: Duration = Duration::from_secs(60);
/// … and at most this long.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// Kept this long when the reply has no `max-age` (StremThru sends 7200).
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// A failed listing is remembered this long, so a down instance costs one call a minute.
pub const FAILURE_TTL: Duration = Duration::from_secs(60);

/// `[source.stremthru]`; a key left out takes its value from [`Default`]. No
/// `deny_unknown_fields`: serde does not support it next to `flatten`; [`PluginSettings::parse`]
/// rejects unknown keys instead.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct StremThruConfig {
    /// The instance's base URL (default the public instance).
    pub url: String,
    /// `timeout_ms` (default 5000), `connect_timeout_ms` (3000), `max_in_flight` (16),
    /// `max_body_bytes` (4 MiB), `proxy_url`.
    #[serde(flatten, deserialize_with = "UpstreamSettings::with_defaults::<_, StremThruUpstream>")]
    pub upstream: UpstreamSettings,
    /// Most calls to the instance per minute from this server (or cluster, with a shared
    /// tier); past it, titles not in the cache get an error until the minute ends (default 60).
    pub requests_per_minute: u64,
}

impl Default for StremThruConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_URL.to_string(),
            upstream: UpstreamSettings::defaults::<StremThruUpstream>(),
            requests_per_minute: 60,
        }
    }
}

/// StremThru's upstream defaults: 5 s per call (it halts a peer after a call over 25 s; we
/// give up long before), 16 in flight, 4 MiB replies.
pub struct StremThruUpstream;

impl UpstreamDefaults for StremThruUpstream {
    const TIMEOUT_MS: u64 = 5_000;
    const CONNECT_TIMEOUT_MS: Option<u64> = Some(3_000);
    const MAX_IN_FLIGHT: usize = 16;
    const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
}

impl PluginConfig for StremThruConfig {
    fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError> {
        let config: Self = settings.parse()?;
        let section = &settings.section;
        config.upstream.check(settings, 100..=60_000)?;
        check_base_url(section, "url", &config.url)?;
        if !(1..=6_000).contains(&config.requests_per_minute) {
            return Err(ConfigError::new(format!("[{section}] requests_per_minute must be between 1 and 6000")));
        }
        Ok(config)
    }
}

fn build(context: &PluginContext<'_>) -> Result<Arc<dyn SourceProvider>, ConfigError> {
    let config = StremThruConfig::from_settings(context.settings)?;
    let tracker = context.health.tracker(chillproxy_core::health::Kind::Source, NAME);
    Ok(Arc::new(StremThruSource::new(&context.settings.section, config, context.shared.clone(), Some(tracker))?))
}

chillproxy_core::inventory::submit! {
    SourcePlugin {
        name: NAME,
        summary: "StremThru's public torrent database (no setup, sends only the IMDb id)",
        searches: "StremThru's torrent database",
        env: &[],
        check: check_config::<StremThruConfig>,
        build,
    }
}

/// How long listings and failed listings are kept.
const LIFETIMES: Lifetimes = Lifetimes { default: DEFAULT_TTL, min: MIN_TTL, max: MAX_TTL, failure: FAILURE_TTL };

/// The plugin: one upstream, one cache of listings per stream id, one budget per instance.
pub struct StremThruSource {
    upstream: Upstream,
    listings: SourceCache<String, Arc<Vec<Candidate>>>,
    /// Per instance, named by a fingerprint of its URL.
    budget: CallBudget,
}

impl StremThruSource {
    /// Calls report to `tracker` when given (StremThru's entry in the server's health registry).
    pub fn new(
        section: &str,
        config: StremThruConfig,
        shared: SharedState,
        tracker: Option<chillproxy_core::health::Tracker>,
    ) -> Result<Self, ConfigError> {
        let base = check_base_url(section, "url", &config.url)?;
        let budget = CallBudget::per_minute(shared, NAME, base.as_str(), config.requests_per_minute);
        let options = UpstreamOptions { health: tracker, ..UpstreamOptions::default() };
        let upstream = Upstream::new(NAME, Some(base), &config.upstream, options)
            .map_err(|e| ConfigError::new(format!("[{section}] {e}")))?;
        Ok(Self { upstream, listings: SourceCache::new(20_000, LIFETIMES), budget })
    }

    async fn load(&self, sid: String) -> Result<Arc<Vec<Candidate>>, SourceFailure> {
        let upstream = self.upstream.clone();
        self.listings
            .get_or_load(sid.clone(), Some(self.budget.clone()), move || async move {
                match list_torrents(&upstream, &sid).await {
                    Ok(listing) => {
                        let ttl_s = LIFETIMES.keep(listing.max_age).as_secs();
                        tracing::debug!(source = NAME, %sid, found = listing.torrents.len(), ttl_s, "listed");
                        Ok((Arc::new(candidates(listing.torrents)), listing.max_age))
                    }
                    Err(error) => {
                        tracing::warn!(source = NAME, %sid, error = %error.message, "listing failed");
                        Err(error)
                    }
                }
            })
            .await
    }
}

fn candidates(torrents: Vec<Torrent>) -> Vec<Candidate> {
    torrents
        .into_iter()
        .map(|t| Candidate {
            files: store_files(&t.files),
            hash: t.hash,
            title: t.name,
            size: t.size,
            seeders: t.seeders,
            indexer: DISPLAY.to_string(),
            file_idx: None,
            cached_on: Vec::new(),
            nzb: None,
        })
        .collect()
}

/// The files whose index the database knows, as the host reads files (`id` = the index).
fn store_files(files: &[TorrentFile]) -> Vec<StoreFile> {
    files
        .iter()
        .filter_map(|f| {
            let id = f.index?;
            let name = f.path.rsplit('/').next().unwrap_or(&f.path).to_string();
            Some(StoreFile { id, name, path: f.path.clone(), size: f.size.unwrap_or(0), video_hash: None })
        })
        .collect()
}

#[async_trait]
impl SourceProvider for StremThruSource {
    fn name(&self) -> &'static str {
        NAME
    }

    /// The user's own indexers are not this source's business and are never sent.
    async fn search(&self, query: &SourceQuery<'_>) -> Result<Found, SourceError> {
        // A Kitsu id that maps to no IMDb id: StremThru's torrents are by IMDb id.
        if query.media.imdb().is_none() {
            return Ok(Found::default());
        }
        match self.load(stream_id(query.media)).await {
            Ok(candidates) => Ok(Found::from(candidates.as_ref().clone())),
            Err(failure) => Err(failure.into_source_error(DISPLAY, self.upstream.timeout())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chillproxy_core::Env;

    fn parse(text: &str) -> StremThruConfig {
        let settings = PluginSettings::new("source.stremthru", toml::from_str(text).unwrap(), Env::default());
        StremThruConfig::from_settings(&settings).unwrap()
    }

    #[test]
    fn keys_left_out_take_the_defaults() {
        let table = |config: &StremThruConfig| toml::Table::try_from(config).unwrap();
        let empty = parse("");
        assert_eq!(table(&empty), table(&StremThruConfig::default()));
        assert_eq!((empty.url.as_str(), empty.requests_per_minute), (DEFAULT_URL, 60));
        assert_eq!(
            (empty.upstream.timeout_ms, empty.upstream.connect_timeout_ms, empty.upstream.max_in_flight),
            (5_000, 3_000, 16)
        );
        let some = parse("requests_per_minute = 5\ntimeout_ms = 2000");
        assert_eq!((some.url.as_str(), some.requests_per_minute, some.upstream.timeout_ms), (DEFAULT_URL, 5, 2_000));
        assert_eq!(some.upstream.connect_timeout_ms, 2_000, "the connect budget never exceeds the call's");
    }
}
