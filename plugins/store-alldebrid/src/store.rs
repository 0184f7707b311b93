//! [`AllDebridStore`]: `magnet/upload` → `magnet/status` until ready (`statusCode` 4) →
//! `magnet/files` → `link/unlock`.
//!
//! AllDebrid cannot say whether a torrent is cached (`magnet/instant` is gone), so
//! `check_cached` reads the key's ready magnets (`magnet/status?status=ready`, kept in the
//! shared tier for `library_ttl_s`). A hash there is played without uploading it again, which
//! also avoids `NO_SERVER` for it.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use chillproxy_core::health::Health;
use chillproxy_core::upstream::{clean_text, Method};
use chillproxy_core::{
    async_trait, Account, CachedItem, ConfigError, Credential, InfoHash, LibraryItem, Magnet, MagnetStatus, Secret,
    SharedState, StoreError, StoreErrorKind, StoreFile, StoreIdentity, StoreProvider,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{error_of_code, Client, STORE};
use crate::AllDebridConfig;

const UPLOAD: &str = "magnet/upload";
const STATUS: &str = "magnet/status";
const FILES: &str = "magnet/files";
const UNLOCK: &str = "link/unlock";
const USER: &str = "user";

pub struct AllDebridStore {
    client: Client,
    shared: SharedState,
    library_ttl: Duration,
}

/// One ready magnet of the key's library, as kept between calls (no secret in it).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ready {
    id: String,
    hash: String,
}

/// A file with the link AllDebrid unlocks for it.
struct LinkedFile {
    file: StoreFile,
    link: String,
}

impl AllDebridStore {
    pub fn new(config: &AllDebridConfig, shared: SharedState, health: &Health) -> Result<Self, ConfigError> {
        Ok(Self {
            client: Client::new(config, shared.clone(), health)?,
            shared,
            library_ttl: Duration::from_secs(config.library_ttl_s),
        })
    }

    fn library_key(key: &Secret) -> String {
        SharedState::key("library", &[crate::NAME, &key.fingerprint()])
    }

    /// The key's ready magnets, from the shared tier while fresh.
    async fn library(&self, key: &Secret) -> Result<Vec<Ready>, StoreError> {
        let cache_key = Self::library_key(key);
        if let Some(bytes) = self.shared.tier().get(&cache_key).await {
            if let Ok(ready) = serde_json::from_slice::<Vec<Ready>>(&bytes) {
                return Ok(ready);
            }
        }
        let data = self.client.call(key, Method::GET, STATUS, &[("status", "ready")], None).await?;
        let ready: Vec<Ready> = magnets(&data)
            .into_iter()
            .filter_map(|m| {
                Some(Ready { id: id_text(m.get("id")?)?, hash: m.get("hash")?.as_str()?.to_ascii_lowercase() })
            })
            .collect();
        if !self.library_ttl.is_zero() {
            if let Ok(bytes) = serde_json::to_vec(&ready) {
                self.shared.tier().put(&cache_key, bytes, self.library_ttl).await;
            }
        }
        Ok(ready)
    }

    async fn upload(&self, key: &Secret, hash: &InfoHash) -> Result<String, StoreError> {
        let form = [("magnets[]", hash.as_str())];
        let data = self.client.call(key, Method::POST, UPLOAD, &[], Some(&form)).await?;
        let first = magnets(&data).into_iter().next().ok_or_else(|| unexpected(UPLOAD))?;
        if let Some(error) = first.get("error") {
            let code = clean_text(error.get("code").and_then(Value::as_str).unwrap_or("GENERIC"), key.expose());
            let message = error.get("message").and_then(Value::as_str).map(|m| clean_text(m, key.expose()));
            return Err(error_of_code(&code, message, None));
        }
        let id = first.get("id").and_then(id_text).ok_or_else(|| unexpected(UPLOAD))?;
        tracing::info!(store = STORE, hash = %hash, magnet_id = %id, "alldebrid added a magnet");
        Ok(id)
    }

    /// The magnet's state; files only once it is ready.
    async fn magnet(&self, key: &Secret, id: &str) -> Result<Magnet, StoreError> {
        let id = parse_id(id)?;
        let data = self.client.call(key, Method::GET, STATUS, &[("id", id.as_str())], None).await?;
        let magnet = magnets(&data).into_iter().next().ok_or_else(|| unexpected(STATUS))?.clone();
        let status_code = magnet.get("statusCode").and_then(Value::as_u64).ok_or_else(|| unexpected(STATUS))?;
        let status = status_of(status_code)?;
        let hash =
            magnet.get("hash").and_then(Value::as_str).and_then(InfoHash::parse).ok_or_else(|| unexpected(STATUS))?;
        let files = if status == MagnetStatus::Downloaded {
            self.files(key, &id).await?.into_iter().map(|f| f.file).collect()
        } else {
            Vec::new()
        };
        Ok(Magnet {
            id,
            hash,
            name: clean_text(magnet.get("filename").and_then(Value::as_str).unwrap_or_default(), key.expose()),
            size: magnet.get("size").and_then(Value::as_u64).unwrap_or(0),
            status,
            files,
        })
    }

