//! One candidate as a Stremio stream: its name and description lines, its playback URL and its
//! behaviour hints. Problems are not formatted here: see `problems` and `stremio::warning`.
//!
//! Most of a stream is the same for every viewer: what the release name says, the name and
//! description lines, the hints. That part is worked out once per search result ([`Prepared`],
//! kept while the search result is) and rendered to JSON once per (store, cached, file)
//! ([`Rendered`]); a request writes only its own playback URL in front of it (see `render`).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chillproxy_core::{Candidate, Found, InfoHash, MediaQuery, StoreFile};
use chillproxy_stremio::preferences::ListPreferences;
use chillproxy_stremio::{encode_segment, BehaviorHints, Stream};

use super::render::json_safe;
use super::StreamRequest;
use crate::caches::Availability;
use chillproxy_stremio::release::{human_size, Release};

/// Most rendered variants (store × cached × file) kept per candidate; more are rendered each
/// time (a candidate normally has one or two).
const MAX_VARIANTS: usize = 8;

/// `Release.Name.mkv` from a release title: one path segment, at most 200 bytes, ending in a
/// video extension.
pub(super) fn guessed_file_name(title: &str) -> String {
    let mut name: String =
        title.chars().map(|c| if c.is_control() || c == '/' || c == '\\' { ' ' } else { c }).collect();
    name = name.trim().trim_matches('.').to_string();
    if name.is_empty() {
        name = "video".to_string();
    }
    if let Some((cut, _)) = name.char_indices().nth(190) {
        name.truncate(cut);
    }
    if !chillproxy_stremio::release::is_video(&name) {
        name.push_str(".mkv");
    }
    name
}

/// Whether a browser plays the file as it is: MP4 and WebM.
fn is_web_ready(name: &str) -> bool {
    let ext = name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default();
    matches!(ext.as_str(), "mp4" | "m4v" | "webm")
}

/// What is worked out once per search result: each candidate's parsed release name, the file
/// name its URL ends in when the store names no file, and its rendered variants.
pub(crate) struct Prepared {
    /// Held so the search result's address (the cache key) cannot be reused while this lives.
    pub found: Arc<Found>,
    pub candidates: Vec<PreparedCandidate>,
    /// What the availability memory answered for these hashes (see `availability`).
    pub memos: Mutex<Vec<AvailabilityMemo>>,
    /// List shapes worked out wholly from the availability memory, for reuse while it holds.
    plans: Mutex<Vec<Arc<ListPlan>>>,
}

/// Most memos and plans kept per search result (one per distinct store set and preferences).
pub(crate) const MAX_PLANS: usize = 16;

/// What decides a list's shape besides the search result and the availability memory: the
/// stores the viewer's credentials were granted for (in config order), their preferences, and
/// the title asked for.
pub(crate) struct ListShape<'a> {
    pub codes: Vec<&'a str>,
    pub request: &'a StreamRequest<'a>,
}

/// A list's shape: which candidate plays from which store with which file, in order, each with
/// its rendered body. Valid for the same [`ListShape`] while the availability memory's
/// generation is `generation` and until `until` (when it came wholly from the memory).
pub(crate) struct ListPlan {
    codes: Vec<String>,
    prefs: ListPreferences,
    cached_only: bool,
    media: MediaQuery,
    generation: u64,
    until: Option<Instant>,
    pub entries: Vec<PlanEntry>,
}

pub(crate) struct PlanEntry {
    /// Index of the session (the store entry with a credential) the stream plays from.
    pub session: usize,
    /// Index of the candidate in the search result.
    pub candidate: usize,
    pub rendered: Arc<Rendered>,
    pub file_idx: Option<u64>,
}

impl ListPlan {
    pub fn new(shape: &ListShape<'_>, generation: u64, until: Option<Instant>, entries: Vec<PlanEntry>) -> Self {
        let config = shape.request.config;
        Self {
            codes: shape.codes.iter().map(|c| c.to_string()).collect(),
            prefs: config.prefs.clone(),
            cached_only: config.cached,
            media: shape.request.media.clone(),
            generation,
            until,
            entries,
        }
    }

    fn fits(&self, shape: &ListShape<'_>, generation: u64, now: Instant) -> bool {
        let config = shape.request.config;
        self.generation == generation
            && self.until.is_some_and(|until| until > now)
            && self.cached_only == config.cached
            && self.codes.len() == shape.codes.len()
            && self.codes.iter().zip(&shape.codes).all(|(a, b)| a == b)
            && self.prefs == config.prefs
            && self.media == *shape.request.media
    }
}

/// The availability memory's answers for one store and a list of hashes, read when every one
/// was in this process's memory: they hold while the memory's generation is unchanged (no entry
/// added or removed) and until the earliest of them expires.
pub(crate) struct AvailabilityMemo {
    pub store: &'static str,
    pub hashes: Vec<InfoHash>,
    pub generation: u64,
    pub until: Instant,
    pub answers: Vec<Availability>,
}

