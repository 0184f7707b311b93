//! One indexer's search, the way real indexers need it: caps first (kept a day), then by IMDb id
//! where the caps announce `imdbid` (with `season`/`ep` only when announced), otherwise by title
//! (from the metadata addon) with unrelated releases filtered out. An indexer that refuses an id
//! search with error 203 has its caps read again and is searched by title. Anime (a Kitsu id,
//! an episode numbered from the show's start) is also searched by title (`anime`), with the
//! request's metadata (its titles and aliases) before any lookup.

use std::sync::Arc;

use chillproxy_core::upstream::{Method, Upstream, Url};
use chillproxy_core::{MediaKind, MediaMeta, MediaQuery};
use chillproxy_stremio::release::{normalise_title, ReleaseName, WantedEpisode};

use crate::anime::anime_search;
use crate::caps::Caps;
use crate::client::{self, Dialect, ImdbidForm, Indexer, QueryError, Search};
use crate::manners::Memory;
use crate::meta::{Title, Titles};
use crate::rss::FeedItem;

/// Why [`Searcher::find`] found nothing.
#[derive(Debug)]
pub enum Found {
    /// The indexer failed (it is held back by now).
    Query(QueryError),
    /// It searches by title only and the title is unknown: the reason.
    NoTitle(String),
}

impl From<QueryError> for Found {
    fn from(error: QueryError) -> Self {
        Found::Query(error)
    }
}

/// What one search of one indexer needs.
pub struct Searcher<'a> {
    pub upstream: &'a Upstream,
    pub titles: &'a Titles,
    pub memory: &'a Memory,
    /// The titles the request's metadata gave (a Kitsu id's), used instead of a lookup.
    pub hint: Option<&'a MediaMeta>,
}

/// Whether `caps` let `media` be searched by IMDb id.
fn takes_id(caps: &Caps, media: &MediaQuery) -> bool {
    match media.kind {
        MediaKind::Movie => caps.movie.supports("imdbid"),
        MediaKind::Series => caps.tv.supports("imdbid"),
    }
}

