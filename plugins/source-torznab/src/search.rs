//! One indexer's search, the way real indexers need it: by IMDb id where its caps allow,
//! otherwise by title (from the metadata addon) with unrelated releases filtered out; `.torrent`
//! links read for items that name no hash; and back-off after a failure or a 429.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chillproxy_core::source_cache::{Lifetimes, SourceCache, SourceFailure};
use chillproxy_core::upstream::{Method, OutboundPolicy, Upstream, UpstreamError, Url};
use chillproxy_core::{InfoHash, MediaKind, MediaMeta, MediaQuery, Secret};
use chillproxy_stremio::release::{normalise_title, ReleaseName, WantedEpisode};
use futures::StreamExt;

use crate::anime::anime_search;
use crate::caps::Caps;
use crate::client::{self, describe, ImdbidForm, Indexer, QueryError, Search};
use crate::magnet::hash_from_magnet;
use crate::meta::{Title, Titles};
use crate::rss::FeedItem;
use crate::torrent::parse_torrent;

/// How long caps are believed.
const CAPS_TTL: Duration = Duration::from_secs(24 * 3600);
/// The longest `Retry-After` honoured; a longer one is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// A 429 without `Retry-After` pauses the indexer this long.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Redirects followed for one `.torrent` link.
pub const MAX_TORRENT_REDIRECTS: usize = 3;
/// `.torrent` links read at once for one indexer's reply.
pub const TORRENTS_IN_FLIGHT_PER_SEARCH: usize = 4;
/// How long a link's info hash is kept, and how long a link that gave none is not read again.
const TORRENT_TTL: Duration = Duration::from_secs(6 * 3600);
const TORRENT_FAILURE_TTL: Duration = Duration::from_secs(120);
/// Past this many remembered indexers, expired entries are dropped.
const MEMORY_PRUNE_AT: usize = 4096;

/// What one indexer gave.
#[derive(Debug, Default)]
pub struct Answer {
    /// Items with a hash (from the feed or from their `.torrent`), matching the title.
    pub items: Vec<FeedItem>,
    /// Items in the reply.
    pub returned: usize,
    /// Items whose hash could not be recovered.
    pub unusable: usize,
}

/// Why an indexer gave nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// It was asked, or is paused after failing: the reason.
    Failed(String),
    /// The outbound URL policy refused its address or a redirect's (it was not asked), or it is
    /// paused after that: the reason.
    Refused(String),
    /// It searches by title only and the title is unknown (the metadata addon is down).
    NoTitle(String),
}

impl Failure {
    pub fn reason(&self) -> &str {
        match self {
            Failure::Failed(reason) | Failure::Refused(reason) | Failure::NoTitle(reason) => reason,
        }
    }

    /// The same failure with its reason rewritten.
    pub fn map(self, rewrite: impl FnOnce(String) -> String) -> Self {
        match self {
            Failure::Failed(reason) => Failure::Failed(rewrite(reason)),
            Failure::Refused(reason) => Failure::Refused(rewrite(reason)),
            Failure::NoTitle(reason) => Failure::NoTitle(rewrite(reason)),
        }
    }
}

impl From<&QueryError> for Failure {
    fn from(error: &QueryError) -> Self {
        match error {
            QueryError::Refused(_) => Failure::Refused(error.to_string()),
            _ => Failure::Failed(error.to_string()),
        }
    }
}

