//! One Newznab indexer's search through the shared protocol (caps first, ids only where
//! announced, text otherwise; held back after a refused key, a limit or a failure), its items
//! made NZB candidates, and the indexers' answers merged by NZB identity.

use std::collections::HashMap;
use std::time::Instant;

use chillproxy_core::metrics::{self, Outcome};
use chillproxy_core::upstream::Upstream;
use chillproxy_core::{Candidate, Found, InfoHash, MediaQuery, NzbIndexer, SourceError};
use chillproxy_indexer_protocol as protocol;
use protocol::search::{matches_title, Found as Searched, Searcher};
use protocol::{Failure, Indexer};

use crate::items::{nzb_item, to_candidate, NzbItem};

/// The clients and memory every search shares.
pub struct IndexerSearch {
    /// Operator indexers: follows redirects (a reverse proxy to https).
    pub upstream: Upstream,
    /// Users' indexers, under the outbound URL policy.
    pub user_upstream: Upstream,
    pub titles: protocol::meta::Titles,
    pub memory: protocol::Memory,
}

/// What one indexer gave.
#[derive(Debug, Default)]
pub struct Answer {
    /// Its usable items as candidates (title-matched after a text search).
    pub candidates: Vec<Candidate>,
    /// Items in the reply.
    pub returned: usize,
    /// Items without a usable NZB link.
    pub unusable: usize,
}

impl IndexerSearch {
    /// The NZB items `indexer` has for `media`, as the plugin keeps them (no key cut out yet).
    pub async fn items(
        &self,
        indexer: &Indexer,
        media: &MediaQuery,
        operator: bool,
    ) -> Result<(Vec<NzbItem>, usize), Failure> {
        let started = Instant::now();
        let operation = if operator { "search" } else { "user_search" };
        let endpoint = match &indexer.endpoint {
            Ok(endpoint) => endpoint,
            Err(reason) => {
                metrics::record_upstream(crate::NAME, operation, Outcome::Error, started.elapsed());
                return Err(Failure::Failed(reason.clone()));
            }
        };
        let key = indexer.memory_key();
        if let Some((failure, left)) = self.memory.paused(&key) {
            tracing::debug!(indexer = %indexer.name, left_s = left.as_secs(), "newznab indexer held back after a failure; not asked");
            return Err(failure.map(|reason| format!("{reason} (not asked again for {} s)", left.as_secs().max(1))));
        }
        let searcher = Searcher {
            upstream: if operator { &self.upstream } else { &self.user_upstream },
            titles: &self.titles,
            memory: &self.memory,
        };
        let (items, title) = match searcher.find(indexer, endpoint, media, operation).await {
            Ok(found) => found,
            Err(Searched::Query(error)) => {
                self.memory.pause(&key, &error);
                return Err(Failure::from(&error));
            }
            Err(Searched::NoTitle(reason)) => return Err(Failure::NoTitle(reason)),
        };
        let returned = items.len();
        let mut kept: Vec<NzbItem> =
            items.into_iter().filter_map(|item| nzb_item(item, indexer.api_key.as_ref())).collect();
        let unusable = returned - kept.len();
        if let Some(title) = &title {
            kept.retain(|item| matches_title(&item.title, media, title));
        }
        Ok((kept, unusable))
    }

    /// One indexer's answer as candidates. Failures are logged (the key scrubbed) and returned.
    pub async fn query(
        &self,
        indexer: &Indexer,
        media: &MediaQuery,
        whose: &NzbIndexer,
        operator: bool,
    ) -> Result<Answer, Failure> {
        let started = Instant::now();
        let outcome = self.items(indexer, media, operator).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match outcome {
            Ok((items, unusable)) => {
                let key = indexer.api_key.as_ref();
                let candidates: Vec<Candidate> =
                    items.iter().filter_map(|item| to_candidate(item, &indexer.name, key, whose.clone())).collect();
                let unusable = unusable + (items.len() - candidates.len());
                tracing::debug!(indexer = %indexer.name, usable = candidates.len(), unusable, elapsed_ms, "newznab query answered");
                Ok(Answer { returned: candidates.len() + unusable, candidates, unusable })
            }
            Err(failure) => {
                let failure = failure.map(|reason| indexer.scrub(reason));
                let reason = failure.reason();
                tracing::warn!(indexer = %indexer.name, %reason, elapsed_ms, "newznab indexer failed; its results are dropped");
                Err(failure)
            }
        }
    }
}

/// Merges the indexers' answers by NZB identity (the first one kept, a missing size filled in)
/// with notices about indexers skipped or useless; an error when every indexer failed.
pub fn gather(
    source: &str,
    indexers: &[(&Indexer, NzbIndexer, bool)],
    outcomes: Vec<Result<Answer, Failure>>,
) -> Result<Found, SourceError> {
    let mut position: HashMap<InfoHash, usize> = HashMap::new();
    let mut merged: Vec<Candidate> = Vec::new();
    let mut failures = Vec::new();
    let mut notices = Vec::new();
    let mut answered = 0;
    for ((indexer, _, _), outcome) in indexers.iter().zip(outcomes) {
        match outcome {
            Ok(answer) => {
                answered += 1;
                if answer.returned > 0 && answer.candidates.is_empty() && answer.unusable > 0 {
                    notices.push(format!(
                        "{} returned {} results, but none had a usable NZB link.",
                        indexer.name, answer.returned
                    ));
                }
                for candidate in answer.candidates {
                    match position.get(&candidate.hash) {
                        Some(&at) => {
                            let kept = &mut merged[at];
                            if kept.size.is_none() {
                                kept.size = candidate.size;
                            }
                        }
                        None => {
                            position.insert(candidate.hash.clone(), merged.len());
                            merged.push(candidate);
                        }
                    }
                }
            }
            Err(failure) => {
                match &failure {
                    Failure::NoTitle(reason) => notices.push(format!("{} was skipped: {reason}.", indexer.name)),
                    Failure::Refused(reason) => notices.push(format!("{} was not searched: {reason}.", indexer.name)),
                    Failure::Failed(_) => {}
                }
                failures.push(format!("{}: {}", indexer.name, failure.reason()));
            }
        }
    }
    if answered == 0 {
        let message = if failures.len() == 1 {
            format!("the only Newznab indexer failed: {}", failures.join(""))
        } else {
            format!("all {} Newznab indexers failed: {}", failures.len(), failures.join("; "))
        };
        return Err(SourceError::Upstream { source_name: source.to_string(), message });
    }
    Ok(Found { candidates: merged, notices })
}
