//! `[cache]`: how much the host's caches hold and how long each kind of answer is believed.

use chillproxy_core::cache::CacheLimits;
use chillproxy_core::Secret;
use serde::{Deserialize, Serialize};

/// `[cache]`. A missing key takes its value from [`CacheConfig::default`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Most entries per cache.
    pub max_entries: usize,
    /// Most memory per cache, in MiB of estimated entry size (keys, file lists, titles, links).
    /// Each of the host's caches (availability, sources, links) is bounded by both this and
    /// `max_entries`; past either, the least recently used entries go.
    pub max_memory_mb: usize,
    /// How long "the store has this hash cached" is believed.
    pub cached_ttl_s: u64,
    /// How long "the store does not have this hash" is believed (stores with an exact cache
    /// check only).
    pub uncached_ttl_s: u64,
    /// How long "the store refuses this release" (a content filter's HTTP 451, a dead torrent) is
    /// believed: the stream is not offered as playable on that store and never added again.
    pub refused_ttl_s: u64,
    /// How long the candidates for one title are reused.
    pub sources_ttl_s: u64,
    /// How long a generated direct link is reused.
    pub links_ttl_s: u64,
    /// `Cache-Control: max-age` of a stream list with real streams (players and proxies may
    /// reuse it this long; keep it well under `[server] binding_ttl_s`).
    pub list_max_age_s: u64,
    /// `stale-while-revalidate` of a stream list with real streams.
    pub list_stale_while_revalidate_s: u64,
    /// `stale-if-error` of a stream list with real streams.
    pub list_stale_if_error_s: u64,
    /// `max-age` of a list that is only warnings (or empty): short, so a fixed problem shows.
    /// 0 sends `no-store`.
    pub warning_list_max_age_s: u64,
    /// `redis://host:port/db`: several replicas share caches, playback resolutions, budgets
    /// and denials through this Redis (then every replica needs the same `CHILLPROXY_SECRET`).
    /// Unset: everything stays in this process. Env `CHILLPROXY_REDIS_URL` beats it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<Secret>,
    /// Longest wait for one Redis call; past it the call counts as a miss (and a failure).
    pub redis_timeout_ms: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_memory_mb: 64,
            cached_ttl_s: 24 * 3600,
            uncached_ttl_s: 8 * 3600,
            refused_ttl_s: 5 * 24 * 3600,
            sources_ttl_s: 3600,
            links_ttl_s: 3600,
            list_max_age_s: 300,
            list_stale_while_revalidate_s: 600,
            list_stale_if_error_s: 86_400,
            warning_list_max_age_s: 30,
            redis_url: None,
            redis_timeout_ms: 250,
        }
    }
}

impl CacheConfig {
    /// The bound every host cache shares: `max_entries` and `max_memory_mb`.
    pub fn limits(&self) -> CacheLimits {
        CacheLimits { max_entries: self.max_entries, max_bytes: self.max_memory_mb.saturating_mul(1024 * 1024) }
    }
}
