//! The search results the stream list keeps per title, as playback reads them: a narrow
//! read-only view ([`TitleResults`]) that `AppState::new` builds over the stream list's sources
//! cache and hands to playback, so that failover can pick another release of the same title
//! without playback importing `streams/` (nor `streams/` knowing playback).

use std::sync::Arc;

use chillproxy_core::async_trait;
use chillproxy_core::{Candidate, Credential, MediaQuery, UserIndexer};

/// What a stream list found for a title, read only.
#[async_trait]
pub(crate) trait TitleResults: Send + Sync {
    /// The candidates a stream list found for `media` with these user indexers (and, for a
    /// source that searches with the credential of `store`, with `credential`): from this
    /// process's memory, else from the shared tier (so any replica's list counts). Empty when
    /// no list was made for the title lately.
    async fn candidates(
        &self,
        media: &MediaQuery,
        indexers: &[UserIndexer],
        store: &'static str,
        credential: &Credential,
    ) -> Vec<Candidate>;

    /// The candidates for `media` as the stream list would find them (its search, shared and
    /// cached: a title listed lately costs nothing).
    async fn search(
        &self,
        media: &MediaQuery,
        indexers: &[UserIndexer],
        store: &'static str,
        credential: &Credential,
    ) -> Vec<Candidate>;

    /// The candidate of `hash` this process holds for the title, without a round trip (for
    /// naming the release that plays).
    fn title_of(
        &self,
        media: &MediaQuery,
        indexers: &[UserIndexer],
        hash: &chillproxy_core::InfoHash,
    ) -> Option<String>;
}

/// No search results (unit tests, and servers built without a stream list).
pub(crate) struct NoTitles;

#[async_trait]
impl TitleResults for NoTitles {
    async fn candidates(&self, _: &MediaQuery, _: &[UserIndexer], _: &'static str, _: &Credential) -> Vec<Candidate> {
        Vec::new()
    }

    async fn search(&self, _: &MediaQuery, _: &[UserIndexer], _: &'static str, _: &Credential) -> Vec<Candidate> {
        Vec::new()
    }

    fn title_of(&self, _: &MediaQuery, _: &[UserIndexer], _: &chillproxy_core::InfoHash) -> Option<String> {
        None
    }
}

/// The handle playback holds.
pub(crate) type Titles = Arc<dyn TitleResults>;
