//! Source providers find candidate releases (torrents, NZBs) for a movie or an episode.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Credential, InfoHash, Secret, StoreFile, UsenetHash, UserIndexer};

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
    /// A movie by its IMDb id.
    pub fn movie(imdb_id: impl Into<String>) -> Self {
        Self {
            kind: MediaKind::Movie,
            imdb_id: imdb_id.into(),
            season: None,
            episode: None,
            kitsu_id: None,
            absolute_episode: None,
        }
    }

    /// An episode by the show's IMDb id, season and episode.
    pub fn episode(imdb_id: impl Into<String>, season: u32, episode: u32) -> Self {
        Self {
            kind: MediaKind::Series,
            imdb_id: imdb_id.into(),
            season: Some(season),
            episode: Some(episode),
            kitsu_id: None,
            absolute_episode: None,
        }
    }

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
    /// The user's own usenet indexers (the user config's `newznab` list, in its order: an
    /// [`NzbIndexer::User`] names one by its index there, and [`SourceProvider::nzb_key`] gets
    /// this same list at playback).
    pub usenet_indexers: &'a [UserIndexer],
    /// The request's credential for the store the source named in
    /// [`SourceProvider::credential_store`] (the user's own token or the pool key granted to
    /// them). `None` for every other source: a source that did not ask never sees a credential.
    pub credential: Option<&'a Credential>,
    /// What the metadata addon says of the title (Kitsu's for a Kitsu id), when it was looked
    /// up: sources that search by text use its titles instead of looking one up.
    pub meta: Option<&'a MediaMeta>,
}

/// What a release is, and so which store calls play it: a torrent (by info hash) or an NZB (by
/// its [`UsenetHash`]). A store says which kinds it plays
/// ([`StoreCapabilities::usenet`](crate::StoreCapabilities::usenet)); the host asks each store
/// only for those.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentKind {
    #[default]
    Torrent,
    Usenet,
}

/// A release that may hold the wanted media: a torrent, or an NZB when [`Candidate::nzb`] is
/// set ([`Candidate::kind`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The key the release is filed under: a torrent's info hash, or for an NZB
    /// [`UsenetHash::key`] of [`Nzb::hash`] (build one with [`Candidate::usenet`]).
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
    /// Set for an NZB release (usenet): its identity and its link without the indexer's key.
    /// `None` for a torrent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nzb: Option<Nzb>,
}

impl Candidate {
    /// What the release is.
    pub fn kind(&self) -> ContentKind {
        if self.nzb.is_some() {
            ContentKind::Usenet
        } else {
            ContentKind::Torrent
        }
    }

    /// An NZB candidate, filed under its usenet hash's key; no seeders, files or cache notes.
    pub fn usenet(nzb: Nzb, title: String, size: Option<u64>, indexer: String) -> Self {
        Self {
            hash: nzb.hash.key(),
            title,
            size,
            seeders: None,
            indexer,
            files: Vec::new(),
            file_idx: None,
            cached_on: Vec::new(),
            nzb: Some(nzb),
        }
    }
}

/// An NZB release as a candidate carries it: its identity and a link that holds **no key**.
///
/// An indexer's NZB link carries the indexer's API key (`&apikey=`, `&r=`, `&api=`, or a path
/// segment as DOGnzb's `/fetch/<id>/<key>`), and candidates are cached in the shared tier
/// (Redis) and read by every replica. So the key is cut out where the candidate is made: every
/// place the key stood holds [`Nzb::KEY_SLOT`] ([`Nzb::new`] does it, whatever the link form),
/// and [`Nzb::indexer`] says whose key fills the slot again. The key is put back only at
/// playback, server-side, for the one call that hands the link to the store (or fetches the NZB
/// for it): [`Nzb::unlock`] with the key from the operator's settings
/// ([`SourceProvider::nzb_key`]) or from the request's user config. Stream URLs, playback
/// handles, `Location`s, logs and Redis values name a usenet release by its [`UsenetHash`]
/// only, never by its link.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Nzb {
    /// The release's identity: the md5 of its normalised link (the Newznab source computes it).
    pub hash: UsenetHash,
    /// The NZB link with the indexer's key replaced by [`Nzb::KEY_SLOT`] wherever it stood.
    pub link: String,
    /// Whose key fills the slot.
    pub indexer: NzbIndexer,
    /// How many times the indexer says the NZB was downloaded, when it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grabs: Option<u32>,
    /// When the release was posted (seconds since 1970), when the indexer said: its age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<i64>,
}

/// Whose API key an NZB link needs at playback.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "lowercase")]
pub enum NzbIndexer {
    /// The link needs no key.
    None,
    /// An operator indexer of the source `source` (registry name, `newznab`), by the `name` the
    /// operator gave it: the source gives its key ([`SourceProvider::nzb_key`]).
    Operator { source: String, name: String },
    /// The user's own indexer of the source `source`, at `index` in the user config's list for
    /// that source: the key comes from the request's config (or its sealed playback handle).
    User { source: String, index: usize },
}

