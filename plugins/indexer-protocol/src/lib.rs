//! The indexer API Torznab and Newznab share, used by `source-torznab` and `source-newznab`:
//! caps (`caps`), search URLs and the outbound call's error handling (`client`), the error codes
//! (`errors`), RSS items (`rss`, `date`), what is remembered about each indexer and the manners
//! that follow (`manners`), the search itself, caps first (`search`), titles for text searches
//! (`meta`), info hashes from magnets (`magnet`) and the identity of an NZB link (`nzb`).
//! Depends on chillproxy-core and chillproxy-stremio only.

mod caps;
mod client;
pub mod config;
mod date;
mod errors;
mod magnet;
mod manners;
pub mod meta;
pub mod nzb;
mod rss;
pub mod search;

pub use caps::{parse_caps, Caps, SearchFunction};
pub use client::{
    describe, endpoint, host_of, read_caps, read_feed, search_url, Dialect, ImdbidForm, Indexer, QueryError, Search,
    MAX_BODY_BYTES,
};
pub use date::parse_date;
pub use errors::ApiError;
pub use magnet::{base32_to_hex, hash_from_magnet, parse_hash};
pub use manners::{Failure, Memory};
pub use rss::{parse_feed, Enclosure, FeedError, FeedItem, NZB_TYPE, TORRENT_TYPE};
