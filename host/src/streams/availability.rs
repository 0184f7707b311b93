//! Which store has which hash ready: answers from the availability cache, the rest in one
//! upstream cache check per store (shared by concurrent identical checks, run on its own task,
//! recording every answer in the cache itself).

use std::collections::HashMap;
use std::sync::Arc;

use chillproxy_core::{
    AuthPurpose, AuthRequest, CachedItem, Credential, DeviceId, InfoHash, StoreError, StoreFile, StoreProvider,
};
use futures::future::join_all;

use super::Session;
use crate::state::Services;

/// hash → (index of the session whose store has it, its files).
pub(super) type Cached = HashMap<InfoHash, (usize, Vec<StoreFile>)>;

/// The first store checks every hash; the next stores check what is left, in parallel. The
/// first store in config order that has a hash wins it. Returns what is cached and the stores
/// (session indices) that failed.
pub(super) async fn check_cached(
    services: &Services,
    sessions: &[Session<'_>],
    device: &DeviceId,
    hashes: &[InfoHash],
) -> (Cached, Vec<(usize, StoreError)>) {
    type Found = Result<Vec<CachedItem>, StoreError>;
    let mut cached = HashMap::new();
    let mut failed = Vec::new();
    let mut absorb = |cached: &mut Cached, index: usize, result: Found| match result {
        Ok(items) => {
            for item in items {
                cached.entry(item.hash).or_insert((index, item.files));
            }
        }
        Err(error) => {
            tracing::warn!(store = sessions[index].store.name(), %error, "cache check failed");
            failed.push((index, error));
        }
    };
    absorb(&mut cached, 0, check_store(services, &sessions[0], device, hashes).await);
    if sessions.len() > 1 {
        let left: Vec<InfoHash> = hashes.iter().filter(|h| !cached.contains_key(*h)).cloned().collect();
        let rest = join_all(sessions[1..].iter().map(|s| check_store(services, s, device, &left))).await;
        for (offset, result) in rest.into_iter().enumerate() {
            absorb(&mut cached, offset + 1, result);
        }
    }
    (cached, failed)
}

/// One store's answer for `hashes`: known answers from the availability cache, the rest in one
/// upstream call. A credential the store rejects is forgotten and asked for again, once.
async fn check_store(
    services: &Services,
    session: &Session<'_>,
    device: &DeviceId,
    hashes: &[InfoHash],
) -> Result<Vec<CachedItem>, StoreError> {
    let caches = &services.caches;
    let store = &session.store;
    let mut found = Vec::new();
    let mut misses = Vec::new();
    let keys: Vec<_> = hashes.iter().map(|hash| (store.name(), hash.clone())).collect();
    for (hash, known) in hashes.iter().zip(caches.availability.lookup_many(&keys).await) {
        match known {
            Some(Some(files)) => found.push(CachedItem { hash: hash.clone(), files }),
            Some(None) => {}
            None => {
                caches.availability.local().note_miss();
                misses.push(hash.clone());
            }
        }
    }
    if misses.is_empty() {
        return Ok(found);
    }
    let auth = AuthRequest { entry: session.entry, device, purpose: AuthPurpose::StreamList };
    let (items, _) = services
        .plugins
        .auth
        .retry_if_rejected(
            &auth,
            session.credential.clone(),
            |e| matches!(e, StoreError::Unauthorized { .. }),
            |credential| shared_check(services, store, credential, &misses),
        )
        .await;
    found.extend(items?.iter().cloned());
    Ok(found)
}

/// One upstream cache check, shared by concurrent requests asking the same store the same
/// question with the same credential. The flight itself records every answer in the
/// availability cache, so a check whose clients all hung up still serves the next request.
async fn shared_check(
    services: &Services,
    store: &Arc<dyn StoreProvider>,
    credential: Credential,
    hashes: &[InfoHash],
) -> Result<Arc<Vec<CachedItem>>, StoreError> {
    let joined: Vec<&str> = hashes.iter().map(InfoHash::as_str).collect();
    let key =
        (store.name(), credential.key.fingerprint(), chillproxy_core::secret::fingerprint(joined.join(",").as_bytes()));
    let (store, hashes) = (store.clone(), hashes.to_vec());
    let caches = &services.caches;
    let (availability, cached_ttl, uncached_ttl) =
        (caches.availability.clone(), caches.cached_ttl(), caches.uncached_ttl());
    caches
        .checks
        .get_or_load(
            key,
            |_| None,
            move || async move {
                let items = store.check_cached(&credential, &hashes).await?;
                let mut answers = Vec::with_capacity(hashes.len());
                for hash in hashes {
                    let files = items.iter().find(|item| item.hash == hash).map(|item| item.files.clone());
                    let ttl = if files.is_some() { cached_ttl } else { uncached_ttl };
                    answers.push(((store.name(), hash), files, ttl));
                }
                availability.insert_many(answers).await;
                Ok(Arc::new(items))
            },
        )
        .await
}