/// What the plugin remembers across searches.
pub struct Memory {
    caps: Mutex<HashMap<String, (Instant, Caps)>>,
    /// Indexers that refused `tt…` ids and took digits.
    digits: Mutex<HashMap<String, Instant>>,
    /// Until when, and the failure that paused it.
    paused: Mutex<HashMap<String, (Instant, Failure)>>,
    /// `.torrent` link (a fingerprint) → its info hash, or why it gave none.
    torrents: SourceCache<String, InfoHash>,
    failure_pause: Duration,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn prune<V>(map: &mut HashMap<String, V>, expired: impl Fn(&V) -> bool) {
    if map.len() > MEMORY_PRUNE_AT {
        map.retain(|_, v| !expired(v));
    }
}

impl Memory {
    pub fn new(failure_pause: Duration) -> Self {
        Self {
            caps: Mutex::default(),
            digits: Mutex::default(),
            paused: Mutex::default(),
            torrents: SourceCache::new(50_000, Lifetimes::fixed(TORRENT_TTL, TORRENT_FAILURE_TTL)),
            failure_pause,
        }
    }

    fn caps(&self, key: &str) -> Option<Caps> {
        let caps = lock(&self.caps);
        caps.get(key).filter(|(at, _)| at.elapsed() < CAPS_TTL).map(|(_, caps)| caps.clone())
    }

    fn remember_caps(&self, key: &str, caps: Caps) {
        let mut map = lock(&self.caps);
        prune(&mut map, |(at, _)| at.elapsed() >= CAPS_TTL);
        map.insert(key.to_string(), (Instant::now(), caps));
    }

    /// The failure that paused the indexer and the time left, when it is paused.
    fn paused(&self, key: &str) -> Option<(Failure, Duration)> {
        let paused = lock(&self.paused);
        let (until, failure) = paused.get(key)?;
        let left = until.checked_duration_since(Instant::now())?;
        Some((failure.clone(), left))
    }

    fn pause(&self, key: &str, error: &QueryError) {
        let pause = match error {
            QueryError::Throttled { retry_after, .. } => {
                retry_after.unwrap_or(DEFAULT_RETRY_AFTER).min(MAX_RETRY_AFTER)
            }
            _ => self.failure_pause,
        };
        let mut map = lock(&self.paused);
        prune(&mut map, |(until, _)| *until <= Instant::now());
        map.insert(key.to_string(), (Instant::now() + pause, Failure::from(error)));
    }
}

/// Everything one indexer search needs.
pub struct Searcher<'a> {
    pub upstream: &'a Upstream,
    pub downloads: &'a Downloads,
    /// `host:port` of the operator indexer being searched: its own `.torrent` links (Jackett's
    /// `/dl/` proxy on localhost) are trusted. `None` for a user's indexer.
    pub trusted_origin: Option<(String, u16)>,
    pub titles: &'a Titles,
    pub memory: &'a Memory,
    /// The titles the request's metadata gave (a Kitsu id's), used instead of a lookup.
    pub hint: Option<&'a MediaMeta>,
}

