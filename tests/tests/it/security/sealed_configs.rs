//! Keys out of URLs (issue 15): with `CHILLPROXY_KEYS` set, configs can be sealed, stream URLs
//! carry a sealed playback handle instead of the config, and nothing a user keeps secret (their
//! TorBox token, their indexer key, their Chillstreams id) reaches a stream list, a redirect or
//! a log line, in clear or base64. Damaged and retired links get a clear ⚠️ and no upstream call.

use super::assert_hidden;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chillproxy_core::seal::{Keyring, Purpose};
use chillproxy_tests::client::{http, warning_descriptions as warnings};
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const K2: &str = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
const K0: &str = "k0:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=";

async fn keyed_stack(keys: &str, server: &str) -> Stack {
    Stack::start(StackOptions {
        env: vec![("CHILLPROXY_KEYS", keys.to_string())],
        server_settings: server.to_string(),
        ..Default::default()
    })
    .await
}

async fn stream_list(stack: &Stack, segment: &str) -> (String, Vec<Value>) {
    let url = stack.stream_url(segment, "movie", MOVIE);
    let response = http().get(&url).header("user-agent", "Stremio/4.4.168 (Windows)").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    chillproxy_tests::stremio_check::check_stream_list(&body).unwrap();
    (text, body["streams"].as_array().cloned().unwrap_or_default())
}

fn user_config() -> Value {
    json!({
        "stores": [{"c": "tb", "t": TOKEN}],
        "indexers": [{"n": "mine", "u": "http://127.0.0.1:9/api", "ak": USER_INDEXER_KEY}],
    })
}

async fn seal_via_page(stack: &Stack, config: &Value) -> String {
    let response = http()
        .post(format!("{}/stremio/torz/configure/seal", stack.host.url()))
        .header("content-type", "application/json")
        .body(config.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["segment"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn plain_and_sealed_configs_list_and_play_without_a_secret_in_any_url_or_log() {
    let logs = chillproxy_tests::logs::capture();
    let stack = keyed_stack(K1, "").await;
    let sealed = seal_via_page(&stack, &user_config()).await;
    assert!(sealed.starts_with("c1.k1."), "{sealed}");
    let pool_user = json!({"stores": [{"c": "tb", "auth": USER}]});
    let segments =
        [Stack::config(&user_config()), sealed, Stack::config(&pool_user), seal_via_page(&stack, &pool_user).await];
    for segment in &segments {
        let (text, streams) = stream_list(&stack, segment).await;
        assert!(streams.iter().filter(|s| s.get("url").is_some()).count() >= 2, "{text}");
        // The user's own indexer is unreachable: its ⚠️ links back to the configure page with
        // the config sealed, never in clear.
        assert_hidden("the stream list", &text, &[TOKEN, USER_INDEXER_KEY, USER]);
        let stream = streams.iter().find(|s| s["url"].as_str().is_some_and(|u| u.contains("/_/play/"))).unwrap();
        let url = stream["url"].as_str().unwrap();
        assert!(url.ends_with(".mkv"), "the URL still ends in the file name: {url}");
        assert!(!url.contains(MOVIE_2160) && !url.contains(MOVIE_1080), "{url}");
        // The player (another User-Agent) plays it as the device that listed it.
        let response = http().get(url).header("user-agent", "mpv/0.38").send().await.unwrap();
        assert_eq!(response.status(), 302, "{url}");
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert_hidden("the redirect", &location, &[TOKEN, USER_INDEXER_KEY, USER]);
    }
    assert_eq!(stack.chillstreams.devices(USER).len(), 1, "list and playback were one device");
    assert_hidden("the logs", &logs.text(), &[TOKEN, USER_INDEXER_KEY, USER]);
}

#[tokio::test]
async fn damaged_and_retired_links_get_a_clear_warning_and_no_upstream_call() {
    let stack = keyed_stack(&format!("{K2},{K1}"), "").await;
    let config = serde_json::to_vec(&user_config()).unwrap();
    let old = Keyring::parse(K1).unwrap().seal(Purpose::Config, &config).unwrap();
    let retired = Keyring::parse(K0).unwrap().seal(Purpose::Config, &config).unwrap();

    // Sealed with the ring's second key: works.
    let (_, streams) = stream_list(&stack, &old).await;
    assert!(streams.iter().any(|s| s.get("url").is_some()), "{streams:#?}");
    let calls = (stack.torbox.calls().len(), stack.torznab.call_count());

    // One bit flipped, and a retired key.
    let mut bytes = URL_SAFE_NO_PAD.decode(old.rsplit('.').next().unwrap()).unwrap();
    bytes[30] ^= 0x04;
    let flipped = format!("c1.k1.{}", URL_SAFE_NO_PAD.encode(&bytes));
    for (segment, wanted) in [(&flipped, "damaged"), (&retired, "no longer valid: configure again")] {
        let (text, streams) = stream_list(&stack, segment).await;
        assert_eq!(streams.len(), 1, "{text}");
        assert!(warnings(&streams)[0].contains(wanted), "{:?}", warnings(&streams));
    }
    assert_eq!((stack.torbox.calls().len(), stack.torznab.call_count()), calls, "no upstream call");
    assert!(stack.chillstreams.calls().is_empty());

    // A playback handle cut short: a 400, no upstream call.
    let (_, streams) = stream_list(&stack, &old).await;
    let url = streams.iter().find_map(|s| s["url"].as_str()).unwrap().to_string();
    let cut = url.replacen("/_/play/p1.k2.", "/_/play/p1.k2.AAAA", 1);
    let before = stack.torbox.calls().len();
    let response = http().get(&cut).header("user-agent", "mpv/0.38").send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("damaged"));
    assert_eq!(stack.torbox.calls().len(), before);
}

#[tokio::test]
async fn with_plain_configs_refused_a_plain_link_names_the_configure_page() {
    let stack = keyed_stack(K1, "accept_plain_config = false").await;
    let (text, streams) = stream_list(&stack, &Stack::config(&user_config())).await;
    assert_eq!(streams.len(), 1, "{text}");
    let warning = &warnings(&streams)[0];
    assert!(warning.contains("only sealed install links") && warning.contains("configure page"), "{warning}");
    assert!(streams[0]["externalUrl"].as_str().unwrap().ends_with("/stremio/torz/configure"), "{text}");
    assert_hidden("the stream list", &text, &[TOKEN, USER_INDEXER_KEY]);
    assert_eq!(stack.torznab.call_count(), 0);

    // The sealed form of the same config works.
    let sealed = seal_via_page(&stack, &user_config()).await;
    let (_, streams) = stream_list(&stack, &sealed).await;
    assert!(streams.iter().any(|s| s.get("url").is_some()));
}
