//! The usage spool when it is full: new events are dropped with an error log and a counter,
//! never silently. Its own test binary because it installs the global log subscriber.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use chillproxy_tests::client::{http, wait_until as wait_for};
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const STREMIO_UA: &str = "Stremio/4.4.168 (Windows)";
const PLAYER_UA: &str = "mpv/0.38";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_drops_new_events_with_an_error_log_and_a_counter() {
    let buffer = chillproxy_tests::logs::capture();

    let usage = "[usage]\nmax_events = 5\nbackoff_initial_ms = 10\nbackoff_max_ms = 100\n";
    let stack = Stack::start(StackOptions { extra_toml: usage.into(), ..Default::default() }).await;
    stack.chillstreams.set_usage_status(503);
    let spool = stack.host.state.usage().clone();

    let config = Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}));
    let response =
        http().get(stack.stream_url(&config, "movie", MOVIE)).header("user-agent", STREMIO_UA).send().await.unwrap();
    let body: Value = response.json().await.unwrap();
    let url = body["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["url"].as_str())
        .find(|u| u.contains(MOVIE_1080))
        .unwrap()
        .to_string();
    let (base, _name) = url.rsplit_once('/').unwrap();
    for n in 0..8 {
        // A distinct file name per play: each is its own playback resolution.
        let response = http().get(format!("{base}/play-{n}.mkv")).header("user-agent", PLAYER_UA).send().await.unwrap();
        assert_eq!(response.status(), 302, "a full spool never fails playback");
    }

    let counters = spool.counters();
    wait_for("8 events seen", || {
        counters.recorded.load(Ordering::SeqCst) + counters.dropped_full.load(Ordering::SeqCst) == 8
    })
    .await;
    assert_eq!(counters.dropped_full.load(Ordering::SeqCst), 3);
    assert_eq!(counters.recorded.load(Ordering::SeqCst), 5);
    assert_eq!(spool.depth(), 5);
    let logs = buffer.text();
    let dropped: Vec<&str> = logs.lines().filter(|l| l.contains("usage spool is full")).collect();
    assert_eq!(dropped.len(), 3, "{logs}");
    assert!(dropped.iter().all(|l| l.contains("ERROR")), "{dropped:#?}");
    assert!(!logs.contains(POOL_KEY), "no pool key in the logs");

    // Chillstreams comes back: the five kept events are delivered, once each.
    stack.chillstreams.set_usage_status(200);
    wait_for("the spool to drain", || spool.depth() == 0).await;
    let reports = stack.chillstreams.usage_reports();
    let ids: HashSet<&str> = reports.iter().filter_map(|r| r["eventId"].as_str()).collect();
    assert_eq!((reports.len(), ids.len()), (5, 5));
    assert_eq!(counters.delivered.load(Ordering::SeqCst), 5);

    stack.host.stop().await;
}
