//! The `torbox-search` source end to end, against a fake of TorBox's search API. By default it
//! searches with the request's TorBox credential (the user's own token, or the pool key
//! Chillstreams granted), asks for TorBox's cached state in the same call, and the stream list
//! then takes that answer without a second cache check; results are kept per credential. With
//! `credential = "operator"` it uses the operator's key only, shared by everyone. Its streams
//! play through TorBox.

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

async fn play(url: &str) -> u16 {
    http().get(url).header("user-agent", "mpv/0.38").send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn searches_with_the_requests_torbox_credential_and_takes_its_cached_answer() {
    let stack = Stack::start(StackOptions { sources: vec!["torbox-search"], ..Default::default() }).await;
    let users = [
        (json!({"stores": [{"c": "tb", "t": TOKEN}]}), TOKEN),
        (json!({"stores": [{"c": "tb", "auth": USER}]}), POOL_KEY),
    ];
    for (config, key) in &users {
        let config = Stack::config(config);
        let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
        assert_eq!(streams.len(), 2, "{streams:#?}");
        let cached = &streams[0];
        assert!(cached["name"].as_str().unwrap().contains('⚡'), "cached first: {streams:#?}");
        assert!(cached["description"].as_str().unwrap().contains("TorBox search"), "{cached:#?}");
        assert!(cached["url"].as_str().unwrap().contains(MOVIE_2160), "{cached:#?}");
        assert!(!streams[1]["name"].as_str().unwrap().contains('⚡'), "{streams:#?}");
        assert!(streams[1]["url"].as_str().unwrap().contains(MOVIE_720_UNCACHED), "{streams:#?}");
        assert_eq!(play(cached["url"].as_str().unwrap()).await, 302);

        let last = stack.torbox_search.received().last().cloned().unwrap();
        assert_eq!(last.path, format!("/torrents/imdb:{MOVIE}"));
        assert_eq!(last.headers.get("authorization"), Some(&format!("Bearer {key}")), "the request's credential");
        assert!(last.query.contains("check_cache=true"), "{last:?}");
        for secret in [USER, INTERNAL_API_KEY, SEARCH_KEY] {
            assert!(!last.text().contains(secret), "{secret} reached the search API");
        }
    }
    // One search per credential, and TorBox itself was asked only about the hash the search
    // did not call cached.
    assert_eq!(stack.torbox_search.received().len(), 2);
    let asked: Vec<String> = stack.torbox.checkcached_batches().concat();
    assert!(!asked.iter().any(|h| h == MOVIE_2160), "the search's cached answer was checked again: {asked:?}");
    assert!(asked.iter().any(|h| h == MOVIE_720_UNCACHED), "{asked:?}");

    // The same user again: served from the cache, no new search.
    let config = Stack::config(&users[0].0);
    get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    assert_eq!(stack.torbox_search.received().len(), 2);
    // An episode nobody indexed: 404 is "no results", not a failure.
    let streams = get_streams(&stack.stream_url(&config, "series", &format!("{SERIES}:1:3"))).await;
    assert!(streams.is_empty(), "{streams:#?}");
    assert!(stack.torbox_search.received()[2].query.contains("season=1&episode=3"));
}

#[tokio::test]
async fn a_request_without_a_torbox_credential_does_not_run_it() {
    let stack = Stack::start(StackOptions { sources: vec!["torbox-search"], ..Default::default() }).await;
    // A config naming only another store: no TorBox credential, so nothing to search with.
    let config = Stack::config(&json!({"stores": [{"c": "rd", "t": "rd-user-token"}]}));
    get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    assert!(stack.torbox_search.received().is_empty(), "{:?}", stack.torbox_search.received());
}

#[tokio::test]
async fn with_the_operators_key_it_never_sends_a_users_key_and_shares_results() {
    let stack = Stack::start(StackOptions {
        sources: vec!["torbox-search"],
        table_settings: vec![("[source.torbox-search]", "credential = \"operator\"".into())],
        ..Default::default()
    })
    .await;
    let configs = [json!({"stores": [{"c": "tb", "t": TOKEN}]}), json!({"stores": [{"c": "tb", "auth": USER}]})]
        .map(|c| Stack::config(&c));
    for config in &configs {
        let streams = get_streams(&stack.stream_url(config, "movie", MOVIE)).await;
        assert_eq!(streams.len(), 2, "{streams:#?}");
        assert!(streams[0]["url"].as_str().unwrap().contains(MOVIE_2160), "{streams:#?}");
        assert_eq!(play(streams[0]["url"].as_str().unwrap()).await, 302);
    }
    let received = stack.torbox_search.received();
    assert_eq!(received.len(), 1, "one search for both users: {received:?}");
    assert_eq!(received[0].headers.get("authorization"), Some(&format!("Bearer {SEARCH_KEY}")));
    for secret in [TOKEN, POOL_KEY, USER, INTERNAL_API_KEY] {
        assert!(!received[0].text().contains(secret), "{secret} reached the search API");
    }
}
