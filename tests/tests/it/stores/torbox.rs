//! The TorBox store plugin against the fake TorBox, over real sockets: what the user gets back
//! and what reached TorBox.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chillproxy_core::registry::PluginContext;
use chillproxy_core::upstream::UpstreamSettings;
use chillproxy_core::{
    registry, CachedItem, Credential, Env, InfoHash, MagnetStatus, PluginSettings, Secret, StoreError, StoreFile,
    StoreProvider,
};
use chillproxy_store_torbox::{TorBoxConfig, TorBoxStore};
use chillproxy_tests::fakes::torbox::{
    opensubtitles_hash, FakeTorBox, Fault, CHECKCACHED, CREATETORRENT, MYLIST, REQUESTDL, USER_ME,
};
use chillproxy_tests::fakes::{closed_port_url, Running};

const KEY: &str = "tb-live-key-SECRET-7d793037a0760186574b0282f2f435e7";
const OTHER_KEY: &str = "tb-other-key-SECRET-1f3870be274f6c49b3e31a0c6728957f";
const BAD_KEY: &str = "tb-unknown-key-SECRET-c4ca4238a0b923820dcc509a6f75849b";

fn credential(key: &str) -> Credential {
    Credential::new(Secret::new(key), "token")
}

fn hash(n: u32) -> InfoHash {
    InfoHash::parse(&format!("{n:040x}")).expect("valid hash")
}

/// Builds the store the way the host does: through the registry descriptor.
fn build_store(api_url: &str, timeout_ms: u64) -> Arc<dyn StoreProvider> {
    chillproxy_tests::link_plugins();
    let descriptor = registry::stores()
        .expect("registry")
        .into_iter()
        .find(|d| d.name == "torbox")
        .expect("the torbox plugin is linked");
    let mut table = toml::Table::new();
    table.insert("api_url".into(), toml::Value::String(api_url.to_string()));
    table.insert("timeout_ms".into(), toml::Value::Integer(timeout_ms as i64));
    (descriptor.build)(&PluginContext::new(&PluginSettings::new("store.torbox", table, Env::default())))
        .expect("store builds")
}

async fn setup() -> (FakeTorBox, Running, Arc<dyn StoreProvider>) {
    let (fake, running) = FakeTorBox::start().await;
    fake.add_key(KEY);
    let store = build_store(&running.url(), 2_000);
    (fake, running, store)
}

fn assert_all_calls_carry(fake: &FakeTorBox, key: &str) {
    let calls = fake.calls();
    assert!(!calls.is_empty());
    for call in calls {
        assert_eq!(call.authorization.as_deref(), Some(format!("Bearer {key}").as_str()), "{call:?}");
    }
}

#[tokio::test]
async fn the_registry_builds_the_real_store() {
    let (_fake, running, store) = setup().await;
    assert_eq!((store.name(), store.code(), store.display_name()), ("torbox", "tb", "TorBox"));
    let direct = TorBoxStore::new(&TorBoxConfig {
        api_url: running.url(),
        upstream: UpstreamSettings {
            timeout_ms: 1_000,
            connect_timeout_ms: 1_000,
            max_in_flight: 8,
            max_body_bytes: 1 << 20,
            proxy_url: None,
        },
        ..TorBoxConfig::default()
    })
    .expect("client");
    assert_eq!(direct.code(), "tb");
}

