//! The stream list: credentials per store entry, candidates from the sources, cache checks on
//! the stores, then sorted and formatted Stremio streams. Problems become ⚠️ streams.

use std::collections::HashMap;
use std::sync::Arc;

use chillproxy_core::{
    AuthChainError, AuthPurpose, AuthRequest, CachedItem, Candidate, Credential, DeviceId, InfoHash, MediaKind,
    MediaQuery, SourceError, SourceQuery, StoreEntry, StoreError, StoreFile, StoreProvider, UserIndexer,
};
use futures::future::join_all;

use crate::caches::SourceKey;
use crate::client::ClientInfo;
use crate::media::{episode_of, human_size, is_video, Release};
use crate::stremio::{encode_segment, warning, BehaviorHints, Stream};
use crate::userconfig::UserConfig;
use crate::AppState;

/// Everything one stream-list request is about.
pub struct StreamRequest<'a> {
    pub config: &'a UserConfig,
    /// The `{config}` segment as the user sent it, re-used in playback URLs.
    pub config_segment: &'a str,
    /// The Stremio id as requested (`tt…` or `tt…:S:E`).
    pub id: &'a str,
    pub media: &'a MediaQuery,
    pub client: &'a ClientInfo,
    pub base_url: &'a str,
    /// The device binding appended to every playback URL (see `binding`).
    pub binding: String,
}

impl StreamRequest<'_> {
    fn configure_url(&self) -> String {
        format!("{}/stremio/torz/{}/configure", self.base_url, encode_segment(self.config_segment))
    }
}

/// A store entry with a credential.
struct Session<'a> {
    entry: &'a StoreEntry,
    store: Arc<dyn StoreProvider>,
    credential: Credential,
}

/// The user-facing text for an auth chain failure: (title, description).
pub fn auth_problem(store: &str, error: &AuthChainError) -> (String, String) {
    match error {
        AuthChainError::Denied { message, .. } if message.to_ascii_lowercase().contains("device") => (
            "Device limit reached".to_string(),
            format!("Device limit reached: {message}. Remove a device from your Chillstreams account, or add your own {store} API token."),
        ),
        AuthChainError::Denied { message, .. } => {
            ("Access denied".to_string(), format!("{store}: access denied: {message}."))
        }
        AuthChainError::Failed { message, .. } => (
            "Chillstreams is unavailable".to_string(),
            format!("Chillstreams is unavailable ({}). Try again in a minute, or add your own {store} API token.", message.trim_start_matches("Chillstreams unavailable: ")),
        ),
        AuthChainError::NoCredentials { .. } => ("No credentials".to_string(), format!("{store}: {error}.")),
    }
}

/// The user-facing text for a store error: (title, description).
pub fn store_problem(store: &str, error: &StoreError) -> (String, String) {
    match error {
        StoreError::Unauthorized { .. } => (
            format!("{store} rejected the key"),
            format!("{store} rejected the API key. Check the token in your config, or ask your provider."),
        ),
        StoreError::NotImplemented { .. } => (
            format!("{store} not available"),
            format!("{store} support is not available yet. Use TorBox for now; your other stores still work."),
        ),
        StoreError::RateLimited { retry_after, .. } => (
            format!("{store} is busy"),
            match retry_after {
                Some(after) => format!("{store} is rate limiting requests; try again in {} s.", after.as_secs().max(1)),
                None => format!("{store} is rate limiting requests; try again in a minute."),
            },
        ),
        other => (format!("{store} failed"), format!("{other}.")),
    }
}

