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
    assert_eq!(days.torrent_link.as_deref(), Some("http://storage.animetosho.org/torrents/4b58/DAYS%20-%2005.torrent"));
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
    let err = parse_feed(r#"<?xml version="1.0" encoding="UTF-8"?><error code="100" description="Invalid API Key" />"#)
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
