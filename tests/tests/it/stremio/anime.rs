//! Issue 23: anime through the real host. A fake Anime Kitsu addon (`[meta] kitsu_url`) and the
//! stack's Torznab fake answering text searches with real anime release names: `kitsu:ID:EP`
//! lists that episode's releases and batches (never another episode's), `kitsu:ID` of a movie
//! lists the movie, a batch plays the episode's file; a Kitsu id mapped to `tt…:S:E` is searched
//! by IMDb id too; `tt…:S:E` of a long-running show finds absolutely numbered releases; a Kitsu
//! addon that is down or slow leaves tt lists as they were and puts a ⚠️ on kitsu lists.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chillproxy_tests::client::{http, warning_descriptions};
use chillproxy_tests::fakes::kitsu::{Anime, FakeKitsu};
use chillproxy_tests::fakes::torznab::Release;
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const FRIEREN: u32 = 46474;
/// The same show as an entry the addon maps to IMDb (`tt22248376`, from S1E1).
const FRIEREN_MAPPED: u32 = 46475;
const FRIEREN_IMDB: &str = "tt22248376";
const YOUR_NAME: u32 = 11614;
const ONE_PIECE_IMDB: &str = "tt0388629";

const EP08: &str = "a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8";
const EP07: &str = "a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7";
const EP09: &str = "a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9";
const EP08_V2: &str = "b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8";
const BATCH: &str = "ba7c4ba7c4ba7c4ba7c4ba7c4ba7c4ba7c4ba7c4";
const BATCH_LATER: &str = "bb7c4bb7c4bb7c4bb7c4bb7c4bb7c4bb7c4bb7c4";
const SEASON_BATCH: &str = "bc7c4bc7c4bc7c4bc7c4bc7c4bc7c4bc7c4bc7c4";
const SCENE_S01E08: &str = "5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c";
const MOVIE: &str = "3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e";
const OP_1085: &str = "0b2f7a5e0b2f7a5e0b2f7a5e0b2f7a5e0b2f7a5e";
const OP_1084: &str = "0b2f7a5d0b2f7a5d0b2f7a5d0b2f7a5d0b2f7a5d";

/// A release the fake finds by text only (anime trackers tag no IMDb id).
fn anime(title: &str, hash: &str) -> Release {
    Release::season_pack("tt0000001", 1, title, hash)
}

