//! The `torznab` source plugin against fake Torznab indexers over real sockets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chillproxy_core::registry::PluginContext;
use chillproxy_core::upstream::OutboundPolicy;
use chillproxy_core::{
    registry, Candidate, ConfigError, Env, Found, MediaQuery, PluginSettings, Secret, SourceError, SourcePlugin,
    SourceProvider, SourceQuery, UserIndexer,
};
use chillproxy_tests::fakes::cinemeta::FakeCinemeta;
use chillproxy_tests::fakes::closed_port_url;
use chillproxy_tests::fakes::torznab::{torrent_file, CapsKind, FakeTorznab, HashIn, Mode, Release};

const KEY: &str = "jackett-key-7f3a9c";
const OTHER_KEY: &str = "prowlarr-key-51be02";
const SHAWSHANK: &str = "tt0111161";
const BREAKING_BAD: &str = "tt0903747";

fn hash(n: u64) -> String {
    format!("{n:040x}")
}

fn build(table: toml::Table, env: Env) -> Result<Arc<dyn SourceProvider>, ConfigError> {
    chillproxy_tests::link_plugins();
    let plugins = registry::list::<SourcePlugin>().expect("source plugins");
    let descriptor = plugins.iter().find(|d| d.name == "torznab").expect("the torznab plugin is registered");
    // The fakes are on loopback, which users' indexers may not reach by default: these tests
    // are about Torznab, so the outbound policy admits every address (tests/tests/outbound_policy.rs
    // covers the policy).
    let settings = PluginSettings::new("source.torznab", table, env);
    (descriptor.build)(&PluginContext::new(&settings).with_outbound(OutboundPolicy::new(true, &[])))
}

fn indexer(name: &str, url: &str, api_key: &str) -> toml::Table {
    let mut table = toml::Table::new();
    table.insert("name".into(), name.into());
    table.insert("url".into(), url.into());
    table.insert("api_key".into(), api_key.into());
    table
}

fn config(timeout_ms: i64, indexers: Vec<toml::Table>) -> toml::Table {
    let mut table = toml::Table::new();
    table.insert("timeout_ms".into(), timeout_ms.into());
    table.insert("indexers".into(), toml::Value::Array(indexers.into_iter().map(toml::Value::Table).collect()));
    table
}

fn source(timeout_ms: i64, indexers: Vec<toml::Table>) -> Arc<dyn SourceProvider> {
    build(config(timeout_ms, indexers), Env::default()).expect("build the torznab source")
}

fn movie(imdb_id: &str) -> MediaQuery {
    MediaQuery::movie(imdb_id)
}

fn episode(imdb_id: &str, season: u32, episode: u32) -> MediaQuery {
    MediaQuery::episode(imdb_id, season, episode)
}

fn user(n: &str, u: &str, ak: &str) -> UserIndexer {
    UserIndexer { n: n.to_string(), u: u.to_string(), ak: Some(Secret::new(ak)) }
}

async fn search(
    source: &dyn SourceProvider,
    media: &MediaQuery,
    user_indexers: &[UserIndexer],
) -> Result<Vec<Candidate>, SourceError> {
    search_found(source, media, user_indexers).await.map(|found| found.candidates)
}

async fn search_found(
    source: &dyn SourceProvider,
    media: &MediaQuery,
    user_indexers: &[UserIndexer],
) -> Result<Found, SourceError> {
    source.search(&SourceQuery { media, user_indexers, usenet_indexers: &[], credential: None, meta: None }).await
}

fn sorted_hashes(candidates: &[Candidate]) -> Vec<String> {
    let mut hashes: Vec<String> = candidates.iter().map(|c| c.hash.to_string()).collect();
    hashes.sort();
    hashes
}

fn find<'a>(candidates: &'a [Candidate], h: &str) -> &'a Candidate {
    candidates.iter().find(|c| c.hash.as_str() == h).unwrap_or_else(|| panic!("no candidate {h} in {candidates:?}"))
}

fn upstream_message(result: Result<Vec<Candidate>, SourceError>) -> String {
    match result {
        Err(SourceError::Upstream { source_name, message }) => {
            assert_eq!(source_name, "torznab");
            message
        }
        other => panic!("expected Err(Upstream), got {other:?}"),
    }
}

#[tokio::test]
async fn movie_query_returns_candidates_and_sends_t_movie_with_imdbid_and_apikey() {
    let fake = FakeTorznab::start(KEY).await;
    fake.add_release(
        Release::movie(SHAWSHANK, "The Shawshank Redemption 1994 1080p BluRay x264", &hash(1))
            .size(2_147_483_648)
            .seeders(120),
    );
    fake.add_release(
        Release::movie(SHAWSHANK, "The.Shawshank.Redemption.1994.2160p.UHD", &hash(2)).size(9_000_000_000).seeders(7),
    );
    fake.add_release(Release::movie("tt0068646", "The Godfather 1972", &hash(3)));
    fake.add_release(Release::episode(BREAKING_BAD, 1, 1, "Breaking Bad S01E01", &hash(4)));
    let source = source(5_000, vec![indexer("jackett", &fake.torznab_url(), KEY)]);

    let candidates = search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();

    assert_eq!(sorted_hashes(&candidates), vec![hash(1), hash(2)]);
    let best = find(&candidates, &hash(1));
    assert_eq!(best.title, "The Shawshank Redemption 1994 1080p BluRay x264");
    assert_eq!(best.size, Some(2_147_483_648));
    assert_eq!(best.seeders, Some(120));
    assert_eq!(best.indexer, "jackett");
    assert_eq!(find(&candidates, &hash(2)).seeders, Some(7));

    // Caps first (they announce `imdbid`), then one search by id.
    let calls = fake.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].t(), Some("caps"));
    let call = &calls[1];
    assert_eq!(call.path, "/api/v2.0/indexers/all/results/torznab/api");
    assert_eq!(call.indexer_id.as_deref(), Some("all"));
    assert_eq!(call.t(), Some("movie"));
    assert_eq!(call.param("imdbid"), Some(SHAWSHANK));
    assert_eq!(call.param("apikey"), Some(KEY));
    assert_eq!(call.param("season"), None);
    assert_eq!(call.param("ep"), None);
}

