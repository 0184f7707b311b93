//! The stream list with usenet releases: who sees them, where, how marked, and what a broken
//! indexer does to the list.

use std::time::{Duration, Instant};

use chillproxy_tests::fakes::newznab::{FakeNewznab, Mode, Release};
use chillproxy_tests::fakes::torbox_usenet::{CHECKCACHED as USENET_CHECKCACHED, PREFIX as USENET_PREFIX};
use chillproxy_tests::stack::*;
use serde_json::json;

use super::*;

#[tokio::test]
async fn a_pro_token_sees_cached_usenet_streams_first_and_uncached_ones_marked_as_usenet() {
    let (stack, newznab) = usenet_stack(StackOptions::default(), "").await;
    let list = streams(&stack.stream_url(&token_config(TOKEN), "movie", MOVIE)).await;
    let names = names(&list);
    let cached = usenet_stream(&list, &release_hash(&newznab, CACHED_GUID)).expect("the cached usenet release");
    let uncached = usenet_stream(&list, &release_hash(&newznab, UNCACHED_GUID)).expect("the uncached one");
    let cached_name = cached["name"].as_str().unwrap();
    assert!(cached_name.starts_with("⚡️ [TB] 📰 Usenet"), "{names:#?}");
    assert!(uncached["name"].as_str().unwrap().starts_with("[TB] 📰 Usenet"), "{names:#?}");
    // Cached streams (torrents and usenet, by the viewer's order) before every uncached one.
    let first_uncached = names.iter().position(|n| !n.starts_with('⚡')).unwrap();
    let position = |stream: &Value| list.iter().position(|s| s == stream).unwrap();
    assert!(position(cached) < first_uncached && position(uncached) >= first_uncached, "{names:#?}");
    assert!(names.iter().any(|n| !n.contains("📰")), "torrents still listed: {names:#?}");
    assert_eq!(cached["behaviorHints"]["filename"], CACHED_FILE);
    // The indexer's grabs and the release's age (the fake posts everything on 2016-08-02).
    let posted = 1_470_142_206;
    let days =
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - posted) / 86_400;
    let description = cached["description"].as_str().unwrap();
    assert!(description.contains(&format!("👥 {CACHED_GRABS} grabs 📅 {days} d")), "{description}");
    assert!(cached["behaviorHints"]["bingeGroup"].as_str().unwrap().starts_with("chillproxy|usenet|tb|1080p"));
    let body = serde_json::to_string(&list).unwrap();
    assert!(!body.contains(NZB_KEY) && !body.contains(TOKEN), "no key in the list");
    assert!(!body.contains(&newznab.url()), "no NZB link in the list");
    // One usenet cache check, both releases in it.
    let checks = stack.torbox.calls_to(USENET_CHECKCACHED);
    assert_eq!(checks.len(), 1);
    let mut asked = checks[0].query_param("hash").unwrap().split(',').map(str::to_string).collect::<Vec<_>>();
    asked.sort();
    let mut want = vec![release_hash(&newznab, CACHED_GUID), release_hash(&newznab, UNCACHED_GUID)];
    want.sort();
    assert_eq!(asked, want);
}

#[tokio::test]
async fn a_key_without_pro_never_gets_a_usenet_stream_nor_calls_a_usenet_endpoint() {
    let (stack, _newznab) = usenet_stack(StackOptions::default(), "").await;
    let list = streams(&stack.stream_url(&token_config(ESSENTIAL), "movie", MOVIE)).await;
    let names = names(&list);
    assert!(!names.is_empty() && names.iter().all(|n| !n.contains("📰") && !n.contains('⚠')), "{names:#?}");
    let usenet: Vec<_> = stack.torbox.usenet_calls().into_iter().filter(|c| c.bearer() == Some(ESSENTIAL)).collect();
    assert!(usenet.is_empty(), "{usenet:?}");
    assert!(stack.torbox.calls().iter().all(|c| !c.path.starts_with(USENET_PREFIX)));
}

