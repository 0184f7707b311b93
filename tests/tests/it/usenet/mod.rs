//! Usenet through TorBox (issue 22), end to end: the real host with the `newznab` source
//! against a fake Newznab indexer and the fake TorBox's usenet endpoints, driven over HTTP as
//! Stremio would.

mod lists;
mod plays;
mod replicas;

use chillproxy_indexer_protocol::nzb::identity;
use chillproxy_tests::client::http;
use chillproxy_tests::fakes::newznab::{nzb_link, FakeNewznab, LinkForm, Release};
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

/// The operator's Newznab indexer key (in plugins.toml).
pub const NZB_KEY: &str = "nzbgeek-operator-key-SECRET-6f1e2d3c4b5a";
/// A TorBox key on the Essential plan (no usenet).
pub const ESSENTIAL: &str = "tb-essential-key-SECRET-8a7b6c5d";
/// A second Pro key.
pub const OTHER_PRO: &str = "tb-other-pro-key-SECRET-1b2c3d4e";

/// Usenet releases of the movie: cached on TorBox, and not.
pub const CACHED_TITLE: &str = "The.Shawshank.Redemption.1994.1080p.BluRay.DTS.x264-NZBGRP";
pub const CACHED_GUID: &str = "usenet-guid-aaa";
pub const CACHED_FILE: &str = "The.Shawshank.Redemption.1994.1080p.BluRay.DTS.x264-NZBGRP.mkv";
pub const UNCACHED_TITLE: &str = "The.Shawshank.Redemption.1994.2160p.WEB-DL.DDP5.1.HEVC-NZBUHD";
pub const UNCACHED_GUID: &str = "usenet-guid-bbb";

/// The stack with a fake Newznab indexer as the operator's (`geek`) and the movie's usenet
/// releases on it and on TorBox. `newznab_toml` adds lines to `[source.newznab]`.
pub async fn usenet_stack(mut options: StackOptions, newznab_toml: &str) -> (Stack, FakeNewznab) {
    let newznab = FakeNewznab::start(NZB_KEY).await;
    newznab.add_releases([
        Release::movie(MOVIE, CACHED_TITLE, CACHED_GUID).size(9_100_000_000),
        Release::movie(MOVIE, UNCACHED_TITLE, UNCACHED_GUID).size(21_000_000_000),
    ]);
    options.sources = vec!["torznab", "newznab"];
    options.extra_toml.push_str(&format!(
        "\n[source.newznab]\ntimeout_ms = 1500\nmeta_url = \"http://127.0.0.1:9\"\nindexers = [{{ name = \"geek\", \
         url = \"{}\", api_key = \"{NZB_KEY}\" }}]\n{newznab_toml}\n",
        newznab.url()
    ));
    let stack = Stack::start(options).await;
    stack.torbox.add_key_with_plan(ESSENTIAL, 1);
    stack.torbox.add_key(OTHER_PRO);
    let cached_files: &[(&str, u64)] = &[(CACHED_FILE, 9_000_000_000), ("Sample/sample.mkv", 40_000_000)];
    stack.torbox.add_usenet_cached(&release_hash(&newznab, CACHED_GUID), CACHED_GUID, CACHED_TITLE, cached_files);
    let uncached_files: &[(&str, u64)] = &[("movie.2160p.mkv", 20_000_000_000)];
    stack.torbox.add_usenet_uncached(
        &release_hash(&newznab, UNCACHED_GUID),
        UNCACHED_GUID,
        UNCACHED_TITLE,
        uncached_files,
        2,
    );
    (stack, newznab)
}

/// The usenet hash of a release of the operator's fake indexer: the identity of its link.
pub fn release_hash(newznab: &FakeNewznab, guid: &str) -> String {
    release_hash_with(newznab, guid, NZB_KEY)
}

/// The same for an indexer with another key.
pub fn release_hash_with(newznab: &FakeNewznab, guid: &str, key: &str) -> String {
    let link = nzb_link(newznab.url().trim_end_matches('/'), key, LinkForm::ApiGet, guid);
    identity(&link, Some(key)).expect("an identity").hash
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