/// Builds the stream list. Never fails: problems are returned as ⚠️ streams.
pub async fn list_streams(state: &AppState, request: &StreamRequest<'_>) -> Vec<Stream> {
    let plugins = state.plugins();
    let configure = request.configure_url();
    let mut warnings = Vec::new();

    // 1. A credential for every store entry, concurrently.
    let resolutions = join_all(request.config.stores.iter().map(|entry| async move {
        let store = plugins.store_by_code(&entry.c).cloned();
        let auth = AuthRequest { entry, device: &request.client.device, purpose: AuthPurpose::StreamList };
        (entry, store, plugins.auth.resolve(&auth).await)
    }))
    .await;
    let mut sessions = Vec::new();
    for (entry, store, resolution) in resolutions {
        let Some(store) = store else { continue };
        match resolution {
            Ok(credential) => sessions.push(Session { entry, store, credential }),
            Err(error) => {
                let (title, description) = auth_problem(store.display_name(), &error);
                warnings.push(warning(&title, description, &configure));
            }
        }
    }
    if sessions.is_empty() {
        return warnings;
    }

    // 2. Candidates from every source, concurrently.
    let (candidates, source_problem) = find_candidates(state, request).await;
    if let Some(problem) = source_problem {
        warnings.push(warning("No indexer answered", problem, &configure));
    }
    if candidates.is_empty() {
        return warnings;
    }

    // 3. Which store has which hash cached.
    let hashes: Vec<InfoHash> = candidates.iter().map(|c| c.hash.clone()).collect();
    let (cached, failed) = check_cached(state, &sessions, &request.client.device, &hashes).await;
    for (index, error) in &failed {
        let (title, description) = store_problem(sessions[*index].store.display_name(), error);
        warnings.push(warning(&title, description, &configure));
    }

    // 4. Format, best first: cached streams, then uncached ones on every working store.
    let mut ranked: Vec<(Ranked, &Candidate)> = Vec::new();
    for candidate in candidates.iter() {
        let release = Release::parse(&candidate.title);
        let file = match cached.get(&candidate.hash) {
            Some((_, files)) => match pick_file(files, request.media, None, None) {
                Some(file) => Some(file.clone()),
                // The store knows the files and none is the wanted episode.
                None if request.media.kind == MediaKind::Series && !files.is_empty() => continue,
                None => None,
            },
            None => None,
        };
        let size = file.as_ref().map(|f| f.size).or(candidate.size).unwrap_or(0);
        let key = (release.resolution_rank(), release.quality_rank(), size);
        ranked.push((Ranked { key, release, file }, candidate));
    }
    ranked.sort_by_key(|(rank, _)| std::cmp::Reverse(rank.key));

    let mut streams = Vec::new();
    for (rank, candidate) in &ranked {
        if let Some((index, _)) = cached.get(&candidate.hash) {
            streams.push(format_stream(request, sessions[*index].store.code(), candidate, rank, true));
        }
    }
    if !request.config.cached {
        for (rank, candidate) in &ranked {
            if cached.contains_key(&candidate.hash) {
                continue;
            }
            for (index, session) in sessions.iter().enumerate() {
                if !failed.iter().any(|(i, _)| *i == index) {
                    streams.push(format_stream(request, session.store.code(), candidate, rank, false));
                }
            }
        }
    }
    if streams.is_empty() {
        warnings
    } else {
        streams.extend(warnings);
        streams
    }
}

struct Ranked {
    key: (u32, u32, u64),
    release: Release,
    file: Option<StoreFile>,
}

/// The candidates for the request's title: from the sources cache, or from every source in
/// parallel (one search shared by concurrent requests for the same title). The second value is
/// a message when no source answered.
async fn find_candidates(state: &AppState, request: &StreamRequest<'_>) -> (Arc<Vec<Candidate>>, Option<String>) {
    if state.plugins().sources.is_empty() {
        return (Arc::default(), Some("This server has no torrent source enabled; tell its operator.".into()));
    }
    let key = SourceKey::new(request.media, &request.config.indexers);
    let (job_state, media, indexers) = (state.clone(), request.media.clone(), request.config.indexers.clone());
    let ttl = state.caches().sources_ttl();
    let result = state
        .caches()
        .sources
        .get_or_load(
            key,
            move |r| r.is_ok().then_some(ttl),
            move || async move { search_all(&job_state, &media, &indexers).await },
        )
        .await;
    match result {
        Ok(candidates) => (candidates, None),
        Err(problem) => (Arc::default(), Some(problem)),
    }
}

