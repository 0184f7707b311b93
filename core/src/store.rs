//! Store providers: one debrid service each (TorBox, RealDebrid, AllDebrid, Premiumize).

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{ContentKind, Credential, InfoHash, Secret, UsenetHash};

/// An NZB for [`StoreProvider::add_usenet`].
#[derive(Debug, Clone, Copy)]
pub struct UsenetAdd<'a> {
    pub hash: &'a UsenetHash,
    /// The link with the indexer's key back in it ([`crate::Nzb::unlock`]): a secret, never
    /// logged or kept.
    pub link: &'a Secret,
    /// The link is an operator's indexer (a store that fetches it itself may reach a private
    /// address); `false`: a user's, fetched only under the outbound URL policy.
    pub trusted: bool,
    /// The release title (a name for the download).
    pub title: &'a str,
}

/// A file inside a torrent, as the store reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreFile {
    /// The store's own file id (TorBox `files[].id`), used to request a link.
    pub id: u64,
    /// The file name without folders.
    pub name: String,
    /// The path inside the torrent, starting with `/`, without the torrent's root folder.
    pub path: String,
    pub size: u64,
    /// The file's OpenSubtitles hash (16 hex digits), when the store gives it (TorBox does for
    /// torrents in a library): sent to Stremio as `videoHash` for subtitle addons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_hash: Option<String>,
}

/// One hash the store already has on its servers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedItem {
    pub hash: InfoHash,
    pub files: Vec<StoreFile>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MagnetStatus {
    Queued,
    Downloading,
    Processing,
    Uploading,
    Downloaded,
    Failed,
    Invalid,
    Unknown,
}

/// A torrent in the user's store account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Magnet {
    /// The store's id for the torrent.
    pub id: String,
    pub hash: InfoHash,
    pub name: String,
    pub size: u64,
    pub status: MagnetStatus,
    pub files: Vec<StoreFile>,
}

/// One download in the user's store account, as the store lists it (the library catalog).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibraryItem {
    /// The store's id for it.
    pub id: String,
    pub hash: InfoHash,
    pub name: String,
    pub size: u64,
    /// When it was added (RFC 3339, UTC, as the store writes it), when the store says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<String>,
    /// Downloaded and ready to play.
    pub ready: bool,
    pub files: Vec<StoreFile>,
    /// What it is: a torrent (`hash` its info hash) or a usenet download (`hash` is
    /// [`UsenetHash::key`] of the hash the store names it by), and so how it plays.
    #[serde(default)]
    pub kind: ContentKind,
}

impl LibraryItem {
    /// `unix_secs` as [`LibraryItem::added`] writes it: RFC 3339 in UTC (`2025-11-24T16:00:00Z`).
    pub fn added_at(unix_secs: u64) -> String {
        // Howard Hinnant's days-to-civil, for days since 1970-01-01.
        let (days, secs) = ((unix_secs / 86_400) as i64, unix_secs % 86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
    }
}

/// The account behind a credential, for the configure page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: String,
    pub email: String,
    /// `premium`, `trial` or `expired`.
    pub subscription: String,
}

