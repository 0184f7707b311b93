//! `/ready` and `/health` say what is wrong upstream: each upstream the operator configured
//! (Chillstreams, each store, each operator indexer by its name, TorBox search, Redis) with a
//! state and the last error as a fixed word. `/ready` stays 200 while viewers can still be served.
//! The real host against the fakes, made to fail with their fault modes; every wait is a bounded
//! poll.

use std::time::{Duration, Instant};

use chillproxy_tests::client::http;
use chillproxy_tests::fakes::torbox::Fault;
use chillproxy_tests::fakes::{chillstreams, torznab};
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const STREMIO_UA: &str = "Stremio/4.4.168 (Windows)";
/// How long an upstream's failure (or recovery) may take to show.
const WITHIN: Duration = Duration::from_secs(10);

async fn get_json(url: &str) -> (u16, Value) {
    let response = http().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}")))
}

/// The entry of `kind`/`name` in a `/ready` or `/health` body.
fn upstream<'a>(body: &'a Value, kind: &str, name: &str) -> Option<&'a Value> {
    body["upstreams"].as_array()?.iter().find(|u| u["kind"] == kind && u["name"] == name)
}

fn state_of(body: &Value, kind: &str, name: &str) -> (String, String) {
    let entry = upstream(body, kind, name).unwrap_or_else(|| panic!("no {kind}/{name} in {body:#}"));
    (entry["state"].as_str().unwrap_or_default().to_string(), entry["last_error"].as_str().unwrap_or("").to_string())
}

