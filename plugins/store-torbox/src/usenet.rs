//! TorBox usenet (Pro plan only): whether a key may use it (`user/me`'s plan, kept per key
//! fingerprint), the cache check (`usenet/checkcached`, by the release's usenet hash), adding a
//! download (the key's `usenet/mylist` first, then `createusenetdownload` with the link, or with
//! the NZB file fetched here when TorBox cannot fetch the link), its state and its link
//! (`usenet/requestdl`). Every call spends from the key's budgets like the torrent calls; a
//! create spends a new download.
//!
//! TorBox names a download by the md5 of what it was sent (the link with the user's indexer key,
//! or the file), which may differ from the release's usenet hash; so the key's list is searched
//! for both (the usenet hash, and the md5 of the link as sent: a download this user added from
//! the same link elsewhere), and the download id a create returned is remembered per (key,
//! usenet hash) in the shared tier (no secret in it), so a later play (here or on another
//! replica) finds a download made from an uploaded file too.

use std::sync::Arc;
use std::time::Duration;

use chillproxy_core::cache::{CacheLimits, FlightCache};
use chillproxy_core::upstream::{Method, Upstream, Url};
use chillproxy_core::{
    CachedItem, ContentKind, LibraryItem, Magnet, Secret, SharedState, StoreError, StoreFile, UsenetAdd, UsenetHash,
};
use md5::{Digest, Md5};
use serde_json::Value;

use crate::client::{Body, Client, Cost, USENET_CHECKCACHED, USENET_CREATE, USENET_MYLIST, USENET_REQUESTDL, USER_ME};
use crate::error::{error, Kind, DUPLICATE, STORE};
use crate::list::{read_library, Listings};
use crate::nzb::{fetch_nzb, multipart_nzb};
use crate::reply::Torrent;
use crate::store::CHECK_BATCH_SIZE;
use crate::usenet_reply::{
    parse_has_usenet, parse_usenet_checkcached, parse_usenet_created, parse_usenet_download, parse_usenet_listed,
    ID_PREFIX,
};

/// How long a key's plan is believed (an upgrade shows within this).
const PLAN_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a failed plan read holds (the key is treated as without usenet meanwhile).
const PLAN_FAILURE_TTL: Duration = Duration::from_secs(60);
/// How long the download id a create returned is remembered for its key and usenet hash.
const ID_MEMORY: Duration = Duration::from_secs(7 * 24 * 3600);

/// The usenet side of the TorBox store. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Usenet {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    /// Key fingerprint → whether its plan has usenet.
    plans: FlightCache<String, bool, StoreError>,
    /// Each key's `usenet/mylist`, read once for every concurrent lookup.
    listings: Listings,
    /// One add per (key fingerprint, usenet hash) at a time.
    adds: FlightCache<(String, UsenetHash), Torrent, StoreError>,
    /// Fetches an operator indexer's NZB (trusted: any address).
    trusted: Upstream,
    /// Fetches a user's indexer's NZB, under the outbound URL policy.
    policed: Upstream,
    shared: SharedState,
}

impl Usenet {
    pub(crate) fn new(
        client: Client,
        list_ttl: Duration,
        trusted: Upstream,
        policed: Upstream,
        shared: SharedState,
    ) -> Self {
        let limits = CacheLimits { max_entries: 100_000, max_bytes: 16 * 1024 * 1024 };
        Self {
            inner: Arc::new(Inner {
                client,
                plans: FlightCache::with_limits(limits, |_, _| 64),
                listings: Listings::new(list_ttl, USENET_MYLIST, parse_usenet_listed),
                adds: FlightCache::new(10_000),
                trusted,
                policed,
                shared,
            }),
        }
    }

    /// Whether `key`'s plan has usenet (Pro). A key whose plan cannot be read is treated as
    /// without it for a minute: it just gets no usenet streams.
    pub(crate) async fn allowed(&self, key: &Secret) -> bool {
        let (client, owned) = (self.inner.client.clone(), key.clone());
        let ttl = |r: &Result<bool, StoreError>| Some(if r.is_ok() { PLAN_TTL } else { PLAN_FAILURE_TTL });
        let read = move || async move {
            let data = client.call(&owned, Cost::Request, Method::GET, USER_ME, &[], Body::Empty).await?;
            parse_has_usenet(&data)
        };
        match self.inner.plans.get_or_load(key.fingerprint(), ttl, read).await {
            Ok(allowed) => allowed,
            Err(e) => {
                tracing::debug!(store = STORE, error = %e, "the plan could not be read; no usenet for this key");
                false
            }
        }
    }

    fn not_allowed() -> StoreError {
        error(Kind::PaymentRequired, "usenet downloads need TorBox's Pro plan".to_string(), None)
    }

