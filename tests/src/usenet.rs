//! Usenet for the test deployment (issue 22): a fake Newznab indexer as the operator's `geek`,
//! two releases of the movie on it, and TorBox's usenet cache knowing one of them, so the stack
//! (end-to-end tests, devstack) lists and plays usenet streams.

use chillproxy_indexer_protocol::nzb::identity;

use crate::fakes::newznab::{nzb_link, FakeNewznab, LinkForm, Release};
use crate::stack::{Stack, StackOptions, MOVIE};

/// The operator's Newznab indexer key (in plugins.toml).
pub const NZB_KEY: &str = "nzbgeek-operator-key-SECRET-6f1e2d3c4b5a";
/// Usenet releases of the movie: cached on TorBox, and not.
pub const CACHED_TITLE: &str = "The.Shawshank.Redemption.1994.1080p.BluRay.DTS.x264-NZBGRP";
pub const CACHED_GUID: &str = "usenet-guid-aaa";
/// How many grabs the indexer reports for the cached release.
pub const CACHED_GRABS: u32 = 321;
pub const CACHED_FILE: &str = "The.Shawshank.Redemption.1994.1080p.BluRay.DTS.x264-NZBGRP.mkv";
pub const UNCACHED_TITLE: &str = "The.Shawshank.Redemption.1994.2160p.WEB-DL.DDP5.1.HEVC-NZBUHD";
pub const UNCACHED_GUID: &str = "usenet-guid-bbb";

/// Starts the fake indexer with the movie's releases and points `options` at it (`newznab` in
/// the source chain, `[source.newznab]` with `newznab_toml` added).
pub async fn with_newznab(options: &mut StackOptions, newznab_toml: &str) -> FakeNewznab {
    let newznab = FakeNewznab::start(NZB_KEY).await;
    newznab.add_releases([
        Release::movie(MOVIE, CACHED_TITLE, CACHED_GUID).size(9_100_000_000).grabs(CACHED_GRABS),
        Release::movie(MOVIE, UNCACHED_TITLE, UNCACHED_GUID).size(21_000_000_000),
    ]);
    if !options.sources.contains(&"newznab") {
        options.sources.push("newznab");
    }
    options.extra_toml.push_str(&format!(
        "\n[source.newznab]\ntimeout_ms = 1500\nmeta_url = \"http://127.0.0.1:9\"\nindexers = [{{ name = \"geek\", \
         url = \"{}\", api_key = \"{NZB_KEY}\" }}]\n{newznab_toml}\n",
        newznab.url()
    ));
    newznab
}

/// TorBox's usenet side of the releases: the 1080p one cached, the 2160p one downloading in
/// `polls` polls.
pub fn seed_torbox_usenet(stack: &Stack, newznab: &FakeNewznab, polls: u32) {
    let cached: &[(&str, u64)] = &[(CACHED_FILE, 9_000_000_000), ("Sample/sample.mkv", 40_000_000)];
    stack.torbox.add_usenet_cached(&release_hash(newznab, CACHED_GUID), CACHED_GUID, CACHED_TITLE, cached);
    let uncached: &[(&str, u64)] = &[("movie.2160p.mkv", 20_000_000_000)];
    let hash = release_hash(newznab, UNCACHED_GUID);
    stack.torbox.add_usenet_uncached(&hash, UNCACHED_GUID, UNCACHED_TITLE, uncached, polls);
}

/// The usenet hash of a release of the operator's fake indexer: the identity of its link.
pub fn release_hash(newznab: &FakeNewznab, guid: &str) -> String {
    release_hash_with(newznab, guid, NZB_KEY)
}

/// The same for an indexer with another key.
pub fn release_hash_with(newznab: &FakeNewznab, guid: &str, key: &str) -> String {
    let link = nzb_link(newznab.url().trim_end_matches('/'), key, LinkForm::ApiGet, guid);
    identity(&link, Some(key)).expect("an http link has an identity").hash
}
