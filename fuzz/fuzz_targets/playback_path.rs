//! A playback path `{config}/{id}/{store}/{hash}/{file_idx}[/{file_name}]` (lossy UTF-8, split
//! on '/'): `PlaybackPath::parse` with the given config segment and again with a valid one (so
//! the fuzzer gets past the config check), plus `parse_media`, `episode_of` and `Release::parse`
//! on the whole input and on the id segment.

#![no_main]

use chillproxy_core::MediaKind;
use chillproxy_stremio::parse_media;
use chillproxy_stremio::release::{episode_of, Release};
use chillproxy_stremio::{PlaybackPath, PlaybackSegments, MAX_FILE_NAME_BYTES};
use chillproxy_stremio::MAX_STORES;
use libfuzzer_sys::fuzz_target;

const CODES: &[&str] = &["tb", "rd", "ad"];
/// base64 of `{"stores":[{"c":"tb","t":"KEY"}]}`.
const VALID_CONFIG: &str = "eyJzdG9yZXMiOlt7ImMiOiJ0YiIsInQiOiJLRVkifV19";

fn is_lower_hex_40(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check_media(text: &str) {
    for kind in ["movie", "series"] {
        if let Some(media) = parse_media(kind, text) {
            let digits = media.imdb_id.strip_prefix("tt").unwrap_or_default();
            assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()), "imdb id {:?}", media.imdb_id);
            assert_eq!(media.season.is_some(), media.episode.is_some());
            assert_eq!(media.kind == MediaKind::Series, media.season.is_some());
        }
    }
    if let Some((season, episode)) = episode_of(text) {
        assert!(season <= 1000 && episode <= 100_000, "S{season}E{episode}");
    }
    let _ = Release::parse(text);
}

fn check_target(segments: &PlaybackSegments<'_>) {
    if let Ok(target) = PlaybackPath::parse(segments, CODES) {
        assert!(is_lower_hex_40(target.hash.as_str()), "hash {:?}", target.hash.as_str());
        assert!(CODES.contains(&target.store_code.as_str()));
        assert!((1..=MAX_STORES).contains(&target.config.stores.len()));
        assert!(target.file_idx.is_none_or(|i| i < 1_000_000_000));
        if let Some(name) = &target.file_name {
            assert!(!name.is_empty() && name.len() <= MAX_FILE_NAME_BYTES && !name.chars().any(char::is_control));
        }
        assert!(target.media.imdb_id.starts_with("tt"));
    }
}

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    check_media(&input);

    let mut parts = input.splitn(6, '/');
    let config = parts.next().unwrap_or_default();
    let id = parts.next().unwrap_or_default();
    let store = parts.next().unwrap_or_default();
    let hash = parts.next().unwrap_or_default();
    let file_idx = parts.next().unwrap_or_default();
    let file_name = parts.next();
    check_media(id);

    let segments = PlaybackSegments { config, id, store, hash, file_idx, file_name };
    check_target(&segments);
    check_target(&PlaybackSegments { config: VALID_CONFIG, ..segments });
});
