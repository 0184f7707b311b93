//! [`RealDebridStore`]: add → select the video files → poll `info` → `unrestrict/link`.
//!
//! RealDebrid cannot say whether a torrent is cached, so `check_cached` reads the token's own
//! library (`GET /torrents`, kept in the shared tier for `library_ttl_s`): a hash there with
//! status `downloaded` is cached for that user. The same library is where a torrent is found
//! before it is added again. Torrents the plugin added are remembered per token; when the
//! library is read again, those still unfinished `cleanup_after_s` after they were added are
//! deleted (on the token's next use, not by a background task).

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chillproxy_core::health::Health;
use chillproxy_core::upstream::{clean_text, Method};
use chillproxy_core::{
    async_trait, Account, CachedItem, ConfigError, Credential, InfoHash, LibraryItem, Magnet, MagnetStatus, Secret,
    SharedState, StoreError, StoreFile, StoreIdentity, StoreProvider,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{Client, STORE};
use crate::RealDebridConfig;

/// Torrents read for the library in one call.
const LIBRARY_LIMIT: &str = "1000";

/// File extensions selected for download (the rest of a torrent is not needed to play).
const VIDEO: &[&str] = &["mkv", "mp4", "avi", "m4v", "mov", "wmv", "ts", "m2ts", "webm", "mpg", "mpeg", "flv"];

pub struct RealDebridStore {
    client: Client,
    shared: SharedState,
    library_ttl: Duration,
    cleanup_after: Duration,
}

/// One torrent of the library, as kept between calls (no secret in it).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Listed {
    id: String,
    hash: String,
    status: String,
}

/// A torrent this plugin added, kept until it finished or was deleted.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Added {
    id: String,
    added_ms: u64,
}

#[derive(Debug, Deserialize)]
struct Info {
    id: String,
    #[serde(default)]
    filename: String,
    #[serde(default)]
    hash: String,
    #[serde(default)]
    bytes: u64,
    #[serde(default)]
    status: String,
    #[serde(default)]
    files: Vec<InfoFile>,
    #[serde(default)]
    links: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct InfoFile {
    id: u64,
    path: String,
    #[serde(default)]
    bytes: u64,
    #[serde(default)]
    selected: u8,
}

impl RealDebridStore {
    pub fn new(config: &RealDebridConfig, shared: SharedState, health: &Health) -> Result<Self, ConfigError> {
        Ok(Self {
            client: Client::new(config, shared.clone(), health)?,
            shared,
            library_ttl: Duration::from_secs(config.library_ttl_s),
            cleanup_after: Duration::from_secs(config.cleanup_after_s),
        })
    }

    fn library_key(key: &Secret) -> String {
        SharedState::key("library", &[crate::NAME, &key.fingerprint()])
    }

    fn added_key(key: &Secret) -> String {
        SharedState::key("added", &[crate::NAME, &key.fingerprint()])
    }

    /// The token's library: from the shared tier while fresh, else read again (and then the
    /// torrents we added that never finished are cleaned up).
    async fn library(&self, key: &Secret) -> Result<Vec<Listed>, StoreError> {
        let cache_key = Self::library_key(key);
        if let Some(bytes) = self.shared.tier().get(&cache_key).await {
            if let Ok(listed) = serde_json::from_slice::<Vec<Listed>>(&bytes) {
                return Ok(listed);
            }
        }
        let data =
            self.client.call(key, Method::GET, "torrents", "/torrents", &[("limit", LIBRARY_LIMIT)], None).await?;
        let listed: Vec<Listed> = match data {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|item| {
                    Some(Listed {
                        id: item.get("id")?.as_str()?.to_string(),
                        hash: item.get("hash")?.as_str()?.to_ascii_lowercase(),
                        status: item.get("status").and_then(Value::as_str).unwrap_or_default().to_string(),
                    })
                })
                .collect(),
            Value::Null => Vec::new(),
            _ => return Err(unexpected("torrents")),
        };
        if !self.library_ttl.is_zero() {
            if let Ok(bytes) = serde_json::to_vec(&listed) {
                self.shared.tier().put(&cache_key, bytes, self.library_ttl).await;
            }
        }
        self.clean_up(key, &listed).await;
        Ok(listed)
    }

