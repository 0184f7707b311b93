//! Anime by title: releases numbered from the show's start (`Title - 08`, batches) carry no IMDb
//! id, so they are found by a text search next to (or, for a Kitsu id the metadata maps to no
//! IMDb id, instead of) the id search.

use chillproxy_core::MediaQuery;

use crate::client::Search;
use crate::meta::Title;
use crate::search::query_words;

/// The text search for anime numbered from the show's start: the title alone for a Kitsu
/// entry (its releases and batches: `Sousou no Frieren - 08`, `(01-28)`), the title and the
/// number for an IMDb episode (`One Piece 1085`).
pub fn anime_search(media: &MediaQuery, title: &Title) -> Search {
    let name = query_words(&title.name);
    let q = match (media.kitsu_id, media.absolute_episode) {
        (None, Some(absolute)) => format!("{name} {absolute}"),
        _ => name,
    };
    Search::Text { t: "search", q, season: None, ep: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kitsu_entries_by_title_imdb_episodes_with_their_number() {
        let kitsu = chillproxy_stremio::parse_media("series", "kitsu:46474:8").unwrap();
        let frieren = Title { name: "Sousou no Frieren".into(), year: Some(2023) };
        assert_eq!(
            anime_search(&kitsu, &frieren),
            Search::Text { t: "search", q: "Sousou no Frieren".into(), season: None, ep: None }
        );
        let mut one_piece = chillproxy_stremio::parse_media("series", "tt0388629:21:15").unwrap();
        one_piece.absolute_episode = Some(1085);
        let title = Title { name: "One Piece".into(), year: Some(1999) };
        assert_eq!(
            anime_search(&one_piece, &title),
            Search::Text { t: "search", q: "One Piece 1085".into(), season: None, ep: None }
        );
    }
}