#[tokio::test]
async fn the_pool_key_gets_usenet_only_when_its_plan_allows() {
    let (stack, newznab) = usenet_stack(StackOptions::default(), "").await;
    let config = Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}));
    let list = streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    assert!(
        usenet_stream(&list, &release_hash(&newznab, CACHED_GUID)).is_some(),
        "a Pro pool key: {:#?}",
        names(&list)
    );

    let (stack, _newznab) = usenet_stack(StackOptions::default(), "").await;
    stack.torbox.add_key_with_plan(POOL_KEY, 3);
    let list = streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    assert!(names(&list).iter().all(|n| !n.contains("📰")), "{:#?}", names(&list));
    assert!(stack.torbox.usenet_calls().is_empty());
}

#[tokio::test]
async fn two_users_whose_indexer_links_differ_only_in_their_keys_hit_one_usenet_hash() {
    let (stack, _operator) = usenet_stack(
        StackOptions { server_settings: "allow_private_user_urls = true".into(), ..Default::default() },
        "",
    )
    .await;
    // Both users bring the same indexer with their own keys; the operator's has nothing.
    stack.torbox.state().usenet.releases.clear();
    let theirs = FakeNewznab::start("alice-nzb-key-SECRET-11").await;
    theirs.add_release(Release::movie(MOVIE, CACHED_TITLE, CACHED_GUID));
    let identity = super::release_hash_with(&theirs, CACHED_GUID, "alice-nzb-key-SECRET-11");
    stack.torbox.add_usenet_cached(&identity, CACHED_GUID, CACHED_TITLE, &[(CACHED_FILE, 9_000_000_000)]);
    let config = |token: &str, key: &str| {
        Stack::config(
            &json!({"stores": [{"c": "tb", "t": token}], "newznab": [{"n": "mine", "u": theirs.url(), "ak": key}]}),
        )
    };
    let alice = streams(&stack.stream_url(&config(TOKEN, "alice-nzb-key-SECRET-11"), "movie", MOVIE)).await;
    theirs.set_api_key("bob-nzb-key-SECRET-22");
    let bob = streams(&stack.stream_url(&config(OTHER_PRO, "bob-nzb-key-SECRET-22"), "movie", MOVIE)).await;
    for list in [&alice, &bob] {
        let stream = usenet_stream(list, &identity).unwrap_or_else(|| panic!("{:#?}", names(list)));
        assert!(stream["name"].as_str().unwrap().starts_with("⚡️"), "{stream}");
        let text = serde_json::to_string(list).unwrap();
        assert!(!text.contains("alice-nzb-key") && !text.contains("bob-nzb-key"), "{text}");
    }
    // Bob's list asked TorBox nothing: Alice's answer for the same usenet hash holds for him.
    let checks = stack.torbox.calls_to(USENET_CHECKCACHED);
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert!(checks[0].query_param("hash").unwrap().split(',').any(|h| h == identity), "{checks:?}");
}

#[tokio::test]
async fn a_bad_slow_limited_or_refusing_indexer_never_delays_the_list_nor_breaks_torrents() {
    let modes = [
        Mode::Slow(Duration::from_secs(6)),
        Mode::Limited { code: 429, retry_after_s: Some(60) },
        Mode::Limited { code: 500, retry_after_s: None },
        Mode::AuthFailure,
        Mode::ServerError,
        Mode::Fixture("<html><body>not an rss feed</body></html>".into()),
    ];
    for mode in modes {
        let (stack, newznab) = usenet_stack(StackOptions::default(), "").await;
        newznab.set_mode(mode.clone());
        let started = Instant::now();
        let list = streams(&stack.stream_url(&token_config(TOKEN), "movie", MOVIE)).await;
        let took = started.elapsed();
        // [source.newznab] timeout_ms = 1500, and some slack for the rest of the list.
        assert!(took < Duration::from_millis(3_500), "{mode:?}: the list took {took:?}");
        let names = names(&list);
        assert!(names.iter().any(|n| n.starts_with("⚡️ [TB] chillproxy 2160p")), "{mode:?}: {names:#?}");
        assert!(names.iter().all(|n| !n.contains("📰")), "{mode:?}: {names:#?}");
        let text = serde_json::to_string(&list).unwrap();
        assert!(!text.contains(NZB_KEY), "{mode:?}: {text}");
    }
}
