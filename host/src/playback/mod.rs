//! Playback: credential → add the torrent → wait (bounded) until the store has it → pick the
//! file → direct link → 302. Usage is reported in the background for credentials that carry a
//! usage tag (a pooled key's provider).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chillproxy_core::cache::Kept;
use chillproxy_core::{
    AuthPurpose, AuthRequest, Credential, InfoHash, MagnetStatus, MediaQuery, StoreError, StoreProvider, UsageEvent,
};
use chillproxy_stremio::UserConfig;

use crate::caches::{Availability, LinkKey};
use crate::http::client::ClientInfo;
use crate::state::Services;
use crate::streams::pick_file;

mod error;
#[cfg(test)]
mod tests;

pub(crate) use error::{PlaybackError, SharedFailure};

/// How long a replica's claim on one resolution lives without being extended (it is extended
/// while the owner works; a crashed owner's claim expires after this).
const CLAIM_TTL: Duration = Duration::from_secs(30);
/// How often a replica waiting on another's resolution looks for its result.
const CLAIM_POLL: Duration = Duration::from_millis(50);

pub(crate) struct PlaybackRequest<'a> {
    pub config: &'a UserConfig,
    pub media: &'a MediaQuery,
    pub store_code: &'a str,
    pub hash: InfoHash,
    pub file_idx: Option<u64>,
    pub file_name: Option<&'a str>,
    pub client: &'a ClientInfo,
}

/// Resolves a playback request to a direct link. Concurrent identical requests (same store,
/// credential, hash and file) share one resolution, and links are reused for `links_ttl_s`.
/// A pooled key the store rejects is forgotten and asked for again, once.
pub(crate) async fn resolve_link(services: &Services, request: &PlaybackRequest<'_>) -> Result<String, PlaybackError> {
    let plugins = &services.plugins;
    let entry =
        request.config.stores.iter().find(|s| s.c == request.store_code).ok_or_else(|| {
            PlaybackError::BadRequest(format!("store {:?} is not in this config", request.store_code))
        })?;
    let store = plugins
        .store_by_code(&entry.c)
        .ok_or_else(|| PlaybackError::BadRequest(format!("store {:?} is not enabled here", entry.c)))?;
    let auth = AuthRequest {
        entry,
        device: &request.client.device,
        purpose: AuthPurpose::Playback { hash: request.hash.clone() },
    };
    let display = store.display_name();
    let credential = plugins.auth.resolve(&auth).await.map_err(|e| PlaybackError::Auth(display, e))?;
    let rejected = |e: &PlaybackError| matches!(e, PlaybackError::Store(_, StoreError::Unauthorized { .. }));
    let resolve = |credential| resolve_shared(services, store, credential, request);
    plugins.auth.retry_if_rejected(&auth, credential, rejected, resolve).await.0
}

async fn resolve_shared(
    services: &Services,
    store: &Arc<dyn StoreProvider>,
    credential: Credential,
    request: &PlaybackRequest<'_>,
) -> Result<String, PlaybackError> {
    let key = LinkKey {
        store: store.name(),
        credential: credential.key.fingerprint(),
        hash: request.hash.clone(),
        file_idx: request.file_idx,
        file_name: request.file_name.map(str::to_string),
        episode: request.media.season.zip(request.media.episode),
    };
    let caches = &services.caches;
    if let Some(error) = caches.failures.get(&key) {
        return Err(error);
    }
    // A link this process holds: nothing to prepare for a resolution (the player's many
    // requests for one tap, and every later play of the file within the link's life).
    if let Some(link) = caches.links.local().get(&key) {
        return Ok(link);
    }
    let job = Resolution {
        services: services.clone(),
        store: store.clone(),
        credential,
        hash: request.hash.clone(),
        media: request.media.clone(),
        file_name: request.file_name.map(str::to_string),
        file_idx: request.file_idx,
        user_ip: public_ip(request.client.ip),
    };
    let across = AcrossReplicas::new(services, &key);
    let result = caches.links.local().get_or_load_kept(key.clone(), move || across.resolve(job)).await;
    if let Err(error) = &result {
        let remember = failure_ttl(services, error);
        if !remember.is_zero() {
            caches.failures.insert(key, error.clone(), remember);
        }
    }
    result
}

