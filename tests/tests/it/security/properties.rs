//! Property tests for the parsers that read untrusted input: the user config segment, Stremio
//! ids and release names, playback URLs, Torznab RSS and TorBox replies. Each property runs a
//! few hundred generated cases; the fuzz targets in `fuzz/` push the same code much harder.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use chillproxy_core::MediaKind;
use chillproxy_source_torznab::parse_feed;
use chillproxy_store_torbox::fuzz_interpret_reply;
use chillproxy_stremio::parse_media;
use chillproxy_stremio::release::{episode_of, Release};
use chillproxy_stremio::{PlaybackPath, PlaybackSegments};
use chillproxy_stremio::{UserConfig, MAX_STORES};
use proptest::prelude::*;
use serde_json::{json, Value};

const CODES: &[&str] = &["tb", "rd", "ad"];
const KEY: &str = "tb-secret-key-0123456789";

fn config() -> ProptestConfig {
    // No regression files in the source tree: a failure prints its minimal input instead.
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

fn is_lower_hex_40(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

// ---------------------------------------------------------------- strategies

/// One store entry as JSON, with a token, a Chillstreams id or both; its code is given.
fn store_entry(code: &'static str) -> impl Strategy<Value = (Value, Option<String>, Option<String>)> {
    let token = proptest::option::of("[A-Za-z0-9_-]{1,48}");
    let auth = proptest::option::of("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    (token, auth).prop_filter("a store needs t or auth", |(t, a)| t.is_some() || a.is_some()).prop_map(
        move |(t, auth)| {
            let mut entry = json!({ "c": code });
            if let Some(t) = &t {
                entry["t"] = json!(t);
            }
            if let Some(a) = &auth {
                entry["auth"] = json!(a);
            }
            (entry, t, auth)
        },
    )
}

/// A valid config document: 1 to 3 distinct stores (this server offers three codes), 0 to 5
/// indexers, `cached` or not. Also returns what the stores should decode to.
#[allow(clippy::type_complexity)]
fn valid_config() -> impl Strategy<Value = (String, Vec<(String, Option<String>, Option<String>)>, usize, bool)> {
    let codes = proptest::sample::subsequence(CODES.to_vec(), 1..=CODES.len()).prop_shuffle();
    let stores = codes.prop_flat_map(|codes| codes.into_iter().map(store_entry).collect::<Vec<_>>());
    let indexer =
        ("[a-z]{0,10}", "https?://[a-z]{1,12}(:[0-9]{2,5})?/[a-z0-9/]{0,12}", proptest::option::of("[a-z0-9]{1,32}"))
            .prop_map(|(n, u, ak)| {
                let mut entry = json!({ "n": n, "u": u });
                if let Some(ak) = ak {
                    entry["ak"] = json!(ak);
                }
                entry
            });
    let indexers = proptest::collection::vec(indexer, 0..=5);
    (stores, indexers, any::<bool>(), any::<bool>()).prop_map(|(stores, indexers, cached, with_cached)| {
        let expected: Vec<_> = stores
            .iter()
            .map(|(entry, t, a)| (entry["c"].as_str().unwrap_or_default().to_string(), t.clone(), a.clone()))
            .collect();
        let mut doc = json!({ "stores": stores.into_iter().map(|(e, _, _)| e).collect::<Vec<_>>() });
        if !indexers.is_empty() {
            doc["indexers"] = json!(indexers);
        }
        if with_cached || cached {
            doc["cached"] = json!(cached);
        }
        let count = doc["indexers"].as_array().map_or(0, Vec::len);
        (doc.to_string(), expected, count, cached)
    })
}

/// A JSON value without floats (they need not round-trip bit for bit), nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Text that looks a bit like XML, so the RSS parser gets past the first byte.
fn xmlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<rss>".to_string()),
        Just("</rss>".to_string()),
        Just("<channel>".to_string()),
        Just("</channel>".to_string()),
        Just("<item>".to_string()),
        Just("</item>".to_string()),
        Just("<title>".to_string()),
        Just("</title>".to_string()),
        Just("<size>".to_string()),
        Just("</size>".to_string()),
        Just("<link>".to_string()),
        Just("</link>".to_string()),
        Just("<guid>".to_string()),
        Just("</guid>".to_string()),
        Just("<![CDATA[".to_string()),
        Just("]]>".to_string()),
        Just("<torznab:attr name=\"infohash\" value=\"0123456789abcdef0123456789abcdef01234567\"/>".to_string()),
        Just("<torznab:attr name=\"magneturl\" value=\"magnet:?xt=urn:btih:".to_string()),
        Just("<torznab:attr name=\"seeders\" value=\"".to_string()),
        Just("<enclosure url=\"".to_string()),
        Just("\" length=\"".to_string()),
        Just("\"/>".to_string()),
        Just("<error code=\"100\" description=\"".to_string()),
        Just("&amp;".to_string()),
        Just("&#x263A;".to_string()),
        Just("&bogus;".to_string()),
        Just("<?xml version=\"1.0\"?>".to_string()),
        "[a-zA-Z0-9 .:=\"<>/&;-]{0,12}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn rss(items: &[(String, String)]) -> String {
    let mut body = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:torznab="http://torznab.com/schemas/2015/feed"><channel><title>Feed</title>"#,
    );
    for (title, hash) in items {
        body.push_str(&format!(
            r#"<item><title>{}</title><size>1024</size><torznab:attr name="seeders" value="3"/><torznab:attr name="infohash" value="{hash}"/></item>"#,
            escape_xml(title)
        ));
    }
    body.push_str("</channel></rss>");
    body
}

