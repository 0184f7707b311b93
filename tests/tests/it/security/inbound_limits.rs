//! Inbound limits (issue 15, point 4): a client over its stream-list rate gets a ⚠️ stream and
//! costs no upstream call, another client is unaffected, the limits follow the real client IP
//! behind the trusted proxy (every request here arrives from 127.0.0.1 with X-Forwarded-For),
//! and playback over its rate is a 429 with Retry-After.

use chillproxy_tests::client::{http, warning_descriptions};
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

async fn list(stack: &Stack, config: &str, id: &str, client_ip: &str) -> Vec<Value> {
    let response =
        http().get(stack.stream_url(config, "movie", id)).header("x-forwarded-for", client_ip).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["streams"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_client_over_its_rate_is_told_and_costs_nothing_upstream() {
    let options =
        StackOptions { limits: "streams_per_minute = 3\nplayback_per_minute = 2".into(), ..Default::default() };
    let stack = Stack::start(options).await;
    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));
    for i in 1..=3 {
        let streams = list(&stack, &config, &format!("tt100000{i}"), "203.0.113.1").await;
        assert!(warning_descriptions(&streams).iter().all(|w| !w.contains("Too many")), "{streams:#?}");
    }
    let searches = stack.torznab.call_count();
    let limited = list(&stack, &config, "tt1000004", "203.0.113.1").await;
    let warnings = warning_descriptions(&limited);
    assert_eq!(warnings.len(), 1, "{limited:#?}");
    assert!(warnings[0].starts_with("Too many stream lists from here; try again in "), "{}", warnings[0]);
    assert_eq!(stack.torznab.call_count(), searches, "no upstream call over the limit");

    // Another client with its own config: its own buckets.
    let other = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}], "cached": true}));
    let streams = list(&stack, &other, MOVIE, "203.0.113.2").await;
    assert!(streams.iter().any(|s| s["url"].is_string()), "{streams:#?}");
    assert!(stack.torznab.call_count() > searches, "the other client was searched for");

    // Playback: 2 per minute, then 429 with Retry-After.
    let url = streams.iter().filter_map(|s| s["url"].as_str()).next().unwrap().to_string();
    for _ in 0..2 {
        let response = http().get(&url).header("x-forwarded-for", "203.0.113.2").send().await.unwrap();
        assert_eq!(response.status(), 302);
    }
    let response = http().get(&url).header("x-forwarded-for", "203.0.113.2").send().await.unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
}
