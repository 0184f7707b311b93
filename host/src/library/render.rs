//! Library items as Stremio metas: a preview for the catalog, and the meta with one video per
//! video file, each carrying its stream (the usual playback route, a sealed handle with keys), so
//! Stremio asks no other addon for them.

use chillproxy_core::{LibraryItem, StoreEntry, StoreFile};
use chillproxy_stremio::release::{episode_of, human_size, is_video, Release, ReleaseName};
use chillproxy_stremio::{encode_segment, routes, BehaviorHints, PlaybackUrl, Stream};
use serde_json::{json, Value};

use super::ids::{self, CATALOG_TYPE};
use super::request::LibraryRequest;
use crate::handle::{stream_part_of, Handle, ListParts};

/// The Stremio id library plays carry: no title (the file is named exactly), a movie so that no
/// episode rule applies.
pub(crate) const PLAY_ID: &str = "tt0";

/// What the name says the item is: a movie, an episode, a season, or nothing.
fn what_it_is(name: &str) -> Option<String> {
    let parsed = ReleaseName::parse(name);
    let title = title_case(&parsed.title);
    if title.is_empty() {
        return None;
    }
    match (parsed.seasons.first(), parsed.episode) {
        (Some(season), Some(episode)) => Some(format!("Episode S{season:02}E{episode:02} of {title}")),
        (Some(season), None) => Some(format!("Season {season} of {title}")),
        _ => parsed.year.map(|year| format!("Movie: {title} ({year})")),
    }
}

fn title_case(title: &str) -> String {
    let words = title.split(' ').filter(|w| !w.is_empty()).map(|w| {
        let mut chars = w.chars();
        chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
    });
    words.collect::<Vec<_>>().join(" ")
}

fn description(item: &LibraryItem) -> String {
    let release = Release::parse(&item.name);
    let mut parts: Vec<String> = what_it_is(&item.name).into_iter().collect();
    parts.extend(release.resolution.map(str::to_string));
    parts.extend(release.quality.map(str::to_string));
    if item.size > 0 {
        parts.push(human_size(item.size));
    }
    if !item.ready {
        parts.push("still downloading".to_string());
    }
    parts.join(" · ")
}

/// The catalog's entry for `item`.
pub(super) fn preview(entry: &StoreEntry, item: &LibraryItem) -> Value {
    let mut preview = json!({
        "id": ids::item_id(entry, &item.hash),
        "type": CATALOG_TYPE,
        "name": item.name,
        "posterShape": "landscape",
        "description": description(item),
    });
    if let Some(year) = ReleaseName::parse(&item.name).year {
        preview["releaseInfo"] = json!(year.to_string());
    }
    preview
}

/// The meta of `item`: its video files as videos, each with its stream.
pub(super) fn meta(entry: &StoreEntry, item: &LibraryItem, request: &LibraryRequest<'_>) -> Value {
    let mut urls = Urls::new(entry, request);
    let released = item.added.clone().unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string());
    let mut files: Vec<&StoreFile> =
        item.files.iter().filter(|f| is_video(&f.name) && !f.name.to_ascii_lowercase().contains("sample")).collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    // A store that lists no files: the item itself, whose largest video plays.
    let whole = StoreFile { id: 0, name: item.name.clone(), path: String::new(), size: item.size, video_hash: None };
    let no_files = files.is_empty() && item.files.is_empty();
    if no_files {
        files.push(&whole);
    }
    let videos: Vec<Value> = files
        .into_iter()
        .map(|file| {
            let stream = Stream {
                url: Some(if no_files { urls.whole(item) } else { urls.url(item, file) }),
                external_url: None,
                name: format!("chillproxy\n{}", entry.c.to_ascii_uppercase()),
                description: format!("{}\n💾 {}", file.name, human_size(file.size)),
                behavior_hints: Some(BehaviorHints {
                    binge_group: Some(format!("chillproxy-library-{}", item.hash)),
                    filename: Some(file.name.clone()),
                    video_size: Some(file.size),
                    video_hash: file.video_hash.clone(),
                    not_web_ready: !file.name.to_ascii_lowercase().ends_with(".mp4"),
                }),
            };
            let mut video = json!({
                "id": ids::video_id(entry, &item.hash, file.id),
                "title": file.name,
                "released": released,
                "streams": [stream],
            });
            if let Some((season, episode)) = episode_of(&file.name).or_else(|| episode_of(&file.path)) {
                video["season"] = json!(season);
                video["episode"] = json!(episode);
            }
            video
        })
        .collect();
    let mut meta = preview(entry, item);
    meta["videos"] = json!(videos);
    meta
}

/// Playback URLs of one reply: plain (the config, the device binding) or sealed handles.
struct Urls<'a> {
    request: &'a LibraryRequest<'a>,
    entry: &'a StoreEntry,
    sealed: Option<Option<chillproxy_core::seal::ListSeal>>,
}

impl<'a> Urls<'a> {
    fn new(entry: &'a StoreEntry, request: &'a LibraryRequest<'a>) -> Self {
        Self { request, entry, sealed: None }
    }

    /// The URL of a whole item: no file id, a name that matches no file (its largest video plays).
    fn whole(&mut self, item: &LibraryItem) -> String {
        self.build(item, None, &format!("{}.mkv", item.name.replace(['/', '\\'], " ")))
    }

    fn url(&mut self, item: &LibraryItem, file: &StoreFile) -> String {
        self.build(item, Some(file.id), &file.name)
    }

    /// The item's playback URL, carrying its kind (a usenet download plays as usenet).
    fn build(&mut self, item: &LibraryItem, file_idx: Option<u64>, name: &str) -> String {
        let request = self.request;
        let (hash, kind) = (&item.hash, item.kind);
        let Some(keyring) = request.keyring else {
            let mut url = PlaybackUrl::head(request.base_url, request.config_segment, PLAY_ID).into_bytes();
            PlaybackUrl::push_middle_of(&mut url, &self.entry.c, hash, kind, file_idx);
            url.extend_from_slice(encode_segment(name).as_bytes());
            url.extend_from_slice(PlaybackUrl::tail(&request.binding).as_bytes());
            return String::from_utf8(url).unwrap_or_default();
        };
        let entry = self.entry;
        let list = self.sealed.get_or_insert_with(|| {
            let client = request.client;
            let expires_at = Handle::expiry(request.binding_ttl_s);
            ListParts { entry, id: PLAY_ID, device: &client.device, ip: client.ip, expires_at, usenet_indexers: &[] }
                .seal(keyring)
        });
        let mut url = routes::play_prefix(request.base_url).into_bytes();
        if let Some(list) = list {
            let (part, len) = stream_part_of(hash, kind, file_idx);
            list.write_handle(&mut url, &part[..len]);
        }
        url.push(b'/');
        url.extend_from_slice(encode_segment(name).as_bytes());
        String::from_utf8(url).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_says_movie_episode_or_season() {
        assert_eq!(
            what_it_is("The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE").as_deref(),
            Some("Movie: The Shawshank Redemption (1994)")
        );
        assert_eq!(
            what_it_is("Breaking.Bad.S01E03.1080p.WEB-DL.x264").as_deref(),
            Some("Episode S01E03 of Breaking Bad")
        );
        assert_eq!(what_it_is("Breaking.Bad.S01.720p.BluRay.x264").as_deref(), Some("Season 1 of Breaking Bad"));
        assert_eq!(what_it_is("holiday-videos"), None);
    }
}
