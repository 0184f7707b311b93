//! [`PremiumizeStore`]: `/cache/check` in batches of 100; a cached item is played from
//! `/transfer/directdl` (its id is the hash itself, since it needs no transfer); any other is
//! started with `/transfer/create` and followed in `/transfer/list` until it finishes.

use std::collections::HashSet;
use std::net::IpAddr;

use chillproxy_core::health::Health;
use chillproxy_core::upstream::{clean_text, Method};
use chillproxy_core::{
    async_trait, Account, CachedItem, ConfigError, Credential, InfoHash, LibraryItem, Magnet, MagnetStatus, Secret,
    SharedState, StoreError, StoreFile, StoreIdentity, StoreProvider,
};
use serde_json::Value;

use crate::client::{Client, STORE};
use crate::PremiumizeConfig;

const CACHE_CHECK: &str = "cache/check";
const DIRECTDL: &str = "transfer/directdl";
const CREATE: &str = "transfer/create";
const LIST: &str = "transfer/list";
const ACCOUNT: &str = "account/info";

/// Most hashes in one `/cache/check` (what StremThru sends).
pub const CHECK_BATCH_SIZE: usize = 100;

pub struct PremiumizeStore {
    client: Client,
}

/// A file of a cached item, with its direct link.
struct Content {
    file: StoreFile,
    link: String,
}

impl PremiumizeStore {
    pub fn new(config: &PremiumizeConfig, shared: SharedState, health: &Health) -> Result<Self, ConfigError> {
        Ok(Self { client: Client::new(config, shared, health)? })
    }

    /// The cached item's files; `None` when Premiumize does not have it cached.
    async fn directdl(&self, key: &Secret, hash: &InfoHash) -> Result<Option<Vec<Content>>, StoreError> {
        let magnet = hash.magnet();
        let form = [("src", magnet.as_str())];
        let reply = match self.client.call(key, Method::POST, DIRECTDL, &[], Some(&form)).await {
            Ok(reply) => reply,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(Value::Array(items)) = reply.get("content") else { return Ok(None) };
        let mut out = Vec::new();
        for item in items {
            let (Some(path), Some(link)) =
                (item.get("path").and_then(Value::as_str), item.get("link").and_then(Value::as_str))
            else {
                continue;
            };
            // Paths start with the torrent's root folder when it has one: it is dropped.
            let inner = path.split_once('/').map_or(path, |(_, rest)| rest);
            let file = StoreFile {
                id: out.len() as u64,
                name: path.rsplit('/').next().unwrap_or(path).to_string(),
                path: format!("/{inner}"),
                size: item.get("size").and_then(Value::as_u64).unwrap_or(0),
                video_hash: None,
            };
            out.push(Content { file, link: link.to_string() });
        }
        Ok(if out.is_empty() { None } else { Some(out) })
    }

    fn downloaded(hash: &InfoHash, contents: Vec<Content>) -> Magnet {
        let size = contents.iter().map(|c| c.file.size).sum();
        Magnet {
            id: hash.as_str().to_string(),
            hash: hash.clone(),
            name: hash.as_str().to_string(),
            size,
            status: MagnetStatus::Downloaded,
            files: contents.into_iter().map(|c| c.file).collect(),
        }
    }

    /// The transfer with `id`, or the first one for `hash`.
    async fn transfer(
        &self,
        key: &Secret,
        id: Option<&str>,
        hash: Option<&InfoHash>,
    ) -> Result<Option<Value>, StoreError> {
        let reply = self.client.call(key, Method::GET, LIST, &[], None).await?;
        let Some(Value::Array(transfers)) = reply.get("transfers") else { return Ok(None) };
        Ok(transfers
            .iter()
            .find(|t| {
                let same_id = id.is_some_and(|id| t.get("id").and_then(Value::as_str) == Some(id));
                let src = t.get("src").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
                let same_hash = hash.is_some_and(|h| src.contains(h.as_str()));
                same_id || same_hash
            })
            .cloned())
    }

    /// A transfer as a magnet: a finished one with its files from `directdl`.
    async fn magnet_of_transfer(
        &self,
        key: &Secret,
        transfer: &Value,
        hash: Option<InfoHash>,
    ) -> Result<Magnet, StoreError> {
        let id = transfer.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        let src = transfer.get("src").and_then(Value::as_str).unwrap_or_default();
        let hash = hash.or_else(|| src.find("btih:").and_then(|at| InfoHash::parse(src.get(at + 5..at + 45)?)));
        let hash =
            hash.ok_or_else(|| StoreError::Upstream { store: STORE, message: "the transfer has no info hash".into() })?;
        let message = transfer.get("message").and_then(Value::as_str).map(|m| clean_text(m, key.expose()));
        let status = match transfer.get("status").and_then(Value::as_str).unwrap_or_default() {
            "waiting" | "queued" => MagnetStatus::Queued,
            "running" => MagnetStatus::Downloading,
            "finished" | "seeding" => MagnetStatus::Downloaded,
            "banned" => {
                return Err(StoreError::Refused {
                    store: STORE,
                    message: message.unwrap_or_else(|| "the torrent is banned".into()),
                })
            }
            "error" | "timeout" => {
                let message = message.unwrap_or_else(|| "the transfer failed".into());
                return Err(StoreError::DownloadFailed { store: STORE, message });
            }
            "deleted" => return Err(StoreError::NotFound { store: STORE, message: "the transfer was deleted".into() }),
            _ => MagnetStatus::Unknown,
        };
        if status == MagnetStatus::Downloaded {
            if let Some(contents) = self.directdl(key, &hash).await? {
                let mut magnet = Self::downloaded(&hash, contents);
                magnet.id = id;
                return Ok(magnet);
            }
        }
        let name =
            transfer.get("name").and_then(Value::as_str).map(|n| clean_text(n, key.expose())).unwrap_or_default();
        let status = if status == MagnetStatus::Downloaded { MagnetStatus::Processing } else { status };
        Ok(Magnet { id, hash, name, size: 0, status, files: Vec::new() })
    }
}

#[async_trait]
impl StoreProvider for PremiumizeStore {
    fn identity(&self) -> StoreIdentity {
        crate::IDENTITY
    }

