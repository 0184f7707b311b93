//! Several replicas behind a load balancer, sharing state through Redis (issue 14), end to end:
//! a real `redis-server` on loopback (started and stopped by the test, persistence off), three
//! chillproxy replicas sharing it, and the fakes counting what reaches them. Needs Debian's
//! `redis-server`; `CHILLPROXY_SKIP_REDIS=1` skips these tests where it cannot be installed.

use std::time::{Duration, Instant};

use chillproxy_tests::client::http;
use chillproxy_tests::fakes::torbox::{CHECKCACHED, CREATETORRENT, REQUESTDL};
use chillproxy_tests::host::Host;
use chillproxy_tests::redis::RedisServer;
use chillproxy_tests::stack::*;
use futures::future::join_all;
use serde_json::{json, Value};

/// Redis, the stack (replica A) and replicas B and C, all sharing that Redis.
async fn cluster(mut options: StackOptions) -> Option<(RedisServer, Stack, Host, Host)> {
    let redis = RedisServer::start()?;
    options.redis_url = Some(redis.url());
    let stack = Stack::start(options).await;
    let (b, c) = (stack.replica().await, stack.replica().await);
    Some((redis, stack, b, c))
}

fn auth_config_for(user: &str) -> String {
    Stack::config(&json!({"stores": [{"c": "tb", "auth": user}]}))
}

fn play_url(host: &Host, config: &str, hash: &str, name: &str) -> String {
    format!("{}/stremio/torz/{config}/_/strem/{MOVIE}/tb/{hash}/0/{name}.mkv", host.url())
}

fn stream_url(host: &Host, config: &str, kind: &str, id: &str) -> String {
    format!("{}/stremio/torz/{config}/stream/{kind}/{id}.json", host.url())
}

struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
}

async fn get(url: &str) -> Answer {
    let response = http().get(url).header("user-agent", "Stremio/4.4").send().await.unwrap();
    let status = response.status().as_u16();
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
    Answer { status, location, body: response.text().await.unwrap() }
}