/// Asks for a stream list (so the host calls its upstreams), then reads `/ready`, until `done`
/// holds of its body; `/ready` must answer 200 all along. Fails after [`WITHIN`].
async fn ready_until(stack: &Stack, what: &str, lists: &[String], done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    let mut round = 0;
    loop {
        if let Some(url) = lists.get(round % lists.len().max(1)) {
            let response = http().get(url).header("user-agent", STREMIO_UA).send().await.unwrap();
            assert_eq!(response.status(), 200, "{url}");
        }
        round += 1;
        let (status, body) = get_json(&format!("{}/ready", stack.host.url())).await;
        assert_eq!(status, 200, "viewers can still be served: {body:#}");
        assert_eq!(body["status"], "ready");
        if done(&body) {
            return body;
        }
        assert!(started.elapsed() < WITHIN, "{what} did not show within {WITHIN:?}: {body:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Nothing secret, and nothing a user sent, in a body.
fn assert_clean(body: &str, extra: &[&str]) {
    for secret in [INTERNAL_API_KEY, POOL_KEY, POOL_KEY_ID, TOKEN, USER, INDEXER_KEY, USER_INDEXER_KEY, SEARCH_KEY]
        .iter()
        .chain(extra)
    {
        assert!(!body.contains(secret), "{secret} in {body}");
    }
    assert!(!body.contains("http://") && !body.contains("127.0.0.1"), "a URL in {body}");
}

#[tokio::test]
async fn ready_names_a_failing_store_within_seconds_stays_ready_and_clears_when_it_recovers() {
    let _alone = super::SCRAPES.lock().await;
    let stack = Stack::start(StackOptions::default()).await;
    let ready_url = format!("{}/ready", stack.host.url());
    let (status, before) = get_json(&ready_url).await;
    assert_eq!(status, 200);
    // Every upstream the operator configured is listed before any call, by the operator's names.
    for (kind, name) in [
        ("auth", "chillstreams"),
        ("store", "torbox"),
        ("store", "realdebrid"),
        ("store", "alldebrid"),
        ("store", "premiumize"),
        ("indexer", "Prowlarr"),
        ("metadata", "torznab"),
        ("metadata", "kitsu"),
    ] {
        assert_eq!(state_of(&before, kind, name).0, "unknown", "{kind}/{name}: {before:#}");
    }
    assert_eq!(before["unhealthy"], json!([]));

    // TorBox answers 500 to everything: its first cache check says so.
    stack.torbox.set_fault(Fault::ServerError { status: 500 });
    let user_indexer = stack.user_torznab.torznab_url();
    let config = Stack::config(&json!({
        "stores": [{"c": "tb", "auth": USER}],
        "indexers": [{"n": "my-own-jackett", "u": user_indexer, "ak": USER_INDEXER_KEY}],
    }));
    let movie = vec![stack.stream_url(&config, "movie", MOVIE)];
    let failing = ready_until(&stack, "TorBox failing", &movie, |body| {
        state_of(body, "store", "torbox") == ("failing".into(), "http_5xx".into())
    })
    .await;
    assert_eq!(failing["unhealthy"], json!(["store/torbox"]), "{failing:#}");
    let torbox = upstream(&failing, "store", "torbox").unwrap();
    assert!(torbox["since_s"].as_u64().is_some_and(|s| s <= 10), "{torbox}");
    assert!(torbox["failures"].as_u64().is_some_and(|n| n >= 1), "{torbox}");
    // The others that were asked answered.
    assert_eq!(state_of(&failing, "auth", "chillstreams").0, "ok");
    assert_eq!(state_of(&failing, "indexer", "Prowlarr").0, "ok");
    // A user's indexer is user data: never listed.
    let text = failing.to_string();
    assert!(!text.contains("my-own-jackett"), "{text}");
    assert_clean(&text, &[&config, &user_indexer]);

    // It recovers: the next cache check (of other releases) clears it.
    stack.torbox.set_fault(Fault::None);
    let episodes = vec![
        stack.stream_url(&config, "series", &format!("{SERIES}:1:3")),
        stack.stream_url(&config, "series", &format!("{SERIES}:1:4")),
    ];
    let cleared =
        ready_until(&stack, "TorBox recovering", &episodes, |body| state_of(body, "store", "torbox").0 == "ok").await;
    assert_eq!(cleared["unhealthy"], json!([]), "{cleared:#}");
    assert_eq!(state_of(&cleared, "store", "torbox").1, "http_5xx", "the last error stays known");

    // /health says the same, and stays 200 whatever happens upstream.
    let (status, health) = get_json(&format!("{}/health", stack.host.url())).await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(state_of(&health, "store", "torbox").0, "ok");
    assert_clean(&health.to_string(), &[&config, &user_indexer]);
}

#[tokio::test]
async fn a_failing_indexer_and_an_open_breaker_are_named_and_ready_stays_200() {
    let _alone = super::SCRAPES.lock().await;
    let options = StackOptions {
        chillstreams_settings: "breaker_failures = 2\nbreaker_open_s = 60".into(),
        sources: vec!["torznab", "torbox-search"],
        ..Default::default()
    };
    let stack = Stack::start(options).await;
    stack.torznab.set_mode(torznab::Mode::ServerError);
    stack.chillstreams.set_mode(chillstreams::Mode::Error500);

    // A new Chillstreams user each time, so each list asks Chillstreams (answers are kept).
    let lists: Vec<String> = (0..40)
        .map(|i| {
            let user = format!("550e8400-e29b-41d4-a716-4466554{i:05}");
            stack.stream_url(
                &Stack::config(&json!({"stores": [{"c": "tb", "auth": user, "t": TOKEN}]})),
                "movie",
                MOVIE,
            )
        })
        .collect();
    let body = ready_until(&stack, "the indexer failing and the breaker open", &lists, |body| {
        state_of(body, "indexer", "Prowlarr").0 == "failing" && state_of(body, "auth", "chillstreams").0 == "open"
    })
    .await;
    assert_eq!(state_of(&body, "indexer", "Prowlarr"), ("failing".into(), "http_5xx".into()));
    assert_eq!(state_of(&body, "auth", "chillstreams"), ("open".into(), "http_5xx".into()));
    let unhealthy: Vec<&str> = body["unhealthy"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(unhealthy.contains(&"auth/chillstreams") && unhealthy.contains(&"indexer/Prowlarr"), "{body:#}");
    // TorBox search (with the user's own token, which the fake admits) answered.
    assert_eq!(state_of(&body, "source", "torbox-search").0, "ok", "{body:#}");
    assert_clean(&body.to_string(), &[]);

    // The same through /health.
    let (status, health) = get_json(&format!("{}/health", stack.host.url())).await;
    assert_eq!(status, 200);
    assert_eq!(state_of(&health, "auth", "chillstreams").0, "open");
    assert_clean(&health.to_string(), &[]);
}

#[tokio::test]
async fn torbox_search_refusing_the_key_reads_refused() {
    let _alone = super::SCRAPES.lock().await;
    let options = StackOptions { sources: vec!["torbox-search"], ..Default::default() };
    let stack = Stack::start(options).await;
    // A user token the search API does not admit (not whitelisted): 403 BAD_TOKEN.
    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": "tb-not-whitelisted-0000"}]}));
    let lists = vec![stack.stream_url(&config, "movie", MOVIE)];
    let body = ready_until(&stack, "TorBox search refused", &lists, |body| {
        state_of(body, "source", "torbox-search").0 == "refused"
    })
    .await;
    assert_eq!(state_of(&body, "source", "torbox-search"), ("refused".into(), "auth".into()));
    assert_clean(&body.to_string(), &["tb-not-whitelisted-0000"]);
}
