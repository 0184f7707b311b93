//! [`TorBoxStore`]: the [`StoreProvider`] over TorBox's `/v1/api` endpoints. Each call uses the
//! credential it is given; the store itself holds the pooled HTTP client (with the keys'
//! budgets), and the keys' torrent lists ([`Listings`]) so that a torrent already in the
//! account is played without adding it again.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use chillproxy_core::health::Health;
use chillproxy_core::upstream::{Method, OutboundPolicy, Upstream, UpstreamOptions};
use chillproxy_core::{
    async_trait, Account, CachedItem, ConfigError, ContentKind, Credential, InfoHash, LibraryItem, Magnet,
    MagnetStatus, Secret, SharedState, StoreError, StoreFile, StoreIdentity, StoreProvider, UsenetAdd, UsenetHash,
};
use serde_json::{json, Value};

use crate::client::{Body, Client, Cost, CHECKCACHED, CONTROLTORRENT, CREATETORRENT, MYLIST, REQUESTDL, USER_ME};
use crate::error::{clean_message, error, Kind, DUPLICATE, STORE};
use crate::list::Listings;
use crate::nzb::MAX_NZB_BYTES;
use crate::reply::{parse_account, parse_checkcached, parse_created, parse_listed, parse_torrent, Failure, Torrent};
use crate::usenet::{parse_usenet_id, Usenet};
use crate::usenet_reply::ID_PREFIX;
use crate::TorBoxConfig;

/// Most hashes sent in one `checkcached` request (the docs: "a max of around 100 at a time").
pub const CHECK_BATCH_SIZE: usize = 100;

/// A failed torrent is deleted and added again at most once per key and hash in this time, so
/// a dead torrent cannot spend the key's new downloads.
const READD_MEMORY: Duration = Duration::from_secs(3600);

pub struct TorBoxStore {
    client: Client,
    reserve_creates: u64,
    listings: Listings,
    shared: SharedState,
    usenet: Usenet,
}

impl TorBoxStore {
    /// The store over `config` with a fresh in-process shared tier; the error is the plugin's
    /// startup error (a bad `api_url`).
    pub fn new(config: &TorBoxConfig) -> Result<Self, ConfigError> {
        Self::with_shared(config, SharedState::default(), &Health::default())
    }

    /// The store over `config`, counting the keys' budgets in `shared`, reporting its calls to
    /// its tracker in `health`; users' NZB links are fetched only at public addresses.
    pub fn with_shared(config: &TorBoxConfig, shared: SharedState, health: &Health) -> Result<Self, ConfigError> {
        Self::with_outbound(config, shared, health, OutboundPolicy::public_only())
    }

    /// As [`TorBoxStore::with_shared`], fetching users' NZB links (when TorBox cannot) under
    /// `outbound`, the server's policy for URLs users supply.
    pub fn with_outbound(
        config: &TorBoxConfig,
        shared: SharedState,
        health: &Health,
        outbound: OutboundPolicy,
    ) -> Result<Self, ConfigError> {
        let client = Client::new(config, shared.clone(), health)?;
        let list_ttl = Duration::from_secs(config.list_ttl_s);
        let mut nzb_settings = config.upstream.clone();
        nzb_settings.max_body_bytes = MAX_NZB_BYTES;
        let built =
            |e: chillproxy_core::upstream::UpstreamBuildError| ConfigError::new(format!("[{}] {e}", crate::SECTION));
        let trusted = UpstreamOptions { follow_redirects: true, ..UpstreamOptions::default() };
        let policed = UpstreamOptions { follow_redirects: true, outbound: Some(outbound), health: None };
        let usenet = Usenet::new(
            client.clone(),
            list_ttl,
            Upstream::new(crate::NAME, None, &nzb_settings, trusted).map_err(built)?,
            Upstream::new(crate::NAME, None, &nzb_settings, policed).map_err(built)?,
            shared.clone(),
        );
        Ok(Self {
            client,
            reserve_creates: config.reserve_creates,
            listings: Listings::new(list_ttl, MYLIST, parse_listed),
            shared,
            usenet,
        })
    }

