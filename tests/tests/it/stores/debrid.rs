//! RealDebrid, AllDebrid and Premiumize end to end: the real host against their fakes over real
//! sockets, driven as Stremio and a player would. What users notice: the streams listed (⚡ or
//! not), the playback answer (302 to the store's CDN, or a status with a clear text), and what
//! reached each store and how often. No key reaches a log line, a body, a header or a URL we
//! return.

use std::time::Duration;

use chillproxy_tests::client::{http, warning_descriptions as warnings};
use chillproxy_tests::fakes::debrid::Fault;
use chillproxy_tests::fakes::proxy::ForwardProxy;
use chillproxy_tests::fakes::{alldebrid, realdebrid, Running};
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const SECRETS: &[&str] = &[RD_TOKEN, RD_OTHER_TOKEN, AD_KEY, AD_OTHER_KEY, PM_KEY];

/// One store under test.
#[derive(Clone, Copy)]
struct Debrid {
    code: &'static str,
    display: &'static str,
    key: &'static str,
}

const RD: Debrid = Debrid { code: "rd", display: "RealDebrid", key: RD_TOKEN };
const AD: Debrid = Debrid { code: "ad", display: "AllDebrid", key: AD_KEY };
const PM: Debrid = Debrid { code: "pm", display: "Premiumize", key: PM_KEY };

fn config(code: &str, key: &str) -> String {
    Stack::config(&json!({"stores": [{"c": code, "t": key}]}))
}

async fn get_streams(url: &str) -> Vec<Value> {
    let response = http().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let body: Value = response.json().await.unwrap();
    chillproxy_tests::stremio_check::check_stream_list(&body).unwrap_or_else(|e| panic!("{url}: {e}"));
    let text = body.to_string();
    for secret in SECRETS {
        assert!(!text.contains(secret), "a key reached a stream list: {text}");
    }
    body["streams"].as_array().cloned().unwrap_or_default()
}

fn names(streams: &[Value]) -> Vec<String> {
    streams.iter().map(|s| s["name"].as_str().unwrap_or_default().replace('\n', " ")).collect()
}

/// The stream of `hash` on the store with `code`, if listed as playable.
fn stream_on<'a>(streams: &'a [Value], code: &str, hash: &str) -> Option<&'a Value> {
    streams.iter().find(|s| s["url"].as_str().is_some_and(|u| u.contains(&format!("/{code}/{hash}/"))))
}

fn must<'a>(streams: &'a [Value], code: &str, hash: &str) -> &'a Value {
    stream_on(streams, code, hash).unwrap_or_else(|| panic!("no {code} stream for {hash} in {:#?}", names(streams)))
}

/// Plays a stream: the status, `Location`, `Retry-After` and body, checked for keys.
async fn play(stream: &Value) -> (u16, String, Option<String>, String) {
    let response = http().get(stream["url"].as_str().unwrap()).header("user-agent", "mpv/0.38").send().await.unwrap();
    let status = response.status().as_u16();
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let (location, retry_after) = (header("location").unwrap_or_default(), header("retry-after"));
    let headers = format!("{:?}", response.headers());
    let body = response.text().await.unwrap();
    for secret in SECRETS {
        assert!(!headers.contains(secret) && !body.contains(secret), "a key reached a playback answer");
    }
    (status, location, retry_after, body)
}

/// The stack without `[playback] failover`, for tests whose answer is the refusal itself.
fn no_failover() -> StackOptions {
    StackOptions { table_settings: vec![("[playback]", "failover = false".into())], ..Default::default() }
}

fn assert_no_key_in_logs() {
    let logs = chillproxy_tests::logs::capture().text();
    assert!(logs.contains("TRACE") && logs.contains("debrid call"), "the capture works");
    for secret in SECRETS {
        assert!(!logs.contains(secret), "a key reached the logs");
    }
}

/// A stack whose AllDebrid calls go through a local forward proxy (AllDebrid refuses uploads
/// from servers).
async fn stack_with_proxy(options: StackOptions) -> (Stack, ForwardProxy, Running) {
    let (proxy, running) = ForwardProxy::start().await;
    let mut options = options;
    options.table_settings.push(("[store.alldebrid]", format!("proxy_url = {:?}", running.url())));
    (Stack::start(options).await, proxy, running)
}

