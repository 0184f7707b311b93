//! Search by text, for a Kitsu id the metadata maps to no IMDb id (TorBox's id forms are IMDb,
//! TMDB, TVDB, MAL and AniList ids, not Kitsu's): `GET /torrents/search/{query}` with the Kitsu
//! title, then its first alias when the title finds nothing. A text search finds releases of
//! other titles and every episode, so only those with the wanted title that hold the wanted
//! episode are kept (`- 08`, `S01E08` under the mapping, a batch covering it).

use chillproxy_core::{MediaKind, MediaQuery};
use chillproxy_stremio::release::{normalise_title, ReleaseName, WantedEpisode};

/// How many of the metadata's titles (main title first, then aliases) are searched, one after
/// another, until one finds the episode.
pub const MAX_TITLES: usize = 2;

/// The words of `title` joined by spaces, as the search text (punctuation dropped, apostrophes
/// kept: `Frieren: Beyond Journey's End` → `Frieren Beyond Journey's End`); `None` when nothing
/// is left.
pub fn query_text(title: &str) -> Option<String> {
    let text = title
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Some(text).filter(|t| !t.is_empty())
}

/// The request path for `text` ([`query_text`]'s words: only spaces need escaping; the URL
/// parser escapes the rest).
pub fn path(text: &str) -> String {
    format!("/torrents/search/{}", text.replace(' ', "%20").replace('\'', "%27"))
}

/// Whether a release the text search found is what `media` asks for: one of `titles` (a leading
/// "the" aside); for an episode a release that holds it; for a movie no season or episode, and a
/// year (when both give one) within one of the wanted year.
pub fn wanted(release_name: &str, media: &MediaQuery, titles: &[&str], year: Option<u32>) -> bool {
    let release = ReleaseName::parse(release_name);
    let bare = |t: &str| t.strip_prefix("the ").unwrap_or(t).to_string();
    let named =
        !release.title.is_empty() && titles.iter().any(|title| bare(&normalise_title(title)) == bare(&release.title));
    if !named {
        return false;
    }
    match media.kind {
        MediaKind::Movie => {
            release.seasons.is_empty()
                && release.episode.is_none()
                && release.anime.as_ref().is_none_or(|a| a.episodes.is_none())
                && match (year, release.year) {
                    (Some(wanted), Some(year)) => wanted.abs_diff(year) <= 1,
                    _ => true,
                }
        }
        MediaKind::Series => WantedEpisode::of(media).is_none_or(|episode| release.holds(&episode)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_and_path() {
        assert_eq!(query_text("Sousou no Frieren").as_deref(), Some("Sousou no Frieren"));
        assert_eq!(query_text("Frieren: Beyond Journey's End").as_deref(), Some("Frieren Beyond Journey's End"));
        assert_eq!(query_text(" :: "), None);
        assert_eq!(path("Frieren Beyond Journey's End"), "/torrents/search/Frieren%20Beyond%20Journey%27s%20End");
    }

    #[test]
    fn keeps_the_wanted_episode_of_the_wanted_title() {
        let episode = chillproxy_stremio::parse_media("series", "kitsu:46474:8").unwrap();
        let titles = ["Sousou no Frieren", "Frieren: Beyond Journey's End"];
        let keep = |name: &str| wanted(name, &episode, &titles, Some(2023));
        assert!(keep("[SubsPlease] Sousou no Frieren - 08 (1080p) [A1B2C3D4].mkv"));
        assert!(keep("[Commie] Sousou no Frieren - 08v2 [720p AAC] [4E1A0C3B].mkv"));
        assert!(keep("[SubsPlease] Sousou no Frieren (01-28) (1080p) [Batch]"));
        assert!(keep("[Erai-raws] Frieren - Beyond Journey's End - 08 [1080p]"));
        assert!(!keep("[SubsPlease] Sousou no Frieren - 07 (1080p) [F0E1D2C3].mkv"), "another episode");
        assert!(!keep("[Erai-raws] Sousou no Frieren - 09 ~ 28 [1080p][Multiple Subtitle]"), "a batch without it");
        assert!(!keep("[SubsPlease] Sousou no Frieren Mini Anime - 08 (1080p)"), "another title");

        let movie = chillproxy_stremio::parse_media("movie", "kitsu:11614").unwrap();
        let titles = ["Kimi no Na wa.", "Your Name."];
        assert!(wanted("Kimi.no.Na.wa.2016.1080p.BluRay.x264", &movie, &titles, Some(2016)));
        let judas = "[Judas] Kimi no Na wa. (Your Name.) (2016) [BD 1080p HEVC x265 10bit][Dual-Audio][Multi-Subs]";
        assert!(wanted(judas, &movie, &titles, Some(2016)));
        assert!(!wanted("Kimi.no.Na.wa.1999.1080p.BluRay.x264", &movie, &titles, Some(2016)), "another year");
        assert!(!wanted("[SubsPlease] Kimi no Na wa - 03 (1080p)", &movie, &titles, Some(2016)), "an episode");
    }
}
