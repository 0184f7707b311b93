//! The `stremio-addon` source end to end: the real host reads a fake Stremio addon in
//! Torrentio's shape (the addon protocol's `/stream/{type}/{id}.json`), lists its torrents with
//! seeders and size from the stream text, plays them through TorBox, and sends the addon nothing
//! of a user.

use chillproxy_tests::client::{http, warning_descriptions as warnings};
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

async fn get_streams(url: &str) -> Vec<Value> {
    let response = http().get(url).header("user-agent", "Stremio/4.4.168 (Windows)").send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let body: Value = response.json().await.unwrap();
    chillproxy_tests::stremio_check::check_stream_list(&body).unwrap_or_else(|e| panic!("{url}: {e}"));
    body["streams"].as_array().cloned().unwrap_or_default()
}

fn with_hash<'a>(streams: &'a [Value], hash: &str) -> Option<&'a Value> {
    streams.iter().find(|s| s["url"].as_str().is_some_and(|u| u.contains(hash)))
}

#[tokio::test]
async fn lists_an_addons_torrents_and_plays_them_through_torbox() {
    let stack = Stack::start(StackOptions { sources: vec!["stremio-addon"], ..Default::default() }).await;
    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));

    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    assert!(warnings(&streams).is_empty(), "{streams:#?}");
    assert_eq!(streams.len(), 1, "only the torrent stream, not the addon's debrid link: {streams:#?}");
    let movie = with_hash(&streams, MOVIE_ADDON_ONLY).unwrap_or_else(|| panic!("{streams:#?}"));
    assert!(movie["name"].as_str().unwrap().starts_with("⚡️ [TB]"), "{movie:#?}");
    let description = movie["description"].as_str().unwrap();
    assert!(description.contains("👤 12") && description.contains("🔍 Torrentio"), "{description}");

    let response = http().get(movie["url"].as_str().unwrap()).header("user-agent", "mpv/0.38").send().await.unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(&format!("{}/cdn/", stack.torbox.state().base_url)), "{location}");

    let streams = get_streams(&stack.stream_url(&config, "series", &format!("{SERIES}:1:3"))).await;
    let pack = with_hash(&streams, SEASON_1_PACK).unwrap_or_else(|| panic!("{streams:#?}"));
    assert_eq!(pack["behaviorHints"]["filename"], "Breaking.Bad.S01E03.720p.BluRay.x264.mkv", "{pack:#?}");
    assert_eq!(
        stack.addon.paths(),
        [format!("/stream/movie/{MOVIE}.json"), format!("/stream/series/{SERIES}:1:3.json")]
    );

    stack.addon.set_down(true);
    let streams = get_streams(&stack.stream_url(&config, "series", &format!("{SERIES}:1:4"))).await;
    let shown = warnings(&streams);
    assert_eq!(shown.len(), 1, "{streams:#?}");
    assert!(shown[0].contains("Torrentio failed: HTTP 503"), "{shown:?}");
}

#[tokio::test]
async fn the_addon_never_receives_anything_of_a_user() {
    let stack = Stack::start(StackOptions { sources: vec!["torznab", "stremio-addon"], ..Default::default() }).await;
    let indexer = json!({"n": "jackett", "u": stack.user_torznab.torznab_url(), "ak": USER_INDEXER_KEY});
    let configs = [
        json!({"stores": [{"c": "tb", "auth": USER}]}),
        json!({"stores": [{"c": "tb", "t": TOKEN}], "indexers": [indexer]}),
    ]
    .map(|c| Stack::config(&c));
    for config in &configs {
        let streams = get_streams(&stack.stream_url(config, "movie", MOVIE)).await;
        assert!(with_hash(&streams, MOVIE_ADDON_ONLY).is_some(), "{streams:#?}");
        assert!(with_hash(&streams, MOVIE_1080).is_some(), "the indexer's streams too: {streams:#?}");
    }
    let received = stack.addon.received();
    assert_eq!(received.len(), 1, "the second list reused the addon's answer (max-age=3600): {received:?}");
    for request in &received {
        let text = request.text();
        for secret in [TOKEN, POOL_KEY, POOL_KEY_ID, USER, USER_INDEXER_KEY, INDEXER_KEY, INTERNAL_API_KEY] {
            assert!(!text.contains(secret), "{secret} reached the addon:\n{text}");
        }
        for config in &configs {
            assert!(!text.contains(config.as_str()), "a user config reached the addon:\n{text}");
        }
        assert!(request.query.is_empty(), "{text}");
        for header in ["authorization", "cookie", "x-forwarded-for", "x-real-ip"] {
            assert!(!request.headers.contains_key(header), "{header} sent:\n{text}");
        }
    }

    stack.addon.set_down(true);
    let streams = get_streams(&stack.stream_url(&configs[0], "series", &format!("{SERIES}:1:4"))).await;
    assert!(with_hash(&streams, EPISODE_S01E04).is_some(), "a down addon does not hide the indexer: {streams:#?}");
}