fn cdn_of(stack: &Stack, store: Debrid) -> String {
    let base = match store.code {
        "rd" => stack.realdebrid.state().common.base_url.clone(),
        "ad" => stack.alldebrid.state().common.base_url.clone(),
        _ => stack.premiumize.state().common.base_url.clone(),
    };
    format!("{base}/cdn/{}/", store.code)
}

#[tokio::test]
async fn a_movie_and_a_season_pack_episode_list_and_play_on_each_store() {
    chillproxy_tests::logs::capture();
    let (stack, proxy, _proxy_server) = stack_with_proxy(StackOptions::default()).await;
    for store in [RD, AD, PM] {
        let config = config(store.code, store.key);
        let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
        assert!(warnings(&streams).is_empty(), "{}: {streams:#?}", store.code);
        let movie = must(&streams, store.code, MOVIE_2160);
        // Premiumize's cache check is exact; RealDebrid and AllDebrid know nothing yet.
        let flash = movie["name"].as_str().unwrap().starts_with("⚡");
        assert_eq!(flash, store.code == "pm", "{}: {:?}", store.code, names(&streams));
        let (status, location, _, body) = play(movie).await;
        assert_eq!(status, 302, "{}: {body}", store.code);
        assert!(location.starts_with(&cdn_of(&stack, store)), "{location}");
        assert!(location.ends_with("/The.Shawshank.Redemption.1994.2160p.UHD.BluRay.REMUX.HEVC-FGT.mkv"), "{location}");

        let streams = get_streams(&stack.stream_url(&config, "series", &format!("{SERIES}:1:3"))).await;
        let (status, location, _, body) = play(must(&streams, store.code, SEASON_1_PACK)).await;
        assert_eq!(status, 302, "{}: {body}", store.code);
        assert!(location.starts_with(&cdn_of(&stack, store)), "{location}");
        assert!(location.ends_with("/Breaking.Bad.S01E03.720p.BluRay.x265.mkv"), "{}: {location}", store.code);
    }
    // RealDebrid got the video files selected and the viewer's token; AllDebrid its agent;
    // Premiumize the key only as `apikey`.
    let select = stack.realdebrid.calls_to(realdebrid::SELECT_FILES);
    assert_eq!(select.len(), 2, "one selection per torrent added");
    assert!(stack.realdebrid.calls().iter().all(|c| c.bearer() == Some(RD_TOKEN)));
    assert!(stack.alldebrid.calls().iter().all(|c| c.query_param("agent").as_deref() == Some("chillproxy")));
    assert!(stack.premiumize.calls().iter().all(|c| c.query_param("apikey").as_deref() == Some(PM_KEY)));
    assert!(stack.premiumize.calls().iter().all(|c| c.authorization.is_none() && !c.body.contains(PM_KEY)));
    // AllDebrid's uploads went through the proxy.
    assert_eq!(stack.alldebrid.calls_to(alldebrid::UPLOAD).len(), 2);
    assert!(stack
        .alldebrid
        .upload_headers()
        .iter()
        .all(|h| h.get("via").is_some_and(|v| v.contains("chillproxy-test-proxy"))));
    assert!(proxy.forwarded() >= 2);
    assert_no_key_in_logs();
}

