//! TorBox usenet (issue 22) in the TorBox store plugin against the fake TorBox, over real
//! sockets: the Pro gate, the usenet cache check, adding a release (found in the list first,
//! created once, uploaded as a file when TorBox cannot fetch the link), its link, and what
//! reached TorBox.

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use chillproxy_core::registry::PluginContext;
use chillproxy_core::{
    registry, ContentKind, Credential, Env, MagnetStatus, PluginSettings, Secret, SharedState, StoreError,
    StoreProvider, UsenetAdd, UsenetHash,
};
use chillproxy_tests::fakes::torbox::FakeTorBox;
use chillproxy_tests::fakes::torbox_usenet::{CHECKCACHED, CREATE, MYLIST, REQUESTDL};
use chillproxy_tests::fakes::{serve, Running};

const PRO: &str = "tb-pro-key-SECRET-3b5d5c3712955042212316173ccf37be";
const ESSENTIAL: &str = "tb-essential-key-SECRET-9e107d9d372bb6826bd81d3542a419d6";
const INDEXER_KEY: &str = "nzb-indexer-key-SECRET-e4d909c290d0fb1ca068ffaddf22cbd0";

fn credential(key: &str) -> Credential {
    Credential::new(Secret::new(key), "token")
}

fn identity(n: u32) -> UsenetHash {
    UsenetHash::parse(&format!("{n:032x}")).expect("valid usenet hash")
}

fn build_store(api_url: &str, shared: SharedState) -> Arc<dyn StoreProvider> {
    chillproxy_tests::link_plugins();
    let descriptor = registry::stores().expect("registry").into_iter().find(|d| d.name == "torbox").expect("torbox");
    let mut table = toml::Table::new();
    table.insert("api_url".into(), toml::Value::String(api_url.to_string()));
    let settings = PluginSettings::new("store.torbox", table, Env::default());
    (descriptor.build)(&PluginContext::with_shared(&settings, shared)).expect("store builds")
}

async fn setup() -> (FakeTorBox, Running, Arc<dyn StoreProvider>) {
    let (fake, running) = FakeTorBox::start().await;
    fake.add_key(PRO);
    fake.add_key_with_plan(ESSENTIAL, 1);
    let store = build_store(&running.url(), SharedState::default());
    (fake, running, store)
}

/// An indexer that hands out NZBs at `/getnzb/<token>.nzb&r=<key>` (the classic Newznab form),
/// or a Newznab error for token `gone`.
async fn nzb_server() -> Running {
    async fn nzb(axum::extract::Path(file): axum::extract::Path<String>) -> axum::response::Response {
        if file.starts_with("gone") {
            let error = r#"<?xml version="1.0" encoding="UTF-8"?><error code="300" description="No such item"/>"#;
            return (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml")], error).into_response();
        }
        let token = file.split('.').next().unwrap_or_default().to_string();
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<nzb xmlns=\"http://www.newzbin.com/DTD/2003/nzb\">\
             <head><meta type=\"name\">{token}</meta></head><file subject=\"{token}.mkv\"></file></nzb>"
        );
        (StatusCode::OK, [(header::CONTENT_TYPE, "application/x-nzb")], body).into_response()
    }
    serve(Router::new().route("/getnzb/{file}", get(nzb))).await
}

fn link(base: &str, token: &str) -> Secret {
    Secret::new(format!("{base}/getnzb/{token}.nzb&i=1882&r={INDEXER_KEY}"))
}

#[tokio::test]
async fn only_a_pro_key_plays_usenet_and_the_others_never_call_a_usenet_endpoint() {
    let (fake, _running, store) = setup().await;
    fake.add_usenet_cached(identity(1).as_str(), "rel1", "Movie.2020", &[("movie.mkv", 100)]);
    assert!(store.capabilities().usenet);
    assert!(store.plays(&credential(PRO), ContentKind::Usenet).await);
    assert!(!store.plays(&credential(ESSENTIAL), ContentKind::Usenet).await);
    assert!(store.plays(&credential(ESSENTIAL), ContentKind::Torrent).await);

    let none = store.check_cached_usenet(&credential(ESSENTIAL), &[identity(1)]).await.expect("no error");
    assert!(none.is_empty());
    let l = link("http://indexer.invalid", "rel1");
    let add = UsenetAdd { hash: &identity(1), link: &l, trusted: true, title: "Movie.2020" };
    let refused = store.add_usenet(&credential(ESSENTIAL), &add, None).await.unwrap_err();
    assert!(matches!(refused, StoreError::PaymentRequired { .. }), "{refused:?}");
    let usenet_calls: Vec<_> = fake.usenet_calls().into_iter().filter(|c| c.bearer() == Some(ESSENTIAL)).collect();
    assert!(usenet_calls.is_empty(), "{usenet_calls:?}");
    // The plan is read once per key.
    let me = fake.calls().iter().filter(|c| c.path == "/v1/api/user/me" && c.bearer() == Some(ESSENTIAL)).count();
    assert_eq!(me, 1);
}

