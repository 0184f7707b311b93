//! Caches and coalescing, proven by counting the calls that reach the fakes (never by timing).

use std::time::Duration;

use chillproxy_tests::client::http;
use chillproxy_tests::fakes::chillstreams::Mode as ChillMode;
use chillproxy_tests::fakes::torbox::{CHECKCACHED, CREATETORRENT, REQUESTDL};
use chillproxy_tests::stack::*;
use futures::future::join_all;
use serde_json::{json, Value};

async fn streams(url: &str, user_agent: &str) -> Vec<Value> {
    let response = http().get(url).header("user-agent", user_agent).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["streams"].as_array().cloned().unwrap_or_default()
}

fn config_for(user: &str) -> String {
    Stack::config(&json!({"stores": [{"c": "tb", "auth": user}]}))
}

fn is_warning(stream: &Value) -> bool {
    stream["name"].as_str().is_some_and(|n| n.starts_with("⚠️"))
}

#[tokio::test]
async fn one_get_key_per_user_and_device_and_one_search_per_title() {
    let stack = Stack::start(StackOptions::default()).await;
    let url = stack.stream_url(&config_for(USER), "movie", MOVIE);
    let round = || join_all((0..100).map(|_| streams(&url, "Stremio/4.4")));

    let lists = round().await;
    assert!(lists.iter().all(|l| l.len() == 4 && !l.iter().any(is_warning)));
    assert_eq!(stack.chillstreams.get_key_calls().len(), 1, "100 concurrent requests, one get-key");
    assert_eq!(stack.torznab.search_count(), 1, "one indexer search for the title");
    assert_eq!(stack.torbox.count(CHECKCACHED), 1, "one cache check");

    tokio::time::sleep(Duration::from_secs(10)).await;
    let lists = round().await;
    assert!(lists.iter().all(|l| l.len() == 4));
    assert_eq!(stack.chillstreams.get_key_calls().len(), 1, "10 s later, still within the key TTL");
    assert_eq!(stack.torznab.search_count(), 1);
    assert_eq!(stack.torbox.count(CHECKCACHED), 1);
}

#[tokio::test]
async fn five_users_three_devices_twenty_requests_make_fifteen_calls() {
    let stack = Stack::start(StackOptions::default()).await;
    let users: Vec<String> = (1..=5).map(|i| format!("00000000-0000-4000-8000-00000000000{i}")).collect();
    for user in &users {
        stack.chillstreams.add_user(user, POOL_KEY, POOL_KEY_ID);
    }
    let mut requests = Vec::new();
    for user in &users {
        for device in ["tv", "phone", "laptop"] {
            for _ in 0..20 {
                requests.push((stack.stream_url(&config_for(user), "movie", MOVIE), format!("Stremio ({device})")));
            }
        }
    }
    let lists = join_all(requests.iter().map(|(url, ua)| streams(url, ua))).await;
    assert_eq!(lists.len(), 300);
    assert!(lists.iter().all(|l| !l.iter().any(is_warning)));
    assert_eq!(stack.chillstreams.get_key_calls().len(), 15);
}

#[tokio::test]
async fn denials_are_cached_for_deny_ttl_and_failures_are_not() {
    let options = StackOptions { chillstreams_settings: "deny_ttl_s = 1".into(), ..Default::default() };
    let stack = Stack::start(options).await;
    stack.chillstreams.add_devices(USER, &["a", "b", "c"]);
    let url = stack.stream_url(&config_for(USER), "movie", MOVIE);
    for _ in 0..3 {
        assert!(is_warning(&streams(&url, "new-device").await[0]));
    }
    assert_eq!(stack.chillstreams.get_key_calls().len(), 1, "the denial is remembered");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(is_warning(&streams(&url, "new-device").await[0]));
    assert_eq!(stack.chillstreams.get_key_calls().len(), 2, "after deny_ttl_s Chillstreams is asked again");

    stack.chillstreams.set_mode(ChillMode::Error500);
    let other = stack.stream_url(&config_for(USER), "movie", MOVIE);
    for _ in 0..3 {
        assert!(is_warning(&streams(&other, "failing-device").await[0]));
    }
    assert_eq!(stack.chillstreams.get_key_calls().len(), 5, "failures are not cached");
}

