//! Issue 23 through the `torbox-search` source: a Kitsu id its metadata maps to IMDb is searched
//! by that IMDb id with the mapped season and episode; one mapped to none by text
//! (`/torrents/search/{query}`) with the Kitsu title, listing the releases that hold the wanted
//! episode (its `- 08`, a batch covering it) and never another episode's. The fakes: the Anime
//! Kitsu addon and TorBox's search API.

use std::collections::BTreeSet;

use chillproxy_tests::client::{http, warning_descriptions};
use chillproxy_tests::fakes::kitsu::{Anime, FakeKitsu};
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const FRIEREN: u32 = 46474;
const FRIEREN_MAPPED: u32 = 46475;
const FRIEREN_IMDB: &str = "tt22248376";

const EP08: &str = "a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8";
const EP07: &str = "a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7";
const BATCH: &str = "ba7c4ba7c4ba7c4ba7c4ba7c4ba7c4ba7c4ba7c4";
const BATCH_LATER: &str = "bb7c4bb7c4bb7c4bb7c4bb7c4bb7c4bb7c4bb7c4";
const OTHER_TITLE: &str = "c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8c8";
const SCENE_S01E08: &str = "5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c";
const YOUR_NAME: u32 = 11614;
const MOVIE: &str = "3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e";
const MOVIE_REMAKE: &str = "3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f";
const ALL: [&str; 8] = [EP08, EP07, BATCH, BATCH_LATER, OTHER_TITLE, SCENE_S01E08, MOVIE, MOVIE_REMAKE];

async fn stack(kitsu: &FakeKitsu) -> Stack {
    let stack = Stack::start(StackOptions {
        sources: vec!["torbox-search"],
        table_settings: vec![("[meta]", format!("kitsu_url = \"{}\"", kitsu.url()))],
        ..StackOptions::default()
    })
    .await;
    kitsu.add_anime(Anime::frieren(FRIEREN, None));
    kitsu.add_anime(Anime::frieren(FRIEREN_MAPPED, Some((FRIEREN_IMDB.into(), 1, 1))));
    kitsu.add_anime(Anime::your_name(YOUR_NAME));
    let search = &stack.torbox_search;
    for (hash, name) in [
        (MOVIE, "[Judas] Kimi no Na wa. (Your Name.) (2016) [BD 1080p HEVC x265 10bit][Dual-Audio][Multi-Subs]"),
        (MOVIE_REMAKE, "Kimi.no.Na.wa.2031.1080p.WEB.H264"),
        (EP08, "[SubsPlease] Sousou no Frieren - 08 (1080p) [A1B2C3D4].mkv"),
        (EP07, "[SubsPlease] Sousou no Frieren - 07 (1080p) [F0E1D2C3].mkv"),
        (BATCH, "[SubsPlease] Sousou no Frieren (01-28) (1080p) [Batch]"),
        (BATCH_LATER, "[Erai-raws] Sousou no Frieren - 09 ~ 28 [1080p][Multiple Subtitle]"),
        (OTHER_TITLE, "[SubsPlease] Sousou no Frieren Mini Anime - 08 (1080p) [0C0C0C0C].mkv"),
    ] {
        search.add_by_text(hash, name, 1_400_000_000, 50);
        search.set_cached(hash);
        stack.torbox.add_cached(hash, name.trim_end_matches(".mkv"), &[(name, 1_400_000_000)]);
    }
    let scene = "Sousou.no.Frieren.S01E08.1080p.WEB.H264-SKYANiME";
    search.add(&format!("{FRIEREN_IMDB}:1:8"), SCENE_S01E08, scene, 1_500_000_000, 80);
    stack.torbox.add_cached(SCENE_S01E08, scene, &[(&format!("{scene}.mkv"), 1_500_000_000)]);
    stack
}

async fn streams(url: &str) -> Vec<Value> {
    let response = http().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let body: Value = response.json().await.unwrap();
    chillproxy_tests::stremio_check::check_stream_list(&body).unwrap_or_else(|e| panic!("{url}: {e}"));
    assert!(warning_descriptions(body["streams"].as_array().unwrap()).is_empty(), "{body:#}");
    body["streams"].as_array().cloned().unwrap_or_default()
}