/// One resolution per play across every replica sharing the tier: the link or the failure
/// another replica settled, else a claim (`lock:resolve:…`) and our own resolution, else a wait
/// for the replica that holds the claim.
struct AcrossReplicas {
    services: Services,
    key: LinkKey,
    lock: String,
    failure: String,
}

impl AcrossReplicas {
    fn new(services: &Services, key: &LinkKey) -> Self {
        let part = key.shared_part();
        Self {
            services: services.clone(),
            key: key.clone(),
            lock: chillproxy_core::SharedState::key("lock", &["resolve", &part]),
            failure: chillproxy_core::SharedState::key("linkerr", &[&part]),
        }
    }

    /// What another replica settled: its link with what is left of its life (this process
    /// keeps it no longer), or the failure it remembered.
    async fn settled(&self) -> Option<Result<Kept<String>, PlaybackError>> {
        let caches = &self.services.caches;
        if let Some((link, left)) = caches.links.read_shared(&self.key).await {
            return Some(Ok((link, Some(left))));
        }
        let failure = caches.shared.tier().get(&self.failure).await?;
        let failure: SharedFailure = serde_json::from_slice(&failure).ok()?;
        Some(Err(PlaybackError::Replayed(failure)))
    }

    /// The link and how long this process keeps it.
    async fn resolve(self, job: Resolution) -> Result<Kept<String>, PlaybackError> {
        let services = &self.services;
        let shared = services.caches.shared.clone();
        let store = job.store.display_name();
        // Waiters give the owner its whole playback budget and a little more for the link.
        let wait = services.playback.wait() + Duration::from_secs(5);
        let check = || self.settled();
        let links_ttl = services.caches.links_ttl();
        let work = async {
            let result = job.run().await;
            self.settle(&result).await;
            result.map(|link| (link, Some(links_ttl)))
        };
        let outcome = shared.run_once(&self.lock, CLAIM_TTL, wait, CLAIM_POLL, check, work).await;
        outcome.unwrap_or(Err(PlaybackError::StillDownloading { store, status: "being prepared" }))
    }

    /// Puts the owner's result where the waiting replicas look: the link for `links_ttl_s`,
    /// a remembered failure for `[playback] error_ttl_s`.
    async fn settle(&self, result: &Result<String, PlaybackError>) {
        let caches = &self.services.caches;
        match result {
            Ok(link) => caches.links.insert(self.key.clone(), link.clone(), caches.links_ttl()).await,
            Err(error) => {
                let remember = failure_ttl(&self.services, error);
                // A rejected key is not replayed: each replica must see the rejection itself to
                // forget the key and fetch another (`retry_if_rejected`).
                let rejected = matches!(error, PlaybackError::Store(_, StoreError::Unauthorized { .. }));
                if remember.is_zero() || rejected {
                    return;
                }
                let failure = error.to_shared(&self.services.plugins.available_stores);
                if let Ok(value) = serde_json::to_vec(&failure) {
                    caches.shared.tier().put(&self.failure, value, remember).await;
                }
            }
        }
    }
}

/// How long a failed resolution is remembered: `[playback] error_ttl_s` (at most a minute),
/// except rate limits: the store's budget already holds calls back and says when to try again,
/// more precisely than a fixed error time would.
fn failure_ttl(services: &Services, error: &PlaybackError) -> Duration {
    let rate_limited =
        matches!(error, PlaybackError::Store(_, StoreError::RateLimited { .. } | StoreError::BudgetExhausted { .. }));
    if rate_limited {
        Duration::ZERO
    } else {
        Duration::from_secs(services.playback.error_ttl_s.min(60))
    }
}

/// One playback resolution, owned so that it can outlive the request that started it while
/// others wait on it.
struct Resolution {
    services: Services,
    store: Arc<dyn StoreProvider>,
    credential: Credential,
    hash: InfoHash,
    media: MediaQuery,
    file_name: Option<String>,
    file_idx: Option<u64>,
    user_ip: Option<IpAddr>,
}

