//! The stream list: a credential per store entry, candidates from the sources, cache checks on
//! the stores, then ranked and formatted Stremio streams. Problems become ⚠️ streams; the list
//! never fails.

mod availability;
mod format;
mod pick;
mod render;
mod sources;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use chillproxy_core::seal::{Keyring, Purpose};
use chillproxy_core::{
    AuthPurpose, AuthRequest, Candidate, Credential, Found, MediaKind, MediaQuery, StoreEntry, StoreFile, StoreProvider,
};
use chillproxy_stremio::{encode_segment, warning, Stream, UserConfig};
use futures::future::join_all;

use crate::http::client::ClientInfo;
use crate::problems::{auth_problem, store_problem};
use crate::state::Services;
use availability::{check_cached, Checked};
use chillproxy_stremio::preferences::{ListPreferences, SortField, DEFAULT_SORT};
use chillproxy_stremio::release::Release;
pub(crate) use format::Prepared;
use format::{ListPlan, ListShape, PlanEntry, PreparedCandidate};
pub(crate) use pick::pick_file;
pub(crate) use render::StreamListBody;
use render::{ListWriter, Play, UrlShape};
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

/// A candidate with what ranking needs: the sort key (resolution, quality, size), the parsed
/// release name and the file that would play, when the store or the source said.
struct Ranked<'a> {
    key: (u32, u32, u64),
    /// The candidate's position in the search result.
    index: usize,
    candidate: &'a Candidate,
    prepared: &'a PreparedCandidate,
    file: Option<&'a StoreFile>,
    /// The release names one of the viewer's preferred languages.
    preferred: bool,
}

