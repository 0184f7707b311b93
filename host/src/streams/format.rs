//! One candidate as a Stremio stream: its name and description lines, its playback URL and its
//! behaviour hints. Problems are not formatted here: see `problems` and `stremio::warning`.

use chillproxy_core::{Candidate, StoreEntry, StoreFile};
use chillproxy_stremio::{encode_segment, BehaviorHints, PlaybackUrl, Stream};

use super::StreamRequest;
use crate::handle::Handle;
use chillproxy_stremio::release::{human_size, Release};

/// `Release.Name.mkv` from a release title: one path segment, at most 200 bytes, ending in a
/// video extension.
fn guessed_file_name(title: &str) -> String {
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

/// A candidate with what ranking needs: the sort key (resolution, quality, size), the parsed
/// release name and the file that would play, when the store said.
pub(super) struct Ranked {
    pub key: (u32, u32, u64),
    pub release: Release,
    pub file: Option<StoreFile>,
    /// The release names one of the viewer's preferred languages.
    pub preferred: bool,
}

pub(super) fn format_stream(
    request: &StreamRequest<'_>,
    entry: &StoreEntry,
    candidate: &Candidate,
    rank: &Ranked,
    cached: bool,
) -> Stream {
    let code = entry.c.as_str();
    let code_upper = code.to_ascii_uppercase();
    let release = &rank.release;
    let file_name = rank.file.as_ref().map(|file| file.name.clone());
    // Players read the extension from the URL: when the store has not said which file plays,
    // the release name stands in (playback still picks the file from the store's list).
    let url_name = file_name.clone().unwrap_or_else(|| guessed_file_name(&candidate.title));
    let file_idx = rank.file.as_ref().map(|file| file.id);
    let sealed = request.keyring.and_then(|keyring| {
        let client = request.client;
        Handle::new(entry, request.id, &candidate.hash, file_idx, &client.device, client.ip, request.binding_ttl_s)
            .seal(keyring)
    });
    let url = match sealed {
        Some(handle) => {
            format!("{}/stremio/torz/_/play/{handle}/{}", request.base_url, encode_segment(&url_name))
        }
        None => PlaybackUrl {
            base_url: request.base_url,
            config_segment: request.config_segment,
            id: request.id,
            store_code: code,
            hash: &candidate.hash,
            file_idx,
            file_name: Some(&url_name),
            binding: &request.binding,
        }
        .build(),
    };

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
        video_size: rank.file.as_ref().map(|f| f.size),
        not_web_ready,
    };
    Stream { url: Some(url), external_url: None, name, description: lines.join("\n"), behavior_hints: Some(hints) }
}
