//! End to end: the real host and the fakes on 127.0.0.1, driven over HTTP as Stremio would.

use std::time::{Duration, Instant};

use chillproxy_tests::client::{http, warning_descriptions as warnings};
use chillproxy_tests::fakes::chillstreams::DEVICE_LIMIT_MESSAGE;
use chillproxy_tests::fakes::torbox::{Fault, CREATETORRENT, MYLIST, REQUESTDL};
use chillproxy_tests::fakes::torznab::Mode as TorznabMode;
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const STREMIO_UA: &str = "Stremio/4.4.168 (Windows)";
const PLAYER_UA: &str = "mpv/0.38";

async fn get_streams(url: &str) -> Vec<Value> {
    let response = http().get(url).header("user-agent", STREMIO_UA).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let body: Value = response.json().await.unwrap();
    // Every stream the end-to-end tests produce is checked against the Stremio protocol.
    chillproxy_tests::stremio_check::check_stream_list(&body).unwrap_or_else(|e| panic!("{url}: {e}"));
    body["streams"].as_array().cloned().unwrap_or_default()
}

fn names(streams: &[Value]) -> Vec<String> {
    streams.iter().map(|s| s["name"].as_str().unwrap_or_default().replace('\n', " ")).collect()
}

fn playable(streams: &[Value]) -> Vec<&Value> {
    streams.iter().filter(|s| s.get("url").is_some()).collect()
}

fn with_hash<'a>(streams: &'a [Value], hash: &str) -> &'a Value {
    streams.iter().find(|s| s["url"].as_str().is_some_and(|u| u.contains(hash))).unwrap_or_else(|| {
        panic!("no stream for {hash} in {:#?}", names(streams));
    })
}

async fn play(url: &str, method: reqwest::Method) -> reqwest::Response {
    http().request(method, url).header("user-agent", PLAYER_UA).send().await.unwrap()
}

async fn wait_for<T>(mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "timed out waiting");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn auth_config() -> String {
    Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}))
}

#[tokio::test]
async fn movie_with_chillstreams_auth_lists_cached_first_and_plays_with_the_pool_key() {
    let stack = Stack::start(StackOptions::default()).await;
    let config = auth_config();
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    let names = names(&streams);
    assert_eq!(
        names,
        ["⚡️ [TB] chillproxy 2160p", "⚡️ [TB] chillproxy 1080p", "[TB] chillproxy 720p", "[TB] chillproxy 480p",],
        "{streams:#?}"
    );
    let cached = with_hash(&streams, MOVIE_1080);
    assert_eq!(cached["behaviorHints"]["filename"], "The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE.mkv");
    assert_eq!(cached["behaviorHints"]["videoSize"], MOVIE_1080_BYTES);
    assert!(cached["behaviorHints"]["bingeGroup"].as_str().unwrap().starts_with("chillproxy|tb|1080p"));
    let description = cached["description"].as_str().unwrap();
    assert!(description.contains("💿 BluRay") && description.contains("👤 412") && description.contains("🔍 Prowlarr"));

    let url = cached["url"].as_str().unwrap();
    let response = play(url, reqwest::Method::GET).await;
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&format!("{}/cdn/", stack.torbox.state().base_url)), "{location}");
    assert!(location.ends_with("/0/The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE.mkv"), "{location}");
    let head = play(url, reqwest::Method::HEAD).await;
    assert_eq!(head.status(), 302);
    assert_eq!(head.headers()["location"].to_str().unwrap(), location);

    // The play put the torrent in the library, whose files carry TorBox's OpenSubtitles hash:
    // the next list hands it to subtitle addons as `videoHash`.
    assert!(cached["behaviorHints"].get("videoHash").is_none(), "a cache check names no hash: {cached}");
    let again = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    let expected = chillproxy_tests::fakes::torbox::opensubtitles_hash(
        MOVIE_1080,
        "The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE.mkv",
        MOVIE_1080_BYTES,
    );
    assert_eq!(with_hash(&again, MOVIE_1080)["behaviorHints"]["videoHash"].as_str(), expected.as_deref());

    // Every TorBox call carried the pool key.
    let calls = stack.torbox.calls();
    assert!(calls.len() >= 4);
    for call in &calls {
        assert_eq!(call.bearer(), Some(POOL_KEY), "{} {}", call.method, call.path);
    }
    assert_eq!(stack.torbox.checkcached_batches().len(), 1);
    assert_eq!(stack.torbox.calls_to(REQUESTDL)[0].query_param("token").as_deref(), Some(POOL_KEY));

    // The usage report reached Chillstreams in the background.
    let reports = wait_for(|| {
        let reports = stack.chillstreams.usage_reports();
        (!reports.is_empty()).then_some(reports)
    })
    .await;
    let report = &reports[0];
    assert_eq!(report["userId"], USER);
    assert_eq!(report["poolKeyId"], POOL_KEY_ID);
    assert_eq!(report["action"], "stream-served");
    assert_eq!(report["hash"], MOVIE_1080);
    assert_eq!(report["cached"], true);
    assert_eq!(report["bytes"], MOVIE_1080_BYTES);
}

