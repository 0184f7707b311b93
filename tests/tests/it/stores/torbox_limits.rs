//! TorBox's real limits and replies (issue 11), over real sockets: the fake follows TorBox's
//! documented API (403 for a bad key, `data: null`, `GET checkcached`, per-token limits, the
//! active-limit reply, failing torrents, `mylist`), and the plugin finds torrents in the account
//! before adding them, keeps each key within its budgets, and maps every documented reply to a
//! typed error. Assertions are on what reached the fake and how often.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chillproxy_core::registry::{self, PluginContext};
use chillproxy_core::{Credential, Env, InfoHash, MagnetStatus, PluginSettings, Secret, StoreError, StoreProvider};
use chillproxy_tests::client::http;
use chillproxy_tests::fakes::torbox::{
    FakeTorBox, Fault, Limits, CHECKCACHED, CONTROLTORRENT, CREATETORRENT, MYLIST, USER_ME,
};
use chillproxy_tests::fakes::Running;
use futures::future::join_all;
use serde_json::{json, Value};

const KEY: &str = "tb-pool-key-SECRET-0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const OTHER_KEY: &str = "tb-own-key-SECRET-a1b2c3d4e5f60718293a4b5c6d7e8f90";

fn credential(key: &str) -> Credential {
    Credential::new(Secret::new(key), "token")
}

fn hash(n: u32) -> InfoHash {
    InfoHash::parse(&format!("{n:040x}")).expect("valid hash")
}

/// The store built as the host builds it, with extra `[store.torbox]` lines.
fn build_store(api_url: &str, extra: &str) -> Arc<dyn StoreProvider> {
    chillproxy_tests::link_plugins();
    let descriptor = registry::stores().unwrap().into_iter().find(|d| d.name == "torbox").unwrap();
    let table: toml::Table = toml::from_str(&format!("api_url = {api_url:?}\ntimeout_ms = 2000\n{extra}")).unwrap();
    (descriptor.build)(&PluginContext::new(&PluginSettings::new("store.torbox", table, Env::default()))).unwrap()
}

async fn setup(extra: &str) -> (FakeTorBox, Running, Arc<dyn StoreProvider>) {
    let (fake, running) = FakeTorBox::start().await;
    fake.add_key(KEY);
    fake.add_key(OTHER_KEY);
    let store = build_store(&running.url(), extra);
    (fake, running, store)
}

fn id_reads(fake: &FakeTorBox) -> usize {
    fake.calls_to(MYLIST).iter().filter(|c| c.query_param("id").is_some()).count()
}

fn list_reads(fake: &FakeTorBox) -> usize {
    fake.calls_to(MYLIST).iter().filter(|c| c.query_param("id").is_none()).count()
}

// ---------------------------------------------------------------------------------------------
// The fake against TorBox's documentation.