async fn anime_stack(kitsu: &FakeKitsu) -> Stack {
    let options = StackOptions {
        table_settings: vec![("[meta]", format!("kitsu_url = \"{}\"", kitsu.url()))],
        ..StackOptions::default()
    };
    let stack = Stack::start(options).await;
    kitsu.add_anime(Anime {
        aliases: vec!["Frieren: Beyond Journey's End".into(), "Sousou no Frieren".into()],
        ..Anime::frieren(FRIEREN, None)
    });
    kitsu.add_anime(Anime::frieren(FRIEREN_MAPPED, Some((FRIEREN_IMDB.into(), 1, 1))));
    kitsu.add_anime(Anime::your_name(YOUR_NAME));
    kitsu.add_imdb_show(ONE_PIECE_IMDB, "One Piece", vec![(21, 14, 12, 1084), (21, 15, 12, 1085)]);

    let torznab = &stack.torznab;
    torznab.add_releases([
        anime("[SubsPlease] Sousou no Frieren - 08 (1080p) [A1B2C3D4].mkv", EP08),
        anime("[SubsPlease] Sousou no Frieren - 07 (1080p) [F0E1D2C3].mkv", EP07),
        anime("[Erai-raws] Sousou no Frieren - 09 [1080p][Multiple Subtitle][E0C6D8A3].mkv", EP09),
        anime("[Commie] Sousou no Frieren - 08v2 [720p AAC] [4E1A0C3B].mkv", EP08_V2),
        anime("[SubsPlease] Sousou no Frieren (01-28) (1080p) [Batch]", BATCH),
        anime("[Erai-raws] Sousou no Frieren - 09 ~ 28 [1080p][Multiple Subtitle]", BATCH_LATER),
        anime(
            "[Judas] Sousou no Frieren (Season 1) [1080p][HEVC x265 10bit][Dual-Audio][Multi-Subs] (Batch)",
            SEASON_BATCH,
        ),
        Release::episode(FRIEREN_IMDB, 1, 8, "Sousou.no.Frieren.S01E08.1080p.WEB.H264-SKYANiME", SCENE_S01E08),
        Release::movie(
            "tt0000002",
            "[Judas] Kimi no Na wa. (Your Name.) (2016) [BD 1080p HEVC x265 10bit][Dual-Audio][Multi-Subs]",
            MOVIE,
        ),
        anime("[SubsPlease] One Piece - 1085 (1080p) [0B2F7A5E].mkv", OP_1085),
        anime("[SubsPlease] One Piece - 1084 (1080p) [9A1E2F3B].mkv", OP_1084),
    ]);
    for (hash, name) in [
        (EP08, "[SubsPlease] Sousou no Frieren - 08 (1080p) [A1B2C3D4].mkv"),
        (EP07, "[SubsPlease] Sousou no Frieren - 07 (1080p) [F0E1D2C3].mkv"),
        (EP09, "[Erai-raws] Sousou no Frieren - 09 [1080p][Multiple Subtitle][E0C6D8A3].mkv"),
        (EP08_V2, "[Commie] Sousou no Frieren - 08v2 [720p AAC] [4E1A0C3B].mkv"),
        (SCENE_S01E08, "Sousou.no.Frieren.S01E08.1080p.WEB.H264-SKYANiME.mkv"),
        (OP_1085, "[SubsPlease] One Piece - 1085 (1080p) [0B2F7A5E].mkv"),
        (OP_1084, "[SubsPlease] One Piece - 1084 (1080p) [9A1E2F3B].mkv"),
    ] {
        stack.torbox.add_cached(hash, name.trim_end_matches(".mkv"), &[(name, 1_400_000_000)]);
    }
    let batch: Vec<String> = (1..=28)
        .map(|n| format!("[SubsPlease] Sousou no Frieren - {n:02} (1080p) [{:08X}].mkv", 0xA1B2_0000u32 + n))
        .collect();
    let files: Vec<(&str, u64)> =
        batch.iter().enumerate().map(|(i, n)| (n.as_str(), 1_400_000_000 + i as u64)).collect();
    stack.torbox.add_cached(BATCH, "[SubsPlease] Sousou no Frieren (01-28) (1080p) [Batch]", &files);
    let later: Vec<String> = (9..=28).map(|n| format!("[Erai-raws] Sousou no Frieren - {n:02} [1080p].mkv")).collect();
    let files: Vec<(&str, u64)> = later.iter().map(|n| (n.as_str(), 1_300_000_000)).collect();
    stack.torbox.add_cached(BATCH_LATER, "[Erai-raws] Sousou no Frieren - 09 ~ 28 [1080p]", &files);
    let season: Vec<String> =
        (1..=28).map(|n| format!("Sousou no Frieren - S01E{n:02} [1080p][Dual-Audio].mkv")).collect();
    let files: Vec<(&str, u64)> = season.iter().map(|n| (n.as_str(), 2_000_000_000)).collect();
    stack.torbox.add_cached(SEASON_BATCH, "[Judas] Sousou no Frieren (Season 1) [Batch]", &files);
    stack.torbox.add_cached(
        MOVIE,
        "[Judas] Kimi no Na wa. (Your Name.) (2016) [BD 1080p]",
        &[("[Judas] Kimi no Na wa. (2016) [BD 1080p].mkv", 9_000_000_000)],
    );
    stack
}

fn config() -> String {
    Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}))
}

