//! Which store has which hash ready: answers from the availability memory (what any user's
//! cache check or playback learnt), the rest in one upstream cache check per store (shared by
//! concurrent identical checks, run on its own task, recording every exact answer in the memory
//! itself).
//!
//! What a store can tell follows its [`CacheKnowledge`]: an exact check's "not cached" is
//! remembered for everyone; a history-only store's check reads the user's own library, so a
//! hash it does not return is only "not known" (never remembered as not cached), and the
//! memory's "cached" comes from resolves. A store that refuses a release is remembered as
//! [`Availability::Refused`] and the hash is reported back so it is not offered there. A hash a
//! source already said is cached on a store (`Candidate::cached_on`) is taken as that store's
//! answer, without asking it again.
//!
//! A store is asked only about the kinds it plays: NZB releases (usenet) go to a store with
//! the usenet capability whose credential may use it ([`Session::usenet`], from
//! `StoreProvider::plays`), through `check_cached_usenet`; torrents through `check_cached`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chillproxy_core::{
    AuthPurpose, AuthRequest, CacheKnowledge, CachedItem, Candidate, ContentKind, Credential, DeviceId, InfoHash,
    StoreEntry, StoreError, StoreFile, StoreProvider, UsenetHash,
};
use futures::future::join_all;

use super::context::StreamsContext;
use super::warm::{remembered, Prepared};
use crate::memory::Availability;

/// A store entry with a credential.
pub(super) struct Session<'a> {
    pub entry: &'a StoreEntry,
    pub store: Arc<dyn StoreProvider>,
    pub credential: Credential,
    /// The store plays usenet and this credential may use it (set once the list has NZB
    /// candidates; see [`plays_usenet`]).
    pub usenet: bool,
}

impl Session<'_> {
    /// Whether this session's store is asked about, and lists, releases of `kind`.
    pub fn plays(&self, kind: ContentKind) -> bool {
        kind == ContentKind::Torrent || self.usenet
    }
}

