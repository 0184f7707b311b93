//! `resolve_link` with in-memory providers: no socket, no file.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chillproxy_core::{AuthOutcome, DenyReason, DeviceId, MediaQuery, StoreEntry};
use chillproxy_stremio::UserConfig;

use super::{resolve_link, PlaybackError, PlaybackRequest};
use crate::client::ClientInfo;
use crate::testing::*;

fn request_parts(code: &str) -> (UserConfig, MediaQuery, ClientInfo) {
    let config = UserConfig {
        stores: vec![StoreEntry { c: code.into(), t: None, auth: Some("user".into()) }],
        indexers: vec![],
        newznab: vec![],
        cached: false,
        acquire: false,
        prefs: Default::default(),
    };
    let media = MediaQuery::episode("tt0903747", 1, 2);
    let ip = [203, 0, 113, 9].into();
    (config, media, ClientInfo { ip, device: DeviceId::from_client(ip, "player") })
}

#[tokio::test]
async fn a_pack_resolves_to_the_episode_once_and_records_usage() {
    let pack: &[(&str, u64)] = &[("Show.S01E01.mkv", 100), ("Show.S01E02.mkv", 200), ("sample.mkv", 5)];
    let store = Arc::new(MemoryStore::new("tb", "Memory Store", &[(hash('d'), pack)]));
    let usage = Arc::new(RecordedUsage::default());
    let auth = Arc::new(ScriptedAuth { name: "a", display: "A", outcome: granting, calls: Default::default() });
    let services = services(vec![auth], vec![store.clone()], vec![], usage.clone());
    let (config, media, client) = request_parts("tb");
    let request = PlaybackRequest {
        config: &config,
        media: &media,
        store_code: "tb",
        hash: hash('d'),
        kind: chillproxy_core::ContentKind::Torrent,
        file_idx: None,
        file_name: None,
        client: &client,
    };
    let link = resolve_link(&services.playback, &request).await.unwrap().link;
    assert_eq!(link, format!("https://cdn.memory/{}/Show.S01E02.mkv", hash('d')));
    assert_eq!(resolve_link(&services.playback, &request).await.unwrap().link, link);
    assert_eq!(store.adds.load(Ordering::SeqCst), 1, "the second play reused the link");
    let events = usage.0.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert!(events[0].cached && events[0].bytes == 200, "{events:?}");
}

#[tokio::test]
async fn an_auth_failure_names_the_store_of_the_entry() {
    let denied = || AuthOutcome::Denied { reason: DenyReason::Other, message: "no access".into() };
    let store = Arc::new(MemoryStore::new("rd", "Slow Store", &[]));
    let auth = Arc::new(ScriptedAuth { name: "a", display: "Pool", outcome: denied, calls: Default::default() });
    let services = services(vec![auth], vec![store.clone()], vec![], Default::default());
    let (config, media, client) = request_parts("rd");
    let request = PlaybackRequest {
        config: &config,
        media: &media,
        store_code: "rd",
        hash: hash('e'),
        kind: chillproxy_core::ContentKind::Torrent,
        file_idx: None,
        file_name: None,
        client: &client,
    };
    let error = resolve_link(&services.playback, &request).await.unwrap_err();
    assert!(matches!(error, PlaybackError::Auth("Slow Store", _)), "{error:?}");
    let response = error.respond(&[]);
    assert_eq!(response.status(), 403);
    let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
    let body = String::from_utf8_lossy(&body);
    assert_eq!(body, "Slow Store: access denied: no access.");
    assert_eq!(store.adds.load(Ordering::SeqCst), 0);
}
