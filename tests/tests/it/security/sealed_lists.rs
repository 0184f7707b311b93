//! One seal per list (issue 25): with `CHILLPROXY_KEYS` set, a stream list's playback URLs share
//! one sealed part (store entry, Stremio id, device binding, expiry) and each stream adds its
//! info hash and file under a tag bound to that part. A stream moved onto another list's part,
//! or any flipped bit, is refused with no upstream call; so is an expired handle, of either form;
//! a single `p1` handle made before still plays until it expires; no secret is in any URL.

use super::assert_hidden;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chillproxy_core::seal::{Keyring, Purpose};
use chillproxy_tests::client::http;
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const LISTING_UA: &str = "Stremio/4.4.168 (Windows)";
const PLAYER_UA: &str = "mpv/0.38";

async fn keyed_stack() -> Stack {
    Stack::start(StackOptions { env: vec![("CHILLPROXY_KEYS", K1.to_string())], ..Default::default() }).await
}

/// The stream list's body and its playback URLs, listed with `user_agent`.
async fn play_urls(stack: &Stack, segment: &str, user_agent: &str) -> (String, Vec<String>) {
    let url = stack.stream_url(segment, "movie", MOVIE);
    let response = http().get(&url).header("user-agent", user_agent).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    chillproxy_tests::stremio_check::check_stream_list(&body).unwrap();
    let urls: Vec<String> = body["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["url"].as_str())
        .filter(|u| u.contains("/_/play/"))
        .map(str::to_string)
        .collect();
    assert!(urls.len() >= 2, "{text}");
    (text, urls)
}

/// A playback URL's handle, and the URL around it.
fn split_url(url: &str) -> (&str, &str, &str) {
    let start = url.find("/_/play/").unwrap() + "/_/play/".len();
    let end = start + url[start..].find('/').unwrap();
    (&url[..start], &url[start..end], &url[end..])
}

/// A list handle's `p1.<kid>.<list part>` and its stream part.
fn split_handle(handle: &str) -> (&str, &str) {
    let (list, stream) = handle.rsplit_once('.').unwrap();
    assert_eq!(list.split('.').count(), 3, "{handle}");
    (list, stream)
}

const SECRETS: [&str; 6] = [TOKEN, USER, USER_INDEXER_KEY, POOL_KEY, INDEXER_KEY, INTERNAL_API_KEY];

fn token_user() -> Value {
    json!({
        "stores": [{"c": "tb", "t": TOKEN}],
        "indexers": [{"n": "mine", "u": "http://127.0.0.1:9/api", "ak": USER_INDEXER_KEY}],
    })
}

fn pool_user() -> Value {
    json!({"stores": [{"c": "tb", "auth": USER}]})
}

/// Everything the upstreams have been asked so far.
fn upstream_calls(stack: &Stack) -> (usize, usize, usize) {
    (stack.torbox.calls().len(), stack.torznab.call_count(), stack.chillstreams.calls().len())
}

/// Plays `url` as the player; the status and the body (for a refusal) or the redirect.
async fn play(url: &str) -> (u16, String) {
    let response = http().get(url).header("user-agent", PLAYER_UA).send().await.unwrap();
    let status = response.status().as_u16();
    let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    let body = response.text().await.unwrap();
    (status, location.unwrap_or(body))
}

/// A list handle made by the test with the server's key: `common` sealed, then `stream` tagged.
fn list_handle(common: &Value, stream: &[u8]) -> String {
    let ring = Keyring::parse(K1).unwrap();
    ring.seal_list(&serde_json::to_vec(common).unwrap()).unwrap().handle(stream).unwrap()
}

#[tokio::test]
async fn a_list_seals_once_and_each_url_plays_without_a_secret_in_it() {
    let logs = chillproxy_tests::logs::capture();
    let stack = keyed_stack().await;
    for config in [token_user(), pool_user()] {
        let (text, urls) = play_urls(&stack, &Stack::config(&config), LISTING_UA).await;
        assert_hidden("the stream list", &text, &SECRETS);
        let lists: std::collections::HashSet<&str> = urls.iter().map(|u| split_handle(split_url(u).1).0).collect();
        assert_eq!(lists.len(), 1, "one sealed part for the whole list (one store): {urls:#?}");
        for (n, url) in urls.iter().enumerate() {
            let (_, handle, _) = split_url(url);
            assert!(handle.starts_with("p1.k1."), "{url}");
            assert!(!url.contains(MOVIE_2160) && !url.contains(MOVIE_1080), "the hash is not in hex: {url}");
            // The first (cached) stream plays; every handle opens (an uncached one is queued).
            let (status, location) = play(url).await;
            if n == 0 {
                assert_eq!(status, 302, "{url}: {location}");
            }
            assert_ne!(status, 400, "{url}: {location}");
            assert_hidden("the redirect", &location, &SECRETS);
        }
    }
    assert_eq!(stack.chillstreams.devices(USER).len(), 1, "list and playback were one device");
    assert_hidden("the logs", &logs.text(), &SECRETS);
}

/// A viewer asking for the same title again within a minute, from the same device and address,
/// gets the list part sealed for them before (one AEAD seal saved per list); another device gets
/// its own. No cache may keep a sealed list past its handles' expiry.
#[tokio::test]
async fn a_list_asked_again_reuses_its_sealed_part_for_that_viewer_only_and_caching_ends_before_the_handles() {
    let stack = keyed_stack().await;
    let segment = Stack::config(&pool_user());
    let (first, mine) = play_urls(&stack, &segment, LISTING_UA).await;
    let (again, _) = play_urls(&stack, &segment, LISTING_UA).await;
    assert_eq!(first, again, "the same list, handles included");
    let (_, other_device) = play_urls(&stack, &segment, "Stremio/4.4.168 (Linux)").await;
    let list_of = |url: &str| split_handle(split_url(url).1).0.to_string();
    assert_ne!(list_of(&mine[0]), list_of(&other_device[0]), "another device gets its own seal");

    let response = http().get(stack.stream_url(&segment, "movie", MOVIE)).send().await.unwrap();
    let cache_control = response.headers()["cache-control"].to_str().unwrap().to_string();
    // Handles live 6 h (21,600 s): 300 s fresh plus at most 21,300 s stale.
    assert_eq!(cache_control, "public, max-age=300, stale-while-revalidate=600, stale-if-error=21300");
}

#[tokio::test]
async fn a_stream_moved_onto_another_lists_part_is_refused_with_no_upstream_call() {
    let stack = keyed_stack().await;
    let ring = Keyring::parse(K1).unwrap();
    let (_, mine) = play_urls(&stack, &Stack::config(&pool_user()), LISTING_UA).await;
    let (prefix, my_handle, name) = split_url(&mine[0]);
    let (_, my_stream) = split_handle(my_handle);
    // Another user, another device (User-Agent), and the same list part resealed with another
    // expiry (the test holds the server's key).
    let (_, other_user) = play_urls(&stack, &Stack::config(&token_user()), LISTING_UA).await;
    let (_, other_device) = play_urls(&stack, &Stack::config(&pool_user()), "Stremio/4.4.168 (Linux)").await;
    let (mut common, stream) = ring.open_list(my_handle).unwrap();
    let mut common: Value = serde_json::from_slice(&std::mem::take(&mut common)).unwrap();
    common["x"] = json!(common["x"].as_u64().unwrap() + 3600);
    let other_expiry = format!("{prefix}{}{name}", list_handle(&common, &stream));

    let before = upstream_calls(&stack);
    for other in [&other_user[0], &other_device[0], &other_expiry] {
        let (_, their_handle, _) = split_url(other);
        let (their_list, _) = split_handle(their_handle);
        assert_ne!(their_list, split_handle(my_handle).0);
        let moved = format!("{prefix}{their_list}.{my_stream}{name}");
        let (status, body) = play(&moved).await;
        assert_eq!(status, 400, "{moved}");
        assert!(body.contains("damaged"), "{body}");
    }
    assert_eq!(upstream_calls(&stack), before, "no upstream call");
    assert_eq!(play(&other_expiry).await.0, 302, "the resealed list part itself is valid");
}

#[tokio::test]
async fn one_flipped_bit_anywhere_is_refused_with_no_upstream_call() {
    let stack = keyed_stack().await;
    let (_, urls) = play_urls(&stack, &Stack::config(&pool_user()), LISTING_UA).await;
    let (prefix, handle, name) = split_url(&urls[0]);
    let parts: Vec<&str> = handle.split('.').collect();
    let mut changed = Vec::new();
    // Each byte of the list part and the stream part (its hash, its file and its tag), one bit
    // each, the bit moving along; and each character of the prefix and the key id.
    for p in [2, 3] {
        let bytes = URL_SAFE_NO_PAD.decode(parts[p]).unwrap();
        for i in 0..bytes.len() {
            let mut bytes = bytes.clone();
            bytes[i] ^= 1 << (i % 8);
            let mut all: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
            all[p] = URL_SAFE_NO_PAD.encode(&bytes);
            changed.push(all.join("."));
        }
    }
    for i in 0..5 {
        let mut bytes = handle.as_bytes().to_vec();
        bytes[i] ^= 0x01;
        changed.push(String::from_utf8(bytes).unwrap());
    }
    assert!(changed.len() > 100);
    let before = upstream_calls(&stack);
    for handle in changed {
        let url = format!("{prefix}{handle}{name}");
        let (status, body) = play(&url).await;
        assert!(status == 400 || status == 404, "{status} {url}: {body}");
    }
    assert_eq!(upstream_calls(&stack), before, "no upstream call");
    let (status, _) = play(&urls[0]).await;
    assert_eq!(status, 302, "the handle itself still plays");
}

#[tokio::test]
async fn an_expired_handle_is_refused_with_no_upstream_call_and_an_old_p1_handle_still_plays() {
    let stack = keyed_stack().await;
    let ring = Keyring::parse(K1).unwrap();
    let (_, urls) = play_urls(&stack, &Stack::config(&pool_user()), LISTING_UA).await;
    let (prefix, handle, name) = split_url(&urls[0]);
    let (common, stream) = ring.open_list(handle).unwrap();
    let common: Value = serde_json::from_slice(&common).unwrap();
    assert!(stream.len() == 20 || stream.len() == 28, "a hash and maybe a file: {}", stream.len());

    // A single `p1` handle, as lists made them before: the same fields with the hash in hex.
    let mut single = common.clone();
    single["h"] = json!(hex(&stream[..20]));
    if stream.len() == 28 {
        single["f"] = json!(u64::from_be_bytes(stream[20..].try_into().unwrap()));
    }
    let old = ring.seal(Purpose::Playback, &serde_json::to_vec(&single).unwrap()).unwrap();
    assert_eq!(old.split('.').count(), 3);
    let (status, location) = play(&format!("{prefix}{old}{name}")).await;
    assert_eq!(status, 302, "{location}");
    assert!(location.contains("/cdn/"), "played from the store's CDN: {location}");
    assert_eq!(stack.chillstreams.devices(USER).len(), 1, "played as the listing device");

    // Past its expiry a handle of either form is refused (410, saying why), and neither
    // the store nor Chillstreams hears of it (the first play's usage report may still arrive).
    let asked = |stack: &Stack| {
        (stack.torbox.calls().len(), stack.torznab.call_count(), stack.chillstreams.get_key_calls().len())
    };
    let before = asked(&stack);
    let mut expired = common.clone();
    expired["x"] = json!(1);
    let mut expired_single = single.clone();
    expired_single["x"] = json!(1);
    let old_expired = ring.seal(Purpose::Playback, &serde_json::to_vec(&expired_single).unwrap()).unwrap();
    for url in [format!("{prefix}{}{name}", list_handle(&expired, &stream)), format!("{prefix}{old_expired}{name}")] {
        let (status, body) = play(&url).await;
        assert_eq!(status, 410, "{url}");
        assert!(body.contains("expired") && body.contains("open the title again"), "{body}");
    }
    assert_eq!(asked(&stack), before, "an expired handle reaches no upstream");
    assert_eq!(stack.chillstreams.devices(USER).len(), 1, "and no device is registered for it");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