impl Searcher<'_> {
    /// Searches `indexer` for `media`. `operation` is the metrics label.
    pub async fn search(
        &self,
        indexer: &Indexer,
        endpoint: &Url,
        media: &MediaQuery,
        operation: &'static str,
    ) -> Result<Answer, Failure> {
        let key = indexer.memory_key();
        if let Some((failure, left)) = self.memory.paused(&key) {
            tracing::debug!(indexer = %indexer.name, left_s = left.as_secs(), "torznab indexer paused after a failure; not asked");
            return Err(failure.map(|reason| format!("{reason} (not asked again for {} s)", left.as_secs().max(1))));
        }
        let (items, text_title) = match self.find(indexer, endpoint, media, operation, &key).await {
            Ok(found) => found,
            Err(Found::Query(error)) => {
                self.memory.pause(&key, &error);
                return Err(Failure::from(&error));
            }
            Err(Found::NoTitle(reason)) => return Err(Failure::NoTitle(reason)),
        };
        let returned = items.len();
        let mut items = self.recover_hashes(items, indexer.api_key.as_ref()).await;
        let unusable = items.iter().filter(|i| i.hash.is_none()).count();
        items.retain(|i| i.hash.is_some());
        if let Some(title) = &text_title {
            let before = items.len();
            items.retain(|item| self.matches(&item.title, media, title));
            tracing::debug!(indexer = %indexer.name, kept = items.len(), dropped = before - items.len(), "text search results matched to the title");
        }
        Ok(Answer { items, returned, unusable })
    }

    /// [`Searcher::find_by_id_or_title`], and for anime the releases numbered from the show's
    /// start (`- 08`, batches), found by title: alone for a Kitsu id without an IMDb mapping,
    /// next to the others for an episode whose absolute number is known.
    async fn find(
        &self,
        indexer: &Indexer,
        endpoint: &Url,
        media: &MediaQuery,
        operation: &'static str,
        key: &str,
    ) -> Result<(Vec<FeedItem>, Option<Arc<Title>>), Found> {
        if media.imdb().is_none() {
            let title = self.title(indexer, media).await?;
            let items = self.feed(indexer, endpoint, media, &anime_search(media, &title), operation).await?;
            return Ok((items, Some(title)));
        }
        let (mut items, text_title) = self.find_by_id_or_title(indexer, endpoint, media, operation, key).await?;
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
            tracing::warn!(indexer = %indexer.name, %reason, "torznab indexer searches by title only and the title is unknown; skipped");
            Found::NoTitle(format!("it searches by title only, and {reason}"))
        })
    }

    /// [`matches_title`] against the title or any alias the metadata gave.
    fn matches(&self, release_name: &str, media: &MediaQuery, title: &Title) -> bool {
        matches_title(release_name, media, title)
            || self.hint.is_some_and(|hint| {
                hint.titles().iter().any(|alias| {
                    matches_title(release_name, media, &Title { name: alias.to_string(), year: title.year })
                })
            })
    }

    /// The reply's items, and the title when they come from a text search (so they need
    /// matching).
    async fn find_by_id_or_title(
        &self,
        indexer: &Indexer,
        endpoint: &Url,
        media: &MediaQuery,
        operation: &'static str,
        key: &str,
    ) -> Result<(Vec<FeedItem>, Option<Arc<Title>>), Found> {
        let mut caps = self.memory.caps(key);
        let takes_id = |caps: &Caps| match media.kind {
            MediaKind::Movie => caps.movie.supports("imdbid"),
            MediaKind::Series => caps.tv.supports("imdbid"),
        };
        let form = match indexer.imdbid {
            ImdbidForm::Auto if lock(&self.memory.digits).contains_key(key) => ImdbidForm::Digits,
            form => form,
        };
        if form != ImdbidForm::Off && caps.as_ref().is_none_or(takes_id) {
            let search = Search::Id { imdbid: form.apply(&media.imdb_id) };
            let refused = match self.feed(indexer, endpoint, media, &search, operation).await {
                Ok(items) if !items.is_empty() || caps.is_some() => return Ok((items, None)),
                // Empty, caps unknown: Prowlarr and Jackett's `all` skip `q`-only trackers silently.
                Ok(_) => false,
                Err(QueryError::Unsupported(_)) => true,
                Err(QueryError::BadParameter(_)) if form == ImdbidForm::Auto => {
                    let digits = Search::Id { imdbid: ImdbidForm::Digits.apply(&media.imdb_id) };
                    let items = self.feed(indexer, endpoint, media, &digits, operation).await?;
                    lock(&self.memory.digits).insert(key.to_string(), Instant::now());
                    return Ok((items, None));
                }
                Err(error) => return Err(error.into()),
            };
            // Read the caps (again, after a 203) and decide.
            match self.read_caps(indexer, endpoint, media).await {
                Ok(fresh) => {
                    self.memory.remember_caps(key, fresh.clone());
                    if takes_id(&fresh) && !refused {
                        return Ok((Vec::new(), None));
                    }
                    caps = Some(fresh);
                }
                Err(_) if !refused => return Ok((Vec::new(), None)),
                Err(_) => {}
            }
        }
        let title = self.title(indexer, media).await?;
        let search = text_search(caps.as_ref(), media, &title);
        let items = self.feed(indexer, endpoint, media, &search, operation).await?;
        Ok((items, Some(title)))
    }

    async fn feed(
        &self,
        indexer: &Indexer,
        endpoint: &Url,
        media: &MediaQuery,
        search: &Search,
        operation: &'static str,
    ) -> Result<Vec<FeedItem>, QueryError> {
        let url = client::search_url(endpoint, indexer.api_key.as_ref(), media, search);
        let mut request = self.upstream.request_url(Method::GET, operation, url);
        if let Some(key) = &indexer.api_key {
            request = request.secret(key);
        }
        if let Some(tracker) = &indexer.health {
            request = request.report_to(tracker);
        }
        let timeout = self.upstream.timeout();
        self.upstream.call(request, |reply| client::read_feed(reply, timeout)).await
    }

    async fn read_caps(&self, indexer: &Indexer, endpoint: &Url, media: &MediaQuery) -> Result<Caps, QueryError> {
        let url = client::search_url(endpoint, indexer.api_key.as_ref(), media, &Search::Caps);
        let mut request = self.upstream.request_url(Method::GET, "caps", url);
        if let Some(key) = &indexer.api_key {
            request = request.secret(key);
        }
        if let Some(tracker) = &indexer.health {
            request = request.report_to(tracker);
        }
        let timeout = self.upstream.timeout();
        self.upstream.call(request, |reply| client::read_caps(reply, timeout)).await
    }

    /// Fills in the hash of items that only offer a `.torrent` link, a few links at a time.
    async fn recover_hashes(&self, items: Vec<FeedItem>, key: Option<&Secret>) -> Vec<FeedItem> {
        futures::stream::iter(items)
            .map(|mut item| async move {
                if item.hash.is_none() {
                    if let Some(link) = item.torrent_link.clone() {
                        item.hash = self.torrent_hash(&link, key).await;
                    }
                }
                item
            })
            .buffered(TORRENTS_IN_FLIGHT_PER_SEARCH)
            .collect()
            .await
    }

    /// The info hash behind a `.torrent` link, from the cache or read once for all searches.
    async fn torrent_hash(&self, link: &str, key: Option<&Secret>) -> Option<InfoHash> {
        let cache_key = chillproxy_core::secret::fingerprint(link.as_bytes());
        let (downloads, link_owned, key_owned) = (self.downloads.clone(), link.to_string(), key.cloned());
        let origin = self.trusted_origin.clone();
        let result = self
            .memory
            .torrents
            .get_or_load(cache_key, None, move || async move {
                let fetched = fetch_torrent(&downloads, origin.as_ref(), &link_owned, key_owned.as_ref()).await;
                fetched.map(|hash| (hash, None)).map_err(SourceFailure::new)
            })
            .await;
        match result {
            Ok(hash) => Some(hash),
            Err(failure) => {
                tracing::debug!(reason = %failure.message, "a .torrent link gave no info hash; the item is skipped");
                None
            }
        }
    }
}