async fn raw(method: reqwest::Method, url: String, key: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut request = http().request(method, url);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_fake_answers_as_torboxs_documentation_says() {
    let (fake, running, _) = setup("").await;
    let base = running.url();
    fake.add_cached(hash(1).as_str(), "One", &[("one.mkv", 1)]);
    fake.add_cached(hash(2).as_str(), "Two", &[("two.mkv", 2)]);
    fake.add_cached(hash(3).as_str(), "Three", &[("three.mkv", 3)]);
    let get = reqwest::Method::GET;

    // A bad key: 403 BAD_TOKEN.
    let (status, body) = raw(get.clone(), format!("{base}{USER_ME}"), Some("nope"), None).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("BAD_TOKEN")));
    assert_eq!(body["success"], false);

    // GET checkcached with repeated and comma-separated hash; nothing cached is data: null.
    let url = format!("{base}{CHECKCACHED}?hash={},{}&hash={}&format=list", hash(1), hash(2), hash(3));
    let (status, body) = raw(get.clone(), url, Some(KEY), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().map(Vec::len), Some(3), "{body}");
    let url = format!("{base}{CHECKCACHED}?hash={}&format=list", hash(9));
    let (_, body) = raw(get.clone(), url, Some(KEY), None).await;
    assert_eq!(body["data"], Value::Null);
    assert_eq!(body["success"], true);

    // mylist lists the key's torrents, pages with offset/limit, and (without bypass_cache)
    // answers from a snapshot TorBox refreshes every 600 s.
    let one = fake.add_to_account(KEY, hash(1).as_str());
    fake.add_to_account(OTHER_KEY, hash(2).as_str());
    let (_, body) = raw(get.clone(), format!("{base}{MYLIST}"), Some(KEY), None).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["id"], one);
    fake.add_to_account(KEY, hash(3).as_str());
    let (_, body) = raw(get.clone(), format!("{base}{MYLIST}"), Some(KEY), None).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1, "still the snapshot");
    let (_, body) = raw(get.clone(), format!("{base}{MYLIST}?bypass_cache=true"), Some(KEY), None).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    let (_, body) =
        raw(get.clone(), format!("{base}{MYLIST}?bypass_cache=true&offset=1&limit=5"), Some(KEY), None).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);

    // controltorrent deletes.
    let post = reqwest::Method::POST;
    let (status, _) = raw(
        post.clone(),
        format!("{base}{CONTROLTORRENT}"),
        Some(KEY),
        Some(json!({"torrent_id": one, "operation": "delete"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(fake.torrents_of(KEY).len(), 1);

    // The documented active-limit reply: HTTP 200, success false, error null, numbers in data.
    fake.add_uncached(hash(4).as_str(), "Four", &[("four.mkv", 4)], 100);
    fake.add_uncached(hash(5).as_str(), "Five", &[("five.mkv", 5)], 100);
    fake.add_to_account(KEY, hash(4).as_str());
    fake.set_active_limit(Some(1));
    let form = [("magnet", hash(5).magnet())];
    let response = http().post(format!("{base}{CREATETORRENT}")).bearer_auth(KEY).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!((body["success"].clone(), body["error"].clone()), (json!(false), Value::Null));
    assert_eq!(body["data"], json!({"active_limit": 1, "current_active_downloads": 1}));
    fake.set_active_limit(None);

    // Per-token limits: 429 after the hourly createtorrent budget, for that key only.
    fake.set_limits(Some(Limits { requests_per_minute: 300, creates_per_hour: 2, creates_per_minute: 10 }));
    for n in 10..12 {
        let form = [("magnet", hash(n).magnet())];
        let response = http().post(format!("{base}{CREATETORRENT}")).bearer_auth(KEY).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let form = [("magnet", hash(12).magnet())];
    let response = http().post(format!("{base}{CREATETORRENT}")).bearer_auth(KEY).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_none());
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "Rate limit exceeded: 2 per 1 hour");
    let response =
        http().post(format!("{base}{CREATETORRENT}")).bearer_auth(OTHER_KEY).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 200, "another key has its own budget");
    assert_eq!(fake.rate_limited(), 1);
}

#[tokio::test]
async fn torrents_the_fake_fails_show_the_documented_state() {
    let (fake, running, _) = setup("").await;
    fake.add_failing(hash(1).as_str(), "Dead", &[("dead.mkv", 1)], "error", 1, 0);
    let id = fake.add_to_account(KEY, hash(1).as_str());
    let url = format!("{}{MYLIST}?bypass_cache=true&id={id}", running.url());
    let (_, body) = raw(reqwest::Method::GET, url, Some(KEY), None).await;
    assert_eq!(body["data"]["download_state"], "error");
    assert_eq!(body["data"]["active"], false);
    assert_eq!(body["data"]["download_finished"], false);
}

// ---------------------------------------------------------------------------------------------
// Find before create.

#[tokio::test]
async fn a_torrent_in_the_account_is_found_not_added_and_concurrent_lookups_share_one_list() {
    let (fake, _running, store) = setup("").await;
    let cred = credential(KEY);
    for n in 1..=20 {
        fake.add_cached(hash(n).as_str(), &format!("Movie.{n}"), &[(&format!("movie.{n}.mkv"), 1000 + u64::from(n))]);
        fake.add_to_account(KEY, hash(n).as_str());
    }
    let hashes: Vec<InfoHash> = (1..=20).map(hash).collect();
    let magnets = join_all(hashes.iter().map(|h| store.add_magnet(&cred, h, None))).await;
    for (magnet, h) in magnets.iter().zip(&hashes) {
        let magnet = magnet.as_ref().expect("found");
        assert_eq!((&magnet.hash, magnet.status), (h, MagnetStatus::Downloaded));
        assert_eq!(magnet.files.len(), 1);
    }
    assert_eq!(fake.count(CREATETORRENT), 0);
    assert_eq!(fake.count(MYLIST), 1, "twenty lookups, one list read: {:?}", fake.calls_to(MYLIST));
    let read = &fake.calls_to(MYLIST)[0];
    assert_eq!(read.query_param("bypass_cache").as_deref(), Some("true"), "TorBox's own copy may be 600 s old");

    // A link for a found torrent works as for an added one.
    let link = store.generate_link(&cred, magnets[0].as_ref().unwrap(), &magnets[0].as_ref().unwrap().files[0], None);
    assert!(link.await.expect("link").contains("/cdn/"));
    // The other key's list is its own.
    store.add_magnet(&credential(OTHER_KEY), &hash(1), None).await.expect("added for the other key");
    assert_eq!(fake.count(CREATETORRENT), 1);
    assert_eq!(fake.torrents_of(OTHER_KEY).len(), 1);
}

#[tokio::test]
async fn a_torrent_added_after_torboxs_snapshot_is_still_found() {
    let (fake, running, store) = setup("").await;
    fake.add_cached(hash(1).as_str(), "Old", &[("old.mkv", 1)]);
    fake.add_cached(hash(2).as_str(), "New", &[("new.mkv", 2)]);
    fake.add_to_account(KEY, hash(1).as_str());
    // Someone lists the account without bypass_cache: TorBox keeps that copy for 600 s.
    let url = format!("{}{MYLIST}", running.url());
    raw(reqwest::Method::GET, url, Some(KEY), None).await;
    fake.add_to_account(KEY, hash(2).as_str());

    let magnet = store.add_magnet(&credential(KEY), &hash(2), None).await.expect("found");
    assert_eq!(magnet.status, MagnetStatus::Downloaded);
    assert_eq!(fake.count(CREATETORRENT), 0);
}

#[tokio::test]
async fn the_listing_is_kept_list_ttl_s_and_updated_by_what_the_store_learns() {
    let (fake, _running, store) = setup("list_ttl_s = 1").await;
    let cred = credential(KEY);
    fake.add_cached(hash(1).as_str(), "One", &[("one.mkv", 1)]);
    fake.add_uncached(hash(2).as_str(), "Two", &[("two.mkv", 2)], 1);

    store.add_magnet(&cred, &hash(1), None).await.expect("added");
    assert_eq!((list_reads(&fake), fake.count(CREATETORRENT)), (1, 1));
    // Added by this store: known without another read.
    store.add_magnet(&cred, &hash(1), None).await.expect("found");
    assert_eq!((list_reads(&fake), fake.count(CREATETORRENT)), (1, 1));

    // An unfinished torrent is read again (it is expected to change), by id.
    let added = store.add_magnet(&cred, &hash(2), None).await.expect("added");
    assert_eq!(added.status, MagnetStatus::Queued);
    let polls = id_reads(&fake);
    let again = store.add_magnet(&cred, &hash(2), None).await.expect("found");
    assert_eq!(again.status, MagnetStatus::Downloaded);
    assert_eq!((id_reads(&fake), fake.count(CREATETORRENT), list_reads(&fake)), (polls + 1, 2, 1));

    tokio::time::sleep(Duration::from_millis(1100)).await;
    store.add_magnet(&cred, &hash(1), None).await.expect("found");
    assert_eq!(list_reads(&fake), 2, "read again after list_ttl_s");
}

#[tokio::test]
async fn a_large_account_is_read_in_pages() {
    let (fake, _running, store) = setup("").await;
    for n in 1..=1_100 {
        fake.add_cached(hash(n).as_str(), &format!("T{n}"), &[("t.mkv", 1)]);
        fake.add_to_account(KEY, hash(n).as_str());
    }
    let magnet = store.add_magnet(&credential(KEY), &hash(1_100), None).await.expect("found on the last page");
    assert_eq!(magnet.status, MagnetStatus::Downloaded);
    let offsets: Vec<Option<String>> = fake.calls_to(MYLIST).iter().map(|c| c.query_param("offset")).collect();
    assert_eq!(offsets, [Some("0".to_string()), Some("500".to_string()), Some("1000".to_string())]);
    assert_eq!(fake.count(CREATETORRENT), 0);
}

#[tokio::test]
async fn duplicate_item_takes_the_torrent_already_in_the_account() {
    let (fake, _running, store) = setup("").await;
    let cred = credential(KEY);
    fake.add_cached(hash(1).as_str(), "One", &[("one.mkv", 1)]);
    fake.add_cached(hash(2).as_str(), "Two", &[("two.mkv", 2)]);
    store.add_magnet(&cred, &hash(1), None).await.expect("the listing is read");
    // Added elsewhere (another replica, the user's own app) after the listing was read.
    let id = fake.add_to_account(KEY, hash(2).as_str());
    fake.set_endpoint_fault(
        CREATETORRENT,
        Fault::Error { status: 409, code: "DUPLICATE_ITEM".into(), detail: "This torrent already exists.".into() },
    );
    let magnet = store.add_magnet(&cred, &hash(2), None).await.expect("the existing torrent");
    assert_eq!((magnet.id, magnet.status), (id.to_string(), MagnetStatus::Downloaded));
    assert_eq!(list_reads(&fake), 2, "read again once");
}

// ---------------------------------------------------------------------------------------------
// Budgets.

#[tokio::test]
async fn creates_over_the_hourly_budget_are_not_sent_and_say_so() {
    let (fake, _running, store) = setup("creates_per_hour = 2").await;
    for n in 1..=4 {
        fake.add_cached(hash(n).as_str(), &format!("T{n}"), &[("t.mkv", 1)]);
    }
    let cred = credential(KEY);
    store.add_magnet(&cred, &hash(1), None).await.expect("first");
    store.add_magnet(&cred, &hash(2), None).await.expect("second");
    let calls = fake.calls().len();
    let started = Instant::now();
    let err = store.add_magnet(&cred, &hash(3), None).await.unwrap_err();
    // "At once": without the budget wait (2 s) a call over budget may take.
    assert!(started.elapsed() < Duration::from_millis(1_500), "fails at once: {:?}", started.elapsed());
    match &err {
        StoreError::BudgetExhausted { retry_after: Some(after), message, .. } => {
            assert_eq!(message, "TorBox's hourly limit for new downloads is reached; cached streams still play");
            assert!(*after > Duration::from_secs(3500), "{after:?}");
        }
        other => panic!("expected BudgetExhausted, got {other:?}"),
    }
    assert_eq!(fake.calls().len(), calls, "nothing was sent");
    assert_eq!(fake.count(CREATETORRENT), 2);

    // Torrents in the account still play, and another key has its own budget.
    store.add_magnet(&cred, &hash(1), None).await.expect("already in the account");
    store.add_magnet(&credential(OTHER_KEY), &hash(3), None).await.expect("another key");
    assert_eq!(fake.count(CREATETORRENT), 3);
}

#[tokio::test]
async fn requests_over_the_minute_budget_wait_briefly_then_fail_without_a_call() {
    let (fake, _running, store) = setup("requests_per_minute = 3").await;
    let cred = credential(KEY);
    for _ in 0..3 {
        store.account(&cred).await.expect("within budget");
    }
    let started = Instant::now();
    let err = store.account(&cred).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(1_500), "a minute away: fails at once");
    assert!(matches!(err, StoreError::BudgetExhausted { retry_after: Some(_), .. }), "{err:?}");
    assert_eq!(fake.count(USER_ME), 3);
}