    /// Deletes the torrents we added that are still not downloaded `cleanup_after` later.
    async fn clean_up(&self, key: &Secret, listed: &[Listed]) {
        if self.cleanup_after.is_zero() {
            return;
        }
        let added_key = Self::added_key(key);
        let Some(added) = self.shared.tier().get(&added_key).await else { return };
        let Ok(added) = serde_json::from_slice::<Vec<Added>>(&added) else { return };
        let now = now_ms();
        let mut keep = Vec::new();
        for entry in added {
            let status = listed.iter().find(|l| l.id == entry.id).map(|l| l.status.as_str());
            match status {
                // Finished or gone: nothing to clean.
                None | Some("downloaded") => {}
                Some(_) if now.saturating_sub(entry.added_ms) >= self.cleanup_after.as_millis() as u64 => {
                    let path = format!("/torrents/delete/{}", entry.id);
                    match self.client.call(key, Method::DELETE, "torrents/delete", &path, &[], None).await {
                        Ok(_) | Err(StoreError::NotFound { .. }) => {
                            tracing::info!(store = STORE, torrent_id = %entry.id, "deleted a torrent added for a play that never finished");
                        }
                        Err(error) => {
                            tracing::debug!(store = STORE, %error, "could not delete an unfinished torrent; kept for later");
                            keep.push(entry);
                        }
                    }
                }
                Some(_) => keep.push(entry),
            }
        }
        self.put_added(key, &keep).await;
    }

    async fn put_added(&self, key: &Secret, added: &[Added]) {
        let added_key = Self::added_key(key);
        if added.is_empty() {
            self.shared.tier().delete(&added_key).await;
        } else if let Ok(bytes) = serde_json::to_vec(added) {
            let keep_for = self.cleanup_after + Duration::from_secs(7 * 86_400);
            self.shared.tier().put(&added_key, bytes, keep_for).await;
        }
    }

    async fn remember_added(&self, key: &Secret, id: &str) {
        if self.cleanup_after.is_zero() {
            return;
        }
        let mut added = match self.shared.tier().get(&Self::added_key(key)).await {
            Some(bytes) => serde_json::from_slice::<Vec<Added>>(&bytes).unwrap_or_default(),
            None => Vec::new(),
        };
        added.push(Added { id: id.to_string(), added_ms: now_ms() });
        self.put_added(key, &added).await;
    }

    async fn info(&self, key: &Secret, id: &str) -> Result<Info, StoreError> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(StoreError::NotFound { store: STORE, message: "not a RealDebrid torrent id".into() });
        }
        let path = format!("/torrents/info/{id}");
        let data = self.client.call(key, Method::GET, "torrents/info", &path, &[], None).await?;
        serde_json::from_value(data).map_err(|_| unexpected("torrents/info"))
    }

    /// `info`, selecting the video files first when RealDebrid waits for a choice.
    async fn info_selected(&self, key: &Secret, id: &str, ip: Option<&str>) -> Result<Info, StoreError> {
        let info = self.info(key, id).await?;
        if info.status != "waiting_files_selection" {
            return Ok(info);
        }
        let videos: Vec<String> =
            info.files.iter().filter(|f| is_video(&f.path) && f.bytes > 0).map(|f| f.id.to_string()).collect();
        let files = if videos.is_empty() { "all".to_string() } else { videos.join(",") };
        let mut form = vec![("files", files.as_str())];
        if let Some(ip) = ip {
            form.push(("ip", ip));
        }
        let path = format!("/torrents/selectFiles/{id}");
        self.client.call(key, Method::POST, "torrents/selectFiles", &path, &[], Some(&form)).await?;
        self.info(key, id).await
    }
}

