//! Stremio ids: `tt…` for a movie, `tt…:S:E` for an episode.

use chillproxy_core::{MediaKind, MediaQuery};

/// Parses the `{type}` and `{id}` of a stream request. `None` for anything else.
pub fn parse_media(kind: &str, id: &str) -> Option<MediaQuery> {
    let kind = match kind {
        "movie" => MediaKind::Movie,
        "series" => MediaKind::Series,
        _ => return None,
    };
    let mut parts = id.split(':');
    let imdb_id = parts.next()?;
    let digits = imdb_id.strip_prefix("tt")?;
    if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let season = match parts.next() {
        Some(s) => Some(parse_number(s, 1000)?),
        None => None,
    };
    let episode = match parts.next() {
        Some(e) => Some(parse_number(e, 100_000)?),
        None => None,
    };
    if parts.next().is_some() || season.is_some() != episode.is_some() {
        return None;
    }
    match (kind, season) {
        (MediaKind::Movie, Some(_)) => return None,
        (MediaKind::Series, None) => return None,
        _ => {}
    }
    Some(MediaQuery { kind, imdb_id: imdb_id.to_string(), season, episode })
}

/// A small decimal number (at most 6 digits, at most `max`), as ids and file names carry them.
pub fn parse_number(s: &str, max: u32) -> Option<u32> {
    if s.is_empty() || s.len() > 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|n| *n <= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let m = parse_media("movie", "tt0111161").unwrap();
        assert_eq!((m.kind, m.season, m.episode), (MediaKind::Movie, None, None));
        let s = parse_media("series", "tt0903747:1:3").unwrap();
        assert_eq!((s.season, s.episode), (Some(1), Some(3)));
        for (kind, id) in [
            ("movie", "tt"),
            ("movie", "tt1:x:y"),
            ("series", "tt0903747"),
            ("movie", "tt0903747:1:3"),
            ("series", "tt1:1"),
            ("series", "tt1:1:2:3"),
            ("movie", "../../etc"),
            ("anime", "tt1"),
            ("movie", "kitsu:1"),
            ("movie", "tt99999999999999999999"),
        ] {
            assert!(parse_media(kind, id).is_none(), "{kind} {id}");
        }
    }
}
