//! `list_streams` with in-memory auth, store and source providers: no socket, no file.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chillproxy_core::{AuthOutcome, MediaQuery, StoreEntry};
use chillproxy_stremio::UserConfig;

use super::list_streams;
use crate::testing::*;

fn movie() -> MediaQuery {
    MediaQuery::movie("tt0111161")
}

fn config(code: &str) -> UserConfig {
    UserConfig {
        stores: vec![StoreEntry { c: code.into(), t: None, auth: Some("user".into()) }],
        indexers: vec![],
        newznab: vec![],
        cached: false,
        acquire: false,
        prefs: Default::default(),
    }
}

fn auth(display: &'static str, outcome: fn() -> AuthOutcome) -> Arc<ScriptedAuth> {
    Arc::new(ScriptedAuth { name: "scripted", display, outcome, calls: Default::default() })
}

#[tokio::test]
async fn cached_streams_come_first_and_a_second_list_asks_the_store_nothing() {
    let store = Arc::new(MemoryStore::new("tb", "Memory Store", &[(hash('a'), &[("Movie.1994.1080p.mkv", 8_000)])]));
    let source = Arc::new(FixedSource(vec![
        candidate(hash('b'), "Movie.1994.2160p.WEB-DL", 20_000),
        candidate(hash('a'), "Movie.1994.1080p.BluRay", 9_000),
    ]));
    let services = services(vec![auth("Auth", granting)], vec![store.clone()], vec![source], Default::default());
    let (config, client, media) = (config("tb"), client(), movie());
    let request = movie_request(&config, &client, &media, "bind");
    let streams = list_streams(&services.streams, &request).await.streams();
    assert_eq!(streams.len(), 2, "{streams:#?}");
    assert!(streams[0]["name"].as_str().unwrap().starts_with("⚡️ [TB]"), "the cached one first: {streams:#?}");
    let url = streams[0]["url"].as_str().unwrap();
    assert!(url.starts_with("http://h/stremio/torz/seg/_/strem/tt0111161/tb/"), "{url}");
    assert!(url.contains(&hash('a').to_string()) && url.ends_with("/0/Movie.1994.1080p.mkv?b=bind"), "{url}");
    assert!(!streams[1]["name"].as_str().unwrap().contains('⚡'), "the uncached one after: {streams:#?}");
    assert_eq!(store.checks.load(Ordering::SeqCst), 1);

    let again = list_streams(&services.streams, &request).await.streams();
    assert_eq!(again, streams);
    assert_eq!(store.checks.load(Ordering::SeqCst), 1, "availability came from the cache");
}

/// The list's memo of the availability memory gives way to any change in it: a hash another
/// request learnt is cached shows ⚡ on the next list, with no new check.
#[tokio::test]
async fn a_change_in_the_availability_memory_shows_in_the_next_list() {
    use crate::memory::Availability;
    let store = Arc::new(MemoryStore::new("tb", "Memory Store", &[(hash('a'), &[("Movie.1994.1080p.mkv", 8_000)])]));
    let source = Arc::new(FixedSource(vec![
        candidate(hash('a'), "Movie.1994.1080p.BluRay", 9_000),
        candidate(hash('b'), "Movie.1994.2160p.WEB-DL", 20_000),
    ]));
    let services = services(vec![auth("Auth", granting)], vec![store.clone()], vec![source], Default::default());
    let (config, client, media) = (config("tb"), client(), movie());
    let request = movie_request(&config, &client, &media, "");
    let flags = |streams: Vec<serde_json::Value>| -> Vec<(String, bool)> {
        streams
            .iter()
            .map(|s| {
                let url = s["url"].as_str().unwrap();
                let h = url.split("/tb/").nth(1).unwrap()[..1].to_string();
                (h, s["name"].as_str().unwrap().starts_with('⚡'))
            })
            .collect()
    };
    for _ in 0..3 {
        let streams = list_streams(&services.streams, &request).await.streams();
        assert_eq!(flags(streams), [("a".to_string(), true), ("b".to_string(), false)]);
    }
    let file = chillproxy_core::StoreFile {
        id: 0,
        name: "Movie.2160p.mkv".into(),
        path: String::new(),
        size: 1,
        video_hash: None,
    };
    let memory = &services.memory.cache;
    memory.insert(("tb", hash('b')), Availability::Cached(vec![file]), std::time::Duration::from_secs(60)).await;
    let streams = list_streams(&services.streams, &request).await.streams();
    assert_eq!(flags(streams), [("b".to_string(), true), ("a".to_string(), true)], "b learnt cached, 2160p first");
    memory.insert(("tb", hash('b')), Availability::Refused, std::time::Duration::from_secs(60)).await;
    let streams = list_streams(&services.streams, &request).await.streams();
    assert_eq!(flags(streams), [("a".to_string(), true)], "a refused release is not offered");
    assert_eq!(store.checks.load(Ordering::SeqCst), 1, "every later answer came from the memory");
}

