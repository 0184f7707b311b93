//! The viewer's filters and order over a search result and what the stores said: which streams
//! the list shows, from which store, with which file, in which order.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use chillproxy_core::{Candidate, ContentKind, MediaKind, StoreFile};
use chillproxy_stremio::pick_file;
use chillproxy_stremio::preferences::{ListPreferences, SortField, DEFAULT_SORT};
use chillproxy_stremio::release::Release;

use super::availability::{Checked, Session};
use super::format::PreparedCandidate;
use super::request::StreamRequest;
use super::warm::{PlanEntry, Prepared};
use crate::handle::stream_part_of;

/// Whether a release passes the viewer's filters: resolution, size (when known), keywords.
pub(super) fn wanted(prefs: &ListPreferences, release: &Release, title: &str, size: u64) -> bool {
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
    /// How early the release's language comes in the viewer's languages (0: none of them).
    preferred: usize,
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

/// The viewer's filters, then their order (preferred languages first): cached streams, then
/// uncached ones on every working store that plays the release's kind, capped per resolution.
/// Torrents and NZBs rank together; an NZB release several indexers list (one name, different
/// links) is listed once, the first in order (a cached copy before uncached ones).
pub(super) fn rank(
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
        // The first language held ranks highest; none: below every language.
        let preferred = chillproxy_stremio::languages::preference(&candidate.title, &prefs.languages)
            .map_or(0, |position| prefs.languages.len() - position);
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
        part: stream_part_of(&rank.candidate.hash, rank.candidate.kind(), rank.file.map(|f| f.id)),
    };
    // Usenet release names already listed.
    let mut nzb_names: HashSet<String> = HashSet::new();
    let mut first_of_name = |rank: &Ranked| {
        rank.candidate.kind() != ContentKind::Usenet || nzb_names.insert(rank.candidate.title.trim().to_lowercase())
    };
    let mut entries = Vec::new();
    for rank in &ranked {
        if let Some((session, _)) = cached.get(&rank.candidate.hash) {
            if first_of_name(rank) && room(rank) {
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
            let kind = candidate.kind();
            if !sessions.iter().any(|s| s.plays(kind)) || !first_of_name(rank) {
                continue;
            }
            for (session, playing) in sessions.iter().enumerate() {
                let usable = playing.plays(kind)
                    && !failed.iter().any(|(i, _)| *i == session)
                    && !refused.contains(&(session, candidate.hash.clone()));
                if usable && room(rank) {
                    entries.push(entry(session, rank, false));
                }
            }
        }
    }
    entries
}
