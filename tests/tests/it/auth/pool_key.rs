//! One TorBox pool key, many users (issue 11), end to end: the real host with the fakes on
//! 127.0.0.1, the fake TorBox enforcing TorBox's documented per-token limits. Playback finds
//! torrents in the pool account instead of adding them, keeps the key within its budgets, ends
//! at once for a torrent that failed, and words every documented TorBox reply.

use std::time::{Duration, Instant};

use chillproxy_tests::client::http;
use chillproxy_tests::fakes::torbox::{Fault, Limits, CONTROLTORRENT, CREATETORRENT, MYLIST, REQUESTDL};
use chillproxy_tests::stack::*;
use futures::future::join_all;
use serde_json::json;

fn hash(n: u32) -> String {
    format!("{:040x}", 0xabc0_0000_u64 + u64::from(n))
}

fn auth_config_for(user: &str) -> String {
    Stack::config(&json!({"stores": [{"c": "tb", "auth": user}]}))
}

fn token_config() -> String {
    Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}))
}

/// A playback URL as the stream list builds it (without the device binding, which only
/// matters for Chillstreams' device count).
fn play_url(stack: &Stack, config: &str, hash: &str, name: &str) -> String {
    format!("{}/stremio/torz/{config}/_/strem/{MOVIE}/tb/{hash}/0/{name}.mkv", stack.host.url())
}

struct Played {
    status: u16,
    retry_after: Option<String>,
    location: Option<String>,
    body: String,
    elapsed: Duration,
}

async fn play(url: &str, user_agent: &str) -> Played {
    let started = Instant::now();
    let response = http().get(url).header("user-agent", user_agent).send().await.unwrap();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (status, retry_after, location) = (response.status().as_u16(), header("retry-after"), header("location"));
    let body = response.text().await.unwrap();
    Played { status, retry_after, location, body, elapsed: started.elapsed() }
}

#[tokio::test]
async fn ten_torrents_in_the_pool_account_play_a_hundred_times_without_createtorrent() {
    let stack = Stack::start(StackOptions::default()).await;
    stack.torbox.set_limits(Some(Limits::DOCUMENTED));
    for n in 0..10 {
        stack.torbox.add_cached(
            &hash(n),
            &format!("Pool.Movie.{n}.1080p"),
            &[(&format!("Pool.Movie.{n}.1080p.mkv"), 1_000_000)],
        );
        stack.torbox.add_to_account(POOL_KEY, &hash(n));
    }
    let users: Vec<String> = (1..=5).map(|i| format!("00000000-0000-4000-8000-0000000000a{i}")).collect();
    for user in &users {
        stack.chillstreams.add_user(user, POOL_KEY, POOL_KEY_ID);
    }
    let mut plays = Vec::new();
    for (i, user) in users.iter().enumerate() {
        for n in 0..10 {
            for _ in 0..2 {
                let url = play_url(&stack, &auth_config_for(user), &hash(n), &format!("Pool.Movie.{n}.1080p"));
                plays.push((url, format!("Stremio ({i})")));
            }
        }
    }
    assert_eq!(plays.len(), 100);
    let played = join_all(plays.iter().map(|(url, ua)| play(url, ua))).await;
    for p in &played {
        assert_eq!(p.status, 302, "{}", p.body);
        assert!(p.location.as_deref().is_some_and(|l| l.contains("/cdn/")), "{:?}", p.location);
    }
    assert_eq!(stack.torbox.count(CREATETORRENT), 0, "every torrent was already in the pool account");
    let list_calls = stack.torbox.count(MYLIST);
    assert!(list_calls <= 10, "mylist calls are bounded: {list_calls}");
    assert_eq!(list_calls, 1, "one read of the account for everyone");
    assert_eq!(stack.torbox.count(REQUESTDL), 10, "one link per file, shared by every user of the key");
    assert_eq!(stack.torbox.rate_limited(), 0, "no 429 at TorBox");
}