    /// One `checkcached` request, in the documented form: `GET ?hash=a,b,c`.
    async fn check_batch(&self, key: &Secret, batch: &[&InfoHash]) -> Result<Vec<CachedItem>, StoreError> {
        let hashes = batch.iter().map(|h| h.as_str()).collect::<Vec<_>>().join(",");
        let query = [("hash", hashes.as_str()), ("format", "list"), ("list_files", "true")];
        let data = self.client.call(key, Cost::Request, Method::GET, CHECKCACHED, &query, Body::Empty).await?;
        parse_checkcached(data)
    }

    /// One torrent's current state (`mylist?bypass_cache=true&id=`), remembered in the key's
    /// listing.
    async fn torrent(&self, key: &Secret, id: u64) -> Result<Torrent, StoreError> {
        let id_text = id.to_string();
        let query = [("bypass_cache", "true"), ("id", id_text.as_str())];
        let data = self.client.call(key, Cost::Request, Method::GET, MYLIST, &query, Body::Empty).await?;
        let torrent = parse_torrent(data, id)?;
        self.listings.remember(key, &torrent);
        Ok(torrent)
    }

    /// The current state of a torrent the key's listing has: a finished or failed one as
    /// listed, any other read again (it is expected to change).
    async fn refreshed(&self, key: &Secret, listed: Torrent) -> Result<Torrent, StoreError> {
        if listed.magnet.status == MagnetStatus::Downloaded || listed.failure.is_some() {
            return Ok(listed);
        }
        self.torrent(key, parse_id(&listed.magnet.id, key.expose())?).await
    }

    /// `createtorrent`, then the new torrent's state. A `DUPLICATE_ITEM` answer means TorBox
    /// has it although the listing did not: the listing is read again and the torrent taken
    /// from it.
    async fn create(&self, key: &Secret, hash: &InfoHash) -> Result<Torrent, StoreError> {
        let magnet = hash.magnet();
        let form = [("magnet", magnet.as_str()), ("allow_zip", "false")];
        let data = match self.client.call(key, Cost::Create, Method::POST, CREATETORRENT, &[], Body::Form(&form)).await
        {
            Ok(data) => data,
            Err(StoreError::Upstream { message, .. }) if message.starts_with(DUPLICATE) => {
                self.listings.drop_listing(key);
                return match self.listings.find(&self.client, key, hash).await? {
                    Some(listed) => self.refreshed(key, listed).await,
                    None => Err(error(
                        Kind::Upstream,
                        "TorBox says the torrent is already in the account but does not list it".to_string(),
                        None,
                    )),
                };
            }
            Err(e) => return Err(e),
        };
        let created = parse_created(data)?;
        match (created.torrent_id, created.queued_id) {
            (id, _) if id > 0 => {
                tracing::info!(store = STORE, hash = %hash, torrent_id = id, "torbox added a torrent");
                self.torrent(key, id).await
            }
            (_, queued) if queued > 0 => Err(error(
                Kind::LimitExceeded,
                "TorBox queued the torrent instead of starting it (the account's active limit is reached)".to_string(),
                None,
            )),
            _ => Err(error(Kind::Upstream, "createtorrent returned no torrent id".to_string(), None)),
        }
    }

    /// A torrent that will not finish: deleted and added again once (per key and hash, within
    /// [`READD_MEMORY`]) when that may help, else the failure.
    async fn readd_or_fail(&self, key: &Secret, failed: Torrent, failure: Failure) -> Result<Magnet, StoreError> {
        let download_failed = |reason: String| Err(error(Kind::DownloadFailed, reason, None));
        let hash = failed.magnet.hash.clone();
        let marker = SharedState::key("readd", &[crate::NAME, &key.fingerprint(), hash.as_str()]);
        if !failure.readd_may_help || self.shared.tier().get(&marker).await.is_some() {
            return download_failed(failure.reason.to_string());
        }
        self.shared.tier().put(&marker, vec![1], READD_MEMORY).await;
        tracing::info!(store = STORE, hash = %hash, reason = failure.reason, "deleting a failed torrent to add it again");
        let id = parse_id(&failed.magnet.id, key.expose())?;
        let body = json!({ "torrent_id": id, "operation": "delete" });
        self.client.call(key, Cost::Request, Method::POST, CONTROLTORRENT, &[], Body::Json(&body)).await?;
        self.listings.forget(key, &hash);
        let again = self.create(key, &hash).await?;
        match again.failure {
            None => Ok(again.magnet),
            Some(failure) => download_failed(format!("{}, also after adding it again", failure.reason)),
        }
    }
}

