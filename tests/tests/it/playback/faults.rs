//! Upstreams misbehaving: Chillstreams down, slow, failing or answering nonsense; TorBox failing
//! in every way it can; indexers hanging, answering broken XML or far too much. Every request
//! must end within the budget configured for the upstream at fault (plus 2 s: this is about a
//! budget, not performance) with the fallback, a ⚠️ stream or a fitting playback status.
//!
//! The host caches answers (availability per store and hash, candidates per title, links), so
//! every case starts a fresh stack.
//!
//! Budgets, from the stack's plugins.toml: Chillstreams 1000 ms, TorBox 2000 ms per call,
//! Torznab 1500 ms per indexer.

use std::time::{Duration, Instant};

use chillproxy_core::Env;
use chillproxy_tests::client::http;
use chillproxy_tests::fakes::chillstreams::Mode as ChillMode;
use chillproxy_tests::fakes::torbox::{Fault, CHECKCACHED, CREATETORRENT, MYLIST};
use chillproxy_tests::fakes::torznab::{Mode as TorznabMode, Release};
use chillproxy_tests::host::Host;
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const CHILLSTREAMS_BUDGET: Duration = Duration::from_millis(1000);
const TORBOX_BUDGET: Duration = Duration::from_millis(2000);
const TORZNAB_BUDGET: Duration = Duration::from_millis(1500);
/// What a busy 2-core machine may add on top of a budget; still well under the 5 s and 10 s the
/// slow fakes take, so a budget that does not hold fails.
const SLACK: Duration = Duration::from_secs(2);

const STREMIO_UA: &str = "Stremio/4.4.168 (Windows)";
const FILE: &str = "The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE.mkv";

/// A stream list and how long it took.
async fn timed_streams(url: &str) -> (Vec<Value>, Duration) {
    let started = Instant::now();
    let response = http().get(url).header("user-agent", STREMIO_UA).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let body: Value = response.json().await.unwrap();
    let elapsed = started.elapsed();
    (body["streams"].as_array().cloned().unwrap_or_default(), elapsed)
}

/// A playback (status, Retry-After, body) and how long it took.
async fn timed_play(url: &str) -> (u16, Option<String>, String, Duration) {
    let started = Instant::now();
    let response = http().get(url).header("user-agent", "mpv/0.38").send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    let body = response.text().await.unwrap();
    (status, retry_after, body, started.elapsed())
}

fn is_warning(stream: &Value) -> bool {
    stream["name"].as_str().is_some_and(|n| n.starts_with("⚠️"))
}

fn warnings(streams: &[Value]) -> Vec<String> {
    streams
        .iter()
        .filter(|s| is_warning(s))
        .map(|s| {
            format!("{} | {}", s["name"].as_str().unwrap_or_default(), s["description"].as_str().unwrap_or_default())
        })
        .collect()
}

fn playable(streams: &[Value]) -> Vec<&Value> {
    streams.iter().filter(|s| s["url"].is_string()).collect()
}

/// The one ⚠️ stream of a list that must hold nothing else: "name | description".
fn single_warning(case: &str, streams: &[Value]) -> String {
    assert_eq!(streams.len(), 1, "[{case}] one ⚠️ stream expected: {streams:#?}");
    assert!(is_warning(&streams[0]), "[{case}] {streams:#?}");
    assert!(streams[0].get("url").is_none(), "[{case}] a warning is not playable");
    warnings(streams).remove(0)
}

fn within(case: &str, elapsed: Duration, budget: Duration) {
    assert!(elapsed < budget + SLACK, "[{case}] took {elapsed:?}; the budget is {budget:?} (+{SLACK:?})");
}

fn auth_config() -> String {
    Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}))
}

fn token_config() -> String {
    Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}))
}

fn both_config() -> String {
    Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN, "auth": USER}]}))
}

fn play_url(stack: &Stack, config: &str) -> String {
    format!("{}/stremio/torz/{config}/_/strem/{MOVIE}/tb/{MOVIE_1080}/0/{FILE}", stack.host.url())
}

#[derive(Debug, Clone, Copy)]
enum ChillstreamsFault {
    ClosedPort,
    Mode(ChillMode),
}

