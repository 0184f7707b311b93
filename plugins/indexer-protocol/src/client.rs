//! One indexer query (Torznab or Newznab): the request URL, the feed read from the reply, and
//! reasons that never carry the URL (which holds the API key) or the key itself.

use std::fmt;
use std::time::Duration;

use chillproxy_core::health::{ErrorKind, Tracker, Verdict, Wire};
use chillproxy_core::upstream::{
    scrub, size_text, RefusalKind, Reply, Stage, StatusCode, UpstreamError, UpstreamFailure, Url,
};
use chillproxy_core::{MediaKind, MediaQuery, Secret};
use serde::{Deserialize, Serialize};

use crate::caps::{parse_caps, Caps};
use crate::errors::ApiError;
use crate::rss::{parse_feed, FeedError, FeedItem};

/// Bodies larger than this are refused unless `[source.<name>] max_body_bytes` says otherwise:
/// a search answer is a few hundred KiB at most.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// Query parameters the plugin sets itself; copies in the configured URL are dropped.
const OWN_PARAMS: [&str; 7] = ["t", "imdbid", "season", "ep", "q", "limit", "offset"];

/// Which of the two sibling APIs an indexer speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// Torznab (Jackett, Prowlarr): torrents.
    #[default]
    Torznab,
    /// Newznab (NZBHydra2, Prowlarr, usenet indexers): NZBs. Searches ask for `extended=1`
    /// (grabs and dates come only with it) and IMDb ids go as digits.
    Newznab,
}

impl Dialect {
    /// `Torznab` or `Newznab`, as reasons name it.
    pub fn label(self) -> &'static str {
        match self {
            Dialect::Torznab => "Torznab",
            Dialect::Newznab => "Newznab",
        }
    }

    /// The config section: `source.torznab`, `source.newznab`.
    pub fn section(self) -> &'static str {
        match self {
            Dialect::Torznab => "source.torznab",
            Dialect::Newznab => "source.newznab",
        }
    }
}

/// How an indexer takes IMDb ids: `auto` (`tt0111161`, which Jackett and Prowlarr take, and
/// digits only once the indexer refused that with error 201), `tt`, `digits` (the Newznab
/// convention Radarr follows) or `off` (never search by id: text only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImdbidForm {
    #[default]
    Auto,
    Tt,
    Digits,
    Off,
}

impl ImdbidForm {
    /// `tt0111161` in this form.
    pub fn apply(self, imdb_id: &str) -> String {
        match self {
            ImdbidForm::Digits => imdb_id.trim_start_matches("tt").to_string(),
            _ => imdb_id.to_string(),
        }
    }
}

/// An indexer ready to query.
#[derive(Debug, Clone)]
pub struct Indexer {
    /// Display name: the operator's `name`, the user's `n`, or the URL's host.
    pub name: String,
    /// The `…/api` endpoint, or why the configured URL cannot be used.
    pub endpoint: Result<Url, String>,
    pub api_key: Option<Secret>,
    pub imdbid: ImdbidForm,
    pub dialect: Dialect,
    /// Its entry in the server's health registry: the operator's indexers only (a user's
    /// indexer is user data, and reports nowhere).
    pub health: Option<Tracker>,
}

impl Indexer {
    pub fn new(name: String, url: &str, api_key: Option<Secret>) -> Self {
        Self {
            name,
            endpoint: endpoint(url),
            api_key: api_key.filter(|k| !k.is_empty()),
            imdbid: ImdbidForm::Auto,
            dialect: Dialect::Torznab,
            health: None,
        }
    }

    /// The same indexer, speaking `dialect` (Newznab takes IMDb ids as digits).
    pub fn speaking(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
        if dialect == Dialect::Newznab {
            self.imdbid = ImdbidForm::Digits;
        }
        self
    }

    /// What the plugin remembers this indexer by (caps, back-off): a fingerprint of its
    /// endpoint and key, so no key sits in a map in the clear.
    pub fn memory_key(&self) -> String {
        let endpoint = self.endpoint.as_ref().map(Url::as_str).unwrap_or_default();
        let key = self.api_key.as_ref().map(Secret::expose).unwrap_or_default();
        chillproxy_core::secret::fingerprint(format!("{endpoint}\u{1f}{key}").as_bytes())
    }

