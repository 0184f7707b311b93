//! Failover: when the release asked for fails for a reason of its own ([`ReleaseFailure`]), the
//! same request plays another release of the same title, picked from the search result the
//! stream list cached for it (read through [`crate::titles`]): cached ones first, the failed
//! one's resolution first among them, the viewer's cached-only switch, resolutions and excluded
//! words honoured; at most [`MAX_TRIES`] releases, all within `[playback] wait_ms` of the
//! request's start. The failed release is remembered as refused on its store, so the next list
//! no longer offers it. A failure every release would share (a rejected key, a device limit, the
//! store's limits) never gets here.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chillproxy_core::{Candidate, Credential, InfoHash, MediaQuery, StoreProvider};
use chillproxy_stremio::preferences::ListPreferences;
use chillproxy_stremio::release::Release;
use chillproxy_stremio::UserConfig;

use super::context::PlaybackContext;
use super::error::PlaybackError;
use super::resolve::ReleaseFailure;
use crate::memory::Availability;

/// Most other releases one request tries.
pub(super) const MAX_TRIES: usize = 3;

/// Less than this left of the wait budget: not worth starting another release.
const MIN_LEFT: Duration = Duration::from_millis(250);

/// What played: the link, and the release's title when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Played {
    pub link: String,
    pub title: Option<String>,
    /// The release that played.
    pub hash: InfoHash,
}

/// The release that failed, and the title it was played for.
pub(super) struct Failed<'a> {
    pub store: &'a Arc<dyn StoreProvider>,
    pub credential: &'a Credential,
    pub config: &'a UserConfig,
    pub media: &'a MediaQuery,
    pub hash: &'a InfoHash,
    /// The failed release's kind: failover tries releases of the same kind only (a usenet
    /// release is added from the book of NZBs listed, a torrent by its hash).
    pub kind: chillproxy_core::ContentKind,
}

/// After `error` for the release `failed`: the link of another release of the title, played by
/// `play(hash, file_idx)` (the usual resolution, shared and cached), or `error` when failover
/// does not apply, is off, or no other release played. A release that was tried and is still
/// downloading when the budget runs out answers "still downloading" (its resolution goes on, so
/// the player's retry plays it).
pub(super) async fn after_failure<F, Fut>(
    ctx: &PlaybackContext,
    failed: Failed<'_>,
    error: PlaybackError,
    deadline: Instant,
    play: F,
) -> Result<Played, PlaybackError>
where
    F: Fn(InfoHash, Option<u64>) -> Fut,
    Fut: Future<Output = Result<String, PlaybackError>>,
{
    let Failed { store, credential, config, media, hash, kind } = failed;
    let Some(why) = ReleaseFailure::of(&error) else { return Err(error) };
    if !ctx.settings.failover {
        return Err(error);
    }
    remember_failed(ctx, store, hash, why).await;
    let found = ctx.titles.candidates(media, &config.indexers, store.name(), credential).await;
    let found = found.into_iter().filter(|c| c.kind() == kind).collect();
    let next = next_candidates(ctx, store, config, hash, found).await;
    if next.is_empty() {
        tracing::info!(store = store.name(), hash = %hash, why = why.word(), "no other release to fail over to");
        return Err(error);
    }
    for candidate in next.into_iter().take(MAX_TRIES) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left < MIN_LEFT {
            break;
        }
        let attempt = tokio::time::timeout(left, play(candidate.hash.clone(), candidate.file_idx)).await;
        match attempt {
            Ok(Ok(link)) => {
                tracing::info!(
                    store = store.name(),
                    failed = %hash,
                    why = why.word(),
                    played = %candidate.hash,
                    "failed over to another release"
                );
                chillproxy_core::metrics::record_failover("played");
                return Ok(Played { link, title: Some(candidate.title), hash: candidate.hash });
            }
            Ok(Err(other_error)) => match ReleaseFailure::of(&other_error) {
                Some(other_why) => remember_failed(ctx, store, &candidate.hash, other_why).await,
                None => {
                    chillproxy_core::metrics::record_failover("failed");
                    return Err(match other_error {
                        still @ PlaybackError::StillDownloading { .. } => still,
                        _ => error,
                    });
                }
            },
            Err(_) => {
                chillproxy_core::metrics::record_failover("failed");
                let store = store.display_name();
                return Err(PlaybackError::StillDownloading { store, status: "downloading" });
            }
        }
    }
    chillproxy_core::metrics::record_failover("failed");
    Err(error)
}

/// A release that failed is not offered on its store again (for `[cache] refused_ttl_s`). A
/// missing file is not: the release may hold other episodes.
async fn remember_failed(ctx: &PlaybackContext, store: &Arc<dyn StoreProvider>, hash: &InfoHash, why: ReleaseFailure) {
    if why != ReleaseFailure::FileMissing {
        ctx.memory.remember_refused(store.name(), hash.clone()).await;
    }
}

/// How a release compares, best highest: cached with the failed one's resolution, cached, the
/// same resolution, then resolution, quality and seeders.
type Rank = (bool, bool, bool, u32, u32, u32);

/// The other releases of the title worth trying, best first.
async fn next_candidates(
    ctx: &PlaybackContext,
    store: &Arc<dyn StoreProvider>,
    config: &UserConfig,
    hash: &InfoHash,
    found: Vec<Candidate>,
) -> Vec<Candidate> {
    let failed = found.iter().find(|c| &c.hash == hash).map(|c| Release::parse(&c.title).resolution);
    let prefs = &config.prefs;
    let others: Vec<Candidate> =
        found.into_iter().filter(|c| &c.hash != hash && wanted(prefs, &c.title, c.size)).collect();
    let keys: Vec<_> = others.iter().map(|c| (store.name(), c.hash.clone())).collect();
    let known = ctx.memory.cache.lookup_many(&keys).await;
    let mut ranked: Vec<(Rank, Candidate)> = Vec::new();
    for (candidate, known) in others.into_iter().zip(known) {
        let cached = match known {
            Some(Availability::Refused) => continue,
            Some(Availability::Cached(_)) => true,
            _ => candidate.cached_on.iter().any(|s| s == store.name()),
        };
        if config.cached && !cached {
            continue;
        }
        let release = Release::parse(&candidate.title);
        let same = failed.is_some_and(|r| r.is_some() && r == release.resolution);
        let key = (
            cached && same,
            cached,
            same,
            release.resolution_rank(),
            release.quality_rank(),
            candidate.seeders.unwrap_or(0),
        );
        ranked.push((key, candidate));
    }
    ranked.sort_by_key(|(rank, _)| std::cmp::Reverse(*rank));
    ranked.into_iter().map(|(_, c)| c).collect()
}

/// The viewer's resolutions, size range (of the torrent, when known) and excluded words.
pub(super) fn wanted(prefs: &ListPreferences, title: &str, size: Option<u64>) -> bool {
    const GB: f64 = 1e9;
    let resolution = Release::parse(title).resolution.unwrap_or("unknown");
    if !prefs.resolutions.is_empty() && !prefs.resolutions.iter().any(|r| r.eq_ignore_ascii_case(resolution)) {
        return false;
    }
    if let Some(gb) = size.filter(|s| *s > 0).map(|s| s as f64 / GB) {
        if prefs.max_size_gb.is_some_and(|max| gb > max) || prefs.min_size_gb.is_some_and(|min| gb < min) {
            return false;
        }
    }
    prefs.exclude.is_empty() || !ListPreferences::mentions(title, &prefs.exclude)
}