#[tokio::test]
async fn chillstreams_faults_fall_back_to_the_token_or_explain_within_the_budget() {
    let cases = [
        ("closed port", ChillstreamsFault::ClosedPort),
        ("slow, past timeout_ms", ChillstreamsFault::Mode(ChillMode::Slow(Duration::from_secs(5)))),
        ("HTTP 500", ChillstreamsFault::Mode(ChillMode::Error500)),
        ("200 with garbage", ChillstreamsFault::Mode(ChillMode::Garbage)),
        ("allowed:true without a key", ChillstreamsFault::Mode(ChillMode::AllowedWithoutKey)),
    ];
    for (case, fault) in cases {
        let options = StackOptions {
            chillstreams_down: matches!(fault, ChillstreamsFault::ClosedPort),
            ..StackOptions::default()
        };
        let stack = Stack::start(options).await;
        if let ChillstreamsFault::Mode(mode) = fault {
            stack.chillstreams.set_mode(mode);
        }

        // Token and auth: Chillstreams first, then the token.
        let (streams, elapsed) = timed_streams(&stack.stream_url(&both_config(), "movie", MOVIE)).await;
        within(case, elapsed, CHILLSTREAMS_BUDGET);
        assert_eq!(playable(&streams).len(), 4, "[{case}] the token's streams: {streams:#?}");
        assert!(warnings(&streams).is_empty(), "[{case}] {:?}", warnings(&streams));
        assert!(stack.torbox.calls().iter().all(|c| c.bearer() == Some(TOKEN)), "[{case}] TorBox saw only the token");

        let (status, _, body, elapsed) = timed_play(&play_url(&stack, &both_config())).await;
        within(case, elapsed, CHILLSTREAMS_BUDGET);
        assert_eq!(status, 302, "[{case}] playback with the token: {body}");

        // Auth only: told what happened.
        let (streams, elapsed) = timed_streams(&stack.stream_url(&auth_config(), "movie", MOVIE)).await;
        within(case, elapsed, CHILLSTREAMS_BUDGET);
        let warning = single_warning(case, &streams);
        assert!(warning.contains("Chillstreams is unavailable"), "[{case}] {warning}");

        let (status, _, body, elapsed) = timed_play(&play_url(&stack, &auth_config())).await;
        within(case, elapsed, CHILLSTREAMS_BUDGET);
        assert_eq!(status, 503, "[{case}] playback without a token: {body}");
        assert!(body.contains("Chillstreams is unavailable"), "[{case}] {body}");
        assert!(stack.torbox.calls().iter().all(|c| c.bearer() == Some(TOKEN)), "[{case}] no pool key was used");
    }
}

/// One TorBox fault: (case, fault, text in the warning, playback statuses allowed, Retry-After).
type TorBoxCase = (&'static str, Fault, &'static str, &'static [u16], Option<&'static str>);