impl Resolution {
    /// Add the torrent, wait (bounded) until the store has it, pick the file, get its link. A
    /// release the store refused (for anyone, within `[cache] refused_ttl_s`) is not added
    /// again; a refusal now is remembered.
    async fn run(self) -> Result<String, PlaybackError> {
        let memory_key = (self.store.name(), self.hash.clone());
        let display = self.store.display_name();
        let caches = self.services.caches.clone();
        if caches.availability.lookup(&memory_key).await == Some(Availability::Refused) {
            let message = "it refused this release before; pick another stream".to_string();
            return Err(PlaybackError::Store(display, StoreError::Refused { store: display, message }));
        }
        let result = self.resolve().await;
        if let Err(PlaybackError::Store(_, StoreError::Refused { .. })) = &result {
            tracing::info!(store = memory_key.0, hash = %memory_key.1, "the store refuses this release; remembered");
            caches.availability.insert(memory_key, Availability::Refused, caches.refused_ttl()).await;
        }
        result
    }

    async fn resolve(self) -> Result<String, PlaybackError> {
        let Self { services, store, credential, hash, media, file_name, file_idx, user_ip } = self;
        let display = store.display_name();
        let store_error = |e| PlaybackError::Store(display, e);
        let started = Instant::now();
        let settings = &services.playback;
        let mut magnet = store.add_magnet(&credential, &hash, user_ip).await.map_err(store_error)?;
        let cached = magnet.status == MagnetStatus::Downloaded;
        while magnet.status != MagnetStatus::Downloaded {
            match magnet.status {
                MagnetStatus::Failed | MagnetStatus::Invalid => {
                    let message = "it reports the download as failed".to_string();
                    return Err(store_error(StoreError::DownloadFailed { store: display, message }));
                }
                _ if started.elapsed() + settings.poll_interval() > settings.wait() => {
                    return Err(PlaybackError::StillDownloading { store: display, status: status_name(magnet.status) })
                }
                _ => {}
            }
            tokio::time::sleep(settings.poll_interval()).await;
            magnet = store.get_magnet(&credential, &magnet.id, user_ip).await.map_err(store_error)?;
        }
        // The store has it now, whatever an earlier cache check said: for every user.
        services
            .caches
            .availability
            .insert(
                (store.name(), hash.clone()),
                Availability::Cached(magnet.files.clone()),
                services.caches.cached_ttl(),
            )
            .await;

        let file = pick_file(&magnet.files, &media, file_name.as_deref(), file_idx).ok_or(PlaybackError::NoFile)?;
        let link = store.generate_link(&credential, &magnet, file, user_ip).await.map_err(store_error)?;
        tracing::info!(
            store = store.name(),
            hash = %hash,
            cached,
            provider = credential.provider,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "playback resolved"
        );
        services.usage.record(&credential, &UsageEvent { hash, cached, bytes: file.size });
        Ok(link)
    }
}

fn status_name(status: MagnetStatus) -> &'static str {
    match status {
        MagnetStatus::Queued => "queued",
        MagnetStatus::Downloading => "downloading",
        MagnetStatus::Processing => "processing",
        MagnetStatus::Uploading => "uploading",
        MagnetStatus::Downloaded => "downloaded",
        MagnetStatus::Failed => "failed",
        MagnetStatus::Invalid => "invalid",
        MagnetStatus::Unknown => "unknown",
    }
}

/// Stores want the viewer's public IP (e.g. a `user_ip` parameter); loopback and private ranges mean
/// nothing to them.
fn public_ip(ip: IpAddr) -> Option<IpAddr> {
    let private = match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    };
    (!private).then_some(ip)
}

/// `[playback]` settings as durations.
pub(crate) trait PlaybackTiming {
    fn wait(&self) -> Duration;
    fn poll_interval(&self) -> Duration;
}

impl PlaybackTiming for crate::config::PlaybackConfig {
    fn wait(&self) -> Duration {
        Duration::from_millis(self.wait_ms)
    }
    fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}
