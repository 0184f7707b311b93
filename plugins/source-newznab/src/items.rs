//! A Newznab item as this plugin keeps it: title, size, grabs, age, its NZB link and that link's
//! identity (the md5 TorBox's usenet cache is keyed by). Items become candidates here.

use chillproxy_core::{Candidate, Nzb, NzbIndexer, Secret, UsenetHash};
use chillproxy_indexer_protocol::{nzb, FeedItem};

/// One usable NZB release from one indexer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NzbItem {
    pub title: String,
    pub size: Option<u64>,
    pub grabs: Option<u32>,
    /// When it was posted (seconds since 1970), when the indexer said.
    pub published: Option<i64>,
    /// The NZB link as the indexer gave it: it carries the indexer's key. Never logged, never
    /// serialized: a candidate carries it without the key ([`Nzb::new`]).
    pub link: Secret,
    /// The md5 of the normalised link ([`nzb::identity`]).
    pub identity: UsenetHash,
}

/// The item, when it has an http(s) NZB link; `key` is the indexer's (for the identity, which
/// never hashes it).
pub fn nzb_item(item: FeedItem, key: Option<&Secret>) -> Option<NzbItem> {
    let link = item.nzb_link?;
    let identity = nzb::identity(&link, key.map(Secret::expose))?;
    let identity = UsenetHash::parse(&identity.hash)?;
    Some(NzbItem {
        title: item.title,
        size: item.size,
        grabs: item.grabs,
        published: item.published,
        link: Secret::new(link),
        identity,
    })
}

/// The candidate for `item` found by `indexer` (display name) whose key is `key`: the link with
/// the key cut out. `None` if the key still shows in any form (it would reach the shared tier).
pub fn to_candidate(item: &NzbItem, indexer: &str, key: Option<&Secret>, whose: NzbIndexer) -> Option<Candidate> {
    let nzb = Nzb::new(item.identity.clone(), item.link.expose(), key, whose).with_stats(item.grabs, item.published);
    if let Some(key) = key.map(Secret::expose).filter(|k| !k.is_empty()) {
        let encoded: String = chillproxy_core::upstream::Url::parse("http://x/")
            .ok()
            .map(|mut u| {
                u.query_pairs_mut().append_pair("k", key);
                u.query().unwrap_or_default().trim_start_matches("k=").to_string()
            })
            .unwrap_or_default();
        if nzb.link.contains(key) || (!encoded.is_empty() && nzb.link.contains(&encoded)) {
            return None;
        }
    }
    Some(Candidate::usenet(nzb, item.title.clone(), item.size, indexer.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_becomes_a_keyless_candidate() {
        let key = Secret::new("K3Y");
        let feed = FeedItem {
            title: "Movie 2020 1080p".into(),
            size: Some(5),
            grabs: Some(3),
            published: Some(1_470_142_206),
            nzb_link: Some("https://api.nzbgeek.info/api?t=get&id=abc&apikey=K3Y".into()),
            ..FeedItem::default()
        };
        let item = nzb_item(feed, Some(&key)).unwrap();
        assert_eq!(item.grabs, Some(3));
        let whose = NzbIndexer::Operator { source: "newznab".into(), name: "geek".into() };
        let candidate = to_candidate(&item, "geek", Some(&key), whose).unwrap();
        let nzb = candidate.nzb.as_ref().unwrap();
        assert!(!nzb.link.contains("K3Y") && nzb.needs_key());
        assert_eq!(nzb.hash, item.identity);
        assert_eq!((nzb.grabs, nzb.published), (Some(3), Some(1_470_142_206)), "grabs and age reach the candidate");
        assert_eq!(nzb.unlock(Some(&key)).expose(), item.link.expose());
        assert!(nzb_item(FeedItem { title: "no link".into(), ..FeedItem::default() }, None).is_none());
        // A key that only shows form-encoded cannot be cut out: the item is dropped.
        let odd = Secret::new("a b");
        let feed = FeedItem { nzb_link: Some("https://h/getnzb?id=1&r=a+b".into()), ..FeedItem::default() };
        let item = nzb_item(feed, Some(&odd)).unwrap();
        assert!(to_candidate(&item, "x", Some(&odd), NzbIndexer::None).is_none());
    }
}