#[tokio::test]
async fn check_cached_returns_exactly_the_cached_hashes_with_files() {
    let (fake, _running, store) = setup().await;
    fake.add_cached(
        hash(1).as_str(),
        "Show.S01",
        &[("Season 1/e01.mkv", 1_000), ("Season 1/e02.mkv", 2_000), ("info.nfo", 10)],
    );
    fake.add_cached(hash(2).as_str(), "Movie.2020", &[("movie.mkv", 5_000)]);
    fake.add_uncached(hash(3).as_str(), "Uncached", &[("u.mkv", 1)], 1);

    let asked = [hash(3), hash(2), hash(9), hash(1), hash(2)];
    let items = store.check_cached(&credential(KEY), &asked).await.expect("check");

    assert_eq!(
        items,
        vec![
            CachedItem {
                hash: hash(2),
                files: vec![StoreFile {
                    id: 0,
                    name: "movie.mkv".into(),
                    path: "/movie.mkv".into(),
                    size: 5_000,
                    video_hash: None
                }],
            },
            CachedItem {
                hash: hash(1),
                files: vec![
                    StoreFile {
                        id: 0,
                        name: "e01.mkv".into(),
                        path: "/Season 1/e01.mkv".into(),
                        size: 1_000,
                        video_hash: None
                    },
                    StoreFile {
                        id: 1,
                        name: "e02.mkv".into(),
                        path: "/Season 1/e02.mkv".into(),
                        size: 2_000,
                        video_hash: None
                    },
                    StoreFile { id: 2, name: "info.nfo".into(), path: "/info.nfo".into(), size: 10, video_hash: None },
                ],
            },
        ]
    );

    let calls = fake.calls_to(CHECKCACHED);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "GET", "the documented form");
    assert_eq!(calls[0].query_param("format").as_deref(), Some("list"));
    assert_eq!(calls[0].query_param("list_files").as_deref(), Some("true"));
    // Duplicates are asked once.
    assert_eq!(fake.checkcached_batches(), vec![[3, 2, 9, 1].map(|n| hash(n).to_string()).to_vec()]);
    assert_all_calls_carry(&fake, KEY);
}

#[tokio::test]
async fn nothing_cached_is_an_empty_answer_and_no_hashes_is_no_call() {
    let (fake, _running, store) = setup().await;
    let items = store.check_cached(&credential(KEY), &[hash(1), hash(2)]).await.expect("check");
    assert!(items.is_empty());
    assert_eq!(fake.count(CHECKCACHED), 1);

    let items = store.check_cached(&credential(KEY), &[]).await.expect("empty check");
    assert!(items.is_empty());
    assert_eq!(fake.count(CHECKCACHED), 1, "no request for an empty list");
}

#[tokio::test]
async fn one_hundred_fifty_hashes_are_sent_in_two_batches() {
    let (fake, _running, store) = setup().await;
    fake.add_cached(hash(5).as_str(), "Five", &[("five.mkv", 5)]);
    fake.add_cached(hash(140).as_str(), "OneForty", &[("a/b.mkv", 140)]);
    let hashes: Vec<InfoHash> = (0..150).map(hash).collect();

    let items = store.check_cached(&credential(KEY), &hashes).await.expect("check");

    let found: Vec<&InfoHash> = items.iter().map(|i| &i.hash).collect();
    assert_eq!(found, vec![&hash(5), &hash(140)]);
    assert_eq!(items[1].files[0].path, "/a/b.mkv");
    let mut batches = fake.checkcached_batches();
    batches.sort_by_key(|b| std::cmp::Reverse(b.len()));
    assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![100, 50]);
    let mut sent: Vec<String> = batches.concat();
    sent.sort();
    let mut expected: Vec<String> = hashes.iter().map(|h| h.to_string()).collect();
    expected.sort();
    assert_eq!(sent, expected);
    assert_all_calls_carry(&fake, KEY);
}

#[tokio::test]
async fn a_failing_batch_fails_the_whole_check() {
    let (fake, _running, store) = setup().await;
    fake.set_fault(Fault::Error { status: 500, code: "DATABASE_ERROR".into(), detail: "Database is down.".into() });
    let hashes: Vec<InfoHash> = (0..150).map(hash).collect();
    let err = store.check_cached(&credential(KEY), &hashes).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::Unavailable {
            store: "TorBox",
            message: "its database had an error; try again in a few minutes (Database is down)".into()
        }
    );
}