impl Nzb {
    /// What stands where the indexer's key stood in [`Nzb::link`].
    pub const KEY_SLOT: &'static str = "{chillproxy:indexer-key}";

    /// The NZB of `hash` at `link`, with every occurrence of `key` in the link replaced by
    /// [`Nzb::KEY_SLOT`]. `key` is the indexer's API key (`None` or empty: the link has none).
    pub fn new(hash: UsenetHash, link: &str, key: Option<&Secret>, indexer: NzbIndexer) -> Self {
        let link = match key.map(Secret::expose).filter(|k| !k.is_empty()) {
            Some(key) => link.replace(key, Self::KEY_SLOT),
            None => link.to_string(),
        };
        Self { hash, link, indexer, grabs: None, published: None }
    }

    /// The same NZB with what the indexer said of its grabs and posting time.
    pub fn with_stats(self, grabs: Option<u32>, published: Option<i64>) -> Self {
        Self { grabs, published, ..self }
    }

    /// The link to fetch, with `key` back in its slot: a secret, for the store's create call or
    /// the server-side fetch only.
    pub fn unlock(&self, key: Option<&Secret>) -> Secret {
        Secret::new(self.link.replace(Self::KEY_SLOT, key.map(Secret::expose).unwrap_or_default()))
    }

    /// Whether the link had a key cut out (and so needs one at playback).
    pub fn needs_key(&self) -> bool {
        self.link.contains(Self::KEY_SLOT)
    }
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

    /// The API key that fills the key slot of an NZB this source found
    /// ([`Nzb::unlock`]), for playback: an operator indexer's key from the source's settings
    /// ([`NzbIndexer::Operator`]), or the user's own key from `user_indexers` (the request's
    /// indexers for this source, as in [`SourceQuery`]; [`NzbIndexer::User`]). `None` when the
    /// source knows no such indexer (the default: sources that find no NZBs).
    fn nzb_key(&self, indexer: &NzbIndexer, user_indexers: &[UserIndexer]) -> Option<Secret> {
        let _ = (indexer, user_indexers);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md5() -> UsenetHash {
        UsenetHash::parse(&"c0".repeat(16)).unwrap()
    }

    #[test]
    fn an_nzb_keeps_no_key_and_unlocks_with_it() {
        let key = Secret::new("SECRETKEY123");
        for link in [
            "https://drunkenslug.com/getnzb/abc.nzb&i=1882&r=SECRETKEY123",
            "https://api.nzbgeek.info/api?t=get&id=77&apikey=SECRETKEY123",
            "https://dognzb.cr/fetch/0f0f/SECRETKEY123",
        ] {
            let indexer = NzbIndexer::Operator { source: "newznab".into(), name: "geek".into() };
            let nzb = Nzb::new(md5(), link, Some(&key), indexer);
            assert!(!nzb.link.contains("SECRETKEY123"), "{}", nzb.link);
            assert!(nzb.needs_key());
            let json = serde_json::to_string(&Candidate::usenet(nzb.clone(), "T".into(), None, "geek".into())).unwrap();
            assert!(!json.contains("SECRETKEY123"), "{json}");
            assert_eq!(nzb.unlock(Some(&key)).expose(), link);
        }
        let open = Nzb::new(md5(), "http://hydra/getnzb/api/5", None, NzbIndexer::None);
        assert!(!open.needs_key());
        assert_eq!(open.unlock(None).expose(), "http://hydra/getnzb/api/5");
    }

    #[test]
    fn a_candidate_says_its_kind_and_old_values_read_as_torrents() {
        let nzb = Nzb::new(md5(), "http://x/nzb", None, NzbIndexer::User { source: "newznab".into(), index: 1 });
        let usenet = Candidate::usenet(nzb, "Movie 2020".into(), Some(5), "mine".into());
        assert_eq!((usenet.kind(), usenet.hash.clone()), (ContentKind::Usenet, md5().key()));
        let json = serde_json::to_string(&usenet).unwrap();
        assert_eq!(serde_json::from_str::<Candidate>(&json).unwrap(), usenet);
        let old = format!(
            r#"{{"hash":"{}","title":"t","size":null,"seeders":1,"indexer":"i","files":[],"file_idx":null}}"#,
            "ab".repeat(20)
        );
        assert_eq!(serde_json::from_str::<Candidate>(&old).unwrap().kind(), ContentKind::Torrent);
    }

    #[test]
    fn an_nzb_keeps_grabs_and_age_and_older_values_read_without_them() {
        let bare = Nzb::new(md5(), "http://x/nzb", None, NzbIndexer::None);
        let json = serde_json::to_string(&bare).unwrap();
        assert!(!json.contains("grabs") && !json.contains("published"), "{json}");
        let with = bare.clone().with_stats(Some(42), Some(1_470_142_206));
        let read: Nzb = serde_json::from_str(&serde_json::to_string(&with).unwrap()).unwrap();
        assert_eq!((read.grabs, read.published), (Some(42), Some(1_470_142_206)));
        // A candidate cached before the fields existed.
        let old: Nzb = serde_json::from_str(&json).unwrap();
        assert_eq!((old.grabs, old.published, old), (None, None, bare));
    }
}