    async fn check_cached(&self, credential: &Credential, hashes: &[InfoHash]) -> Result<Vec<CachedItem>, StoreError> {
        let mut seen = HashSet::new();
        let asked: Vec<&InfoHash> = hashes.iter().filter(|h| seen.insert(h.as_str())).collect();
        let mut found = Vec::new();
        for batch in asked.chunks(CHECK_BATCH_SIZE) {
            let query: Vec<(&str, &str)> = batch.iter().map(|h| ("items[]", h.as_str())).collect();
            let reply = self.client.call(&credential.key, Method::GET, CACHE_CHECK, &query, None).await?;
            let Some(Value::Array(answers)) = reply.get("response") else {
                return Err(StoreError::Upstream { store: STORE, message: "unexpected reply from cache/check".into() });
            };
            for (hash, answer) in batch.iter().zip(answers) {
                if answer.as_bool() == Some(true) {
                    found.push(CachedItem { hash: (*hash).clone(), files: Vec::new() });
                }
            }
        }
        Ok(found)
    }

    /// A cached item needs no transfer; any other one is started (or found among the
    /// account's transfers).
    async fn add_magnet(
        &self,
        credential: &Credential,
        hash: &InfoHash,
        _: Option<IpAddr>,
    ) -> Result<Magnet, StoreError> {
        let key = &credential.key;
        if let Some(contents) = self.directdl(key, hash).await? {
            return Ok(Self::downloaded(hash, contents));
        }
        if let Some(transfer) = self.transfer(key, None, Some(hash)).await? {
            return self.magnet_of_transfer(key, &transfer, Some(hash.clone())).await;
        }
        let magnet = hash.magnet();
        let reply = self.client.call(key, Method::POST, CREATE, &[], Some(&[("src", magnet.as_str())])).await?;
        let id = reply.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        tracing::info!(store = STORE, hash = %hash, transfer_id = %id, "premiumize started a transfer");
        let name = reply.get("name").and_then(Value::as_str).map(|n| clean_text(n, key.expose())).unwrap_or_default();
        Ok(Magnet { id, hash: hash.clone(), name, size: 0, status: MagnetStatus::Queued, files: Vec::new() })
    }

    async fn get_magnet(&self, credential: &Credential, id: &str, _: Option<IpAddr>) -> Result<Magnet, StoreError> {
        let key = &credential.key;
        if let Some(hash) = InfoHash::parse(id) {
            return match self.directdl(key, &hash).await? {
                Some(contents) => Ok(Self::downloaded(&hash, contents)),
                None => Err(StoreError::NotFound { store: STORE, message: "the item is not cached any more".into() }),
            };
        }
        match self.transfer(key, Some(id), None).await? {
            Some(transfer) => self.magnet_of_transfer(key, &transfer, None).await,
            None => Err(StoreError::NotFound { store: STORE, message: "no such transfer".into() }),
        }
    }

    async fn generate_link(
        &self,
        credential: &Credential,
        magnet: &Magnet,
        file: &StoreFile,
        _: Option<IpAddr>,
    ) -> Result<String, StoreError> {
        let contents = self.directdl(&credential.key, &magnet.hash).await?.unwrap_or_default();
        let content =
            contents.into_iter().find(|c| c.file.id == file.id && c.file.path == file.path).ok_or_else(|| {
                StoreError::NotFound { store: STORE, message: "the file is not in the cached item".into() }
            })?;
        if content.link.starts_with("https://") || content.link.starts_with("http://") {
            Ok(content.link)
        } else {
            Err(StoreError::Upstream { store: STORE, message: "directdl gave no usable link".into() })
        }
    }

    fn lists_library(&self) -> bool {
        true
    }

    /// The account's transfers (`transfer/list`, in Premiumize's order: it gives no date),
    /// without their files: the library plays an item's largest video.
    async fn list_library(&self, credential: &Credential) -> Result<Vec<LibraryItem>, StoreError> {
        let reply = self.client.call(&credential.key, Method::GET, LIST, &[], None).await?;
        let Some(Value::Array(transfers)) = reply.get("transfers") else { return Ok(Vec::new()) };
        Ok(transfers
            .iter()
            .filter_map(|t| {
                let src = t.get("src").and_then(Value::as_str)?.to_ascii_lowercase();
                let hash = src.split("btih:").nth(1)?.split('&').next()?;
                Some(LibraryItem {
                    id: t.get("id")?.as_str()?.to_string(),
                    hash: InfoHash::parse(hash)?,
                    name: t.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
                    size: 0,
                    added: None,
                    ready: t.get("status").and_then(Value::as_str) == Some("finished"),
                    files: Vec::new(),
                    kind: chillproxy_core::ContentKind::Torrent,
                })
            })
            .collect())
    }

    async fn account(&self, credential: &Credential) -> Result<Account, StoreError> {
        let reply = self.client.call(&credential.key, Method::GET, ACCOUNT, &[], None).await?;
        let id = match reply.get("customer_id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(StoreError::Upstream { store: STORE, message: "unexpected reply from account/info".into() })
            }
        };
        let premium_until = reply.get("premium_until").and_then(Value::as_u64).unwrap_or(0);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let subscription = if premium_until > now { "premium" } else { "expired" };
        Ok(Account { id, email: String::new(), subscription: subscription.to_string() })
    }
}
