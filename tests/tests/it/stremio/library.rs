//! The viewer's library as catalogs (issue 24): a token user's TorBox account paged by `skip`,
//! searchable, newest first, an item's files as videos that play; pool users sharing one key
//! see only what each of them played, across three replicas sharing Redis. A Pro account's usenet
//! downloads are listed with its torrents and play from the account as usenet.

use std::time::{Duration, Instant};

use chillproxy_tests::client::http;
use chillproxy_tests::fakes::torbox::{CREATETORRENT, MYLIST};
use chillproxy_tests::fakes::torbox_usenet::{
    md5_hex, CREATE as USENET_CREATE, MYLIST as USENET_MYLIST, REQUESTDL as USENET_REQUESTDL,
};
use chillproxy_tests::redis::RedisServer;
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const USER_2: &str = "660e8400-e29b-41d4-a716-446655440001";
const USER_3: &str = "770e8400-e29b-41d4-a716-446655440002";

struct Reply {
    status: u16,
    cache_control: String,
    text: String,
    json: Value,
}

async fn get(url: &str) -> Reply {
    let response = http().get(url).header("user-agent", "Stremio/4.4.168 (Windows)").send().await.unwrap();
    let status = response.status().as_u16();
    let cache_control =
        response.headers().get("cache-control").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    for secret in [TOKEN, POOL_KEY, RD_TOKEN] {
        assert!(!text.contains(secret), "a key reached a library reply: {text}");
    }
    Reply { status, cache_control, text, json }
}

fn hash_of(n: u32) -> String {
    format!("{:040x}", 0xa11ce000_u64 + u64::from(n))
}

/// The library catalog's id from the configured manifest.
async fn catalog_id(base: &str, config: &str) -> String {
    catalog_id_named(base, config, "TorBox — my downloads").await
}

async fn catalog_id_named(base: &str, config: &str, name: &str) -> String {
    let manifest = get(&format!("{base}/stremio/torz/{config}/manifest.json")).await.json;
    let catalogs = manifest["catalogs"].as_array().cloned().unwrap_or_default();
    assert_eq!(catalogs.len(), 1, "{manifest:#}");
    assert_eq!(catalogs[0]["type"], "other");
    assert_eq!(catalogs[0]["name"], name);
    let resources = manifest["resources"].to_string();
    assert!(resources.contains("\"catalog\"") && resources.contains("\"meta\""), "{resources}");
    catalogs[0]["id"].as_str().unwrap().to_string()
}