    /// Replaces the API key wherever it shows up in `message`, as a last line of defence.
    pub fn scrub(&self, message: String) -> String {
        match &self.api_key {
            Some(key) => scrub(&message, key.expose()),
            None => message,
        }
    }
}

/// The API endpoint for a configured URL: `{url}/api`, unless the path already ends in
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

/// One request to an indexer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// `t=caps`.
    Caps,
    /// `t=movie` or `t=tvsearch` by IMDb id, in the form the indexer takes (`tt0111161` or
    /// `0111161`), with `season` and `ep` for an episode when the caps announce them.
    Id { imdbid: String, season: Option<u32>, ep: Option<u32> },
    /// A text search: `t` (`movie`, `tvsearch` or `search`), `q`, and `season`/`ep` when the
    /// function takes them.
    Text { t: &'static str, q: String, season: Option<u32>, ep: Option<u32> },
}

/// `{endpoint}?apikey=…&t=movie&imdbid=tt…` or `…&t=tvsearch&imdbid=tt…&season=S&ep=E`.
#[cfg(test)]
pub fn request_url(endpoint: &Url, api_key: Option<&Secret>, media: &MediaQuery) -> Url {
    let search = Search::Id { imdbid: media.imdb_id.clone(), season: media.season, ep: media.episode };
    search_url(endpoint, api_key, Dialect::Torznab, media, &search)
}

/// The URL of `search` on `endpoint`: the configured query parameters that are not ours, the
/// key, then the search's own (and `extended=1` for a Newznab search).
pub fn search_url(
    endpoint: &Url,
    api_key: Option<&Secret>,
    dialect: Dialect,
    media: &MediaQuery,
    search: &Search,
) -> Url {
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
    let has_extended = kept.iter().any(|(k, _)| k.eq_ignore_ascii_case("extended"));
    url.set_query(None);
    {
        let mut query = url.query_pairs_mut();
        query.extend_pairs(kept);
        if let Some(key) = api_key {
            query.append_pair("apikey", key.expose());
        }
        match (search, media.kind) {
            (Search::Caps, _) => {
                query.append_pair("t", "caps");
            }
            (Search::Id { imdbid, .. }, MediaKind::Movie) => {
                query.append_pair("t", "movie");
                query.append_pair("imdbid", imdbid);
            }
            (Search::Id { imdbid, season, ep }, MediaKind::Series) => {
                query.append_pair("t", "tvsearch");
                query.append_pair("imdbid", imdbid);
                if let Some(season) = season {
                    query.append_pair("season", &season_value(dialect, *season));
                    if let Some(episode) = ep {
                        query.append_pair("ep", &episode.to_string());
                    }
                }
            }
            (Search::Text { t, q, season, ep }, _) => {
                query.append_pair("t", t);
                query.append_pair("q", q);
                if let Some(season) = season {
                    query.append_pair("season", &season_value(dialect, *season));
                }
                if let Some(ep) = ep {
                    query.append_pair("ep", &ep.to_string());
                }
            }
        }
        if dialect == Dialect::Newznab && *search != Search::Caps && !has_extended {
            query.append_pair("extended", "1");
        }
    }
    url
}

/// `season` as sent: Newznab's season 0 (specials) is `00`, since NNTmux reads `0` as empty
/// (Sonarr does the same).
fn season_value(dialect: Dialect, season: u32) -> String {
    match (dialect, season) {
        (Dialect::Newznab, 0) => "00".to_string(),
        _ => season.to_string(),
    }
}

