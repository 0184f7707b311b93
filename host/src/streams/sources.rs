//! Candidates for a title: from the sources cache, or from every enabled source in parallel,
//! merged by info hash. One search is shared by concurrent requests for the same title (and the
//! same user indexers), and runs to its end even if they all hang up. A source that searches
//! with the request's credential (`SourceProvider::credential_store`) runs in its own search,
//! kept per credential fingerprint, and only when the request has a credential for its store.

use std::collections::HashMap;
use std::sync::Arc;

use chillproxy_core::{
    Candidate, Credential, Found, InfoHash, MediaMeta, MediaQuery, SourceError, SourceProvider, SourceQuery,
    UserIndexer,
};
use futures::future::join_all;

use super::context::{SourceKey, StreamsContext};

/// The user's own indexers: torrent indexers, usenet indexers (`UserConfig::usenet_indexers`).
pub(super) type UserIndexers<'a> = (&'a [UserIndexer], &'a [UserIndexer]);

/// The candidates for `media` (and the sources' notices about results they could not use). The
/// second value is a message for the user when no source answered. `credentials` are the
/// request's, by store registry name; only the sources that ask for one get it.
pub(super) async fn find_candidates(
    ctx: &StreamsContext,
    media: &MediaQuery,
    meta: Option<&MediaMeta>,
    indexers: UserIndexers<'_>,
    credentials: &[(&'static str, &Credential)],
) -> (Arc<Found>, Option<String>) {
    let sources = &ctx.plugins.sources;
    if sources.is_empty() {
        return (Arc::default(), Some("This server has no torrent source enabled; tell its operator.".into()));
    }
    // The warm path: every search this list needs is held by this process; no future, no join.
    if let Some(held) = held_searches(ctx, media, indexers, credentials) {
        return combine(held.into_iter().map(Ok).collect());
    }
    let shared: Vec<Arc<dyn SourceProvider>> =
        sources.iter().filter(|s| s.credential_store().is_none()).cloned().collect();
    let mut searches = Vec::new();
    if !shared.is_empty() {
        let key = SourceKey::new(media, indexers.0).with_usenet_indexers(indexers.1);
        searches.push(cached_search(ctx, key, shared, media, meta, indexers, None));
    }
    for source in sources {
        let Some(store) = source.credential_store() else { continue };
        let Some((_, credential)) = credentials.iter().find(|(name, _)| *name == store) else { continue };
        let key = SourceKey::with_credential(media, source.name(), credential);
        let credential = Some((*credential).clone());
        searches.push(cached_search(ctx, key, vec![source.clone()], media, meta, (&[], &[]), credential));
    }
    if searches.is_empty() {
        return (Arc::default(), Some("No torrent source on this server works with the stores you chose.".into()));
    }
    combine(join_all(searches).await)
}

/// The searches a list needs (see [`find_candidates`]) when this process holds every one.
fn held_searches(
    ctx: &StreamsContext,
    media: &MediaQuery,
    indexers: UserIndexers<'_>,
    credentials: &[(&'static str, &Credential)],
) -> Option<Vec<Arc<Found>>> {
    let sources = &ctx.plugins.sources;
    let mut held = Vec::new();
    if sources.iter().any(|s| s.credential_store().is_none()) {
        held.push(ctx.sources.get(&SourceKey::new(media, indexers.0).with_usenet_indexers(indexers.1))?);
    }
    for source in sources {
        let Some(store) = source.credential_store() else { continue };
        let Some((_, credential)) = credentials.iter().find(|(name, _)| *name == store) else { continue };
        held.push(ctx.sources.get(&SourceKey::with_credential(media, source.name(), credential))?);
    }
    (!held.is_empty()).then_some(held)
}

/// The searches' answers as one result, or why none answered.
fn combine(results: Vec<Result<Arc<Found>, String>>) -> (Arc<Found>, Option<String>) {
    let mut errors = Vec::new();
    let mut found = Vec::new();
    for result in results {
        match result {
            Ok(one) => found.push(one),
            Err(problem) => errors.push(problem),
        }
    }
    match found.len() {
        0 => (Arc::default(), Some(format!("{}. Check your indexers, or try again later.", errors.join("; ")))),
        1 => (found.remove(0), None),
        _ => (Arc::new(merge(found.iter().map(|f| f.as_ref().clone()))), None),
    }
}

/// One shared, cached search over `sources`. `Err` (a message for the user) when none answered.
async fn cached_search(
    ctx: &StreamsContext,
    key: SourceKey,
    sources: Vec<Arc<dyn SourceProvider>>,
    media: &MediaQuery,
    meta: Option<&MediaMeta>,
    indexers: UserIndexers<'_>,
    credential: Option<Credential>,
) -> Result<Arc<Found>, String> {
    // A result this process holds: nothing to prepare for a search.
    if let Some(found) = ctx.sources.get(&key) {
        return Ok(found);
    }
    let (media, meta, indexers, usenet) = (media.clone(), meta.cloned(), indexers.0.to_vec(), indexers.1.to_vec());
    let ttl = ctx.sources_ttl;
    ctx.sources
        .get_or_load(key, move || async move {
            let found = search_all(&sources, &media, meta.as_ref(), (&indexers, &usenet), credential.as_ref()).await?;
            Ok((found, Some(ttl)))
        })
        .await
}

/// Asks every source and merges their answers. `Err` when no source answered.
async fn search_all(
    sources: &[Arc<dyn SourceProvider>],
    media: &MediaQuery,
    meta: Option<&MediaMeta>,
    indexers: UserIndexers<'_>,
    credential: Option<&Credential>,
) -> Result<Arc<Found>, String> {
    let query = SourceQuery { media, user_indexers: indexers.0, usenet_indexers: indexers.1, credential, meta };
    let results = join_all(sources.iter().map(|s| s.search(&query))).await;
    let mut answers = Vec::new();
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok(found) => answers.push(found),
            Err(error) => {
                tracing::warn!(%error, "source failed");
                errors.push(match error {
                    SourceError::InvalidInput { message, .. } => message,
                    other => other.to_string(),
                });
            }
        }
    }
    if answers.is_empty() {
        Err(errors.join("; "))
    } else {
        Ok(Arc::new(merge(answers)))
    }
}

/// Merges answers by hash: the copy with most seeders wins, keeping the files and the stores
/// that any copy said have it cached. Notices are kept in order.
fn merge(answers: impl IntoIterator<Item = Found>) -> Found {
    let mut merged: HashMap<InfoHash, Candidate> = HashMap::new();
    let mut notices = Vec::new();
    for found in answers {
        notices.extend(found.notices);
        for mut candidate in found.candidates {
            let Some(existing) = merged.get_mut(&candidate.hash) else {
                merged.insert(candidate.hash.clone(), candidate);
                continue;
            };
            let mut cached_on = std::mem::take(&mut existing.cached_on);
            cached_on.extend(std::mem::take(&mut candidate.cached_on));
            cached_on.sort();
            cached_on.dedup();
            if candidate.seeders > existing.seeders {
                if candidate.files.is_empty() {
                    candidate.files = std::mem::take(&mut existing.files);
                }
                *existing = candidate;
            } else if existing.files.is_empty() {
                existing.files = candidate.files;
            }
            existing.cached_on = cached_on;
        }
    }
    Found { candidates: merged.into_values().collect(), notices }
}