#[tokio::test]
async fn store_failures_give_their_warning_and_playback_answer() {
    chillproxy_tests::logs::capture();
    // Libraries are read on every list, so a failing store shows at once.
    let options = StackOptions {
        table_settings: vec![
            ("[store.realdebrid]", "library_ttl_s = 0".into()),
            ("[store.alldebrid]", "library_ttl_s = 0".into()),
        ],
        ..Default::default()
    };
    let (stack, _proxy, _proxy_server) = stack_with_proxy(options).await;
    let set_fault = |code: &str, fault: Fault| match code {
        "rd" => stack.realdebrid.set_fault(fault),
        "ad" => stack.alldebrid.set_fault(fault),
        _ => stack.premiumize.set_fault(fault),
    };
    for store in [RD, AD, PM] {
        // A bad key: one ⚠️ that names the store and what to do.
        let bad = config(store.code, "not-a-key-of-anyone");
        let streams = get_streams(&stack.stream_url(&bad, "movie", MOVIE)).await;
        assert_eq!(streams.len(), 1, "{streams:#?}");
        assert!(warnings(&streams)[0].contains(&format!("{} rejected the API key", store.display)), "{streams:#?}");

        // Lists to play from, before anything fails.
        let good = config(store.code, store.key);
        let movie = get_streams(&stack.stream_url(&good, "movie", MOVIE)).await;
        let episode = get_streams(&stack.stream_url(&good, "series", &format!("{SERIES}:1:3"))).await;
        let (uncached, cached) = (must(&movie, store.code, MOVIE_720_UNCACHED), must(&movie, store.code, MOVIE_2160));
        let episode = must(&episode, store.code, EPISODE_S01E03);

        // The account's limit on active downloads: adding an uncached torrent is refused.
        set_fault(store.code, Fault::AccountLimit);
        let (status, _, _, body) = play(uncached).await;
        assert_eq!(status, 429, "{}: {body}", store.code);
        assert!(body.contains(&format!("{} account limit reached", store.display)), "{body}");

        // A server error: one ⚠️ in the list, and playback says the store failed.
        set_fault(store.code, Fault::ServerError { status: 503 });
        let streams = get_streams(&stack.stream_url(&good, "series", &format!("{SERIES}:1:4"))).await;
        let warning = warnings(&streams);
        assert_eq!(warning.len(), 1, "{streams:#?}");
        assert!(warning[0].contains(store.display), "{warning:?}");
        let (status, _, _, body) = play(cached).await;
        assert!(status == 502 || status == 503, "{}: {status} {body}", store.code);
        assert!(body.contains(store.display), "{body}");

        // A rate limit: the store's Retry-After reaches the player, and the list says when.
        set_fault(store.code, Fault::RateLimited { retry_after_secs: 7 });
        let (status, _, retry_after, body) = play(episode).await;
        assert_eq!((status, retry_after.as_deref()), (429, Some("7")), "{}: {body}", store.code);
        assert!(body.contains(&format!("{} is rate limiting requests; try again in 7 s", store.display)), "{body}");
        if store.code != "pm" {
            // The key's calls are held back: the list warns without asking the store again.
            let before = match store.code {
                "rd" => stack.realdebrid.calls().len(),
                _ => stack.alldebrid.calls().len(),
            };
            let streams = get_streams(&stack.stream_url(&good, "movie", MOVIE)).await;
            let warning = warnings(&streams);
            assert!(
                warning
                    .iter()
                    .any(|w| w.contains(&format!("{} is rate limiting requests; try again in", store.display))),
                "{warning:?}"
            );
            let after = match store.code {
                "rd" => stack.realdebrid.calls().len(),
                _ => stack.alldebrid.calls().len(),
            };
            assert_eq!(before, after, "no call while the store asked to wait");
        }
        set_fault(store.code, Fault::None);
    }
    assert_no_key_in_logs();
}