#[async_trait]
impl StoreProvider for RealDebridStore {
    fn identity(&self) -> StoreIdentity {
        crate::IDENTITY
    }

    /// The hashes among `hashes` that the token's own library holds `downloaded`.
    async fn check_cached(&self, credential: &Credential, hashes: &[InfoHash]) -> Result<Vec<CachedItem>, StoreError> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let library = self.library(&credential.key).await?;
        let ready: HashSet<&str> =
            library.iter().filter(|l| l.status == "downloaded").map(|l| l.hash.as_str()).collect();
        let mut seen = HashSet::new();
        Ok(hashes
            .iter()
            .filter(|h| ready.contains(h.as_str()) && seen.insert(h.as_str()))
            .map(|h| CachedItem { hash: h.clone(), files: Vec::new() })
            .collect())
    }

    /// Plays the torrent the library already has when there is one; else adds it.
    async fn add_magnet(
        &self,
        credential: &Credential,
        hash: &InfoHash,
        client_ip: Option<IpAddr>,
    ) -> Result<Magnet, StoreError> {
        let key = &credential.key;
        let ip = client_ip.map(|ip| ip.to_string());
        let library = self.library(key).await?;
        let mut listed: Vec<&Listed> = library.iter().filter(|l| l.hash == hash.as_str()).collect();
        listed.sort_by_key(|l| l.status != "downloaded");
        if let Some(listed) = listed.first() {
            match self.info_selected(key, &listed.id, ip.as_deref()).await {
                Ok(info) => return magnet_of(info),
                Err(StoreError::NotFound { .. }) => self.shared.tier().delete(&Self::library_key(key)).await,
                Err(e) => return Err(e),
            }
        }
        let magnet = hash.magnet();
        let mut form = vec![("magnet", magnet.as_str())];
        if let Some(ip) = &ip {
            form.push(("ip", ip.as_str()));
        }
        let data =
            self.client.call(key, Method::POST, "torrents/addMagnet", "/torrents/addMagnet", &[], Some(&form)).await?;
        let id = data.get("id").and_then(Value::as_str).ok_or_else(|| unexpected("torrents/addMagnet"))?.to_string();
        tracing::info!(store = STORE, hash = %hash, torrent_id = %id, "realdebrid added a torrent");
        self.remember_added(key, &id).await;
        // The next lookup must see it.
        self.shared.tier().delete(&Self::library_key(key)).await;
        magnet_of(self.info_selected(key, &id, ip.as_deref()).await?)
    }

    async fn get_magnet(
        &self,
        credential: &Credential,
        id: &str,
        client_ip: Option<IpAddr>,
    ) -> Result<Magnet, StoreError> {
        let ip = client_ip.map(|ip| ip.to_string());
        magnet_of(self.info_selected(&credential.key, id, ip.as_deref()).await?)
    }

    /// `links[]` follows the selected files in order: the file's link is unrestricted.
    async fn generate_link(
        &self,
        credential: &Credential,
        magnet: &Magnet,
        file: &StoreFile,
        client_ip: Option<IpAddr>,
    ) -> Result<String, StoreError> {
        let key = &credential.key;
        let info = self.info(key, &magnet.id).await?;
        let mut selected: Vec<&InfoFile> = info.files.iter().filter(|f| f.selected == 1).collect();
        selected.sort_by_key(|f| f.id);
        let position = selected.iter().position(|f| f.id == file.id);
        let link = position.and_then(|p| info.links.get(p)).ok_or_else(|| StoreError::NotFound {
            store: STORE,
            message: "the file has no link (it was not selected for download)".into(),
        })?;
        let ip = client_ip.map(|ip| ip.to_string());
        let mut form = vec![("link", link.as_str())];
        if let Some(ip) = &ip {
            form.push(("ip", ip.as_str()));
        }
        let data = self.client.call(key, Method::POST, "unrestrict/link", "/unrestrict/link", &[], Some(&form)).await?;
        match data.get("download").and_then(Value::as_str) {
            Some(link) if link.starts_with("https://") || link.starts_with("http://") => Ok(link.to_string()),
            _ => Err(unexpected("unrestrict/link")),
        }
    }

    fn lists_library(&self) -> bool {
        true
    }

    /// The account's torrents (`GET /torrents`, newest first, up to 1000), without their files
    /// (RealDebrid lists them per torrent only): the library plays an item's largest video.
    async fn list_library(&self, credential: &Credential) -> Result<Vec<LibraryItem>, StoreError> {
        let query = [("limit", LIBRARY_LIMIT), ("page", "1")];
        let data = self.client.call(&credential.key, Method::GET, "torrents", "/torrents", &query, None).await?;
        let items = match data {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            _ => return Err(unexpected("torrents")),
        };
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_string);
                Some(LibraryItem {
                    id: text("id")?,
                    hash: InfoHash::parse(&text("hash")?)?,
                    name: text("filename").unwrap_or_default(),
                    size: item.get("bytes").and_then(Value::as_u64).unwrap_or_default(),
                    added: text("added"),
                    ready: text("status").as_deref() == Some("downloaded"),
                    files: Vec::new(),
                    kind: chillproxy_core::ContentKind::Torrent,
                })
            })
            .collect())
    }

    async fn account(&self, credential: &Credential) -> Result<Account, StoreError> {
        let data = self.client.call(&credential.key, Method::GET, "user", "/user", &[], None).await?;
        let id = match data.get("id") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => return Err(unexpected("user")),
        };
        let email = data.get("email").and_then(Value::as_str).unwrap_or_default().to_string();
        let premium = data.get("type").and_then(Value::as_str) == Some("premium");
        Ok(Account { id, email, subscription: if premium { "premium" } else { "expired" }.to_string() })
    }
}

