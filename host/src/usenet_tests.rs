//! Usenet releases in the stream list and in playback, with in-memory providers: listed next to
//! torrents on the stores that play them (and only with a credential that may), marked, and
//! played by their usenet hash with the indexer's key put back server-side only.

use std::sync::Arc;

use chillproxy_core::{AuthOutcome, ContentKind, InfoHash, MediaQuery, StoreCapabilities, StoreEntry, UsenetHash};
use chillproxy_stremio::UserConfig;

use crate::playback::{resolve_link, PlaybackRequest};
use crate::streams::list_streams;
use crate::testing::*;

fn movie() -> MediaQuery {
    MediaQuery::movie("tt0111161")
}

fn config(codes: &[&str]) -> UserConfig {
    UserConfig {
        stores: codes.iter().map(|c| StoreEntry { c: c.to_string(), t: None, auth: Some("user".into()) }).collect(),
        ..Default::default()
    }
}

fn usenet_store(code: &'static str, allowed: bool, cached: &[(u8, &[(&str, u64)])]) -> MemoryStore {
    let keyed: Vec<_> = cached.iter().map(|(n, files)| (UsenetHash::from_digest(&[*n; 16]).key(), *files)).collect();
    let mut store = MemoryStore::new(code, "Usenet Store", &keyed);
    store.capabilities = StoreCapabilities::EXACT.with_usenet();
    store.usenet_allowed = allowed;
    store
}

fn granted() -> AuthOutcome {
    granting()
}

#[tokio::test]
async fn usenet_streams_rank_with_torrents_marked_and_only_on_stores_that_play_them() {
    let tb = Arc::new(usenet_store("tb", true, &[(1, &[("Movie.1994.2160p.mkv", 30_000)])]));
    let rd = Arc::new(MemoryStore::new("rd", "Torrent Store", &[]));
    let posted = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
        - 45 * 86_400
        - 600;
    let mut with_stats = nzb_candidate(1, "Movie.1994.2160p.WEB-DL", 30_000);
    with_stats.nzb = with_stats.nzb.map(|nzb| nzb.with_stats(Some(123), Some(posted)));
    let source = Arc::new(FixedSource(vec![
        candidate(hash('a'), "Movie.1994.1080p.BluRay", 9_000),
        with_stats,
        nzb_candidate(2, "Movie.1994.720p.WEB", 3_000),
        // The same release from another indexer (another link): listed once.
        nzb_candidate(3, "Movie.1994.720p.WEB", 3_000),
    ]));
    let stores: Vec<Arc<dyn chillproxy_core::StoreProvider>> = vec![tb.clone(), rd.clone()];
    let services = services(vec![Arc::new(auth())], stores, vec![source], Default::default());
    let (config, client, media) = (config(&["tb", "rd"]), client(), movie());
    let streams = list_streams(&services.streams, &movie_request(&config, &client, &media, "bind")).await.streams();
    let names: Vec<&str> = streams.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(streams.len(), 4, "{names:#?}");
    assert!(names[0].starts_with("⚡️ [TB] 📰 Usenet"), "the cached usenet release first: {names:#?}");
    let url = streams[0]["url"].as_str().unwrap();
    let md5 = UsenetHash::from_digest(&[1; 16]);
    assert!(url.contains(&format!("/tb/usenet-{md5}/0/Movie.1994.2160p.mkv")), "{url}");
    assert!(!url.contains(NZB_INDEXER_KEY) && !url.contains("indexer.example"), "{url}");
    // Its grabs and age, as the indexer said them.
    let description = streams[0]["description"].as_str().unwrap();
    assert!(description.contains("👥 123 grabs 📅 45 d"), "{description}");
    let binge = streams[0]["behaviorHints"]["bingeGroup"].as_str().unwrap();
    assert!(binge.starts_with("chillproxy|usenet|tb|"), "{binge}");
    // The torrent on both stores, the uncached usenet release on the usenet store only.
    let usenet: Vec<&&str> = names.iter().filter(|n| n.contains("📰")).collect();
    assert_eq!(usenet.len(), 2, "{names:#?}");
    assert!(usenet.iter().all(|n| n.contains("[TB]")), "{names:#?}");
    assert_eq!(names.iter().filter(|n| n.contains("[RD]")).count(), 1, "{names:#?}");
    let without: Vec<&str> = streams.iter().skip(1).map(|s| s["description"].as_str().unwrap()).collect();
    assert!(without.iter().all(|d| !d.contains("grabs") && !d.contains('📅')), "none said, none shown: {without:#?}");
    let torrent_binge = streams.iter().find(|s| s["name"].as_str().unwrap().contains("[RD]")).unwrap();
    assert!(torrent_binge["behaviorHints"]["bingeGroup"].as_str().unwrap().starts_with("chillproxy|rd|"));
    // The torrent store was never asked about an NZB.
    let body = serde_json::to_string(&streams).unwrap();
    assert!(!body.contains(NZB_INDEXER_KEY));
    assert_eq!(tb.usenet_checked.lock().unwrap().len(), 3);
}

fn auth() -> ScriptedAuth {
    ScriptedAuth { name: "a", display: "A", outcome: granted, calls: Default::default() }
}

