//! Stremio ids: `tt…` for a movie, `tt…:S:E` for an episode; `kitsu:ID` for an anime movie or
//! a whole show and `kitsu:ID:EP` for an episode numbered from the show's start (Stremio's
//! anime catalogs, the Anime Kitsu addon).

use chillproxy_core::{MediaKind, MediaQuery};

/// The id prefixes the manifest declares: the ids [`parse_media`] reads.
pub const ID_PREFIXES: &[&str] = &["tt", "kitsu"];

/// Parses the `{type}` and `{id}` of a stream request. `None` for anything else.
pub fn parse_media(kind: &str, id: &str) -> Option<MediaQuery> {
    let kind = match kind {
        "movie" => MediaKind::Movie,
        "series" => MediaKind::Series,
        _ => return None,
    };
    if let Some(rest) = id.strip_prefix("kitsu:") {
        return parse_kitsu(kind, rest);
    }
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
    Some(MediaQuery { kind, imdb_id: imdb_id.to_string(), season, episode, kitsu_id: None, absolute_episode: None })
}

/// `ID` (a movie, or a show as a whole) or `ID:EP` (an episode, series only).
fn parse_kitsu(kind: MediaKind, rest: &str) -> Option<MediaQuery> {
    let mut parts = rest.split(':');
    let kitsu_id = parse_number(parts.next()?, 999_999).filter(|id| *id > 0)?;
    let episode = match parts.next() {
        Some(e) => Some(parse_number(e, 100_000)?),
        None => None,
    };
    if parts.next().is_some() || (kind == MediaKind::Movie && episode.is_some()) {
        return None;
    }
    Some(MediaQuery {
        kind,
        imdb_id: String::new(),
        season: None,
        episode: None,
        kitsu_id: Some(kitsu_id),
        absolute_episode: episode,
    })
}

/// The Stremio id of `media` as requested: `kitsu:ID[:EP]` for a Kitsu id, else `tt…[:S:E]`.
pub fn stremio_id(media: &MediaQuery) -> String {
    match (media.kitsu_id, media.absolute_episode, media.season, media.episode) {
        (Some(id), Some(episode), _, _) => format!("kitsu:{id}:{episode}"),
        (Some(id), None, _, _) => format!("kitsu:{id}"),
        (None, _, Some(season), Some(episode)) => format!("{}:{season}:{episode}", media.imdb_id),
        _ => media.imdb_id.clone(),
    }
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
    use chillproxy_core::IdKind;

    #[test]
    fn ids() {
        let m = parse_media("movie", "tt0111161").unwrap();
        assert_eq!((m.kind, m.season, m.episode), (MediaKind::Movie, None, None));
        let s = parse_media("series", "tt0903747:1:3").unwrap();
        assert_eq!((s.season, s.episode, s.id_kind()), (Some(1), Some(3), IdKind::Imdb));
        for (kind, id) in [
            ("movie", "tt"),
            ("movie", "tt1:x:y"),
            ("series", "tt0903747"),
            ("movie", "tt0903747:1:3"),
            ("series", "tt1:1"),
            ("series", "tt1:1:2:3"),
            ("movie", "../../etc"),
            ("anime", "tt1"),
            ("movie", "kitsu:"),
            ("movie", "kitsu:0"),
            ("movie", "kitsu:1:8"),
            ("series", "kitsu:1:2:3"),
            ("series", "kitsu:x:1"),
            ("series", "kitsu:1:-1"),
            ("series", "kitsu:12345678"),
            ("series", "mal:1"),
            ("movie", "tt99999999999999999999"),
        ] {
            assert!(parse_media(kind, id).is_none(), "{kind} {id}");
        }
    }

    #[test]
    fn kitsu_ids() {
        let movie = parse_media("movie", "kitsu:1").unwrap();
        assert_eq!((movie.kitsu_id, movie.absolute_episode, movie.imdb()), (Some(1), None, None));
        assert_eq!(movie.id_kind(), IdKind::Kitsu);
        let show = parse_media("series", "kitsu:46474").unwrap();
        assert_eq!((show.kind, show.kitsu_id, show.absolute_episode), (MediaKind::Series, Some(46474), None));
        let episode = parse_media("series", "kitsu:46474:8").unwrap();
        assert_eq!((episode.kitsu_id, episode.absolute_episode, episode.season), (Some(46474), Some(8), None));
        for id in ["kitsu:46474:8", "kitsu:1", "tt0903747:1:3", "tt0111161"] {
            let kind = if id.matches(':').count() == 2 || id == "kitsu:1" { "series" } else { "movie" };
            assert_eq!(stremio_id(&parse_media(kind, id).unwrap()), id);
        }
    }
}