impl Searcher<'_> {
    /// The reply's items, and the title when they come from a text search (so they need
    /// matching with [`Searcher::matches`]). `operation` is the metrics label. A failed query is
    /// [`Found::Query`] and the caller holds the indexer back ([`Memory::pause`]).
    ///
    /// For anime, the releases numbered from the show's start (`- 08`, batches) are found by
    /// title: alone for a Kitsu id without an IMDb mapping, next to the others for an episode
    /// whose absolute number is known.
    pub async fn find(
        &self,
        indexer: &Indexer,
        endpoint: &Url,
        media: &MediaQuery,
        operation: &'static str,
    ) -> Result<(Vec<FeedItem>, Option<Arc<Title>>), Found> {
        if media.imdb().is_none() {
            let title = self.title(indexer, media).await?;
            let items = self.feed(indexer, endpoint, media, &anime_search(media, &title), operation).await?;
            return Ok((items, Some(title)));
        }
        let (mut items, text_title) = self.find_by_id_or_title(indexer, endpoint, media, operation).await?;
        if media.absolute_episode.is_some() {
            let title = match &text_title {
                Some(title) => Some(title.clone()),
                None => self.title(indexer, media).await.ok(),
            };
            if let Some(title) = title {
                let search = anime_search(media, &title);
                if let Ok(more) = self.feed(indexer, endpoint, media, &search, operation).await {
                    let known: std::collections::HashSet<String> = items.iter().map(|i| i.title.clone()).collect();
                    let fresh = more.into_iter().filter(|i| !known.contains(&i.title));
                    // Id results need no matching; these do (text results are matched later).
                    items.extend(fresh.filter(|i| text_title.is_some() || self.matches(&i.title, media, &title)));
                }
            }
        }
        Ok((items, text_title))
    }

    /// The title to search by text: the request's metadata (a Kitsu id's), else the lookup.
    async fn title(&self, indexer: &Indexer, media: &MediaQuery) -> Result<Arc<Title>, Found> {
        if let Some(hint) = self.hint.filter(|h| !h.name.trim().is_empty()) {
            return Ok(Arc::new(Title { name: hint.name.clone(), year: hint.year }));
        }
        if media.imdb().is_none() {
            return Err(Found::NoTitle("it searches by title only, and the title is unknown".into()));
        }
        self.titles.lookup(media).await.map_err(|reason| {
            tracing::warn!(indexer = %indexer.name, %reason, "the indexer searches by title only and the title is unknown; skipped");
            Found::NoTitle(format!("it searches by title only, and {reason}"))
        })
    }

    /// [`matches_title`] against the title or any alias the request's metadata gave.
    pub fn matches(&self, release_name: &str, media: &MediaQuery, title: &Title) -> bool {
        matches_title(release_name, media, title)
            || self.hint.is_some_and(|hint| {
                hint.titles().iter().any(|alias| {
                    matches_title(release_name, media, &Title { name: alias.to_string(), year: title.year })
                })
            })
    }

    /// The id search where the caps allow it, else the text search: the items, and the title
    /// when they come from a text search.
    async fn find_by_id_or_title(
        &self,
        indexer: &Indexer,
        endpoint: &Url,
        media: &MediaQuery,
        operation: &'static str,
    ) -> Result<(Vec<FeedItem>, Option<Arc<Title>>), Found> {
        let key = indexer.memory_key();
        let caps = match self.memory.caps(&key) {
            Some(caps) => caps,
            None => self.read_caps(indexer, endpoint, media, &key, false).await?,
        };
        let form = match indexer.imdbid {
            ImdbidForm::Auto if self.memory.takes_digits(&key) => ImdbidForm::Digits,
            form => form,
        };
        // Unknown caps: a Torznab indexer is tried by id, as Jackett and Prowlarr take it; a
        // Newznab one is searched by title.
        let by_id = match &caps {
            Some(caps) => takes_id(caps, media),
            None => indexer.dialect == Dialect::Torznab,
        };
        let mut caps = caps;
        if form != ImdbidForm::Off && by_id {
            let announces = |param: &str| caps.as_ref().is_none_or(|c| c.tv.supports(param));
            let search = |form: ImdbidForm| Search::Id {
                imdbid: form.apply(&media.imdb_id),
                season: media.season.filter(|_| announces("season")),
                ep: media.episode.filter(|_| announces("ep")),
            };
            match self.feed(indexer, endpoint, media, &search(form), operation).await {
                Ok(items) => return Ok((items, None)),
                Err(QueryError::Unsupported(reason)) => {
                    tracing::debug!(indexer = %indexer.name, %reason, "the indexer refused an id search; its caps are read again");
                    let mut fresh = self.read_caps(indexer, endpoint, media, &key, true).await?;
                    // It refused: whatever its caps say, it is searched by title from now on.
                    if let Some(fresh) = fresh.as_mut() {
                        let function = match media.kind {
                            MediaKind::Movie => &mut fresh.movie,
                            MediaKind::Series => &mut fresh.tv,
                        };
                        function.params.retain(|p| p != "imdbid");
                        self.memory.remember_caps(&key, Some(fresh.clone()));
                    }
                    caps = fresh;
                }
                Err(QueryError::BadParameter(_)) if form == ImdbidForm::Auto => {
                    let items = self.feed(indexer, endpoint, media, &search(ImdbidForm::Digits), operation).await?;
                    self.memory.remember_digits(&key);
                    return Ok((items, None));
                }
                Err(error) => return Err(error.into()),
            }
        }
        let title = self.title(indexer, media).await?;
        let search = text_search(caps.as_ref(), media, &title);
        let items = self.feed(indexer, endpoint, media, &search, operation).await?;
        Ok((items, Some(title)))
    }

    /// The caps, known or read (`fresh`: read again): `None` when the indexer answered
    /// something that is not caps (it is then searched as if it had said nothing). A failure
    /// that is the indexer's (down, a refused key, a limit) is the search's.
    async fn read_caps(
        &self,
        indexer: &Indexer,
        endpoint: &Url,
        media: &MediaQuery,
        key: &str,
        fresh: bool,
    ) -> Result<Option<Caps>, QueryError> {
        let url = client::search_url(endpoint, indexer.api_key.as_ref(), indexer.dialect, media, &Search::Caps);
        let upstream = self.upstream.clone();
        let (api_key, health, dialect) = (indexer.api_key.clone(), indexer.health.clone(), indexer.dialect);
        let read = move || async move {
            let mut request = upstream.request_url(Method::GET, "caps", url);
            if let Some(key) = &api_key {
                request = request.secret(key);
            }
            if let Some(tracker) = &health {
                request = request.report_to(tracker);
            }
            let timeout = upstream.timeout();
            upstream.call(request, |reply| client::read_caps(reply, timeout, dialect)).await
        };
        self.memory.caps_or_read(key, fresh, read).await
    }

    /// One search request and its feed.
    pub async fn feed(
        &self,
        indexer: &Indexer,
        endpoint: &Url,
        media: &MediaQuery,
        search: &Search,
        operation: &'static str,
    ) -> Result<Vec<FeedItem>, QueryError> {
        let url = client::search_url(endpoint, indexer.api_key.as_ref(), indexer.dialect, media, search);
        let mut request = self.upstream.request_url(Method::GET, operation, url);
        if let Some(key) = &indexer.api_key {
            request = request.secret(key);
        }
        if let Some(tracker) = &indexer.health {
            request = request.report_to(tracker);
        }
        let (timeout, dialect) = (self.upstream.timeout(), indexer.dialect);
        self.upstream.call(request, |reply| client::read_feed(reply, timeout, dialect)).await
    }
}