#[tokio::test]
async fn a_429_from_torbox_holds_the_keys_calls_back_for_its_retry_after() {
    let (fake, _running, store) = setup("").await;
    let cred = credential(KEY);
    // A long Retry-After: nothing is sent until it is over; the call fails at once.
    fake.set_fault(Fault::RateLimited { retry_after_secs: 30 });
    let err = store.account(&cred).await.unwrap_err();
    assert!(matches!(err, StoreError::RateLimited { retry_after: Some(_), .. }), "{err:?}");
    fake.set_fault(Fault::None);
    let started = Instant::now();
    let err = store.check_cached(&cred, &[hash(1)]).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(1_500), "fails at once, not after the 2 s budget wait");
    match err {
        StoreError::RateLimited { retry_after: Some(after), .. } => assert_eq!(after, Duration::from_secs(30)),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(fake.calls().len(), 1, "nothing sent while TorBox asked to wait");
    store.account(&credential(OTHER_KEY)).await.expect("other keys are not held back");

    // A short one: the next call waits it out, then goes.
    let (fake, _running, store) = setup("").await;
    fake.set_fault(Fault::RateLimited { retry_after_secs: 1 });
    store.account(&cred).await.unwrap_err();
    fake.set_fault(Fault::None);
    let started = Instant::now();
    store.account(&cred).await.expect("after Retry-After");
    assert!(started.elapsed() >= Duration::from_millis(800), "waited: {:?}", started.elapsed());
    assert_eq!(fake.count(USER_ME), 2);

    // A 429 without Retry-After on createtorrent holds back new downloads only.
    fake.add_cached(hash(2).as_str(), "Two", &[("two.mkv", 2)]);
    fake.add_cached(hash(3).as_str(), "Three", &[("three.mkv", 3)]);
    fake.set_limits(Some(Limits { requests_per_minute: 300, creates_per_hour: 1, creates_per_minute: 10 }));
    store.add_magnet(&cred, &hash(2), None).await.expect("the one create TorBox allows");
    let err = store.add_magnet(&cred, &hash(3), None).await.unwrap_err();
    assert!(matches!(err, StoreError::RateLimited { retry_after: None, .. }), "{err:?}");
    let creates = fake.count(CREATETORRENT);
    let err = store.add_magnet(&cred, &hash(3), None).await.unwrap_err();
    match err {
        StoreError::BudgetExhausted { message, .. } => {
            assert!(message.contains("cached streams still play"), "{message}")
        }
        other => panic!("expected BudgetExhausted, got {other:?}"),
    }
    assert_eq!(fake.count(CREATETORRENT), creates, "not sent again");
    store.add_magnet(&cred, &hash(2), None).await.expect("torrents in the account still play");
    assert_eq!(fake.rate_limited(), 1);
}

