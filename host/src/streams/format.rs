//! One candidate as a Stremio stream: its name and description lines, its playback URL and its
//! behaviour hints. Problems are not formatted here: see `problems` and `stremio::warning`.
//!
//! Most of a stream is the same for every viewer: what the release name says, the name and
//! description lines, the hints. That part is worked out once per search result ([`Prepared`],
//! kept while the search result is) and rendered to JSON once per (store, cached, file)
//! ([`Rendered`]); a request writes only its own playback URL in front of it (see `render`).

use std::sync::{Arc, Mutex};

use chillproxy_core::{Candidate, ContentKind, StoreFile};
use chillproxy_stremio::{encode_segment, BehaviorHints, Stream};

use super::render::{json_safe, Rendered};
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

pub(crate) struct PreparedCandidate {
    pub release: Release,
    /// The guessed file name, percent-encoded for a path segment and safe inside JSON.
    guessed_url_name: Box<str>,
    variants: Mutex<Vec<Arc<Rendered>>>,
}

impl PreparedCandidate {
    pub fn new(title: &str) -> Self {
        Self {
            release: Release::parse(title),
            guessed_url_name: json_safe(&encode_segment(&guessed_file_name(title))).into(),
            variants: Mutex::new(Vec::new()),
        }
    }

    /// Roughly what this holds, for the cache's memory bound.
    pub fn weight(&self) -> usize {
        160 + self.guessed_url_name.len() + 2 * self.release.group.as_ref().map_or(0, String::len)
    }

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

fn now_secs() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(now.as_secs()).unwrap_or(i64::MAX)
}

/// How long ago `published` was at `now` (seconds since 1970): `5 h` under a day, `45 d` after.
/// A time in the future (clocks disagree) reads as `0 h`.
fn age(published: i64, now: i64) -> String {
    let seconds = now.saturating_sub(published).max(0);
    match seconds / 86_400 {
        0 => format!("{} h", seconds / 3_600),
        days => format!("{days} d"),
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
    let usenet = candidate.kind() == ContentKind::Usenet;
    let mut name = String::new();
    if cached {
        name.push_str("⚡️ ");
    }
    name.push_str(&format!("[{}]", code.to_ascii_uppercase()));
    if usenet {
        // A usenet download, not a torrent: said in the name, where a viewer compares streams.
        name.push_str(" 📰 Usenet");
    }
    name.push_str("\nchillproxy");
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
    if let Some(nzb) = &candidate.nzb {
        if let Some(grabs) = nzb.grabs {
            facts.push(format!("👥 {grabs} grabs"));
        }
        if let Some(published) = nzb.published {
            facts.push(format!("📅 {}", age(published, now_secs())));
        }
    }
    facts.push(format!("🔍 {}", candidate.indexer));
    lines.push(facts.join(" "));
    lines.push(match &file_name {
        Some(file) => format!("📄 {file}"),
        None => format!("📁 {}", candidate.title),
    });

    // The next episode picks the same kind of release: same store, resolution, quality, HDR and
    // group, across torrents (a season pack and single episodes alike); usenet releases keep to
    // usenet (`chillproxy|usenet|…`).
    let kind = if usenet { "usenet|" } else { "" };
    let binge_group = format!(
        "chillproxy|{kind}{code}|{}|{}|{}|{}",
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

#[cfg(test)]
mod tests {
    use super::age;

    #[test]
    fn an_age_reads_in_hours_then_days() {
        let now = 1_800_000_000;
        assert_eq!(age(now - 5 * 3_600 - 59, now), "5 h");
        assert_eq!(age(now - 45 * 86_400 - 100, now), "45 d");
        assert_eq!(age(now + 600, now), "0 h");
        assert_eq!(age(i64::MIN, now), format!("{} d", i64::MAX / 86_400));
    }
}
