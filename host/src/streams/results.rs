//! The stream list's search results as playback reads them ([`TitleResults`]): the same keys
//! the list caches under, read only.

use std::collections::HashSet;

use chillproxy_core::async_trait;
use chillproxy_core::{Candidate, Credential, InfoHash, MediaQuery, UserIndexer};

use super::context::{SourceKey, StreamsContext};
use super::sources::find_candidates;
use crate::titles::TitleResults;

/// A read-only view of [`StreamsContext::sources`].
pub(crate) struct SearchResults(pub StreamsContext);

#[async_trait]
impl TitleResults for SearchResults {
    async fn candidates(
        &self,
        media: &MediaQuery,
        indexers: &[UserIndexer],
        store: &'static str,
        credential: &Credential,
    ) -> Vec<Candidate> {
        let ctx = &self.0;
        let mut keys = vec![SourceKey::new(media, indexers)];
        for source in &ctx.plugins.sources {
            if source.credential_store() == Some(store) {
                keys.push(SourceKey::with_credential(media, source.name(), credential));
            }
        }
        let mut seen = HashSet::new();
        let mut candidates = Vec::new();
        for found in ctx.sources.lookup_many(&keys).await.into_iter().flatten() {
            for candidate in &found.candidates {
                if seen.insert(candidate.hash.clone()) {
                    candidates.push(candidate.clone());
                }
            }
        }
        candidates
    }

    async fn search(
        &self,
        media: &MediaQuery,
        indexers: &[UserIndexer],
        store: &'static str,
        credential: &Credential,
    ) -> Vec<Candidate> {
        let (found, _) = find_candidates(&self.0, media, None, (indexers, &[]), &[(store, credential)]).await;
        found.candidates.clone()
    }

    fn title_of(&self, media: &MediaQuery, indexers: &[UserIndexer], hash: &InfoHash) -> Option<String> {
        let found = self.0.sources.get(&SourceKey::new(media, indexers))?;
        found.candidates.iter().find(|c| &c.hash == hash).map(|c| c.title.clone())
    }
}
