//! One indexer's search: the shared indexer protocol's search (caps first, by IMDb id where the
//! caps allow, else by title; back-off after a failure or a 429), then the torrent-only step:
//! `.torrent` links read for items that name no hash.

use std::time::Duration;

use chillproxy_core::source_cache::{Lifetimes, SourceCache, SourceFailure};
use chillproxy_core::upstream::{Method, OutboundPolicy, Upstream, UpstreamError, Url};
use chillproxy_core::{InfoHash, MediaQuery, Secret};
use chillproxy_indexer_protocol::meta::Titles;
use chillproxy_indexer_protocol::search::{matches_title, Found};
use chillproxy_indexer_protocol::{describe, hash_from_magnet, Dialect, Failure, FeedItem, Indexer, QueryError};
use futures::StreamExt;

use crate::torrent::parse_torrent;

/// Redirects followed for one `.torrent` link.
pub const MAX_TORRENT_REDIRECTS: usize = 3;
/// `.torrent` links read at once for one indexer's reply.
pub const TORRENTS_IN_FLIGHT_PER_SEARCH: usize = 4;
/// How long a link's info hash is kept, and how long a link that gave none is not read again.
const TORRENT_TTL: Duration = Duration::from_secs(6 * 3600);
const TORRENT_FAILURE_TTL: Duration = Duration::from_secs(120);

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

/// What the plugin remembers across searches: the indexers (caps, pauses, id forms) and the
/// `.torrent` links read.
pub struct Memory {
    pub indexers: chillproxy_indexer_protocol::Memory,
    /// `.torrent` link (a fingerprint) → its info hash, or why it gave none.
    torrents: SourceCache<String, InfoHash>,
}

impl Memory {
    pub fn new(failure_pause: Duration) -> Self {
        Self {
            indexers: chillproxy_indexer_protocol::Memory::new(failure_pause),
            torrents: SourceCache::new(50_000, Lifetimes::fixed(TORRENT_TTL, TORRENT_FAILURE_TTL)),
        }
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
        let manners = &self.memory.indexers;
        if let Some((failure, left)) = manners.paused(&key) {
            tracing::debug!(indexer = %indexer.name, left_s = left.as_secs(), "torznab indexer paused after a failure; not asked");
            return Err(failure.map(|reason| format!("{reason} (not asked again for {} s)", left.as_secs().max(1))));
        }
        let searcher = chillproxy_indexer_protocol::search::Searcher {
            upstream: self.upstream,
            titles: self.titles,
            memory: manners,
        };
        let (items, text_title) = match searcher.find(indexer, endpoint, media, operation).await {
            Ok(found) => found,
            Err(Found::Query(error)) => {
                manners.pause(&key, &error);
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
            items.retain(|item| matches_title(&item.title, media, title));
            tracing::debug!(indexer = %indexer.name, kept = items.len(), dropped = before - items.len(), "text search results matched to the title");
        }
        Ok(Answer { items, returned, unusable })
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
                Err(error) => Err(describe(error, timeout, Dialect::Torznab)),
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