async fn streams(url: &str) -> Vec<Value> {
    let response = http().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let body: Value = response.json().await.unwrap();
    chillproxy_tests::stremio_check::check_stream_list(&body).unwrap_or_else(|e| panic!("{url}: {e}"));
    body["streams"].as_array().cloned().unwrap_or_default()
}

/// The info hashes the playable streams name.
fn hashes(streams: &[Value]) -> BTreeSet<String> {
    let all = [EP08, EP07, EP09, EP08_V2, BATCH, BATCH_LATER, SEASON_BATCH, SCENE_S01E08, MOVIE, OP_1085, OP_1084];
    streams
        .iter()
        .filter_map(|s| s["url"].as_str())
        .filter_map(|url| all.iter().find(|h| url.contains(*h)))
        .map(|h| h.to_string())
        .collect()
}

fn set(hashes: &[&str]) -> BTreeSet<String> {
    hashes.iter().map(|h| h.to_string()).collect()
}

#[tokio::test]
async fn a_kitsu_episode_lists_its_releases_and_batches_and_plays_the_batchs_file() {
    let kitsu = FakeKitsu::start().await;
    let stack = anime_stack(&kitsu).await;
    let list = streams(&stack.stream_url(&config(), "series", &format!("kitsu:{FRIEREN}:8"))).await;
    assert!(warning_descriptions(&list).is_empty(), "{list:#?}");
    assert_eq!(hashes(&list), set(&[EP08, EP08_V2, BATCH, SEASON_BATCH]), "episode 8 and the batches holding it");
    assert_eq!(kitsu.calls(), [format!("/meta/series/kitsu:{FRIEREN}.json")]);
    let searched: Vec<String> = stack.torznab.calls().iter().filter_map(|c| c.param("q").map(str::to_string)).collect();
    assert_eq!(searched, ["Sousou no Frieren"], "no IMDb mapping: searched by the Kitsu title");

    // The batch plays episode 8's file, by its `- 08` name, and so does the season batch by S01E08.
    for (hash, file) in [
        (BATCH, "[SubsPlease] Sousou no Frieren - 08 (1080p) [A1B20008].mkv"),
        (SEASON_BATCH, "Sousou no Frieren - S01E08 [1080p][Dual-Audio].mkv"),
    ] {
        let stream = list.iter().find(|s| s["url"].as_str().is_some_and(|u| u.contains(hash))).unwrap();
        assert_eq!(stream["behaviorHints"]["filename"], file, "{stream:#?}");
        let response = http().get(stream["url"].as_str().unwrap()).send().await.unwrap();
        assert_eq!(response.status(), 302);
        let location = response.headers()["location"].to_str().unwrap();
        let encoded: String = file
            .chars()
            .map(|c| match c {
                ' ' => "%20".to_string(),
                '[' => "%5B".to_string(),
                ']' => "%5D".to_string(),
                '(' => "%28".to_string(),
                ')' => "%29".to_string(),
                c => c.to_string(),
            })
            .collect();
        assert!(location.ends_with(&format!("/7/{encoded}")), "the 8th file (id 7): {location}");
    }
    // A batch that does not hold the episode is never played for it.
    let other = streams(&stack.stream_url(&config(), "series", &format!("kitsu:{FRIEREN}:20"))).await;
    assert!(hashes(&other).contains(BATCH_LATER) && !hashes(&other).contains(EP08), "{other:#?}");
}

