//! Usenet through TorBox (issue 22), end to end: the real host with the `newznab` source
//! against a fake Newznab indexer and the fake TorBox's usenet endpoints, driven over HTTP as
//! Stremio would.

mod lists;
mod plays;
mod replicas;

use chillproxy_tests::client::http;
pub use chillproxy_tests::fakes::newznab::{nzb_link, FakeNewznab, LinkForm};
use chillproxy_tests::stack::*;
pub use chillproxy_tests::usenet::*;
use serde_json::{json, Value};

/// A TorBox key on the Essential plan (no usenet).
pub const ESSENTIAL: &str = "tb-essential-key-SECRET-8a7b6c5d";
/// A second Pro key.
pub const OTHER_PRO: &str = "tb-other-pro-key-SECRET-1b2c3d4e";

/// The stack with a fake Newznab indexer as the operator's (`geek`) and the movie's usenet
/// releases on it and on TorBox. `newznab_toml` adds lines to `[source.newznab]`.
pub async fn usenet_stack(mut options: StackOptions, newznab_toml: &str) -> (Stack, FakeNewznab) {
    let newznab = with_newznab(&mut options, newznab_toml).await;
    let stack = Stack::start(options).await;
    stack.torbox.add_key_with_plan(ESSENTIAL, 1);
    stack.torbox.add_key(OTHER_PRO);
    seed_torbox_usenet(&stack, &newznab, 2);
    (stack, newznab)
}

pub fn token_config(token: &str) -> String {
    Stack::config(&json!({"stores": [{"c": "tb", "t": token}]}))
}

pub async fn streams(url: &str) -> Vec<Value> {
    let response = http().get(url).header("user-agent", "Stremio/4.4.168 (Windows)").send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let body: Value = response.json().await.unwrap();
    chillproxy_tests::stremio_check::check_stream_list(&body).unwrap_or_else(|e| panic!("{url}: {e}"));
    body["streams"].as_array().cloned().unwrap_or_default()
}

pub fn names(streams: &[Value]) -> Vec<String> {
    streams.iter().map(|s| s["name"].as_str().unwrap_or_default().replace('\n', " ")).collect()
}

/// The stream whose URL names the usenet hash.
pub fn usenet_stream<'a>(streams: &'a [Value], hash: &str) -> Option<&'a Value> {
    streams.iter().find(|s| s["url"].as_str().is_some_and(|u| u.contains(&format!("usenet-{hash}"))))
}

pub async fn play(url: &str) -> reqwest::Response {
    http().get(url).header("user-agent", "mpv/0.38").send().await.unwrap()
}