/// `name` as a search query: its words (letters, digits, `&` and `'`) joined by one space.
pub(crate) fn query_words(name: &str) -> String {
    name.split(|c: char| !c.is_alphanumeric() && c != '&' && c != '\'')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text search for `media` under `caps` (`None`: unknown, take plain `search`):
/// `q=<title> <year>` for a movie; for an episode `q=<title>` with `season`/`ep` when tv-search
/// takes them, else `q=<title> S01E03`.
pub fn text_search(caps: Option<&Caps>, media: &MediaQuery, title: &Title) -> Search {
    let name = query_words(&title.name);
    let default = Caps::default();
    let caps = caps.unwrap_or(&default);
    match media.kind {
        MediaKind::Movie => {
            let q = match title.year {
                Some(year) => format!("{name} {year}"),
                None => name,
            };
            let t = if caps.movie.supports("q") { "movie" } else { "search" };
            Search::Text { t, q, season: None, ep: None }
        }
        MediaKind::Series if caps.tv.supports("q") && caps.tv.supports("season") => Search::Text {
            t: "tvsearch",
            q: name,
            season: media.season,
            ep: media.episode.filter(|_| caps.tv.supports("ep")),
        },
        MediaKind::Series => {
            let q = match (media.season, media.episode) {
                (Some(s), Some(e)) => format!("{name} S{s:02}E{e:02}"),
                (Some(s), None) => format!("{name} S{s:02}"),
                _ => name,
            };
            Search::Text { t: "search", q, season: None, ep: None }
        }
    }
}

/// Whether a text search's result is the wanted title: the same normalised title (a leading
/// "the" aside); for a movie no season or episode and a year within one of the wanted year; for
/// an episode its season, and its episode or no episode (a season pack); for an episode with
/// an absolute number, a release that holds it either way (`S21E15`, `- 1085`, a batch).
pub fn matches_title(release_name: &str, media: &MediaQuery, title: &Title) -> bool {
    let release = ReleaseName::parse(release_name);
    let wanted = normalise_title(&title.name);
    let bare = |t: &str| t.strip_prefix("the ").unwrap_or(t).to_string();
    if release.title.is_empty() || bare(&release.title) != bare(&wanted) {
        return false;
    }
    match media.kind {
        MediaKind::Movie => {
            release.seasons.is_empty()
                && release.episode.is_none()
                && match (title.year, release.year) {
                    (Some(wanted), Some(year)) => wanted.abs_diff(year) <= 1,
                    (Some(_), None) => false,
                    (None, _) => true,
                }
        }
        MediaKind::Series if media.absolute_episode.is_some() => {
            WantedEpisode::of(media).is_some_and(|wanted| release.holds(&wanted))
        }
        MediaKind::Series => {
            let Some(season) = media.season else { return true };
            release.seasons.contains(&season)
                && match (media.episode, release.episode) {
                    (Some(wanted), Some(episode)) => wanted == episode,
                    _ => true,
                }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn movie() -> MediaQuery {
        MediaQuery::movie("tt0111161")
    }

    fn episode(s: u32, e: u32) -> MediaQuery {
        MediaQuery::episode("tt0903747", s, e)
    }

    #[test]
    fn titles_match_by_name_year_season_and_episode() {
        let shawshank = Title { name: "The Shawshank Redemption".into(), year: Some(1994) };
        assert!(matches_title("The.Shawshank.Redemption.1994.1080p.BluRay", &movie(), &shawshank));
        assert!(matches_title("Shawshank Redemption (1995) 720p", &movie(), &shawshank));
        assert!(!matches_title("The Shawshank Redemption 2007 Remake", &movie(), &shawshank));
        assert!(!matches_title("Not The Shawshank Redemption 1994 Parody", &movie(), &shawshank));
        assert!(!matches_title("The Shawshank Redemption 1080p", &movie(), &shawshank), "no year");
        let bb = Title { name: "Breaking Bad".into(), year: Some(2008) };
        assert!(matches_title("Breaking.Bad.S01E02.720p", &episode(1, 2), &bb));
        assert!(matches_title("Breaking Bad Season 1 Complete", &episode(1, 2), &bb));
        assert!(!matches_title("Breaking Bad S01E03", &episode(1, 2), &bb));
        assert!(!matches_title("Breaking Bad Habits S01E02", &episode(1, 2), &bb));
        assert!(!matches_title("Breaking Bad 2008 1080p", &episode(1, 2), &bb), "no season");
    }

    #[test]
    fn text_searches_follow_the_caps() {
        let bb = Title { name: "Breaking Bad".into(), year: Some(2008) };
        let q_only = crate::caps::parse_caps(
            r#"<caps><searching><search available="yes" supportedParams="q"/><tv-search available="yes" supportedParams="q,season,ep"/><movie-search available="yes" supportedParams="q"/></searching></caps>"#,
        )
        .unwrap();
        assert_eq!(
            text_search(Some(&q_only), &episode(1, 3), &bb),
            Search::Text { t: "tvsearch", q: "Breaking Bad".into(), season: Some(1), ep: Some(3) }
        );
        assert_eq!(
            text_search(None, &episode(1, 3), &bb),
            Search::Text { t: "search", q: "Breaking Bad S01E03".into(), season: None, ep: None }
        );
        let shawshank = Title { name: "The Shawshank Redemption".into(), year: Some(1994) };
        assert_eq!(
            text_search(Some(&q_only), &movie(), &shawshank),
            Search::Text { t: "movie", q: "The Shawshank Redemption 1994".into(), season: None, ep: None }
        );
    }

    #[test]
    fn ids_go_only_where_the_caps_announce_them() {
        let caps = |movie: &str, tv: &str| {
            crate::caps::parse_caps(&format!(
                r#"<caps><searching><movie-search available="yes" supportedParams="{movie}"/><tv-search available="yes" supportedParams="{tv}"/></searching></caps>"#
            ))
            .unwrap()
        };
        assert!(!takes_id(&caps("q", "q,imdbid"), &movie()));
        assert!(takes_id(&caps("q,imdbid", "q"), &movie()));
        assert!(!takes_id(&caps("q,imdbid", "q,rid,tvdbid,season,ep"), &episode(1, 1)));
        assert!(takes_id(&caps("q", "q,imdbid,season,ep"), &episode(1, 1)));
    }
}
