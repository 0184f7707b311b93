//! Recording what a pooled key's user played (see `crate::plays`): in the background, once per
//! (user, release) while this process remembers it, so a player's many requests for one tap
//! cost one write.

use std::sync::Arc;
use std::time::Duration;

use chillproxy_core::{Credential, StoreProvider};

use super::context::PlaybackContext;
use super::failover::Played;
use crate::memory::Availability;
use crate::plays::PlayedRelease;

/// How long a recorded play is not recorded again by this process.
const RECORDED_FOR: Duration = Duration::from_secs(600);

/// Records `played` for the user of a pooled credential (one that carries a usage tag); nothing
/// for a user's own key, whose library is the account's list.
pub(super) fn remember_play(
    ctx: &PlaybackContext,
    store: &Arc<dyn StoreProvider>,
    credential: &Credential,
    played: &Played,
) {
    let Some(tag) = &credential.usage else { return };
    let user = tag.user_id.clone();
    let seen = (chillproxy_core::secret::fingerprint(user.as_bytes()), played.hash.clone());
    if ctx.recorded.get(&seen).is_some() {
        return;
    }
    ctx.recorded.insert(seen, (), RECORDED_FOR);
    let (ctx, store, hash, title) = (ctx.clone(), store.name(), played.hash.clone(), played.title.clone());
    tokio::spawn(async move {
        // The files the store listed when the release resolved (for everyone: no credential).
        let files = match ctx.memory.cache.lookup(&(store, hash.clone())).await {
            Some(Availability::Cached(files)) => files,
            _ => Vec::new(),
        };
        let name = title
            .or_else(|| files.iter().max_by_key(|f| f.size).map(|f| f.name.clone()))
            .unwrap_or_else(|| hash.to_string());
        let size = files.iter().map(|f| f.size).sum();
        ctx.plays.record(&user, store, PlayedRelease { hash, name, size, at: 0, files }).await;
    });
}
