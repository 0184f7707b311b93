//! A usenet release to add: the playback URL names it by its usenet hash only, so its NZB comes
//! from the book the stream list filled ([`crate::nzb_book`]), and its indexer's key is put back
//! here, server-side, from the operator's settings (the source that found it) or the request's
//! config. The unlocked link lives in this resolution only: never logged, kept or shown. A release
//! the book does not have (a usenet download of the viewer's library) is looked for in the
//! account by its hash instead ([`Adding::InAccount`](super::resolve::Adding::InAccount)).

use chillproxy_core::{NzbIndexer, Secret, UsenetAdd, UsenetHash, UserIndexer};
use chillproxy_stremio::UserConfig;

use super::context::PlaybackContext;
use super::error::PlaybackError;

/// An NZB ready to add: its link holds the indexer's key again.
#[derive(Clone)]
pub(super) struct UnlockedNzb {
    pub hash: UsenetHash,
    pub link: Secret,
    /// The link is an operator indexer's.
    pub trusted: bool,
    pub title: String,
}

impl UnlockedNzb {
    pub fn as_add(&self) -> UsenetAdd<'_> {
        UsenetAdd { hash: &self.hash, link: &self.link, trusted: self.trusted, title: &self.title }
    }
}

/// The user's own indexers an NZB source searched with: the config's usenet list, which
/// `NzbIndexer::User` indexes (`SourceQuery::usenet_indexers`).
fn user_indexers<'a>(config: &'a UserConfig, source: &str) -> &'a [UserIndexer] {
    let _ = source;
    config.usenet_indexers()
}

/// What a playback of a usenet release that is neither in the book nor in the account answers.
pub(super) fn gone() -> PlaybackError {
    PlaybackError::BadRequest(
        "this usenet release is no longer known here; open the stream list again and pick it there".to_string(),
    )
}

/// The NZB behind `hash`, unlocked for this request; `None` when the book does not have it (a
/// download of the viewer's library, played from the account by its hash, or a list long gone).
pub(super) async fn unlock(
    ctx: &PlaybackContext,
    config: &UserConfig,
    hash: &UsenetHash,
) -> Result<Option<UnlockedNzb>, PlaybackError> {
    let Some(booked) = ctx.memory.nzbs.lookup(hash).await else { return Ok(None) };
    let nzb = booked.nzb;
    let key = match &nzb.indexer {
        NzbIndexer::None => None,
        NzbIndexer::Operator { source, .. } | NzbIndexer::User { source, .. } => {
            let plugin = ctx.plugins.sources.iter().find(|s| s.name() == source).ok_or_else(gone)?;
            let key = plugin.nzb_key(&nzb.indexer, user_indexers(config, source));
            if key.is_none() && nzb.needs_key() {
                return Err(PlaybackError::BadRequest(
                    "the indexer that listed this usenet release is not in this link's configuration any more; open \
                     the stream list again"
                        .to_string(),
                ));
            }
            key
        }
    };
    let trusted = matches!(nzb.indexer, NzbIndexer::Operator { .. });
    Ok(Some(UnlockedNzb { hash: nzb.hash.clone(), link: nzb.unlock(key.as_ref()), trusted, title: booked.title }))
}
