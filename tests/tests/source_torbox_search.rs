//! The `torbox-search` source end to end, against a fake of TorBox's search API: it searches
//! with the operator's key only (never a user's token or pool key), shares its results across
//! users (one key, so no result belongs to one credential), and its streams play through TorBox.

use chillproxy_tests::client::http;
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

async fn get_streams(url: &str) -> Vec<Value> {
    let response = http().get(url).header("user-agent", "Stremio/4.4.168 (Windows)").send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let body: Value = response.json().await.unwrap();
    chillproxy_tests::stremio_check::check_stream_list(&body).unwrap_or_else(|e| panic!("{url}: {e}"));
    body["streams"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn searches_with_the_operators_key_only_and_plays_through_torbox() {
    let stack = Stack::start(StackOptions { sources: vec!["torbox-search"], ..Default::default() }).await;
    let configs = [json!({"stores": [{"c": "tb", "t": TOKEN}]}), json!({"stores": [{"c": "tb", "auth": USER}]})]
        .map(|c| Stack::config(&c));
    for config in &configs {
        let streams = get_streams(&stack.stream_url(config, "movie", MOVIE)).await;
        assert_eq!(streams.len(), 1, "{streams:#?}");
        let stream = &streams[0];
        assert!(stream["description"].as_str().unwrap().contains("TorBox search"), "{stream:#?}");
        let url = stream["url"].as_str().unwrap();
        assert!(url.contains(MOVIE_2160), "{stream:#?}");
        let response = http().get(url).header("user-agent", "mpv/0.38").send().await.unwrap();
        assert_eq!(response.status(), 302);
    }

    let received = stack.torbox_search.received();
    assert_eq!(received.len(), 1, "one search for both users: {received:?}");
    let request = &received[0];
    assert_eq!(request.path, format!("/torrents/imdb:{MOVIE}"));
    assert_eq!(request.headers.get("authorization"), Some(&format!("Bearer {SEARCH_KEY}")));
    for secret in [TOKEN, POOL_KEY, USER, INTERNAL_API_KEY] {
        assert!(!request.text().contains(secret), "{secret} reached the search API");
    }
    // An episode nobody indexed: 404 is "no results", not a failure.
    let streams = get_streams(&stack.stream_url(&configs[0], "series", &format!("{SERIES}:1:3"))).await;
    assert!(streams.is_empty(), "{streams:#?}");
    assert!(stack.torbox_search.received()[1].query.contains("season=1&episode=3"));
}