#[tokio::test]
async fn episode_with_auth_picks_the_episode_and_the_season_pack_file() {
    let stack = Stack::start(StackOptions::default()).await;
    let config = auth_config();
    let streams = get_streams(&stack.stream_url(&config, "series", &format!("{SERIES}:1:3"))).await;
    assert_eq!(names(&streams), ["⚡️ [TB] chillproxy 1080p", "⚡️ [TB] chillproxy 720p"], "{streams:#?}");
    assert!(!streams.iter().any(|s| s["url"].as_str().unwrap_or_default().contains(EPISODE_S01E04)));

    let pack = with_hash(&streams, SEASON_1_PACK);
    assert_eq!(pack["behaviorHints"]["filename"], "Breaking.Bad.S01E03.720p.BluRay.x264.mkv");
    let response = play(pack["url"].as_str().unwrap(), reqwest::Method::GET).await;
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.ends_with("/2/Breaking.Bad.S01E03.720p.BluRay.x264.mkv"), "{location}");

    // The indexer was asked for the episode.
    let call = stack.torznab.calls().into_iter().find(|c| c.t() == Some("tvsearch")).unwrap();
    assert_eq!((call.param("season"), call.param("ep")), (Some("1"), Some("3")));
}

#[tokio::test]
async fn token_only_uses_the_token_and_never_asks_chillstreams() {
    let stack = Stack::start(StackOptions::default()).await;
    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    assert_eq!(playable(&streams).len(), 4);
    let response = play(with_hash(&streams, MOVIE_2160)["url"].as_str().unwrap(), reqwest::Method::GET).await;
    assert_eq!(response.status(), 302);
    assert!(stack.chillstreams.calls().is_empty());
    assert!(stack.torbox.calls().iter().all(|c| c.bearer() == Some(TOKEN)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(stack.chillstreams.usage_reports().is_empty(), "no usage report for a user's own token");
}

#[tokio::test]
async fn token_is_the_fallback_when_chillstreams_is_down() {
    let stack = Stack::start(StackOptions { chillstreams_down: true, ..Default::default() }).await;
    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN, "auth": USER}]}));
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    assert_eq!(playable(&streams).len(), 4, "{streams:#?}");
    assert!(warnings(&streams).is_empty());
    let response = play(with_hash(&streams, MOVIE_1080)["url"].as_str().unwrap(), reqwest::Method::GET).await;
    assert_eq!(response.status(), 302);
    assert!(stack.torbox.calls().iter().all(|c| c.bearer() == Some(TOKEN)));

    // Without the token, the user is told what happened.
    let config = auth_config();
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    let warning = &warnings(&streams)[0];
    assert!(warning.contains("Chillstreams is unavailable"), "{warning}");
    assert!(streams[0]["externalUrl"].as_str().unwrap().ends_with("/configure"));
}

