//! Status videos (issue 16): a failed playback answers 302 to a short clip that says what
//! happened, which a video player shows instead of a generic error; the clip route serves
//! `video/mp4` with ranges, HEAD, long caching and CORS.

use chillproxy_tests::client::http;
use chillproxy_tests::fakes::torbox::Fault;
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const PLAYER_UA: &str = "mpv/0.38";

async fn video_stack() -> Stack {
    Stack::start(StackOptions {
        table_settings: vec![("[playback]", "status_videos = true".into())],
        ..Default::default()
    })
    .await
}

async fn urls(stack: &Stack, config: &str) -> Vec<String> {
    let response = http()
        .get(stack.stream_url(config, "movie", MOVIE))
        .header("user-agent", "Stremio/4.4.168 (Windows)")
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    body["streams"].as_array().unwrap().iter().filter_map(|s| s["url"].as_str().map(str::to_string)).collect()
}

fn url_for<'a>(urls: &'a [String], hash: &str) -> &'a str {
    urls.iter().find(|u| u.contains(hash)).unwrap_or_else(|| panic!("no {hash} in {urls:#?}"))
}

/// Plays `url` (GET or HEAD) and returns the clip it redirects to, with the redirect's headers.
async fn clip_of(stack: &Stack, url: &str, method: reqwest::Method) -> (String, reqwest::header::HeaderMap) {
    let response = http().request(method, url).header("user-agent", PLAYER_UA).send().await.unwrap();
    assert_eq!(response.status(), 302, "{url}");
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let prefix = format!("{}/stremio/torz/_/status/", stack.host.url());
    let clip = location.strip_prefix(&prefix).unwrap_or_else(|| panic!("{location}")).to_string();
    (clip, response.headers().clone())
}

#[tokio::test]
async fn each_playback_failure_redirects_to_the_clip_that_says_what_happened() {
    let stack = video_stack().await;
    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));
    let listed = urls(&stack, &config).await;

    // Still downloading when the wait runs out (the 480p torrent never finishes).
    let (clip, headers) = clip_of(&stack, url_for(&listed, MOVIE_480_UNKNOWN), reqwest::Method::GET).await;
    assert_eq!(clip, "downloading.mp4");
    assert_eq!(headers["x-chillproxy-status"], "504");
    assert_eq!(headers["cache-control"], "no-store");

    // TorBox rate limiting: the clip, and Retry-After kept on the redirect.
    stack.torbox.set_fault(Fault::RateLimited { retry_after_secs: 7 });
    let (clip, headers) = clip_of(&stack, url_for(&listed, MOVIE_1080), reqwest::Method::HEAD).await;
    assert_eq!(clip, "rate_limited.mp4");
    assert_eq!(headers["retry-after"], "7");
    stack.torbox.set_fault(Fault::None);

    // A key TorBox rejects: the listed URL is replayed with another token in the config.
    let bad = Stack::config(&json!({"stores": [{"c": "tb", "t": "not-a-torbox-key"}]}));
    let url = url_for(&listed, MOVIE_2160).replace(&config, &bad);
    let (clip, _) = clip_of(&stack, &url, reqwest::Method::GET).await;
    assert_eq!(clip, "api_key_rejected.mp4");

    // A malformed playback URL.
    let broken = url_for(&listed, MOVIE_2160).replace(MOVIE_2160, "nothex");
    let (clip, headers) = clip_of(&stack, &broken, reqwest::Method::GET).await;
    assert_eq!(clip, "not_found.mp4");
    assert_eq!(headers["x-chillproxy-status"], "400");

    // Every redirect points at a clip that exists.
    for name in ["downloading", "rate_limited", "api_key_rejected", "not_found"] {
        let response =
            http().get(format!("{}/stremio/torz/_/status/{name}.mp4", stack.host.url())).send().await.unwrap();
        assert_eq!(response.status(), 200, "{name}");
    }
}

