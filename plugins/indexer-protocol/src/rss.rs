//! The RSS feed Torznab and Newznab share: `<rss><channel><item>` with `<title>`, `<size>`,
//! `<link>`, `<guid>`, `<pubDate>`, `<enclosure url length type>` (one per download form:
//! AnimeTosho lists an `.nzb` and a `.torrent`) and `<torznab:attr>`/`<newznab:attr name value>`
//! elements, or an error document `<error code="100" description="Invalid API Key"/>`.

use std::fmt;

use chillproxy_core::InfoHash;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::magnet::{hash_from_magnet, parse_hash};

/// The MIME type of an NZB enclosure.
pub const NZB_TYPE: &str = "application/x-nzb";
/// The MIME type of a `.torrent` enclosure.
pub const TORRENT_TYPE: &str = "application/x-bittorrent";

/// One `<enclosure>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Enclosure {
    pub url: String,
    /// `length`, in bytes, when positive.
    pub length: Option<u64>,
    /// `type`, lowercased.
    pub mime: Option<String>,
}

impl Enclosure {
    fn is_nzb(&self) -> bool {
        self.mime.as_deref() == Some(NZB_TYPE) || link_path_ends_with(&self.url, ".nzb")
    }

    fn is_torrent(&self) -> bool {
        self.mime.as_deref() == Some(TORRENT_TYPE) || link_path_ends_with(&self.url, ".torrent")
    }
}

/// Whether the URL's path (before `?`, `&` or `#`) ends in `suffix`, any case.
fn link_path_ends_with(url: &str, suffix: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let path = path.split('&').next().unwrap_or_default();
    path.trim().to_ascii_lowercase().ends_with(suffix)
}

fn is_http(link: &str) -> bool {
    let link = link.trim().to_ascii_lowercase();
    link.starts_with("http://") || link.starts_with("https://")
}

/// One `<item>` of the feed, reduced to what a candidate needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedItem {
    pub title: String,
    /// From the `infohash` attribute, else the `btih` of a magnet link (`magneturl` attribute,
    /// `<link>`, the enclosure URL or `<guid>`). `None` for items that only offer a `.torrent`.
    pub hash: Option<InfoHash>,
    pub size: Option<u64>,
    pub seeders: Option<u32>,
    pub peers: Option<u32>,
    /// The `grabs` attribute (Newznab: with `extended=1`).
    pub grabs: Option<u32>,
    /// When it was posted, in seconds since 1970: the `usenetdate` attribute, else `<pubDate>`.
    pub published: Option<i64>,
    /// The `.torrent` download link, when it is an http(s) URL: the `application/x-bittorrent`
    /// enclosure, else the first enclosure that is not an NZB, else `<link>` unless it is an NZB.
    /// What is left when the item names no hash. It may carry the indexer's key.
    pub torrent_link: Option<String>,
    /// The NZB link, when it is an http(s) URL: the `application/x-nzb` enclosure (Sonarr and
    /// NZBHydra2 read it first), else the first enclosure that is not a `.torrent`, else
    /// `<link>`. It usually carries the indexer's key.
    pub nzb_link: Option<String>,
    /// Every enclosure, in order.
    pub enclosures: Vec<Enclosure>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedError {
    /// The indexer answered with an error document (`<error code description/>`, the same in
    /// Torznab and Newznab); [`crate::ApiError`] reads the code.
    Api { code: String, description: String },
    /// The body is not well-formed XML.
    Xml(String),
    /// Well-formed XML, but not an RSS feed (e.g. an HTML page).
    NotAFeed(String),
}

impl fmt::Display for FeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedError::Api { code, description } if description.is_empty() => {
                write!(f, "indexer error {code}")
            }
            FeedError::Api { code, description } => write!(f, "indexer error {code}: {description}"),
            FeedError::Xml(message) => write!(f, "invalid XML: {message}"),
            FeedError::NotAFeed(what) => write!(f, "not an RSS feed: {what}"),
        }
    }
}

/// Longest text (in bytes) kept for one field; a longer title is cut.
const MAX_FIELD_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Title,
    Size,
    Link,
    Guid,
    PubDate,
    InfoHash,
    MagnetUri,
}

#[derive(Debug, Default)]
struct ItemBuilder {
    /// Nesting depth inside the `<item>` element: its children start at this depth.
    depth: usize,
    title: String,
    size: Option<String>,
    link: Option<String>,
    guid: Option<String>,
    pub_date: Option<String>,
    enclosures: Vec<Enclosure>,
    attr_infohash: Option<String>,
    /// An `infoHash` element (plain torrent RSS).
    element_infohash: Option<String>,
    attr_magnet: Option<String>,
    attr_seeders: Option<String>,
    attr_peers: Option<String>,
    attr_size: Option<String>,
    attr_grabs: Option<String>,
    attr_usenetdate: Option<String>,
}

/// At most this many enclosures are kept per item.
const MAX_ENCLOSURES: usize = 8;