/// Why [`Searcher::find`] found nothing.
enum Found {
    Query(QueryError),
    NoTitle(String),
}

impl From<QueryError> for Found {
    fn from(error: QueryError) -> Self {
        Found::Query(error)
    }
}

/// The clients that read `.torrent` links: `trusted` for links back to the operator indexer
/// that listed them, `policed` (under `policy`) for every other link and redirect hop.
#[derive(Clone)]
pub struct Downloads {
    pub trusted: Upstream,
    pub policed: Upstream,
    pub policy: OutboundPolicy,
}

/// `host:port` of a URL (the scheme's port when none is given), host lowercased.
pub fn origin(url: &Url) -> Option<(String, u16)> {
    Some((url.host_str()?.to_ascii_lowercase(), url.port_or_known_default()?))
}

/// Reads a `.torrent` link: follows at most [`MAX_TORRENT_REDIRECTS`] redirects, each hop checked
/// by the outbound URL policy; a redirect to a `magnet:` URI gives its hash; otherwise the file
/// (capped by the download client's body limit) gives the SHA-1 of its `info` dictionary.
pub async fn fetch_torrent(
    downloads: &Downloads,
    trusted_origin: Option<&(String, u16)>,
    link: &str,
    key: Option<&Secret>,
) -> Result<InfoHash, String> {
    let mut url = Url::parse(link.trim()).map_err(|_| "the .torrent link is not a URL".to_string())?;
    for _ in 0..=MAX_TORRENT_REDIRECTS {
        let trusted = trusted_origin.is_some_and(|o| origin(&url).as_ref() == Some(o));
        let client = if trusted {
            &downloads.trusted
        } else {
            downloads.policy.check_url(&url).map_err(|refused| refused.reason)?;
            &downloads.policed
        };
        let mut request = client.request_url(Method::GET, "torrent", url.clone());
        if let Some(key) = key {
            request = request.secret(key);
        }
        let timeout = client.timeout();
        let reply = client
            .call(request, |reply| match reply {
                Err(UpstreamError::BodyTooLarge { limit, .. }) => Err(QueryError::Failed(format!(
                    "the .torrent file is larger than {}",
                    chillproxy_core::upstream::size_text(limit)
                ))),
                Err(error) => Err(describe(error, timeout)),
                Ok(reply) => Ok(reply),
            })
            .await
            .map_err(|e| e.to_string())?;
        if reply.status.is_redirection() {
            let location = reply.location.ok_or("the .torrent link redirected nowhere")?;
            if location.trim_start().get(..7).is_some_and(|s| s.eq_ignore_ascii_case("magnet:")) {
                return hash_from_magnet(location.trim()).ok_or_else(|| "the magnet has no info hash".to_string());
            }
            url = url.join(location.trim()).map_err(|_| "the .torrent link redirected to a bad URL".to_string())?;
            continue;
        }
        if !reply.status.is_success() {
            return Err(format!("the .torrent link answered HTTP {}", reply.status));
        }
        return parse_torrent(&reply.body).map(|torrent| torrent.hash);
    }
    Err(format!("the .torrent link redirected more than {MAX_TORRENT_REDIRECTS} times"))
}