#[tokio::test]
async fn a_device_over_the_limit_sees_the_device_limit_clip() {
    let stack = video_stack().await;
    let config = Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}));
    let listed = urls(&stack, &config).await;
    // Three other devices start playing before this one's player does.
    stack.chillstreams.add_devices(USER, &["tv", "phone", "laptop"]);
    let response = http()
        .get(url_for(&listed, MOVIE_1080))
        .header("user-agent", PLAYER_UA)
        .header("x-forwarded-for", "198.51.100.7")
        .send()
        .await
        .unwrap();
    // From another IP the listing device's binding does not hold: a new device, over the limit.
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.ends_with("/stremio/torz/_/status/device_limit.mp4"), "{location}");
}

#[tokio::test]
async fn clips_are_served_as_video_with_ranges_head_caching_and_cors() {
    let stack = video_stack().await;
    let url = format!("{}/stremio/torz/_/status/device_limit.mp4", stack.host.url());

    let whole = http().get(&url).header("origin", "https://web.stremio.com").send().await.unwrap();
    assert_eq!(whole.status(), 200);
    let headers = whole.headers().clone();
    assert_eq!(headers["content-type"], "video/mp4");
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert!(headers["cache-control"].to_str().unwrap().contains("max-age=31536000"));
    let bytes = whole.bytes().await.unwrap();
    assert_eq!(headers["content-length"].to_str().unwrap(), bytes.len().to_string());
    assert!(bytes.len() < 100 * 1024 && &bytes[4..8] == b"ftyp", "{} bytes", bytes.len());

    let part = http().get(&url).header("range", "bytes=100-199").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], format!("bytes 100-199/{}", bytes.len()).as_str());
    assert_eq!(part.bytes().await.unwrap(), bytes.slice(100..200));
    let tail = http().get(&url).header("range", "bytes=-10").send().await.unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.unwrap(), bytes.slice(bytes.len() - 10..));
    let beyond = http().get(&url).header("range", format!("bytes={}-", bytes.len() + 5)).send().await.unwrap();
    assert_eq!(beyond.status(), 416);
    assert_eq!(beyond.headers()["content-range"], format!("bytes */{}", bytes.len()).as_str());

    let head = http().head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"].to_str().unwrap(), bytes.len().to_string());
    assert!(head.bytes().await.unwrap().is_empty());

    let etag = headers["etag"].to_str().unwrap();
    let again = http().get(&url).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(again.status(), 304);

    let unknown = http().get(format!("{}/stremio/torz/_/status/../secret.mp4", stack.host.url())).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    let unknown = http().get(format!("{}/stremio/torz/_/status/nope.mp4", stack.host.url())).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn a_store_limit_and_an_unavailable_chillstreams_show_their_clips() {
    // One new download an hour for the key: the second uncached torrent is over TorBox's limit.
    let stack = Stack::start(StackOptions {
        table_settings: vec![
            ("[playback]", "status_videos = true".into()),
            ("[store.torbox]", "creates_per_hour = 1".into()),
        ],
        ..Default::default()
    })
    .await;
    let config = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));
    let listed = urls(&stack, &config).await;
    let first = http().get(url_for(&listed, MOVIE_720_UNCACHED)).header("user-agent", PLAYER_UA).send().await.unwrap();
    assert_eq!(first.status(), 302);
    let (clip, headers) = clip_of(&stack, url_for(&listed, MOVIE_480_UNKNOWN), reqwest::Method::GET).await;
    assert_eq!(clip, "store_limit.mp4");
    assert_eq!(headers["x-chillproxy-status"], "429");
    assert!(headers.contains_key("retry-after"));

    // Chillstreams failing for a device it never granted: no stale key to fall back on.
    let pool = Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}));
    let listed = urls(&stack, &pool).await;
    stack.chillstreams.set_mode(chillproxy_tests::fakes::chillstreams::Mode::Error500);
    let response = http()
        .get(url_for(&listed, MOVIE_1080))
        .header("user-agent", PLAYER_UA)
        .header("x-forwarded-for", "198.51.100.9")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.ends_with("/stremio/torz/_/status/unavailable.mp4"), "{location}");
    assert_eq!(response.headers()["x-chillproxy-status"], "503");
}