#[tokio::test]
async fn torbox_faults_become_a_warning_naming_torbox_and_a_fitting_playback_status() {
    let cases: Vec<TorBoxCase> = vec![
        ("HTTP 500", Fault::ServerError { status: 500 }, "TorBox failed", &[502], None),
        ("HTTP 503", Fault::ServerError { status: 503 }, "TorBox", &[502, 503], None),
        (
            "429",
            Fault::RateLimited { retry_after_secs: 7 },
            "TorBox is rate limiting requests; try again in 7 s",
            &[429],
            Some("7"),
        ),
        (
            "HTML error page",
            Fault::HtmlPage { status: 502 },
            "TorBox is unavailable: HTTP 502 with an HTML page",
            &[503],
            None,
        ),
        (
            "HTML page with 200",
            Fault::HtmlPage { status: 200 },
            "TorBox failed: the reply could not be read (an HTML page",
            &[502],
            None,
        ),
        (
            "truncated JSON",
            Fault::TruncatedJson,
            "TorBox failed: the reply could not be read (truncated or invalid JSON)",
            &[502],
            None,
        ),
        ("hanging", Fault::Hang(Duration::from_secs(10)), "TorBox did not answer in time", &[504], None),
        ("3 MiB reply", Fault::Oversized, "larger than 2 MiB ([store.torbox] max_body_bytes = 2097152)", &[502], None),
        (
            "401",
            Fault::Error { status: 401, code: "BAD_TOKEN".into(), detail: "Invalid API token.".into() },
            "TorBox rejected the API key",
            &[401],
            None,
        ),
    ];
    for (case, fault, text, statuses, retry_after) in cases {
        let stack = Stack::start(StackOptions::default()).await;
        stack.torbox.set_fault(fault.clone());

        let (streams, elapsed) = timed_streams(&stack.stream_url(&token_config(), "movie", MOVIE)).await;
        within(case, elapsed, TORBOX_BUDGET);
        let warning = single_warning(case, &streams);
        assert!(warning.contains("TorBox"), "[{case}] the warning names TorBox: {warning}");
        assert!(warning.contains(text), "[{case}] expected {text:?} in {warning:?}");
        assert!(!warning.contains("FAKE-HTML-ERROR-PAGE"), "[{case}] the page is not shown: {warning}");
        assert_eq!(stack.torbox.count(CHECKCACHED), 1, "[{case}]");

        let (status, after, body, elapsed) = timed_play(&play_url(&stack, &token_config())).await;
        within(case, elapsed, TORBOX_BUDGET);
        assert!(
            statuses.contains(&status),
            "[{case}] playback answered {status} ({body}); expected one of {statuses:?}"
        );
        assert_eq!(after.as_deref(), retry_after, "[{case}] Retry-After");
        assert!(body.contains("TorBox"), "[{case}] the message names TorBox: {body}");
        assert!(body.len() < 400 && !body.contains("FAKE-HTML-ERROR-PAGE"), "[{case}] a short message: {body}");
        // Playback looks for the torrent in the account's list before adding it: the first
        // call fails, and nothing is tried again. After a 429 nothing is sent until its
        // Retry-After is over.
        let attempts = stack.torbox.count(MYLIST) + stack.torbox.count(CREATETORRENT);
        let expected = if retry_after.is_some() { 0 } else { 1 };
        assert_eq!(attempts, expected, "[{case}] one call to find or add it, no retry storm");
    }
}

/// The operator's indexer misbehaves. Alone: one ⚠️ "No indexer answered" within the budget,
/// and TorBox is not asked. With a healthy second indexer (the user's): its results come.
#[tokio::test]
async fn torznab_faults_end_within_the_budget_and_a_healthy_indexer_still_answers() {
    const FIFTY_MB: usize = 50 * 1000 * 1000;
    let cases = [
        ("hanging", TorznabMode::Slow(Duration::from_secs(10)), "timed out"),
        ("invalid XML", TorznabMode::InvalidXml, "Prowlarr"),
        ("HTTP 500", TorznabMode::ServerError, "HTTP 500"),
        ("50 MB body", TorznabMode::HugeBody, "larger than 5 MiB ([source.torznab] max_body_bytes = 5242880)"),
        ("50 MB chunked body", TorznabMode::HugeChunkedBody, "larger than 5 MiB"),
    ];
    for (case, mode, text) in cases {
        let stack = Stack::start(StackOptions::default()).await;
        stack.torznab.set_huge_body_bytes(FIFTY_MB);
        stack.torznab.set_mode(mode);

        let (streams, elapsed) = timed_streams(&stack.stream_url(&auth_config(), "movie", MOVIE)).await;
        within(case, elapsed, TORZNAB_BUDGET);
        let warning = single_warning(case, &streams);
        assert!(warning.contains("No indexer answered"), "[{case}] {warning}");
        assert!(warning.contains(text), "[{case}] expected {text:?} in {warning:?}");
        assert_eq!(stack.torbox.calls().len(), 0, "[{case}] no candidates, no cache check");

        stack.user_torznab.add_releases([
            Release::movie(MOVIE, "The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE", MOVIE_1080).seeders(9),
            Release::movie(MOVIE, "The.Shawshank.Redemption.1994.720p.WEB-DL.x264-GRP", MOVIE_720_UNCACHED),
        ]);
        let config = Stack::config(&json!({
            "stores": [{"c": "tb", "auth": USER}],
            "indexers": [{"n": "jackett", "u": stack.user_torznab.torznab_url(), "ak": USER_INDEXER_KEY}],
        }));
        let (streams, elapsed) = timed_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
        within(case, elapsed, TORZNAB_BUDGET);
        assert!(warnings(&streams).is_empty(), "[{case}] {:?}", warnings(&streams));
        let urls: Vec<&str> = playable(&streams).iter().filter_map(|s| s["url"].as_str()).collect();
        assert_eq!(urls.len(), 2, "[{case}] the healthy indexer's two releases: {streams:#?}");
        assert!(urls.iter().any(|u| u.contains(MOVIE_1080)) && urls.iter().any(|u| u.contains(MOVIE_720_UNCACHED)));
        assert_eq!(stack.user_torznab.search_count(), 1, "[{case}]");
    }
}