impl ItemBuilder {
    fn finish(self) -> FeedItem {
        let first_enclosure = self.enclosures.first().map(|e| e.url.clone());
        let magnets = [&self.attr_magnet, &self.link, &first_enclosure, &self.guid];
        let hash = self
            .attr_infohash
            .as_deref()
            .and_then(parse_hash)
            .or_else(|| self.element_infohash.as_deref().and_then(parse_hash))
            .or_else(|| magnets.iter().filter_map(|m| m.as_deref()).find_map(hash_from_magnet))
            .or_else(|| self.enclosures.iter().skip(1).find_map(|e| hash_from_magnet(&e.url)));
        // The `size` attribute first: an enclosure's `length` can be the .torrent file's size
        // (Prowlarr's MoreThanTV reply), and StremThru reads them in this order too.
        let size = [&self.attr_size, &self.size]
            .iter()
            .filter_map(|s| s.as_deref())
            .find_map(parse_count::<u64>)
            .filter(|&s| s > 0)
            .or_else(|| self.enclosures.iter().find_map(|e| e.length));
        let link = self.link.as_deref().map(str::trim).filter(|l| is_http(l));
        let http = |e: &&Enclosure| is_http(&e.url);
        let torrent_link = self
            .enclosures
            .iter()
            .filter(http)
            .find(|e| e.is_torrent())
            .or_else(|| self.enclosures.iter().filter(http).find(|e| !e.is_nzb()))
            .map(|e| e.url.trim())
            .or(link.filter(|l| !link_path_ends_with(l, ".nzb") && !self.enclosures.iter().any(Enclosure::is_nzb)))
            .map(str::to_string);
        let nzb_link = self
            .enclosures
            .iter()
            .filter(http)
            .find(|e| e.is_nzb())
            .or_else(|| self.enclosures.iter().filter(http).find(|e| !e.is_torrent()))
            .map(|e| e.url.trim())
            .or(link
                .filter(|l| !link_path_ends_with(l, ".torrent") && !self.enclosures.iter().any(Enclosure::is_torrent)))
            .map(str::to_string);
        let published = [&self.attr_usenetdate, &self.pub_date]
            .iter()
            .filter_map(|d| d.as_deref())
            .find_map(crate::date::parse_date);
        FeedItem {
            title: self.title.trim().to_string(),
            hash,
            size,
            seeders: self.attr_seeders.as_deref().and_then(parse_count::<u32>),
            peers: self.attr_peers.as_deref().and_then(parse_count::<u32>),
            grabs: self.attr_grabs.as_deref().and_then(parse_count::<u32>),
            published,
            torrent_link,
            nzb_link,
            enclosures: self.enclosures,
        }
    }