#[tokio::test]
async fn episode_query_sends_tvsearch_and_returns_the_episode_and_the_season_pack_only() {
    let fake = FakeTorznab::start(KEY).await;
    fake.add_releases([
        Release::episode(BREAKING_BAD, 1, 2, "Breaking Bad S01E02 720p", &hash(1)).seeders(30),
        Release::episode(BREAKING_BAD, 1, 3, "Breaking Bad S01E03 720p", &hash(2)),
        Release::season_pack(BREAKING_BAD, 1, "Breaking Bad Season 1 Complete 1080p", &hash(3)).seeders(80),
        Release::season_pack(BREAKING_BAD, 2, "Breaking Bad Season 2 Complete", &hash(4)),
        Release::episode(BREAKING_BAD, 2, 2, "Breaking Bad S02E02", &hash(5)),
        Release::episode("tt0000001", 1, 2, "Another Show S01E02", &hash(6)),
    ]);
    let source = source(5_000, vec![indexer("jackett", &fake.torznab_url(), KEY)]);

    let candidates = search(&*source, &episode(BREAKING_BAD, 1, 2), &[]).await.unwrap();

    assert_eq!(sorted_hashes(&candidates), vec![hash(1), hash(3)]);
    assert_eq!(find(&candidates, &hash(3)).title, "Breaking Bad Season 1 Complete 1080p");
    assert_eq!(find(&candidates, &hash(3)).seeders, Some(80));
    let calls = fake.calls();
    assert_eq!(calls.len(), 2, "caps, then the search: {calls:?}");
    assert_eq!(calls[0].t(), Some("caps"));
    assert_eq!(calls[1].t(), Some("tvsearch"));
    assert_eq!(calls[1].param("imdbid"), Some(BREAKING_BAD));
    assert_eq!(calls[1].param("season"), Some("1"));
    assert_eq!(calls[1].param("ep"), Some("2"));
    assert_eq!(calls[1].param("apikey"), Some(KEY));
}

#[tokio::test]
async fn hashes_come_from_magneturl_in_hex_or_base32_and_from_magnet_links() {
    let fake = FakeTorznab::start(KEY).await;
    let base32_hash = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
    fake.add_releases([
        Release::movie(SHAWSHANK, "hex magnet", &hash(0xabc)).hash_in(HashIn::MagnetHex),
        Release::movie(SHAWSHANK, "base32 magnet", base32_hash).hash_in(HashIn::MagnetBase32),
        Release::movie(SHAWSHANK, "magnet link", &hash(0xdef)).hash_in(HashIn::LinkMagnet),
        Release::movie(SHAWSHANK, "torrent file only", &hash(0x123)).hash_in(HashIn::Nowhere),
        Release::movie(SHAWSHANK, "infohash attr", &hash(0x456)),
    ]);
    let source = source(5_000, vec![indexer("jackett", &fake.torznab_url(), KEY)]);

    let candidates = search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();

    let mut got: Vec<(&str, &str)> = candidates.iter().map(|c| (c.title.as_str(), c.hash.as_str())).collect();
    got.sort();
    let (hex, link, attr) = (hash(0xabc), hash(0xdef), hash(0x456));
    let mut want = vec![
        ("hex magnet", hex.as_str()),
        ("base32 magnet", base32_hash),
        ("magnet link", link.as_str()),
        ("infohash attr", attr.as_str()),
    ];
    want.sort();
    assert_eq!(got, want, "the item with only a .torrent link is skipped");
}

#[tokio::test]
async fn duplicates_across_two_indexers_are_merged_keeping_the_most_seeders() {
    let jackett = FakeTorznab::start(KEY).await;
    let prowlarr = FakeTorznab::start(OTHER_KEY).await;
    jackett.add_releases([
        Release::movie(SHAWSHANK, "Shawshank 1080p (jackett)", &hash(1)).seeders(5).size(100),
        Release::movie(SHAWSHANK, "Shawshank 720p", &hash(2)).seeders(40),
    ]);
    prowlarr.add_releases([
        Release::movie(SHAWSHANK, "Shawshank 1080p (prowlarr)", &hash(1)).seeders(50).size(100),
        Release::movie(SHAWSHANK, "Shawshank 720p again", &hash(2)).seeders(3),
        Release::movie(SHAWSHANK, "Shawshank 480p", &hash(3)).seeders(1),
    ]);
    let source = source(
        5_000,
        vec![indexer("jackett", &jackett.torznab_url(), KEY), indexer("prowlarr", &prowlarr.torznab_url(), OTHER_KEY)],
    );

    let candidates = search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();

    assert_eq!(candidates.len(), 3, "{candidates:?}");
    assert_eq!(sorted_hashes(&candidates), vec![hash(1), hash(2), hash(3)]);
    let merged = find(&candidates, &hash(1));
    assert_eq!(
        (merged.seeders, merged.indexer.as_str(), merged.title.as_str()),
        (Some(50), "prowlarr", "Shawshank 1080p (prowlarr)")
    );
    let merged = find(&candidates, &hash(2));
    assert_eq!((merged.seeders, merged.indexer.as_str()), (Some(40), "jackett"));
    assert_eq!(find(&candidates, &hash(3)).indexer, "prowlarr");
    assert_eq!(prowlarr.calls()[0].param("apikey"), Some(OTHER_KEY));
}

