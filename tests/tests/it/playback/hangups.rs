//! Clients that hang up must not wedge the server (issue 9). For each shared flight (cache check,
//! source search, Chillstreams get-key, playback resolution): with its upstream slow and
//! `max_in_flight = 2`, four clients start requests for distinct work and close their sockets after
//! 150 ms. The abandoned work must still run to its end and give its permits back: the fake sees
//! every abandoned call, then a normal request for new work gets its streams (or redirect) with
//! no ⚠️, and the fake sees that new call.

use std::time::{Duration, Instant};

use chillproxy_tests::client::{http, wait_until, warning_descriptions};
use chillproxy_tests::fakes::chillstreams::Mode as ChillMode;
use chillproxy_tests::fakes::torbox::{Fault, CHECKCACHED, CREATETORRENT};
use chillproxy_tests::fakes::torznab::{Mode as TorznabMode, Release};
use chillproxy_tests::stack::*;
use futures::future::join_all;
use serde_json::{json, Value};

/// Clients that hang up, one per piece of distinct work; twice the permits.
const HANGUPS: usize = 4;
/// How slow the upstream is while they hang up: two rounds of it fit every upstream timeout of
/// the stack (Chillstreams 1 s, Torznab 1.5 s, TorBox 2 s), so no abandoned call times out.
const SLOW: Duration = Duration::from_millis(400);

fn title(i: usize) -> String {
    format!("tt{:07}", 9_100_000 + i)
}

fn hash(i: usize) -> String {
    format!("{:040x}", 0xfeed_0000_u64 + i as u64)
}

/// Distinct movies, each with one cached release at the fake TorBox and the operator's indexer.
fn seed_titles(stack: &Stack, count: usize) {
    for i in 0..count {
        let name = format!("Hangup.Movie.{i}.2001.1080p.BluRay.x264-GRP");
        stack.torbox.add_cached(&hash(i), &name, &[(&format!("{name}.mkv"), 2_000_000_000 + i as u64)]);
        stack.torznab.add_release(Release::movie(&title(i), &name, &hash(i)).size(2_000_000_000).seeders(10));
    }
}

fn token_config() -> String {
    Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}))
}

async fn streams_of(url: &str, user_agent: &str) -> Vec<Value> {
    let response = http().get(url).header("user-agent", user_agent).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["streams"].as_array().cloned().unwrap_or_default()
}

/// GETs that give up after 150 ms, as a Stremio client closing the list does.
async fn hang_up_on(urls: Vec<(String, String)>) {
    let impatient = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let results = join_all(urls.iter().map(|(url, ua)| impatient.get(url).header("user-agent", ua).send())).await;
    assert!(results.iter().all(|r| r.as_ref().err().is_some_and(|e| e.is_timeout())), "every client hung up");
}

/// A normal client after the hang-ups: its streams, no ⚠️, well within the upstream timeouts.
async fn normal_list(stack: &Stack, config: &str, id: &str, user_agent: &str) -> Vec<Value> {
    let started = Instant::now();
    let list = streams_of(&stack.stream_url(config, "movie", id), user_agent).await;
    assert!(warning_descriptions(&list).is_empty(), "{list:#?}");
    assert!(list.iter().any(|s| s["url"].is_string()), "{list:#?}");
    // Not wedged: well within the upstream timeouts (a wedged flight would hang or time out).
    assert!(started.elapsed() < Duration::from_millis(4_000), "took {:?}", started.elapsed());
    list
}

#[tokio::test]
async fn abandoned_cache_checks_release_their_permits() {
    let options =
        StackOptions { table_settings: vec![("[store.torbox]", "max_in_flight = 2".into())], ..Default::default() };
    let stack = Stack::start(options).await;
    seed_titles(&stack, HANGUPS + 1);
    let config = token_config();
    stack.torbox.set_fault(Fault::Hang(SLOW));
    hang_up_on((0..HANGUPS).map(|i| (stack.stream_url(&config, "movie", &title(i)), "Stremio".into())).collect()).await;
    stack.torbox.set_fault(Fault::None);

    wait_until("every abandoned cache check reached TorBox", || stack.torbox.count(CHECKCACHED) == HANGUPS).await;
    normal_list(&stack, &config, &title(HANGUPS), "Stremio").await;
    assert_eq!(stack.torbox.count(CHECKCACHED), HANGUPS + 1, "the new title's check reached TorBox");

    // The abandoned checks filled the cache: their titles need no second check.
    tokio::time::sleep(SLOW).await;
    normal_list(&stack, &config, &title(0), "Stremio").await;
    assert_eq!(stack.torbox.count(CHECKCACHED), HANGUPS + 1, "an abandoned check's answer was kept");
}

