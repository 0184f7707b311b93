//! One Torznab query: the request URL, the feed read from the reply, and reasons that never
//! carry the URL (which holds the API key) or the key itself.

use std::fmt;
use std::time::Duration;

use chillproxy_core::upstream::{scrub, size_text, Reply, Stage, UpstreamError, UpstreamFailure, Url};
use chillproxy_core::{MediaKind, MediaQuery, Secret};

use crate::rss::{parse_feed, FeedError, FeedItem};

/// Bodies larger than this are refused unless `[source.torznab] max_body_bytes` says otherwise:
/// a search answer is a few hundred KiB at most.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// Query parameters the plugin sets itself; copies in the configured URL are dropped.
const OWN_PARAMS: [&str; 7] = ["t", "imdbid", "season", "ep", "q", "limit", "offset"];

/// An indexer ready to query.
#[derive(Debug, Clone)]
pub struct Indexer {
    /// Display name: the operator's `name`, the user's `n`, or the URL's host.
    pub name: String,
    /// The `…/api` endpoint, or why the configured URL cannot be used.
    pub endpoint: Result<Url, String>,
    pub api_key: Option<Secret>,
}

impl Indexer {
    pub fn new(name: String, url: &str, api_key: Option<Secret>) -> Self {
        Self { name, endpoint: endpoint(url), api_key: api_key.filter(|k| !k.is_empty()) }
    }

    /// Replaces the API key wherever it shows up in `message`, as a last line of defence.
    pub fn scrub(&self, message: String) -> String {
        match &self.api_key {
            Some(key) => scrub(&message, key.expose()),
            None => message,
        }
    }
}

/// The Torznab endpoint for a configured URL: `{url}/api`, unless the path already ends in
/// `/api`. The error message never repeats the URL.
pub fn endpoint(url: &str) -> Result<Url, String> {
    let mut url = Url::parse(url.trim()).map_err(|e| format!("the indexer URL is not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() || url.host().is_none() {
        return Err("the indexer URL must be an http:// or https:// URL".to_string());
    }
    let path = url.path().trim_end_matches('/').to_string();
    if path.ends_with("/api") {
        url.set_path(&path);
    } else {
        url.set_path(&format!("{path}/api"));
    }
    url.set_fragment(None);
    Ok(url)
}

/// The host of a URL, for an indexer that has no name.
pub fn host_of(url: &str) -> Option<String> {
    Url::parse(url.trim()).ok().and_then(|u| u.host_str().map(str::to_string)).filter(|h| !h.is_empty())
}

/// `{endpoint}?apikey=…&t=movie&imdbid=tt…` or `…&t=tvsearch&imdbid=tt…&season=S&ep=E`.
pub fn request_url(endpoint: &Url, api_key: Option<&Secret>, media: &MediaQuery) -> Url {
    let mut url = endpoint.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| {
            let key = key.to_ascii_lowercase();
            let ours = OWN_PARAMS.contains(&key.as_str()) || (key == "apikey" && api_key.is_some());
            !ours
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.set_query(None);
    {
        let mut query = url.query_pairs_mut();
        query.extend_pairs(kept);
        if let Some(key) = api_key {
            query.append_pair("apikey", key.expose());
        }
        match media.kind {
            MediaKind::Movie => {
                query.append_pair("t", "movie");
                query.append_pair("imdbid", &media.imdb_id);
            }
            MediaKind::Series => {
                query.append_pair("t", "tvsearch");
                query.append_pair("imdbid", &media.imdb_id);
                if let Some(season) = media.season {
                    query.append_pair("season", &season.to_string());
                    if let Some(episode) = media.episode {
                        query.append_pair("ep", &episode.to_string());
                    }
                }
            }
        }
    }
    url
}

/// Why an indexer gave no results; `Display` is the reason shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// No complete answer within `timeout_ms`.
    TimedOut(Duration),
    Failed(String),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TimedOut(budget) => write!(f, "timed out after {} ms", budget.as_millis()),
            Self::Failed(reason) => f.write_str(reason),
        }
    }
}

impl UpstreamFailure for QueryError {
    fn is_timeout(&self) -> bool {
        matches!(self, Self::TimedOut(_))
    }
}

/// Parses the feed of one indexer's reply. A Torznab error element wins over the status; the
/// reasons are short and carry no URL. `timeout` is the budget the call had.
pub fn read_feed(reply: Result<Reply, UpstreamError>, timeout: Duration) -> Result<Vec<FeedItem>, QueryError> {
    let reply = reply.map_err(|e| describe(e, timeout))?;
    let text = String::from_utf8_lossy(&reply.body);
    match parse_feed(&text) {
        Err(error @ FeedError::Torznab { .. }) => Err(QueryError::Failed(error.to_string())),
        _ if !reply.status.is_success() => Err(QueryError::Failed(format!("HTTP {}", reply.status))),
        Ok(items) => Ok(items),
        Err(error) => Err(QueryError::Failed(error.to_string())),
    }
}