#[tokio::test]
async fn a_slow_indexer_is_dropped_at_the_timeout_and_the_other_answers() {
    let slow = FakeTorznab::start(KEY).await;
    let fast = FakeTorznab::start(KEY).await;
    slow.set_mode(Mode::Slow(Duration::from_secs(10)));
    slow.add_release(Release::movie(SHAWSHANK, "slow one", &hash(1)));
    fast.add_release(Release::movie(SHAWSHANK, "fast one", &hash(2)));
    let source =
        source(500, vec![indexer("slow", &slow.torznab_url(), KEY), indexer("fast", &fast.torznab_url(), KEY)]);

    let started = Instant::now();
    let candidates = search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();
    let elapsed = started.elapsed();

    assert!(elapsed < Duration::from_millis(3_000), "took {elapsed:?} with a 500 ms timeout (the slow one takes 10 s)");
    assert_eq!(sorted_hashes(&candidates), vec![hash(2)]);
    assert_eq!(slow.call_count(), 1, "the slow indexer was asked");
}

#[tokio::test]
async fn indexers_are_queried_in_parallel() {
    let a = FakeTorznab::start(KEY).await;
    let b = FakeTorznab::start(KEY).await;
    let c = FakeTorznab::start(KEY).await;
    for (fake, n) in [(&a, 1), (&b, 2), (&c, 3)] {
        fake.set_mode(Mode::Slow(Duration::from_millis(1_000)));
        fake.add_release(Release::movie(SHAWSHANK, "x", &hash(n)));
    }
    let source = source(
        5_000,
        vec![
            indexer("a", &a.torznab_url(), KEY),
            indexer("b", &b.torznab_url(), KEY),
            indexer("c", &c.torznab_url(), KEY),
        ],
    );

    let started = Instant::now();
    let candidates = search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();
    let elapsed = started.elapsed();

    assert_eq!(candidates.len(), 3);
    // One after another would take 3 s; together, 1 s and whatever a busy machine adds.
    assert!(elapsed < Duration::from_millis(2_500), "three 1 s indexers took {elapsed:?}");
}

#[tokio::test]
async fn an_indexer_answering_500_is_dropped_and_the_other_answers() {
    let broken = FakeTorznab::start(KEY).await;
    let good = FakeTorznab::start(KEY).await;
    broken.set_mode(Mode::ServerError);
    broken.add_release(Release::movie(SHAWSHANK, "never seen", &hash(1)));
    good.add_release(Release::movie(SHAWSHANK, "good", &hash(2)));
    let source =
        source(2_000, vec![indexer("broken", &broken.torznab_url(), KEY), indexer("good", &good.torznab_url(), KEY)]);

    let started = Instant::now();
    let candidates = search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();

    assert!(started.elapsed() < Duration::from_millis(3_000));
    assert_eq!(sorted_hashes(&candidates), vec![hash(2)]);
    assert_eq!(candidates[0].indexer, "good");
    assert_eq!(broken.call_count(), 1);
}

#[tokio::test]
async fn every_indexer_down_is_an_upstream_error_naming_each() {
    let broken = FakeTorznab::start(KEY).await;
    broken.set_mode(Mode::ServerError);
    let slow = FakeTorznab::start(KEY).await;
    slow.set_mode(Mode::Slow(Duration::from_secs(10)));
    let source = source(
        300,
        vec![
            indexer("closed", &closed_port_url(), KEY),
            indexer("broken", &broken.torznab_url(), KEY),
            indexer("sleepy", &slow.torznab_url(), KEY),
        ],
    );

    let started = Instant::now();
    let message = upstream_message(search(&*source, &movie(SHAWSHANK), &[]).await);

    assert!(started.elapsed() < Duration::from_millis(3_000), "a 300 ms timeout, not the 10 s indexer");
    assert!(message.contains("closed: could not connect"), "{message}");
    assert!(message.contains("broken: HTTP 500"), "{message}");
    assert!(message.contains("sleepy: timed out after 300 ms"), "{message}");
    assert!(!message.contains(KEY), "{message}");
    assert!(!message.contains("127.0.0.1"), "no URLs in the message: {message}");
}