#[tokio::test]
async fn uncached_torrent_is_added_polled_and_played() {
    let stack = Stack::start(StackOptions { uncached_polls: 3, ..Default::default() }).await;
    let config = auth_config();
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    let uncached = with_hash(&streams, MOVIE_720_UNCACHED);
    assert!(uncached["name"].as_str().unwrap().starts_with("[TB]"));
    let url = uncached["url"].as_str().unwrap();
    assert!(url.contains(&format!("/tb/{MOVIE_720_UNCACHED}/-1/")), "{url}");

    let response = play(url, reqwest::Method::GET).await;
    assert_eq!(response.status(), 302);
    assert!(response.headers()["location"].to_str().unwrap().ends_with("720p.WEB-DL.x264-GRP.mkv"));
    assert_eq!(stack.torbox.count(CREATETORRENT), 1);
    let polls = stack.torbox.calls_to(MYLIST).iter().filter(|c| c.query_param("id").is_some()).count();
    assert_eq!(polls, 4, "added, then polled until downloaded");
    assert_eq!(stack.torbox.count(MYLIST), 5, "after one read of the account's list");
    let report = wait_for(|| stack.chillstreams.usage_reports().first().cloned()).await;
    assert_eq!(report["cached"], false);

    // With cached:true the uncached streams are left out.
    let config = Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}], "cached": true}));
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    // The 720p torrent is now on TorBox, so it counts as cached; the 480p one is not.
    assert!(names(&streams).iter().all(|n| n.starts_with("⚡️")), "{:?}", names(&streams));
    assert!(!streams.iter().any(|s| s["url"].as_str().unwrap_or_default().contains(MOVIE_480_UNKNOWN)));
}

#[tokio::test]
async fn playback_that_never_finishes_answers_504() {
    let stack = Stack::start(StackOptions::default()).await;
    let config = auth_config();
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    let response = play(with_hash(&streams, MOVIE_480_UNKNOWN)["url"].as_str().unwrap(), reqwest::Method::GET).await;
    assert_eq!(response.status(), 504);
    let text = response.text().await.unwrap();
    assert!(text.contains("still downloading"), "{text}");
}

#[tokio::test]
async fn device_limit_is_a_warning_stream_with_chillstreams_message() {
    let stack = Stack::start(StackOptions::default()).await;
    stack.chillstreams.add_devices(USER, &["tv", "phone", "laptop"]);
    let streams = get_streams(&stack.stream_url(&auth_config(), "movie", MOVIE)).await;
    assert_eq!(streams.len(), 1);
    let description = streams[0]["description"].as_str().unwrap();
    assert!(description.contains(&format!("Device limit reached: {DEVICE_LIMIT_MESSAGE}")), "{description}");
    assert!(streams[0]["name"].as_str().unwrap().starts_with("⚠️"));
    assert_eq!(stack.torbox.calls().len(), 0);
    assert_eq!(stack.torznab.call_count(), 0, "no source is asked when no store can be used");
}

#[tokio::test]
async fn torbox_rejecting_the_key_is_explained() {
    let stack = Stack::start(StackOptions::default()).await;
    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": "not-a-torbox-key"}]}));
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    assert_eq!(warnings(&streams).len(), 1, "{streams:#?}");
    assert!(warnings(&streams)[0].contains("TorBox rejected the API key"));
    assert!(playable(&streams).is_empty());
}

#[tokio::test]
async fn torbox_rate_limit_is_passed_on() {
    let stack = Stack::start(StackOptions::default()).await;
    let config = auth_config();
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    let url = with_hash(&streams, MOVIE_1080)["url"].as_str().unwrap().to_string();

    stack.torbox.set_fault(Fault::RateLimited { retry_after_secs: 7 });
    let response = play(&url, reqwest::Method::GET).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    // Another title: the movie's cache answers are known already and need no TorBox call.
    let streams = get_streams(&stack.stream_url(&config, "series", &format!("{SERIES}:1:3"))).await;
    assert!(warnings(&streams).iter().any(|w| w.contains("rate limiting") && w.contains("7 s")), "{streams:#?}");
}

#[tokio::test]
async fn indexers_down_all_or_one() {
    let stack = Stack::start(StackOptions::default()).await;
    // A user indexer next to the operator's: when it is down, the operator's still answers.
    stack.user_torznab.set_mode(TorznabMode::ServerError);
    let config = Stack::config(&json!({
        "stores": [{"c": "tb", "auth": USER}],
        "indexers": [{"n": "jackett", "u": stack.user_torznab.torznab_url(), "ak": USER_INDEXER_KEY}],
    }));
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    assert_eq!(playable(&streams).len(), 4);
    assert!(warnings(&streams).is_empty());
    assert_eq!(stack.user_torznab.call_count(), 1);

    // Every indexer down: one warning. (Another title: the movie's candidates are cached now.)
    stack.torznab.set_mode(TorznabMode::ServerError);
    let streams = get_streams(&stack.stream_url(&config, "series", &format!("{SERIES}:1:3"))).await;
    assert_eq!(streams.len(), 1, "{streams:#?}");
    assert!(warnings(&streams)[0].contains("indexer"), "{streams:#?}");
    assert!(streams[0]["name"].as_str().unwrap().contains("No indexer answered"));
}

