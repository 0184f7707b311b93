//! Failover: a release that fails for a reason of its own (its torrent fails, the store refuses
//! it with 451) plays the next release of the same title in the same request, within the wait
//! budget, says which one played (`X-Chillproxy-Played`), and drops out of the next list; a
//! failure every release shares (a bad key, a device limit, the store's active limit) does not
//! fail over; `[playback] failover = false` turns it off.

use std::time::{Duration, Instant};

use chillproxy_tests::client::http;
use chillproxy_tests::fakes::realdebrid;
use chillproxy_tests::fakes::torbox::CREATETORRENT;
use chillproxy_tests::fakes::torznab::Release;
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

/// The stack's `[playback] wait_ms`, and what a busy 2-core machine may add to it.
const WAIT: Duration = Duration::from_millis(3000);
const SLACK: Duration = Duration::from_secs(2);

/// Another cached 1080p release of the movie (TorBox only), the one a failed 1080p fails over to.
const MOVIE_1080_OTHER: &str = "abababababababababababababababababababab";
const MOVIE_1080_OTHER_NAME: &str = "The.Shawshank.Redemption.1994.1080p.WEB-DL.DDP5.1.H264-OTHER";

fn token_config(code: &str, key: &str) -> String {
    Stack::config(&json!({"stores": [{"c": code, "t": key}]}))
}

async fn get_streams(url: &str) -> Vec<Value> {
    let response = http().get(url).header("user-agent", "Stremio/4.4.168 (Windows)").send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let body: Value = response.json().await.unwrap();
    body["streams"].as_array().cloned().unwrap_or_default()
}

fn stream_on<'a>(streams: &'a [Value], code: &str, hash: &str) -> Option<&'a Value> {
    streams.iter().find(|s| s["url"].as_str().is_some_and(|u| u.contains(&format!("/{code}/{hash}/"))))
}

fn must<'a>(streams: &'a [Value], code: &str, hash: &str) -> &'a Value {
    stream_on(streams, code, hash).unwrap_or_else(|| panic!("no {code} stream for {hash} in {streams:#?}"))
}

struct Played {
    status: u16,
    location: String,
    played: Option<String>,
    body: String,
    elapsed: Duration,
}

async fn play(url: &str) -> Played {
    let started = Instant::now();
    let response = http().get(url).header("user-agent", "mpv/0.38").send().await.unwrap();
    let status = response.status().as_u16();
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let (location, played) = (header("location").unwrap_or_default(), header("x-chillproxy-played"));
    let body = response.text().await.unwrap();
    Played { status, location, played, body, elapsed: started.elapsed() }
}

/// A stack whose TorBox fails MOVIE_1080's download (every time) and has a second cached 1080p
/// release that the indexer lists too.
async fn stack_with_failing_1080(options: StackOptions) -> Stack {
    let stack = Stack::start(options).await;
    stack
        .torznab
        .add_release(Release::movie(MOVIE, MOVIE_1080_OTHER_NAME, MOVIE_1080_OTHER).size(3_900_000_000).seeders(20));
    stack.torbox.add_cached(
        MOVIE_1080_OTHER,
        MOVIE_1080_OTHER_NAME,
        &[(&format!("{MOVIE_1080_OTHER_NAME}.mkv"), 3_900_000_000)],
    );
    let name = "The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE";
    stack.torbox.add_failing(MOVIE_1080, name, &[(&format!("{name}.mkv"), MOVIE_1080_BYTES)], "error", 100, 0);
    stack
}

/// The magnets of every `createtorrent` call, lowercase.
fn created(stack: &Stack) -> Vec<String> {
    let calls = stack.torbox.calls_to(CREATETORRENT);
    calls.iter().filter_map(|c| c.form_param("magnet")).map(|m| m.to_ascii_lowercase()).collect()
}

#[tokio::test]
async fn a_failed_download_plays_the_same_resolution_cached_release_in_the_same_request() {
    let stack = stack_with_failing_1080(StackOptions::default()).await;
    let config = token_config("tb", TOKEN);
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    let failing = must(&streams, "tb", MOVIE_1080)["url"].as_str().unwrap().to_string();

    let played = play(&failing).await;
    assert_eq!(played.status, 302, "{}", played.body);
    assert!(played.location.ends_with(&format!("/{MOVIE_1080_OTHER_NAME}.mkv")), "{}", played.location);
    assert_eq!(played.played.as_deref(), Some(MOVIE_1080_OTHER_NAME), "the header names the release that played");
    assert!(played.elapsed < WAIT + SLACK, "within the wait budget: {:?}", played.elapsed);
    let creates = created(&stack);
    assert!(creates.iter().any(|c| c.contains(MOVIE_1080_OTHER)), "{creates:?}");
    assert!(!creates.iter().any(|c| c.contains(MOVIE_2160)), "the same resolution, cached, came first: {creates:?}");

    // The failed release drops out of the next list; the one that played is there.
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    assert!(stream_on(&streams, "tb", MOVIE_1080).is_none(), "the failed release is still offered");
    assert!(stream_on(&streams, "tb", MOVIE_1080_OTHER).is_some());

    // The player's retries of the old URL play the same release, with no new download of the
    // failed one.
    let creates_before = stack.torbox.count(CREATETORRENT);
    let again = play(&failing).await;
    assert_eq!(again.status, 302, "{}", again.body);
    assert_eq!(again.location, played.location);
    assert_eq!(stack.torbox.count(CREATETORRENT), creates_before, "the retry reused the link");
}