    /// The magnet's files, flattened from AllDebrid's tree (`{n, s, l}` files inside `{n, e}`
    /// folders), in tree order; a file's id is its position.
    async fn files(&self, key: &Secret, id: &str) -> Result<Vec<LinkedFile>, StoreError> {
        let data = self.client.call(key, Method::GET, FILES, &[("id[]", id)], None).await?;
        let magnet = magnets(&data).into_iter().next().ok_or_else(|| unexpected(FILES))?;
        if let Some(error) = magnet.get("error") {
            let code = clean_text(error.get("code").and_then(Value::as_str).unwrap_or("GENERIC"), key.expose());
            return Err(error_of_code(&code, None, None));
        }
        let mut out = Vec::new();
        if let Some(Value::Array(tree)) = magnet.get("files") {
            // A multi-file torrent is one root folder: paths are taken inside it.
            match tree.as_slice() {
                [root] if root.get("e").is_some_and(Value::is_array) => {
                    if let Some(Value::Array(children)) = root.get("e") {
                        flatten(children, "", &mut out);
                    }
                }
                _ => flatten(tree, "", &mut out),
            }
        }
        Ok(out)
    }
}

fn flatten(nodes: &[Value], folder: &str, out: &mut Vec<LinkedFile>) {
    for node in nodes {
        let name = node.get("n").and_then(Value::as_str).unwrap_or_default();
        let path = format!("{folder}/{name}");
        if let Some(Value::Array(children)) = node.get("e") {
            flatten(children, &path, out);
        } else if let Some(link) = node.get("l").and_then(Value::as_str) {
            let file = StoreFile {
                id: out.len() as u64,
                name: name.to_string(),
                path,
                size: node.get("s").and_then(Value::as_u64).unwrap_or(0),
                video_hash: None,
            };
            out.push(LinkedFile { file, link: link.to_string() });
        }
    }
}

#[async_trait]
impl StoreProvider for AllDebridStore {
    fn identity(&self) -> StoreIdentity {
        crate::IDENTITY
    }