#[tokio::test]
async fn a_credential_without_usenet_gets_no_usenet_stream_and_no_usenet_check() {
    let tb = Arc::new(usenet_store("tb", false, &[(1, &[("Movie.mkv", 30_000)])]));
    let source = Arc::new(FixedSource(vec![
        candidate(hash('a'), "Movie.1994.1080p.BluRay", 9_000),
        nzb_candidate(1, "Movie.1994.2160p.WEB-DL", 30_000),
    ]));
    let services = services(vec![Arc::new(auth())], vec![tb.clone()], vec![source], Default::default());
    let (config, client, media) = (config(&["tb"]), client(), movie());
    let streams = list_streams(&services.streams, &movie_request(&config, &client, &media, "bind")).await.streams();
    assert_eq!(streams.len(), 1, "{streams:#?}");
    assert!(!streams[0]["name"].as_str().unwrap().contains("📰"));
    assert!(!streams[0]["name"].as_str().unwrap().contains('⚠'), "nothing alarming: {streams:#?}");
    assert!(tb.usenet_checked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_listed_usenet_release_plays_by_its_hash_with_the_key_put_back_server_side() {
    let tb = Arc::new(usenet_store("tb", true, &[(1, &[("sample.mkv", 10), ("Movie.1994.mkv", 30_000)])]));
    let source = Arc::new(FixedSource(vec![nzb_candidate(1, "Movie.1994.2160p.WEB-DL", 30_000)]));
    let services = services(vec![Arc::new(auth())], vec![tb.clone()], vec![source], Default::default());
    let (config, client, media) = (config(&["tb"]), client(), movie());
    let hash = UsenetHash::from_digest(&[1; 16]);
    let play = PlaybackRequest {
        config: &config,
        media: &media,
        store_code: "tb",
        hash: hash.key(),
        kind: ContentKind::Usenet,
        file_idx: None,
        file_name: None,
        client: &client,
    };
    // Never listed here: nothing to add.
    let unknown = resolve_link(&services.playback, &play).await.unwrap_err();
    assert!(unknown.to_string().contains("open the stream list again"), "{unknown}");
    assert!(tb.usenet_links.lock().unwrap().is_empty());

    list_streams(&services.streams, &movie_request(&config, &client, &media, "bind")).await;
    let play = PlaybackRequest { file_name: Some("Movie.1994.mkv"), ..play };
    let link = resolve_link(&services.playback, &play).await.unwrap();
    assert_eq!(link.link, format!("https://cdn.memory/{}/Movie.1994.mkv", hash.key()));
    let links = tb.usenet_links.lock().unwrap().clone();
    assert_eq!(links, [format!("https://indexer.example/api?t=get&id=1&apikey={NZB_INDEXER_KEY}")]);
}

/// A refused torrent fails over to another torrent of the title, never to a usenet release (a
/// usenet release is added from the NZB book, not by `add_magnet`), even one ranked level with it.
#[tokio::test]
async fn a_refused_torrent_fails_over_to_a_torrent_not_to_a_usenet_release() {
    let (refused, other) = (InfoHash::parse(&"1".repeat(40)).unwrap(), InfoHash::parse(&"2".repeat(40)).unwrap());
    let mut store = usenet_store("tb", true, &[(3, &[("Movie.1994.mkv", 30_000)])]);
    store.torrents.insert(refused.clone(), Vec::new());
    store.torrents.insert(other.clone(), store.torrents[&UsenetHash::from_digest(&[3; 16]).key()].clone());
    store.refused = vec![refused.clone()];
    let tb = Arc::new(store);
    // Ranked level: same resolution, all cached, no seeders; the usenet release comes first.
    let mut second = candidate(other.clone(), "Movie.1994.1080p.WEB-DL.C", 30_000);
    second.seeders = Some(0);
    let mut first = candidate(refused.clone(), "Movie.1994.1080p.WEB-DL.A", 30_000);
    first.seeders = Some(0);
    let found = vec![first, nzb_candidate(3, "Movie.1994.1080p.WEB-DL.B", 30_000), second];
    let source = Arc::new(FixedSource(found));
    // A wait long enough for failover to try another release.
    let settings = crate::config::PlaybackConfig { wait_ms: 2_000, poll_interval_ms: 10, ..Default::default() };
    let services = services_with(vec![Arc::new(auth())], vec![tb.clone()], vec![source], Default::default(), settings);
    let (config, client, media) = (config(&["tb"]), client(), movie());
    list_streams(&services.streams, &movie_request(&config, &client, &media, "bind")).await;

    let play = PlaybackRequest {
        config: &config,
        media: &media,
        store_code: "tb",
        hash: refused.clone(),
        kind: ContentKind::Torrent,
        file_idx: None,
        file_name: Some("Movie.1994.mkv"),
        client: &client,
    };
    let played = resolve_link(&services.playback, &play).await.unwrap();
    assert_eq!(played.hash, other, "played {:?}", played.title);
    assert_eq!(played.link, format!("https://cdn.memory/{other}/Movie.1994.mkv"));
    assert!(tb.usenet_links.lock().unwrap().is_empty(), "no usenet add");
}