fn names(metas: &Value) -> Vec<String> {
    metas["metas"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_token_user_pages_searches_opens_and_plays_their_torbox_downloads() {
    let stack = Stack::start(StackOptions::default()).await;
    for n in 1..=28 {
        let name = format!("Home.Video.Number.{n:02}.2019.1080p.WEB-DL.x264-GRP");
        stack.torbox.add_cached(&hash_of(n), &name, &[(&format!("{name}.mkv"), 1_000_000_000 + u64::from(n))]);
        stack.torbox.add_to_account(TOKEN, &hash_of(n));
    }
    stack.torbox.add_to_account(TOKEN, SEASON_1_PACK);
    stack.torbox.add_to_account(TOKEN, MOVIE_1080);
    // Another account's downloads are not this user's.
    stack.torbox.add_to_account(POOL_KEY, MOVIE_2160);
    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));
    let base = stack.host.url();
    let id = catalog_id(&base, &config).await;
    let catalog = format!("{base}/stremio/torz/{config}/catalog/other/{id}");

    let first = get(&format!("{catalog}.json")).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.cache_control, "private, max-age=60");
    let page = names(&first.json);
    assert_eq!(page.len(), 20);
    assert_eq!(page[0], "The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE", "newest first: {page:?}");
    assert_eq!(page[1], "Breaking.Bad.S01.720p.BluRay.x264");
    assert_eq!(page[2], "Home.Video.Number.28.2019.1080p.WEB-DL.x264-GRP");
    let metas = first.json["metas"].as_array().unwrap();
    assert!(metas[0]["description"].as_str().unwrap().starts_with("Movie: The Shawshank Redemption (1994)"));
    assert!(metas[1]["description"].as_str().unwrap().starts_with("Season 1 of Breaking Bad"), "{}", metas[1]);
    assert!(metas.iter().all(|m| m["type"] == "other" && m["id"].as_str().unwrap().starts_with("cpl:tb:")));

    let second = get(&format!("{catalog}/skip=20.json")).await;
    let rest = names(&second.json);
    assert_eq!(rest.len(), 10, "{rest:?}");
    assert_eq!(rest.last().unwrap(), "Home.Video.Number.01.2019.1080p.WEB-DL.x264-GRP");
    assert!(names(&get(&format!("{catalog}/skip=30.json")).await.json).is_empty());
    let found = get(&format!("{catalog}/search=shawshank.json")).await;
    assert_eq!(names(&found.json), ["The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE"]);
    let found = get(&format!("{catalog}/search=number%2007&skip=0.json")).await;
    assert_eq!(names(&found.json), ["Home.Video.Number.07.2019.1080p.WEB-DL.x264-GRP"]);

    // The pack: its episodes as videos with their numbers.
    let pack_id = metas[1]["id"].as_str().unwrap();
    let pack = get(&format!("{base}/stremio/torz/{config}/meta/other/{pack_id}.json")).await;
    assert_eq!(pack.cache_control, "private, max-age=60");
    let videos = pack.json["meta"]["videos"].as_array().unwrap();
    assert_eq!(videos.len(), 7, "{:#}", pack.json);
    assert_eq!((videos[2]["season"].as_u64(), videos[2]["episode"].as_u64()), (Some(1), Some(3)));

    // The movie: one video (no sample, no .nfo); its stream plays.
    let movie_id = metas[0]["id"].as_str().unwrap();
    let movie = get(&format!("{base}/stremio/torz/{config}/meta/other/{movie_id}.json")).await;
    let videos = movie.json["meta"]["videos"].as_array().unwrap();
    assert_eq!(videos.len(), 1, "{:#}", movie.json);
    let stream = &videos[0]["streams"][0];
    assert_eq!(stream["behaviorHints"]["filename"], "The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE.mkv");
    let lists = stack.torbox.calls_to(MYLIST).iter().filter(|c| c.query_param("id").is_none()).count();
    assert_eq!(lists, 1, "one list read for every page, search and meta");
    assert!(stack.torbox.calls_to(MYLIST).iter().all(|c| c.query_param("bypass_cache").as_deref() == Some("true")));

    let played = http().get(stream["url"].as_str().unwrap()).header("user-agent", "mpv/0.38").send().await.unwrap();
    assert_eq!(played.status(), 302);
    let location = played.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("/cdn/") && location.ends_with("AMIABLE.mkv"), "{location}");
    assert_eq!(stack.torbox.count(CREATETORRENT), 0, "played from the account, nothing added");

    // An unknown catalog or item of this config: 404.
    assert_eq!(get(&format!("{base}/stremio/torz/{config}/catalog/other/cpl.tb.nope.json")).await.status, 404);
    assert_eq!(
        get(&format!("{base}/stremio/torz/{config}/meta/other/cpl:tb:nope:{MOVIE_1080}.json")).await.status,
        404
    );
}

#[tokio::test]
async fn a_realdebrid_library_lists_newest_first_and_an_item_plays_its_largest_video() {
    let stack = Stack::start(StackOptions::default()).await;
    for hash in [SEASON_1_PACK, MOVIE_720_UNCACHED, MOVIE_2160] {
        stack.realdebrid.add_to_library(RD_TOKEN, hash);
    }
    let config = Stack::config(&json!({"stores": [{"c": "rd", "t": RD_TOKEN}]}));
    let base = stack.host.url();
    let id = catalog_id_named(&base, &config, "RealDebrid — my downloads").await;
    let catalog = get(&format!("{base}/stremio/torz/{config}/catalog/other/{id}.json")).await;
    assert_eq!(
        names(&catalog.json),
        [
            "The.Shawshank.Redemption.1994.2160p.UHD.BluRay.REMUX.HEVC-FGT",
            "The.Shawshank.Redemption.1994.720p.AMZN.x265-GRP",
            "Breaking.Bad.S01.720p.BluRay.x265"
        ]
    );
    let item = catalog.json["metas"][0]["id"].as_str().unwrap().to_string();
    let meta = get(&format!("{base}/stremio/torz/{config}/meta/other/{item}.json")).await.json;
    let videos = meta["meta"]["videos"].as_array().unwrap();
    assert_eq!(videos.len(), 1, "{meta:#}");
    let url = videos[0]["streams"][0]["url"].as_str().unwrap();
    let played = http().get(url).header("user-agent", "mpv/0.38").send().await.unwrap();
    assert_eq!(played.status(), 302);
    let location = played.headers()["location"].to_str().unwrap().to_string();
    assert!(location.ends_with("REMUX.HEVC-FGT.mkv"), "{location}");
}