#[tokio::test]
async fn a_pool_key_torbox_rejects_is_evicted_and_fetched_again_once() {
    let stack = Stack::start(StackOptions::default()).await;
    let url = stack.stream_url(&config_for(USER), "movie", MOVIE);
    assert_eq!(streams(&url, "Stremio").await.len(), 4);
    assert_eq!(stack.chillstreams.get_key_calls().len(), 1);

    // The key is revoked at TorBox and Chillstreams moves the user to a fresh one.
    stack.torbox.state().accounts.remove(POOL_KEY);
    stack.torbox.add_key("fresh-pool-key");
    stack.chillstreams.set_pool_key(USER, "fresh-pool-key");
    let series = stack.stream_url(&config_for(USER), "series", &format!("{SERIES}:1:3"));
    let list = streams(&series, "Stremio").await;
    assert!(!list.iter().any(is_warning), "{list:#?}");
    assert_eq!(list.len(), 2);
    assert_eq!(stack.chillstreams.get_key_calls().len(), 2, "evicted and fetched again, once");
    let bearers: Vec<_> = stack.torbox.calls_to(CHECKCACHED).iter().map(|c| c.bearer().map(str::to_string)).collect();
    assert_eq!(bearers, [Some(POOL_KEY.into()), Some(POOL_KEY.into()), Some("fresh-pool-key".into())]);

    // A key that stays rejected is asked for again only once per request.
    stack.torbox.state().accounts.remove("fresh-pool-key");
    let godfather = "9999999999999999999999999999999999999999";
    stack.torznab.add_release(chillproxy_tests::fakes::torznab::Release::movie(
        "tt0068646",
        "The.Godfather.1972.1080p",
        godfather,
    ));
    let list = streams(&stack.stream_url(&config_for(USER), "movie", "tt0068646"), "Stremio").await;
    assert!(list.iter().all(|s| !s["url"].is_string()), "{list:#?}");
    assert!(list[0]["description"].as_str().unwrap().contains("TorBox rejected the API key"));
    assert_eq!(stack.chillstreams.get_key_calls().len(), 3);
}

#[tokio::test]
async fn an_open_breaker_falls_back_to_the_token_without_calling_chillstreams() {
    let options = StackOptions {
        chillstreams_settings: "breaker_failures = 2\nbreaker_open_s = 60".into(),
        ..Default::default()
    };
    let stack = Stack::start(options).await;
    stack.chillstreams.set_mode(ChillMode::Error500);
    let url = stack.stream_url(&config_for(USER), "movie", MOVIE);
    for _ in 0..2 {
        assert!(is_warning(&streams(&url, "Stremio").await[0]));
    }
    assert_eq!(stack.chillstreams.get_key_calls().len(), 2);

    let both = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN, "auth": USER}]}));
    let list = streams(&stack.stream_url(&both, "movie", MOVIE), "Stremio").await;
    assert_eq!(list.len(), 4);
    assert!(!list.iter().any(is_warning));
    let list = streams(&url, "Stremio").await;
    assert!(list[0]["description"].as_str().unwrap().contains("not asking again"), "{list:#?}");
    assert_eq!(stack.chillstreams.get_key_calls().len(), 2, "no call while the breaker is open");
}

#[tokio::test]
async fn fifty_identical_playbacks_cost_one_resolution() {
    let stack = Stack::start(StackOptions { uncached_polls: 3, ..Default::default() }).await;
    let list = streams(&stack.stream_url(&config_for(USER), "movie", MOVIE), "Stremio").await;
    let url =
        list.iter().filter_map(|s| s["url"].as_str()).find(|u| u.contains(MOVIE_720_UNCACHED)).unwrap().to_string();
    let responses = join_all((0..50).map(|_| http().get(&url).header("user-agent", "mpv").send())).await;
    let locations: Vec<String> = responses
        .into_iter()
        .map(|r| {
            let r = r.unwrap();
            assert_eq!(r.status(), 302);
            r.headers()["location"].to_str().unwrap().to_string()
        })
        .collect();
    assert!(locations.iter().all(|l| *l == locations[0]));
    assert_eq!(stack.torbox.count(CREATETORRENT), 1);
    assert_eq!(stack.torbox.count(REQUESTDL), 1);

    // Later plays reuse the link.
    let again = http().head(&url).header("user-agent", "mpv").send().await.unwrap();
    assert_eq!(again.headers()["location"].to_str().unwrap(), locations[0]);
    assert_eq!(stack.torbox.count(REQUESTDL), 1);
}

#[tokio::test]
async fn a_repeated_stream_list_asks_no_indexer_and_no_cache_check() {
    let stack = Stack::start(StackOptions::default()).await;
    let url = stack.stream_url(&Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]})), "movie", MOVIE);
    let first = streams(&url, "Stremio").await;
    let (indexer, checks) = (stack.torznab.search_count(), stack.torbox.count(CHECKCACHED));
    assert_eq!((indexer, checks), (1, 1));
    let second = streams(&url, "Stremio").await;
    // The same streams; only each URL's device binding (fresh nonce) differs.
    let strip = |list: &[Value]| -> Vec<Value> {
        list.iter()
            .map(|s| {
                let mut s = s.clone();
                let url = s["url"].as_str().unwrap().split("?b=").next().unwrap().to_string();
                s["url"] = Value::String(url);
                s
            })
            .collect()
    };
    assert_eq!(strip(&first), strip(&second));
    assert_eq!(stack.torznab.call_count(), indexer + 1, "no indexer call but the caps read before the first");
    assert_eq!(stack.torbox.count(CHECKCACHED), checks, "no checkcached call");
}
