//! The `stremthru` source end to end: the real host, StremThru's torrent database faked on
//! 127.0.0.1 as StremThru documents it, TorBox and Chillstreams faked. It lists streams with no
//! indexer at all, plays them through TorBox, keeps listings per title, holds to its budget, and
//! never sends the fake anything of a user.

use chillproxy_tests::client::{http, warning_descriptions as warnings};
use chillproxy_tests::fakes::stremthru::Mode;
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const STREMIO_UA: &str = "Stremio/4.4.168 (Windows)";

async fn get_streams(url: &str) -> Vec<Value> {
    let response = http().get(url).header("user-agent", STREMIO_UA).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let body: Value = response.json().await.unwrap();
    chillproxy_tests::stremio_check::check_stream_list(&body).unwrap_or_else(|e| panic!("{url}: {e}"));
    body["streams"].as_array().cloned().unwrap_or_default()
}

fn with_hash<'a>(streams: &'a [Value], hash: &str) -> Option<&'a Value> {
    streams.iter().find(|s| s["url"].as_str().is_some_and(|u| u.contains(hash)))
}

async fn stremthru_only(settings: &str) -> Stack {
    let mut options = StackOptions { sources: vec!["stremthru"], ..Default::default() };
    if !settings.is_empty() {
        options.table_settings.push(("[source.stremthru]", settings.to_string()));
    }
    Stack::start(options).await
}

#[tokio::test]
async fn lists_streams_with_no_indexer_and_plays_them_through_torbox() {
    let stack = stremthru_only("").await;
    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));

    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    assert!(warnings(&streams).is_empty(), "{streams:#?}");
    let web = with_hash(&streams, MOVIE_WEB_STREMTHRU_ONLY).unwrap_or_else(|| panic!("{streams:#?}"));
    assert!(web["name"].as_str().unwrap().starts_with("⚡️ [TB]"), "cached on TorBox: {web:#?}");
    assert!(web["description"].as_str().unwrap().contains("StremThru"), "{web:#?}");
    assert!(with_hash(&streams, MOVIE_1080).is_some(), "{streams:#?}");
    assert_eq!(stack.stremthru.sids(), [MOVIE]);

    let response = http().get(web["url"].as_str().unwrap()).header("user-agent", "mpv/0.38").send().await.unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(&format!("{}/cdn/", stack.torbox.state().base_url)), "{location}");

    let streams = get_streams(&stack.stream_url(&config, "series", &format!("{SERIES}:1:3"))).await;
    let pack = with_hash(&streams, SEASON_1_PACK).unwrap_or_else(|| panic!("{streams:#?}"));
    assert_eq!(pack["behaviorHints"]["filename"], "Breaking.Bad.S01E03.720p.BluRay.x264.mkv", "{pack:#?}");
    assert_eq!(stack.stremthru.sids(), [MOVIE.to_string(), format!("{SERIES}:1:3")], "episodes are asked by sid");
}

#[tokio::test]
async fn the_database_never_receives_anything_of_a_user() {
    let stack = Stack::start(StackOptions { sources: vec!["torznab", "stremthru"], ..Default::default() }).await;
    let indexer = json!({"n": "jackett", "u": stack.user_torznab.torznab_url(), "ak": USER_INDEXER_KEY});
    let configs = [
        json!({"stores": [{"c": "tb", "auth": USER}]}),
        json!({"stores": [{"c": "tb", "t": TOKEN}], "indexers": [indexer]}),
    ]
    .map(|c| Stack::config(&c));
    for config in &configs {
        let streams = get_streams(&stack.stream_url(config, "movie", MOVIE)).await;
        assert!(with_hash(&streams, MOVIE_WEB_STREMTHRU_ONLY).is_some(), "{streams:#?}");
        get_streams(&stack.stream_url(config, "series", &format!("{SERIES}:1:3"))).await;
    }

    let received = stack.stremthru.received();
    assert!(!received.is_empty());
    for request in &received {
        let text = request.text();
        for secret in [TOKEN, POOL_KEY, POOL_KEY_ID, USER, USER_INDEXER_KEY, INDEXER_KEY, INTERNAL_API_KEY] {
            assert!(!text.contains(secret), "{secret} reached StremThru:\n{text}");
        }
        for config in &configs {
            assert!(!text.contains(config.as_str()), "a user config reached StremThru:\n{text}");
        }
        assert_eq!((request.method.as_str(), request.path.as_str()), ("GET", "/v0/torrents"));
        assert!(request.query.starts_with("sid=tt") && !request.query.contains('&'), "only the id: {text}");
        for header in ["authorization", "cookie", "x-forwarded-for", "x-real-ip"] {
            assert!(!request.headers.contains_key(header), "{header} sent:\n{text}");
        }
    }
}

#[tokio::test]
async fn a_listing_is_kept_per_title_and_a_failure_is_a_warning() {
    let stack = stremthru_only("").await;
    // Different user indexers miss the host's own sources cache; the plugin's listing is kept.
    let plain = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));
    let indexer = json!({"n": "jackett", "u": stack.user_torznab.torznab_url(), "ak": USER_INDEXER_KEY});
    let with_indexer = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}], "indexers": [indexer]}));
    get_streams(&stack.stream_url(&plain, "movie", MOVIE)).await;
    let streams = get_streams(&stack.stream_url(&with_indexer, "movie", MOVIE)).await;
    assert!(with_hash(&streams, MOVIE_WEB_STREMTHRU_ONLY).is_some(), "{streams:#?}");
    assert_eq!(stack.stremthru.sids(), [MOVIE], "the second list reused the listing (max-age=7200)");

    stack.stremthru.set_mode(Mode::Error500);
    let streams = get_streams(&stack.stream_url(&plain, "series", &format!("{SERIES}:1:4"))).await;
    let shown = warnings(&streams);
    assert_eq!(shown.len(), 1, "{streams:#?}");
    assert!(shown[0].contains("StremThru failed: HTTP 500: database is locked"), "{shown:?}");
}

#[tokio::test]
async fn calls_beyond_the_budget_are_not_made() {
    let stack = stremthru_only("requests_per_minute = 2").await;
    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));
    for episode in 1..=3 {
        get_streams(&stack.stream_url(&config, "series", &format!("{SERIES}:1:{episode}"))).await;
    }
    assert_eq!(stack.stremthru.sids().len(), 2, "{:?}", stack.stremthru.sids());
    let streams = get_streams(&stack.stream_url(&config, "series", &format!("{SERIES}:1:5"))).await;
    let shown = warnings(&streams);
    assert!(shown.iter().any(|w| w.contains("budget")), "{streams:#?}");
    assert_eq!(stack.stremthru.sids().len(), 2);
}

#[tokio::test]
async fn an_uncached_torrent_names_its_file_from_the_database() {
    let stack = stremthru_only("").await;
    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));
    let streams = get_streams(&stack.stream_url(&config, "series", &format!("{SERIES}:1:5"))).await;
    let pack = with_hash(&streams, SEASON_1_WEB_PACK_UNCACHED).unwrap_or_else(|| panic!("{streams:#?}"));
    assert!(!pack["name"].as_str().unwrap().starts_with("⚡️"), "TorBox does not have it: {pack:#?}");
    assert_eq!(pack["behaviorHints"]["filename"], "Breaking.S01E05.mkv", "the database's file: {pack:#?}");
    assert_eq!(pack["behaviorHints"]["videoSize"], 1_500_000_000u64, "{pack:#?}");
    assert!(pack["url"].as_str().unwrap().contains("Breaking.S01E05.mkv"), "{pack:#?}");
}