#[async_trait]
impl StoreProvider for TorBoxStore {
    fn identity(&self) -> StoreIdentity {
        crate::IDENTITY
    }

    async fn check_cached(&self, credential: &Credential, hashes: &[InfoHash]) -> Result<Vec<CachedItem>, StoreError> {
        let mut seen = HashSet::new();
        let asked: Vec<&InfoHash> = hashes.iter().filter(|h| seen.insert(h.as_str())).collect();
        if asked.is_empty() {
            return Ok(Vec::new());
        }
        let batches = asked.chunks(CHECK_BATCH_SIZE).map(|batch| self.check_batch(&credential.key, batch));
        let replies = futures::future::try_join_all(batches).await?;
        let mut found: HashMap<InfoHash, Vec<StoreFile>> = HashMap::new();
        for item in replies.into_iter().flatten() {
            if seen.contains(item.hash.as_str()) {
                found.entry(item.hash).or_insert(item.files);
            }
        }
        Ok(asked
            .into_iter()
            .filter_map(|hash| found.remove(hash).map(|files| CachedItem { hash: hash.clone(), files }))
            .collect())
    }

    /// Finds the torrent in the key's listing first (TorBox allows 60 new downloads an hour per
    /// key); adds it only when it is not there.
    async fn add_magnet(
        &self,
        credential: &Credential,
        hash: &InfoHash,
        _: Option<IpAddr>,
    ) -> Result<Magnet, StoreError> {
        let key = &credential.key;
        let torrent = match self.listings.find(&self.client, key, hash).await? {
            Some(listed) => self.refreshed(key, listed).await?,
            None => self.create(key, hash).await?,
        };
        match torrent.failure {
            None => Ok(torrent.magnet),
            Some(failure) => self.readd_or_fail(key, torrent, failure).await,
        }
    }

    async fn get_magnet(&self, credential: &Credential, id: &str, _: Option<IpAddr>) -> Result<Magnet, StoreError> {
        if id.starts_with(ID_PREFIX) {
            let download = self.usenet.download(&credential.key, parse_usenet_id(id)?, None).await?;
            return match download.failure {
                None => Ok(download.magnet),
                Some(failure) => Err(error(Kind::DownloadFailed, failure.reason.to_string(), None)),
            };
        }
        let id = parse_id(id, credential.key.expose())?;
        let torrent = self.torrent(&credential.key, id).await?;
        match torrent.failure {
            None => Ok(torrent.magnet),
            Some(failure) => Err(error(Kind::DownloadFailed, failure.reason.to_string(), None)),
        }
    }