    /// The hashes among `hashes` that the key's ready magnets hold.
    async fn check_cached(&self, credential: &Credential, hashes: &[InfoHash]) -> Result<Vec<CachedItem>, StoreError> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let library = self.library(&credential.key).await?;
        let ready: HashSet<&str> = library.iter().map(|r| r.hash.as_str()).collect();
        let mut seen = HashSet::new();
        Ok(hashes
            .iter()
            .filter(|h| ready.contains(h.as_str()) && seen.insert(h.as_str()))
            .map(|h| CachedItem { hash: h.clone(), files: Vec::new() })
            .collect())
    }

    /// A ready magnet of the key is played as it is; else the hash is uploaded (AllDebrid
    /// answers an upload of a magnet the account has with the same id).
    async fn add_magnet(
        &self,
        credential: &Credential,
        hash: &InfoHash,
        _: Option<IpAddr>,
    ) -> Result<Magnet, StoreError> {
        let key = &credential.key;
        let library = self.library(key).await?;
        if let Some(ready) = library.iter().find(|r| r.hash == hash.as_str()) {
            match self.magnet(key, &ready.id).await {
                Ok(magnet) => return Ok(magnet),
                Err(StoreError::NotFound { .. }) => self.shared.tier().delete(&Self::library_key(key)).await,
                Err(e) => return Err(e),
            }
        }
        let id = self.upload(key, hash).await?;
        let magnet = self.magnet(key, &id).await?;
        if magnet.status == MagnetStatus::Downloaded {
            self.shared.tier().delete(&Self::library_key(key)).await;
        }
        Ok(magnet)
    }

    async fn get_magnet(&self, credential: &Credential, id: &str, _: Option<IpAddr>) -> Result<Magnet, StoreError> {
        self.magnet(&credential.key, id).await
    }

    async fn generate_link(
        &self,
        credential: &Credential,
        magnet: &Magnet,
        file: &StoreFile,
        _: Option<IpAddr>,
    ) -> Result<String, StoreError> {
        let key = &credential.key;
        let files = self.files(key, &parse_id(&magnet.id)?).await?;
        let linked = files.into_iter().find(|f| f.file.id == file.id && f.file.path == file.path).ok_or_else(|| {
            StoreError::NotFound { store: STORE, message: "the file is not in the magnet any more".into() }
        })?;
        let data = self.client.call(key, Method::GET, UNLOCK, &[("link", linked.link.as_str())], None).await?;
        match data.get("link").and_then(Value::as_str) {
            Some(link) if link.starts_with("https://") || link.starts_with("http://") => Ok(link.to_string()),
            _ if data.get("delayed").is_some() => Err(StoreError::Unavailable {
                store: STORE,
                message: "AllDebrid is still preparing the file's link; try again in a moment".into(),
            }),
            _ => Err(unexpected(UNLOCK)),
        }
    }

    fn lists_library(&self) -> bool {
        true
    }

    /// The account's magnets (`magnet/status`, every status), without their files (AllDebrid
    /// lists them per magnet only): the library plays an item's largest video.
    async fn list_library(&self, credential: &Credential) -> Result<Vec<LibraryItem>, StoreError> {
        let data = self.client.call(&credential.key, Method::GET, STATUS, &[], None).await?;
        Ok(magnets(&data)
            .into_iter()
            .filter_map(|m| {
                Some(LibraryItem {
                    id: id_text(m.get("id")?)?,
                    hash: InfoHash::parse(m.get("hash")?.as_str()?)?,
                    name: m.get("filename").and_then(Value::as_str).unwrap_or_default().to_string(),
                    size: m.get("size").and_then(Value::as_u64).unwrap_or_default(),
                    added: m.get("uploadDate").and_then(Value::as_u64).map(LibraryItem::added_at),
                    ready: m.get("statusCode").and_then(Value::as_u64) == Some(4),
                    files: Vec::new(),
                    kind: chillproxy_core::ContentKind::Torrent,
                })
            })
            .collect())
    }

    async fn account(&self, credential: &Credential) -> Result<Account, StoreError> {
        let data = self.client.call(&credential.key, Method::GET, USER, &[], None).await?;
        let user = data.get("user").ok_or_else(|| unexpected(USER))?;
        let text = |field: &str| user.get(field).and_then(Value::as_str).unwrap_or_default().to_string();
        let flag = |field: &str| user.get(field).and_then(Value::as_bool).unwrap_or(false);
        let subscription = if flag("isPremium") {
            "premium"
        } else if flag("isTrial") {
            "trial"
        } else {
            "expired"
        };
        Ok(Account { id: text("username"), email: text("email"), subscription: subscription.to_string() })
    }
}

/// `data.magnets`: an object when one id was asked, an array otherwise.
fn magnets(data: &Value) -> Vec<&Value> {
    match data.get("magnets") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(object @ Value::Object(map)) if map.contains_key("id") || map.contains_key("error") => vec![object],
        Some(Value::Object(map)) => map.values().collect(),
        _ => Vec::new(),
    }
}

/// AllDebrid's `statusCode` table (0–15).
fn status_of(code: u64) -> Result<MagnetStatus, StoreError> {
    let failed = |message: &str| Err(StoreError::DownloadFailed { store: STORE, message: message.to_string() });
    match code {
        0 => Ok(MagnetStatus::Queued),
        1 => Ok(MagnetStatus::Downloading),
        2 => Ok(MagnetStatus::Processing),
        3 => Ok(MagnetStatus::Uploading),
        4 => Ok(MagnetStatus::Downloaded),
        5 => failed("the upload to AllDebrid's servers failed"),
        6 => failed("unpacking it failed"),
        7 => failed("it did not start downloading within 20 minutes"),
        8 => failed("it is too big"),
        9 => Err(StoreError::of(StoreErrorKind::Unavailable, STORE, "AllDebrid had an internal error".into(), None)),
        10 => failed("it took more than 72 hours"),
        11 => failed("it was deleted at the source"),
        12 | 13 => failed("processing it failed"),
        14 => failed("its tracker returned an error"),
        15 => Err(StoreError::Refused { store: STORE, message: "the torrent is dead (no peers)".into() }),
        _ => Ok(MagnetStatus::Unknown),
    }
}

fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn parse_id(id: &str) -> Result<String, StoreError> {
    let id = id.trim();
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(id.to_string())
    } else {
        Err(StoreError::NotFound { store: STORE, message: "not an AllDebrid magnet id".into() })
    }
}

fn unexpected(endpoint: &str) -> StoreError {
    StoreError::Upstream { store: STORE, message: format!("unexpected reply from {endpoint}") }
}