/// Asks every source and merges their candidates by hash (the copy with most seeders wins).
/// `Err` when no source answered.
async fn search_all(
    state: &AppState,
    media: &MediaQuery,
    indexers: &[UserIndexer],
) -> Result<Arc<Vec<Candidate>>, String> {
    let query = SourceQuery { media, user_indexers: indexers };
    let results = join_all(state.plugins().sources.iter().map(|s| s.search(&query))).await;
    let mut merged: HashMap<InfoHash, Candidate> = HashMap::new();
    let mut errors = Vec::new();
    let mut answered = false;
    for result in results {
        match result {
            Ok(found) => {
                answered = true;
                for candidate in found {
                    match merged.get_mut(&candidate.hash) {
                        Some(existing) if existing.seeders >= candidate.seeders => {}
                        _ => {
                            merged.insert(candidate.hash.clone(), candidate);
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "source failed");
                errors.push(match error {
                    SourceError::InvalidInput { message, .. } => message,
                    other => other.to_string(),
                });
            }
        }
    }
    if answered {
        Ok(Arc::new(merged.into_values().collect()))
    } else {
        Err(format!("{}. Check your indexers, or try again later.", errors.join("; ")))
    }
}

/// The first store checks every hash; the next stores check what is left, in parallel. The
/// first store in config order that has a hash wins it. Returns hash → (session index, files)
/// and the stores that failed.
async fn check_cached(
    state: &AppState,
    sessions: &[Session<'_>],
    device: &DeviceId,
    hashes: &[InfoHash],
) -> (HashMap<InfoHash, (usize, Vec<StoreFile>)>, Vec<(usize, StoreError)>) {
    type Found = Result<Vec<CachedItem>, StoreError>;
    let mut cached = HashMap::new();
    let mut failed = Vec::new();
    let mut absorb = |cached: &mut HashMap<InfoHash, (usize, Vec<StoreFile>)>, index: usize, result: Found| match result
    {
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
    absorb(&mut cached, 0, check_store(state, &sessions[0], device, hashes).await);
    if sessions.len() > 1 {
        let left: Vec<InfoHash> = hashes.iter().filter(|h| !cached.contains_key(*h)).cloned().collect();
        let rest = join_all(sessions[1..].iter().map(|s| check_store(state, s, device, &left))).await;
        for (offset, result) in rest.into_iter().enumerate() {
            absorb(&mut cached, offset + 1, result);
        }
    }
    (cached, failed)
}

/// One store's answer for `hashes`: known answers from the availability cache, the rest in one
/// upstream call. A credential the store rejects is forgotten and asked for again, once.
async fn check_store(
    state: &AppState,
    session: &Session<'_>,
    device: &DeviceId,
    hashes: &[InfoHash],
) -> Result<Vec<CachedItem>, StoreError> {
    let caches = state.caches();
    let store = &session.store;
    let mut found = Vec::new();
    let mut misses = Vec::new();
    for hash in hashes {
        match caches.availability.get(&(store.name(), hash.clone())) {
            Some(Some(files)) => found.push(CachedItem { hash: hash.clone(), files }),
            Some(None) => {}
            None => {
                caches.availability.note_miss();
                misses.push(hash.clone());
            }
        }
    }
    if misses.is_empty() {
        return Ok(found);
    }
    let items = match shared_check(state, store, &session.credential, &misses).await {
        Err(error @ StoreError::Unauthorized { .. }) => {
            let auth = AuthRequest { entry: session.entry, device, purpose: AuthPurpose::StreamList };
            if !state.plugins().auth.invalidate(&auth, &session.credential).await {
                return Err(error);
            }
            let credential = state.plugins().auth.resolve(&auth).await.map_err(|_| error)?;
            shared_check(state, store, &credential, &misses).await?
        }
        other => other?,
    };
    found.extend(items.iter().cloned());
    Ok(found)
}

/// One upstream cache check, shared by concurrent requests asking the same store the same
/// question with the same credential. The flight itself records every answer in the
/// availability cache, so a check whose clients all hung up still serves the next request.
async fn shared_check(
    state: &AppState,
    store: &Arc<dyn StoreProvider>,
    credential: &Credential,
    hashes: &[InfoHash],
) -> Result<Arc<Vec<CachedItem>>, StoreError> {
    let joined: Vec<&str> = hashes.iter().map(InfoHash::as_str).collect();
    let key =
        (store.name(), credential.key.fingerprint(), chillproxy_core::secret::fingerprint(joined.join(",").as_bytes()));
    let (store, credential, hashes) = (store.clone(), credential.clone(), hashes.to_vec());
    let caches = state.caches();
    let (availability, cached_ttl, uncached_ttl) =
        (caches.availability.clone(), caches.cached_ttl(), caches.uncached_ttl());
    caches
        .checks
        .get_or_load(
            key,
            |_| None,
            move || async move {
                let items = store.check_cached(&credential, &hashes).await?;
                for hash in hashes {
                    let files = items.iter().find(|item| item.hash == hash).map(|item| item.files.clone());
                    let ttl = if files.is_some() { cached_ttl } else { uncached_ttl };
                    availability.insert((store.name(), hash), files, ttl);
                }
                Ok(Arc::new(items))
            },
        )
        .await
}

/// The file to play: the episode's (`SxxEyy`), else the named one, else the one with the
/// store id `index`, else the largest video.
pub fn pick_file<'f>(
    files: &'f [StoreFile],
    media: &MediaQuery,
    name: Option<&str>,
    index: Option<u64>,
) -> Option<&'f StoreFile> {
    let videos = || files.iter().filter(|f| is_video(&f.name));
    if let (Some(season), Some(episode)) = (media.season, media.episode) {
        if let Some(file) =
            videos().find(|f| episode_of(&f.name).or_else(|| episode_of(&f.path)) == Some((season, episode)))
        {
            return Some(file);
        }
    }
    if let Some(name) = name.filter(|n| !n.is_empty()) {
        if let Some(file) = files.iter().find(|f| f.name == name) {
            return Some(file);
        }
    }
    if let Some(index) = index {
        if let Some(file) = files.iter().find(|f| f.id == index) {
            return Some(file);
        }
    }
    if media.kind == MediaKind::Series && media.episode.is_some() {
        // A file that names another episode is not this one.
        return videos()
            .filter(|f| episode_of(&f.name).is_none() && !f.name.to_ascii_lowercase().contains("sample"))
            .max_by_key(|f| f.size);
    }
    videos().max_by_key(|f| f.size)
}

fn format_stream(
    request: &StreamRequest<'_>,
    code: &str,
    candidate: &Candidate,
    rank: &Ranked,
    cached: bool,
) -> Stream {
    let code_upper = code.to_ascii_uppercase();
    let release = &rank.release;
    let (file_idx, file_name) = match &rank.file {
        Some(file) => (file.id.to_string(), Some(file.name.clone())),
        None => ("-1".to_string(), None),
    };
    let mut url = format!(
        "{}/stremio/torz/{}/_/strem/{}/{}/{}/{}/",
        request.base_url,
        encode_segment(request.config_segment),
        encode_segment(request.id),
        code,
        candidate.hash,
        file_idx
    );
    if let Some(name) = &file_name {
        url.push_str(&encode_segment(name));
    }
    url.push_str("?b=");
    url.push_str(&request.binding);

    let mut name = String::new();
    if cached {
        name.push_str("⚡️ ");
    }
    name.push_str(&format!("[{code_upper}]\nchillproxy"));
    if let Some(resolution) = release.resolution {
        name.push('\n');
        name.push_str(resolution);
    }

    let mut lines = Vec::new();
    let quality: Vec<String> = [release.quality.map(|q| format!("💿 {q}")), release.codec.map(|c| format!("🎞️ {c}"))]
        .into_iter()
        .flatten()
        .collect();
    if !quality.is_empty() {
        lines.push(quality.join(" "));
    }
    let mut facts = Vec::new();
    if let Some(file) = rank.file.as_ref().filter(|f| Some(f.size) != candidate.size) {
        facts.push(format!("💾 {}", human_size(file.size)));
    }
    if let Some(size) = candidate.size {
        facts.push(format!("📦 {}", human_size(size)));
    }
    if let Some(seeders) = candidate.seeders.filter(|s| *s > 0) {
        facts.push(format!("👤 {seeders}"));
    }
    facts.push(format!("🔍 {}", candidate.indexer));
    lines.push(facts.join(" "));
    lines.push(match &file_name {
        Some(file) => format!("📄 {file}"),
        None => format!("📁 {}", candidate.title),
    });

    let hints = BehaviorHints {
        binge_group: Some(format!(
            "chillproxy|{code}|{}|{}",
            release.resolution.unwrap_or("any"),
            release.quality.unwrap_or("any")
        )),
        filename: file_name,
        video_size: rank.file.as_ref().map(|f| f.size),
    };
    Stream { url: Some(url), external_url: None, name, description: lines.join("\n"), behavior_hints: Some(hints) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(id: u64, name: &str, size: u64) -> StoreFile {
        StoreFile { id, name: name.into(), path: format!("/{name}"), size }
    }

    #[test]
    fn picks_the_episode_then_name_then_index_then_largest() {
        let files = [
            file(0, "Show.S01E01.mkv", 500),
            file(1, "Show.S01E03.mkv", 400),
            file(2, "sample.mkv", 10),
            file(3, "Show.S01E02.mkv", 900),
            file(4, "notes.txt", 9999),
        ];
        let episode = MediaQuery { kind: MediaKind::Series, imdb_id: "tt1".into(), season: Some(1), episode: Some(3) };
        assert_eq!(pick_file(&files, &episode, None, None).unwrap().id, 1);
        let movie = MediaQuery { kind: MediaKind::Movie, imdb_id: "tt1".into(), season: None, episode: None };
        assert_eq!(pick_file(&files, &movie, Some("sample.mkv"), Some(1)).unwrap().id, 2);
        assert_eq!(pick_file(&files, &movie, None, Some(1)).unwrap().id, 1);
        assert_eq!(pick_file(&files, &movie, None, None).unwrap().id, 3);
        let missing = MediaQuery { episode: Some(9), ..episode };
        assert!(pick_file(&files, &missing, None, None).is_none(), "no file of another episode, no sample");
    }
}
