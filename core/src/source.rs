//! Source providers find candidate torrents for a movie or an episode.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Credential, InfoHash, StoreFile, UserIndexer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Movie,
    Series,
}

/// Which catalog a Stremio id comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdKind {
    /// `tt…`, `tt…:S:E`.
    Imdb,
    /// `kitsu:ID`, `kitsu:ID:EP` (Stremio's anime catalogs).
    Kitsu,
}

/// What to look for: an IMDb id, with season and episode for an episode; for a Kitsu id, the
/// Kitsu id and its episode, with the IMDb id, season and episode its metadata maps it to (when
/// it maps it: `imdb_id` is empty otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct MediaQuery {
    pub kind: MediaKind,
    /// `tt` followed by digits; empty for a Kitsu id the metadata maps to no IMDb id.
    pub imdb_id: String,
    pub season: Option<u32>,
    pub episode: Option<u32>,
    /// The Kitsu id when the request named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kitsu_id: Option<u32>,
    /// The episode numbered from the start of the show (anime releases number so: `- 1085`):
    /// the `EP` of `kitsu:ID:EP`, or what the metadata gives for `tt…:S:E`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absolute_episode: Option<u32>,
}

impl MediaQuery {
    /// Which catalog the request's id came from.
    pub fn id_kind(&self) -> IdKind {
        if self.kitsu_id.is_some() {
            IdKind::Kitsu
        } else {
            IdKind::Imdb
        }
    }

    /// The IMDb id, when there is one (a Kitsu id may map to none).
    pub fn imdb(&self) -> Option<&str> {
        Some(self.imdb_id.as_str()).filter(|id| id.starts_with("tt"))
    }
}

/// What a metadata addon says about the title, for sources that search by text: the main
/// title, other names it is released under (anime: the romaji and English titles), the year.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MediaMeta {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub year: Option<u32>,
}

impl MediaMeta {
    /// The main title, then the aliases, without repeats (case-insensitive).
    pub fn titles(&self) -> Vec<&str> {
        let mut titles: Vec<&str> = Vec::new();
        for title in std::iter::once(&self.name).chain(&self.aliases).map(|t| t.trim()) {
            if !title.is_empty() && !titles.iter().any(|t| t.eq_ignore_ascii_case(title)) {
                titles.push(title);
            }
        }
        titles
    }
}

/// One search: the media plus the indexers the user brought in their config.
#[derive(Debug, Clone)]
pub struct SourceQuery<'a> {
    pub media: &'a MediaQuery,
    pub user_indexers: &'a [UserIndexer],
    /// The request's credential for the store the source named in
    /// [`SourceProvider::credential_store`] (the user's own token or the pool key granted to
    /// them). `None` for every other source: a source that did not ask never sees a credential.
    pub credential: Option<&'a Credential>,
    /// What the metadata addon says of the title (Kitsu's for a Kitsu id), when it was looked
    /// up: sources that search by text use its titles instead of looking one up.
    pub meta: Option<&'a MediaMeta>,
}

/// A torrent that may hold the wanted media.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub hash: InfoHash,
    /// The release title as the indexer gave it.
    pub title: String,
    pub size: Option<u64>,
    pub seeders: Option<u32>,
    /// The indexer's display name.
    pub indexer: String,
    /// The torrent's files, when the source knows them (`id` is the file's index in the
    /// torrent). Used when the store has no file list for the hash: an uncached torrent still
    /// names the file that would play.
    pub files: Vec<StoreFile>,
    /// The file the source meant (a Stremio addon's `fileIdx`), when it said.
    pub file_idx: Option<u64>,
    /// Stores (registry names) the source knows have this torrent cached, for example TorBox
    /// search asked with `check_cache=true`. The stream list takes this as the store's answer
    /// and does not ask the store again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cached_on: Vec<String>,
}

/// What a search found: the candidates, and notes for the user about results that could not be
/// used (an indexer answered, but none of its items carried a recoverable info hash). Notices
/// become ⚠️ streams; they never carry a URL or a key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    pub candidates: Vec<Candidate>,
    pub notices: Vec<String>,
}

impl From<Vec<Candidate>> for Found {
    fn from(candidates: Vec<Candidate>) -> Self {
        Self { candidates, notices: Vec::new() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("{source_name} did not answer within {timeout_ms} ms")]
    Timeout { source_name: String, timeout_ms: u64 },
    #[error("{source_name} failed: {message}")]
    Upstream { source_name: String, message: String },
    #[error("{source_name}: {message}")]
    InvalidInput { source_name: String, message: String },
}

impl SourceError {
    /// The one timeout error of every source: "{source_name} did not answer within {ms} ms",
    /// `timeout` being the budget the call had.
    pub fn timed_out(source_name: impl Into<String>, timeout: std::time::Duration) -> Self {
        Self::Timeout {
            source_name: source_name.into(),
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

#[async_trait]
pub trait SourceProvider: Send + Sync {
    /// The registry name (`torznab`).
    fn name(&self) -> &'static str;

    /// The store (registry name, `torbox`) whose credential this source searches with. The host
    /// then passes the request's credential for that store in [`SourceQuery::credential`], runs
    /// the source only when the request has one, and keeps its results per credential
    /// fingerprint. `None` (the default): the source gets no credential, and its results are
    /// shared by every user.
    fn credential_store(&self) -> Option<&'static str> {
        None
    }

    /// Candidates for the query. A provider that queries several indexers drops the results
    /// of a failing indexer and returns the rest; it errors only when every indexer failed.
    async fn search(&self, query: &SourceQuery<'_>) -> Result<Found, SourceError>;
}