pub(crate) struct PreparedCandidate {
    pub release: Release,
    /// The guessed file name, percent-encoded for a path segment and safe inside JSON.
    guessed_url_name: Box<str>,
    variants: Mutex<Vec<Arc<Rendered>>>,
}

impl Prepared {
    pub fn new(found: Arc<Found>) -> Self {
        let candidates = found
            .candidates
            .iter()
            .map(|candidate| PreparedCandidate {
                release: Release::parse(&candidate.title),
                guessed_url_name: json_safe(&encode_segment(&guessed_file_name(&candidate.title))).into(),
                variants: Mutex::new(Vec::new()),
            })
            .collect();
        Self { found, candidates, memos: Mutex::new(Vec::new()), plans: Mutex::new(Vec::new()) }
    }

    /// The kept plan for this shape, if it still holds.
    pub fn plan(&self, shape: &ListShape<'_>, generation: u64) -> Option<Arc<ListPlan>> {
        let now = Instant::now();
        let plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        plans.iter().find(|p| p.fits(shape, generation, now)).cloned()
    }

    /// Keeps `plan` (dropping plans that no longer hold; at most [`MAX_PLANS`]).
    pub fn keep_plan(&self, plan: Arc<ListPlan>) {
        let now = Instant::now();
        let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        plans.retain(|p| p.generation == plan.generation && p.until.is_some_and(|until| until > now));
        if plans.len() < MAX_PLANS {
            plans.push(plan);
        }
    }

    /// Roughly what this holds beyond the search result itself, for the cache's memory bound.
    pub fn weight(&self) -> usize {
        self.candidates
            .iter()
            .map(|c| 160 + c.guessed_url_name.len() + 2 * c.release.group.as_ref().map_or(0, String::len))
            .sum()
    }
}

/// A stream as JSON without its URL: `"name":…,"description":…,"behaviorHints":{…}}` (the
/// object's closing brace included), and the file name its URL ends in.
pub(crate) struct Rendered {
    code: String,
    cached: bool,
    file: Option<StoreFile>,
    /// Percent-encoded for a path segment, safe inside JSON.
    pub url_name: Box<str>,
    pub tail: Box<str>,
}

impl PreparedCandidate {
    /// This candidate as a stream from the store `code`, playing `file` (when the store or the
    /// source named it): rendered once, then shared by every request.
    pub fn rendered(&self, code: &str, candidate: &Candidate, file: Option<&StoreFile>, cached: bool) -> Arc<Rendered> {
        let same = |r: &Rendered| r.cached == cached && r.code == code && r.file.as_ref() == file;
        let mut variants = self.variants.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(found) = variants.iter().find(|r| same(r)) {
            return found.clone();
        }
        let rendered = Arc::new(self.render(code, candidate, file, cached));
        if variants.len() < MAX_VARIANTS {
            variants.push(rendered.clone());
        }
        rendered
    }

    fn render(&self, code: &str, candidate: &Candidate, file: Option<&StoreFile>, cached: bool) -> Rendered {
        let stream = format_stream(code, candidate, &self.release, file, cached);
        let json = serde_json::to_string(&stream).unwrap_or_else(|_| "{}".into());
        // `url` is unset, so the object opens with `"name"`: the request writes `{"url":"…",`.
        let tail = json.strip_prefix('{').unwrap_or(&json).into();
        let url_name = match file {
            // Players read the extension from the URL: when the store has not said which file
            // plays, the release name stands in (playback still picks the file from the list).
            Some(file) => json_safe(&encode_segment(&file.name)).into(),
            None => self.guessed_url_name.clone(),
        };
        Rendered { code: code.to_string(), cached, file: file.cloned(), url_name, tail }
    }
}

/// The stream without its URL: name, description lines and hints.
fn format_stream(
    code: &str,
    candidate: &Candidate,
    release: &Release,
    file: Option<&StoreFile>,
    cached: bool,
) -> Stream {
    let file_name = file.map(|file| file.name.clone());
    let mut name = String::new();
    if cached {
        name.push_str("⚡️ ");
    }
    name.push_str(&format!("[{}]\nchillproxy", code.to_ascii_uppercase()));
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
    if let Some(file) = file.filter(|f| Some(f.size) != candidate.size) {
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

    // The next episode picks the same kind of release: same store, resolution, quality, HDR and
    // group, across torrents (a season pack and single episodes alike).
    let binge_group = format!(
        "chillproxy|{code}|{}|{}|{}|{}",
        release.resolution.unwrap_or("any"),
        release.quality.unwrap_or("any"),
        release.hdr.unwrap_or("SDR"),
        release.group.as_deref().unwrap_or("any"),
    );
    let not_web_ready = !file_name.as_deref().is_some_and(is_web_ready);
    let hints = BehaviorHints {
        binge_group: Some(binge_group),
        filename: file_name,
        video_size: file.map(|f| f.size),
        video_hash: file.and_then(|f| f.video_hash.clone()),
        not_web_ready,
    };
    Stream { url: None, external_url: None, name, description: lines.join("\n"), behavior_hints: Some(hints) }
}