/// The text search for `media` under `caps` (`None`: unknown, take plain `search`):
/// `q=<title> <year>` for a movie; for an episode `q=<title>` with `season`/`ep` when tv-search
/// takes them, else `q=<title> S01E03`.
fn text_search(caps: Option<&Caps>, media: &MediaQuery, title: &Title) -> Search {
    let name: String = title
        .name
        .split(|c: char| !c.is_alphanumeric() && c != '&' && c != '\'')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
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
/// an episode its season, and its episode or no episode (a season pack).
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
        MediaQuery {
            kind: MediaKind::Movie,
            imdb_id: "tt0111161".into(),
            season: None,
            episode: None,
            kitsu_id: None,
            absolute_episode: None,
        }
    }

    fn episode(s: u32, e: u32) -> MediaQuery {
        MediaQuery {
            kind: MediaKind::Series,
            imdb_id: "tt0903747".into(),
            season: Some(s),
            episode: Some(e),
            kitsu_id: None,
            absolute_episode: None,
        }
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
    fn a_pause_remembers_a_refusal_as_one() {
        let memory = Memory::new(Duration::from_secs(60));
        memory.pause("refused", &QueryError::Refused("could not connect: a loopback address".into()));
        memory.pause("failed", &QueryError::Failed("HTTP 500".into()));
        let (failure, left) = memory.paused("refused").unwrap();
        assert_eq!(failure, Failure::Refused("could not connect: a loopback address".into()));
        assert!(left <= Duration::from_secs(60));
        assert_eq!(memory.paused("failed").unwrap().0, Failure::Failed("HTTP 500".into()));
        assert!(memory.paused("never").is_none());
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
}