#[tokio::test]
async fn add_magnet_for_a_cached_hash_is_downloaded_with_files() {
    let (fake, _running, store) = setup().await;
    fake.add_cached(hash(7).as_str(), "Movie.2020", &[("movie.mkv", 5_000), ("Subs/en.srt", 20)]);

    let magnet = store.add_magnet(&credential(KEY), &hash(7), None).await.expect("add");

    assert_eq!(magnet.status, MagnetStatus::Downloaded);
    assert_eq!(magnet.hash, hash(7));
    assert_eq!(magnet.name, "Movie.2020");
    assert_eq!(magnet.size, 5_020);
    assert_eq!(
        magnet.files,
        vec![
            StoreFile {
                id: 0,
                name: "movie.mkv".into(),
                path: "/movie.mkv".into(),
                size: 5_000,
                // A library file carries TorBox's OpenSubtitles hash; a subtitle file none.
                video_hash: opensubtitles_hash(hash(7).as_str(), "movie.mkv", 5_000),
            },
            StoreFile { id: 1, name: "en.srt".into(), path: "/Subs/en.srt".into(), size: 20, video_hash: None },
        ]
    );
    let created = fake.calls_to(CREATETORRENT);
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].method, "POST");
    assert_eq!(created[0].form_param("magnet"), Some(hash(7).magnet()));
    assert_eq!(created[0].form_param("allow_zip").as_deref(), Some("false"));
    // The account's list was read first (the torrent was not there), then the new torrent.
    let listed: Vec<_> = fake.calls_to(MYLIST).into_iter().filter(|c| c.query_param("id").is_some()).collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].query_param("id"), Some(magnet.id.clone()));
    assert_eq!(listed[0].query_param("bypass_cache").as_deref(), Some("true"));

    // Adding it again finds the same torrent.
    let again = store.add_magnet(&credential(KEY), &hash(7), None).await.expect("add again");
    assert_eq!(again.id, magnet.id);
    assert_eq!(fake.torrents_of(KEY).len(), 1);
    assert_all_calls_carry(&fake, KEY);
}

#[tokio::test]
async fn an_uncached_hash_is_queued_then_downloaded_after_polls() {
    let (fake, _running, store) = setup().await;
    fake.add_uncached(hash(8).as_str(), "Rare.Show", &[("Season 1/e01.mkv", 100)], 3);
    let cred = credential(KEY);

    let added = store.add_magnet(&cred, &hash(8), None).await.expect("add");
    assert_eq!(added.status, MagnetStatus::Queued);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(store.get_magnet(&cred, &added.id, None).await.expect("poll").status);
    }
    assert_eq!(statuses, vec![MagnetStatus::Downloading, MagnetStatus::Downloading, MagnetStatus::Downloaded]);
    let done = store.get_magnet(&cred, &added.id, None).await.expect("poll");
    assert_eq!(done.status, MagnetStatus::Downloaded);
    assert_eq!(done.files[0].path, "/Season 1/e01.mkv");
    let polls = fake.calls_to(MYLIST).iter().filter(|c| c.query_param("id").is_some()).count();
    assert_eq!(polls, 5, "and one read of the account's list before adding it");

    // Once downloaded, TorBox has it cached for everyone.
    let items = store.check_cached(&cred, &[hash(8)]).await.expect("check");
    assert_eq!(items.len(), 1);
}

#[tokio::test]
async fn get_magnet_only_sees_the_callers_torrents() {
    let (fake, _running, store) = setup().await;
    fake.add_key(OTHER_KEY);
    fake.add_cached(hash(1).as_str(), "Mine", &[("a.mkv", 1)]);
    let mine = store.add_magnet(&credential(KEY), &hash(1), None).await.expect("add");

    let err = store.get_magnet(&credential(OTHER_KEY), &mine.id, None).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store.get_magnet(&credential(KEY), "999999", None).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let calls_before = fake.calls().len();
    let err = store.get_magnet(&credential(KEY), "not-a-number", None).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(fake.calls().len(), calls_before, "an invalid id is not sent");
}

#[tokio::test]
async fn generate_link_returns_the_cdn_url_and_sends_the_documented_query() {
    let (fake, running, store) = setup().await;
    fake.add_cached(hash(4).as_str(), "Movie", &[("Extras/extra.mkv", 10), ("The Movie.mkv", 5_000)]);
    let cred = credential(KEY);
    let magnet = store.add_magnet(&cred, &hash(4), None).await.expect("add");
    let file = magnet.files.iter().find(|f| f.name == "The Movie.mkv").expect("file").clone();
    let ip: IpAddr = "203.0.113.9".parse().expect("ip");

    let link = store.generate_link(&cred, &magnet, &file, Some(ip)).await.expect("link");

    assert_eq!(link, format!("{}/cdn/{}/1/The%20Movie.mkv", running.url(), magnet.id));
    let calls = fake.calls_to(REQUESTDL);
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.method, "GET");
    assert_eq!(call.query_param("token").as_deref(), Some(KEY));
    assert_eq!(call.query_param("torrent_id"), Some(magnet.id.clone()));
    assert_eq!(call.query_param("file_id").as_deref(), Some("1"));
    assert_eq!(call.query_param("zip_link").as_deref(), Some("false"));
    assert_eq!(call.query_param("user_ip").as_deref(), Some("203.0.113.9"));
    assert_all_calls_carry(&fake, KEY);

    let body = reqwest::get(&link).await.expect("cdn").error_for_status().expect("200").text().await.expect("body");
    assert!(body.contains("fake torbox cdn"), "{body}");

    // Without a client IP there is no user_ip.
    store.generate_link(&cred, &magnet, &magnet.files[0], None).await.expect("link");
    assert_eq!(fake.calls_to(REQUESTDL)[1].query_param("user_ip"), None);
}