    /// Which of `hashes` TorBox has cached (in batches of [`CHECK_BATCH_SIZE`]); nothing, and no
    /// call, for a key without usenet.
    pub(crate) async fn check_cached(
        &self,
        key: &Secret,
        hashes: &[UsenetHash],
    ) -> Result<Vec<CachedItem>, StoreError> {
        let mut asked: Vec<&UsenetHash> = Vec::with_capacity(hashes.len());
        for hash in hashes {
            if !asked.contains(&hash) {
                asked.push(hash);
            }
        }
        if asked.is_empty() || !self.allowed(key).await {
            return Ok(Vec::new());
        }
        let batches = asked.chunks(CHECK_BATCH_SIZE).map(|batch| async move {
            let joined = batch.iter().map(|h| h.as_str()).collect::<Vec<_>>().join(",");
            let query = [("hash", joined.as_str()), ("format", "list"), ("list_files", "true")];
            let client = &self.inner.client;
            let data = client.call(key, Cost::Request, Method::GET, USENET_CHECKCACHED, &query, Body::Empty).await?;
            parse_usenet_checkcached(data)
        });
        let replies = futures::future::try_join_all(batches).await?;
        let keys: Vec<_> = asked.iter().map(|h| h.key()).collect();
        let mut found: Vec<CachedItem> = Vec::new();
        for item in replies.into_iter().flatten() {
            if keys.contains(&item.hash) && !found.iter().any(|f| f.hash == item.hash) {
                found.push(item);
            }
        }
        Ok(found)
    }

    /// The download of `nzb` in the key's account: found (the key's list, or the id a create
    /// returned) or created, one add at a time per key and release.
    pub(crate) async fn add(&self, key: &Secret, nzb: &UsenetAdd<'_>) -> Result<Torrent, StoreError> {
        if !self.allowed(key).await {
            return Err(Self::not_allowed());
        }
        let this = self.clone();
        let (owned_key, hash) = (key.clone(), nzb.hash.clone());
        let (link, trusted, title) = (nzb.link.clone(), nzb.trusted, nzb.title.to_string());
        let flight = (key.fingerprint(), hash.clone());
        self.inner
            .adds
            .get_or_load(
                flight,
                |_| None,
                move || async move {
                    let nzb = UsenetAdd { hash: &hash, link: &link, trusted, title: &title };
                    this.find_or_create(&owned_key, &nzb).await
                },
            )
            .await
    }

    async fn find_or_create(&self, key: &Secret, nzb: &UsenetAdd<'_>) -> Result<Torrent, StoreError> {
        if let Some(found) = self.find(key, nzb.hash, Some(nzb.link)).await? {
            return Ok(found);
        }
        self.create(key, nzb).await
    }

