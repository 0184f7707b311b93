//! Next episode ready: playing S01E03 adds S01E04's best uncached release in the background (one
//! create), so S01E04 then plays with no create; not for a pool key unless its operator allows
//! it; never past `[store.torbox] reserve_creates`; off with `[playback] prepare_next = false`.

use std::time::Duration;

use chillproxy_tests::client::{http, wait_until};
use chillproxy_tests::fakes::torbox::CREATETORRENT;
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const E04_NAME: &str = "Breaking.Bad.S01E04.1080p.WEB-DL.x264";

/// A stack where S01E04 is not cached on TorBox (the swarm has it).
async fn e04_uncached(options: StackOptions) -> Stack {
    let stack = Stack::start(options).await;
    stack.torbox.add_uncached(EPISODE_S01E04, E04_NAME, &[(&format!("{E04_NAME}.mkv"), 2_000_000_000)], 0);
    stack
}

async fn play_episode(stack: &Stack, config: &str, episode: u32, hash: &str) -> u16 {
    let url = stack.stream_url(config, "series", &format!("{SERIES}:1:{episode}"));
    let list: Value = http().get(&url).send().await.unwrap().json().await.unwrap();
    let stream = list["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["url"].as_str().is_some_and(|u| u.contains(hash)))
        .unwrap_or_else(|| panic!("no stream for {hash}: {list:#}"))
        .clone();
    http().get(stream["url"].as_str().unwrap()).header("user-agent", "mpv/0.38").send().await.unwrap().status().as_u16()
}

fn creates_of(stack: &Stack, hash: &str) -> usize {
    let calls = stack.torbox.calls_to(CREATETORRENT);
    calls.iter().filter(|c| c.form_param("magnet").is_some_and(|m| m.to_ascii_lowercase().contains(hash))).count()
}

#[tokio::test]
async fn playing_an_episode_prepares_the_next_one_and_it_then_plays_with_no_create() {
    let stack = e04_uncached(StackOptions::default()).await;
    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));
    assert_eq!(play_episode(&stack, &config, 3, EPISODE_S01E03).await, 302);
    wait_until("S01E04 added in the background", || creates_of(&stack, EPISODE_S01E04) == 1).await;
    assert_eq!(stack.torbox.count(CREATETORRENT), 2, "S01E03 and S01E04, nothing else");

    // The player's other requests for the same tap add nothing more.
    assert_eq!(play_episode(&stack, &config, 3, EPISODE_S01E03).await, 302);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(creates_of(&stack, EPISODE_S01E04), 1);

    let creates = stack.torbox.count(CREATETORRENT);
    assert_eq!(play_episode(&stack, &config, 4, EPISODE_S01E04).await, 302);
    assert_eq!(stack.torbox.count(CREATETORRENT), creates, "S01E04 played with no create");
}

#[tokio::test]
async fn a_pool_key_prepares_only_when_allowed_and_never_past_the_reserve() {
    let config = Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}));

    // Pool key, not allowed (the default).
    let stack = e04_uncached(StackOptions::default()).await;
    assert_eq!(play_episode(&stack, &config, 3, EPISODE_S01E03).await, 302);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(creates_of(&stack, EPISODE_S01E04), 0, "a pool key is not spent unless allowed");

    // Allowed: prepared.
    let allowed = StackOptions { chillstreams_settings: "prepare_next = true".into(), ..Default::default() };
    let stack = e04_uncached(allowed.clone()).await;
    assert_eq!(play_episode(&stack, &config, 3, EPISODE_S01E03).await, 302);
    wait_until("S01E04 added for the pool key", || creates_of(&stack, EPISODE_S01E04) == 1).await;

    // Allowed, but 11 new downloads an hour and a reserve of 10: after S01E03's, none is spent.
    let tight = StackOptions { table_settings: vec![("[store.torbox]", "creates_per_hour = 11".into())], ..allowed };
    let stack = e04_uncached(tight).await;
    assert_eq!(play_episode(&stack, &config, 3, EPISODE_S01E03).await, 302);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(creates_of(&stack, EPISODE_S01E04), 0, "the reserve of 10 is kept");
}

#[tokio::test]
async fn prepare_next_off_adds_nothing() {
    let options =
        StackOptions { table_settings: vec![("[playback]", "prepare_next = false".into())], ..Default::default() };
    let stack = e04_uncached(options).await;
    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));
    assert_eq!(play_episode(&stack, &config, 3, EPISODE_S01E03).await, 302);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(creates_of(&stack, EPISODE_S01E04), 0);
}
