//! The stream list: a credential per store entry, candidates from the sources, cache checks on
//! the stores, then ranked and formatted Stremio streams. Problems become ⚠️ streams; the list
//! never fails.

mod availability;
mod format;
mod pick;
mod sources;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use chillproxy_core::seal::{Keyring, Purpose};
use chillproxy_core::{
    AuthPurpose, AuthRequest, Candidate, Credential, MediaKind, MediaQuery, StoreEntry, StoreProvider,
};
use chillproxy_stremio::{encode_segment, warning, Stream, UserConfig};
use futures::future::join_all;

use crate::http::client::ClientInfo;
use crate::problems::{auth_problem, store_problem};
use crate::state::Services;
use availability::check_cached;
use chillproxy_stremio::preferences::{ListPreferences, SortField, DEFAULT_SORT};
use chillproxy_stremio::release::Release;
use format::{format_stream, Ranked};
pub(crate) use pick::pick_file;
use sources::find_candidates;

/// Everything one stream-list request is about.
pub(crate) struct StreamRequest<'a> {
    pub config: &'a UserConfig,
    /// The `{config}` segment as the user sent it, re-used in playback URLs.
    pub config_segment: &'a str,
    /// The Stremio id as requested (`tt…` or `tt…:S:E`).
    pub id: &'a str,
    pub media: &'a MediaQuery,
    pub client: &'a ClientInfo,
    pub base_url: &'a str,
    /// The device binding appended to every plain playback URL (see `binding`); empty when
    /// `keyring` is set.
    pub binding: String,
    /// With sealing keys: playback URLs carry a sealed handle (see `handle`) instead of the
    /// config, and links back to the configure page carry the config sealed.
    pub keyring: Option<&'a Keyring>,
    /// How long a handle's device binding holds.
    pub binding_ttl_s: u64,
}

impl StreamRequest<'_> {
    fn configure_url(&self) -> String {
        let segment = match self.keyring {
            Some(keyring) if !Keyring::looks_sealed(Purpose::Config, self.config_segment) => {
                match UserConfig::plain_json(self.config_segment).and_then(|json| keyring.seal(Purpose::Config, &json))
                {
                    Some(sealed) => sealed,
                    None => return format!("{}/stremio/torz/configure", self.base_url),
                }
            }
            _ => self.config_segment.to_string(),
        };
        format!("{}/stremio/torz/{}/configure", self.base_url, encode_segment(&segment))
    }
}

/// Whether a release passes the viewer's filters: resolution, size (when known), keywords.
fn wanted(prefs: &ListPreferences, release: &Release, title: &str, size: u64) -> bool {
    const GB: f64 = 1e9;
    let resolution = release.resolution.unwrap_or("unknown");
    if !prefs.resolutions.is_empty() && !prefs.resolutions.iter().any(|r| r.eq_ignore_ascii_case(resolution)) {
        return false;
    }
    if size > 0 {
        let gb = size as f64 / GB;
        if prefs.max_size_gb.is_some_and(|max| gb > max) || prefs.min_size_gb.is_some_and(|min| gb < min) {
            return false;
        }
    }
    prefs.exclude.is_empty() || !ListPreferences::mentions(title, &prefs.exclude)
}

/// The viewer's order (`-resolution,-quality,-size` unless they chose another).
fn compare(order: &[(SortField, bool)], a: (&Ranked, &&Candidate), b: (&Ranked, &&Candidate)) -> Ordering {
    order.iter().fold(Ordering::Equal, |done, (field, descending)| {
        done.then_with(|| {
            let ordering = match field {
                SortField::Resolution => a.0.key.0.cmp(&b.0.key.0),
                SortField::Quality => a.0.key.1.cmp(&b.0.key.1),
                SortField::Size => a.0.key.2.cmp(&b.0.key.2),
                SortField::Seeders => a.1.seeders.unwrap_or(0).cmp(&b.1.seeders.unwrap_or(0)),
            };
            if *descending {
                ordering.reverse()
            } else {
                ordering
            }
        })
    })
}

/// A store entry with a credential.
struct Session<'a> {
    entry: &'a StoreEntry,
    store: Arc<dyn StoreProvider>,
    credential: Credential,
}