#[tokio::test]
async fn generate_link_for_an_unfinished_torrent_is_not_found() {
    let (fake, _running, store) = setup().await;
    fake.add_uncached(hash(6).as_str(), "Slow", &[("s.mkv", 1)], 5);
    let cred = credential(KEY);
    let magnet = store.add_magnet(&cred, &hash(6), None).await.expect("add");
    let file = StoreFile { id: 0, name: "s.mkv".into(), path: "/s.mkv".into(), size: 1, video_hash: None };
    let err = store.generate_link(&cred, &magnet, &file, None).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert!(!err.to_string().contains(KEY), "{err}");
}

#[tokio::test]
async fn account_reports_the_plan() {
    let (fake, _running, store) = setup().await;
    fake.add_key_with_plan(OTHER_KEY, 0);

    let account = store.account(&credential(KEY)).await.expect("account");
    assert_eq!(account.id, "1");
    assert_eq!(account.email, "user1@torbox.fake");
    assert_eq!(account.subscription, "premium");
    let free = store.account(&credential(OTHER_KEY)).await.expect("account");
    assert_eq!(free.subscription, "expired");

    let calls = fake.calls_to(USER_ME);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].query_param("settings").as_deref(), Some("true"));
    assert_eq!(calls[0].bearer(), Some(KEY));
    assert_eq!(calls[1].bearer(), Some(OTHER_KEY));
}

#[tokio::test]
async fn each_call_carries_the_key_it_was_given() {
    let (fake, _running, store) = setup().await;
    fake.add_key(OTHER_KEY);
    fake.add_cached(hash(1).as_str(), "A", &[("a.mkv", 1)]);
    let (a, b) = (credential(KEY), credential(OTHER_KEY));

    let h1 = hash(1);
    let (ra, rb) = tokio::join!(store.add_magnet(&a, &h1, None), store.add_magnet(&b, &h1, None));
    let (ma, mb) = (ra.expect("a"), rb.expect("b"));
    assert_ne!(ma.id, mb.id, "each account has its own torrent");
    let asked = [hash(1)];
    let (ra, rb) = tokio::join!(store.check_cached(&b, &asked), store.account(&a));
    ra.expect("check");
    rb.expect("account");

    let calls = fake.calls();
    // Each key: its list, createtorrent, the new torrent, and one more call.
    assert_eq!(calls.len(), 8);
    let by = |key: &str| calls.iter().filter(|c| c.bearer() == Some(key)).count();
    assert_eq!((by(KEY), by(OTHER_KEY)), (4, 4));
    assert_eq!(fake.torrents_of(KEY)[0].id.to_string(), ma.id);
    assert_eq!(fake.torrents_of(OTHER_KEY)[0].id.to_string(), mb.id);
}

#[tokio::test]
async fn a_bad_key_is_unauthorized_with_torboxs_detail() {
    let (fake, _running, store) = setup().await;
    let err = store.check_cached(&credential(BAD_KEY), &[hash(1)]).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::Unauthorized {
            store: "TorBox",
            message: "Invalid API token. Please check your token and try again.".into(),
        }
    );
    for err in [
        store.account(&credential(BAD_KEY)).await.unwrap_err(),
        store.add_magnet(&credential(BAD_KEY), &hash(1), None).await.unwrap_err(),
        store.get_magnet(&credential(BAD_KEY), "1001", None).await.unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::Unauthorized { .. }), "{err:?}");
        assert!(!err.to_string().contains(BAD_KEY), "{err}");
    }
    assert_all_calls_carry(&fake, BAD_KEY);

    let err = store.account(&credential("")).await.unwrap_err();
    assert!(matches!(err, StoreError::Unauthorized { .. }), "{err:?}");
}