#[tokio::test]
async fn no_indexers_at_all_is_invalid_input() {
    let source = source(1_000, vec![]);
    match search(&*source, &movie(SHAWSHANK), &[]).await {
        Err(SourceError::InvalidInput { source_name, message }) => {
            assert_eq!(source_name, "torznab");
            assert_eq!(message, "no indexers configured: add a Torznab indexer to your config");
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    // A user entry with no URL is no indexer either.
    let blank = UserIndexer { n: "jackett".to_string(), u: " ".to_string(), ak: None };
    assert!(matches!(search(&*source, &movie(SHAWSHANK), &[blank]).await, Err(SourceError::InvalidInput { .. })));
}

#[tokio::test]
async fn invalid_xml_and_huge_bodies_drop_only_that_indexer() {
    let invalid = FakeTorznab::start(KEY).await;
    invalid.set_mode(Mode::InvalidXml);
    let huge = FakeTorznab::start(KEY).await;
    huge.set_mode(Mode::HugeBody);
    let chunked = FakeTorznab::start(KEY).await;
    chunked.set_mode(Mode::HugeChunkedBody);
    let good = FakeTorznab::start(KEY).await;
    good.add_release(Release::movie(SHAWSHANK, "good", &hash(9)));
    let bad = vec![
        indexer("invalid", &invalid.torznab_url(), KEY),
        indexer("huge", &huge.torznab_url(), KEY),
        indexer("chunked", &chunked.torznab_url(), KEY),
    ];

    let mut with_good = bad.clone();
    with_good.push(indexer("good", &good.torznab_url(), KEY));
    let candidates = search(&*source(5_000, with_good), &movie(SHAWSHANK), &[]).await.unwrap();
    assert_eq!(sorted_hashes(&candidates), vec![hash(9)]);

    let message = upstream_message(search(&*source(5_000, bad), &movie(SHAWSHANK), &[]).await);
    assert!(message.contains("invalid: invalid XML"), "{message}");
    assert!(message.contains("huge: the response is larger than 5 MiB"), "{message}");
    assert!(message.contains("chunked: the response is larger than 5 MiB"), "{message}");
}

#[tokio::test]
async fn a_wrong_api_key_is_that_indexers_error() {
    let fake = FakeTorznab::start(KEY).await;
    fake.add_release(Release::movie(SHAWSHANK, "x", &hash(1)));
    let good = FakeTorznab::start(OTHER_KEY).await;
    good.add_release(Release::movie(SHAWSHANK, "y", &hash(2)));
    let wrong = "wrong-key-d41d8c";

    let only = source(2_000, vec![indexer("jackett", &fake.torznab_url(), wrong)]);
    let message = upstream_message(search(&*only, &movie(SHAWSHANK), &[]).await);
    assert_eq!(message, "the only indexer failed: jackett: Torznab error 100: Invalid API Key");
    assert_eq!(fake.calls()[0].param("apikey"), Some(wrong), "the configured key was sent");

    let both = source(
        2_000,
        vec![indexer("jackett", &fake.torznab_url(), wrong), indexer("prowlarr", &good.torznab_url(), OTHER_KEY)],
    );
    let candidates = search(&*both, &movie(SHAWSHANK), &[]).await.unwrap();
    assert_eq!(sorted_hashes(&candidates), vec![hash(2)]);
}

#[tokio::test]
async fn api_key_env_reads_the_key_and_a_missing_variable_is_a_config_error() {
    let fake = FakeTorznab::start(KEY).await;
    fake.add_release(Release::movie(SHAWSHANK, "x", &hash(1)));
    let mut entry = indexer("prowlarr", &fake.torznab_url(), "");
    entry.remove("api_key");
    entry.insert("api_key_env".into(), "PROWLARR_API_KEY".into());

    let err =
        build(config(1_000, vec![entry.clone()]), Env::from_pairs([("OTHER", KEY)])).err().expect("a ConfigError");
    assert!(err.0.contains("PROWLARR_API_KEY"), "{err}");
    assert!(err.0.contains("not set"), "{err}");
    assert!(!err.0.contains(KEY), "{err}");

    let source = build(config(1_000, vec![entry]), Env::from_pairs([("PROWLARR_API_KEY", KEY)])).unwrap();
    let candidates = search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();
    assert_eq!(sorted_hashes(&candidates), vec![hash(1)]);
    assert_eq!(fake.calls()[0].param("apikey"), Some(KEY));
}

#[tokio::test]
async fn user_indexers_are_queried_with_their_key_and_named_by_n_or_host() {
    let operator = FakeTorznab::start(KEY).await;
    operator.add_release(Release::movie(SHAWSHANK, "operator", &hash(1)));
    let mine = FakeTorznab::start(OTHER_KEY).await;
    mine.add_release(Release::movie(SHAWSHANK, "mine", &hash(2)));
    let source = source(2_000, vec![indexer("house", &operator.torznab_url(), KEY)]);

    let users = [user("my-jackett", &mine.torznab_url(), OTHER_KEY)];
    let candidates = search(&*source, &movie(SHAWSHANK), &users).await.unwrap();
    assert_eq!(find(&candidates, &hash(1)).indexer, "house");
    assert_eq!(find(&candidates, &hash(2)).indexer, "my-jackett");
    assert_eq!(mine.calls()[0].param("apikey"), Some(OTHER_KEY));
    assert_eq!(operator.calls()[0].param("apikey"), Some(KEY), "each indexer gets its own key");

    let no_operator = source_without_indexers();
    let users = [user("", &mine.torznab_url(), OTHER_KEY)];
    let candidates = search(&*no_operator, &movie(SHAWSHANK), &users).await.unwrap();
    assert_eq!(candidates[0].indexer, "127.0.0.1");
}

fn source_without_indexers() -> Arc<dyn SourceProvider> {
    source(2_000, vec![])
}

#[tokio::test]
async fn at_most_five_user_indexers_are_used() {
    let fake = FakeTorznab::start(KEY).await;
    fake.add_release(Release::movie(SHAWSHANK, "x", &hash(1)));
    let users: Vec<UserIndexer> =
        (1..=7).map(|i| user(&format!("user{i}"), &fake.torznab_url_for(&format!("ix{i}")), KEY)).collect();

    let candidates = search(&*source_without_indexers(), &movie(SHAWSHANK), &users).await.unwrap();

    assert_eq!(candidates.len(), 1, "one hash, merged");
    let mut ids: Vec<String> =
        fake.calls().into_iter().filter(|c| c.t() != Some("caps")).filter_map(|c| c.indexer_id).collect();
    ids.sort();
    assert_eq!(ids, vec!["ix1", "ix2", "ix3", "ix4", "ix5"]);
}

#[tokio::test]
async fn a_url_already_ending_in_api_is_not_doubled() {
    let fake = FakeTorznab::start(KEY).await;
    fake.add_release(Release::movie(SHAWSHANK, "x", &hash(1)));
    let url = format!("{}/api", fake.torznab_url_for("yts"));
    let source = source(2_000, vec![indexer("yts", &url, KEY)]);

    let candidates = search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();

    assert_eq!(candidates.len(), 1);
    assert_eq!(fake.calls()[0].path, "/api/v2.0/indexers/yts/results/torznab/api");
}

#[tokio::test]
async fn api_keys_never_reach_errors_or_logs() {
    let logs = chillproxy_tests::logs::capture();
    let user_key = "user-secret-key-9e107d";
    let wrong = FakeTorznab::start(KEY).await;
    let broken = FakeTorznab::start(KEY).await;
    broken.set_mode(Mode::ServerError);
    let slow = FakeTorznab::start(KEY).await;
    slow.set_mode(Mode::Slow(Duration::from_secs(5)));
    let invalid = FakeTorznab::start(KEY).await;
    invalid.set_mode(Mode::InvalidXml);
    let good = FakeTorznab::start(KEY).await;
    good.add_release(Release::movie(SHAWSHANK, "good", &hash(1)));
    let source = source(
        400,
        vec![
            indexer("wrongkey", &wrong.torznab_url(), "operator-wrong-key-a1b2c3"),
            indexer("broken", &broken.torznab_url(), KEY),
            indexer("closed", &closed_port_url(), KEY),
            indexer("sleepy", &slow.torznab_url(), KEY),
            indexer("invalid", &invalid.torznab_url(), KEY),
        ],
    );
    let users = [user("user-broken", &broken.torznab_url(), user_key), user("user-good", &good.torznab_url(), KEY)];

    // Some indexers answer: the failures are logged.
    let candidates = search(&*source, &movie(SHAWSHANK), &users).await.unwrap();
    assert_eq!(sorted_hashes(&candidates), vec![hash(1)]);
    // None answers: the failures are in the error too.
    let users = [user("user-broken", &broken.torznab_url(), user_key)];
    let message = upstream_message(search(&*source, &episode(BREAKING_BAD, 1, 1), &users).await);

    let logs = logs.text();
    for name in ["wrongkey", "broken", "closed", "sleepy", "invalid", "user-broken", "user-good"] {
        assert!(logs.contains(name), "the log names {name}: {logs}");
    }
    for secret in [KEY, "operator-wrong-key-a1b2c3", user_key, "apikey="] {
        assert!(!logs.contains(secret), "the log leaks {secret}: {logs}");
        assert!(!message.contains(secret), "the error leaks {secret}: {message}");
    }
}

#[tokio::test]
async fn the_fake_answers_caps_and_rejects_a_wrong_key_like_jackett() {
    let fake = FakeTorznab::start(KEY).await;
    let client = reqwest::Client::new();
    let get = |query: String| {
        let client = client.clone();
        let url = format!("{}/api?{query}", fake.torznab_url());
        async move {
            let response = client.get(url).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };

    let (status, caps) = get(format!("t=caps&apikey={KEY}")).await;
    assert_eq!(status, 200);
    assert!(caps.contains(r#"<movie-search available="yes" supportedParams="q,imdbid" />"#), "{caps}");
    assert!(caps.contains(r#"<tv-search available="yes" supportedParams="q,season,ep,imdbid" />"#), "{caps}");

    let (status, body) = get("t=movie&imdbid=tt0111161&apikey=nope".to_string()).await;
    assert_eq!(status, 200);
    assert!(body.contains(r#"<error code="100" description="Invalid API Key" />"#), "{body}");
    let (_, body) = get("t=movie&imdbid=tt0111161".to_string()).await;
    assert!(body.contains(r#"code="100""#), "{body}");

    fake.add_release(Release::movie(SHAWSHANK, "A & B <1080p>", &hash(1)));
    let (_, feed) = get(format!("t=movie&imdbid=tt0111161&apikey={KEY}")).await;
    assert!(feed.contains(r#"xmlns:torznab="http://torznab.com/schemas/2015/feed""#), "{feed}");
    assert!(feed.contains("<title>A &amp; B &lt;1080p&gt;</title>"), "{feed}");
    assert!(feed.contains(r#"type="application/x-bittorrent""#), "{feed}");
    assert!(feed.contains(&format!(r#"<torznab:attr name="infohash" value="{}" />"#, hash(1))), "{feed}");

    assert_eq!(fake.count_t("caps"), 1);
    assert_eq!(fake.count_t("movie"), 3);
    assert_eq!(fake.call_count(), 4);
}

/// A source whose title lookups go to `cinemeta`.
fn source_with_meta(timeout_ms: i64, indexers: Vec<toml::Table>, meta_url: &str) -> Arc<dyn SourceProvider> {
    let mut table = config(timeout_ms, indexers);
    table.insert("meta_url".into(), meta_url.into());
    build(table, Env::default()).expect("build the torznab source")
}

async fn cinemeta() -> FakeCinemeta {
    let meta = FakeCinemeta::start().await;
    meta.add("movie", SHAWSHANK, "The Shawshank Redemption", "1994");
    meta.add("series", BREAKING_BAD, "Breaking Bad", "2008–2013");
    meta
}

#[tokio::test]
async fn a_q_only_indexer_is_searched_by_title_and_unrelated_titles_are_filtered_out() {
    let meta = cinemeta().await;
    let tpb = FakeTorznab::start(KEY).await;
    tpb.set_caps(CapsKind::QueryOnly);
    tpb.add_releases([
        Release::movie(SHAWSHANK, "The.Shawshank.Redemption.1994.1080p.BluRay.x264", &hash(1)),
        Release::movie(SHAWSHANK, "Not The Shawshank Redemption 1994 Parody", &hash(2)),
        Release::episode(BREAKING_BAD, 1, 3, "Breaking.Bad.S01E03.720p.HDTV", &hash(3)),
        Release::season_pack(BREAKING_BAD, 1, "Breaking Bad S01 Complete 1080p", &hash(4)),
        Release::episode("tt9999999", 1, 3, "Breaking Bad Habits S01E03", &hash(5)),
    ]);
    let yts = FakeTorznab::start(OTHER_KEY).await;
    yts.add_release(Release::movie(SHAWSHANK, "The Shawshank Redemption 1994 2160p", &hash(6)));
    let source = source_with_meta(
        2_000,
        vec![
            indexer("tpb", &tpb.torznab_url_for("thepiratebay"), KEY),
            indexer("yts", &yts.torznab_url_for("yts"), OTHER_KEY),
        ],
        &meta.url(),
    );

    let movie_found = search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();
    assert_eq!(sorted_hashes(&movie_found), vec![hash(1), hash(6)], "the parody is filtered out");
    let episode_found = search(&*source, &episode(BREAKING_BAD, 1, 3), &[]).await.unwrap();
    assert_eq!(sorted_hashes(&episode_found), vec![hash(3), hash(4)], "episode and season pack, not Habits");

    // The q-only tracker: its caps, then text searches only; caps are kept.
    let texts: Vec<(String, Option<String>, Option<String>)> = tpb
        .calls()
        .iter()
        .filter(|c| c.param("q").is_some())
        .map(|c| {
            (
                c.param("q").unwrap().to_string(),
                c.param("season").map(str::to_string),
                c.param("ep").map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        texts,
        vec![
            ("The Shawshank Redemption 1994".to_string(), None, None),
            ("Breaking Bad".to_string(), Some("1".to_string()), Some("3".to_string())),
        ]
    );
    assert_eq!(tpb.count_t("caps"), 1, "caps are read once and kept");
    assert_eq!(tpb.calls().iter().filter(|c| c.param("imdbid").is_some()).count(), 0, "never an id search");
    // The imdbid-capable indexer is still searched by id, and never by text.
    assert!(yts.calls().iter().all(|c| c.param("q").is_none()), "{:?}", yts.calls());
    assert_eq!(yts.calls().iter().filter(|c| c.param("imdbid") == Some(SHAWSHANK)).count(), 1);
    // One title lookup per title.
    assert_eq!(
        meta.calls(),
        vec![format!("/meta/movie/{SHAWSHANK}.json"), format!("/meta/series/{BREAKING_BAD}.json")]
    );
}

#[tokio::test]
async fn a_203_refusal_of_an_id_search_rereads_the_caps_and_falls_back_to_text() {
    let meta = cinemeta().await;
    let fake = FakeTorznab::start(KEY).await;
    fake.set_caps(CapsKind::StaleImdbId);
    fake.add_releases([
        Release::movie(SHAWSHANK, "The.Shawshank.Redemption.1994.1080p.BluRay.x264", &hash(1)),
        Release::movie(SHAWSHANK, "Not The Shawshank Redemption 1994 Parody", &hash(2)),
    ]);
    let source = source_with_meta(2_000, vec![indexer("stale", &fake.torznab_url(), KEY)], &meta.url());

    let found = search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();

    assert_eq!(sorted_hashes(&found), vec![hash(1)], "the text search's result, the parody filtered out");
    let ts: Vec<(Option<String>, bool)> =
        fake.calls().iter().map(|c| (c.t().map(str::to_string), c.param("imdbid").is_some())).collect();
    let t = |t: &str, id: bool| (Some(t.to_string()), id);
    assert_eq!(ts, vec![t("caps", false), t("movie", true), t("caps", false), t("movie", false)]);
    assert_eq!(fake.calls()[3].param("q"), Some("The Shawshank Redemption 1994"));

    // The next search goes to text at once: no id search, no caps.
    fake.clear_calls();
    let found = search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();
    assert_eq!(sorted_hashes(&found), vec![hash(1)]);
    let calls = fake.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].param("imdbid").is_none() && calls[0].param("q").is_some(), "{calls:?}");
}

#[tokio::test]
async fn a_q_only_indexer_is_never_sent_an_imdbid() {
    let meta = cinemeta().await;
    let tpb = FakeTorznab::start(KEY).await;
    tpb.set_caps(CapsKind::QueryOnly);
    tpb.add_release(Release::movie(SHAWSHANK, "The Shawshank Redemption 1994 1080p", &hash(1)));
    let source = source_with_meta(2_000, vec![indexer("tpb", &tpb.torznab_url(), KEY)], &meta.url());

    for _ in 0..2 {
        assert_eq!(sorted_hashes(&search(&*source, &movie(SHAWSHANK), &[]).await.unwrap()), vec![hash(1)]);
        search(&*source, &episode(BREAKING_BAD, 1, 3), &[]).await.unwrap();
    }

    let calls = tpb.calls();
    assert!(calls.iter().all(|c| c.param("imdbid").is_none()), "{calls:?}");
    assert_eq!(tpb.count_t("caps"), 1);
    assert_eq!(calls.len(), 5, "caps, then four text searches: {calls:?}");
}

#[tokio::test]
async fn a_q_only_indexer_is_skipped_with_a_notice_when_the_metadata_addon_is_down() {
    let meta = cinemeta().await;
    meta.set_down(true);
    let tpb = FakeTorznab::start(KEY).await;
    tpb.set_caps(CapsKind::QueryOnly);
    tpb.add_release(Release::movie(SHAWSHANK, "The Shawshank Redemption 1994 1080p", &hash(1)));
    let yts = FakeTorznab::start(KEY).await;
    yts.add_release(Release::movie(SHAWSHANK, "The Shawshank Redemption 1994 2160p", &hash(2)));
    let source = source_with_meta(
        2_000,
        vec![indexer("tpb", &tpb.torznab_url(), KEY), indexer("yts", &yts.torznab_url(), KEY)],
        &meta.url(),
    );

    let found = search_found(&*source, &movie(SHAWSHANK), &[]).await.unwrap();

    assert_eq!(sorted_hashes(&found.candidates), vec![hash(2)]);
    assert_eq!(found.notices.len(), 1, "{found:?}");
    assert!(found.notices[0].starts_with("tpb was skipped: it searches by title only"), "{found:?}");
    assert!(found.notices[0].contains("HTTP 503"), "{found:?}");
    assert!(tpb.calls().iter().all(|c| c.param("q").is_none()), "no text search without a title");
}

#[tokio::test]
async fn torrent_only_items_give_their_hash_through_the_file_or_a_magnet_redirect() {
    let fake = FakeTorznab::start(KEY).await;
    let file = Release::movie(SHAWSHANK, "Shawshank private 1080p", &hash(0)).hash_in(HashIn::TorrentFile);
    fake.add_releases([
        file.clone(),
        Release::movie(SHAWSHANK, "Shawshank redirect", &hash(7)).hash_in(HashIn::MagnetRedirect),
        Release::movie(SHAWSHANK, "Shawshank broken", &hash(8)).hash_in(HashIn::BrokenTorrent),
        Release::movie(SHAWSHANK, "Shawshank huge", &hash(9)).hash_in(HashIn::HugeTorrent),
        Release::movie(SHAWSHANK, "Shawshank dead link", &hash(10)).hash_in(HashIn::Nowhere),
    ]);
    assert_eq!(file.info_hash, torrent_file("Shawshank private 1080p").1);
    let source = source(5_000, vec![indexer("private", &fake.torznab_url(), KEY)]);

    let found = search_found(&*source, &movie(SHAWSHANK), &[]).await.unwrap();

    assert_eq!(sorted_hashes(&found.candidates), {
        let mut want = vec![file.info_hash.clone(), hash(7)];
        want.sort();
        want
    });
    assert_eq!(find(&found.candidates, &file.info_hash).title, "Shawshank private 1080p");
    assert!(found.notices.is_empty(), "some items were usable: {found:?}");
    assert_eq!(fake.downloads().len(), 5, "each link read once: {:?}", fake.downloads());

    // A second search reads no link again: hashes (and failures) are kept per link.
    search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();
    assert_eq!(fake.downloads().len(), 5);
}

#[tokio::test]
async fn an_indexer_whose_items_are_all_unusable_gives_a_notice() {
    let fake = FakeTorznab::start(KEY).await;
    fake.add_releases([
        Release::movie(SHAWSHANK, "one", &hash(1)).hash_in(HashIn::BrokenTorrent),
        Release::movie(SHAWSHANK, "two", &hash(2)).hash_in(HashIn::Nowhere),
    ]);
    let source = source(5_000, vec![indexer("btn", &fake.torznab_url(), KEY)]);

    let found = search_found(&*source, &movie(SHAWSHANK), &[]).await.unwrap();

    assert!(found.candidates.is_empty());
    assert_eq!(
        found.notices,
        vec!["btn returned 2 results, but none could be used: 2 had no info hash and their .torrent links could not be read."]
    );
}

#[tokio::test]
async fn a_429_with_retry_after_pauses_that_indexer_only() {
    let throttled = FakeTorznab::start(KEY).await;
    throttled.set_mode(Mode::Throttled(60));
    let good = FakeTorznab::start(KEY).await;
    good.add_release(Release::movie(SHAWSHANK, "good", &hash(1)));
    good.add_release(Release::episode(BREAKING_BAD, 1, 1, "Breaking Bad S01E01", &hash(2)));
    let source = source(
        2_000,
        vec![indexer("throttled", &throttled.torznab_url(), KEY), indexer("good", &good.torznab_url(), KEY)],
    );

    assert_eq!(sorted_hashes(&search(&*source, &movie(SHAWSHANK), &[]).await.unwrap()), vec![hash(1)]);
    assert_eq!(throttled.call_count(), 1);
    throttled.set_mode(Mode::Normal);
    // Another title, seconds later: the throttled indexer is not asked; the other still answers.
    let found = search(&*source, &episode(BREAKING_BAD, 1, 1), &[]).await.unwrap();
    assert_eq!(sorted_hashes(&found), vec![hash(2)]);
    assert_eq!(throttled.call_count(), 1, "no call within Retry-After");
    assert_eq!(good.call_count(), 3, "caps once, two searches");

    // Alone, the paused indexer's reason is the error.
    let only = source_with_meta(2_000, vec![indexer("throttled", &throttled.torznab_url(), KEY)], "http://127.0.0.1:1");
    throttled.set_mode(Mode::Throttled(60));
    let _ = search(&*only, &movie(SHAWSHANK), &[]).await;
    let message = upstream_message(search(&*only, &movie(SHAWSHANK), &[]).await);
    assert!(message.contains("Torznab error 900") && message.contains("not asked again for"), "{message}");
    assert_eq!(throttled.call_count(), 2);
}

/// Every captured reply in `tests/fixtures/torznab/`, served as an indexer's answer with its
/// links pointed at the fake (which serves a real `.torrent` for each): items that carry a hash
/// give it, items that only have a `.torrent` give the file's, an error document is an error.
#[tokio::test]
async fn real_torznab_and_rss_replies_yield_their_hashes() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/torznab");
    // (file, hashes from the feed itself, items recovered through their .torrent link)
    let cases: &[(&str, &[&str], usize)] = &[
        ("sonarr_torznab_tpb.xml", &["9fb267cff5ae5603f07a347676ec3bf3e35f75e1"], 0),
        ("sonarr_rss_showrss.xml", &["96cd620beda3efd7c4d7746ef94549d03a2eb13b"], 0),
        ("sonarr_rss_ezrss.xml", &["20fc4fbfa88272274ac671f857cc15144e9aa83e"], 0),
        ("nzbhydra2_btnJackettResponse.xml", &[], 3),
        ("nzbhydra2_cardigann.xml", &[], 2),
        // Anonymised: both items carry the same "(removed)" link, so one file, one hash.
        ("prowlarr_torznab_morethantv.xml", &[], 1),
        ("jackett_resources_test.xml", &[], 0),
        ("sonarr_torznab_hdaccess_net.xml", &[], 0),
        ("sonarr_torznab_animetosho.xml", &[], 0),
        ("nzbhydra2_animetosho_direct.xml", &[], 0),
        // Two items: one .torrent link; "DAYS - 05" lists its .nzb first and its .torrent
        // second, and keeps the torrent.
        ("sonarr_rss_animetosho_nosize.xml", &[], 2),
        // The hash is only in the itorrents.org link: read through it.
        ("sonarr_rss_limetorrents.xml", &[], 5),
        ("sonarr_rss_nyaa2021.xml", &[], 0),
    ];
    for (file, known, through_links) in cases {
        let body = std::fs::read_to_string(dir.join(file)).unwrap();
        let fake = FakeTorznab::start(KEY).await;
        fake.set_mode(Mode::Fixture(point_links_at(&body, &fake.base_url())));
        let source = source(5_000, vec![indexer("fixture", &fake.torznab_url(), KEY)]);
        let found = search_found(&*source, &movie(SHAWSHANK), &[]).await.unwrap();
        let hashes = sorted_hashes(&found.candidates);
        for hash in *known {
            assert!(hashes.contains(&hash.to_string()), "{file}: {hash} missing from {hashes:?}");
        }
        let from_links: Vec<String> =
            fake.downloads().iter().map(|path| torrent_file(path).1).filter(|h| hashes.contains(h)).collect();
        assert_eq!(from_links.len(), *through_links, "{file}: {:?} / {hashes:?}", fake.downloads());
        println!("{file}: {} candidates, {} through .torrent links", hashes.len(), from_links.len());
    }
    // The error document: a clear error, no panic.
    let body = std::fs::read_to_string(dir.join("sonarr_newznab_unauthorized.xml")).unwrap();
    let fake = FakeTorznab::start(KEY).await;
    fake.set_mode(Mode::Fixture(body));
    let source = source(5_000, vec![indexer("fixture", &fake.torznab_url(), KEY)]);
    let message = upstream_message(search(&*source, &movie(SHAWSHANK), &[]).await);
    assert!(message.contains("fixture: Torznab error 100"), "{message}");
}

/// Every http(s) URL's scheme and host replaced by `base` (paths and queries kept).
fn point_links_at(body: &str, base: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(at) = rest.find("http") {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let scheme_len = if from.starts_with("https://") {
            8
        } else if from.starts_with("http://") {
            7
        } else {
            out.push_str("http");
            rest = &from[4..];
            continue;
        };
        let after_scheme = &from[scheme_len..];
        let host_end = after_scheme.find(['/', '"', '<', '\'', ' ', '\n']).unwrap_or(after_scheme.len());
        out.push_str(base);
        if !after_scheme[host_end..].starts_with('/') {
            out.push('/');
        }
        rest = &after_scheme[host_end..];
    }
    out.push_str(rest);
    out
}
