//! Acquire on demand: with `"cached": true, "acquire": true` and nothing cached, the list starts
//! the best release downloading (one create) and shows one "⏳ Downloading" stream; its playback
//! says "still downloading" until TorBox has it, then plays. One acquisition per (user, title).

use chillproxy_tests::client::http;
use chillproxy_tests::fakes::torbox::CREATETORRENT;
use chillproxy_tests::fakes::torznab::Release;
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const TITLE: &str = "tt0068646";
const HASH_1080: &str = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0";
const HASH_720: &str = "e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0";
const NAME_1080: &str = "The.Godfather.1972.1080p.BluRay.x264-GRP";
const NAME_720: &str = "The.Godfather.1972.720p.WEB-DL.x264-GRP";

async fn streams(url: &str) -> Vec<Value> {
    let body: Value = http().get(url).send().await.unwrap().json().await.unwrap();
    body["streams"].as_array().cloned().unwrap_or_default()
}

async fn play(url: &str) -> (u16, String) {
    let response = http().get(url).header("user-agent", "mpv/0.38").send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn nothing_cached_starts_one_download_and_plays_it_once_ready() {
    // Failed plays are not remembered here, so the second play asks TorBox again.
    let options = StackOptions { table_settings: vec![("[playback]", "error_ttl_s = 0".into())], ..Default::default() };
    let stack = Stack::start(options).await;
    stack.torznab.add_releases([
        Release::movie(TITLE, NAME_1080, HASH_1080).size(9_000_000_000).seeders(40),
        Release::movie(TITLE, NAME_720, HASH_720).size(2_000_000_000).seeders(90),
    ]);
    // Playback polls every 20 ms for 3 s: 170 polls outlast the first play.
    stack.torbox.add_uncached(HASH_1080, NAME_1080, &[(&format!("{NAME_1080}.mkv"), 9_000_000_000)], 170);
    stack.torbox.add_uncached(HASH_720, NAME_720, &[(&format!("{NAME_720}.mkv"), 2_000_000_000)], 1);

    // Cached only, without acquire: nothing, and nothing added.
    let cached_only = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}], "cached": true}));
    assert!(streams(&stack.stream_url(&cached_only, "movie", TITLE)).await.is_empty());
    assert_eq!(stack.torbox.count(CREATETORRENT), 0);

    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}], "cached": true, "acquire": true}));
    let url = stack.stream_url(&config, "movie", TITLE);
    let list = streams(&url).await;
    assert_eq!(list.len(), 1, "{list:#?}");
    let description = list[0]["description"].as_str().unwrap();
    assert_eq!(description, format!("⏳ Downloading {NAME_1080} — ready in a few minutes"));
    let creates = stack.torbox.calls_to(CREATETORRENT);
    assert_eq!(creates.len(), 1);
    assert!(creates[0].form_param("magnet").unwrap().to_ascii_lowercase().contains(HASH_1080));

    // Listed again: the same stream, no second download.
    let again = streams(&url).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["description"], list[0]["description"]);
    assert_eq!(stack.torbox.count(CREATETORRENT), 1, "one acquisition per user and title");

    // Its playback says "still downloading" until TorBox has it, then plays.
    let stream_url = list[0]["url"].as_str().unwrap();
    let (status, body) = play(stream_url).await;
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("still downloading"), "{body}");
    let (status, body) = play(stream_url).await;
    assert_eq!(status, 302, "{body}");
    assert_eq!(stack.torbox.count(CREATETORRENT), 1, "played from the account");
}