#[tokio::test]
async fn abandoned_source_searches_release_their_permits() {
    let options =
        StackOptions { table_settings: vec![("[source.torznab]", "max_in_flight = 2".into())], ..Default::default() };
    let stack = Stack::start(options).await;
    seed_titles(&stack, HANGUPS + 1);
    let config = token_config();
    stack.torznab.set_mode(TorznabMode::Slow(SLOW));
    hang_up_on((0..HANGUPS).map(|i| (stack.stream_url(&config, "movie", &title(i)), "Stremio".into())).collect()).await;
    stack.torznab.set_mode(TorznabMode::Normal);

    // Searches by id (`t=movie`); the caps are read before them, once or a few times at first.
    wait_until("every abandoned search reached the indexer", || stack.torznab.count_t("movie") == HANGUPS).await;
    normal_list(&stack, &config, &title(HANGUPS), "Stremio").await;
    assert_eq!(stack.torznab.count_t("movie"), HANGUPS + 1, "the new title's search reached the indexer");
}

#[tokio::test]
async fn abandoned_get_key_calls_release_their_permits() {
    let options = StackOptions { chillstreams_settings: "max_in_flight = 2".into(), ..Default::default() };
    let stack = Stack::start(options).await;
    // Distinct users: distinct get-key flights.
    let users: Vec<String> = (0..=HANGUPS).map(|i| format!("00000000-0000-4000-8000-0000000001{i:02}")).collect();
    for user in &users {
        stack.chillstreams.add_user(user, POOL_KEY, POOL_KEY_ID);
    }
    let config = |user: &str| Stack::config(&json!({"stores": [{"c": "tb", "auth": user}]}));
    stack.chillstreams.set_mode(ChillMode::Slow(SLOW));
    hang_up_on(
        users[..HANGUPS].iter().map(|u| (stack.stream_url(&config(u), "movie", MOVIE), "Stremio".into())).collect(),
    )
    .await;
    stack.chillstreams.set_mode(ChillMode::Normal);

    wait_until("every abandoned get-key reached Chillstreams", || stack.chillstreams.get_key_calls().len() == HANGUPS)
        .await;
    let list = normal_list(&stack, &config(&users[HANGUPS]), MOVIE, "Stremio").await;
    assert_eq!(list.len(), 4, "{list:#?}");
    assert_eq!(stack.chillstreams.get_key_calls().len(), HANGUPS + 1, "the new user's get-key reached Chillstreams");
}

#[tokio::test]
async fn abandoned_playback_resolutions_release_their_permits() {
    let options =
        StackOptions { table_settings: vec![("[store.torbox]", "max_in_flight = 2".into())], ..Default::default() };
    let stack = Stack::start(options).await;
    seed_titles(&stack, HANGUPS + 1);
    let config = token_config();
    let mut plays = Vec::new();
    for i in 0..=HANGUPS {
        let list = streams_of(&stack.stream_url(&config, "movie", &title(i)), "Stremio").await;
        let url = list.iter().filter_map(|s| s["url"].as_str()).find(|u| u.contains(&hash(i))).unwrap();
        plays.push(url.to_string());
    }
    stack.torbox.set_fault(Fault::Hang(SLOW));
    hang_up_on(plays[..HANGUPS].iter().map(|url| (url.clone(), "mpv".into())).collect()).await;
    stack.torbox.set_fault(Fault::None);

    wait_until("every abandoned playback reached createtorrent", || stack.torbox.count(CREATETORRENT) == HANGUPS).await;
    let started = Instant::now();
    let response = http().get(&plays[HANGUPS]).header("user-agent", "mpv").send().await.unwrap();
    assert_eq!(response.status(), 302, "{:?}", response.text().await);
    assert!(response.headers()["location"].to_str().unwrap().contains("/cdn/"));
    // Not wedged: well within the upstream timeouts (a wedged flight would hang or time out).
    assert!(started.elapsed() < Duration::from_millis(4_000), "took {:?}", started.elapsed());
    assert_eq!(stack.torbox.count(CREATETORRENT), HANGUPS + 1, "the new play's createtorrent reached TorBox");

    // A viewer who left mid-resolution did not block the next viewer of the same file.
    let response = http().get(&plays[0]).header("user-agent", "mpv").send().await.unwrap();
    assert_eq!(response.status(), 302);
}