#[tokio::test]
async fn what_one_user_played_is_cached_for_the_next_and_refusals_are_remembered() {
    chillproxy_tests::logs::capture();
    // The refusal itself is the answer here (playback/failover.rs plays the next release).
    let (stack, _proxy, _proxy_server) = stack_with_proxy(no_failover()).await;
    // AllDebrid has no content filter; a dead torrent is its refusal.
    stack.alldebrid.set_dead(MOVIE_1080);
    for (store, other) in [(RD, RD_OTHER_TOKEN), (AD, AD_OTHER_KEY)] {
        let adds = || match store.code {
            "rd" => stack.realdebrid.calls_to(realdebrid::ADD_MAGNET).len(),
            _ => stack.alldebrid.calls_to(alldebrid::UPLOAD).len(),
        };
        let first = config(store.code, store.key);
        let streams = get_streams(&stack.stream_url(&first, "movie", MOVIE)).await;
        assert!(streams.iter().all(|s| !s["name"].as_str().unwrap().starts_with("⚡")), "{:?}", names(&streams));

        // One user plays the 2160p release; for another user it is ⚡ now, with its file.
        let (status, _, _, body) = play(must(&streams, store.code, MOVIE_2160)).await;
        assert_eq!(status, 302, "{body}");
        // The 1080p release is refused: 451, and the store said why.
        let (status, _, _, body) = play(must(&streams, store.code, MOVIE_1080)).await;
        assert_eq!(status, 451, "{}: {body}", store.code);
        assert!(body.contains(&format!("{} refuses this release", store.display)), "{body}");
        assert_eq!(adds(), 2);

        let second = config(store.code, other);
        let streams = get_streams(&stack.stream_url(&second, "movie", MOVIE)).await;
        let cached = must(&streams, store.code, MOVIE_2160);
        assert!(
            cached["name"].as_str().unwrap().starts_with(&format!("⚡️ [{}]", store.code.to_uppercase())),
            "{:?}",
            names(&streams)
        );
        assert!(cached["behaviorHints"]["filename"].as_str().unwrap().ends_with("REMUX.HEVC-FGT.mkv"), "{cached}");
        assert!(
            stream_on(&streams, store.code, MOVIE_1080).is_none(),
            "a refused release is not offered: {:?}",
            names(&streams)
        );

        // Playing the refused release again (the old link) is answered without the store.
        let old = get_streams(&stack.stream_url(&first, "movie", MOVIE)).await;
        assert!(stream_on(&old, store.code, MOVIE_1080).is_none());
        let link = must(&streams, store.code, MOVIE_2160)["url"].as_str().unwrap().replace(MOVIE_2160, MOVIE_1080);
        let (status, _, _, body) = play(&json!({"url": link})).await;
        assert_eq!(status, 451, "{body}");
        assert_eq!(adds(), 2, "no second add of a refused release");
    }

    assert_no_key_in_logs();
}

#[tokio::test]
async fn a_hash_in_the_users_own_ready_library_is_cached_for_that_user_only() {
    chillproxy_tests::logs::capture();
    let stack = Stack::start(StackOptions::default()).await;
    stack.realdebrid.add_to_library(RD_TOKEN, MOVIE_720_UNCACHED);
    stack.alldebrid.add_to_library(AD_KEY, MOVIE_720_UNCACHED);
    for (store, other) in [(RD, RD_OTHER_TOKEN), (AD, AD_OTHER_KEY)] {
        let streams = get_streams(&stack.stream_url(&config(store.code, store.key), "movie", MOVIE)).await;
        let ready = must(&streams, store.code, MOVIE_720_UNCACHED);
        assert!(ready["name"].as_str().unwrap().starts_with("⚡"), "{:?}", names(&streams));
        assert_eq!(names(&streams).iter().filter(|n| n.starts_with("⚡")).count(), 1, "{:?}", names(&streams));
        // Played from the library: nothing is added (and AllDebrid needs no proxy for it).
        let (status, location, _, body) = play(ready).await;
        assert_eq!(status, 302, "{}: {body}", store.code);
        assert!(location.ends_with("/The.Shawshank.Redemption.1994.720p.AMZN.x265-GRP.mkv"), "{location}");
        // Another user's list does not borrow it from the library (a resolve would share it).
        let streams =
            get_streams(&stack.stream_url(&config(store.code, other), "series", &format!("{SERIES}:1:3"))).await;
        assert!(streams.iter().all(|s| !s["name"].as_str().unwrap().starts_with("⚡")), "{:?}", names(&streams));
    }
    assert!(stack.realdebrid.calls_to(realdebrid::ADD_MAGNET).is_empty());
    assert!(stack.alldebrid.calls_to(alldebrid::UPLOAD).is_empty());
    // The library is read once per key while fresh.
    let library_reads = stack.realdebrid.calls().iter().filter(|c| c.path == realdebrid::TORRENTS).count();
    assert_eq!(library_reads, 2, "one read per token");
    assert_no_key_in_logs();
}

