//! Next episode ready: when an episode plays, the next episode's best release is looked up (the
//! stream list's search, shared and cached) and, when the store does not have it ready, added in
//! the background, so "next episode" plays at once. The same kind of release as the one playing
//! comes first (the stream list's `bingeGroup`: resolution, quality, HDR, group). One add per
//! (store, key, episode) an hour across replicas (a claim in the shared tier), only when the
//! credential's provider allows background downloads and the store keeps its reserve of new
//! downloads.

use std::sync::Arc;
use std::time::Duration;

use chillproxy_core::{Candidate, Credential, MediaKind, MediaQuery, SharedState, StoreProvider};
use chillproxy_stremio::release::Release;
use chillproxy_stremio::UserConfig;

use super::context::PlaybackContext;
use super::failover::{wanted, Played};
use crate::memory::Availability;

/// How long one prepared episode is not prepared again (per store, key and episode).
const PREPARED_FOR: Duration = Duration::from_secs(3600);

/// What the stream list's `bingeGroup` says of a release: resolution, quality, HDR, group.
fn kind_of(title: &str) -> (Option<&'static str>, Option<&'static str>, Option<&'static str>, Option<String>) {
    let release = Release::parse(title);
    (release.resolution, release.quality, release.hdr, release.group)
}

/// Starts preparing the episode after `media` when `[playback] prepare_next` and the
/// credential's provider allow it; returns at once.
pub(super) fn prepare_next(
    ctx: &PlaybackContext,
    store: &Arc<dyn StoreProvider>,
    credential: &Credential,
    config: &UserConfig,
    media: &MediaQuery,
    played: &Played,
) {
    let (Some(season), Some(episode)) = (media.season, media.episode) else { return };
    if !ctx.settings.prepare_next
        || media.kind != MediaKind::Series
        || !ctx.plugins.auth.allows_background_adds(credential)
    {
        return;
    }
    let next = MediaQuery { episode: Some(episode + 1), ..media.clone() };
    let claim = SharedState::key(
        "lock",
        &[
            "next",
            store.name(),
            &credential.key.fingerprint(),
            &next.imdb_id,
            &season.to_string(),
            &(episode + 1).to_string(),
        ],
    );
    let (ctx, store, credential, config, played) =
        (ctx.clone(), store.clone(), credential.clone(), config.clone(), played.clone());
    tokio::spawn(async move {
        let tier = ctx.plugins.shared.tier();
        if !tier.claim(&claim, "prepared", PREPARED_FOR).await {
            return;
        }
        if !store.may_add_in_background(&credential).await {
            tracing::info!(store = store.name(), "next episode not prepared: the key's reserve of new downloads");
            return;
        }
        let found = ctx.titles.search(&next, &config.indexers, store.name(), &credential).await;
        let Some(best) = best_next(&ctx, &store, &config, &played, found).await else { return };
        match store.add_magnet(&credential, &best.hash, None).await {
            Ok(_) => tracing::info!(store = store.name(), hash = %best.hash, "next episode added in the background"),
            Err(error) => tracing::info!(store = store.name(), %error, "next episode could not be added"),
        }
    });
}

/// The same kind as the release playing, resolution, quality, seeders: best highest.
type Rank = (bool, u32, u32, u32);

/// The next episode's best release when it needs adding: `None` when the best one is ready on
/// the store already, or the release playing holds it (a season pack).
async fn best_next(
    ctx: &PlaybackContext,
    store: &Arc<dyn StoreProvider>,
    config: &UserConfig,
    played: &Played,
    found: Vec<Candidate>,
) -> Option<Candidate> {
    if found.iter().any(|c| c.hash == played.hash) {
        return None;
    }
    let playing = played.title.as_deref().map(kind_of);
    let candidates: Vec<Candidate> = found.into_iter().filter(|c| wanted(&config.prefs, &c.title, c.size)).collect();
    let keys: Vec<_> = candidates.iter().map(|c| (store.name(), c.hash.clone())).collect();
    let known = ctx.memory.cache.lookup_many(&keys).await;
    let mut ranked: Vec<(Rank, bool, Candidate)> = Vec::new();
    for (candidate, known) in candidates.into_iter().zip(known) {
        let cached = match known {
            Some(Availability::Refused) => continue,
            Some(Availability::Cached(_)) => true,
            _ => candidate.cached_on.iter().any(|s| s == store.name()),
        };
        let release = Release::parse(&candidate.title);
        let same = playing.as_ref().is_some_and(|p| *p == kind_of(&candidate.title));
        let rank = (same, release.resolution_rank(), release.quality_rank(), candidate.seeders.unwrap_or(0));
        ranked.push((rank, cached, candidate));
    }
    let (_, cached, best) = ranked.into_iter().max_by_key(|(rank, _, _)| *rank)?;
    (!cached).then_some(best)
}
