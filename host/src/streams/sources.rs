//! Candidates for a title: from the sources cache, or from every enabled source in parallel,
//! merged by info hash. One search is shared by concurrent requests for the same title (and the
//! same user indexers), and runs to its end even if they all hang up.

use std::collections::HashMap;
use std::sync::Arc;

use chillproxy_core::{Candidate, Found, InfoHash, MediaQuery, SourceError, SourceQuery, UserIndexer};
use futures::future::join_all;

use crate::caches::SourceKey;
use crate::plugins::Plugins;
use crate::state::Services;

/// The candidates for `media` (and the sources' notices about results they could not use). The
/// second value is a message for the user when no source answered.
pub(super) async fn find_candidates(
    services: &Services,
    media: &MediaQuery,
    indexers: &[UserIndexer],
) -> (Arc<Found>, Option<String>) {
    if services.plugins.sources.is_empty() {
        return (Arc::default(), Some("This server has no torrent source enabled; tell its operator.".into()));
    }
    let key = SourceKey::new(media, indexers);
    let (plugins, media, indexers) = (services.plugins.clone(), media.clone(), indexers.to_vec());
    let ttl = services.caches.sources_ttl();
    let result = services
        .caches
        .sources
        .get_or_load(
            key,
            Arc::new(move |r: &Result<Arc<Found>, String>| r.is_ok().then_some(ttl)),
            move || async move { search_all(&plugins, &media, &indexers).await },
        )
        .await;
    match result {
        Ok(candidates) => (candidates, None),
        Err(problem) => (Arc::default(), Some(problem)),
    }
}

/// Asks every source and merges their candidates by hash (the copy with most seeders wins) and
/// their notices. `Err` when no source answered.
async fn search_all(plugins: &Plugins, media: &MediaQuery, indexers: &[UserIndexer]) -> Result<Arc<Found>, String> {
    let query = SourceQuery { media, user_indexers: indexers };
    let results = join_all(plugins.sources.iter().map(|s| s.search(&query))).await;
    let mut merged: HashMap<InfoHash, Candidate> = HashMap::new();
    let mut notices = Vec::new();
    let mut errors = Vec::new();
    let mut answered = false;
    for result in results {
        match result {
            Ok(found) => {
                answered = true;
                notices.extend(found.notices);
                for candidate in found.candidates {
                    match merged.get_mut(&candidate.hash) {
                        Some(existing) if existing.seeders >= candidate.seeders => {}
                        _ => {
                            merged.insert(candidate.hash.clone(), candidate);
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "source failed");
                errors.push(match error {
                    SourceError::InvalidInput { message, .. } => message,
                    other => other.to_string(),
                });
            }
        }
    }
    if answered {
        Ok(Arc::new(Found { candidates: merged.into_values().collect(), notices }))
    } else {
        Err(format!("{}. Check your indexers, or try again later.", errors.join("; ")))
    }
}