#[tokio::test]
async fn a_mapped_kitsu_episode_is_searched_by_imdb_id_and_a_kitsu_movie_lists_the_movie() {
    let kitsu = FakeKitsu::start().await;
    let stack = anime_stack(&kitsu).await;
    let list = streams(&stack.stream_url(&config(), "series", &format!("kitsu:{FRIEREN_MAPPED}:8"))).await;
    let found = hashes(&list);
    assert!(found.contains(SCENE_S01E08), "S01E08 by the IMDb mapping: {found:?}");
    assert!(found.contains(EP08) && found.contains(BATCH), "and the anime releases by title: {found:?}");
    assert!(!found.contains(EP07) && !found.contains(EP09) && !found.contains(BATCH_LATER), "{found:?}");
    let by_id = stack.torznab.calls().into_iter().find(|c| c.param("imdbid").is_some()).expect("an id search");
    assert_eq!(
        (by_id.t(), by_id.param("imdbid"), by_id.param("season"), by_id.param("ep")),
        (Some("tvsearch"), Some(FRIEREN_IMDB), Some("1"), Some("8"))
    );

    let movie = streams(&stack.stream_url(&config(), "movie", &format!("kitsu:{YOUR_NAME}"))).await;
    assert_eq!(hashes(&movie), set(&[MOVIE]), "{movie:#?}");
    let url = movie.iter().find_map(|s| s["url"].as_str()).unwrap();
    assert!(url.contains(&format!("/kitsu:{YOUR_NAME}/")), "{url}");
    let response = http().get(url).send().await.unwrap();
    assert_eq!(response.status(), 302, "a kitsu movie plays");
    assert!(response.headers()["location"].to_str().unwrap().contains("Kimi%20no%20Na%20wa"));
}