/// Marks the sessions whose store plays usenet with their credential (a plan that includes it),
/// asking each such store once, concurrently; the others never see an NZB candidate.
pub(super) async fn plays_usenet(sessions: &mut [Session<'_>]) {
    let answers = join_all(sessions.iter().map(|s| async move {
        s.store.capabilities().usenet && s.store.plays(&s.credential, ContentKind::Usenet).await
    }))
    .await;
    for (session, usenet) in sessions.iter_mut().zip(answers) {
        session.usenet = usenet;
    }
}

/// hash → (index of the session whose store has it, its files).
pub(super) type Cached = HashMap<InfoHash, (usize, Vec<StoreFile>)>;

/// (index of the session, hash) the session's store refuses.
pub(super) type Refused = HashSet<(usize, InfoHash)>;

/// One store's answer: what it has ready, what it refuses, and until when the answer holds
/// when it came wholly from this process's availability memory (`None`: the store or the
/// shared tier was asked).
type StoreAnswer = (Vec<CachedItem>, Vec<InfoHash>, Option<Instant>);

/// What every store said: cached hashes, refusals, failed stores, and until when all of it holds
/// (while the memory's generation is unchanged) when it came wholly from this process's memory.
pub(super) struct Checked {
    pub cached: Cached,
    pub refused: Refused,
    pub failed: Vec<(usize, StoreError)>,
    pub from_memory_until: Option<Instant>,
}

/// The first store checks every hash; the next stores check what is left, in parallel. The
/// first store in config order that has a hash wins it. Returns what is cached, what each
/// store refuses, and the stores (session indices) that failed.
pub(super) async fn check_cached(
    ctx: &StreamsContext,
    sessions: &[Session<'_>],
    device: &DeviceId,
    prepared: &Prepared,
) -> Checked {
    let candidates = &prepared.found.candidates[..];
    let hashes: Vec<InfoHash> = candidates.iter().map(|c| c.hash.clone()).collect();
    let hashes = &hashes[..];
    let known: Vec<&Candidate> = candidates.iter().filter(|c| !c.cached_on.is_empty()).collect();
    let candidates = &known[..];
    let mut cached = HashMap::new();
    let mut refused = HashSet::new();
    let mut failed = Vec::new();
    // Each store's answer's life when it came wholly from memory (`None`: it did not).
    let mut held: Vec<Option<Instant>> = Vec::with_capacity(sessions.len());
    let mut absorb = |cached: &mut Cached, index: usize, result: Result<StoreAnswer, StoreError>| match result {
        Ok((items, refusals, answer_held)) => {
            for item in items {
                cached.entry(item.hash).or_insert((index, item.files));
            }
            refused.extend(refusals.into_iter().map(|hash| (index, hash)));
            held.push(answer_held);
        }
        Err(error) => {
            tracing::warn!(store = sessions[index].store.name(), %error, "cache check failed");
            failed.push((index, error));
            held.push(None);
        }
    };
    absorb(&mut cached, 0, check_store(ctx, &sessions[0], device, prepared, candidates, hashes).await);
    if sessions.len() > 1 {
        let left: Vec<InfoHash> = hashes.iter().filter(|h| !cached.contains_key(*h)).cloned().collect();
        let rest =
            join_all(sessions[1..].iter().map(|s| check_store(ctx, s, device, prepared, candidates, &left))).await;
        for (offset, result) in rest.into_iter().enumerate() {
            absorb(&mut cached, offset + 1, result);
        }
    }
    let from_memory_until = held.into_iter().collect::<Option<Vec<_>>>().and_then(|all| all.into_iter().min());
    Checked { cached, refused, failed, from_memory_until }
}

/// One store's answer for `hashes`: known answers from the availability cache, the rest in one
/// upstream call. A credential the store rejects is forgotten and asked for again, once.
async fn check_store(
    ctx: &StreamsContext,
    session: &Session<'_>,
    device: &DeviceId,
    prepared: &Prepared,
    candidates: &[&Candidate],
    hashes: &[InfoHash],
) -> Result<StoreAnswer, StoreError> {
    let store = &session.store;
    let mut found = Vec::new();
    let mut refused = Vec::new();
    let mut misses = Vec::new();
    // Only the kinds this store plays with this credential.
    let playable: Vec<InfoHash>;
    let hashes = if session.usenet {
        hashes
    } else {
        playable = hashes.iter().filter(|h| !prepared.is_usenet(h)).cloned().collect();
        &playable[..]
    };
    let (answers, held) = remembered(&ctx.memory, prepared, store.name(), hashes).await;
    for (hash, known) in hashes.iter().zip(answers) {
        let said = candidates.iter().find(|c| c.hash == *hash && c.cached_on.iter().any(|s| s == store.name()));
        if let Some(candidate) = said {
            found.push(CachedItem { hash: hash.clone(), files: candidate.files.clone() });
            continue;
        }
        match known {
            Some(Availability::Cached(files)) => found.push(CachedItem { hash: hash.clone(), files }),
            Some(Availability::NotCached) => {}
            Some(Availability::Refused) => refused.push(hash.clone()),
            None => {
                ctx.memory.cache.local().note_miss();
                misses.push(hash.clone());
            }
        }
    }
    if misses.is_empty() || store.capabilities().cache == CacheKnowledge::None {
        // Wholly from memory only when nothing was missing (a store that cannot tell leaves
        // misses unanswered, and they may be learnt at any time).
        let held = held.filter(|_| misses.is_empty());
        return Ok((found, refused, held));
    }
    let auth = AuthRequest { entry: session.entry, device, purpose: AuthPurpose::StreamList };
    let (items, _) = ctx
        .plugins
        .auth
        .retry_if_rejected(
            &auth,
            session.credential.clone(),
            |e| matches!(e, StoreError::Unauthorized { .. }),
            |credential| shared_check(ctx, store, credential, &misses, prepared),
        )
        .await;
    found.extend(items?.iter().cloned());
    Ok((found, refused, None))
}

/// One upstream cache check, shared by concurrent requests asking the same store the same
/// question with the same credential. For a store with an exact check, the flight itself
/// records every answer in the availability memory, so a check whose clients all hung up still
/// serves the next request. A history-only store's answer is the user's library: it is not
/// recorded (it says nothing of other users' hashes, and the store keeps it per key).
async fn shared_check(
    ctx: &StreamsContext,
    store: &Arc<dyn StoreProvider>,
    credential: Credential,
    hashes: &[InfoHash],
    prepared: &Prepared,
) -> Result<Arc<Vec<CachedItem>>, StoreError> {
    let (usenet_keys, torrents): (Vec<InfoHash>, Vec<InfoHash>) =
        hashes.iter().cloned().partition(|h| prepared.is_usenet(h));
    let usenet: Vec<UsenetHash> = usenet_keys.iter().filter_map(UsenetHash::from_key).collect();
    let joined: Vec<&str> = hashes.iter().map(InfoHash::as_str).collect();
    let key =
        (store.name(), credential.key.fingerprint(), chillproxy_core::secret::fingerprint(joined.join(",").as_bytes()));
    let (store, hashes) = (store.clone(), hashes.to_vec());
    let (availability, cached_ttl, uncached_ttl) =
        (ctx.memory.cache.clone(), ctx.memory.cached_ttl, ctx.memory.uncached_ttl);
    let exact = store.capabilities().cache == CacheKnowledge::Exact;
    ctx.checks
        .get_or_load(
            key,
            |_| None,
            move || async move {
                let mut items =
                    if torrents.is_empty() { Vec::new() } else { store.check_cached(&credential, &torrents).await? };
                if !usenet.is_empty() {
                    items.extend(store.check_cached_usenet(&credential, &usenet).await?);
                }
                let mut answers = Vec::with_capacity(hashes.len());
                for hash in hashes.into_iter().filter(|_| exact) {
                    let (known, ttl) = match items.iter().find(|item| item.hash == hash) {
                        Some(item) => (Availability::Cached(item.files.clone()), cached_ttl),
                        None => (Availability::NotCached, uncached_ttl),
                    };
                    answers.push(((store.name(), hash), known, ttl));
                }
                availability.insert_many(answers).await;
                Ok(Arc::new(items))
            },
        )
        .await
}
