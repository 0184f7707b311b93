//! What a pooled key's users played, per user: playback records each resolved play of a pooled
//! credential (one account for many users) under the user's id, and the library catalog reads
//! only that user's record, never the account's list (which holds every user's downloads). Kept
//! in the shared tier (Redis when configured), so every replica reads the same record. The key
//! holds a fingerprint of the user id, never the id itself nor a debrid key.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chillproxy_core::{InfoHash, SharedState, StoreFile};
use serde::{Deserialize, Serialize};

/// Most plays kept per user and store (the newest).
pub(crate) const MAX_PLAYS: usize = 200;
/// Most files kept per play (a season pack's episodes, and some).
const MAX_FILES: usize = 200;
/// How long a record lives after its last play.
const KEEP: Duration = Duration::from_secs(90 * 24 * 3600);

/// One release a user played.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PlayedRelease {
    pub hash: InfoHash,
    pub name: String,
    pub size: u64,
    /// Unix seconds of the last play.
    pub at: u64,
    pub files: Vec<StoreFile>,
}

/// The records, over the shared tier. Cheap to clone.
#[derive(Clone)]
pub(crate) struct PlayRecords {
    shared: SharedState,
}

impl PlayRecords {
    pub fn new(shared: SharedState) -> Self {
        Self { shared }
    }

    fn key(user_id: &str, store: &str) -> String {
        let user = chillproxy_core::secret::fingerprint(user_id.as_bytes());
        SharedState::key("plays", &[store, &user])
    }

    /// What `user_id` played on `store`, newest first.
    pub async fn of(&self, user_id: &str, store: &str) -> Vec<PlayedRelease> {
        let Some(raw) = self.shared.tier().get(&Self::key(user_id, store)).await else { return Vec::new() };
        serde_json::from_slice(&raw).unwrap_or_default()
    }

    /// Records a play (moved to the front when it was played before). Two plays of one user at
    /// the same moment on two replicas may keep only one of them; the next play records again.
    pub async fn record(&self, user_id: &str, store: &str, mut played: PlayedRelease) {
        played.files.truncate(MAX_FILES);
        played.at = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        let mut plays = self.of(user_id, store).await;
        plays.retain(|p| p.hash != played.hash);
        plays.insert(0, played);
        plays.truncate(MAX_PLAYS);
        if let Ok(value) = serde_json::to_vec(&plays) {
            self.shared.tier().put(&Self::key(user_id, store), value, KEEP).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(c: char) -> PlayedRelease {
        let hash = InfoHash::parse(&c.to_string().repeat(40)).unwrap();
        PlayedRelease { hash, name: format!("Release.{c}"), size: 1, at: 0, files: Vec::new() }
    }

    #[tokio::test]
    async fn each_user_reads_only_their_own_plays_newest_first() {
        let records = PlayRecords::new(SharedState::default());
        records.record("user-a", "store-a", release('a')).await;
        records.record("user-a", "store-a", release('b')).await;
        records.record("user-b", "store-a", release('c')).await;
        records.record("user-a", "store-a", release('a')).await;
        let names = |plays: Vec<PlayedRelease>| plays.into_iter().map(|p| p.name).collect::<Vec<_>>();
        assert_eq!(names(records.of("user-a", "store-a").await), ["Release.a", "Release.b"]);
        assert_eq!(names(records.of("user-b", "store-a").await), ["Release.c"]);
        assert!(records.of("user-c", "store-a").await.is_empty());
        assert!(records.of("user-a", "store-b").await.is_empty());
    }
}