#[tokio::test]
async fn the_usenet_cache_check_asks_by_usenet_hash_in_batches_of_100() {
    let (fake, _running, store) = setup().await;
    fake.add_usenet_cached(identity(7).as_str(), "rel7", "Show.S01", &[("Season 1/e01.mkv", 10), ("e02.mkv", 20)]);
    let asked: Vec<UsenetHash> = (1..=150).map(identity).collect();
    let items = store.check_cached_usenet(&credential(PRO), &asked).await.expect("check");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].hash, identity(7).key());
    assert_eq!(items[0].files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["e01.mkv", "e02.mkv"]);
    let calls = fake.calls_to(CHECKCACHED);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].method, "GET");
    assert_eq!(calls[0].query_param("format").as_deref(), Some("list"));
    let sizes: Vec<usize> = calls.iter().map(|c| c.query_param("hash").unwrap().split(',').count()).collect();
    assert_eq!(sizes, [100, 50]);
}

#[tokio::test]
async fn a_cached_release_is_created_once_and_its_link_asked_with_the_file_and_ip() {
    let (fake, _running, store) = setup().await;
    fake.add_usenet_cached(identity(2).as_str(), "rel2", "Movie.2021", &[("sample.mkv", 5), ("movie.mkv", 100)]);
    let l = link("https://indexer.example", "rel2");
    let add = UsenetAdd { hash: &identity(2), link: &l, trusted: false, title: "Movie.2021.1080p" };
    let magnet = store.add_usenet(&credential(PRO), &add, None).await.expect("added");
    assert_eq!(magnet.status, MagnetStatus::Downloaded);
    assert_eq!(magnet.hash, identity(2).key());
    let creates = fake.calls_to(CREATE);
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0].form_param("link").as_deref(), Some(l.expose()));
    // Listed first, created after.
    let order: Vec<String> = fake.usenet_calls().iter().map(|c| c.path.clone()).collect();
    assert_eq!(order.first().map(String::as_str), Some(MYLIST));

    let ip = "203.0.113.9".parse().ok();
    let file = magnet.files.iter().find(|f| f.name == "movie.mkv").unwrap();
    let cdn = store.generate_link(&credential(PRO), &magnet, file, ip).await.expect("link");
    assert!(cdn.contains("/cdn/usenet/") && cdn.ends_with("/1/movie.mkv"), "{cdn}");
    let requestdl = fake.calls_to(REQUESTDL);
    assert_eq!(requestdl.len(), 1);
    assert_eq!(requestdl[0].query_param("file_id").as_deref(), Some("1"));
    assert_eq!(requestdl[0].query_param("user_ip").as_deref(), Some("203.0.113.9"));
    // File 0 is named too.
    let first = magnet.files.iter().find(|f| f.id == 0).unwrap();
    store.generate_link(&credential(PRO), &magnet, first, None).await.expect("link of file 0");
    assert_eq!(fake.calls_to(REQUESTDL)[1].query_param("file_id").as_deref(), Some("0"));
}

