//! The viewer's library as Stremio catalogs: one catalog per store entry whose store lists its
//! downloads. A user's own key sees the account's list (read through the key's budgets, kept
//! briefly); a pooled key's user sees only what they played through chillproxy (recorded by
//! playback in the shared tier, see `crate::plays`), never the account's list, which holds
//! every pool user's downloads. An item's meta lists its video files, each with its stream on
//! the usual playback route.

mod context;
pub(crate) mod ids;
mod render;
mod request;

pub(crate) use context::LibraryContext;
pub(crate) use request::LibraryRequest;

use std::sync::Arc;

use chillproxy_core::{
    AuthPurpose, AuthRequest, ContentKind, LibraryItem, StoreEntry, StoreError, StoreProvider, UsenetHash,
};
use chillproxy_stremio::release::normalise_title;
use chillproxy_stremio::UserConfig;
use serde_json::Value;

use crate::plays::PlayedRelease;
use context::LIST_TTL;

/// Items per catalog page (Stremio asks the next with `skip`).
pub(crate) const PAGE: usize = 20;

/// Why a library request has no answer.
#[derive(Debug)]
pub(crate) enum LibraryError {
    /// No store entry of the config has this catalog or item.
    NotFound,
    /// The entry has no credential, or its store could not be read: a short message (no key).
    Unavailable(String),
}

/// The catalogs the config offers: (id, name) per store entry whose store has a list.
pub(crate) fn catalogs(ctx: &LibraryContext, config: &UserConfig) -> Vec<(String, String)> {
    config
        .stores
        .iter()
        .filter_map(|entry| {
            let store = ctx.plugins.store_by_code(&entry.c).filter(|s| s.lists_library())?;
            Some((ids::catalog_id(entry), format!("{} — my downloads", store.display_name())))
        })
        .collect()
}

/// One catalog page: the items (newest first) whose name holds `search`, from `skip`.
pub(crate) async fn catalog(
    ctx: &LibraryContext,
    request: &LibraryRequest<'_>,
    id: &str,
    skip: usize,
    search: Option<&str>,
) -> Result<Vec<Value>, LibraryError> {
    let entry = ids::entry_of_catalog(&request.config.stores, id).ok_or(LibraryError::NotFound)?;
    let items = items_of(ctx, request, entry).await?;
    let wanted = search.map(normalise_title).filter(|s| !s.is_empty());
    let page = items
        .iter()
        .filter(|item| wanted.as_ref().is_none_or(|w| normalise_title(&item.name).contains(w.as_str())))
        .skip(skip)
        .take(PAGE)
        .map(|item| render::preview(entry, item))
        .collect();
    Ok(page)
}

/// One item's meta, its video files with their streams.
pub(crate) async fn meta(ctx: &LibraryContext, request: &LibraryRequest<'_>, id: &str) -> Result<Value, LibraryError> {
    let (entry, hash) = ids::entry_of_item(&request.config.stores, id).ok_or(LibraryError::NotFound)?;
    let items = items_of(ctx, request, entry).await?;
    let item = items.iter().find(|i| i.hash == hash).ok_or(LibraryError::NotFound)?;
    Ok(render::meta(entry, item, request))
}

/// The entry's items, newest first: the account's list for a user's own key, the recorded plays
/// for a pooled key's user.
async fn items_of(
    ctx: &LibraryContext,
    request: &LibraryRequest<'_>,
    entry: &StoreEntry,
) -> Result<Arc<Vec<LibraryItem>>, LibraryError> {
    let store = ctx.plugins.store_by_code(&entry.c).filter(|s| s.lists_library()).ok_or(LibraryError::NotFound)?;
    let auth = AuthRequest { entry, device: &request.client.device, purpose: AuthPurpose::StreamList };
    let credential =
        ctx.plugins.auth.resolve(&auth).await.map_err(|e| {
            LibraryError::Unavailable(crate::problems::auth_problem(store.display_name(), &e).description)
        })?;
    if let Some(tag) = &credential.usage {
        let plays = ctx.plays.of(&tag.user_id, store.name()).await;
        return Ok(Arc::new(plays.into_iter().map(played_item).collect()));
    }
    let key = (store.name(), credential.key.fingerprint());
    let owned: Arc<dyn StoreProvider> = store.clone();
    let keep = |r: &Result<_, _>| r.is_ok().then_some(LIST_TTL);
    let listed = ctx
        .lists
        .get_or_load(key, keep, move || async move {
            let mut items = owned.list_library(&credential).await?;
            // Newest first; the store's order among items of the same moment.
            items.sort_by(|a, b| b.added.cmp(&a.added));
            Ok::<_, StoreError>(Arc::new(items))
        })
        .await;
    listed.map_err(|e| {
        let available = &ctx.plugins.available_stores;
        LibraryError::Unavailable(crate::problems::store_problem(store.display_name(), &e, available).description)
    })
}

fn played_item(played: PlayedRelease) -> LibraryItem {
    // A played usenet release was recorded under its usenet key (no record says the kind).
    let kind = match UsenetHash::from_key(&played.hash) {
        Some(_) => ContentKind::Usenet,
        None => ContentKind::Torrent,
    };
    LibraryItem {
        id: played.hash.to_string(),
        hash: played.hash,
        name: played.name,
        size: played.size,
        added: None,
        ready: true,
        files: played.files,
        kind,
    }
}
