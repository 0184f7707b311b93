//! What every end-to-end test needs to talk to the host: an HTTP client that shows redirects
//! instead of following them, a bounded wait for background work, and the ⚠️ streams of a list.

use std::time::{Duration, Instant};

use serde_json::Value;

/// A client that does not follow redirects (playback answers are the 302 itself), with a 30 s
/// bound per request so a stuck server fails the test instead of hanging it.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// Waits until `done()` holds, checking every 10 ms; fails the test after 30 s.
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The descriptions of the warning (⚠️) streams of a stream list.
pub fn warning_descriptions(streams: &[Value]) -> Vec<String> {
    streams
        .iter()
        .filter(|s| s["name"].as_str().is_some_and(|n| n.starts_with("⚠️")))
        .map(|s| s["description"].as_str().unwrap_or_default().to_string())
        .collect()
}
