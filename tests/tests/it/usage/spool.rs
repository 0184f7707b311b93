//! The durable usage spool end to end: the real host and the fakes on 127.0.0.1, usage events
//! from real playbacks, Chillstreams' `log-usage` failing and coming back, chillproxy restarted
//! in-process on the same spool file. Assertions are on counts (at the fake and in the spool's
//! counters), never on timings.
//!
//! The spool-full case captures logs with a global subscriber, so it lives in its own test
//! binary (`usage_spool_full.rs`).

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use chillproxy_tests::client::{http, wait_until as wait_for};
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const STREMIO_UA: &str = "Stremio/4.4.168 (Windows)";
const PLAYER_UA: &str = "mpv/0.38";

/// Short backoff so that a test finishes in seconds.
const FAST_USAGE: &str = "[usage]\nmax_in_flight = 4\nbackoff_initial_ms = 10\nbackoff_max_ms = 100\n";

/// The playback URL of the cached 1080p movie, for a Chillstreams user.
async fn cached_movie_url(stack: &Stack) -> String {
    let config = Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}));
    let response =
        http().get(stack.stream_url(&config, "movie", MOVIE)).header("user-agent", STREMIO_UA).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let streams = body["streams"].as_array().cloned().unwrap_or_default();
    streams
        .iter()
        .filter_map(|s| s["url"].as_str())
        .find(|u| u.contains(MOVIE_1080))
        .unwrap_or_else(|| panic!("no cached 1080p stream in {streams:#?}"))
        .to_string()
}

/// Plays the movie; `n` varies the requested file name (the file is still picked by its index),
/// so each play is its own playback resolution even where chillproxy reuses resolved links.
async fn play(url: &str, n: usize) {
    let (base, _name) = url.rsplit_once('/').unwrap();
    let url = format!("{base}/play-{n}.mkv");
    let response = http().get(&url).header("user-agent", PLAYER_UA).send().await.unwrap();
    assert_eq!(response.status(), 302, "{url}");
}

fn counter(stack: &Stack, pick: fn(&chillproxy_usage::UsageCounters) -> &std::sync::atomic::AtomicU64) -> u64 {
    pick(stack.host.state.usage().counters()).load(Ordering::SeqCst)
}

fn event_ids(reports: &[Value]) -> Vec<String> {
    reports.iter().map(|r| r["eventId"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_survive_an_outage_and_a_restart_and_are_delivered_exactly_once() {
    let mut stack = Stack::start(StackOptions { extra_toml: FAST_USAGE.into(), ..Default::default() }).await;
    let spool_path = stack.host.state.usage().path().to_path_buf();
    stack.chillstreams.set_usage_status(503);

    let url = cached_movie_url(&stack).await;
    for n in 0..100 {
        play(&url, n).await;
    }
    wait_for("100 recorded events", || counter(&stack, |c| &c.recorded) == 100).await;
    wait_for("a failed delivery", || counter(&stack, |c| &c.failed_attempts) >= 1).await;
    assert!(!stack.chillstreams.usage_attempts().is_empty(), "chillproxy tried to deliver");
    assert!(stack.chillstreams.usage_reports().is_empty(), "Chillstreams accepted nothing while down");
    assert_eq!(stack.host.state.usage().depth(), 100);
    assert_eq!(counter(&stack, |c| &c.delivered), 0);

    // chillproxy restarts on the same spool file; the events are still there.
    stack.host.restart().await;
    assert_eq!(stack.host.state.usage().path(), spool_path);
    assert_eq!(stack.host.state.usage().depth(), 100, "the events survived the restart");

    // Chillstreams comes back.
    stack.chillstreams.set_usage_status(200);
    wait_for("the spool to drain", || stack.host.state.usage().depth() == 0).await;
    let reports = stack.chillstreams.usage_reports();
    let ids = event_ids(&reports);
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 100, "100 distinct events");
    assert_eq!(reports.len(), 100, "none delivered twice");
    assert_eq!(counter(&stack, |c| &c.delivered), 100);
    for (report, id) in reports.iter().zip(&ids) {
        let uuid_v4 = id.len() == 36 && id.as_bytes()[14] == b'4' && id.matches('-').count() == 4;
        assert!(uuid_v4, "eventId {id:?} is a UUID v4");
        assert_eq!(report["userId"], USER);
        assert_eq!(report["poolKeyId"], POOL_KEY_ID);
        assert_eq!(report["action"], "stream-served");
        assert_eq!(report["hash"], MOVIE_1080);
        assert_eq!(report["bytes"], MOVIE_1080_BYTES);
    }
    assert_eq!(counter(&stack, |c| &c.dropped_full), 0);
    assert_eq!(counter(&stack, |c| &c.dropped_rejected), 0);
    assert_eq!(counter(&stack, |c| &c.dropped_error), 0);

    // A clean stop leaves an empty spool behind.
    stack.host.restart().await;
    assert_eq!(stack.host.state.usage().depth(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_event_is_removed_and_counted_not_retried() {
    let stack = Stack::start(StackOptions { extra_toml: FAST_USAGE.into(), ..Default::default() }).await;
    stack.chillstreams.set_usage_status(400);
    let url = cached_movie_url(&stack).await;

    play(&url, 0).await;
    wait_for("the rejection", || counter(&stack, |c| &c.dropped_rejected) == 1).await;
    wait_for("the spool to drain", || stack.host.state.usage().depth() == 0).await;
    assert_eq!(stack.chillstreams.usage_attempts().len(), 1);
    assert_eq!(counter(&stack, |c| &c.failed_attempts), 0, "a rejection is not a retryable failure");

    // The next event goes through; the rejected one was never tried again.
    stack.chillstreams.set_usage_status(200);
    play(&url, 1).await;
    wait_for("the delivery", || counter(&stack, |c| &c.delivered) == 1).await;
    wait_for("the spool to drain", || stack.host.state.usage().depth() == 0).await;
    let attempts = stack.chillstreams.usage_attempts();
    assert_eq!(attempts.len(), 2, "{attempts:#?}");
    assert_ne!(attempts[0].body["eventId"], attempts[1].body["eventId"]);
    assert_eq!(stack.chillstreams.usage_reports().len(), 1);
    assert_eq!(counter(&stack, |c| &c.dropped_rejected), 1);

    stack.host.stop().await;
}