/// Why an indexer gave no results; `Display` is the reason shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// No complete answer within `timeout_ms`.
    TimedOut(Duration),
    Failed(String),
    /// The outbound URL policy refused the indexer's address (or a redirect's): a user's indexer
    /// aimed at the server's own network. No connection was made.
    Refused(String),
    /// Torznab error 203: the indexer does not offer this function or parameter (Jackett answers
    /// an `imdbid` search of a `q`-only tracker so, with HTTP 400).
    Unsupported(String),
    /// Torznab error 201: a parameter's value is wrong (an indexer that wants digits-only ids).
    BadParameter(String),
    /// HTTP 429 (or any error code with it), or error 429/500/501/910 (a request or download
    /// limit, the API switched off): the indexer asks us to wait, `Retry-After` long.
    Throttled {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Error 100–102 (or HTTP 401/403): the key is wrong, suspended or not allowed.
    Unauthorized(String),
    /// The reply is not the document asked for (not XML, an HTML page, a feed where caps were
    /// asked): the reason.
    Unreadable(String),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TimedOut(budget) => write!(f, "timed out after {} ms", budget.as_millis()),
            Self::Failed(reason)
            | Self::Refused(reason)
            | Self::Unsupported(reason)
            | Self::BadParameter(reason)
            | Self::Unauthorized(reason)
            | Self::Unreadable(reason) => f.write_str(reason),
            Self::Throttled { reason, .. } => f.write_str(reason),
        }
    }
}

impl UpstreamFailure for QueryError {
    fn is_timeout(&self) -> bool {
        matches!(self, Self::TimedOut(_))
    }

    /// An indexer that answers "not this function" or "not this parameter" works (the search
    /// asks again another way); one that asks us to wait is throttling.
    fn verdict(&self, wire: Wire) -> Verdict {
        match self {
            Self::Unsupported(_) | Self::BadParameter(_) => Verdict::Answered,
            Self::Throttled { .. } => Verdict::Failed(ErrorKind::RateLimited),
            Self::TimedOut(_) => Verdict::Failed(ErrorKind::Timeout),
            Self::Refused(_) => Verdict::Silent,
            Self::Unauthorized(_) => Verdict::Failed(ErrorKind::Auth),
            Self::Failed(_) | Self::Unreadable(_) => wire.failure(),
        }
    }
}

/// Parses the feed of one indexer's reply. An error element wins over the status; the reasons
/// are short and carry no URL. `timeout` is the budget the call had.
pub fn read_feed(
    reply: Result<Reply, UpstreamError>,
    timeout: Duration,
    dialect: Dialect,
) -> Result<Vec<FeedItem>, QueryError> {
    read_reply(reply, timeout, dialect, parse_feed)
}

/// Parses the caps of one indexer's reply, with the same error handling as [`read_feed`].
pub fn read_caps(reply: Result<Reply, UpstreamError>, timeout: Duration, dialect: Dialect) -> Result<Caps, QueryError> {
    read_reply(reply, timeout, dialect, parse_caps)
}

fn read_reply<T>(
    reply: Result<Reply, UpstreamError>,
    timeout: Duration,
    dialect: Dialect,
    parse: impl FnOnce(&str) -> Result<T, FeedError>,
) -> Result<T, QueryError> {
    let reply = reply.map_err(|e| describe(e, timeout, dialect))?;
    let text = String::from_utf8_lossy(&reply.body);
    let throttled = reply.status == StatusCode::TOO_MANY_REQUESTS;
    let retry_after = reply.retry_after;
    match parse(&text) {
        Err(FeedError::Api { code, description }) => {
            let label = dialect.label();
            let code = code.trim().to_string();
            let reason = if description.is_empty() {
                format!("{label} error {code}")
            } else {
                format!("{label} error {code}: {description}")
            };
            Err(match ApiError::from_code(&code, &description) {
                _ if throttled => QueryError::Throttled { reason, retry_after },
                ApiError::FunctionUnavailable => QueryError::Unsupported(reason),
                ApiError::BadParameter => QueryError::BadParameter(reason),
                ApiError::Credentials => QueryError::Unauthorized(reason),
                kind if kind.is_limit() => QueryError::Throttled { reason, retry_after },
                _ => QueryError::Failed(reason),
            })
        }
        _ if throttled => Err(QueryError::Throttled { reason: "HTTP 429 Too Many Requests".to_string(), retry_after }),
        _ if matches!(reply.status.as_u16(), 401 | 403) => {
            Err(QueryError::Unauthorized(format!("HTTP {}", reply.status)))
        }
        _ if !reply.status.is_success() => Err(QueryError::Failed(format!("HTTP {}", reply.status))),
        Ok(parsed) => Ok(parsed),
        Err(error) => Err(QueryError::Unreadable(error.to_string())),
    }
}