#[tokio::test]
async fn alldebrid_refusing_servers_names_proxy_url_and_the_proxy_fixes_it() {
    chillproxy_tests::logs::capture();
    let stack = Stack::start(StackOptions::default()).await;
    let streams = get_streams(&stack.stream_url(&config("ad", AD_KEY), "movie", MOVIE)).await;
    let (status, _, _, body) = play(must(&streams, "ad", MOVIE_2160)).await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("AllDebrid refuses requests from servers: set [store.alldebrid] proxy_url"), "{body}");
    assert_eq!(stack.alldebrid.calls_to(alldebrid::UPLOAD).len(), 1);

    let (stack, proxy, _proxy_server) = stack_with_proxy(StackOptions::default()).await;
    let streams = get_streams(&stack.stream_url(&config("ad", AD_KEY), "movie", MOVIE)).await;
    let (status, location, _, body) = play(must(&streams, "ad", MOVIE_2160)).await;
    assert_eq!(status, 302, "{body}");
    assert!(location.starts_with(&cdn_of(&stack, AD)), "{location}");
    let uploads = stack.alldebrid.upload_headers();
    assert_eq!(uploads.len(), 1);
    assert!(uploads[0].get("via").is_some_and(|v| v.contains("chillproxy-test-proxy")), "{uploads:?}");
    assert_eq!(proxy.forwarded(), stack.alldebrid.calls().len(), "every AllDebrid call went through the proxy");
    assert_no_key_in_logs();
}

#[tokio::test]
async fn four_stores_list_each_stream_once_cached_first_and_one_failing_store_adds_one_warning() {
    chillproxy_tests::logs::capture();
    // AllDebrid's library is read on every list, so its failure shows at once.
    let options =
        StackOptions { table_settings: vec![("[store.alldebrid]", "library_ttl_s = 0".into())], ..Default::default() };
    let (stack, _proxy, _proxy_server) = stack_with_proxy(options).await;
    let config = Stack::config(&json!({"stores": [
        {"c": "tb", "t": TOKEN}, {"c": "rd", "t": RD_TOKEN}, {"c": "ad", "t": AD_KEY}, {"c": "pm", "t": PM_KEY}
    ]}));
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    assert!(warnings(&streams).is_empty(), "{streams:#?}");
    let urls: Vec<&str> = streams.iter().filter_map(|s| s["url"].as_str()).collect();
    let mut unique = urls.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), urls.len(), "a stream is listed twice: {:?}", names(&streams));
    // Cached first: TorBox (first in the config) has the 2160p and 1080p releases.
    let flags: Vec<bool> = streams.iter().map(|s| s["name"].as_str().unwrap().starts_with("⚡")).collect();
    assert_eq!(flags.iter().filter(|f| **f).count(), 2, "{:?}", names(&streams));
    assert!(flags.windows(2).all(|w| w[0] >= w[1]), "cached ones first: {:?}", names(&streams));
    // The uncached releases are offered on each of the four stores.
    for code in ["tb", "rd", "ad", "pm"] {
        assert!(stream_on(&streams, code, MOVIE_720_UNCACHED).is_some(), "{code}: {:?}", names(&streams));
    }

    // Premiumize first: its exact check wins the hashes it has.
    let pm_first = Stack::config(&json!({"stores": [{"c": "pm", "t": PM_KEY}, {"c": "tb", "t": TOKEN}]}));
    let streams = get_streams(&stack.stream_url(&pm_first, "series", &format!("{SERIES}:1:3"))).await;
    assert!(
        names(&streams).iter().filter(|n| n.starts_with("⚡")).all(|n| n.contains("[PM]")),
        "{:?}",
        names(&streams)
    );

    // AllDebrid fails: the others' streams stay, and one ⚠️ names it.
    stack.alldebrid.set_fault(Fault::ServerError { status: 500 });
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    let warning = warnings(&streams);
    assert_eq!(warning.len(), 1, "{streams:#?}");
    assert!(warning[0].contains("AllDebrid"), "{warning:?}");
    for code in ["tb", "rd", "pm"] {
        assert!(stream_on(&streams, code, MOVIE_720_UNCACHED).is_some(), "{code}: {:?}", names(&streams));
    }
    assert!(stream_on(&streams, "tb", MOVIE_2160).is_some_and(|s| s["name"].as_str().unwrap().starts_with("⚡")));
    assert!(streams.iter().filter_map(|s| s["url"].as_str()).all(|u| !u.contains("/ad/")), "{:?}", names(&streams));
    assert_no_key_in_logs();
}