// ---------------------------------------------------------------- config

proptest! {
    #![proptest_config(config())]

    #[test]
    fn config_decode_never_panics(segment in any::<String>()) {
        if let Ok(config) = UserConfig::decode(&segment, CODES) {
            prop_assert!((1..=MAX_STORES).contains(&config.stores.len()));
        }
    }

    #[test]
    fn config_decode_never_panics_on_any_json_like_payload(payload in any::<Vec<u8>>(), url_safe in any::<bool>()) {
        let segment = if url_safe { URL_SAFE_NO_PAD.encode(&payload) } else { STANDARD.encode(&payload) };
        if let Ok(config) = UserConfig::decode(&segment, CODES) {
            prop_assert!((1..=MAX_STORES).contains(&config.stores.len()));
        }
    }

    #[test]
    fn valid_configs_round_trip_in_every_base64_flavour((json_text, stores, indexers, cached) in valid_config()) {
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            let segment = engine.encode(json_text.as_bytes());
            let decoded = UserConfig::decode(&segment, CODES);
            prop_assert!(decoded.is_ok(), "{json_text} as {segment}: {:?}", decoded.err());
            let Ok(decoded) = decoded else { continue };
            let got: Vec<_> = decoded
                .stores
                .iter()
                .map(|s| (s.c.clone(), s.t.as_ref().map(|t| t.expose().to_string()), s.auth.clone()))
                .collect();
            prop_assert_eq!(&got, &stores);
            prop_assert_eq!(decoded.indexers.len(), indexers);
            prop_assert_eq!(decoded.cached, cached);
        }
    }
}

// ---------------------------------------------------------------- ids and release names

proptest! {
    #![proptest_config(config())]

    #[test]
    fn media_parsers_never_panic(kind in prop_oneof![Just("movie".to_string()), Just("series".to_string()), any::<String>()], id in any::<String>()) {
        if let Some(media) = parse_media(&kind, &id) {
            prop_assert!(media.imdb_id.starts_with("tt"));
            prop_assert_eq!(media.season.is_some(), media.episode.is_some());
            prop_assert_eq!(media.kind == MediaKind::Series, media.season.is_some());
        }
        if let Some((season, episode)) = episode_of(&id) {
            prop_assert!(season <= 1000 && episode <= 100_000);
        }
        let _ = Release::parse(&id);
    }

    #[test]
    fn media_parsers_never_panic_on_id_like_text(id in "(tt)?[0-9]{0,12}(:[0-9a-z]{0,7}){0,3}", name in "[A-Za-z0-9 .x_-]{0,40}") {
        for kind in ["movie", "series"] {
            let _ = parse_media(kind, &id);
        }
        let _ = episode_of(&name);
        let _ = Release::parse(&name);
    }

    #[test]
    fn series_ids_parse_to_their_numbers(digits in "[0-9]{1,10}", season in 0u32..=1000, episode in 0u32..=100_000) {
        let id = format!("tt{digits}:{season}:{episode}");
        let media = parse_media("series", &id);
        prop_assert!(media.is_some(), "{id}");
        let Some(media) = media else { return Ok(()) };
        prop_assert_eq!(media.kind, MediaKind::Series);
        prop_assert_eq!(media.imdb_id, format!("tt{digits}"));
        prop_assert_eq!((media.season, media.episode), (Some(season), Some(episode)));
        prop_assert!(parse_media("movie", &id).is_none());
        let movie = parse_media("movie", &format!("tt{digits}"));
        prop_assert!(movie.is_some_and(|m| m.kind == MediaKind::Movie && m.season.is_none()));
    }

    #[test]
    fn episode_markers_are_found(season in 0u32..100, episode in 0u32..1000, lower in any::<bool>()) {
        let name = format!("Show.Name.S{season:02}E{episode:02}.1080p.WEB-DL.x264.mkv");
        let name = if lower { name.to_lowercase() } else { name };
        prop_assert_eq!(episode_of(&name), Some((season, episode)), "{}", name);
    }
}