/// The torrent as the host sees it; a status RealDebrid will not get past is an error.
fn magnet_of(info: Info) -> Result<Magnet, StoreError> {
    let status = match info.status.as_str() {
        "downloaded" => MagnetStatus::Downloaded,
        "queued" => MagnetStatus::Queued,
        "downloading" => MagnetStatus::Downloading,
        "uploading" => MagnetStatus::Uploading,
        "magnet_conversion" | "waiting_files_selection" | "compressing" => MagnetStatus::Processing,
        "magnet_error" => return Err(refused("the magnet could not be read (magnet_error)")),
        "virus" => return Err(refused("it is flagged as a virus")),
        "dead" => return Err(refused("the torrent is dead (no one seeds it)")),
        "error" => {
            return Err(StoreError::DownloadFailed {
                store: STORE,
                message: "the download stopped with an error".into(),
            })
        }
        _ => MagnetStatus::Unknown,
    };
    let hash = InfoHash::parse(&info.hash).ok_or_else(|| unexpected("torrents/info"))?;
    let any_selected = info.files.iter().any(|f| f.selected == 1);
    let files = info
        .files
        .iter()
        .filter(|f| !any_selected || f.selected == 1)
        .map(|f| StoreFile {
            id: f.id,
            name: f.path.rsplit('/').next().unwrap_or_default().to_string(),
            path: if f.path.starts_with('/') { f.path.clone() } else { format!("/{}", f.path) },
            size: f.bytes,
            video_hash: None,
        })
        .collect();
    Ok(Magnet { id: info.id, hash, name: clean_text(&info.filename, ""), size: info.bytes, status, files })
}

fn refused(message: &str) -> StoreError {
    StoreError::Refused { store: STORE, message: message.to_string() }
}

fn is_video(path: &str) -> bool {
    let ext = path.rsplit('.').next().unwrap_or_default().to_ascii_lowercase();
    VIDEO.contains(&ext.as_str()) && !path.to_ascii_lowercase().contains("sample")
}

fn unexpected(endpoint: &str) -> StoreError {
    StoreError::Upstream { store: STORE, message: format!("unexpected reply from {endpoint}") }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