#[tokio::test]
async fn torbox_error_codes_become_typed_errors() {
    let (fake, _running, store) = setup().await;
    type IsExpected = fn(&StoreError) -> bool;
    let cases: [(&str, u16, IsExpected); 6] = [
        ("PLAN_RESTRICTED_FEATURE", 403, |e| matches!(e, StoreError::PaymentRequired { .. })),
        ("ACTIVE_LIMIT", 403, |e| matches!(e, StoreError::LimitExceeded { .. })),
        ("COOLDOWN_LIMIT", 400, |e| matches!(e, StoreError::RateLimited { .. })),
        ("BOZO_TORRENT", 400, |e| matches!(e, StoreError::BadRequest { .. })),
        ("NO_SERVERS_AVAILABLE_ERROR", 503, |e| matches!(e, StoreError::Unavailable { .. })),
        ("DIFF_ISSUE", 500, |e| matches!(e, StoreError::Upstream { .. })),
    ];
    for (code, status, expected) in cases {
        let detail = format!("detail for {code}");
        fake.set_fault(Fault::Error { status, code: code.into(), detail: detail.clone() });
        let err = store.add_magnet(&credential(KEY), &hash(1), None).await.unwrap_err();
        assert!(expected(&err), "{code}: {err:?}");
        assert!(err.to_string().contains(&detail), "{code}: {err}");
    }
}

