//! The Torznab RSS feed: `<rss><channel><item>` with `<title>`, `<size>`, `<link>`, `<guid>`,
//! `<enclosure url length type>` and `<torznab:attr name value>` elements, or an error document
//! `<error code="100" description="Invalid API Key"/>`.

use std::fmt;

use chillproxy_core::InfoHash;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::magnet::{hash_from_magnet, parse_hash};

/// One `<item>` of the feed, reduced to what a candidate needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    pub title: String,
    /// From the `infohash` attribute, else the `btih` of a magnet link (`magneturl` attribute,
    /// `<link>`, the enclosure URL or `<guid>`). `None` for items that only offer a `.torrent`.
    pub hash: Option<InfoHash>,
    pub size: Option<u64>,
    pub seeders: Option<u32>,
    pub peers: Option<u32>,
    /// The `.torrent` download link (the first enclosure, else `<link>`), when it is an http(s)
    /// URL: what is left when the item names no hash. It may carry the indexer's key.
    pub torrent_link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedError {
    /// The indexer answered with a Torznab error document.
    Torznab { code: String, description: String },
    /// The body is not well-formed XML.
    Xml(String),
    /// Well-formed XML, but not an RSS feed (e.g. an HTML page).
    NotAFeed(String),
}

impl fmt::Display for FeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedError::Torznab { code, description } if description.is_empty() => {
                write!(f, "Torznab error {code}")
            }
            FeedError::Torznab { code, description } => write!(f, "Torznab error {code}: {description}"),
            FeedError::Xml(message) => write!(f, "invalid XML: {message}"),
            FeedError::NotAFeed(what) => write!(f, "not a Torznab feed: {what}"),
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
    enclosure_url: Option<String>,
    enclosure_length: Option<String>,
    attr_infohash: Option<String>,
    /// An `infoHash` element (plain torrent RSS).
    element_infohash: Option<String>,
    attr_magnet: Option<String>,
    attr_seeders: Option<String>,
    attr_peers: Option<String>,
    attr_size: Option<String>,
}

impl ItemBuilder {
    fn finish(self) -> FeedItem {
        let magnets = [&self.attr_magnet, &self.link, &self.enclosure_url, &self.guid];
        let hash = self
            .attr_infohash
            .as_deref()
            .and_then(parse_hash)
            .or_else(|| self.element_infohash.as_deref().and_then(parse_hash))
            .or_else(|| magnets.iter().filter_map(|m| m.as_deref()).find_map(hash_from_magnet));
        // The `size` attribute first: an enclosure's `length` can be the .torrent file's size
        // (Prowlarr's MoreThanTV reply), and StremThru reads them in this order too.
        let size = [&self.attr_size, &self.size, &self.enclosure_length]
            .iter()
            .filter_map(|s| s.as_deref())
            .find_map(parse_count::<u64>)
            .filter(|&s| s > 0);
        let is_download = |link: &&String| {
            let link = link.trim().to_ascii_lowercase();
            link.starts_with("http://") || link.starts_with("https://")
        };
        let torrent_link = [&self.enclosure_url, &self.link]
            .into_iter()
            .flatten()
            .find(is_download)
            .map(|link| link.trim().to_string());
        FeedItem {
            title: self.title.trim().to_string(),
            hash,
            size,
            seeders: self.attr_seeders.as_deref().and_then(parse_count::<u32>),
            peers: self.attr_peers.as_deref().and_then(parse_count::<u32>),
            torrent_link,
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
                    _ => return Ok(()),
                };
                if slot.is_none() {
                    *slot = value;
                }
            }
            // The first enclosure: AnimeTosho sends the torrent's, then an nzb's.
            b"enclosure" if self.enclosure_url.is_none() => {
                self.enclosure_url = attribute(element, b"url")?;
                self.enclosure_length = attribute(element, b"length")?;
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
fn parse_count<T: TryFrom<u64>>(value: &str) -> Option<T> {
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
    Ok(FeedError::Torznab {
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
/// no info hash; a Torznab error document gives [`FeedError::Torznab`]. Never panics.
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
        assert_eq!(err, FeedError::Torznab { code: "100".to_string(), description: "Invalid API Key".to_string() });
        assert_eq!(err.to_string(), "Torznab error 100: Invalid API Key");
        let err = parse_feed(r#"<error code="201"></error>"#).unwrap_err();
        assert_eq!(err.to_string(), "Torznab error 201");
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