    fn take_attrs(&mut self, element: &BytesStart<'_>) -> Result<(), FeedError> {
        match element.local_name().as_ref() {
            b"attr" => {
                let name = attribute(element, b"name")?.map(|n| n.to_ascii_lowercase());
                let value = attribute(element, b"value")?;
                let slot = match name.as_deref() {
                    Some("infohash") => &mut self.attr_infohash,
                    Some("magneturl") => &mut self.attr_magnet,
                    Some("seeders") => &mut self.attr_seeders,
                    Some("peers") => &mut self.attr_peers,
                    Some("size") => &mut self.attr_size,
                    Some("grabs") => &mut self.attr_grabs,
                    Some("usenetdate") => &mut self.attr_usenetdate,
                    _ => return Ok(()),
                };
                if slot.is_none() {
                    *slot = value;
                }
            }
            // Every enclosure: AnimeTosho sends an nzb's and a torrent's, in either order.
            b"enclosure" if self.enclosures.len() < MAX_ENCLOSURES => {
                if let Some(url) = attribute(element, b"url")? {
                    let length = attribute(element, b"length")?.as_deref().and_then(parse_count::<u64>);
                    let mime = attribute(element, b"type")?.map(|t| t.trim().to_ascii_lowercase());
                    self.enclosures.push(Enclosure { url, length: length.filter(|&l| l > 0), mime });
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn set(&mut self, field: Field, text: String) {
        match field {
            Field::Title => self.title = text,
            Field::Size => self.size = Some(text),
            Field::Link => self.link = Some(text),
            Field::Guid => self.guid = Some(text),
            Field::PubDate => self.pub_date = Some(text),
            Field::InfoHash => {
                self.element_infohash.get_or_insert(text);
            }
            Field::MagnetUri => {
                self.attr_magnet.get_or_insert(text);
            }
        }
    }
}

/// A decimal count. Torznab writes `-1` or an empty value for "unknown"; both give `None`.
pub(crate) fn parse_count<T: TryFrom<u64>>(value: &str) -> Option<T> {
    let value = value.trim();
    let whole = value.split_once('.').map_or(value, |(whole, _)| whole);
    whole.parse::<u64>().ok().and_then(|v| T::try_from(v).ok())
}

fn attribute(element: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, FeedError> {
    for attr in element.attributes() {
        let attr = attr.map_err(|e| FeedError::Xml(e.to_string()))?;
        if attr.key.local_name().as_ref() == name {
            let value = attr.unescape_value().map_err(|e| FeedError::Xml(e.to_string()))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

fn torznab_error(element: &BytesStart<'_>) -> Result<FeedError, FeedError> {
    Ok(FeedError::Api {
        code: attribute(element, b"code")?.unwrap_or_default(),
        description: attribute(element, b"description")?.unwrap_or_default(),
    })
}

fn push_limited(buffer: &mut String, text: &str) {
    for ch in text.chars() {
        if buffer.len() + ch.len_utf8() > MAX_FIELD_BYTES {
            return;
        }
        buffer.push(ch);
    }
}

/// Parses a Torznab response body. Every `<item>` is returned, with `hash: None` when it names
/// no info hash; a Torznab error document gives [`FeedError::Api`]. Never panics.
pub fn parse_feed(xml: &str) -> Result<Vec<FeedItem>, FeedError> {
    let mut reader = Reader::from_str(xml);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;

    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut saw_root = false;
    let mut item: Option<ItemBuilder> = None;
    // The field being read: which one, and its element's depth.
    let mut field: Option<(Field, usize)> = None;
    let mut text = String::new();

    loop {
        let event =
            reader.read_event().map_err(|e| FeedError::Xml(format!("{e} (at byte {})", reader.error_position())))?;
        match event {
            Event::Start(ref element) | Event::Empty(ref element) => {
                let is_empty = matches!(event, Event::Empty(_));
                let name = element.local_name();
                if depth == 0 {
                    if saw_root {
                        return Err(FeedError::Xml("more than one root element".to_string()));
                    }
                    saw_root = true;
                    match name.as_ref() {
                        b"error" => return Err(torznab_error(element)?),
                        b"rss" => {}
                        other => {
                            let other = String::from_utf8_lossy(other).chars().take(40).collect::<String>();
                            return Err(FeedError::NotAFeed(format!("the root element is <{other}>")));
                        }
                    }
                }
                if let Some(current) = item.as_mut() {
                    current.take_attrs(element)?;
                    if !is_empty && field.is_none() && depth == current.depth {
                        field = match name.as_ref() {
                            b"title" => Some((Field::Title, depth + 1)),
                            b"size" => Some((Field::Size, depth + 1)),
                            b"link" => Some((Field::Link, depth + 1)),
                            b"guid" => Some((Field::Guid, depth + 1)),
                            b"pubDate" => Some((Field::PubDate, depth + 1)),
                            _ => None,
                        };
                        text.clear();
                    }
                    // Plain torrent RSS carries the hash in its own elements, at any depth:
                    // ezRSS `<torrent><infoHash>`/`<magnetURI>`, Nyaa `<nyaa:infoHash>`.
                    if !is_empty && field.is_none() {
                        field = match name.as_ref() {
                            b"infoHash" | b"infohash" => Some((Field::InfoHash, depth + 1)),
                            b"magnetURI" => Some((Field::MagnetUri, depth + 1)),
                            _ => None,
                        };
                        text.clear();
                    }
                } else if name.as_ref() == b"item" && !is_empty {
                    item = Some(ItemBuilder { depth: depth + 1, ..ItemBuilder::default() });
                }
                if !is_empty {
                    depth += 1;
                }
            }
            Event::End(_) => {
                if let (Some((kind, field_depth)), Some(current)) = (field, item.as_mut()) {
                    if field_depth == depth {
                        current.set(kind, std::mem::take(&mut text));
                        field = None;
                    }
                }
                if item.as_ref().is_some_and(|current| current.depth == depth) {
                    if let Some(done) = item.take() {
                        items.push(done.finish());
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(ref content) if field.is_some() => {
                let content = content.decode().map_err(|e| FeedError::Xml(e.to_string()))?;
                push_limited(&mut text, &content);
            }
            Event::CData(ref content) if field.is_some() => {
                let content = content.decode().map_err(|e| FeedError::Xml(e.to_string()))?;
                push_limited(&mut text, &content);
            }
            Event::GeneralRef(ref reference) if field.is_some() => {
                if let Some(ch) = reference.resolve_char_ref().map_err(|e| FeedError::Xml(e.to_string()))? {
                    push_limited(&mut text, ch.encode_utf8(&mut [0; 4]));
                } else {
                    let name = reference.decode().map_err(|e| FeedError::Xml(e.to_string()))?;
                    match resolve_predefined_entity(&name) {
                        Some(resolved) => push_limited(&mut text, resolved),
                        None => return Err(FeedError::Xml(format!("unknown entity &{name};"))),
                    }
                }
            }
            Event::Eof => {
                if depth != 0 {
                    return Err(FeedError::Xml("the document ends inside an element".to_string()));
                }
                if !saw_root {
                    return Err(FeedError::NotAFeed("the body is empty".to_string()));
                }
                return Ok(items);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "rss_tests.rs"]
mod tests;
