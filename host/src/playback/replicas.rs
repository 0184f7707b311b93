//! One resolution per play across every replica sharing the tier (Redis): a claim on the
//! resolution, the link or failure the owner settled for the others, and how long a failure is
//! remembered.

use std::time::Duration;

use chillproxy_core::cache::Kept;
use chillproxy_core::{SharedState, StoreError};

use super::context::{LinkKey, PlaybackContext};
use super::error::{PlaybackError, SharedFailure};
use super::resolve::Resolution;

/// How long a replica's claim on one resolution lives without being extended (it is extended
/// while the owner works; a crashed owner's claim expires after this).
const CLAIM_TTL: Duration = Duration::from_secs(30);
/// How often a replica waiting on another's resolution looks for its result.
const CLAIM_POLL: Duration = Duration::from_millis(50);

/// One resolution per play across every replica sharing the tier: the link or the failure
/// another replica settled, else a claim (`lock:resolve:…`) and our own resolution, else a wait
/// for the replica that holds the claim.
pub(super) struct AcrossReplicas {
    ctx: PlaybackContext,
    key: LinkKey,
    lock: String,
    failure: String,
}

impl AcrossReplicas {
    pub fn new(ctx: &PlaybackContext, key: &LinkKey) -> Self {
        let part = key.shared_part();
        Self {
            ctx: ctx.clone(),
            key: key.clone(),
            lock: SharedState::key("lock", &["resolve", &part]),
            failure: SharedState::key("linkerr", &[&part]),
        }
    }

    /// What another replica settled: its link with what is left of its life (this process
    /// keeps it no longer), or the failure it remembered.
    async fn settled(&self) -> Option<Result<Kept<String>, PlaybackError>> {
        if let Some((link, left)) = self.ctx.links.read_shared(&self.key).await {
            return Some(Ok((link, Some(left))));
        }
        let failure = self.ctx.plugins.shared.tier().get(&self.failure).await?;
        let failure: SharedFailure = serde_json::from_slice(&failure).ok()?;
        Some(Err(PlaybackError::Replayed(failure)))
    }

    /// The link and how long this process keeps it.
    pub async fn resolve(self, job: Resolution) -> Result<Kept<String>, PlaybackError> {
        let ctx = &self.ctx;
        let shared = ctx.plugins.shared.clone();
        let store = job.store.display_name();
        // Waiters give the owner its whole playback budget and a little more for the link.
        let wait = ctx.wait() + Duration::from_secs(5);
        let check = || self.settled();
        let links_ttl = ctx.links_ttl;
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
        match result {
            Ok(link) => self.ctx.links.insert(self.key.clone(), link.clone(), self.ctx.links_ttl).await,
            Err(error) => {
                let remember = failure_ttl(&self.ctx, error);
                // A rejected key is not replayed: each replica must see the rejection itself to
                // forget the key and fetch another (`retry_if_rejected`).
                let rejected = matches!(error, PlaybackError::Store(_, StoreError::Unauthorized { .. }));
                if remember.is_zero() || rejected {
                    return;
                }
                let failure = error.to_shared(&self.ctx.plugins.available_stores);
                if let Ok(value) = serde_json::to_vec(&failure) {
                    self.ctx.plugins.shared.tier().put(&self.failure, value, remember).await;
                }
            }
        }
    }
}

/// How long a failed resolution is remembered: `[playback] error_ttl_s` (at most a minute),
/// except rate limits: the store's budget already holds calls back and says when to try again,
/// more precisely than a fixed error time would.
pub(super) fn failure_ttl(ctx: &PlaybackContext, error: &PlaybackError) -> Duration {
    let rate_limited =
        matches!(error, PlaybackError::Store(_, StoreError::RateLimited { .. } | StoreError::BudgetExhausted { .. }));
    if rate_limited {
        Duration::ZERO
    } else {
        Duration::from_secs(ctx.settings.error_ttl_s.min(60))
    }
}
