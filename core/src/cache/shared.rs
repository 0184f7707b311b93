//! [`SharedCache`]: a [`FlightCache`] in front of the shared-state tier.

use std::future::Future;
use std::hash::Hash;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{FlightCache, Kept};
use crate::SharedState;

/// A value as the shared tier holds it: its absolute expiry (Unix ms), so that a replica that
/// reads it keeps it in memory no longer than its writer meant, and the value. JSON: serde_json
/// is already in the tree, values are small (a link, a file list, a few dozen candidates), and
/// an operator can read them with `redis-cli`; no binary format is in the tree to reuse.
#[derive(Serialize, Deserialize)]
struct Envelope<V> {
    e: u64,
    v: V,
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Two tiers: this process's [`FlightCache`] in front of the [`SharedState`] tier (Redis when
/// several replicas share state, or the in-process tier). Reads try memory, then the shared
/// tier (filling memory for what is left of the entry's life); writes go to both; loads are
/// shared by concurrent callers in this process and look in the shared tier before loading.
/// Shared keys are `cp:v1:<area>:<key(k)>`: `key` must render no secret (fingerprints only).
pub struct SharedCache<K, V, E> {
    local: FlightCache<K, V, E>,
    shared: SharedState,
    area: &'static str,
    key: fn(&K) -> String,
}

impl<K, V, E> Clone for SharedCache<K, V, E> {
    fn clone(&self) -> Self {
        Self { local: self.local.clone(), shared: self.shared.clone(), area: self.area, key: self.key }
    }
}

impl<K, V, E> SharedCache<K, V, E>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    E: Clone + Send + Sync + 'static,
{
    pub fn new(local: FlightCache<K, V, E>, shared: SharedState, area: &'static str, key: fn(&K) -> String) -> Self {
        Self { local, shared, area, key }
    }

    /// The in-process tier (stats, sizes, flights).
    pub fn local(&self) -> &FlightCache<K, V, E> {
        &self.local
    }

    /// The key of `key` in the shared tier.
    pub fn shared_key(&self, key: &K) -> String {
        SharedState::key(self.area, &[&(self.key)(key)])
    }

    /// The value in this process's memory only (no round trip).
    pub fn get(&self, key: &K) -> Option<V> {
        self.local.get(key)
    }

    /// The value from memory, else from the shared tier.
    pub async fn lookup(&self, key: &K) -> Option<V> {
        match self.local.get(key) {
            Some(value) => Some(value),
            None => self.lookup_shared(key).await,
        }
    }

    /// The value from the shared tier (kept in memory for what is left of its life).
    pub async fn lookup_shared(&self, key: &K) -> Option<V> {
        let raw = self.shared.tier().get(&self.shared_key(key)).await?;
        self.accept(key.clone(), &raw)
    }

    /// The value in the shared tier and what is left of its life, without keeping it in memory.
    pub async fn read_shared(&self, key: &K) -> Option<(V, Duration)> {
        self.read_shared_key(&self.shared_key(key)).await
    }

    /// The values of `keys`, in order: from memory, the rest in one read of the shared tier.
    pub async fn lookup_many(&self, keys: &[K]) -> Vec<Option<V>> {
        let mut found: Vec<Option<V>> = keys.iter().map(|k| self.local.get(k)).collect();
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| found[i].is_none()).collect();
        if missing.is_empty() {
            return found;
        }
        let shared_keys: Vec<String> = missing.iter().map(|&i| self.shared_key(&keys[i])).collect();
        let raws = self.shared.tier().get_many(&shared_keys).await;
        for (i, raw) in missing.into_iter().zip(raws) {
            if let Some(raw) = raw {
                found[i] = self.accept(keys[i].clone(), &raw);
            }
        }
        found
    }

    fn decode(raw: &[u8]) -> Option<(V, Duration)> {
        let envelope: Envelope<V> = serde_json::from_slice(raw).ok()?;
        let left = Duration::from_millis(envelope.e.checked_sub(unix_ms())?);
        (!left.is_zero()).then_some((envelope.v, left))
    }

    fn encode(value: &V, ttl: Duration) -> Option<Vec<u8>> {
        let envelope = Envelope { e: unix_ms().saturating_add(ttl.as_millis() as u64), v: value };
        serde_json::to_vec(&envelope).ok()
    }

    fn accept(&self, key: K, raw: &[u8]) -> Option<V> {
        let (value, left) = Self::decode(raw)?;
        self.local.insert(key, value.clone(), left);
        Some(value)
    }

    /// Keeps `value` for `ttl` in both tiers.
    pub async fn insert(&self, key: K, value: V, ttl: Duration) {
        self.insert_many(vec![(key, value, ttl)]).await;
    }

    /// Keeps every `(key, value, ttl)` in both tiers (one write to the shared tier).
    pub async fn insert_many(&self, entries: Vec<(K, V, Duration)>) {
        let mut shared = Vec::with_capacity(entries.len());
        for (key, value, ttl) in entries {
            if let Some(raw) = Self::encode(&value, ttl) {
                shared.push((self.shared_key(&key), raw, ttl));
            }
            self.local.insert(key, value, ttl);
        }
        self.shared.tier().put_many(shared).await;
    }

    /// Forgets `key` in both tiers.
    pub async fn remove(&self, key: &K) {
        self.local.remove(key);
        self.shared.tier().delete(&self.shared_key(key)).await;
    }

    /// As [`FlightCache::get_or_load_kept`], with the shared tier between memory and `load`: a
    /// value another replica loaded is used for what is left of its life, and a loaded value
    /// that `load` says to keep goes to both tiers.
    pub async fn get_or_load<F, Fut>(&self, key: K, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Kept<V>, E>> + Send + 'static,
    {
        let (this, shared_key) = (self.clone(), self.shared_key(&key));
        self.local
            .get_or_load_kept(key, move || {
                let fut = load();
                async move {
                    if let Some((value, left)) = this.read_shared_key(&shared_key).await {
                        return Ok((value, Some(left)));
                    }
                    let loaded = fut.await?;
                    if let (value, Some(ttl)) = &loaded {
                        if let Some(raw) = Self::encode(value, *ttl) {
                            this.shared.tier().put(&shared_key, raw, *ttl).await;
                        }
                    }
                    Ok(loaded)
                }
            })
            .await
    }

    async fn read_shared_key(&self, shared_key: &str) -> Option<(V, Duration)> {
        let raw = self.shared.tier().get(shared_key).await?;
        Self::decode(&raw)
    }
}