#[tokio::test]
async fn http_429_is_rate_limited_with_retry_after() {
    let (fake, _running, store) = setup().await;
    fake.set_fault(Fault::RateLimited { retry_after_secs: 42 });
    let err = store.check_cached(&credential(KEY), &[hash(1)]).await.unwrap_err();
    match err {
        StoreError::RateLimited { retry_after, .. } => assert_eq!(retry_after, Some(Duration::from_secs(42))),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    let err = store.account(&credential(KEY)).await.unwrap_err();
    assert!(
        matches!(err, StoreError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(42)),
        "{err:?}"
    );

    // TorBox asked for 42 s: the key's calls are held back that long, even once it answers
    // again, and none is sent meanwhile.
    fake.set_fault(Fault::None);
    let calls = fake.calls().len();
    let err = store.account(&credential(KEY)).await.unwrap_err();
    assert!(matches!(err, StoreError::RateLimited { .. }), "{err:?}");
    assert_eq!(fake.calls().len(), calls);
}

#[tokio::test]
async fn server_errors_html_pages_and_truncated_json_are_errors_not_panics() {
    let (fake, _running, store) = setup().await;
    fake.add_cached(hash(1).as_str(), "A", &[("a.mkv", 1)]);
    let cred = credential(KEY);
    let magnet = store.add_magnet(&cred, &hash(1), None).await.expect("add");

    for fault in [Fault::ServerError { status: 500 }, Fault::HtmlPage { status: 502 }, Fault::TruncatedJson] {
        fake.set_fault(fault.clone());
        let errors = [
            store.check_cached(&cred, &[hash(1)]).await.map(|_| ()).unwrap_err(),
            // hash(2) is not in the account (hash(1) is, and plays without asking TorBox).
            store.add_magnet(&cred, &hash(2), None).await.map(|_| ()).unwrap_err(),
            store.get_magnet(&cred, &magnet.id, None).await.map(|_| ()).unwrap_err(),
            store.generate_link(&cred, &magnet, &magnet.files[0], None).await.map(|_| ()).unwrap_err(),
            store.account(&cred).await.map(|_| ()).unwrap_err(),
        ];
        for err in errors {
            assert!(matches!(err, StoreError::Unavailable { .. } | StoreError::Upstream { .. }), "{fault:?}: {err:?}");
            let text = err.to_string();
            assert!(text.len() < 300, "{fault:?}: {text}");
            assert!(!text.contains("FAKE-HTML-ERROR-PAGE") && !text.contains("<html"), "{fault:?}: {text}");
            assert!(!text.contains(KEY), "{fault:?}: {text}");
        }
    }
    fake.set_fault(Fault::HtmlPage { status: 502 });
    let err = store.account(&cred).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    fake.set_fault(Fault::TruncatedJson);
    let err = store.account(&cred).await.unwrap_err();
    assert!(matches!(err, StoreError::Upstream { .. }), "{err:?}");
}

#[tokio::test]
async fn a_reply_over_two_mib_is_refused() {
    let (fake, _running, store) = setup().await;
    fake.set_fault(Fault::Oversized);
    let err = store.check_cached(&credential(KEY), &[hash(1)]).await.unwrap_err();
    assert!(matches!(err, StoreError::Upstream { .. }), "{err:?}");
    assert!(err.to_string().contains("larger than 2 MiB"), "{err}");
    assert!(!err.to_string().contains("xxx"), "{err}");
}

#[tokio::test]
async fn a_closed_port_is_unavailable() {
    let store = build_store(&closed_port_url(), 2_000);
    let err = store.check_cached(&credential(KEY), &[hash(1)]).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(!err.to_string().contains(KEY), "{err}");
    assert!(!err.to_string().contains("127.0.0.1"), "no URL in the message: {err}");
}

#[tokio::test]
async fn a_hanging_torbox_times_out_within_the_budget() {
    let (fake, running, _) = setup().await;
    let store = build_store(&running.url(), 500);
    fake.set_fault(Fault::Hang(Duration::from_secs(10)));
    let started = Instant::now();
    let err = store.account(&credential(KEY)).await.unwrap_err();
    assert_eq!(err, StoreError::Timeout { store: "TorBox" });
    // A 500 ms budget, not the 10 s hang.
    assert!(started.elapsed() < Duration::from_millis(3_000), "took {:?}", started.elapsed());

    let started = Instant::now();
    let hashes: Vec<InfoHash> = (0..150).map(hash).collect();
    let err = store.check_cached(&credential(KEY), &hashes).await.unwrap_err();
    assert_eq!(err, StoreError::Timeout { store: "TorBox" });
    assert!(started.elapsed() < Duration::from_millis(3_000), "took {:?}", started.elapsed());
}

/// Runs every operation, successful and failing, with logs captured at TRACE, and checks that
/// neither the key nor the requestdl query reaches a log line or an error message.
#[tokio::test(flavor = "current_thread")]
async fn the_key_reaches_no_log_line_and_no_error_message() {
    let buffer = chillproxy_tests::logs::capture();

    let (fake, running, store) = setup().await;
    fake.add_cached(hash(1).as_str(), "A", &[("a.mkv", 1)]);
    let cred = credential(KEY);
    let mut errors = Vec::new();

    let magnet = store.add_magnet(&cred, &hash(1), None).await.expect("add");
    store.check_cached(&cred, &[hash(1), hash(2)]).await.expect("check");
    store.generate_link(&cred, &magnet, &magnet.files[0], None).await.expect("link");
    store.account(&cred).await.expect("account");

    errors.push(store.account(&credential(BAD_KEY)).await.unwrap_err());
    errors.push(store.generate_link(&credential(BAD_KEY), &magnet, &magnet.files[0], None).await.unwrap_err());
    fake.set_fault(Fault::Error { status: 400, code: "BAD_TOKEN".into(), detail: format!("token {KEY} is not valid") });
    errors.push(store.generate_link(&cred, &magnet, &magnet.files[0], None).await.unwrap_err());
    for fault in [
        Fault::RateLimited { retry_after_secs: 1 },
        Fault::ServerError { status: 503 },
        Fault::HtmlPage { status: 502 },
        Fault::TruncatedJson,
    ] {
        fake.set_fault(fault);
        errors.push(store.generate_link(&cred, &magnet, &magnet.files[0], None).await.unwrap_err());
        errors.push(store.check_cached(&cred, &[hash(1)]).await.unwrap_err());
    }
    fake.set_fault(Fault::Hang(Duration::from_secs(5)));
    let quick = build_store(&running.url(), 200);
    errors.push(quick.generate_link(&cred, &magnet, &magnet.files[0], None).await.unwrap_err());
    let closed = build_store(&closed_port_url(), 500);
    errors.push(closed.generate_link(&cred, &magnet, &magnet.files[0], None).await.unwrap_err());

    for err in &errors {
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(KEY) && !text.contains(BAD_KEY), "{text}");
            assert!(!text.contains("token="), "{text}");
        }
    }
    let logs = buffer.text();
    assert!(logs.contains("torbox call"), "the plugin logs its calls:\n{logs}");
    assert!(logs.contains("/v1/api/torrents/requestdl"), "{logs}");
    assert!(!logs.contains(KEY) && !logs.contains(BAD_KEY), "a key reached the logs:\n{logs}");
    assert!(!logs.contains("token="), "the requestdl query reached the logs:\n{logs}");
}