/// The hashes (their repeated character) of the list `config` gets through `segment`, checking
/// that every URL carries that segment.
async fn listed(services: &crate::testing::Services, config: &UserConfig, segment: &str) -> String {
    let (client, media) = (client(), movie());
    let mut request = movie_request(config, &client, &media, "");
    request.config_segment = segment;
    let streams = list_streams(&services.streams, &request).await.streams();
    let urls: Vec<&str> = streams.iter().map(|s| s["url"].as_str().unwrap()).collect();
    assert!(urls.iter().all(|u| u.contains(&format!("/torz/{segment}/"))), "{urls:?}");
    urls.iter().map(|u| &u.split("/tb/").nth(1).unwrap()[..1]).collect()
}

/// Viewers of one title with different preferences, and the same viewer again, on one server:
/// each gets their own list (a kept list shape is never served to other preferences), and
/// each list's URLs carry that viewer's config.
#[tokio::test]
async fn kept_list_shapes_follow_each_viewers_preferences() {
    let store = Arc::new(MemoryStore::new("tb", "Memory Store", &[(hash('a'), &[("Movie.1994.1080p.mkv", 8_000)])]));
    let source = Arc::new(FixedSource(vec![
        candidate(hash('a'), "Movie.1994.1080p.BluRay", 9_000),
        candidate(hash('b'), "Movie.1994.2160p.WEB-DL", 20_000),
        candidate(hash('c'), "Movie.1994.720p.WEB-DL", 2_000),
    ]));
    let services = services(vec![auth("Auth", granting)], vec![store.clone()], vec![source], Default::default());
    let plain = config("tb");
    let mut only_1080 = config("tb");
    only_1080.prefs = serde_json::from_str(r#"{"resolutions":["1080p"]}"#).unwrap();
    let mut cached_only = config("tb");
    cached_only.cached = true;
    let mut smallest_first = config("tb");
    smallest_first.prefs = serde_json::from_str(r#"{"sort":"size"}"#).unwrap();
    for _ in 0..2 {
        assert_eq!(listed(&services, &plain, "p").await, "abc");
        assert_eq!(listed(&services, &only_1080, "r").await, "a");
        assert_eq!(listed(&services, &cached_only, "c").await, "a");
        assert_eq!(listed(&services, &smallest_first, "s").await, "acb");
        assert_eq!(listed(&services, &plain, "q").await, "abc");
    }
    assert_eq!(store.checks.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_history_only_store_is_asked_each_time_and_its_misses_are_not_remembered() {
    // The store's check reads the user's library: `a` is there, `b` is not known either way.
    let mut library = MemoryStore::new("rd", "Memory Debrid", &[(hash('a'), &[("Movie.1994.1080p.mkv", 8_000)])]);
    library.capabilities = chillproxy_core::StoreCapabilities::HISTORY_ONLY;
    let store = Arc::new(library);
    let source = Arc::new(FixedSource(vec![
        candidate(hash('a'), "Movie.1994.1080p.BluRay", 9_000),
        candidate(hash('b'), "Movie.1994.2160p.WEB-DL", 20_000),
    ]));
    let services = services(vec![auth("Auth", granting)], vec![store.clone()], vec![source], Default::default());
    let (config, client, media) = (config("rd"), client(), movie());
    let request = movie_request(&config, &client, &media, "");
    for round in 1..=2 {
        let streams = list_streams(&services.streams, &request).await.streams();
        let flags: Vec<bool> = streams.iter().map(|s| s["name"].as_str().unwrap().starts_with('⚡')).collect();
        assert_eq!(flags, [true, false], "{streams:#?}");
        assert_eq!(store.checks.load(Ordering::SeqCst), round, "a library answer is not kept for everyone");
    }
    let memory = &services.memory.cache;
    assert_eq!(memory.get(&("rd", hash('b'))), None, "no 'not cached' for a history-only store");
    assert_eq!(memory.get(&("rd", hash('a'))), None, "one user's library is not everyone's");
}

#[test]
fn the_availability_memory_serialises_without_anything_secret() {
    use crate::memory::Availability;
    let file = chillproxy_core::StoreFile {
        id: 3,
        name: "E03.mkv".into(),
        path: "/S01/E03.mkv".into(),
        size: 9,
        video_hash: None,
    };
    for known in [Availability::Cached(vec![file]), Availability::NotCached, Availability::Refused] {
        let json = serde_json::to_string(&known).unwrap();
        assert_eq!(serde_json::from_str::<Availability>(&json).unwrap(), known, "{json}");
    }
    assert_eq!(serde_json::to_string(&Availability::Refused).unwrap(), "\"refused\"");
}

#[tokio::test]
async fn a_failing_auth_provider_is_named_and_no_other_is_blamed() {
    let failing = || AuthOutcome::Failed { message: "timed out".into() };
    let store = Arc::new(MemoryStore::new("rd", "Memory Debrid", &[]));
    let source = Arc::new(FixedSource(vec![candidate(hash('a'), "Movie.1994.1080p", 1)]));
    let services = services(vec![auth("Acme vault", failing)], vec![store], vec![source], Default::default());
    let (config, client, media) = (config("rd"), client(), movie());
    let request = movie_request(&config, &client, &media, "");
    let streams = list_streams(&services.streams, &request).await.streams();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0]["name"], "⚠️ chillproxy\nAcme vault is unavailable");
    let description = streams[0]["description"].as_str().unwrap();
    assert!(description.contains("add your own Memory Debrid API token"), "{streams:#?}");
}

#[tokio::test]
async fn streams_carry_a_file_name_binge_group_and_web_readiness() {
    let store = Arc::new(MemoryStore::new("tb", "Memory Store", &[(hash('a'), &[("Movie.2019.2160p.mp4", 8_000)])]));
    let source = Arc::new(FixedSource(vec![
        candidate(hash('a'), "Movie.2019.2160p.WEB-DL.DV.HEVC-FLUX", 9_000),
        candidate(hash('b'), "Movie/2019 1080p BluRay x264-GRP", 5_000),
    ]));
    let services = services(vec![auth("Auth", granting)], vec![store], vec![source], Default::default());
    let (config, client, media) = (config("tb"), client(), movie());
    let request = movie_request(&config, &client, &media, "b");
    let json = list_streams(&services.streams, &request).await.streams();
    let cached = &json[0];
    assert!(cached["url"].as_str().unwrap().ends_with("/0/Movie.2019.2160p.mp4?b=b"), "{cached}");
    assert_eq!(cached["behaviorHints"]["bingeGroup"], "chillproxy|tb|2160p|WEB-DL|DV|FLUX");
    assert!(cached["behaviorHints"].get("notWebReady").is_none(), "an MP4 plays in the browser: {cached}");
    let uncached = &json[1];
    let url = uncached["url"].as_str().unwrap();
    assert!(url.ends_with("/-1/Movie%202019%201080p%20BluRay%20x264-GRP.mkv?b=b"), "{url}");
    assert_eq!(uncached["behaviorHints"]["notWebReady"], true);
    assert_eq!(uncached["behaviorHints"]["bingeGroup"], "chillproxy|tb|1080p|BluRay|SDR|GRP");
}

/// The hashes (their repeated character) of the list a config with `prefs` gets, in order.
async fn order_with(prefs: &str) -> String {
    let releases: [(char, &str, u64, u32); 5] = [
        ('a', "Movie.2019.2160p.BluRay.REMUX-FGT", 60_000_000_000, 20),
        ('b', "Movie.2019.1080p.WEB-DL.FRENCH-GRP", 5_000_000_000, 40),
        ('c', "Movie.2019.1080p.BluRay.x264-AMIABLE", 9_000_000_000, 500),
        ('d', "Movie.2019.720p.CAM-XYZ", 1_000_000_000, 80),
        ('e', "Movie.2019.DVDRip.XviD", 700_000_000, 3),
    ];
    let candidates = releases
        .iter()
        .map(|(c, title, size, seeders)| chillproxy_core::Candidate {
            hash: hash(*c),
            title: title.to_string(),
            size: Some(*size),
            seeders: Some(*seeders),
            indexer: "memory".into(),
            files: Vec::new(),
            file_idx: None,
            cached_on: Vec::new(),
            nzb: None,
        })
        .collect();
    let store = Arc::new(MemoryStore::new("tb", "Memory Store", &[(hash('a'), &[("Movie.mkv", 60_000_000_000)])]));
    let services = services(
        vec![auth("Auth", granting)],
        vec![store],
        vec![Arc::new(FixedSource(candidates))],
        Default::default(),
    );
    let mut config = config("tb");
    config.prefs = serde_json::from_str(prefs).unwrap();
    config.prefs.validate().unwrap();
    let (client, media) = (client(), movie());
    let request = movie_request(&config, &client, &media, "");
    list_streams(&services.streams, &request)
        .await
        .streams()
        .iter()
        .filter_map(|s| s["url"].as_str())
        .map(|url| url.split("/tb/").nth(1).unwrap().chars().next().unwrap())
        .collect()
}

#[tokio::test]
async fn the_viewers_filters_and_order_shape_the_list() {
    assert_eq!(order_with("{}").await, "acbde", "cached first, then resolution, quality, size");
    assert_eq!(order_with(r#"{"resolutions":["1080p","720p"]}"#).await, "cbd");
    assert_eq!(order_with(r#"{"resolutions":["unknown"]}"#).await, "e");
    assert_eq!(order_with(r#"{"max_size_gb":10}"#).await, "cbde");
    assert_eq!(order_with(r#"{"min_size_gb":2}"#).await, "acb");
    assert_eq!(order_with(r#"{"exclude":["cam","xvid"]}"#).await, "acb");
    assert_eq!(order_with(r#"{"languages":["french"]}"#).await, "abcde", "a French release before the others");
    assert_eq!(order_with(r#"{"languages":["fr"]}"#).await, "abcde", "the code as the name");
    assert_eq!(order_with(r#"{"languages":["FR","de"]}"#).await, "abcde", "case-insensitive, nothing dropped");
    assert_eq!(order_with(r#"{"per_resolution":1}"#).await, "acde");
    assert_eq!(order_with(r#"{"sort":"-seeders"}"#).await, "acdbe");
    assert_eq!(order_with(r#"{"sort":"size"}"#).await, "aedbc");
    assert_eq!(order_with(r#"{"sort":"-quality,seeders"}"#).await, "acbed");
    assert_eq!(
        order_with(r#"{"resolutions":["1080p","2160p"],"exclude":["french"],"sort":"size"}"#).await,
        "ac",
        "filters combine"
    );
}