/// `[source.torznab] max_body_bytes` is honoured and named when hit.
#[tokio::test]
async fn torznab_body_limit_is_configurable() {
    // The stack's generated TOML ends inside `[source.torznab]`, so this line lands there.
    let options = StackOptions { extra_toml: "max_body_bytes = 1048576\n".into(), ..StackOptions::default() };
    let stack = Stack::start(options).await;
    let (streams, _) = timed_streams(&stack.stream_url(&auth_config(), "movie", MOVIE)).await;
    assert_eq!(playable(&streams).len(), 4, "a normal feed is far under 1 MiB: {streams:#?}");

    stack.torznab.set_huge_body_bytes(2 * 1024 * 1024);
    for (mode, title) in
        [(TorznabMode::HugeBody, format!("{SERIES}:1:3")), (TorznabMode::HugeChunkedBody, format!("{SERIES}:1:4"))]
    {
        stack.torznab.set_mode(mode.clone());
        let (streams, elapsed) = timed_streams(&stack.stream_url(&auth_config(), "series", &title)).await;
        within("2 MiB feed over a 1 MiB cap", elapsed, TORZNAB_BUDGET);
        let warning = single_warning("2 MiB feed over a 1 MiB cap", &streams);
        assert!(
            warning.contains("larger than 1 MiB ([source.torznab] max_body_bytes = 1048576)"),
            "{mode:?}: {warning}"
        );
    }
}

/// `[store.torbox] max_body_bytes` is honoured and named when hit.
#[tokio::test]
async fn torbox_body_limit_is_configurable() {
    let stack = Stack::start(StackOptions::default()).await;
    // A second host against the same fakes, with a 1 MiB cap on TorBox replies.
    let toml = stack.plugins_toml.replace("timeout_ms = 2000\n", "timeout_ms = 2000\nmax_body_bytes = 1048576\n");
    assert_ne!(toml, stack.plugins_toml, "the [store.torbox] table was found");
    let env = Env::from_pairs(Stack::env_pairs(&StackOptions::default(), &stack.chillstreams.url()));
    let host = Host::start(&toml, env).await;
    let url = |config: &str, id: &str| format!("{}/stremio/torz/{config}/stream/movie/{id}.json", host.url());

    let (streams, _) = timed_streams(&url(&token_config(), MOVIE)).await;
    assert_eq!(playable(&streams).len(), 4, "normal replies are far under 1 MiB: {streams:#?}");

    stack.torbox.set_fault(Fault::Oversized);
    stack.torznab.add_release(Release::movie("tt0068646", "The.Godfather.1972.1080p.BluRay.x264", &"ab".repeat(20)));
    let (streams, elapsed) = timed_streams(&url(&token_config(), "tt0068646")).await;
    within("3 MiB reply over a 1 MiB cap", elapsed, TORBOX_BUDGET);
    let warning = single_warning("3 MiB reply over a 1 MiB cap", &streams);
    assert!(
        warning.contains(
            "TorBox failed: the reply (HTTP 200) is larger than 1 MiB ([store.torbox] max_body_bytes = 1048576)"
        ),
        "{warning}"
    );
}