#[tokio::test]
async fn a_rejected_realdebrid_token_next_to_torbox_warns_once_and_torbox_still_plays() {
    let stack = Stack::start(StackOptions::default()).await;
    let config = Stack::config(&json!({"stores": [{"c": "rd", "t": "rd-token"}, {"c": "tb", "auth": USER}]}));
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    assert_eq!(
        warnings(&streams),
        ["RealDebrid rejected the API key. Check the token in your config, or ask your provider."]
    );
    let cached: Vec<_> =
        playable(&streams).into_iter().filter(|s| s["name"].as_str().unwrap().starts_with("⚡️ [TB]")).collect();
    assert_eq!(cached.len(), 2, "{streams:#?}");
    assert!(!streams.iter().any(|s| s["name"].as_str().unwrap_or_default().contains("[RD]")));
}

#[tokio::test]
async fn bad_configs_and_ids_answer_clearly() {
    let stack = Stack::start(StackOptions::default()).await;
    for (config, expected) in [
        ("not-base64!!".to_string(), "not valid base64"),
        (Stack::config(&json!({"stores": []})), "at least one store"),
        (Stack::config(&json!({"stores": [{"c": "zz", "t": "x"}]})), "unknown store code"),
        (Stack::config(&json!({"stores": [{"c": "tb"}]})), "needs an API token (t) or a Chillstreams user id (auth)"),
        (Stack::config(&json!({"stores": [{"c": "tb", "auth": "not-a-uuid"}]})), "invalid auth format, expected UUID"),
    ] {
        let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
        assert_eq!(streams.len(), 1);
        let description = streams[0]["description"].as_str().unwrap();
        assert!(description.contains(expected), "{config}: {description}");
        assert!(streams[0]["externalUrl"].as_str().unwrap().contains("/configure"));
    }
    let config = auth_config();
    for (kind, id) in
        [("movie", "tt"), ("series", "tt1:x:y"), ("anime", MOVIE), ("movie", "kitsu:1:8"), ("series", "kitsu:x")]
    {
        let response = http().get(stack.stream_url(&config, kind, id)).send().await.unwrap();
        assert_eq!(response.status(), 400, "{kind}/{id}");
    }
    let bad_hash = format!("{}/stremio/torz/{config}/_/strem/{MOVIE}/tb/xyz/0/", stack.host.url());
    assert_eq!(play(&bad_hash, reqwest::Method::GET).await.status(), 400);
    assert_eq!(stack.chillstreams.calls().len(), 0, "nothing reached Chillstreams for bad input");

    // Manifest: configured when valid, configurationRequired otherwise.
    let manifest: Value = http().get(stack.manifest_url(&config)).send().await.unwrap().json().await.unwrap();
    assert!(manifest["behaviorHints"].get("configurationRequired").is_none());
    assert!(manifest["description"].as_str().unwrap().ends_with("— TB"));
    let manifest: Value = http().get(stack.manifest_url("bad")).send().await.unwrap().json().await.unwrap();
    assert_eq!(manifest["behaviorHints"]["configurationRequired"], true);
    let options = http().request(reqwest::Method::OPTIONS, stack.manifest_url(&config)).send().await.unwrap();
    assert_eq!(options.status(), 200);
    let page = http().get(format!("{}/stremio/torz/configure", stack.host.url())).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Install in Stremio"));
}