#[tokio::test]
async fn realdebrid_deletes_torrents_added_for_a_play_that_never_finished() {
    chillproxy_tests::logs::capture();
    let options = StackOptions {
        uncached_polls: 1_000_000,
        table_settings: vec![("[store.realdebrid]", "library_ttl_s = 0\ncleanup_after_s = 1".into())],
        ..Default::default()
    };
    let stack = Stack::start(options).await;
    let config = config("rd", RD_TOKEN);
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    let (status, _, _, body) = play(must(&streams, "rd", MOVIE_720_UNCACHED)).await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(stack.realdebrid.torrents_of(RD_TOKEN).len(), 1);
    // The finished 2160p torrent stays; the unfinished one goes on the token's next use.
    let (status, _, _, _) = play(must(&streams, "rd", MOVIE_2160)).await;
    assert_eq!(status, 302);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    get_streams(&stack.stream_url(&config, "series", &format!("{SERIES}:1:3"))).await;
    let deleted = stack.realdebrid.calls_to(realdebrid::DELETE);
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    let left = stack.realdebrid.torrents_of(RD_TOKEN);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].hash, MOVIE_2160);
    assert_no_key_in_logs();
}

#[tokio::test]
async fn the_chillstreams_pool_serves_the_store_its_setting_names() {
    let options = StackOptions { chillstreams_settings: "store = \"rd\"".into(), ..Default::default() };
    let stack = Stack::start(options).await;
    stack.realdebrid.add_key(POOL_KEY);
    let pooled = Stack::config(&json!({"stores": [{"c": "rd", "auth": USER}]}));
    let streams = get_streams(&stack.stream_url(&pooled, "movie", MOVIE)).await;
    assert!(warnings(&streams).is_empty(), "{streams:#?}");
    assert!(stream_on(&streams, "rd", MOVIE_2160).is_some(), "{:?}", names(&streams));
    assert!(stack.realdebrid.calls().iter().all(|c| c.bearer() == Some(POOL_KEY)));
    // TorBox entries no longer take the pool.
    let torbox = Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}));
    let streams = get_streams(&stack.stream_url(&torbox, "movie", MOVIE)).await;
    assert_eq!(warnings(&streams).len(), 1, "{streams:#?}");
    assert!(stack.torbox.calls().is_empty());

    chillproxy_tests::link_plugins();
    let env = chillproxy_core::Env::from_pairs([("CHILLSTREAMS_API_KEY", "k")]);
    let error = chillproxy_host::Config::from_toml("[auth.chillstreams]\nenabled = true\nstore = \"zz\"\n", &env)
        .and_then(|config| chillproxy_host::Plugins::build(&config).map(|_| ()))
        .unwrap_err();
    assert!(
        error.to_string().contains("store \"zz\" is not the code of a registered store; available: ad, pm, rd, tb"),
        "{error}"
    );
}