/// The message names the limit: `the response is larger than 5 MiB ([source.torznab]
/// max_body_bytes = 5242880)`.
fn too_large(limit: usize, dialect: Dialect) -> String {
    format!("the response is larger than {} ([{}] max_body_bytes = {limit})", size_text(limit), dialect.section())
}

/// A transport failure as a short reason: what failed plus the innermost cause (an I/O error,
/// never a URL).
pub fn describe(error: UpstreamError, timeout: Duration, dialect: Dialect) -> QueryError {
    let refused = error.refusal() == Some(RefusalKind::NonPublic);
    let (what, failure) = match error {
        UpstreamError::Timeout => return QueryError::TimedOut(timeout),
        UpstreamError::BodyTooLarge { limit, .. } => return QueryError::Failed(too_large(limit, dialect)),
        UpstreamError::Connect(failure) => ("could not connect", failure),
        UpstreamError::Other { stage: Stage::Redirect, failure } => ("too many redirects", failure),
        UpstreamError::Other { stage: Stage::Body, failure } => ("reading the response failed", failure),
        UpstreamError::Other { stage: Stage::Request, failure } => ("request failed", failure),
    };
    let reason = match failure.cause {
        Some(cause) => format!("{what}: {cause}"),
        None => what.to_string(),
    };
    if refused {
        QueryError::Refused(reason)
    } else {
        QueryError::Failed(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn movie() -> MediaQuery {
        MediaQuery::movie("tt0111161")
    }

    fn episode() -> MediaQuery {
        MediaQuery::episode("tt0903747", 1, 2)
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
    fn newznab_searches_ask_for_extended_attributes_and_send_season_zero_as_00() {
        let ep = endpoint("https://api.nzbgeek.info").unwrap();
        let specials = MediaQuery { season: Some(0), episode: Some(3), ..episode() };
        let search = Search::Id { imdbid: "0903747".into(), season: Some(0), ep: Some(3) };
        let key = Secret::new("k");
        assert_eq!(
            search_url(&ep, Some(&key), Dialect::Newznab, &specials, &search).as_str(),
            "https://api.nzbgeek.info/api?apikey=k&t=tvsearch&imdbid=0903747&season=00&ep=3&extended=1"
        );
        assert_eq!(
            search_url(&ep, Some(&key), Dialect::Newznab, &specials, &Search::Caps).as_str(),
            "https://api.nzbgeek.info/api?apikey=k&t=caps"
        );
        let torznab = search_url(&ep, None, Dialect::Torznab, &specials, &search);
        assert!(torznab.as_str().ends_with("season=0&ep=3"), "{torznab}");
    }

    #[test]
    fn the_body_limit_is_named() {
        assert_eq!(
            too_large(MAX_BODY_BYTES, Dialect::Torznab),
            "the response is larger than 5 MiB ([source.torznab] max_body_bytes = 5242880)"
        );
        assert!(too_large(64 * 1024, Dialect::Torznab).contains("larger than 64 KiB"));
        assert!(too_large(1500, Dialect::Newznab).contains("larger than 1500 bytes"));
    }

    #[test]
    fn a_policy_refusal_of_an_address_is_typed() {
        let refusal = |kind| {
            let reason = "this URL points at a loopback address, which this server does not call for users";
            UpstreamError::refused(chillproxy_core::upstream::OutboundRefused { kind, reason: reason.to_string() })
        };
        let refused = describe(refusal(RefusalKind::NonPublic), Duration::from_secs(1), Dialect::Torznab);
        assert!(matches!(&refused, QueryError::Refused(reason) if reason.starts_with("could not connect: this URL")));
        // Other rules of the policy (a redirect to ftp://) fail the indexer as before.
        let scheme = describe(refusal(RefusalKind::Scheme), Duration::from_secs(1), Dialect::Torznab);
        assert!(matches!(scheme, QueryError::Failed(_)), "{scheme:?}");
        // A text that reads like a refusal is not one.
        let lookalike = UpstreamError::Connect(chillproxy_core::upstream::Failure {
            text: "address, which this server does not call for users".into(),
            cause: None,
            refused: None,
        });
        assert!(matches!(describe(lookalike, Duration::from_secs(1), Dialect::Torznab), QueryError::Failed(_)));
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
