//! The outbound URL policy (issue 15) end to end: a canary HTTP server on 127.0.0.1 must receive
//! no request when users' configs name it as an indexer, in any spelling of a loopback address,
//! or through an admitted indexer that redirects to it; each case shows its ⚠️. With
//! `allow_private_user_urls = true` the canary is reached.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;
use axum::Router;
use chillproxy_tests::client::{http, warning_descriptions as warnings};
use chillproxy_tests::fakes::{serve, Running};
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

/// Counts every request it gets and answers an empty feed.
async fn canary() -> (Running, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let router = Router::new().fallback(any(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            ([(header::CONTENT_TYPE, "application/rss+xml")], "<rss><channel></channel></rss>")
        }
    }));
    (serve(router).await, hits)
}

/// Redirects every request to `target`.
async fn redirector(target: String) -> Running {
    let router = Router::new().fallback(any(move || {
        let target = target.clone();
        async move { (StatusCode::FOUND, [(header::LOCATION, target)]).into_response() }
    }));
    serve(router).await
}

async fn streams_with_indexer(stack: &Stack, url: &str) -> Vec<Value> {
    let config = Stack::config(&json!({
        "stores": [{"c": "tb", "t": TOKEN}],
        "indexers": [{"n": "mine", "u": url, "ak": USER_INDEXER_KEY}],
    }));
    let response = http()
        .get(stack.stream_url(&config, "movie", MOVIE))
        .header("user-agent", "Stremio/4.4.168 (Windows)")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["streams"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn user_urls_never_reach_the_servers_own_network() {
    let (canary, hits) = canary().await;
    let port = canary.url().rsplit(':').next().unwrap().to_string();
    let allowed = redirector(format!("http://127.0.0.1:{port}/api?t=movie")).await;
    let allowed_host = allowed.url().trim_start_matches("http://").to_string();
    let stack = Stack::start(StackOptions {
        server_settings: format!("user_url_allow = [{allowed_host:?}]"),
        ..Default::default()
    })
    .await;

    for url in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
        format!("http://0.0.0.0:{port}"),
        format!("http://[::ffff:127.0.0.1]:{port}"),
        format!("http://2130706433:{port}"),
        format!("http://0x7f000001:{port}"),
        format!("http://0177.0.0.1:{port}"),
        // Admitted itself, but its redirect to the canary is checked again.
        format!("http://{allowed_host}"),
    ] {
        let streams = streams_with_indexer(&stack, &url).await;
        let warned = warnings(&streams);
        assert!(
            warned.iter().any(|w| w.contains("address, which this server does not call for users")),
            "{url}: {warned:?}"
        );
        // The operator's own indexer (also on loopback) is trusted: its streams are still there.
        assert!(streams.iter().any(|s| s.get("url").is_some()), "{url}: {streams:#?}");
        assert_eq!(hits.load(Ordering::SeqCst), 0, "{url} reached the canary");
    }
    let warned = warnings(&streams_with_indexer(&stack, &format!("http://{allowed_host}")).await).join(" ");
    assert!(!warned.contains(&port), "the reason never repeats the URL: {warned}");
}

#[tokio::test]
async fn allowing_private_urls_reaches_the_canary() {
    let (canary, hits) = canary().await;
    let stack =
        Stack::start(StackOptions { server_settings: "allow_private_user_urls = true".into(), ..Default::default() })
            .await;
    let streams = streams_with_indexer(&stack, &canary.url()).await;
    assert!(hits.load(Ordering::SeqCst) >= 1, "{streams:#?}");
    assert!(!warnings(&streams).iter().any(|w| w.contains("does not call for users")), "{:?}", warnings(&streams));
}