/// No response body, header or generated URL contains the pool key or the internal API key.
#[tokio::test]
async fn no_secret_in_any_response() {
    let stack = Stack::start(StackOptions::default()).await;
    let config = auth_config();
    let mut seen = String::new();
    let mut urls = vec![
        stack.stream_url(&config, "movie", MOVIE),
        stack.stream_url(&config, "series", &format!("{SERIES}:1:3")),
        stack.manifest_url(&config),
        format!("{}/stremio/torz/{config}/configure", stack.host.url()),
    ];
    for url in urls.clone() {
        let response = http().get(&url).header("user-agent", STREMIO_UA).send().await.unwrap();
        seen.push_str(&format!("{:?}", response.headers()));
        let body = response.text().await.unwrap();
        if let Ok(json) = serde_json::from_str::<Value>(&body) {
            for stream in json["streams"].as_array().into_iter().flatten() {
                urls.push(stream["url"].as_str().unwrap_or_default().to_string());
            }
        }
        seen.push_str(&body);
    }
    for url in urls.iter().filter(|u| u.contains("/_/strem/")) {
        seen.push_str(url);
        for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
            let response = play(url, method).await;
            seen.push_str(&format!("{:?}", response.headers()));
            seen.push_str(&response.text().await.unwrap());
        }
    }
    stack.chillstreams.add_devices(USER, &["a", "b", "c"]);
    let denied =
        http().get(stack.stream_url(&config, "movie", MOVIE)).header("user-agent", "new-device").send().await.unwrap();
    seen.push_str(&denied.text().await.unwrap());
    assert!(seen.contains("/_/strem/") && seen.contains("Device limit reached"));
    for secret in [POOL_KEY, INTERNAL_API_KEY, INDEXER_KEY] {
        assert!(!seen.contains(secret), "{secret} leaked");
    }
}

#[tokio::test]
async fn torrent_only_items_become_streams_and_play_and_bad_files_are_skipped() {
    use chillproxy_tests::fakes::torznab::{torrent_file, HashIn, Release};
    let stack = Stack::start(StackOptions::default()).await;
    // A private tracker's item: only a `.torrent` link, no infohash attribute, no magnet.
    let name = "The.Shawshank.Redemption.1994.1080p.BluRay.DTS.x264-PRIVATE";
    let (_, file_hash) = torrent_file(name);
    // One whose link redirects to a magnet URI, one broken, one oversized.
    let redirect_hash = "abababababababababababababababababababab";
    let broken_hash = "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";
    let huge_hash = "efefefefefefefefefefefefefefefefefefefef";
    let redirect_name = "The.Shawshank.Redemption.1994.720p.BluRay.x264-REDIRECT";
    stack.torznab.add_releases([
        Release::movie(MOVIE, name, &file_hash).hash_in(HashIn::TorrentFile),
        Release::movie(MOVIE, redirect_name, redirect_hash).hash_in(HashIn::MagnetRedirect),
        Release::movie(MOVIE, "The.Shawshank.Redemption.1994.BROKEN", broken_hash).hash_in(HashIn::BrokenTorrent),
        Release::movie(MOVIE, "The.Shawshank.Redemption.1994.HUGE", huge_hash).hash_in(HashIn::HugeTorrent),
    ]);
    stack.torbox.add_cached(&file_hash, name, &[(&format!("{name}.mkv"), 1_500_000_000)]);
    stack.torbox.add_cached(redirect_hash, redirect_name, &[(&format!("{redirect_name}.mkv"), 900_000_000)]);
    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));

    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;

    for hash in [&file_hash[..], redirect_hash] {
        let stream = with_hash(&streams, hash);
        assert!(stream["name"].as_str().unwrap().contains('⚡'), "{stream:#?}");
        let response = play(stream["url"].as_str().unwrap(), reqwest::Method::GET).await;
        assert_eq!(response.status(), 302, "{hash}");
        assert!(response.headers()["location"].to_str().unwrap().starts_with(&stack.torbox.state().base_url));
    }
    for hash in [broken_hash, huge_hash] {
        assert!(!streams.iter().any(|s| s["url"].as_str().is_some_and(|u| u.contains(hash))), "{hash} listed");
    }
    // The indexer's other (ordinary) results are still there, and nothing failed for the user.
    with_hash(&streams, MOVIE_1080);
    assert!(warnings(&streams).is_empty(), "{:?}", warnings(&streams));
    assert_eq!(stack.torznab.downloads().len(), 4, "each link read once: {:?}", stack.torznab.downloads());
}