#[tokio::test]
async fn over_the_hourly_create_budget_playback_answers_at_once_with_the_limit() {
    let options =
        StackOptions { table_settings: vec![("[store.torbox]", "creates_per_hour = 3".into())], ..Default::default() };
    let stack = Stack::start(options).await;
    stack.torbox.set_limits(Some(Limits::DOCUMENTED));
    for n in 0..5 {
        stack.torbox.add_uncached(&hash(n), &format!("New.Movie.{n}"), &[(&format!("New.Movie.{n}.mkv"), 1_000)], 0);
    }
    let config = auth_config_for(USER);
    for n in 0..3 {
        let played = play(&play_url(&stack, &config, &hash(n), &format!("New.Movie.{n}")), "mpv").await;
        assert_eq!(played.status, 302, "{}", played.body);
    }
    for n in 3..5 {
        let calls = stack.torbox.calls().len();
        let played = play(&play_url(&stack, &config, &hash(n), &format!("New.Movie.{n}")), "mpv").await;
        assert_eq!(played.status, 429, "{}", played.body);
        assert!(
            played.body.starts_with(
                "TorBox's hourly limit for new downloads is reached; cached streams still play. Try again in"
            ),
            "{}",
            played.body
        );
        let after: u64 = played.retry_after.as_deref().and_then(|v| v.parse().ok()).expect("Retry-After");
        assert!((3_000..=3_600).contains(&after), "{after}");
        assert!(
            played.elapsed < Duration::from_millis(1_500),
            "at once, not after the budget wait: {:?}",
            played.elapsed
        );
        assert_eq!(stack.torbox.calls().len(), calls, "no call reached TorBox");
    }
    assert_eq!(stack.torbox.count(CREATETORRENT), 3);
    assert_eq!(stack.torbox.rate_limited(), 0);

    // Torrents already in the account still play.
    let played = play(&play_url(&stack, &config, &hash(0), "New.Movie.0"), "another player").await;
    assert_eq!(played.status, 302, "{}", played.body);
}

#[tokio::test]
async fn a_torrent_that_fails_ends_playback_well_under_wait_ms() {
    // The stack waits up to wait_ms = 3000 for a download.
    let stack = Stack::start(StackOptions::default()).await;
    stack.torbox.add_failing(&hash(1), "Broken.Movie", &[("Broken.Movie.mkv", 1)], "error", 5, 0);
    stack.torbox.add_failing(&hash(2), "Unseeded.Movie", &[("Unseeded.Movie.mkv", 1)], "stalled (no seeds)", 5, 0);
    let config = auth_config_for(USER);

    let played = play(&play_url(&stack, &config, &hash(1), "Broken.Movie"), "mpv").await;
    assert_eq!(played.status, 422, "{}", played.body);
    assert_eq!(
        played.body,
        "TorBox could not download this torrent: the download stopped with an error on TorBox, also after adding it \
         again. Pick another stream."
    );
    // Well under wait_ms (3 s).
    assert!(played.elapsed < Duration::from_millis(2_000), "{:?}", played.elapsed);
    assert_eq!((stack.torbox.count(CREATETORRENT), stack.torbox.count(CONTROLTORRENT)), (2, 1), "re-added once");

    let played = play(&play_url(&stack, &config, &hash(1), "Broken.Movie"), "mpv").await;
    assert_eq!(played.status, 422);
    assert_eq!(stack.torbox.count(CREATETORRENT), 2, "no new download for a torrent that keeps failing");

    let played = play(&play_url(&stack, &config, &hash(2), "Unseeded.Movie"), "mpv").await;
    assert_eq!(played.status, 422, "{}", played.body);
    assert!(played.body.contains("no one is seeding it"), "{}", played.body);
    assert!(played.elapsed < Duration::from_millis(2_000), "{:?}", played.elapsed);
    assert_eq!((stack.torbox.count(CREATETORRENT), stack.torbox.count(CONTROLTORRENT)), (3, 1), "not re-added");
}

/// How a case sets the fake up before the playback of `hash(9)` (uncached, for the token).
type Setup = fn(&Stack);