    async fn generate_link(
        &self,
        credential: &Credential,
        magnet: &Magnet,
        file: &StoreFile,
        client_ip: Option<IpAddr>,
    ) -> Result<String, StoreError> {
        if magnet.id.starts_with(ID_PREFIX) {
            return self.usenet.link(&credential.key, magnet, file, client_ip.map(|ip| ip.to_string())).await;
        }
        let torrent_id = parse_id(&magnet.id, credential.key.expose())?.to_string();
        let file_id = file.id.to_string();
        let user_ip = client_ip.map(|ip| ip.to_string());
        let mut query = vec![
            ("token", credential.key.expose()),
            ("torrent_id", torrent_id.as_str()),
            ("file_id", file_id.as_str()),
            ("zip_link", "false"),
        ];
        if let Some(ip) = &user_ip {
            query.push(("user_ip", ip.as_str()));
        }
        let data =
            match self.client.call(&credential.key, Cost::Request, Method::GET, REQUESTDL, &query, Body::Empty).await {
                Ok(data) => data,
                Err(e @ StoreError::NotFound { .. }) => {
                    // Gone since it was listed (deleted, expired): the next play adds it again.
                    self.listings.forget(&credential.key, &magnet.hash);
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
        match data {
            Value::String(link) if link.starts_with("https://") || link.starts_with("http://") => Ok(link),
            _ => Err(error(Kind::Upstream, "requestdl returned no download link".to_string(), None)),
        }
    }

    /// Only while more than `reserve_creates` new downloads are left this hour.
    async fn may_add_in_background(&self, credential: &Credential) -> bool {
        self.client.creates_left(&credential.key).await.is_none_or(|left| left > self.reserve_creates)
    }

    fn lists_library(&self) -> bool {
        true
    }

    /// The account's torrents (`mylist?bypass_cache=true`, in pages), and for a key on the Pro
    /// plan its usenet downloads (`usenet/mylist`, likewise), each page a request of the key's
    /// budget. Usenet downloads that cannot be read leave the torrents listed.
    async fn list_library(&self, credential: &Credential) -> Result<Vec<LibraryItem>, StoreError> {
        let key = &credential.key;
        let torrents = crate::list::read_library(&self.client, key, MYLIST, parse_listed, ContentKind::Torrent);
        let (torrents, usenet) = futures::future::join(torrents, self.usenet.library(key)).await;
        let mut items = torrents?;
        match usenet {
            Ok(downloads) => items.extend(downloads),
            Err(e) => {
                tracing::warn!(store = STORE, error = %e, "the usenet downloads could not be listed; torrents only")
            }
        }
        Ok(items)
    }

    /// The usenet download in the key's account by TorBox's hash for it (a library item), found
    /// without its NZB; a download that will not finish is the failure.
    async fn find_usenet(
        &self,
        credential: &Credential,
        hash: &UsenetHash,
        _: Option<IpAddr>,
    ) -> Result<Option<Magnet>, StoreError> {
        match self.usenet.in_account(&credential.key, hash).await? {
            None => Ok(None),
            Some(download) => match download.failure {
                None => Ok(Some(download.magnet)),
                Some(failure) => Err(error(Kind::DownloadFailed, failure.reason.to_string(), None)),
            },
        }
    }

    async fn account(&self, credential: &Credential) -> Result<Account, StoreError> {
        let query = [("settings", "true")];
        let data = self.client.call(&credential.key, Cost::Request, Method::GET, USER_ME, &query, Body::Empty).await?;
        parse_account(data)
    }

    /// Torrents for every key; usenet only for a key on the Pro plan (`user/me`, kept per key).
    async fn plays(&self, credential: &Credential, kind: ContentKind) -> bool {
        match kind {
            ContentKind::Torrent => true,
            ContentKind::Usenet => self.usenet.allowed(&credential.key).await,
        }
    }

    async fn check_cached_usenet(
        &self,
        credential: &Credential,
        hashes: &[UsenetHash],
    ) -> Result<Vec<CachedItem>, StoreError> {
        self.usenet.check_cached(&credential.key, hashes).await
    }

    /// Finds the download in the key's usenet list (or by the id an earlier create returned)
    /// before creating it; a download that will not finish is the failure.
    async fn add_usenet(
        &self,
        credential: &Credential,
        nzb: &UsenetAdd<'_>,
        _: Option<IpAddr>,
    ) -> Result<Magnet, StoreError> {
        let download = self.usenet.add(&credential.key, nzb).await?;
        match download.failure {
            None => Ok(download.magnet),
            Some(failure) => Err(error(Kind::DownloadFailed, failure.reason.to_string(), None)),
        }
    }
}

/// A torrent id as the host hands it back: a positive integer.
fn parse_id(id: &str, key: &str) -> Result<u64, StoreError> {
    id.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| error(Kind::NotFound, format!("{:?} is not a TorBox torrent id", clean_message(id, key)), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(parse_id(" 17 ", "k").unwrap(), 17);
        assert!(matches!(parse_id("0", "k"), Err(StoreError::NotFound { .. })));
        let e = parse_id("abc-secret-k", "secret-k").unwrap_err();
        assert!(!e.to_string().contains("secret-k"), "{e}");
    }
}