/// The message names the limit: `the response is larger than 5 MiB ([source.torznab]
/// max_body_bytes = 5242880)`.
fn too_large(limit: usize) -> String {
    format!("the response is larger than {} ([source.torznab] max_body_bytes = {limit})", size_text(limit))
}

/// A transport failure as a short reason: what failed plus the innermost cause (an I/O error,
/// never a URL).
fn describe(error: UpstreamError, timeout: Duration) -> QueryError {
    let (what, failure) = match error {
        UpstreamError::Timeout => return QueryError::TimedOut(timeout),
        UpstreamError::BodyTooLarge { limit, .. } => return QueryError::Failed(too_large(limit)),
        UpstreamError::Connect(failure) => ("could not connect", failure),
        UpstreamError::Other { stage: Stage::Redirect, failure } => ("too many redirects", failure),
        UpstreamError::Other { stage: Stage::Body, failure } => ("reading the response failed", failure),
        UpstreamError::Other { stage: Stage::Request, failure } => ("request failed", failure),
    };
    QueryError::Failed(match failure.cause {
        Some(cause) => format!("{what}: {cause}"),
        None => what.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn movie() -> MediaQuery {
        MediaQuery { kind: MediaKind::Movie, imdb_id: "tt0111161".to_string(), season: None, episode: None }
    }

    fn episode() -> MediaQuery {
        MediaQuery { kind: MediaKind::Series, imdb_id: "tt0903747".to_string(), season: Some(1), episode: Some(2) }
    }

    #[test]
    fn endpoint_appends_api_once() {
        let cases = [
            (
                "http://h:9117/api/v2.0/indexers/all/results/torznab",
                "http://h:9117/api/v2.0/indexers/all/results/torznab/api",
            ),
            (
                "http://h:9117/api/v2.0/indexers/all/results/torznab/",
                "http://h:9117/api/v2.0/indexers/all/results/torznab/api",
            ),
            (
                "http://h:9117/api/v2.0/indexers/all/results/torznab/api",
                "http://h:9117/api/v2.0/indexers/all/results/torznab/api",
            ),
            ("http://h:9696/1/api/", "http://h:9696/1/api"),
            ("https://h", "https://h/api"),
            ("http://h/x#frag", "http://h/x/api"),
        ];
        for (input, want) in cases {
            assert_eq!(endpoint(input).unwrap().as_str(), want, "{input}");
        }
        assert!(endpoint("not a url").is_err());
        assert!(endpoint("ftp://h/x").is_err());
        assert!(endpoint("magnet:?xt=1").is_err());
        let err = endpoint("http://[::1/?apikey=SECRET").unwrap_err();
        assert!(!err.contains("SECRET"), "{err}");
    }

    #[test]
    fn movie_and_episode_queries() {
        let key = Secret::new("k&y=1");
        let ep = endpoint("http://h/api/v2.0/indexers/all/results/torznab").unwrap();
        assert_eq!(
            request_url(&ep, Some(&key), &movie()).as_str(),
            "http://h/api/v2.0/indexers/all/results/torznab/api?apikey=k%26y%3D1&t=movie&imdbid=tt0111161"
        );
        assert_eq!(
            request_url(&ep, None, &episode()).as_str(),
            "http://h/api/v2.0/indexers/all/results/torznab/api?t=tvsearch&imdbid=tt0903747&season=1&ep=2"
        );
        let season_only = MediaQuery { episode: None, ..episode() };
        assert!(request_url(&ep, None, &season_only).as_str().ends_with("t=tvsearch&imdbid=tt0903747&season=1"));
    }

    #[test]
    fn configured_query_parameters_are_kept_but_ours_win() {
        let ep = endpoint("http://h/1/api?apikey=old&t=search&extended=1").unwrap();
        let key = Secret::new("new");
        assert_eq!(
            request_url(&ep, Some(&key), &movie()).as_str(),
            "http://h/1/api?extended=1&apikey=new&t=movie&imdbid=tt0111161"
        );
        // Without a key of ours, a key written into the URL stays.
        assert_eq!(
            request_url(&ep, None, &movie()).as_str(),
            "http://h/1/api?apikey=old&extended=1&t=movie&imdbid=tt0111161"
        );
    }

    #[test]
    fn the_body_limit_is_named() {
        assert_eq!(
            too_large(MAX_BODY_BYTES),
            "the response is larger than 5 MiB ([source.torznab] max_body_bytes = 5242880)"
        );
        assert!(too_large(64 * 1024).contains("larger than 64 KiB"));
        assert!(too_large(1500).contains("larger than 1500 bytes"));
    }

    #[test]
    fn scrub_hides_the_key() {
        let indexer = Indexer::new("x".to_string(), "http://h", Some(Secret::new("abc123")));
        assert_eq!(indexer.scrub("bad abc123 here".to_string()), "bad [redacted] here");
        let no_key = Indexer::new("x".to_string(), "http://h", Some(Secret::new("  ")));
        assert!(no_key.api_key.is_none());
        assert_eq!(host_of("http://jackett.local:9117/x").as_deref(), Some("jackett.local"));
        assert_eq!(host_of("nope"), None);
    }
}