#[tokio::test]
async fn a_release_the_store_refuses_with_451_plays_the_next_release() {
    let stack = Stack::start(StackOptions::default()).await;
    let config = token_config("rd", RD_TOKEN);
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    let refused = must(&streams, "rd", MOVIE_1080)["url"].as_str().unwrap().to_string();

    let played = play(&refused).await;
    assert_eq!(played.status, 302, "{}", played.body);
    assert_eq!(played.played.as_deref(), Some("The.Shawshank.Redemption.1994.2160p.UHD.BluRay.REMUX.HEVC-FGT"));
    assert!(played.location.ends_with("REMUX.HEVC-FGT.mkv"), "{}", played.location);
    assert!(played.elapsed < WAIT + SLACK, "{:?}", played.elapsed);
    assert_eq!(stack.realdebrid.calls_to(realdebrid::ADD_MAGNET).len(), 2, "the refused one, then the next");

    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    assert!(stream_on(&streams, "rd", MOVIE_1080).is_none(), "the refused release is still offered");
}

#[tokio::test]
async fn failover_off_answers_the_failure_of_the_release_asked_for() {
    let options =
        StackOptions { table_settings: vec![("[playback]", "failover = false".into())], ..Default::default() };
    let stack = stack_with_failing_1080(options).await;
    let config = token_config("tb", TOKEN);
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    let played = play(must(&streams, "tb", MOVIE_1080)["url"].as_str().unwrap()).await;
    assert_eq!(played.status, 422, "{}", played.body);
    assert!(played.played.is_none());
    let creates = created(&stack);
    assert!(creates.iter().all(|c| !c.contains(MOVIE_1080_OTHER)), "{creates:?}");
}

#[tokio::test]
async fn failures_every_release_shares_do_not_fail_over() {
    let stack = stack_with_failing_1080(StackOptions::default()).await;
    // The title's search result is cached (the same for every user of these indexers).
    let streams = get_streams(&stack.stream_url(&token_config("tb", TOKEN), "movie", MOVIE)).await;
    let url = must(&streams, "tb", MOVIE_1080)["url"].as_str().unwrap().to_string();
    let with_config = |config: &str| url.replace(&token_config("tb", TOKEN), config);

    // A key TorBox rejects.
    let played = play(&with_config(&token_config("tb", "tb-not-a-key"))).await;
    assert_eq!(played.status, 401, "{}", played.body);
    assert!(played.played.is_none());
    assert_eq!(stack.torbox.count(CREATETORRENT), 0, "nothing else was tried with a rejected key");

    // A device limit (the pool user has 3 other devices): denied before any store call.
    stack.chillstreams.add_devices(USER, &["tv", "phone", "tablet"]);
    let calls = stack.torbox.calls().len();
    let played = play(&with_config(&Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]})))).await;
    assert_eq!(played.status, 403, "{}", played.body);
    assert_eq!(stack.torbox.calls().len(), calls, "no store call after a device limit");

    // The store's active limit: one create refused, no other release tried.
    stack.torbox.set_active_limit(Some(0));
    let played = play(&url).await;
    assert_eq!(played.status, 429, "{}", played.body);
    assert_eq!(stack.torbox.count(CREATETORRENT), 1, "only the release asked for was tried");
}

#[tokio::test]
async fn at_most_three_other_releases_are_tried_then_the_first_failure_is_answered() {
    let stack = stack_with_failing_1080(StackOptions::default()).await;
    // Every other release of the movie fails too.
    for (hash, name) in [
        (MOVIE_1080_OTHER, MOVIE_1080_OTHER_NAME),
        (MOVIE_2160, "The.Shawshank.Redemption.1994.2160p.UHD.BluRay.REMUX.HEVC-FGT"),
        (MOVIE_720_UNCACHED, "The.Shawshank.Redemption.1994.720p.WEB-DL.x264-GRP"),
        (MOVIE_480_UNKNOWN, "The.Shawshank.Redemption.1994.480p.DVDRip.XviD"),
    ] {
        stack.torbox.add_failing(hash, name, &[(&format!("{name}.mkv"), 1_000_000_000)], "error", 100, 0);
    }
    let config = token_config("tb", TOKEN);
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    let played = play(must(&streams, "tb", MOVIE_1080)["url"].as_str().unwrap()).await;
    assert_eq!(played.status, 422, "the release asked for failed: {}", played.body);
    assert!(played.played.is_none());
    assert!(played.elapsed < WAIT + SLACK, "{:?}", played.elapsed);
    let mut tried: Vec<String> = created(&stack);
    tried.sort();
    tried.dedup();
    assert_eq!(tried.len(), 4, "the release asked for and three others: {tried:?}");
}