#[tokio::test]
async fn the_active_limit_reply_and_each_documented_code_read_clearly() {
    let cases: Vec<(&str, Setup, u16, &str)> = vec![
        (
            "the documented active-limit reply",
            |s| {
                s.torbox.add_uncached(&hash(8), "Busy", &[("busy.mkv", 1)], 1_000);
                s.torbox.add_to_account(TOKEN, &hash(8));
                s.torbox.set_active_limit(Some(1));
            },
            429,
            "TorBox account limit reached: the account is already downloading as many torrents as it may (1 of 1); \
             cached streams still play.",
        ),
        (
            "ACTIVE_LIMIT",
            |s| s.torbox.set_endpoint_fault(CREATETORRENT, fault(403, "ACTIVE_LIMIT")),
            429,
            "cached streams still play",
        ),
        (
            "MONTHLY_LIMIT",
            |s| s.torbox.set_endpoint_fault(CREATETORRENT, fault(403, "MONTHLY_LIMIT")),
            429,
            "monthly download limit is reached",
        ),
        (
            "COOLDOWN_LIMIT",
            |s| s.torbox.set_endpoint_fault(CREATETORRENT, fault(400, "COOLDOWN_LIMIT")),
            429,
            "TorBox is rate limiting requests",
        ),
        (
            "DOWNLOAD_TOO_LARGE",
            |s| s.torbox.set_endpoint_fault(CREATETORRENT, fault(400, "DOWNLOAD_TOO_LARGE")),
            422,
            "TorBox could not download this torrent: it is larger than the account's plan allows",
        ),
        (
            "TOO_MUCH_DATA",
            |s| s.torbox.set_endpoint_fault(CREATETORRENT, fault(400, "TOO_MUCH_DATA")),
            422,
            "TorBox could not download this torrent: it holds more data than TorBox accepts",
        ),
        (
            "DOWNLOAD_SERVER_ERROR",
            |s| s.torbox.set_endpoint_fault(CREATETORRENT, fault(500, "DOWNLOAD_SERVER_ERROR")),
            503,
            "TorBox is unavailable: its download servers had an error; try again in a few minutes",
        ),
        (
            "DATABASE_ERROR",
            |s| s.torbox.set_endpoint_fault(CREATETORRENT, fault(500, "DATABASE_ERROR")),
            503,
            "TorBox is unavailable: its database had an error; try again in a few minutes",
        ),
        ("BAD_TOKEN 403", |s| drop(s.torbox.state().accounts.remove(TOKEN)), 401, "TorBox rejected the API key"),
        ("BAD_TOKEN 401", |s| s.torbox.set_fault(fault(401, "BAD_TOKEN")), 401, "TorBox rejected the API key"),
        ("ITEM_NOT_FOUND", |s| s.torbox.set_endpoint_fault(REQUESTDL, fault(404, "ITEM_NOT_FOUND")), 404, "not found"),
        (
            "429 with Retry-After",
            |s| s.torbox.set_fault(Fault::RateLimited { retry_after_secs: 7 }),
            429,
            "TorBox is rate limiting requests; try again in 7 s.",
        ),
        (
            "429 without Retry-After",
            |s| {
                s.torbox.set_limits(Some(Limits {
                    requests_per_minute: 1,
                    creates_per_hour: 60,
                    creates_per_minute: 10,
                }))
            },
            429,
            "TorBox is rate limiting requests; try again in a minute.",
        ),
    ];
    for (case, setup, status, text) in cases {
        let stack = Stack::start(StackOptions::default()).await;
        stack.torbox.add_uncached(&hash(9), "Wanted.Movie", &[("Wanted.Movie.mkv", 1)], 0);
        setup(&stack);
        let played = play(&play_url(&stack, &token_config(), &hash(9), "Wanted.Movie"), "mpv").await;
        assert_eq!(played.status, status, "[{case}] {}", played.body);
        assert!(played.body.contains(text), "[{case}] expected {text:?} in {:?}", played.body);
        assert!(!played.body.contains(TOKEN), "[{case}]");
        match case {
            "429 with Retry-After" => assert_eq!(played.retry_after.as_deref(), Some("7")),
            "429 without Retry-After" => {
                assert_eq!(played.retry_after, None);
                // TorBox's 429 holds the key's calls back for a minute: the next playback is
                // answered at once, with when to try again, and sends nothing.
                let calls = stack.torbox.calls().len();
                let again = play(&play_url(&stack, &token_config(), &hash(9), "Wanted.Movie"), "mpv").await;
                assert_eq!(again.status, 429, "{}", again.body);
                assert!(again.retry_after.as_deref().and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| s <= 60));
                assert_eq!(stack.torbox.calls().len(), calls);
            }
            _ => {}
        }
    }
}

fn fault(status: u16, code: &str) -> Fault {
    Fault::Error { status, code: code.to_string(), detail: format!("TorBox's text for {code}.") }
}

#[tokio::test]
async fn duplicate_item_plays_the_torrent_already_in_the_account() {
    let stack = Stack::start(StackOptions::default()).await;
    stack.torbox.add_cached(&hash(1), "First", &[("First.mkv", 1)]);
    stack.torbox.add_cached(&hash(2), "Second", &[("Second.mkv", 1)]);
    let played = play(&play_url(&stack, &token_config(), &hash(1), "First"), "mpv").await;
    assert_eq!(played.status, 302, "{}", played.body);
    // Added by the user's own TorBox app after chillproxy read the account.
    stack.torbox.add_to_account(TOKEN, &hash(2));
    stack.torbox.set_endpoint_fault(CREATETORRENT, fault(409, "DUPLICATE_ITEM"));
    let played = play(&play_url(&stack, &token_config(), &hash(2), "Second"), "mpv").await;
    assert_eq!(played.status, 302, "{}", played.body);
    assert!(played.location.unwrap().ends_with("/0/Second.mkv"));
}