fn hashes(streams: &[Value]) -> BTreeSet<&'static str> {
    streams
        .iter()
        .filter_map(|s| s["url"].as_str())
        .filter_map(|url| ALL.into_iter().find(|h| url.contains(h)))
        .collect()
}

fn config() -> String {
    Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}))
}

#[tokio::test]
async fn an_unmapped_kitsu_episode_is_searched_by_its_title_and_lists_only_that_episode() {
    let kitsu = FakeKitsu::start().await;
    let stack = stack(&kitsu).await;
    let list = streams(&stack.stream_url(&config(), "series", &format!("kitsu:{FRIEREN}:8"))).await;
    assert_eq!(hashes(&list), BTreeSet::from([EP08, BATCH]), "episode 8 and the batch holding it: {list:#?}");
    let received = stack.torbox_search.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].path, "/torrents/search/Sousou%20no%20Frieren", "by the Kitsu title");
    assert_eq!(received[0].headers.get("authorization"), Some(&format!("Bearer {TOKEN}")));
    assert!(received[0].query.contains("check_cache=true"), "{:?}", received[0]);
    let stream = list.iter().find(|s| s["url"].as_str().is_some_and(|u| u.contains(EP08))).unwrap();
    assert!(stream["name"].as_str().unwrap().contains('⚡'), "TorBox's cached answer is kept: {stream:#?}");
    let played = http().get(stream["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(played.status(), 302);

    // Another episode: the same text search (kept), its own releases.
    let list = streams(&stack.stream_url(&config(), "series", &format!("kitsu:{FRIEREN}:7"))).await;
    assert_eq!(hashes(&list), BTreeSet::from([EP07, BATCH]), "{list:#?}");
    let list = streams(&stack.stream_url(&config(), "series", &format!("kitsu:{FRIEREN}:20"))).await;
    assert_eq!(hashes(&list), BTreeSet::from([BATCH, BATCH_LATER]), "{list:#?}");
    assert_eq!(stack.torbox_search.received().len(), 1, "one text search for the show");
}

#[tokio::test]
async fn an_unmapped_kitsu_episode_nobody_released_tries_the_alias_and_lists_nothing() {
    let kitsu = FakeKitsu::start().await;
    let stack = stack(&kitsu).await;
    let list = streams(&stack.stream_url(&config(), "series", &format!("kitsu:{FRIEREN}:40"))).await;
    assert!(list.is_empty(), "{list:#?}");
    let paths: Vec<String> = stack.torbox_search.received().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/torrents/search/Sousou%20no%20Frieren", "/torrents/search/Frieren%20Beyond%20Journey%27s%20End"],
        "the title, then the first alias"
    );
}

#[tokio::test]
async fn a_mapped_kitsu_episode_is_searched_by_the_mapped_imdb_episode() {
    let kitsu = FakeKitsu::start().await;
    let stack = stack(&kitsu).await;
    let list = streams(&stack.stream_url(&config(), "series", &format!("kitsu:{FRIEREN_MAPPED}:8"))).await;
    assert_eq!(hashes(&list), BTreeSet::from([SCENE_S01E08]), "{list:#?}");
    let received = stack.torbox_search.received();
    assert_eq!(received.len(), 1, "by id only: {received:?}");
    assert_eq!(received[0].path, format!("/torrents/imdb:{FRIEREN_IMDB}"));
    assert!(received[0].query.contains("season=1&episode=8"), "{:?}", received[0]);
}

#[tokio::test]
async fn an_unmapped_kitsu_movie_is_searched_by_its_title_and_lists_the_movie() {
    let kitsu = FakeKitsu::start().await;
    let stack = stack(&kitsu).await;
    let list = streams(&stack.stream_url(&config(), "movie", &format!("kitsu:{YOUR_NAME}"))).await;
    assert_eq!(hashes(&list), BTreeSet::from([MOVIE]), "the 2016 film, not a later one: {list:#?}");
    let paths: Vec<String> = stack.torbox_search.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/torrents/search/Kimi%20no%20Na%20wa"]);
}
