//! chillproxy-stremio: the Stremio addon protocol as chillproxy speaks it, pure (no I/O): ids
//! (`tt…`, `tt…:S:E`, `kitsu:ID`, `kitsu:ID:EP`), the user config carried in the `{config}` path segment (one decoder),
//! the playback URL (built and parsed in one file), the stream objects a stream list holds, and
//! release-name parsing.
//!
//! It depends on chillproxy-core's plain types only (info hashes, store entries); it must not
//! depend on the host, on a plugin, or on anything that does I/O. The fuzz targets and
//! property tests exercise it directly, and a source plugin that reads another Stremio addon
//! can use its types.

pub mod anime;
pub mod config;
pub mod ids;
pub mod languages;
pub mod pick;
pub mod playback;
pub mod preferences;
pub mod release;
pub mod routes;
mod shape;
pub mod stream;

pub use config::{ConfigProblem, UserConfig, MAX_ENCODED_BYTES, MAX_INDEXERS, MAX_STORES, USENET_INDEXERS_FIELD};
pub use ids::{parse_media, stremio_id, ID_PREFIXES};
pub use pick::pick_file;
pub use playback::{PlaybackPath, PlaybackSegments, PlaybackUrl, MAX_FILE_NAME_BYTES};
pub use stream::{encode_segment, warning, BehaviorHints, Stream, StreamList};

/// The first `max` characters of `s` (for echoing user input in messages).
pub fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