/// Transport failures (nothing listening): the error names the store and never the key, even
/// for Premiumize, whose key is in every URL.
#[tokio::test]
async fn a_store_that_cannot_be_reached_is_unavailable_without_the_key() {
    use chillproxy_core::registry::{self, PluginContext};
    use chillproxy_core::{Credential, Env, InfoHash, PluginSettings, Secret, StoreError};
    chillproxy_tests::link_plugins();
    let closed = chillproxy_tests::fakes::closed_port_url();
    for (name, key) in [("realdebrid", RD_TOKEN), ("alldebrid", AD_KEY), ("premiumize", PM_KEY)] {
        let descriptor = registry::stores().unwrap().into_iter().find(|d| d.name == name).unwrap();
        let table: toml::Table = toml::from_str(&format!("api_url = {closed:?}\ntimeout_ms = 1000")).unwrap();
        let settings = PluginSettings::new(format!("store.{name}"), table, Env::default());
        let store = (descriptor.build)(&PluginContext::new(&settings)).unwrap();
        let credential = Credential::new(Secret::new(key), "token");
        let hash = InfoHash::parse(MOVIE_2160).unwrap();
        let error = store.check_cached(&credential, std::slice::from_ref(&hash)).await.unwrap_err();
        assert!(matches!(error, StoreError::Unavailable { .. }), "{name}: {error:?}");
        let error = store.add_magnet(&credential, &hash, None).await.unwrap_err();
        let text = format!("{error} {error:?}");
        assert!(text.contains(store.display_name()) && !text.contains(key), "{text}");
    }
}

#[tokio::test]
async fn alldebrid_blocked_keys_say_how_to_unblock_and_realdebrid_gets_the_viewers_ip() {
    chillproxy_tests::logs::capture();
    let stack = Stack::start(StackOptions::default()).await;
    stack.alldebrid.block_key(AD_OTHER_KEY);
    let streams = get_streams(&stack.stream_url(&config("ad", AD_OTHER_KEY), "movie", MOVIE)).await;
    let warning = warnings(&streams);
    assert_eq!(warning.len(), 1, "{streams:#?}");
    assert!(warning[0].contains("approve this server in the e-mail AllDebrid sent you"), "{warning:?}");

    // The viewer's public address (from a trusted proxy's X-Forwarded-For) goes to RealDebrid.
    let streams = get_streams(&stack.stream_url(&config("rd", RD_TOKEN), "movie", MOVIE)).await;
    let url = must(&streams, "rd", MOVIE_2160)["url"].as_str().unwrap().to_string();
    let response = http().get(&url).header("x-forwarded-for", "203.0.113.9").send().await.unwrap();
    assert_eq!(response.status(), 302);
    let adds = stack.realdebrid.calls_to(realdebrid::ADD_MAGNET);
    assert_eq!(adds[0].form_param("ip").as_deref(), Some("203.0.113.9"), "{adds:?}");
    let unrestrict = stack.realdebrid.calls_to(realdebrid::UNRESTRICT);
    assert_eq!(unrestrict[0].form_param("ip").as_deref(), Some("203.0.113.9"));
    assert_no_key_in_logs();
}

#[tokio::test]
async fn a_realdebrid_451_at_unrestrict_is_remembered_even_for_a_library_torrent() {
    chillproxy_tests::logs::capture();
    let stack = Stack::start(no_failover()).await;
    stack.realdebrid.add_to_library(RD_TOKEN, MOVIE_2160);
    stack.realdebrid.refuse_links(MOVIE_2160);
    let mine = config("rd", RD_TOKEN);
    let streams = get_streams(&stack.stream_url(&mine, "movie", MOVIE)).await;
    let ready = must(&streams, "rd", MOVIE_2160);
    assert!(ready["name"].as_str().unwrap().starts_with("⚡"), "in the library: {:?}", names(&streams));
    let (status, _, _, body) = play(ready).await;
    assert_eq!(status, 451, "{body}");
    assert!(body.contains("RealDebrid refuses this release: its content filter blocks it"), "{body}");
    assert_eq!(stack.realdebrid.calls_to(realdebrid::UNRESTRICT).len(), 1);
    // Not offered again, for this user or another, though the library still holds it.
    for key in [RD_TOKEN, RD_OTHER_TOKEN] {
        let streams = get_streams(&stack.stream_url(&config("rd", key), "movie", MOVIE)).await;
        assert!(stream_on(&streams, "rd", MOVIE_2160).is_none(), "{:?}", names(&streams));
    }
    assert!(stack.realdebrid.calls_to(realdebrid::ADD_MAGNET).is_empty());
    assert_no_key_in_logs();
}
