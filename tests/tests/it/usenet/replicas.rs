//! Usenet across three replicas sharing Redis: one create for 25 plays spread over them, and no
//! key (TorBox's or the indexer's) in any Redis value, URL, `Location` or log line.

use chillproxy_tests::fakes::torbox_usenet::{CREATE, REQUESTDL as USENET_REQUESTDL};
use chillproxy_tests::redis::RedisServer;
use chillproxy_tests::stack::*;
use futures::future::join_all;

use super::*;

#[tokio::test]
async fn three_replicas_make_one_create_and_no_key_reaches_redis_urls_or_logs() {
    let logs = chillproxy_tests::logs::capture();
    let Some(redis) = RedisServer::start() else {
        assert!(std::env::var("CHILLPROXY_SKIP_REDIS").is_ok(), "redis-server is needed (or CHILLPROXY_SKIP_REDIS=1)");
        return;
    };
    let options = StackOptions { redis_url: Some(redis.url()), ..Default::default() };
    let (stack, _newznab) = usenet_stack(options, "").await;
    let (b, c) = (stack.replica().await, stack.replica().await);
    let hosts = [stack.host.url(), b.url(), c.url()];
    let config = token_config(TOKEN);
    // Replica A lists; the sealed URLs play on any replica (same keyring).
    let list = streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    let cached = list.iter().find(|s| s["name"].as_str().is_some_and(|n| n.starts_with("⚡️ [TB] 📰 Usenet")));
    let url = cached.expect("the cached usenet stream")["url"].as_str().unwrap().to_string();
    assert_eq!(cached.unwrap()["behaviorHints"]["filename"], CACHED_FILE);
    assert!(url.contains("/_/play/"), "sealed: {url}");
    let path = url.strip_prefix(&stack.host.url()).unwrap().to_string();
    let plays = (0..25).map(|i| {
        let url = format!("{}{path}", hosts[i % 3]);
        async move { play(&url).await }
    });
    let answers = join_all(plays).await;
    let mut locations = Vec::new();
    for answer in &answers {
        assert_eq!(answer.status(), 302);
        locations.push(answer.headers()["location"].to_str().unwrap().to_string());
    }
    assert_eq!(stack.torbox.calls_to(CREATE).len(), 1, "one create across the replicas");
    assert!(stack.torbox.calls_to(USENET_REQUESTDL).len() <= 3);

    let secrets = [NZB_KEY, TOKEN];
    let dump = redis.dump();
    assert!(dump.iter().any(|(key, _)| key.starts_with("cp:v1:nzb:")), "the NZB book is shared: {dump:#?}");
    for (key, value) in &dump {
        for secret in secrets {
            assert!(!key.contains(secret) && !value.contains(secret), "{secret} in Redis {key} = {value}");
        }
    }
    let text = logs.text();
    for secret in secrets {
        assert!(!url.contains(secret) && locations.iter().all(|l| !l.contains(secret)), "{secret} in a URL");
        assert!(!text.contains(secret), "{secret} in the logs");
    }
    drop((b, c));
}
