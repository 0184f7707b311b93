//! What the player sees when it asks many times (issue 16, points 3 and 4): stream lists carry
//! `Cache-Control`, a played link answers every HEAD and GET of the same tap from the link
//! cache, and a failed playback is remembered briefly so the player's retries cost no upstream
//! call.

use chillproxy_tests::client::http;
use chillproxy_tests::fakes::torbox::{Fault, CREATETORRENT, REQUESTDL};
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

fn token_config() -> String {
    Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}))
}

async fn list(url: &str) -> (Option<String>, Vec<Value>) {
    let response = http().get(url).header("user-agent", "Stremio").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let cache_control = response.headers().get("cache-control").map(|v| v.to_str().unwrap().to_string());
    let body: Value = response.json().await.unwrap();
    (cache_control, body["streams"].as_array().cloned().unwrap_or_default())
}

fn cached_play_url(streams: &[Value]) -> String {
    streams.iter().filter_map(|s| s["url"].as_str()).find(|u| u.contains(MOVIE_1080)).unwrap().to_string()
}

#[tokio::test]
async fn real_lists_are_cacheable_for_minutes_and_warning_lists_briefly() {
    let stack = Stack::start(StackOptions::default()).await;
    let (cache_control, streams) = list(&stack.stream_url(&token_config(), "movie", MOVIE)).await;
    assert!(streams.iter().any(|s| s["url"].is_string()));
    assert_eq!(cache_control.as_deref(), Some("public, max-age=300, stale-while-revalidate=600, stale-if-error=86400"));

    // Only a warning: the store rejects the token.
    stack.torbox.set_fault(Fault::Error { status: 403, code: "BAD_TOKEN".into(), detail: "Invalid token".into() });
    let (cache_control, streams) = list(&stack.stream_url(&token_config(), "series", "tt0903747:1:4")).await;
    assert!(streams.iter().all(|s| s["url"].is_null()), "{streams:#?}");
    assert_eq!(cache_control.as_deref(), Some("public, max-age=30"));

    // An invalid config is a warning too.
    let (cache_control, _) = list(&stack.stream_url("bm90LWpzb24", "movie", MOVIE)).await;
    assert_eq!(cache_control.as_deref(), Some("public, max-age=30"));
}

#[tokio::test]
async fn one_tap_of_head_and_get_requests_resolves_once() {
    let stack = Stack::start(StackOptions::default()).await;
    let (_, streams) = list(&stack.stream_url(&token_config(), "movie", MOVIE)).await;
    let url = cached_play_url(&streams);
    let first = http().get(&url).header("user-agent", "ExoPlayer").send().await.unwrap();
    assert_eq!(first.status(), 302);
    let location = first.headers()["location"].to_str().unwrap().to_string();
    let calls = stack.torbox.calls().len();
    for _ in 0..5 {
        let head = http().head(&url).header("user-agent", "ExoPlayer").send().await.unwrap();
        assert_eq!((head.status().as_u16(), head.headers()["location"].to_str().unwrap()), (302, location.as_str()));
    }
    for _ in 0..20 {
        let get = http().get(&url).header("user-agent", "ExoPlayer").send().await.unwrap();
        assert_eq!((get.status().as_u16(), get.headers()["location"].to_str().unwrap()), (302, location.as_str()));
    }
    assert_eq!(stack.torbox.calls().len(), calls, "no upstream call after the first play");
    assert_eq!(stack.torbox.count(REQUESTDL), 1);
}

#[tokio::test]
async fn a_failed_playback_is_remembered_for_the_players_retries() {
    let stack = Stack::start(StackOptions::default()).await;
    let (_, streams) = list(&stack.stream_url(&token_config(), "movie", MOVIE)).await;
    let url = cached_play_url(&streams);
    stack.torbox.set_fault(Fault::ServerError { status: 500 });
    let first = http().get(&url).header("user-agent", "ExoPlayer").send().await.unwrap();
    let status = first.status();
    assert!(status.is_server_error() || status == 502, "{status}");
    let body = first.text().await.unwrap();
    let calls = stack.torbox.calls().len();
    assert!(calls > 0);
    for _ in 0..10 {
        let again = http().get(&url).header("user-agent", "ExoPlayer").send().await.unwrap();
        assert_eq!(again.status(), status);
        assert_eq!(again.text().await.unwrap(), body);
    }
    assert_eq!(stack.torbox.calls().len(), calls, "the retries made no upstream call");
    assert_eq!(stack.torbox.count(CREATETORRENT), 0);
}