/// What went wrong talking to a store, typed so the host can tell the user something precise.
/// Messages come from the upstream's own error text and never contain the credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{store} rejected the API key: {message}")]
    Unauthorized { store: &'static str, message: String },
    #[error("{store} needs a paid plan for this: {message}")]
    PaymentRequired { store: &'static str, message: String },
    #[error("{store} is rate limiting requests: {message}")]
    RateLimited { store: &'static str, retry_after: Option<Duration>, message: String },
    #[error("{store} account limit reached: {message}")]
    LimitExceeded { store: &'static str, message: String },
    /// A per-key limit on requests or new downloads is used up (counted by chillproxy, or told
    /// by the store); the call was not sent. `message` names the store and says what still
    /// works ("TorBox's hourly limit for new downloads is reached; cached streams still play").
    #[error("{message}")]
    BudgetExhausted { store: &'static str, retry_after: Option<Duration>, message: String },
    /// The store will not or cannot download this torrent (it failed, has no seeds, is too
    /// large); waiting longer does not help.
    #[error("{store} could not download this torrent: {message}")]
    DownloadFailed { store: &'static str, message: String },
    /// The store will not provide this torrent to anyone, now or later: its content filter
    /// refuses the release (RealDebrid's HTTP 451 `infringing_file`), or the torrent is dead,
    /// flagged as a virus or not a valid torrent. The host remembers it for the store and hash,
    /// offers it no more as playable and never adds it again.
    #[error("{store} refuses this release: {message}")]
    Refused { store: &'static str, message: String },
    #[error("{store}: not found: {message}")]
    NotFound { store: &'static str, message: String },
    #[error("{store} refused the request: {message}")]
    BadRequest { store: &'static str, message: String },
    #[error("{store} is unavailable: {message}")]
    Unavailable { store: &'static str, message: String },
    #[error("{store} did not answer in time")]
    Timeout { store: &'static str },
    #[error("{store} support is not available yet ({operation} is not implemented)")]
    NotImplemented { store: &'static str, operation: &'static str },
    #[error("{store} failed: {message}")]
    Upstream { store: &'static str, message: String },
}

/// The kind of a [`StoreError`], for plugins that map upstream codes to kinds first and build
/// the error once ([`StoreError::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    Unauthorized,
    PaymentRequired,
    RateLimited,
    LimitExceeded,
    DownloadFailed,
    Refused,
    NotFound,
    BadRequest,
    Unavailable,
    Upstream,
}

impl StoreErrorKind {
    /// The kind an HTTP status stands for when the reply says nothing more.
    pub fn of_status(status: u16) -> Self {
        match status {
            401 | 403 => Self::Unauthorized,
            402 => Self::PaymentRequired,
            404 | 410 => Self::NotFound,
            400 | 405 | 409 | 413 | 415 | 422 => Self::BadRequest,
            429 => Self::RateLimited,
            451 => Self::Refused,
            502..=599 => Self::Unavailable,
            _ => Self::Upstream,
        }
    }
}

impl StoreError {
    /// A call that got no usable reply, worded without the key: a timeout, a connection that
    /// could not be opened, or anything else the upstream kit reports.
    pub fn from_transport(store: &'static str, error: crate::upstream::UpstreamError, secret: &str) -> Self {
        use crate::upstream::{clean_text, UpstreamError};
        match error {
            UpstreamError::Timeout => Self::Timeout { store },
            UpstreamError::Connect(failure) => Self::Unavailable {
                store,
                message: format!("could not connect ({})", clean_text(failure.short(), secret)),
            },
            other => Self::Upstream { store, message: clean_text(&other.to_string(), secret) },
        }
    }

    /// The error of `kind` for `store`; `message` must already be clean (no key).
    pub fn of(kind: StoreErrorKind, store: &'static str, message: String, retry_after: Option<Duration>) -> Self {
        match kind {
            StoreErrorKind::Unauthorized => Self::Unauthorized { store, message },
            StoreErrorKind::PaymentRequired => Self::PaymentRequired { store, message },
            StoreErrorKind::RateLimited => Self::RateLimited { store, retry_after, message },
            StoreErrorKind::LimitExceeded => Self::LimitExceeded { store, message },
            StoreErrorKind::DownloadFailed => Self::DownloadFailed { store, message },
            StoreErrorKind::Refused => Self::Refused { store, message },
            StoreErrorKind::NotFound => Self::NotFound { store, message },
            StoreErrorKind::BadRequest => Self::BadRequest { store, message },
            StoreErrorKind::Unavailable => Self::Unavailable { store, message },
            StoreErrorKind::Upstream => Self::Upstream { store, message },
        }
    }

    /// When to try again, for the errors that know it.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::BudgetExhausted { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// How a store can tell whether it has a torrent ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKnowledge {
    /// The store answers a cache check exactly (TorBox `checkcached`).
    Exact,
    /// The store has no cache check any more; only what resolved before (by anyone) and the
    /// user's own library say "cached".
    HistoryOnly,
    /// Nothing tells: every stream is listed as uncached.
    None,
}

/// What a store plugin can do, read by the host (manifest, configure page, messages) instead of
/// its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreCapabilities {
    pub cache: CacheKnowledge,
    /// Registered so configs naming it get a clear answer, but not written yet.
    pub stub: bool,
    /// `check_cached` lists each cached hash's files (TorBox). When false the items may come
    /// without files, and the host uses the files the source named.
    pub check_lists_files: bool,
    /// The store plays NZB releases ([`ContentKind::Usenet`]) as well as torrents: it
    /// implements [`StoreProvider::check_cached_usenet`] and [`StoreProvider::add_usenet`], and
    /// [`StoreProvider::plays`] says whether a given credential may use them. Every store plays
    /// torrents.
    pub usenet: bool,
}

impl StoreCapabilities {
    pub const EXACT: Self = Self { cache: CacheKnowledge::Exact, stub: false, check_lists_files: true, usenet: false };
    /// An exact cache check that names no files (Premiumize's `/cache/check`).
    pub const EXACT_WITHOUT_FILES: Self =
        Self { cache: CacheKnowledge::Exact, stub: false, check_lists_files: false, usenet: false };
    /// No cache check: `check_cached` answers from the user's own library (hashes it holds
    /// ready), and the host's memory of what resolved before says the rest.
    pub const HISTORY_ONLY: Self =
        Self { cache: CacheKnowledge::HistoryOnly, stub: false, check_lists_files: false, usenet: false };
    pub const STUB: Self = Self { cache: CacheKnowledge::None, stub: true, check_lists_files: false, usenet: false };

    /// The same, playing NZB releases too.
    pub const fn with_usenet(self) -> Self {
        Self { usenet: true, ..self }
    }

    /// Whether the store plays releases of `kind` at all (per credential:
    /// [`StoreProvider::plays`]).
    pub fn plays(&self, kind: ContentKind) -> bool {
        match kind {
            ContentKind::Torrent => true,
            ContentKind::Usenet => self.usenet,
        }
    }
}

/// Who a store is, stated once per plugin (`pub const IDENTITY: StoreIdentity`) and read by
/// both its registry descriptor ([`StorePlugin`](crate::StorePlugin)) and its provider
/// ([`StoreProvider::identity`]), so the two cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreIdentity {
    /// The registry name (`torbox`): the `[store.<name>]` table, metrics and budget keys.
    pub name: &'static str,
    /// The code users put in their config (`tb`).
    pub code: &'static str,
    /// The name shown to users and in errors (`TorBox`).
    pub display_name: &'static str,
    /// What the store can do.
    pub capabilities: StoreCapabilities,
}

#[async_trait]
pub trait StoreProvider: Send + Sync {
    /// The store's name, code, display name and capabilities: a plugin returns its
    /// `IDENTITY` const, the one its descriptor reads too.
    fn identity(&self) -> StoreIdentity;
    /// The registry name (`torbox`).
    fn name(&self) -> &'static str {
        self.identity().name
    }
    /// The code users put in their config (`tb`).
    fn code(&self) -> &'static str {
        self.identity().code
    }
    /// The name shown to users (`TorBox`).
    fn display_name(&self) -> &'static str {
        self.identity().display_name
    }
    /// What the store can do.
    fn capabilities(&self) -> StoreCapabilities {
        self.identity().capabilities
    }

    /// Which of `hashes` the store has cached, with their files. Hashes not returned are not
    /// cached. A [`CacheKnowledge::HistoryOnly`] store answers from the user's own library
    /// (torrents the account holds ready, read at most every few minutes per key); a hash it
    /// does not return may still be cached.
    async fn check_cached(&self, credential: &Credential, hashes: &[InfoHash]) -> Result<Vec<CachedItem>, StoreError>;

    /// Adds the torrent to the account (or finds it there) and returns its current state. A
    /// torrent the store cannot download is [`StoreError::DownloadFailed`] with the store's
    /// reason (or a [`MagnetStatus::Failed`] magnet, when the store gives none).
    async fn add_magnet(
        &self,
        credential: &Credential,
        hash: &InfoHash,
        client_ip: Option<IpAddr>,
    ) -> Result<Magnet, StoreError>;

    /// The torrent's current state; a failed download is an error as for `add_magnet`.
    async fn get_magnet(
        &self,
        credential: &Credential,
        id: &str,
        client_ip: Option<IpAddr>,
    ) -> Result<Magnet, StoreError>;

    /// A direct download link for one file of a downloaded torrent.
    async fn generate_link(
        &self,
        credential: &Credential,
        magnet: &Magnet,
        file: &StoreFile,
        client_ip: Option<IpAddr>,
    ) -> Result<String, StoreError>;

    /// The account behind the credential.
    async fn account(&self, credential: &Credential) -> Result<Account, StoreError>;

    /// Whether this credential may play releases of `kind` now. The default is the store's
    /// capability; a store whose plans differ says per key (TorBox: usenet needs the Pro plan,
    /// read from the account and kept per key fingerprint). `false` only leaves that kind out
    /// of the list: the host neither asks the store about it nor tells the user anything.
    async fn plays(&self, credential: &Credential, kind: ContentKind) -> bool {
        let _ = credential;
        self.capabilities().plays(kind)
    }

    /// Which of the usenet `hashes` the store has cached, with their files; each item's
    /// `hash` is the release's key ([`UsenetHash::key`]). Only for stores with
    /// [`StoreCapabilities::usenet`].
    async fn check_cached_usenet(
        &self,
        credential: &Credential,
        hashes: &[UsenetHash],
    ) -> Result<Vec<CachedItem>, StoreError> {
        let _ = (credential, hashes);
        Err(StoreError::NotImplemented { store: self.display_name(), operation: "check_cached_usenet" })
    }

    /// Adds the NZB to the account (or finds it there first, by its hash) and returns its state
    /// as a [`Magnet`] whose `hash` is the release's key ([`UsenetHash::key`]) and whose `id`
    /// this store's [`StoreProvider::get_magnet`] and [`StoreProvider::generate_link`] know as a
    /// usenet download. Errors as for `add_magnet`. Only for stores with
    /// [`StoreCapabilities::usenet`].
    async fn add_usenet(
        &self,
        credential: &Credential,
        nzb: &UsenetAdd<'_>,
        client_ip: Option<IpAddr>,
    ) -> Result<Magnet, StoreError> {
        let _ = (credential, nzb, client_ip);
        Err(StoreError::NotImplemented { store: self.display_name(), operation: "add_usenet" })
    }

    /// The usenet download filed under `hash` ([`UsenetHash`] as the store's list names it, e.g. a
    /// [`LibraryItem`] of kind usenet) already in the credential's account, when it is there: its
    /// state as [`StoreProvider::add_usenet`] returns it, without the NZB and without adding
    /// anything. `Ok(None)`: not in the account (the default, for stores that cannot tell).
    async fn find_usenet(
        &self,
        credential: &Credential,
        hash: &UsenetHash,
        client_ip: Option<IpAddr>,
    ) -> Result<Option<Magnet>, StoreError> {
        let _ = (credential, hash, client_ip);
        Ok(None)
    }

    /// Whether a download nobody asked for yet (the next episode, prepared in the background)
    /// may be added with `credential` now: a store with a limit on new downloads keeps its
    /// operator's reserve for what viewers ask for. By default, yes.
    async fn may_add_in_background(&self, credential: &Credential) -> bool {
        let _ = credential;
        true
    }

    /// Whether [`StoreProvider::list_library`] lists the account's downloads.
    fn lists_library(&self) -> bool {
        false
    }

    /// The downloads in the credential's account (the viewer's library), read through the
    /// key's budgets. A store without a list answers [`StoreError::NotImplemented`].
    async fn list_library(&self, credential: &Credential) -> Result<Vec<LibraryItem>, StoreError> {
        let _ = credential;
        Err(StoreError::NotImplemented { store: self.display_name(), operation: "list_library" })
    }
}

/// A store that is registered (so configs naming it get a clear answer) but not written yet:
/// every operation returns [`StoreError::NotImplemented`]. For a store plugin registered ahead
/// of its implementation; the name says what it is.
pub struct NotImplementedStore {
    pub name: &'static str,
    pub code: &'static str,
    pub display_name: &'static str,
}

impl NotImplementedStore {
    fn err<T>(&self, operation: &'static str) -> Result<T, StoreError> {
        Err(StoreError::NotImplemented { store: self.display_name, operation })
    }
}

#[async_trait]
impl StoreProvider for NotImplementedStore {
    fn identity(&self) -> StoreIdentity {
        StoreIdentity {
            name: self.name,
            code: self.code,
            display_name: self.display_name,
            capabilities: StoreCapabilities::STUB,
        }
    }
    async fn check_cached(&self, _: &Credential, _: &[InfoHash]) -> Result<Vec<CachedItem>, StoreError> {
        self.err("check_cached")
    }
    async fn add_magnet(&self, _: &Credential, _: &InfoHash, _: Option<IpAddr>) -> Result<Magnet, StoreError> {
        self.err("add_magnet")
    }
    async fn get_magnet(&self, _: &Credential, _: &str, _: Option<IpAddr>) -> Result<Magnet, StoreError> {
        self.err("get_magnet")
    }
    async fn generate_link(
        &self,
        _: &Credential,
        _: &Magnet,
        _: &StoreFile,
        _: Option<IpAddr>,
    ) -> Result<String, StoreError> {
        self.err("generate_link")
    }
    async fn account(&self, _: &Credential) -> Result<Account, StoreError> {
        self.err("account")
    }
}

#[cfg(test)]
mod tests {
    use super::LibraryItem;

    #[test]
    fn unix_seconds_read_as_rfc_3339() {
        assert_eq!(LibraryItem::added_at(0), "1970-01-01T00:00:00Z");
        assert_eq!(LibraryItem::added_at(1_764_000_000), "2025-11-24T16:00:00Z");
        assert_eq!(LibraryItem::added_at(951_782_400), "2000-02-29T00:00:00Z");
    }
}
