//! A Chillstreams outage without an outage for users (issue 11): a key Chillstreams granted to
//! a (user, device) within `[auth.chillstreams] stale_if_error_s` is used while Chillstreams
//! fails (5xx, garbage, timeout, breaker open); a new device is told Chillstreams is
//! unavailable, a denial stays a denial, and a key TorBox rejects is dropped.

use std::time::Duration;

use chillproxy_tests::client::{http, warning_descriptions as warnings};
use chillproxy_tests::fakes::chillstreams::Mode as ChillMode;
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const DEVICE: &str = "Stremio/4.4 (living room tv)";

fn auth_config(user: &str) -> String {
    Stack::config(&json!({"stores": [{"c": "tb", "auth": user}]}))
}

async fn streams(url: &str, user_agent: &str) -> Vec<Value> {
    let response = http().get(url).header("user-agent", user_agent).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["streams"].as_array().cloned().unwrap_or_default()
}

fn url_of(streams: &[Value], hash: &str) -> String {
    streams.iter().filter_map(|s| s["url"].as_str()).find(|u| u.contains(hash)).expect("a stream for the hash").into()
}

async fn stale_grants(stack: &Stack) -> f64 {
    let text = http().get(format!("{}/metrics", stack.host.url())).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("chillproxy_auth_stale_grants_total{provider=\"chillstreams\"} "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the stale grant counter is exported")
}

fn settings(lines: &str) -> StackOptions {
    StackOptions { chillstreams_settings: lines.into(), ..Default::default() }
}

#[tokio::test]
async fn a_device_granted_before_the_outage_keeps_streams_and_playback() {
    let stack = Stack::start(settings("key_ttl_s = 1\nbreaker_failures = 4\nbreaker_open_s = 60")).await;
    let movie = stack.stream_url(&auth_config(USER), "movie", MOVIE);
    let list = streams(&movie, DEVICE).await;
    assert!(warnings(&list).is_empty(), "{list:#?}");
    let play = url_of(&list, MOVIE_1080);
    assert_eq!(stack.chillstreams.get_key_calls().len(), 1);
    let counted = stale_grants(&stack).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await; // the grant is no longer cached

    for (mode, what) in [
        (ChillMode::Error500, "HTTP 500"),
        (ChillMode::Garbage, "an unreadable reply"),
        (ChillMode::Slow(Duration::from_millis(1_500)), "a timeout"),
    ] {
        stack.chillstreams.set_mode(mode);
        let list = streams(&movie, DEVICE).await;
        assert!(warnings(&list).is_empty(), "[{what}] nothing alarming: {:?}", warnings(&list));
        assert_eq!(list.len(), 4, "[{what}]");
    }
    // Playback too (the player is another client; the URL's device binding names the device).
    let response = http().get(&play).header("user-agent", "mpv/0.38").send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert!(stack.torbox.calls().iter().all(|c| c.bearer() == Some(POOL_KEY)));
    assert_eq!(stack.chillstreams.get_key_calls().len(), 5, "one grant, four failures");

    // The breaker is open now: Chillstreams is not asked, and the device still gets streams.
    let list = streams(&movie, DEVICE).await;
    assert!(warnings(&list).is_empty(), "{:?}", warnings(&list));
    assert_eq!(stack.chillstreams.get_key_calls().len(), 5, "no call while the breaker is open");
    assert!(stale_grants(&stack).await >= counted + 5.0);

    // A device Chillstreams never granted is told what is going on.
    let list = streams(&movie, "Stremio/4.4 (new phone)").await;
    let warning = warnings(&list).into_iter().next().expect("a warning");
    assert!(warning.contains("Chillstreams is unavailable"), "{warning}");
}

#[tokio::test]
async fn a_denial_stays_a_denial_during_an_outage() {
    let stack = Stack::start(settings("key_ttl_s = 1\ndeny_ttl_s = 1")).await;
    let movie = stack.stream_url(&auth_config(USER), "movie", MOVIE);
    assert!(warnings(&streams(&movie, DEVICE).await).is_empty());

    // The user's subscription ends: Chillstreams denies the device that had a key.
    stack.chillstreams.add_inactive_user(USER);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let warning = warnings(&streams(&movie, DEVICE).await).into_iter().next().expect("denied");
    assert!(warning.contains("not active"), "{warning}");

    // Then Chillstreams fails: the key granted before the denial is not used.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    stack.chillstreams.set_mode(ChillMode::Error500);
    let list = streams(&movie, DEVICE).await;
    let warning = warnings(&list).into_iter().next().expect("no streams");
    assert!(warning.contains("Chillstreams is unavailable"), "{warning}");
    assert!(list.iter().all(|s| s.get("url").is_none()), "{list:#?}");
}

#[tokio::test]
async fn a_key_torbox_revokes_during_an_outage_is_dropped() {
    let stack = Stack::start(settings("key_ttl_s = 1")).await;
    let config = auth_config(USER);
    assert!(warnings(&streams(&stack.stream_url(&config, "movie", MOVIE), DEVICE).await).is_empty());
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    stack.chillstreams.set_mode(ChillMode::Error500);
    stack.torbox.state().accounts.remove(POOL_KEY);

    // Another title, so TorBox is asked: it rejects the key, which is forgotten.
    let episode = stack.stream_url(&config, "series", &format!("{SERIES}:1:3"));
    let warning = warnings(&streams(&episode, DEVICE).await).into_iter().next().expect("rejected");
    assert!(warning.contains("TorBox rejected the API key"), "{warning}");
    let warning = warnings(&streams(&episode, DEVICE).await).into_iter().next().expect("no key left");
    assert!(warning.contains("Chillstreams is unavailable"), "{warning}");
}

#[tokio::test]
async fn stale_if_error_s_bounds_the_fallback_and_zero_turns_it_off() {
    let stack = Stack::start(settings("key_ttl_s = 1\nstale_if_error_s = 2")).await;
    let movie = stack.stream_url(&auth_config(USER), "movie", MOVIE);
    assert!(warnings(&streams(&movie, DEVICE).await).is_empty());
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    stack.chillstreams.set_mode(ChillMode::Error500);
    assert!(warnings(&streams(&movie, DEVICE).await).is_empty(), "within stale_if_error_s");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let warning = warnings(&streams(&movie, DEVICE).await).into_iter().next().expect("too old");
    assert!(warning.contains("Chillstreams is unavailable"), "{warning}");

    let stack = Stack::start(settings("key_ttl_s = 1\nstale_if_error_s = 0")).await;
    let movie = stack.stream_url(&auth_config(USER), "movie", MOVIE);
    assert!(warnings(&streams(&movie, DEVICE).await).is_empty());
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    stack.chillstreams.set_mode(ChillMode::Error500);
    let warning = warnings(&streams(&movie, DEVICE).await).into_iter().next().expect("off");
    assert!(warning.contains("Chillstreams is unavailable"), "{warning}");
}