    /// The download in the key's account: in the key's list by its usenet hash or by the md5 of
    /// `link` as TorBox would name it, else by the id a create returned (remembered in the
    /// shared tier). A listed one not finished is read again.
    async fn find(
        &self,
        key: &Secret,
        hash: &UsenetHash,
        link: Option<&Secret>,
    ) -> Result<Option<Torrent>, StoreError> {
        let client = &self.inner.client;
        let mut listed = self.inner.listings.find(client, key, &hash.key()).await?;
        if let (None, Some(link)) = (&listed, link) {
            let named = UsenetHash::from_digest(&Md5::digest(link.expose().as_bytes()).into());
            listed = self.inner.listings.find(client, key, &named.key()).await?;
        }
        if let Some(mut listed) = listed {
            let finished = listed.magnet.status == chillproxy_core::MagnetStatus::Downloaded;
            if finished || listed.failure.is_some() {
                // Filed under the release's usenet hash, whatever TorBox named it.
                listed.magnet.hash = hash.key();
                return Ok(Some(listed));
            }
            return self.download(key, parse_usenet_id(&listed.magnet.id)?, Some(hash)).await.map(Some);
        }
        let Some(id) = self.remembered_id(key, hash).await else { return Ok(None) };
        match self.download(key, id, Some(hash)).await {
            Ok(download) => Ok(Some(download)),
            // Deleted since: add it again.
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The download filed under `hash` already in the key's account (a library item: TorBox's
    /// hash for it), found in the key's list (read again once when the kept one lacks it) or by
    /// the id a create returned; nothing is added.
    pub(crate) async fn in_account(&self, key: &Secret, hash: &UsenetHash) -> Result<Option<Torrent>, StoreError> {
        if !self.allowed(key).await {
            return Err(Self::not_allowed());
        }
        if let Some(found) = self.find(key, hash, None).await? {
            return Ok(Some(found));
        }
        // Added since the kept list was read (the library lists what the account has now).
        self.inner.listings.drop_listing(key);
        self.find(key, hash, None).await
    }

    /// The key's usenet downloads as library items, newest last as TorBox lists them; none, and
    /// no list read, for a key without usenet.
    pub(crate) async fn library(&self, key: &Secret) -> Result<Vec<LibraryItem>, StoreError> {
        if !self.allowed(key).await {
            return Ok(Vec::new());
        }
        read_library(&self.inner.client, key, USENET_MYLIST, parse_usenet_listed, ContentKind::Usenet).await
    }

    fn id_key(key: &Secret, hash: &UsenetHash) -> String {
        SharedState::key("usenet-id", &[crate::NAME, &key.fingerprint(), hash.as_str()])
    }

    async fn remembered_id(&self, key: &Secret, hash: &UsenetHash) -> Option<u64> {
        let raw = self.inner.shared.tier().get(&Self::id_key(key, hash)).await?;
        std::str::from_utf8(&raw).ok()?.parse().ok()
    }

    /// `createusenetdownload` with the link; when TorBox cannot take the link (it cannot reach
    /// it, it redirects, the indexer wants a key TorBox lacks), the NZB is fetched here and
    /// uploaded as `file`. Limits, budgets and a refused key end it without the upload.
    async fn create(&self, key: &Secret, nzb: &UsenetAdd<'_>) -> Result<Torrent, StoreError> {
        let name = download_name(nzb.title);
        let form = [("link", nzb.link.expose()), ("name", name.as_str())];
        let client = &self.inner.client;
        let sent = client.call(key, Cost::Create, Method::POST, USENET_CREATE, &[], Body::Form(&form)).await;
        let created = match sent.map_err(|e| without_link_text(e, nzb.link)) {
            Ok(data) => parse_usenet_created(data)?,
            Err(StoreError::Upstream { message, .. }) if message.starts_with(DUPLICATE) => {
                self.inner.listings.drop_listing(key);
                return match self.find(key, nzb.hash, Some(nzb.link)).await? {
                    Some(found) => Ok(found),
                    None => Err(error(
                        Kind::Upstream,
                        "TorBox says the usenet download is already in the account but does not list it".to_string(),
                        None,
                    )),
                };
            }
            Err(e) if link_refused(&e) => {
                tracing::info!(store = STORE, hash = %nzb.hash, error = %e, "torbox did not take the nzb link; uploading the file");
                self.upload(key, nzb, &name).await?
            }
            Err(e) => return Err(e),
        };
        let (id, _) = created;
        if id == 0 {
            return Err(error(Kind::Upstream, "createusenetdownload returned no download id".to_string(), None));
        }
        tracing::info!(store = STORE, hash = %nzb.hash, usenet_id = id, "torbox added a usenet download");
        let tier = self.inner.shared.tier();
        tier.put(&Self::id_key(key, nzb.hash), id.to_string().into_bytes(), ID_MEMORY).await;
        self.download(key, id, Some(nzb.hash)).await
    }

    /// Fetches the NZB (through the outbound policy unless the indexer is the operator's) and
    /// uploads it.
    async fn upload(&self, key: &Secret, nzb: &UsenetAdd<'_>, name: &str) -> Result<(u64, String), StoreError> {
        let url = Url::parse(nzb.link.expose())
            .map_err(|_| error(Kind::DownloadFailed, "the indexer's NZB link is not a valid URL".to_string(), None))?;
        let fetcher = if nzb.trusted { &self.inner.trusted } else { &self.inner.policed };
        let bytes = fetch_nzb(fetcher, url, nzb.link).await?;
        let (content_type, body) = multipart_nzb(&bytes, name);
        let client = &self.inner.client;
        let data = client
            .call(key, Cost::Create, Method::POST, USENET_CREATE, &[], Body::Multipart { content_type, body })
            .await?;
        parse_usenet_created(data)
    }

    /// One download's current state (`usenet/mylist?bypass_cache=true&id=`), remembered in the
    /// key's list under `ours` (the release's usenet hash) when given.
    pub(crate) async fn download(
        &self,
        key: &Secret,
        id: u64,
        ours: Option<&UsenetHash>,
    ) -> Result<Torrent, StoreError> {
        let id_text = id.to_string();
        let query = [("bypass_cache", "true"), ("id", id_text.as_str())];
        let client = &self.inner.client;
        let data = client.call(key, Cost::Request, Method::GET, USENET_MYLIST, &query, Body::Empty).await?;
        let download = parse_usenet_download(data, id, ours)?;
        self.inner.listings.remember(key, &download);
        Ok(download)
    }

    /// A CDN link for one file of a finished download (`usenet/requestdl`, always naming the
    /// file: file ids start at 0).
    pub(crate) async fn link(
        &self,
        key: &Secret,
        magnet: &Magnet,
        file: &StoreFile,
        user_ip: Option<String>,
    ) -> Result<String, StoreError> {
        let id = parse_usenet_id(&magnet.id)?.to_string();
        let file_id = file.id.to_string();
        let mut query = vec![
            ("token", key.expose()),
            ("usenet_id", id.as_str()),
            ("file_id", file_id.as_str()),
            ("zip_link", "false"),
        ];
        if let Some(ip) = &user_ip {
            query.push(("user_ip", ip.as_str()));
        }
        let client = &self.inner.client;
        let data = match client.call(key, Cost::Request, Method::GET, USENET_REQUESTDL, &query, Body::Empty).await {
            Ok(data) => data,
            Err(e @ StoreError::NotFound { .. }) => {
                self.inner.listings.forget(key, &magnet.hash);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        match data {
            Value::String(link) if link.starts_with("https://") || link.starts_with("http://") => Ok(link),
            _ => Err(error(Kind::Upstream, "usenet requestdl returned no download link".to_string(), None)),
        }
    }
}

/// An error of a create that was sent the link: TorBox's text may quote the link, and with it the
/// indexer's key, so it is dropped (the kind stays; budgets' and limits' own wording too).
fn without_link_text(e: StoreError, link: &Secret) -> StoreError {
    let quoted = |message: &str| {
        let lower = message.to_ascii_lowercase();
        message.contains(link.expose()) || lower.contains("http") || lower.contains("apikey") || lower.contains("://")
    };
    match e {
        StoreError::BadRequest { store, message } if quoted(&message) => {
            StoreError::BadRequest { store, message: "TorBox could not read the NZB link".to_string() }
        }
        StoreError::NotFound { store, message } if quoted(&message) => {
            StoreError::NotFound { store, message: "TorBox could not find the NZB at its link".to_string() }
        }
        StoreError::Upstream { store, message } if quoted(&message) => {
            StoreError::Upstream { store, message: "TorBox could not take the NZB link".to_string() }
        }
        StoreError::Unavailable { store, message } if quoted(&message) => {
            StoreError::Unavailable { store, message: "TorBox could not fetch the NZB link".to_string() }
        }
        StoreError::DownloadFailed { store, message } if quoted(&message) => {
            StoreError::DownloadFailed { store, message: "TorBox could not download the NZB".to_string() }
        }
        other => other,
    }
}

/// A refusal of the link itself, after which uploading the NZB may work: TorBox's own errors
/// (a bad or unreachable link, a redirect, an error it does not explain), never a limit, a
/// budget, a refused key or a plan.
fn link_refused(e: &StoreError) -> bool {
    matches!(e, StoreError::BadRequest { .. } | StoreError::NotFound { .. } | StoreError::Upstream { .. })
        || matches!(e, StoreError::Unavailable { message, .. } if !message.starts_with("could not connect"))
}

/// A usenet download id as this store hands it out: `usenet-<n>`.
pub(crate) fn parse_usenet_id(id: &str) -> Result<u64, StoreError> {
    id.strip_prefix(ID_PREFIX)
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| error(Kind::NotFound, "not a TorBox usenet download id".to_string(), None))
}

/// The name TorBox gives the download: the release title, printable and at most 200 characters.
fn download_name(title: &str) -> String {
    let name: String = title.chars().filter(|c| !c.is_control()).take(200).collect();
    if name.trim().is_empty() {
        "download".to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usenet_ids_and_refusals() {
        assert_eq!(parse_usenet_id("usenet-12").unwrap(), 12);
        for bad in ["12", "usenet-0", "usenet-x", "torrent-3"] {
            assert!(parse_usenet_id(bad).is_err(), "{bad}");
        }
        let store = "TorBox";
        assert!(link_refused(&StoreError::BadRequest { store, message: "BOZO_NZB".into() }));
        assert!(link_refused(&StoreError::Upstream { store, message: "REDIRECT_ERROR".into() }));
        assert!(!link_refused(&StoreError::Unavailable { store, message: "could not connect (x)".into() }));
        assert!(!link_refused(&StoreError::PaymentRequired { store, message: "plan".into() }));
        assert!(!link_refused(&StoreError::BudgetExhausted { store, retry_after: None, message: "m".into() }));
        assert_eq!(download_name("A\nB"), "AB");
        let link = Secret::new("https://indexer.example/api?t=get&id=1&apikey=IDXKEY");
        let quoted = StoreError::BadRequest { store, message: format!("cannot fetch {}", link.expose()) };
        let clean = without_link_text(quoted, &link);
        assert!(matches!(clean, StoreError::BadRequest { .. }) && !clean.to_string().contains("IDXKEY"), "{clean}");
        let plain = StoreError::BadRequest { store, message: "BOZO_NZB".into() };
        assert_eq!(without_link_text(plain.clone(), &link), plain);
        assert_eq!(download_name(" "), "download");
    }
}
