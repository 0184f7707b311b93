//! Acquire on demand: a viewer whose config says `cached` and `acquire` gets, when nothing is
//! cached, the best release started downloading (one add) and one "⏳ Downloading" stream whose
//! playback answers "still downloading" until the store has it, then plays. At most one
//! acquisition per (user, title) at a time, across replicas: a claim in the shared tier that
//! names the release, so every later list shows the same one without another add. The same
//! rules as the next episode's preparation hold: a pooled key only when its provider allows
//! background downloads, and never past the store's reserve of new downloads.

use std::time::Duration;

use chillproxy_core::{Candidate, SharedState};
use chillproxy_stremio::release::Release;

use super::availability::Session;
use super::context::StreamsContext;
use super::rank::wanted;
use super::request::StreamRequest;
use crate::memory::Availability;

/// How long one acquisition holds the title for the user (a download takes minutes).
const ACQUIRING_FOR: Duration = Duration::from_secs(1800);

/// The (session, candidate) being acquired for this user and title: the one started before, or
/// one started now. `None` when nothing can be started.
pub(super) async fn acquire(
    ctx: &StreamsContext,
    request: &StreamRequest<'_>,
    sessions: &[Session<'_>],
    candidates: &[Candidate],
) -> Option<(usize, usize)> {
    let media = request.media;
    let episode = match (media.season, media.episode) {
        (Some(s), Some(e)) => format!("{s}:{e}"),
        _ => "-".to_string(),
    };
    let user = crate::limits::user_fingerprint(request.config_segment);
    let claim = SharedState::key("lock", &["acquire", &user, &media.imdb_id, &episode]);
    let tier = ctx.plugins.shared.tier();
    let find = |owner: &[u8]| {
        let owner = std::str::from_utf8(owner).ok()?;
        let (code, hash) = owner.split_once(':')?;
        let session = sessions.iter().position(|s| s.entry.c == code)?;
        let candidate = candidates.iter().position(|c| c.hash.as_str() == hash)?;
        Some((session, candidate))
    };
    if let Some(owner) = tier.get(&claim).await {
        return find(&owner);
    }
    let (session, candidate) = best(ctx, request, sessions, candidates).await?;
    let (chosen, store) = (&candidates[candidate], &sessions[session]);
    if !store.store.may_add_in_background(&store.credential).await {
        tracing::info!(store = store.store.name(), "nothing acquired: the key's reserve of new downloads");
        return None;
    }
    let owner = format!("{}:{}", store.entry.c, chosen.hash);
    if !tier.claim(&claim, &owner, ACQUIRING_FOR).await {
        return find(&tier.get(&claim).await?);
    }
    match store.store.add_magnet(&store.credential, &chosen.hash, None).await {
        Ok(_) => {
            tracing::info!(store = store.store.name(), hash = %chosen.hash, "acquiring on demand");
            Some((session, candidate))
        }
        Err(error) => {
            tracing::info!(store = store.store.name(), %error, "could not start acquiring");
            tier.release_claim(&claim, &owner).await;
            None
        }
    }
}

/// The best release to acquire: on the first store whose credential may be spent on it, the
/// viewer's filters passed, not refused there; by resolution, quality, seeders.
async fn best(
    ctx: &StreamsContext,
    request: &StreamRequest<'_>,
    sessions: &[Session<'_>],
    candidates: &[Candidate],
) -> Option<(usize, usize)> {
    let session = sessions.iter().position(|s| ctx.plugins.auth.allows_background_adds(&s.credential))?;
    let store = sessions[session].store.name();
    let keys: Vec<_> = candidates.iter().map(|c| (store, c.hash.clone())).collect();
    let known = ctx.memory.cache.lookup_many(&keys).await;
    let prefs = &request.config.prefs;
    let mut best: Option<((u32, u32, u32), usize)> = None;
    for (index, (candidate, known)) in candidates.iter().zip(known).enumerate() {
        let release = Release::parse(&candidate.title);
        if known == Some(Availability::Refused)
            || !wanted(prefs, &release, &candidate.title, candidate.size.unwrap_or(0))
        {
            continue;
        }
        let rank = (release.resolution_rank(), release.quality_rank(), candidate.seeders.unwrap_or(0));
        if best.as_ref().is_none_or(|(b, _)| rank > *b) {
            best = Some((rank, index));
        }
    }
    best.map(|(_, index)| (session, index))
}