#[tokio::test]
async fn a_release_already_in_the_account_is_not_created_again() {
    let (fake, _running, store) = setup().await;
    fake.add_usenet_cached(identity(3).as_str(), "rel3", "Movie", &[("movie.mkv", 100)]);
    fake.add_usenet_cached(identity(13).as_str(), "rel13", "Other", &[("other.mkv", 100)]);
    // Added earlier by another client, which named it by the same usenet hash TorBox keeps.
    fake.add_usenet_to_account(PRO, identity(3).as_str(), "x");
    fake.state().usenet.downloads[0].hash = identity(3).as_str().to_string();
    // Added earlier from the same link: TorBox named it by the md5 of that link.
    let l13 = link("https://indexer.example", "rel13");
    fake.add_usenet_to_account(PRO, identity(13).as_str(), l13.expose());
    let l = link("https://indexer.example", "rel3");
    for (n, l) in [(3, &l), (13, &l13)] {
        let add = UsenetAdd { hash: &identity(n), link: l, trusted: false, title: "Movie" };
        let magnet = store.add_usenet(&credential(PRO), &add, None).await.expect("found");
        assert_eq!(magnet.status, MagnetStatus::Downloaded);
        assert_eq!(magnet.hash, identity(n).key());
    }
    assert_eq!(fake.calls_to(CREATE).len(), 0);
    assert_eq!(fake.calls_to(MYLIST).iter().filter(|c| c.query_param("id").is_none()).count(), 1, "one list read");
}

#[tokio::test]
async fn an_nzb_torbox_cannot_fetch_is_uploaded_as_a_file_and_found_again_by_its_id() {
    let (fake, running, _) = setup().await;
    let shared = SharedState::default();
    let store = build_store(&running.url(), shared.clone());
    let indexer = nzb_server().await;
    fake.add_usenet_cached(identity(4).as_str(), "rel4", "Movie.LAN", &[("movie.mkv", 100)]);
    fake.set_usenet_fetchable(identity(4).as_str(), false);
    let l = link(&indexer.url(), "rel4");
    // An operator's indexer on a private address: fetched here, uploaded.
    let add = UsenetAdd { hash: &identity(4), link: &l, trusted: true, title: "Movie.LAN" };
    let magnet = store.add_usenet(&credential(PRO), &add, None).await.expect("uploaded");
    assert_eq!(magnet.status, MagnetStatus::Downloaded);
    let creates = fake.calls_to(CREATE);
    assert_eq!(creates.len(), 2, "the link, then the file");
    assert!(creates[1].body.contains("name=\"file\"") && creates[1].body.contains("rel4"), "{}", creates[1].body);
    assert!(!creates[1].body.contains(INDEXER_KEY));
    let downloads = fake.usenet_downloads_of(PRO);
    assert!(downloads[0].from_file);
    assert_ne!(downloads[0].hash, identity(4).as_str(), "TorBox names it by the file's md5");

    // Another replica (same shared tier, a fresh list) finds it by the id the create returned.
    let replica = build_store(&running.url(), shared);
    fake.clear_calls();
    let again = replica.add_usenet(&credential(PRO), &add, None).await.expect("found");
    assert_eq!(again.id, magnet.id);
    assert_eq!(fake.calls_to(CREATE).len(), 0);
}

#[tokio::test]
async fn a_users_nzb_link_at_a_private_address_or_an_indexer_error_is_never_uploaded() {
    let (fake, _running, store) = setup().await;
    let indexer = nzb_server().await;
    fake.add_usenet_cached(identity(5).as_str(), "rel5", "Movie", &[("movie.mkv", 100)]);
    fake.set_usenet_fetchable(identity(5).as_str(), false);
    let l = link(&indexer.url(), "rel5");
    let add = UsenetAdd { hash: &identity(5), link: &l, trusted: false, title: "Movie" };
    let e = store.add_usenet(&credential(PRO), &add, None).await.unwrap_err();
    assert!(matches!(e, StoreError::DownloadFailed { .. }), "{e:?}");
    assert!(e.to_string().contains("may not fetch"), "{e}");
    assert!(!e.to_string().contains(INDEXER_KEY) && !e.to_string().contains("127.0.0.1"), "{e}");
    assert_eq!(fake.calls_to(CREATE).len(), 1, "the link only");

    fake.add_usenet_cached(identity(6).as_str(), "gone", "Gone", &[("movie.mkv", 100)]);
    fake.set_usenet_fetchable(identity(6).as_str(), false);
    let gone = link(&indexer.url(), "gone");
    let add = UsenetAdd { hash: &identity(6), link: &gone, trusted: true, title: "Gone" };
    let e = store.add_usenet(&credential(PRO), &add, None).await.unwrap_err();
    assert!(e.to_string().contains("Newznab error 300"), "{e}");
    assert_eq!(fake.calls_to(CREATE).len(), 2, "no upload of an error body");
}