/// The streams' names and titles (their URLs differ per replica: host and device binding).
async fn stream_list(url: &str) -> Vec<(String, String)> {
    let answer = get(url).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    let streams = body["streams"].as_array().cloned().unwrap_or_default();
    streams
        .iter()
        .map(|s| {
            (s["name"].as_str().unwrap_or_default().to_string(), s["title"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

async fn ready(host: &Host) -> Value {
    let answer = get(&format!("{}/ready", host.url())).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    serde_json::from_str(&answer.body).unwrap()
}

#[tokio::test]
async fn thirty_concurrent_plays_over_three_replicas_make_one_createtorrent_and_one_link() {
    let Some((_redis, stack, b, c)) = cluster(StackOptions::default()).await else { return };
    let config = auth_config_for(USER);
    // Cached at TorBox, not yet in the pool account: the play needs createtorrent and requestdl.
    let name = "The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE";
    let replicas = [&stack.host, &b, &c];
    let urls: Vec<String> = (0..30).map(|i| play_url(replicas[i % 3], &config, MOVIE_1080, name)).collect();
    let answers = join_all(urls.iter().map(|url| get(url))).await;
    let first = answers[0].location.clone();
    assert!(first.as_deref().is_some_and(|l| l.contains("/cdn/")), "{:?} {}", first, answers[0].body);
    for answer in &answers {
        assert_eq!(answer.status, 302, "{}", answer.body);
        assert_eq!(answer.location, first, "every replica answers the same redirect");
    }
    assert_eq!(stack.torbox.count(CREATETORRENT), 1, "one createtorrent for the cluster");
    assert_eq!(stack.torbox.count(REQUESTDL), 1, "one link request for the cluster");
}

#[tokio::test]
async fn a_torrent_that_must_download_first_is_added_once_while_the_other_replicas_wait() {
    let Some((_redis, stack, b, c)) = cluster(StackOptions { uncached_polls: 5, ..Default::default() }).await else {
        return;
    };
    let config = auth_config_for(USER);
    let name = "The.Shawshank.Redemption.1994.720p.WEB-DL.x264-GRP";
    let replicas = [&stack.host, &b, &c];
    let urls: Vec<String> = (0..9).map(|i| play_url(replicas[i % 3], &config, MOVIE_720_UNCACHED, name)).collect();
    let answers = join_all(urls.iter().map(|url| get(url))).await;
    for answer in &answers {
        assert_eq!(answer.status, 302, "{}", answer.body);
        assert_eq!(answer.location, answers[0].location);
    }
    assert_eq!(stack.torbox.count(CREATETORRENT), 1, "one createtorrent while the download ran");
    assert_eq!(stack.torbox.count(REQUESTDL), 1);
}

#[tokio::test]
async fn a_title_listed_on_one_replica_is_listed_by_the_others_without_upstream_calls() {
    let Some((_redis, stack, b, c)) = cluster(StackOptions::default()).await else { return };
    let config = auth_config_for(USER);
    let on_a = stream_list(&stream_url(&stack.host, &config, "movie", MOVIE)).await;
    assert_eq!(on_a.len(), 4, "{on_a:?}");
    for replica in [&b, &c] {
        let listed = stream_list(&stream_url(replica, &config, "movie", MOVIE)).await;
        assert_eq!(listed, on_a, "the same list on every replica");
    }
    assert_eq!(stack.torznab.count_t("movie"), 1, "one indexer search in total: {:?}", stack.torznab.calls());
    assert_eq!(stack.torbox.count(CHECKCACHED), 1, "one cache check in total");
}

#[tokio::test]
async fn the_create_budget_of_the_pool_key_holds_for_the_cluster() {
    let options =
        StackOptions { table_settings: vec![("[store.torbox]", "creates_per_hour = 3".into())], ..Default::default() };
    let Some((_redis, stack, b, c)) = cluster(options).await else { return };
    let hash = |n: u32| format!("{:040x}", 0xbee0_0000_u64 + u64::from(n));
    for n in 0..5 {
        stack.torbox.add_uncached(&hash(n), &format!("New.Movie.{n}"), &[(&format!("New.Movie.{n}.mkv"), 1_000)], 0);
    }
    let config = auth_config_for(USER);
    let replicas = [&stack.host, &b, &c];
    for n in 0..3 {
        let played = get(&play_url(replicas[n as usize], &config, &hash(n), &format!("New.Movie.{n}"))).await;
        assert_eq!(played.status, 302, "{}", played.body);
    }
    // Each replica has made at most one createtorrent: a per-replica budget of 3 would allow more.
    for n in 3..5 {
        let played = get(&play_url(replicas[n as usize - 3], &config, &hash(n), &format!("New.Movie.{n}"))).await;
        assert_eq!(played.status, 429, "{}", played.body);
        assert!(played.body.starts_with("TorBox's hourly limit for new downloads is reached"), "{}", played.body);
    }
    assert_eq!(stack.torbox.count(CREATETORRENT), 3);
}

#[tokio::test]
async fn a_chillstreams_denial_seen_by_one_replica_is_served_by_another_without_a_call() {
    let Some((_redis, stack, b, _c)) = cluster(StackOptions::default()).await else { return };
    let inactive = "00000000-0000-4000-8000-00000000dead";
    stack.chillstreams.add_inactive_user(inactive);
    let config = auth_config_for(inactive);
    let on_a = get(&play_url(&stack.host, &config, MOVIE_1080, "movie")).await;
    assert_eq!(on_a.status, 403, "{}", on_a.body);
    assert_eq!(stack.chillstreams.get_key_calls().len(), 1);
    let on_b = get(&play_url(&b, &config, MOVIE_1080, "movie")).await;
    assert_eq!((on_b.status, &on_b.body), (403, &on_a.body), "B answers A's denial");
    assert_eq!(stack.chillstreams.get_key_calls().len(), 1, "no get-key call from B within deny_ttl_s");
    assert_eq!(stack.torbox.calls().len(), 0, "nothing reached TorBox");
}

#[tokio::test]
async fn with_redis_killed_every_request_is_answered_and_sharing_resumes_when_it_is_back() {
    let Some((mut redis, stack, b, c)) = cluster(StackOptions::default()).await else { return };
    let config = auth_config_for(USER);
    let replicas = [&stack.host, &b, &c];
    for replica in replicas {
        assert_eq!(ready(replica).await["shared"], "ok");
    }
    stream_list(&stream_url(&stack.host, &config, "movie", MOVIE)).await;

    redis.kill();
    let mut answered = Vec::new();
    for (i, replica) in replicas.iter().enumerate() {
        let list = get(&stream_url(replica, &config, "series", &format!("{SERIES}:1:3"))).await;
        let movie = get(&stream_url(replica, &config, "movie", MOVIE)).await;
        let play = get(&play_url(replica, &config, if i == 0 { MOVIE_2160 } else { MOVIE_1080 }, "movie")).await;
        answered.extend([list, movie, play]);
    }
    for answer in &answered {
        assert!(answer.status < 500, "{} {}", answer.status, answer.body);
    }
    assert!(answered.iter().filter(|a| a.status == 302).count() == 3, "every play played");
    for replica in replicas {
        let ready = ready(replica).await;
        assert_eq!(ready["status"], "ready");
        assert_eq!(ready["shared"], "degraded", "{ready}");
        assert!(ready["shared_reason"].as_str().is_some_and(|r| r.contains("redis")), "{ready}");
    }

    redis.start_again();
    // Each replica notices by itself (no restart): its breaker lets a call through again.
    let deadline = Instant::now() + Duration::from_secs(30);
    for replica in replicas {
        while ready(replica).await["shared"] != "ok" {
            assert!(Instant::now() < deadline, "replica {} still degraded", replica.url());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let (searches, checks) = (stack.torznab.count_t("tvsearch"), stack.torbox.count(CHECKCACHED));
    let on_a = stream_list(&stream_url(&stack.host, &config, "series", &format!("{SERIES}:1:4"))).await;
    assert!(!on_a.is_empty());
    for replica in [&b, &c] {
        assert_eq!(stream_list(&stream_url(replica, &config, "series", &format!("{SERIES}:1:4"))).await, on_a);
    }
    assert_eq!(stack.torznab.count_t("tvsearch"), searches + 1, "one search again for the cluster");
    assert_eq!(stack.torbox.count(CHECKCACHED), checks + 1, "one cache check again for the cluster");
}

#[tokio::test]
async fn nothing_secret_is_stored_in_redis() {
    let Some((redis, stack, b, c)) = cluster(StackOptions::default()).await else { return };
    let inactive = "00000000-0000-4000-8000-00000000dead";
    stack.chillstreams.add_inactive_user(inactive);
    let user_indexer = json!({"n": "Mine", "u": stack.user_torznab.torznab_url(), "ak": USER_INDEXER_KEY});
    let pooled = Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}], "indexers": [user_indexer]}));
    let own_token = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));
    stream_list(&stream_url(&stack.host, &pooled, "movie", MOVIE)).await;
    stream_list(&stream_url(&b, &own_token, "series", &format!("{SERIES}:1:3"))).await;
    let played = get(&play_url(&c, &pooled, MOVIE_1080, "movie")).await;
    assert_eq!(played.status, 302, "{}", played.body);
    let played = get(&play_url(&b, &own_token, MOVIE_2160, "movie")).await;
    assert_eq!(played.status, 302, "{}", played.body);
    let denied = get(&play_url(&stack.host, &auth_config_for(inactive), MOVIE_1080, "movie")).await;
    assert_eq!(denied.status, 403, "{}", denied.body);

    let dump = redis.dump();
    for area in ["cp:v1:av:", "cp:v1:src:", "cp:v1:links:", "cp:v1:budget:", "cp:v1:deny:"] {
        assert!(dump.iter().any(|(key, _)| key.starts_with(area)), "nothing under {area}: {dump:#?}");
    }
    let secrets = [
        POOL_KEY,
        POOL_KEY_ID,
        TOKEN,
        INDEXER_KEY,
        USER_INDEXER_KEY,
        SEARCH_KEY,
        INTERNAL_API_KEY,
        USER,
        inactive,
        CLUSTER_SECRET,
        &pooled,
        &own_token,
    ];
    for (key, value) in &dump {
        assert!(key.starts_with("cp:v1:"), "{key}");
        for secret in secrets {
            assert!(!key.contains(secret) && !value.contains(secret), "{secret:?} in {key} = {value}");
        }
    }
}

#[tokio::test]
async fn inbound_limits_hold_for_the_cluster() {
    let options = StackOptions {
        limits: "streams_per_minute = 0\nplayback_per_minute = 3\nconfigure_checks_per_minute = 0".into(),
        ..Default::default()
    };
    let Some((_redis, stack, b, c)) = cluster(options).await else { return };
    let config = auth_config_for(USER);
    let name = "The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE";
    for replica in [&stack.host, &b, &c] {
        let played = get(&play_url(replica, &config, MOVIE_1080, name)).await;
        assert_eq!(played.status, 302, "{}", played.body);
    }
    // Each replica's own bucket still holds two more; the cluster's minute is used up (unless
    // the minute turned between the plays, which the retry below allows for once).
    let mut limited = get(&play_url(&stack.host, &config, MOVIE_1080, name)).await;
    if limited.status == 302 {
        for replica in [&b, &c, &stack.host] {
            limited = get(&play_url(replica, &config, MOVIE_1080, name)).await;
        }
    }
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.body.starts_with("Too many playback requests from here"), "{}", limited.body);
}