/// Builds the stream list. Never fails: problems are returned as ⚠️ streams.
pub(crate) async fn list_streams(services: &Services, request: &StreamRequest<'_>) -> Vec<Stream> {
    let plugins = &services.plugins;
    // Only a warning links to the configure page; with sealing keys the link costs a seal, so
    // it is made on the first warning.
    let configure_url = std::sync::OnceLock::new();
    let configure = || configure_url.get_or_init(|| request.configure_url()).as_str();
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
                let problem = auth_problem(store.display_name(), &error);
                warnings.push(warning(&problem.title, problem.description, configure()));
            }
        }
    }
    if sessions.is_empty() {
        return warnings;
    }

    // 2. Candidates from every source, concurrently.
    let credentials: Vec<(&'static str, &Credential)> =
        sessions.iter().map(|s| (s.store.name(), &s.credential)).collect();
    let (found, source_problem) =
        find_candidates(services, request.media, &request.config.indexers, &credentials).await;
    if let Some(problem) = source_problem {
        warnings.push(warning("No indexer answered", problem, configure()));
    }
    for notice in &found.notices {
        warnings.push(warning("Some results could not be used", notice.clone(), configure()));
    }
    let candidates = &found.candidates;
    if candidates.is_empty() {
        return warnings;
    }

    // 3. Which store has which hash cached.
    let (cached, refused, failed) = check_cached(services, &sessions, &request.client.device, candidates).await;
    for (index, error) in &failed {
        let problem = store_problem(sessions[*index].store.display_name(), error, &plugins.available_stores);
        warnings.push(warning(&problem.title, problem.description, configure()));
    }

    // 4. The viewer's filters, then their order (preferred languages first), then format:
    //    cached streams, then uncached ones on every working store, capped per resolution.
    let prefs = &request.config.prefs;
    let mut ranked: Vec<(Ranked, &Candidate)> = Vec::new();
    for candidate in candidates.iter() {
        let release = Release::parse(&candidate.title);
        let file = match cached.get(&candidate.hash) {
            Some((_, files)) if !files.is_empty() => match pick_file(files, request.media, None, candidate.file_idx) {
                Some(file) => Some(file.clone()),
                // The store knows the files and none is the wanted episode.
                None if request.media.kind == MediaKind::Series => continue,
                None => None,
            },
            // The store has no file list: the source's, when it gave one.
            _ => pick_file(&candidate.files, request.media, None, candidate.file_idx).cloned(),
        };
        let size = file.as_ref().map(|f| f.size).or(candidate.size).unwrap_or(0);
        if !wanted(prefs, &release, &candidate.title, size) {
            continue;
        }
        let key = (release.resolution_rank(), release.quality_rank(), size);
        let preferred = !prefs.languages.is_empty() && ListPreferences::mentions(&candidate.title, &prefs.languages);
        ranked.push((Ranked { key, release, file, preferred }, candidate));
    }
    let order = prefs.sort_keys().unwrap_or_else(|_| DEFAULT_SORT.to_vec());
    ranked.sort_by(|(a, ca), (b, cb)| b.preferred.cmp(&a.preferred).then_with(|| compare(&order, (a, ca), (b, cb))));

    let mut streams = Vec::new();
    let mut per_resolution: HashMap<&str, u32> = HashMap::new();
    let mut room = |rank: &Ranked| match prefs.per_resolution {
        Some(cap) => {
            let count = per_resolution.entry(rank.release.resolution.unwrap_or("unknown")).or_default();
            *count += 1;
            *count <= cap
        }
        None => true,
    };
    for (rank, candidate) in &ranked {
        if let Some((index, _)) = cached.get(&candidate.hash) {
            if room(rank) {
                streams.push(format_stream(request, sessions[*index].entry, candidate, rank, true));
            }
        }
    }
    if !request.config.cached {
        for (rank, candidate) in &ranked {
            if cached.contains_key(&candidate.hash) {
                continue;
            }
            for (index, session) in sessions.iter().enumerate() {
                let usable =
                    !failed.iter().any(|(i, _)| *i == index) && !refused.contains(&(index, candidate.hash.clone()));
                if usable && room(rank) {
                    streams.push(format_stream(request, session.entry, candidate, rank, false));
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