#[tokio::test]
async fn an_alldebrid_library_lists_newest_first_and_an_item_plays() {
    let stack = Stack::start(StackOptions::default()).await;
    for hash in [SEASON_1_PACK, MOVIE_2160] {
        stack.alldebrid.add_to_library(AD_KEY, hash);
    }
    let config = Stack::config(&json!({"stores": [{"c": "ad", "t": AD_KEY}]}));
    let base = stack.host.url();
    let id = catalog_id_named(&base, &config, "AllDebrid — my downloads").await;
    let catalog = get(&format!("{base}/stremio/torz/{config}/catalog/other/{id}.json")).await;
    assert_eq!(
        names(&catalog.json),
        ["The.Shawshank.Redemption.1994.2160p.UHD.BluRay.REMUX.HEVC-FGT", "Breaking.Bad.S01.720p.BluRay.x265"]
    );
    let item = catalog.json["metas"][0]["id"].as_str().unwrap().to_string();
    let meta = get(&format!("{base}/stremio/torz/{config}/meta/other/{item}.json")).await.json;
    let url = meta["meta"]["videos"][0]["streams"][0]["url"].as_str().unwrap().to_string();
    let played = http().get(&url).header("user-agent", "mpv/0.38").send().await.unwrap();
    assert_eq!(played.status(), 302);
    let location = played.headers()["location"].to_str().unwrap().to_string();
    assert!(location.ends_with("REMUX.HEVC-FGT.mkv"), "{location}");
}

#[tokio::test]
async fn a_premiumize_library_lists_its_transfers_and_an_item_plays() {
    let stack = Stack::start(StackOptions::default()).await;
    for hash in [SEASON_1_PACK, MOVIE_2160] {
        stack.premiumize.add_to_library(PM_KEY, hash);
    }
    let config = Stack::config(&json!({"stores": [{"c": "pm", "t": PM_KEY}]}));
    let base = stack.host.url();
    let id = catalog_id_named(&base, &config, "Premiumize — my downloads").await;
    let catalog = get(&format!("{base}/stremio/torz/{config}/catalog/other/{id}.json")).await;
    let mut listed = names(&catalog.json);
    listed.sort();
    assert_eq!(
        listed,
        ["Breaking.Bad.S01.720p.BluRay.x265", "The.Shawshank.Redemption.1994.2160p.UHD.BluRay.REMUX.HEVC-FGT"]
    );
    let metas = catalog.json["metas"].as_array().unwrap();
    let movie = metas.iter().find(|m| m["name"].as_str().unwrap().contains("2160p")).unwrap();
    let item = movie["id"].as_str().unwrap();
    let meta = get(&format!("{base}/stremio/torz/{config}/meta/other/{item}.json")).await.json;
    let url = meta["meta"]["videos"][0]["streams"][0]["url"].as_str().unwrap().to_string();
    let played = http().get(&url).header("user-agent", "mpv/0.38").send().await.unwrap();
    assert_eq!(played.status(), 302);
}

#[tokio::test]
async fn catalogs_are_offered_only_for_a_valid_config() {
    let stack = Stack::start(StackOptions::default()).await;
    // Every store of this stack lists its downloads: one catalog per store entry; a manifest
    // without a valid config offers none.
    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));
    let manifest = get(&stack.manifest_url(&config)).await.json;
    assert_eq!(manifest["catalogs"].as_array().map(Vec::len), Some(1), "{manifest:#}");
    let invalid = get(&stack.manifest_url("not-a-config")).await.json;
    assert_eq!(invalid["catalogs"], json!([]));
    assert!(!invalid["resources"].to_string().contains("catalog"));
}

/// Plays the stream of the list at `url` whose file is `file` (with sealing keys, the URLs do
/// not show the hash).
async fn play_from_list(url: &str, file: &str) {
    let list = get(url).await.json;
    let stream = list["streams"].as_array().unwrap().iter().find(|s| s["behaviorHints"]["filename"] == file).cloned();
    let url = match stream {
        Some(stream) => stream["url"].as_str().unwrap().to_string(),
        None => panic!("no stream for {file}: {list:#}"),
    };
    let played = http().get(&url).header("user-agent", "mpv/0.38").send().await.unwrap();
    assert_eq!(played.status(), 302, "{}", played.text().await.unwrap());
}

