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
mod tests {
    use super::*;

    const HEX: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
    const HEX2: &str = "0123456789abcdef0123456789abcdef01234567";
    const B32: &str = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK";

    fn feed(items: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:torznab="http://torznab.com/schemas/2015/feed">
  <channel>
    <atom:link href="http://127.0.0.1/api" rel="self" type="application/rss+xml" />
    <title>AggregateSearch</title>
    <link>http://127.0.0.1/</link>
    {items}
  </channel>
</rss>"#
        )
    }

    #[test]
    fn parses_a_jackett_item() {
        let xml = feed(&format!(
            r#"<item>
      <title>The.Shawshank.Redemption.1994.1080p.BluRay.x264 &amp; more &#x263A;</title>
      <guid>http://127.0.0.1/dl/1</guid>
      <jackettindexer id="yts">YTS</jackettindexer>
      <size>2147483648</size>
      <link>http://127.0.0.1/dl/yts/?jackett_apikey=secret&amp;path=abc</link>
      <category>2000</category>
      <enclosure url="http://127.0.0.1/dl/yts/?jackett_apikey=secret&amp;path=abc" length="2147483648" type="application/x-bittorrent" />
      <torznab:attr name="category" value="2000" />
      <torznab:attr name="seeders" value="120" />
      <torznab:attr name="peers" value="130" />
      <torznab:attr name="infohash" value="{}" />
      <torznab:attr name="magneturl" value="magnet:?xt=urn:btih:{HEX2}&amp;dn=x" />
    </item>"#,
            HEX.to_ascii_uppercase()
        ));
        let items = parse_feed(&xml).unwrap();
        assert_eq!(
            items,
            vec![FeedItem {
                title: "The.Shawshank.Redemption.1994.1080p.BluRay.x264 & more \u{263A}".to_string(),
                hash: InfoHash::parse(HEX),
                size: Some(2_147_483_648),
                seeders: Some(120),
                peers: Some(130),
                torrent_link: Some("http://127.0.0.1/dl/yts/?jackett_apikey=secret&path=abc".to_string()),
                nzb_link: None,
                grabs: None,
                published: None,
                enclosures: vec![Enclosure {
                    url: "http://127.0.0.1/dl/yts/?jackett_apikey=secret&path=abc".to_string(),
                    length: Some(2_147_483_648),
                    mime: Some(TORRENT_TYPE.to_string()),
                }],
            }]
        );
    }

    #[test]
    fn hash_falls_back_to_magnets_in_order() {
        let xml = feed(&format!(
            r#"<item><title>magneturl hex</title><torznab:attr name="magneturl" value="magnet:?xt=urn:btih:{HEX}&amp;dn=a"/></item>
<item><title>magneturl base32</title><torznab:attr name="magneturl" value="magnet:?xt=urn:btih:{B32}"/></item>
<item><title>link magnet</title><link>magnet:?xt=urn:btih:{HEX2}</link></item>
<item><title>enclosure magnet</title><enclosure url="magnet:?xt=urn:btih:{HEX2}" length="0" type="application/x-bittorrent"/></item>
<item><title>guid magnet</title><guid><![CDATA[magnet:?xt=urn:btih:{HEX2}]]></guid></item>
<item><title>torrent only</title><link>http://127.0.0.1/file.torrent</link></item>
<item><title>bad infohash, good magnet</title><torznab:attr name="infohash" value="nope"/><torznab:attr name="magneturl" value="magnet:?xt=urn:btih:{HEX}"/></item>"#
        ));
        let items = parse_feed(&xml).unwrap();
        let hashes: Vec<_> = items.iter().map(|i| (i.title.as_str(), i.hash.as_ref().map(InfoHash::as_str))).collect();
        assert_eq!(
            hashes,
            vec![
                ("magneturl hex", Some(HEX)),
                ("magneturl base32", Some(HEX)),
                ("link magnet", Some(HEX2)),
                ("enclosure magnet", Some(HEX2)),
                ("guid magnet", Some(HEX2)),
                ("torrent only", None),
                ("bad infohash, good magnet", Some(HEX)),
            ]
        );
    }

    #[test]
    fn size_comes_from_attr_then_element_then_enclosure() {
        let xml = feed(&format!(
            r#"<item><title>a</title><torznab:attr name="infohash" value="{HEX}"/><torznab:attr name="size" value="7"/></item>
<item><title>b</title><torznab:attr name="infohash" value="{HEX}"/><enclosure url="x" length="9" type="application/x-bittorrent"/></item>
<item><title>c</title><torznab:attr name="infohash" value="{HEX}"/><size>0</size><torznab:attr name="seeders" value="-1"/></item>
<item><title>d</title><size> 11 </size><torznab:attr name="size" value="7"/><torznab:attr name="seeders" value="3.0"/></item>"#
        ));
        let items = parse_feed(&xml).unwrap();
        let got: Vec<_> = items.iter().map(|i| (i.size, i.seeders)).collect();
        assert_eq!(got, vec![(Some(7), None), (Some(9), None), (None, None), (Some(7), Some(3))]);
    }

    #[test]
    fn newznab_attrs_and_an_empty_channel() {
        let xml = format!(
            r#"<rss xmlns:newznab="http://www.newznab.com/DTD/2010/feeds/attributes/"><channel><item><title>x</title><newznab:attr name="infohash" value="{HEX}"/><newznab:attr name="seeders" value="4"/></item></channel></rss>"#
        );
        let items = parse_feed(&xml).unwrap();
        assert_eq!(items[0].seeders, Some(4));
        assert_eq!(parse_feed("<rss version=\"2.0\"><channel></channel></rss>").unwrap(), vec![]);
        assert_eq!(parse_feed("<rss/>").unwrap(), vec![]);
    }

    #[test]
    fn an_nzb_enclosure_before_the_torrent_keeps_the_torrent() {
        // AnimeTosho's "DAYS - 05" (sonarr_rss_animetosho_nosize.xml): the .nzb first.
        let xml = feed(
            r#"<item><title>DAYS - 05 (1280x720 HEVC2 AAC).mkv</title>
      <link>https://animetosho.org/view/days-05-1280x720-hevc2-aac-mkv.1009055</link>
      <enclosure url="http://storage.animetosho.org/nzb/0002ae58/DAYS%20-%2005.nzb" type="application/x-nzb" length="0" />
      <enclosure url="http://storage.animetosho.org/torrents/4b58/DAYS%20-%2005.torrent" type="application/x-bittorrent" length="0" />
      <pubDate>Tue, 02 Aug 2016 12:50:06 +0000</pubDate></item>
<item><title>torrent first</title>
      <enclosure url="http://h/a.torrent" type="application/x-bittorrent" length="7" />
      <enclosure url="http://h/a.nzb" type="application/x-nzb" length="0" /></item>
<item><title>newznab</title><link>https://h/api?t=get&amp;id=1&amp;apikey=k</link>
      <enclosure url="http://h/api?t=get&amp;id=1&amp;apikey=k" type="application/x-nzb" length="9" />
      <newznab:attr name="grabs" value="12"/><newznab:attr name="usenetdate" value="Tue, 02 Aug 2016 12:50:06 +0000"/></item>"#,
        );
        let items = parse_feed(&xml).unwrap();
        let days = &items[0];
        assert_eq!(
            days.torrent_link.as_deref(),
            Some("http://storage.animetosho.org/torrents/4b58/DAYS%20-%2005.torrent")
        );
        assert_eq!(days.nzb_link.as_deref(), Some("http://storage.animetosho.org/nzb/0002ae58/DAYS%20-%2005.nzb"));
        assert_eq!((days.size, days.published, days.enclosures.len()), (None, Some(1_470_142_206), 2));
        assert_eq!(items[1].torrent_link.as_deref(), Some("http://h/a.torrent"));
        assert_eq!(items[1].nzb_link.as_deref(), Some("http://h/a.nzb"));
        assert_eq!(items[1].size, Some(7));
        let nzb = &items[2];
        assert_eq!(nzb.nzb_link.as_deref(), Some("http://h/api?t=get&id=1&apikey=k"), "the enclosure before <link>");
        assert_eq!(nzb.torrent_link, None, "an NZB is no torrent");
        assert_eq!((nzb.size, nzb.grabs, nzb.published), (Some(9), Some(12), Some(1_470_142_206)));
    }

    #[test]
    fn channel_level_link_and_title_are_not_items() {
        let xml = feed("");
        assert_eq!(parse_feed(&xml).unwrap(), vec![]);
    }

    #[test]
    fn nested_elements_inside_an_item_do_not_confuse_fields() {
        let xml = feed(&format!(
            r#"<item><description><title>not the title</title></description><title>real</title><torznab:attr name="infohash" value="{HEX}"/></item>"#
        ));
        let items = parse_feed(&xml).unwrap();
        assert_eq!(items[0].title, "real");
    }

    #[test]
    fn torznab_error_document() {
        let err =
            parse_feed(r#"<?xml version="1.0" encoding="UTF-8"?><error code="100" description="Invalid API Key" />"#)
                .unwrap_err();
        assert_eq!(err, FeedError::Api { code: "100".to_string(), description: "Invalid API Key".to_string() });
        assert_eq!(err.to_string(), "indexer error 100: Invalid API Key");
        let err = parse_feed(r#"<error code="201"></error>"#).unwrap_err();
        assert_eq!(err.to_string(), "indexer error 201");
    }

    #[test]
    fn invalid_xml_is_an_error_not_a_panic() {
        for body in [
            "<rss><channel><item><title>x</item></channel></rss>",
            "<rss><channel>",
            "<rss><channel><item><title>a &bogus; b</title></item></channel></rss>",
            "<rss><channel><item><torznab:attr name=\"infohash value=\"x\"/></item></channel></rss>",
            "<rss></rss><rss></rss>",
            "<rss><channel><item><title>&#0;</title></item></channel></rss>",
            "not xml at all <<<",
        ] {
            let err = parse_feed(body).unwrap_err();
            assert!(matches!(err, FeedError::Xml(_) | FeedError::NotAFeed(_)), "{body}: {err:?}");
        }
    }

    #[test]
    fn other_documents_are_not_feeds() {
        assert!(matches!(parse_feed("<html><body>Login</body></html>"), Err(FeedError::NotAFeed(_))));
        assert!(matches!(parse_feed(""), Err(FeedError::NotAFeed(_))));
        assert!(matches!(parse_feed("   "), Err(FeedError::NotAFeed(_))));
    }

    #[test]
    fn very_long_titles_are_cut() {
        let long = "x".repeat(10_000);
        let xml = feed(&format!(r#"<item><title>{long}</title><torznab:attr name="infohash" value="{HEX}"/></item>"#));
        assert_eq!(parse_feed(&xml).unwrap()[0].title.len(), MAX_FIELD_BYTES);
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count::<u32>("12"), Some(12));
        assert_eq!(parse_count::<u32>(" 12 "), Some(12));
        assert_eq!(parse_count::<u32>("-1"), None);
        assert_eq!(parse_count::<u32>(""), None);
        assert_eq!(parse_count::<u32>("99999999999"), None);
        assert_eq!(parse_count::<u64>("99999999999"), Some(99_999_999_999));
    }
}
