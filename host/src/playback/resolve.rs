//! One resolution: add the release, wait (bounded) until the store has it, pick the file, get its
//! link, report usage. Owned, so that it can outlive the request that started it.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use chillproxy_core::{
    Credential, InfoHash, MagnetStatus, MediaQuery, StoreError, StoreProvider, UsageEvent, UsenetHash,
};
use chillproxy_stremio::pick_file;

use super::context::PlaybackContext;
use super::error::PlaybackError;
use super::usenet::UnlockedNzb;
use crate::memory::Availability;

/// How a resolution gets the release into the account.
pub(super) enum Adding {
    /// A torrent: added by its hash (found in the account first by the store).
    Torrent,
    /// A usenet release from the book of NZBs listed: added from its NZB (or found first).
    Nzb(UnlockedNzb),
    /// A usenet download the book does not have (one of the viewer's library): found in the
    /// account by its hash, never added.
    InAccount(UsenetHash),
}

/// One playback resolution, owned so that it can outlive the request that started it while
/// others wait on it.
pub(super) struct Resolution {
    pub ctx: PlaybackContext,
    pub store: Arc<dyn StoreProvider>,
    pub credential: Credential,
    pub hash: InfoHash,
    /// How the release gets into the account.
    pub adding: Adding,
    pub media: MediaQuery,
    pub file_name: Option<String>,
    pub file_idx: Option<u64>,
    pub user_ip: Option<IpAddr>,
}

impl Resolution {
    /// Add the torrent, wait (bounded) until the store has it, pick the file, get its link. A
    /// release the store refused (for anyone, within `[cache] refused_ttl_s`) is not added
    /// again; a refusal now is remembered.
    pub async fn run(self) -> Result<String, PlaybackError> {
        let memory_key = (self.store.name(), self.hash.clone());
        let display = self.store.display_name();
        let memory = self.ctx.memory.clone();
        if memory.cache.lookup(&memory_key).await == Some(Availability::Refused) {
            let message = "it refused this release before; pick another stream".to_string();
            return Err(PlaybackError::Store(display, StoreError::Refused { store: display, message }));
        }
        let result = self.resolve().await;
        if let Err(PlaybackError::Store(_, StoreError::Refused { .. })) = &result {
            tracing::info!(store = memory_key.0, hash = %memory_key.1, "the store refuses this release; remembered");
            memory.remember_refused(memory_key.0, memory_key.1).await;
        }
        result
    }

    async fn resolve(self) -> Result<String, PlaybackError> {
        let Self { ctx, store, credential, hash, adding, media, file_name, file_idx, user_ip } = self;
        let display = store.display_name();
        let store_error = |e| PlaybackError::Store(display, e);
        let started = Instant::now();
        let settings = &ctx;
        let mut magnet = match &adding {
            Adding::Nzb(nzb) => store.add_usenet(&credential, &nzb.as_add(), user_ip).await,
            Adding::Torrent => store.add_magnet(&credential, &hash, user_ip).await,
            Adding::InAccount(usenet) => match store.find_usenet(&credential, usenet, user_ip).await {
                Ok(found) => Ok(found.ok_or_else(super::usenet::gone)?),
                Err(e) => Err(e),
            },
        }
        .map_err(store_error)?;
        let usenet = !matches!(adding, Adding::Torrent);
        let cached = magnet.status == MagnetStatus::Downloaded;
        while magnet.status != MagnetStatus::Downloaded {
            match magnet.status {
                MagnetStatus::Failed | MagnetStatus::Invalid => {
                    let message = "it reports the download as failed".to_string();
                    return Err(store_error(StoreError::DownloadFailed { store: display, message }));
                }
                _ if started.elapsed() + settings.poll_interval() > settings.wait() => {
                    if usenet {
                        return Err(PlaybackError::UsenetDownloading { store: display });
                    }
                    return Err(PlaybackError::StillDownloading { store: display, status: status_name(magnet.status) });
                }
                _ => {}
            }
            tokio::time::sleep(settings.poll_interval()).await;
            magnet = store.get_magnet(&credential, &magnet.id, user_ip).await.map_err(store_error)?;
        }
        // The store has it now, whatever an earlier cache check said: for every user.
        ctx.memory.remember_cached(store.name(), hash.clone(), magnet.files.clone()).await;

        let file = pick_file(&magnet.files, &media, file_name.as_deref(), file_idx).ok_or(PlaybackError::NoFile)?;
        let link = store.generate_link(&credential, &magnet, file, user_ip).await.map_err(store_error)?;
        tracing::info!(
            store = store.name(),
            hash = %hash,
            usenet,
            cached,
            provider = credential.provider,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "playback resolved"
        );
        ctx.usage.record(&credential, &UsageEvent { hash, cached, bytes: file.size });
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

/// Why one release failed, when another release of the same title would not share it: worth
/// playing the next one (`failover`). Failures every release shares (a rejected key, a device
/// limit, the store's limits and budgets, an outage) are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReleaseFailure {
    /// The store refuses the release (its content filter's 451, a dead or invalid torrent).
    Refused,
    /// The download failed (the store's `DOWNLOAD_FAILED`, a failed or stalled torrent).
    DownloadFailed,
    /// The release holds no file for the title.
    FileMissing,
}

impl ReleaseFailure {
    pub fn of(error: &PlaybackError) -> Option<Self> {
        match error {
            PlaybackError::Store(_, StoreError::Refused { .. }) => Some(Self::Refused),
            PlaybackError::Store(_, StoreError::DownloadFailed { .. }) => Some(Self::DownloadFailed),
            PlaybackError::NoFile => Some(Self::FileMissing),
            // Another replica's answer for this release: its status says which.
            PlaybackError::Replayed(failure) => match failure.status {
                451 => Some(Self::Refused),
                422 => Some(Self::DownloadFailed),
                _ => None,
            },
            _ => None,
        }
    }

    /// A fixed word for logs.
    pub fn word(self) -> &'static str {
        match self {
            Self::Refused => "refused",
            Self::DownloadFailed => "download_failed",
            Self::FileMissing => "file_missing",
        }
    }
}