/// The viewer's order (`-resolution,-quality,-size` unless they chose another).
fn compare(order: &[(SortField, bool)], a: &Ranked<'_>, b: &Ranked<'_>) -> Ordering {
    order.iter().fold(Ordering::Equal, |done, (field, descending)| {
        done.then_with(|| {
            let ordering = match field {
                SortField::Resolution => a.key.0.cmp(&b.key.0),
                SortField::Quality => a.key.1.cmp(&b.key.1),
                SortField::Size => a.key.2.cmp(&b.key.2),
                SortField::Seeders => a.candidate.seeders.unwrap_or(0).cmp(&b.candidate.seeders.unwrap_or(0)),
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
pub(crate) async fn list_streams(services: &Services, request: &StreamRequest<'_>) -> StreamListBody {
    let (streams, warnings) = build_list(services, request).await;
    match streams {
        Some(mut writer) => {
            for warning in &warnings {
                writer.push_stream(warning);
            }
            writer.finish()
        }
        None => StreamListBody::from_streams(&warnings),
    }
}

/// The playable streams (written, `None` when there are none) and the warnings to add after.
async fn build_list(services: &Services, request: &StreamRequest<'_>) -> (Option<ListWriter>, Vec<Stream>) {
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
        return (None, warnings);
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
        return (None, warnings);
    }
    let prepared = prepared(services, &found);

    // 3. The list shape (which streams, in which order) when the same shape was worked out for
    //    the same stores and preferences while the availability memory stayed the same; else
    //    which store has which hash cached, then the viewer's filters and order.
    let generation = services.caches.availability.local().generation();
    let shape = ListShape { codes: sessions.iter().map(|s| s.entry.c.as_str()).collect(), request };
    let plan = match prepared.plan(&shape, generation) {
        Some(plan) => plan,
        None => {
            let checked = check_cached(services, &sessions, &request.client.device, &prepared).await;
            for (index, error) in &checked.failed {
                let problem = store_problem(sessions[*index].store.display_name(), error, &plugins.available_stores);
                warnings.push(warning(&problem.title, problem.description, configure()));
            }
            let entries = rank(request, &sessions, &prepared, &checked);
            let plan = Arc::new(ListPlan::new(&shape, generation, checked.from_memory_until, entries));
            if checked.from_memory_until.is_some() {
                prepared.keep_plan(plan.clone());
            }
            plan
        }
    };
    if plan.entries.is_empty() {
        return (None, warnings);
    }

    // 4. Each stream: its pre-rendered body behind this request's playback URL.
    let urls = UrlShape::new(request);
    let per_url = urls.len() + 160;
    let mut writer = ListWriter::new(plan.entries.iter().map(|e| e.rendered.tail.len() + per_url).sum());
    for entry in &plan.entries {
        let play = Play {
            entry: sessions[entry.session].entry,
            hash: &candidates[entry.candidate].hash,
            file_idx: entry.file_idx,
        };
        writer.push_rendered(&urls, &play, &entry.rendered);
    }
    (Some(writer), warnings)
}

/// The viewer's filters, then their order (preferred languages first): cached streams, then
/// uncached ones on every working store, capped per resolution.
fn rank(
    request: &StreamRequest<'_>,
    sessions: &[Session<'_>],
    prepared: &Prepared,
    checked: &Checked,
) -> Vec<PlanEntry> {
    let (cached, refused, failed) = (&checked.cached, &checked.refused, &checked.failed);
    let prefs = &request.config.prefs;
    let candidates = &prepared.found.candidates;
    let mut ranked: Vec<Ranked<'_>> = Vec::with_capacity(candidates.len());
    for (index, (candidate, prepared)) in candidates.iter().zip(&prepared.candidates).enumerate() {
        let release = &prepared.release;
        let file = match cached.get(&candidate.hash) {
            Some((_, files)) if !files.is_empty() => match pick_file(files, request.media, None, candidate.file_idx) {
                Some(file) => Some(file),
                // The store knows the files and none is the wanted episode.
                None if request.media.kind == MediaKind::Series => continue,
                None => None,
            },
            // The store has no file list: the source's, when it gave one.
            _ => pick_file(&candidate.files, request.media, None, candidate.file_idx),
        };
        let size = file.map(|f| f.size).or(candidate.size).unwrap_or(0);
        if !wanted(prefs, release, &candidate.title, size) {
            continue;
        }
        let key = (release.resolution_rank(), release.quality_rank(), size);
        let preferred = !prefs.languages.is_empty() && ListPreferences::mentions(&candidate.title, &prefs.languages);
        ranked.push(Ranked { key, index, candidate, prepared, file, preferred });
    }
    let order = prefs.sort_keys().unwrap_or_else(|_| DEFAULT_SORT.to_vec());
    ranked.sort_by(|a, b| b.preferred.cmp(&a.preferred).then_with(|| compare(&order, a, b)));

    let mut per_resolution: HashMap<&str, u32> = HashMap::new();
    let mut room = |rank: &Ranked| match prefs.per_resolution {
        Some(cap) => {
            let count = per_resolution.entry(rank.prepared.release.resolution.unwrap_or("unknown")).or_default();
            *count += 1;
            *count <= cap
        }
        None => true,
    };
    let entry = |session: usize, rank: &Ranked, cached: bool| PlanEntry {
        session,
        candidate: rank.index,
        rendered: rank.prepared.rendered(&sessions[session].entry.c, rank.candidate, rank.file, cached),
        file_idx: rank.file.map(|f| f.id),
    };
    let mut entries = Vec::new();
    for rank in &ranked {
        if let Some((session, _)) = cached.get(&rank.candidate.hash) {
            if room(rank) {
                entries.push(entry(*session, rank, true));
            }
        }
    }
    if !request.config.cached {
        for rank in &ranked {
            let candidate = rank.candidate;
            if cached.contains_key(&candidate.hash) {
                continue;
            }
            for session in 0..sessions.len() {
                let usable =
                    !failed.iter().any(|(i, _)| *i == session) && !refused.contains(&(session, candidate.hash.clone()));
                if usable && room(rank) {
                    entries.push(entry(session, rank, false));
                }
            }
        }
    }
    entries
}

/// The search result's prepared form (parsed names, rendered streams), made on its first use
/// and kept as long as the search result is cached: keyed by the result's address, which
/// cannot be reused while the entry holds it.
fn prepared(services: &Services, found: &Arc<Found>) -> Arc<Prepared> {
    let cache = &services.caches.prepared;
    let key = Arc::as_ptr(found) as usize;
    if let Some(hit) = cache.get(&key).filter(|p| Arc::ptr_eq(&p.found, found)) {
        return hit;
    }
    let made = Arc::new(Prepared::new(found.clone()));
    cache.insert(key, made.clone(), services.caches.sources_ttl());
    made
}