#[tokio::test]
async fn an_uncached_release_downloads_and_concurrent_adds_make_one_create() {
    let (fake, _running, store) = setup().await;
    fake.add_usenet_uncached(identity(8).as_str(), "rel8", "Show", &[("e01.mkv", 100)], 2);
    let l = link("https://indexer.example", "rel8");
    let adds = (0..25).map(|_| {
        let (store, l) = (store.clone(), l.clone());
        async move {
            let add = UsenetAdd { hash: &identity(8), link: &l, trusted: false, title: "Show" };
            store.add_usenet(&credential(PRO), &add, None).await
        }
    });
    let magnets = futures::future::join_all(adds).await;
    assert!(magnets.iter().all(|m| m.as_ref().is_ok_and(|m| m.status == MagnetStatus::Downloading)), "{magnets:?}");
    assert_eq!(fake.calls_to(CREATE).len(), 1);
    let id = magnets[0].as_ref().unwrap().id.clone();
    let mut status = MagnetStatus::Downloading;
    for _ in 0..3 {
        status = store.get_magnet(&credential(PRO), &id, None).await.expect("state").status;
    }
    assert_eq!(status, MagnetStatus::Downloaded);
}

#[tokio::test]
async fn a_password_protected_release_is_a_download_failure() {
    let (fake, _running, store) = setup().await;
    fake.add_usenet_uncached(identity(9).as_str(), "rel9", "Locked", &[("e01.mkv", 100)], 1);
    fake.set_usenet_failure(identity(9).as_str(), "failed (Aborted, encryption detected)");
    let l = link("https://indexer.example", "rel9");
    let add = UsenetAdd { hash: &identity(9), link: &l, trusted: false, title: "Locked" };
    let e = store.add_usenet(&credential(PRO), &add, None).await.unwrap_err();
    assert!(matches!(e, StoreError::DownloadFailed { .. }) && e.to_string().contains("password"), "{e:?}");
}

#[tokio::test]
async fn usenet_creates_spend_the_keys_create_budget_and_checks_its_requests() {
    let (fake, running) = FakeTorBox::start().await;
    fake.add_key(PRO);
    chillproxy_tests::link_plugins();
    let descriptor = registry::stores().unwrap().into_iter().find(|d| d.name == "torbox").unwrap();
    let table: toml::Table =
        toml::from_str(&format!("api_url = {:?}\ncreates_per_hour = 1\nrequests_per_minute = 8", running.url()))
            .unwrap();
    let settings = PluginSettings::new("store.torbox", table, Env::default());
    let store = (descriptor.build)(&PluginContext::new(&settings)).unwrap();
    for n in [20, 21] {
        fake.add_usenet_cached(identity(n).as_str(), &format!("rel{n}"), "Movie", &[("movie.mkv", 100)]);
    }
    let (l20, l21) = (link("https://indexer.example", "rel20"), link("https://indexer.example", "rel21"));
    let first = UsenetAdd { hash: &identity(20), link: &l20, trusted: false, title: "Movie" };
    store.add_usenet(&credential(PRO), &first, None).await.expect("the first create");
    let second = UsenetAdd { hash: &identity(21), link: &l21, trusted: false, title: "Movie" };
    let over = store.add_usenet(&credential(PRO), &second, None).await.unwrap_err();
    assert!(matches!(over, StoreError::BudgetExhausted { .. }), "{over:?}");
    assert!(over.to_string().contains("hourly limit for new downloads"), "{over}");
    assert_eq!(fake.calls_to(CREATE).len(), 1, "the second create was not sent");
    // Every usenet call counts against the key's requests a minute: the rest of the 8 go to
    // cache checks, then the key is out of requests.
    let spent = fake.calls().len();
    let mut refused = None;
    for _ in spent..12 {
        if let Err(e) = store.check_cached_usenet(&credential(PRO), &[identity(20)]).await {
            refused = Some(e);
            break;
        }
    }
    assert!(matches!(refused, Some(StoreError::BudgetExhausted { .. })), "{refused:?}");
    assert!(fake.calls().len() <= 8, "never more than requests_per_minute calls: {}", fake.calls().len());
}
