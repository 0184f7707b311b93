//! Playback: credential → add the torrent → wait (bounded) until the store has it → pick the
//! file → direct link → 302. Usage is reported in the background for credentials that carry a
//! usage tag (a pooled key's provider).

mod context;
mod error;
mod failover;
mod next;
mod record;
mod replicas;
mod resolve;
#[cfg(test)]
mod tests;
mod usenet;

pub(crate) use context::PlaybackContext;
#[cfg(test)]
pub(crate) use context::UsageSink;
pub(crate) use error::PlaybackError;
pub(crate) use failover::Played;
use replicas::{failure_ttl, AcrossReplicas};
use resolve::{Adding, Resolution};

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use chillproxy_core::{
    AuthPurpose, AuthRequest, ContentKind, Credential, InfoHash, MediaQuery, StoreError, StoreProvider, UsenetHash,
};
use chillproxy_stremio::UserConfig;

use crate::client::ClientInfo;
use context::LinkKey;

pub(crate) struct PlaybackRequest<'a> {
    pub config: &'a UserConfig,
    pub media: &'a MediaQuery,
    pub store_code: &'a str,
    /// The release's key (for usenet, `UsenetHash::key`).
    pub hash: InfoHash,
    /// What the release is: a torrent is added by its hash, an NZB from the book of NZBs listed.
    pub kind: ContentKind,
    pub file_idx: Option<u64>,
    pub file_name: Option<&'a str>,
    pub client: &'a ClientInfo,
}

/// Resolves a playback request to a direct link. Concurrent identical requests (same store,
/// credential, hash and file) share one resolution, and links are reused for `links_ttl_s`.
/// A pooled key the store rejects is forgotten and asked for again, once. A release that fails
/// for a reason of its own fails over to another release of the title (see `failover`).
pub(crate) async fn resolve_link(
    ctx: &PlaybackContext,
    request: &PlaybackRequest<'_>,
) -> Result<Played, PlaybackError> {
    let deadline = Instant::now() + ctx.wait();
    let plugins = &ctx.plugins;
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
    if request.kind == ContentKind::Usenet && !store.capabilities().usenet {
        return Err(PlaybackError::BadRequest(format!("{display} does not play usenet releases")));
    }
    let credential = plugins.auth.resolve(&auth).await.map_err(|e| PlaybackError::Auth(display, e))?;
    let rejected = |e: &PlaybackError| matches!(e, PlaybackError::Store(_, StoreError::Unauthorized { .. }));
    let resolve = |credential| resolve_shared(ctx, store, credential, request);
    let (result, credential) = plugins.auth.retry_if_rejected(&auth, credential, rejected, resolve).await;
    let played = match result {
        Ok(link) => {
            let title = ctx.titles.title_of(request.media, &request.config.indexers, &request.hash);
            Played { link, title, hash: request.hash.clone() }
        }
        Err(error) => {
            let failed = failover::Failed {
                store,
                credential: &credential,
                config: request.config,
                media: request.media,
                hash: &request.hash,
                kind: request.kind,
            };
            let play = |hash, file_idx| {
                let other = PlaybackRequest { hash, file_idx, file_name: None, ..*request };
                let credential = credential.clone();
                async move { resolve_shared(ctx, store, credential, &other).await }
            };
            failover::after_failure(ctx, failed, error, deadline, play).await?
        }
    };
    record::remember_play(ctx, store, &credential, &played);
    next::prepare_next(ctx, store, &credential, request.config, request.media, &played);
    Ok(played)
}

async fn resolve_shared(
    ctx: &PlaybackContext,
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
    if let Some(error) = ctx.failures.get(&key) {
        return Err(error);
    }
    // A link this process holds: nothing to prepare for a resolution (the player's many
    // requests for one tap, and every later play of the file within the link's life).
    if let Some(link) = ctx.links.local().get(&key) {
        return Ok(link);
    }
    let adding = match request.kind {
        ContentKind::Torrent => Adding::Torrent,
        ContentKind::Usenet => {
            let usenet = UsenetHash::from_key(&request.hash)
                .ok_or_else(|| PlaybackError::BadRequest("invalid usenet hash".to_string()))?;
            match usenet::unlock(ctx, request.config, &usenet).await? {
                Some(nzb) => Adding::Nzb(nzb),
                None => Adding::InAccount(usenet),
            }
        }
    };
    let job = Resolution {
        ctx: ctx.clone(),
        store: store.clone(),
        credential,
        hash: request.hash.clone(),
        adding,
        media: request.media.clone(),
        file_name: request.file_name.map(str::to_string),
        file_idx: request.file_idx,
        user_ip: public_ip(request.client.ip),
    };
    let across = AcrossReplicas::new(ctx, &key);
    let result = ctx.links.local().get_or_load_kept(key.clone(), move || across.resolve(job)).await;
    if let Err(error) = &result {
        let remember = failure_ttl(ctx, error);
        if !remember.is_zero() {
            ctx.failures.insert(key, error.clone(), remember);
        }
    }
    result
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