#[tokio::test]
async fn a_long_running_show_finds_absolutely_numbered_releases() {
    let kitsu = FakeKitsu::start().await;
    let stack = anime_stack(&kitsu).await;
    let list = streams(&stack.stream_url(&config(), "series", &format!("{ONE_PIECE_IMDB}:21:15"))).await;
    assert_eq!(hashes(&list), set(&[OP_1085]), "{list:#?}");
    assert!(kitsu.calls().contains(&format!("/meta/series/{ONE_PIECE_IMDB}.json")));
    assert!(stack.torznab.calls().iter().any(|c| c.param("q") == Some("One Piece 1085")));
    let stream = list.iter().find(|s| s["url"].as_str().is_some_and(|u| u.contains(OP_1085))).unwrap();
    let response = http().get(stream["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(response.status(), 302, "the episode's file plays");

    // A show the addon does not map: its SDK's rejection (HTTP 500 `handler error`) is an
    // answer, remembered; the list is the usual one and the addon is not named unhealthy.
    for _ in 0..2 {
        let list = streams(&stack.stream_url(&config(), "series", &format!("{SERIES}:1:3"))).await;
        assert_eq!(list.iter().filter(|s| s.get("url").is_some()).count(), 2, "{list:#?}");
    }
    let asked = kitsu.calls().iter().filter(|c| c.contains(SERIES)).count();
    assert_eq!(asked, 1, "asked once: {:?}", kitsu.calls());
    let ready: Value = http().get(format!("{}/ready", stack.host.url())).send().await.unwrap().json().await.unwrap();
    assert!(!ready["unhealthy"].as_array().unwrap().contains(&json!("metadata/kitsu")), "{ready:#}");
}

#[tokio::test]
async fn a_kitsu_addon_down_or_slow_warns_on_kitsu_lists_and_leaves_tt_lists_alone() {
    for slow in [false, true] {
        let kitsu = FakeKitsu::start().await;
        let stack = anime_stack(&kitsu).await;
        if slow {
            kitsu.set_delay(Some(Duration::from_secs(8)));
        } else {
            kitsu.set_down(true);
        }
        let started = Instant::now();
        let episode = streams(&stack.stream_url(&config(), "series", &format!("{SERIES}:1:3"))).await;
        assert!(started.elapsed() < Duration::from_millis(2_500), "slow={slow}: {:?}", started.elapsed());
        let names: Vec<String> =
            episode.iter().filter_map(|s| s["name"].as_str()).map(|n| n.replace('\n', " ")).collect();
        assert_eq!(names, ["⚡️ [TB] chillproxy 1080p", "⚡️ [TB] chillproxy 720p"], "slow={slow}: {episode:#?}");
        let movie = streams(&stack.stream_url(&config(), "movie", chillproxy_tests::stack::MOVIE)).await;
        assert_eq!(movie.iter().filter(|s| s.get("url").is_some()).count(), 4, "slow={slow}");

        let started = Instant::now();
        let list = streams(&stack.stream_url(&config(), "series", &format!("kitsu:{FRIEREN}:8"))).await;
        assert!(started.elapsed() < Duration::from_millis(3_000), "within the list's time: {:?}", started.elapsed());
        let warnings = warning_descriptions(&list);
        assert_eq!(warnings.len(), 1, "slow={slow}: {list:#?}");
        assert!(warnings[0].contains("Kitsu addon"), "{}", warnings[0]);
        assert!(!warnings[0].contains("127.0.0.1") && !warnings[0].contains("http"), "no URL: {}", warnings[0]);
        assert!(list.iter().all(|s| s.get("url").is_none()), "only the warning");
        if !slow {
            // The operator sees it: `/ready` names the Kitsu addon (and stays ready).
            let ready = http().get(format!("{}/ready", stack.host.url())).send().await.unwrap();
            assert_eq!(ready.status(), 200);
            let body: Value = ready.json().await.unwrap();
            assert!(body["unhealthy"].as_array().unwrap().contains(&json!("metadata/kitsu")), "{body:#}");
        }
    }
}

/// Every item title of the captured Nyaa and AnimeTosho feeds in `tests/fixtures/torznab/`, read
/// by the release parser: the episodes (or batch range) and resolution each names.
#[test]
fn real_anime_feed_titles_parse() {
    use chillproxy_stremio::anime::parse_anime;
    use chillproxy_stremio::release::Release as Parsed;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/torznab");
    let mut titles = Vec::new();
    for file in [
        "sonarr_rss_nyaa2021.xml",
        "sonarr_torznab_animetosho.xml",
        "nzbhydra2_animetosho_direct.xml",
        "sonarr_rss_animetosho_nosize.xml",
    ] {
        let body = std::fs::read_to_string(dir.join(file)).unwrap();
        for part in body.split("<item>").skip(1) {
            let title = part.split("<title>").nth(1).and_then(|t| t.split("</title>").next()).unwrap();
            titles.push(title.replace("&amp;", "&"));
        }
    }
    /// (title, episodes, resolution)
    type Case<'a> = (&'a str, Option<(u32, u32)>, Option<&'a str>);
    let expected: &[Case] = &[
        ("[Foxy-Subs] Mahouka Koukou no Yuutousei - 08 [720p] [3194D881].mkv", Some((8, 8)), Some("720p")),
        ("[HorribleSubs] Frame Arms Girl - 07 [720p].mkv", Some((7, 7)), Some("720p")),
        ("[finFAGs]_Frame_Arms_Girl_07_(1280x720_TV_AAC)_[1262B6F7].mkv", Some((7, 7)), Some("720p")),
        ("[BakedFish] Achoo Senkan Yoghurt - 01 & 02 - Batch [720p][MP4][AAC]", Some((1, 2)), Some("720p")),
        ("DAYS - 05 (1280x720 HEVC2 AAC).mkv", Some((5, 5)), Some("720p")),
        ("Fumetsu no Anata e - 19 [WEBDL 1080p] Ukr DVO", Some((19, 19)), Some("1080p")),
        ("[FFF] Ore Monogatari!! - Vol.01 [BD][720p-AAC]", None, Some("720p")),
        ("Macross Zero (BDRip 1920x1080p x265 HEVC TrueHD, FLAC 5.1+2.0)[sxales]", None, Some("1080p")),
    ];
    let mut seen = 0;
    for title in &titles {
        let Some((_, episodes, resolution)) = expected.iter().find(|(name, _, _)| name == title) else { continue };
        seen += 1;
        assert_eq!(parse_anime(title).and_then(|a| a.episodes), *episodes, "{title}");
        assert_eq!(Parsed::parse(title).resolution, *resolution, "{title}");
    }
    assert!(seen >= 7, "the fixtures hold the names: {titles:#?}");
}