async fn catalog_names(base: &str, config: &str) -> Vec<String> {
    let id = catalog_id(base, config).await;
    names(&get(&format!("{base}/stremio/torz/{config}/catalog/other/{id}.json")).await.json)
}

/// The catalog at `base` once it holds `expected` (the play is recorded in the background).
async fn eventually(base: &str, config: &str, expected: &[&str]) {
    let started = Instant::now();
    loop {
        let names = catalog_names(base, config).await;
        if names == expected {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{names:?}, expected {expected:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn pool_users_each_see_only_what_they_played_on_every_replica() {
    let Some(redis) = RedisServer::start() else { return };
    let options = StackOptions { redis_url: Some(redis.url()), ..Default::default() };
    let stack = Stack::start(options).await;
    let (b, c) = (stack.replica().await, stack.replica().await);
    stack.chillstreams.add_user(USER_2, POOL_KEY, POOL_KEY_ID);
    stack.chillstreams.add_user(USER_3, POOL_KEY, POOL_KEY_ID);
    // The pool key's account holds downloads of people who never played through chillproxy.
    stack.torbox.add_to_account(POOL_KEY, MOVIE_ADDON_ONLY);
    let config = |user: &str| Stack::config(&json!({"stores": [{"c": "tb", "auth": user}]}));

    // User 1 plays the 2160p movie on replica A, user 2 an episode on replica B.
    let movie_file = "The.Shawshank.Redemption.1994.2160p.UHD.BluRay.REMUX.HEVC-FGT.mkv";
    play_from_list(&stack.stream_url(&config(USER), "movie", MOVIE), movie_file).await;
    let episode = format!("{}/stremio/torz/{}/stream/series/{SERIES}:1:3.json", b.url(), config(USER_2));
    play_from_list(&episode, "Breaking.Bad.S01E03.1080p.WEB-DL.x264.mkv").await;

    // Every replica shows each user their own play only; user 3 played nothing.
    for base in [stack.host.url(), b.url(), c.url()] {
        eventually(&base, &config(USER), &["The.Shawshank.Redemption.1994.2160p.UHD.BluRay.REMUX.HEVC-FGT"]).await;
        eventually(&base, &config(USER_2), &["Breaking.Bad.S01E03.1080p.WEB-DL.x264"]).await;
        assert!(catalog_names(&base, &config(USER_3)).await.is_empty());
    }

    // User 2 opens the episode on replica C and plays it.
    let base = c.url();
    let id = catalog_id(&base, &config(USER_2)).await;
    let catalog = get(&format!("{base}/stremio/torz/{}/catalog/other/{id}.json", config(USER_2))).await.json;
    let item = catalog["metas"][0]["id"].as_str().unwrap().to_string();
    let meta = get(&format!("{base}/stremio/torz/{}/meta/other/{item}.json", config(USER_2))).await.json;
    let stream = &meta["meta"]["videos"][0]["streams"][0];
    assert_eq!(stream["behaviorHints"]["filename"], "Breaking.Bad.S01E03.1080p.WEB-DL.x264.mkv");
    let played = http().get(stream["url"].as_str().unwrap()).header("user-agent", "mpv/0.38").send().await.unwrap();
    assert_eq!(played.status(), 302);
    // User 1 cannot open user 2's item.
    let other = get(&format!("{base}/stremio/torz/{}/meta/other/{item}.json", config(USER))).await;
    assert_eq!(other.status, 404);
}

/// A usenet release TorBox can fetch, and its download put in `key`'s account as if added earlier
/// from `link` (TorBox names it by the md5 of the link; the NZB book here never saw it).
fn usenet_download(stack: &Stack, key: &str, n: u8, name: &str) -> String {
    let identity = format!("{n:02x}").repeat(16);
    let file = format!("{name}.mkv");
    stack.torbox.add_usenet_cached(&identity, &format!("rel{n}"), name, &[(&file, 2_000_000_000), ("sample.mkv", 10)]);
    let link = format!("https://indexer.example/api?t=get&id=rel{n}&apikey=SECRET-INDEXER-KEY");
    stack.torbox.add_usenet_to_account(key, &identity, &link);
    md5_hex(link.as_bytes())
}

#[tokio::test]
async fn a_pro_token_user_sees_torrents_and_usenet_downloads_newest_first_and_plays_a_usenet_file() {
    for sealed in [false, true] {
        let env = if sealed { vec![("CHILLPROXY_KEYS", CLUSTER_KEYS.to_string())] } else { Vec::new() };
        let stack = Stack::start(StackOptions { env, ..Default::default() }).await;
        // Added in this order: torrent, usenet, torrent, usenet.
        stack.torbox.add_to_account(TOKEN, MOVIE_1080);
        let older = usenet_download(&stack, TOKEN, 0x51, "Home.Movie.2021.1080p.WEB-DL.x264-NZB");
        stack.torbox.add_to_account(TOKEN, SEASON_1_PACK);
        usenet_download(&stack, TOKEN, 0x52, "Holiday.Film.2023.2160p.WEB-DL.x265-NZB");
        let config = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));
        let base = stack.host.url();
        let id = catalog_id(&base, &config).await;
        let catalog = get(&format!("{base}/stremio/torz/{config}/catalog/other/{id}.json")).await;
        assert_eq!(catalog.status, 200, "{}", catalog.text);
        assert_eq!(
            names(&catalog.json),
            [
                "Holiday.Film.2023.2160p.WEB-DL.x265-NZB",
                "Breaking.Bad.S01.720p.BluRay.x264",
                "Home.Movie.2021.1080p.WEB-DL.x264-NZB",
                "The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE",
            ],
            "newest first, both kinds"
        );
        let usenet_lists = stack.torbox.calls_to(USENET_MYLIST);
        assert_eq!(usenet_lists.len(), 1, "one usenet list read");
        assert_eq!(usenet_lists[0].query_param("bypass_cache").as_deref(), Some("true"));
        let found = get(&format!("{base}/stremio/torz/{config}/catalog/other/{id}/search=home%20movie.json")).await;
        assert_eq!(names(&found.json), ["Home.Movie.2021.1080p.WEB-DL.x264-NZB"]);

        // The older usenet download: its video (no sample) plays from the account as usenet.
        let item = catalog.json["metas"][2]["id"].as_str().unwrap().to_string();
        let meta = get(&format!("{base}/stremio/torz/{config}/meta/other/{item}.json")).await;
        assert_eq!(meta.status, 200, "{}", meta.text);
        assert!(!meta.text.contains("SECRET-INDEXER-KEY") && !meta.text.contains("indexer.example"), "{}", meta.text);
        let videos = meta.json["meta"]["videos"].as_array().unwrap();
        assert_eq!(videos.len(), 1, "{:#}", meta.json);
        let stream = &videos[0]["streams"][0];
        assert_eq!(stream["behaviorHints"]["filename"], "Home.Movie.2021.1080p.WEB-DL.x264-NZB.mkv");
        let url = stream["url"].as_str().unwrap();
        if !sealed {
            assert!(url.contains(&format!("/tb/usenet-{older}/0/")), "a usenet playback URL: {url}");
        }
        let played = http().get(url).header("user-agent", "mpv/0.38").send().await.unwrap();
        assert_eq!(played.status(), 302, "sealed {sealed}: {}", played.text().await.unwrap());
        let location = played.headers()["location"].to_str().unwrap().to_string();
        assert!(
            location.contains("/cdn/usenet/") && location.ends_with("/0/Home.Movie.2021.1080p.WEB-DL.x264-NZB.mkv")
        );
        assert_eq!(stack.torbox.calls_to(USENET_CREATE).len(), 0, "played from the account, nothing added");
        assert_eq!(stack.torbox.count(CREATETORRENT), 0);
        assert_eq!(stack.torbox.calls_to(USENET_REQUESTDL).len(), 1);
    }
}

#[tokio::test]
async fn a_token_user_without_usenet_sees_their_torrents_and_no_usenet_list_is_read() {
    const FREE: &str = "tb-free-plan-token-0f1e2d3c";
    let stack = Stack::start(StackOptions::default()).await;
    stack.torbox.add_key_with_plan(FREE, 0);
    stack.torbox.add_to_account(FREE, MOVIE_1080);
    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": FREE}]}));
    let base = stack.host.url();
    let id = catalog_id(&base, &config).await;
    let catalog = get(&format!("{base}/stremio/torz/{config}/catalog/other/{id}.json")).await;
    assert_eq!(names(&catalog.json), ["The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE"], "{}", catalog.text);
    assert!(stack.torbox.calls_to(USENET_MYLIST).is_empty());
}