// ---------------------------------------------------------------- playback URLs

proptest! {
    #![proptest_config(config())]

    #[test]
    fn playback_parse_never_panics(
        config in any::<String>(),
        id in any::<String>(),
        store in prop_oneof![Just("tb".to_string()), any::<String>()],
        hash in prop_oneof!["[0-9a-fA-F]{40}", any::<String>()],
        file_idx in prop_oneof!["-?[0-9]{0,11}", any::<String>()],
        file_name in proptest::option::of(any::<String>()),
    ) {
        let segments = PlaybackSegments {
            config: &config,
            id: &id,
            store: &store,
            hash: &hash,
            file_idx: &file_idx,
            file_name: file_name.as_deref(),
        };
        if let Ok(target) = PlaybackPath::parse(&segments, CODES) {
            prop_assert!(is_lower_hex_40(target.hash.as_str()));
        }
    }

    #[test]
    fn valid_playback_urls_parse(
        (json_text, _, _, _) in valid_config(),
        digits in "[0-9]{1,10}",
        episode in proptest::option::of((0u32..=1000, 0u32..=100_000)),
        hash in "[0-9a-fA-F]{40}",
        file_idx in prop_oneof![Just(-1i64), 0i64..=999_999_999],
        // Not starting with a dot: `.` and `..` are refused as file names.
        file_name in proptest::option::of("[A-Za-z0-9 _-][A-Za-z0-9 ._-]{0,63}"),
    ) {
        let config = URL_SAFE_NO_PAD.encode(json_text.as_bytes());
        let id = match episode {
            Some((s, e)) => format!("tt{digits}:{s}:{e}"),
            None => format!("tt{digits}"),
        };
        let decoded = UserConfig::decode(&config, CODES);
        prop_assert!(decoded.is_ok());
        let Ok(decoded) = decoded else { return Ok(()) };
        let store = decoded.stores[0].c.clone();
        let file_idx_text = file_idx.to_string();
        let segments = PlaybackSegments {
            config: &config,
            id: &id,
            store: &store,
            hash: &hash,
            file_idx: &file_idx_text,
            file_name: file_name.as_deref(),
        };
        let target = PlaybackPath::parse(&segments, CODES);
        prop_assert!(target.is_ok(), "{:?}", target.err());
        let Ok(target) = target else { return Ok(()) };
        prop_assert_eq!(target.hash.as_str(), hash.to_ascii_lowercase());
        prop_assert_eq!(target.store_code, store);
        prop_assert_eq!(target.file_idx, u64::try_from(file_idx).ok());
        prop_assert_eq!(target.file_name, file_name);
        prop_assert_eq!((target.media.season, target.media.episode), (episode.map(|e| e.0), episode.map(|e| e.1)));
    }
}

// ---------------------------------------------------------------- Torznab RSS