// ---------------------------------------------------------------------------------------------
// Real torrent states.

#[tokio::test]
async fn download_states_map_to_statuses_and_failures() {
    let (fake, _running, store) = setup("").await;
    let cred = credential(KEY);
    fake.add_failing(hash(1).as_str(), "Stalled", &[("s.mkv", 1)], "stalled (no seeds)", 5, 0);
    fake.add_failing(hash(2).as_str(), "Broken", &[("b.mkv", 1)], "error", 5, 0);
    fake.add_failing(hash(3).as_str(), "Once", &[("o.mkv", 1)], "error", 1, 0);
    fake.add_failing(hash(4).as_str(), "Paused", &[("p.mkv", 1)], "paused", 1, 0);

    // Stalled without seeds: fails at once, not added again (it would not help).
    let err = store.add_magnet(&cred, &hash(1), None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "TorBox could not download this torrent: no one is seeding it (TorBox reports it stalled)"
    );
    assert_eq!((fake.count(CREATETORRENT), fake.count(CONTROLTORRENT)), (1, 0));

    // An error: deleted and added again once; still failing, it says so.
    let err = store.add_magnet(&cred, &hash(2), None).await.unwrap_err();
    assert!(matches!(err, StoreError::DownloadFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("error") && err.to_string().contains("also after adding it again"), "{err}");
    assert_eq!((fake.count(CREATETORRENT), fake.count(CONTROLTORRENT)), (3, 1));
    // Played again: no second re-add within the hour.
    let err = store.add_magnet(&cred, &hash(2), None).await.unwrap_err();
    assert!(matches!(err, StoreError::DownloadFailed { .. }), "{err:?}");
    assert_eq!((fake.count(CREATETORRENT), fake.count(CONTROLTORRENT)), (3, 1));

    // An error once, or a pause: adding it again helps.
    for (n, name) in [(3, "Once"), (4, "Paused")] {
        let magnet = store.add_magnet(&cred, &hash(n), None).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(magnet.status, MagnetStatus::Downloaded, "{name}");
        assert_eq!(fake.torrents_of(KEY).iter().filter(|t| t.hash == hash(n).as_str()).count(), 1);
    }

    // A torrent that fails while it is polled ends the poll with the failure.
    fake.add_uncached(hash(5).as_str(), "Later", &[("l.mkv", 1)], 5);
    let added = store.add_magnet(&cred, &hash(5), None).await.expect("added");
    let id: u64 = added.id.parse().unwrap();
    fake.state().torrents.iter_mut().find(|t| t.id == id).unwrap().failed = Some("error".into());
    let err = store.get_magnet(&cred, &added.id, None).await.unwrap_err();
    assert!(matches!(err, StoreError::DownloadFailed { .. }), "{err:?}");
}