proptest! {
    #![proptest_config(config())]

    #[test]
    fn rss_parser_never_panics_on_bytes(body in any::<Vec<u8>>()) {
        let _ = parse_feed(&String::from_utf8_lossy(&body));
    }

    #[test]
    fn rss_parser_never_panics_on_xmlish_text(body in xmlish()) {
        if let Ok(items) = parse_feed(&body) {
            for item in items {
                if let Some(hash) = &item.hash {
                    prop_assert!(is_lower_hex_40(hash.as_str()), "{}", hash.as_str());
                }
                prop_assert!(item.size != Some(0));
                prop_assert!(item.title.len() <= 4096);
            }
        }
    }

    #[test]
    fn rss_items_keep_their_hashes(items in proptest::collection::vec(("[A-Za-z0-9 .&<>\"'-]{0,40}", "[0-9a-fA-F]{40}"), 0..16)) {
        let parsed = parse_feed(&rss(&items));
        prop_assert!(parsed.is_ok(), "{:?}", parsed.err());
        let Ok(parsed) = parsed else { return Ok(()) };
        prop_assert_eq!(parsed.len(), items.len());
        for (item, (title, hash)) in parsed.iter().zip(&items) {
            prop_assert_eq!(item.hash.as_ref().map(|h| h.as_str().to_string()), Some(hash.to_ascii_lowercase()));
            prop_assert_eq!(item.title.as_str(), title.trim());
            prop_assert_eq!((item.size, item.seeders), (Some(1024), Some(3)));
        }
    }
}

// ---------------------------------------------------------------- TorBox replies

proptest! {
    #![proptest_config(config())]

    #[test]
    fn torbox_interpreter_never_panics(
        status in prop_oneof![100u16..600, any::<u16>()],
        content_type in prop_oneof![
            Just("application/json".to_string()),
            Just("text/html".to_string()),
            Just("text/plain; charset=utf-8".to_string()),
            any::<String>(),
        ],
        body in prop_oneof![
            any::<Vec<u8>>(),
            json_value().prop_map(|v| v.to_string().into_bytes()),
            (any::<Option<bool>>(), json_value(), json_value(), json_value()).prop_map(|(success, error, detail, data)| {
                json!({ "success": success, "error": error, "detail": detail, "data": data }).to_string().into_bytes()
            }),
            "[ -~]{0,64}".prop_map(|s| format!("{s} {KEY} {s}").into_bytes()),
        ],
    ) {
        match fuzz_interpret_reply(status, &content_type, &body, KEY) {
            Ok(_) => prop_assert!((200..300).contains(&status)),
            Err(e) => {
                let message = e.to_string();
                prop_assert!(!message.contains(KEY), "{}", message);
                prop_assert!(message.len() < 4096);
            }
        }
    }

    #[test]
    fn torbox_success_envelopes_yield_their_data(status in 200u16..300, data in json_value()) {
        let body = json!({ "success": true, "error": null, "detail": "", "data": data.clone() }).to_string();
        let reply = fuzz_interpret_reply(status, "application/json", body.as_bytes(), KEY);
        prop_assert_eq!(reply.ok(), Some(data));
    }
}

// ---------------------------------------------------------------- RealDebrid, AllDebrid, Premiumize replies

proptest! {
    #![proptest_config(config())]

    /// Whatever the three debrid stores answer (their own error shapes with the key inside any
    /// field, or anything else), the result is JSON or a typed error that never shows the key.
    #[test]
    fn debrid_interpreters_never_panic_nor_show_the_key(
        status in prop_oneof![100u16..600, any::<u16>()],
        text in "[ -~]{0,48}",
        code in any::<i64>(),
        raw in any::<Vec<u8>>(),
        data in json_value(),
        pick in 0usize..5,
    ) {
        let with_key = format!("{text} {KEY} {text}");
        let body = match pick {
            0 => json!({"error": with_key, "error_code": code, "error_details": with_key}).to_string().into_bytes(),
            1 => json!({"status": "error", "error": {"code": with_key, "message": with_key}}).to_string().into_bytes(),
            2 => json!({"status": "error", "message": with_key}).to_string().into_bytes(),
            3 => json!({"status": "success", "data": data}).to_string().into_bytes(),
            _ => raw,
        };
        for interpret in [
            chillproxy_store_realdebrid::fuzz_interpret_reply,
            chillproxy_store_alldebrid::fuzz_interpret_reply,
            chillproxy_store_premiumize::fuzz_interpret_reply,
        ] {
            match interpret(status, &body, KEY) {
                Ok(_) => prop_assert!((200..300).contains(&status)),
                Err(e) => {
                    let message = format!("{e} {e:?}");
                    prop_assert!(!message.contains(KEY), "{}", message);
                    prop_assert!(message.len() < 4096);
                }
            }
        }
    }
}
