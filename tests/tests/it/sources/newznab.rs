//! The `newznab` source plugin against fake Newznab indexers over real sockets: caps first, only
//! announced parameters, `imdbid` without `tt`, NZB candidates without the key, manners.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chillproxy_core::registry::PluginContext;
use chillproxy_core::upstream::OutboundPolicy;
use chillproxy_core::{
    registry, Candidate, ContentKind, Env, Found, MediaQuery, NzbIndexer, PluginSettings, Secret, SourceError,
    SourcePlugin, SourceProvider, SourceQuery, UserIndexer,
};
use chillproxy_indexer_protocol::nzb;
use chillproxy_tests::fakes::cinemeta::FakeCinemeta;
use chillproxy_tests::fakes::newznab::{nzb_link, CapsKind, FakeNewznab, LinkForm, Mode, Release};

pub const KEY: &str = "geek-key-0f1e2d3c4b5a";
const OTHER_KEY: &str = "hydra-key-99aa88bb77";
pub const SHAWSHANK: &str = "tt0111161";
const BREAKING_BAD: &str = "tt0903747";

/// The `newznab` plugin from the registry; loopback is admitted for users' indexers (the
/// policy itself is tested elsewhere).
pub fn source_with(timeout_ms: i64, indexers: &[(&str, &str, &str)], meta_url: &str) -> Arc<dyn SourceProvider> {
    chillproxy_tests::link_plugins();
    let plugins = registry::list::<SourcePlugin>().expect("source plugins");
    let descriptor = plugins.iter().find(|d| d.name == "newznab").expect("the newznab plugin is registered");
    let list: Vec<String> = indexers
        .iter()
        .map(|(name, url, key)| format!("{{ name = {name:?}, url = {url:?}, api_key = {key:?} }}"))
        .collect();
    let text = format!("timeout_ms = {timeout_ms}\nmeta_url = {meta_url:?}\nindexers = [{}]", list.join(", "));
    let settings = PluginSettings::new("source.newznab", toml::from_str(&text).unwrap(), Env::default());
    (descriptor.build)(&PluginContext::new(&settings).with_outbound(OutboundPolicy::new(true, &[])))
        .expect("build the newznab source")
}

fn source(timeout_ms: i64, indexers: &[(&str, &str, &str)]) -> Arc<dyn SourceProvider> {
    source_with(timeout_ms, indexers, "http://127.0.0.1:1")
}

pub fn movie(imdb_id: &str) -> MediaQuery {
    MediaQuery::movie(imdb_id)
}

fn episode(imdb_id: &str, season: u32, episode: u32) -> MediaQuery {
    MediaQuery::episode(imdb_id, season, episode)
}

pub async fn search(
    source: &dyn SourceProvider,
    media: &MediaQuery,
    users: &[UserIndexer],
) -> Result<Found, SourceError> {
    source
        .search(&SourceQuery { media, user_indexers: &[], usenet_indexers: users, credential: None, meta: None })
        .await
}

fn titles(found: &Found) -> Vec<String> {
    let mut titles: Vec<String> = found.candidates.iter().map(|c| c.title.clone()).collect();
    titles.sort();
    titles
}

fn upstream_message(result: Result<Found, SourceError>) -> String {
    match result {
        Err(SourceError::Upstream { source_name, message }) => {
            assert_eq!(source_name, "newznab");
            message
        }
        other => panic!("expected Err(Upstream), got {other:?}"),
    }
}

async fn cinemeta() -> FakeCinemeta {
    let meta = FakeCinemeta::start().await;
    meta.add("movie", SHAWSHANK, "The Shawshank Redemption", "1994");
    meta.add("series", BREAKING_BAD, "Breaking Bad", "2008–2013");
    meta
}

#[tokio::test]
async fn caps_are_read_once_and_ids_go_without_tt_with_season_and_episode() {
    let fake = FakeNewznab::start(KEY).await;
    fake.add_releases([
        Release::movie(SHAWSHANK, "The.Shawshank.Redemption.1994.1080p.BluRay.x264-GRP", "g1").size(8_000).grabs(42),
        Release::movie("tt0068646", "The.Godfather.1972.1080p", "g2"),
        Release::episode(BREAKING_BAD, 1, 2, "Breaking.Bad.S01E02.720p.HDTV", "g3"),
        Release::episode(BREAKING_BAD, 1, 3, "Breaking.Bad.S01E03.720p.HDTV", "g4"),
    ]);
    let source = source(5_000, &[("geek", &fake.url(), KEY)]);

    let found = search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();
    assert_eq!(titles(&found), vec!["The.Shawshank.Redemption.1994.1080p.BluRay.x264-GRP"]);
    let candidate = &found.candidates[0];
    assert_eq!(
        (candidate.kind(), candidate.size, candidate.indexer.as_str()),
        (ContentKind::Usenet, Some(8_000), "geek")
    );
    let nzb = candidate.nzb.as_ref().unwrap();
    let link = nzb_link(&fake.url(), KEY, LinkForm::ApiGet, "g1");
    assert_eq!(nzb.hash.as_str(), nzb::identity(&link, None).unwrap().hash);
    assert_eq!(candidate.hash, nzb.hash.key());
    assert!(!nzb.link.contains(KEY), "{}", nzb.link);
    assert_eq!(nzb.unlock(Some(&Secret::new(KEY))).expose(), link);
    assert_eq!(nzb.indexer, NzbIndexer::Operator { source: "newznab".into(), name: "geek".into() });
    assert_eq!(source.nzb_key(&nzb.indexer, &[]).unwrap().expose(), KEY);

    let found = search(&*source, &episode(BREAKING_BAD, 1, 2), &[]).await.unwrap();
    assert_eq!(titles(&found), vec!["Breaking.Bad.S01E02.720p.HDTV"]);
    search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();

    assert_eq!(fake.count_t("caps"), 1, "caps read once: {:?}", fake.calls());
    assert_eq!(fake.calls()[0].t(), Some("caps"), "caps first");
    let searches = fake.searches();
    assert_eq!(searches.len(), 3);
    assert_eq!((searches[0].t(), searches[0].param("imdbid")), (Some("movie"), Some("0111161")));
    let tv = &searches[1];
    assert_eq!(
        (tv.t(), tv.param("imdbid"), tv.param("season"), tv.param("ep")),
        (Some("tvsearch"), Some("0903747"), Some("1"), Some("2"))
    );
    for call in &searches {
        assert_eq!((call.param("apikey"), call.param("extended")), (Some(KEY), Some("1")));
        assert!(call.param("q").is_none(), "no text search where ids are announced: {call:?}");
    }
}

#[tokio::test]
async fn only_announced_parameters_are_sent_and_text_comes_from_the_title_lookup() {
    let meta = cinemeta().await;
    let releases = [
        Release::movie(SHAWSHANK, "The.Shawshank.Redemption.1994.1080p.BluRay", "m1"),
        Release::movie(SHAWSHANK, "Not.The.Shawshank.Redemption.1994.Parody", "m2"),
        Release::episode(BREAKING_BAD, 1, 3, "Breaking.Bad.S01E03.1080p.WEB", "e1"),
    ];
    for caps in [CapsKind::TvWithoutImdb, CapsKind::QueryOnly, CapsKind::NoSupportedParams] {
        let fake = FakeNewznab::start(KEY).await;
        fake.set_caps(caps);
        fake.add_releases(releases.clone());
        let source = source_with(5_000, &[("dog", &fake.url(), KEY)], &meta.url());

        let movie_found = search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();
        let episode_found = search(&*source, &episode(BREAKING_BAD, 1, 3), &[]).await.unwrap();

        // The fake refuses an unannounced parameter with error 203: results mean none was sent.
        assert_eq!(titles(&episode_found), vec!["Breaking.Bad.S01E03.1080p.WEB"], "{caps:?}");
        let tv = fake.searches().into_iter().find(|c| c.t() == Some("tvsearch")).unwrap();
        assert_eq!((tv.param("q"), tv.param("season"), tv.param("ep")), (Some("Breaking Bad"), Some("1"), Some("3")));
        assert!(tv.param("imdbid").is_none(), "{caps:?}: {tv:?}");
        let movie_call = fake.searches().into_iter().find(|c| c.t() != Some("tvsearch")).unwrap();
        if caps == CapsKind::TvWithoutImdb {
            assert_eq!(movie_call.param("imdbid"), Some("0111161"), "movie-search announces imdbid");
            assert_eq!(movie_found.candidates.len(), 2, "an id search is not title-filtered");
        } else {
            assert!(movie_call.param("imdbid").is_none(), "{caps:?}: {movie_call:?}");
            assert_eq!(movie_call.param("q"), Some("The Shawshank Redemption 1994"));
            assert_eq!(titles(&movie_found), vec!["The.Shawshank.Redemption.1994.1080p.BluRay"], "parody filtered out");
        }
        assert_eq!(fake.count_t("caps"), 1);
    }
}

#[tokio::test]
async fn a_refused_key_is_held_back_and_never_shown() {
    let fake = FakeNewznab::start(KEY).await;
    fake.add_release(Release::movie(SHAWSHANK, "The Shawshank Redemption 1994", "g1"));
    let source = source(2_000, &[("geek", &fake.url(), "wrong-key-123456")]);

    let first = upstream_message(search(&*source, &movie(SHAWSHANK), &[]).await);
    assert!(first.contains("geek: Newznab error 100: Incorrect user credentials"), "{first}");
    let calls = fake.call_count();
    assert_eq!(calls, 2, "caps, then the refused search");
    let second = upstream_message(search(&*source, &episode(BREAKING_BAD, 1, 1), &[]).await);
    assert!(second.contains("not asked again for"), "{second}");
    assert_eq!(fake.call_count(), calls, "held back: no call");
    for message in [&first, &second] {
        assert!(!message.contains("wrong-key-123456"), "{message}");
    }

    // Mode::AuthFailure (a suspended account, error 100 whatever the key) the same.
    let suspended = FakeNewznab::start(KEY).await;
    suspended.set_mode(Mode::AuthFailure);
    let hydra = self::source(2_000, &[("hydra", &suspended.url(), KEY)]);
    assert!(upstream_message(search(&*hydra, &movie(SHAWSHANK), &[]).await).contains("Newznab error 100"));
    search(&*hydra, &movie(SHAWSHANK), &[]).await.unwrap_err();
    assert_eq!(suspended.count_t("movie"), 1);
}

#[tokio::test]
async fn limits_are_honoured_for_their_retry_after_and_the_other_indexer_answers() {
    let good = FakeNewznab::start(OTHER_KEY).await;
    good.add_release(Release::movie(SHAWSHANK, "The Shawshank Redemption 1994 2160p", "g1"));
    good.add_release(Release::episode(BREAKING_BAD, 1, 1, "Breaking Bad S01E01", "g2"));
    for (code, retry_after) in [(429, Some(60)), (500, None), (501, None), (910, Some(120))] {
        let limited = FakeNewznab::start(KEY).await;
        limited.set_mode(Mode::Limited { code, retry_after_s: retry_after });
        let source = source(2_000, &[("limited", &limited.url(), KEY), ("good", &good.url(), OTHER_KEY)]);

        let found = search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();
        assert_eq!(titles(&found), vec!["The Shawshank Redemption 1994 2160p"], "{code}");
        let asked = limited.call_count();
        limited.set_mode(Mode::Normal);
        let found = search(&*source, &episode(BREAKING_BAD, 1, 1), &[]).await.unwrap();
        assert_eq!(titles(&found), vec!["Breaking Bad S01E01"]);
        assert_eq!(limited.call_count(), asked, "{code}: no call within the pause");
    }
}

#[tokio::test]
async fn a_slow_indexer_is_dropped_at_the_timeout() {
    let slow = FakeNewznab::start(KEY).await;
    slow.set_mode(Mode::Slow(Duration::from_secs(5)));
    let good = FakeNewznab::start(KEY).await;
    good.add_release(Release::movie(SHAWSHANK, "The Shawshank Redemption 1994", "g1"));
    let source = source(400, &[("slow", &slow.url(), KEY), ("good", &good.url(), KEY)]);

    let started = Instant::now();
    let found = search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();

    assert!(started.elapsed() < Duration::from_millis(2_000), "{:?}", started.elapsed());
    assert_eq!(titles(&found), vec!["The Shawshank Redemption 1994"]);
    assert_eq!(slow.call_count(), 1, "the slow indexer was asked (its caps) once");
}

#[tokio::test]
async fn user_indexers_keep_their_place_and_their_keys() {
    let fake = FakeNewznab::start(KEY).await;
    fake.add_release(Release::movie(SHAWSHANK, "The Shawshank Redemption 1994", "g1"));
    let source = source(2_000, &[]);
    let users = [
        UserIndexer { n: "empty".into(), u: String::new(), ak: None },
        UserIndexer { n: "mine".into(), u: fake.url(), ak: Some(Secret::new(KEY)) },
    ];

    let found = search(&*source, &movie(SHAWSHANK), &users).await.unwrap();

    let candidate = &found.candidates[0];
    assert_eq!(candidate.indexer, "mine");
    let whose = &candidate.nzb.as_ref().unwrap().indexer;
    assert_eq!(*whose, NzbIndexer::User { source: "newznab".into(), index: 1 });
    assert_eq!(source.nzb_key(whose, &users).unwrap().expose(), KEY);
    assert!(!serde_json::to_string(&found.candidates).unwrap().contains(KEY));
    let nothing = search(&*source, &movie(SHAWSHANK), &[]).await.unwrap();
    assert!(nothing.candidates.is_empty() && nothing.notices.is_empty(), "no indexer at all: no search, no fuss");
}

#[tokio::test]
async fn two_users_links_differing_only_in_their_keys_give_one_identity() {
    for form in [LinkForm::ApiGet, LinkForm::Classic, LinkForm::KeyInPath] {
        let fake = FakeNewznab::start(KEY).await;
        fake.set_links(form);
        fake.add_releases([
            Release::movie(SHAWSHANK, "The Shawshank Redemption 1994 1080p", "rel-1"),
            Release::movie(SHAWSHANK, "The Shawshank Redemption 1994 2160p", "rel-2"),
        ]);
        let source = source(2_000, &[]);
        let alice = [UserIndexer { n: "a".into(), u: fake.url(), ak: Some(Secret::new(KEY)) }];
        let bob = [UserIndexer { n: "b".into(), u: fake.url(), ak: Some(Secret::new(OTHER_KEY)) }];

        let of_alice = search(&*source, &movie(SHAWSHANK), &alice).await.unwrap();
        fake.set_api_key(OTHER_KEY);
        let of_bob = search(&*source, &movie(SHAWSHANK), &bob).await.unwrap();

        let hashes = |found: &Found| {
            let mut hashes: Vec<(String, String)> = found
                .candidates
                .iter()
                .map(|c: &Candidate| (c.title.clone(), c.nzb.as_ref().unwrap().hash.to_string()))
                .collect();
            hashes.sort();
            hashes
        };
        assert_eq!(hashes(&of_alice), hashes(&of_bob), "{form:?}");
        assert_eq!(of_alice.candidates.len(), 2);
        assert_ne!(hashes(&of_alice)[0].1, hashes(&of_alice)[1].1, "{form:?}: two releases, two identities");
        for found in [&of_alice, &of_bob] {
            let json = serde_json::to_string(&found.candidates).unwrap();
            assert!(!json.contains(KEY) && !json.contains(OTHER_KEY), "{json}");
        }
    }
}

#[tokio::test]
async fn api_keys_never_reach_errors_or_logs() {
    let logs = chillproxy_tests::logs::capture();
    let wrong = FakeNewznab::start(KEY).await;
    let limited = FakeNewznab::start(KEY).await;
    limited.set_mode(Mode::Limited { code: 429, retry_after_s: Some(30) });
    let broken = FakeNewznab::start(KEY).await;
    broken.set_mode(Mode::ServerError);
    let good = FakeNewznab::start(KEY).await;
    good.add_release(Release::movie(SHAWSHANK, "The Shawshank Redemption 1994", "g1"));
    let indexers = [("wrongkey", wrong.url(), "operator-wrong-key-a1b2c3"), ("limited", limited.url(), KEY)];
    let indexers: Vec<(&str, &str, &str)> = indexers.iter().map(|(n, u, k)| (*n, u.as_str(), *k)).collect();
    let source = source(1_000, &indexers);
    let users = [
        UserIndexer { n: "user-broken".into(), u: broken.url(), ak: Some(Secret::new("user-secret-9e107d")) },
        UserIndexer { n: "user-good".into(), u: good.url(), ak: Some(Secret::new(KEY)) },
    ];

    let found = search(&*source, &movie(SHAWSHANK), &users).await.unwrap();
    let message = upstream_message(search(&*source, &episode(BREAKING_BAD, 1, 1), &users[..1]).await);

    let logs = logs.text();
    let produced = format!("{} {message} {:?}", serde_json::to_string(&found.candidates).unwrap(), found.notices);
    for name in ["wrongkey", "limited", "user-broken"] {
        assert!(logs.contains(name), "the log names {name}: {logs}");
    }
    for secret in [KEY, "operator-wrong-key-a1b2c3", "user-secret-9e107d"] {
        assert!(!logs.contains(secret), "the log leaks {secret}: {logs}");
        assert!(!produced.contains(secret), "a produced value leaks {secret}: {produced}");
    }
    assert!(!logs.contains("apikey=") && !message.contains("apikey="), "no URL in logs or errors");
}

#[tokio::test]
async fn a_users_indexer_on_the_servers_own_network_is_refused_without_a_call() {
    let mine = FakeNewznab::start(KEY).await;
    let operator = FakeNewznab::start(OTHER_KEY).await;
    operator.add_release(Release::movie(SHAWSHANK, "The Shawshank Redemption 1994", "g1"));
    chillproxy_tests::link_plugins();
    let plugins = registry::list::<SourcePlugin>().expect("source plugins");
    let descriptor = plugins.iter().find(|d| d.name == "newznab").unwrap();
    let text = format!("indexers = [{{ name = \"op\", url = {:?}, api_key = {OTHER_KEY:?} }}]", operator.url());
    let settings = PluginSettings::new("source.newznab", toml::from_str(&text).unwrap(), Env::default());
    // The default policy: users' URLs reach public addresses only (the operator's are trusted).
    let source = (descriptor.build)(&PluginContext::new(&settings)).unwrap();
    let users = [UserIndexer { n: "mine".into(), u: mine.url(), ak: Some(Secret::new(KEY)) }];

    let found = search(&*source, &movie(SHAWSHANK), &users).await.unwrap();

    assert_eq!(titles(&found), vec!["The Shawshank Redemption 1994"]);
    assert_eq!(found.notices.len(), 1, "{found:?}");
    assert!(found.notices[0].starts_with("mine was not searched: could not connect"), "{found:?}");
    assert!(!found.notices[0].contains(&mine.url()) && !found.notices[0].contains(KEY), "{found:?}");
    assert_eq!(mine.call_count(), 0);
}

#[tokio::test]
async fn concurrent_first_searches_read_the_caps_once() {
    let fake = FakeNewznab::start(KEY).await;
    fake.set_mode(Mode::Slow(Duration::from_millis(200)));
    let source = source(5_000, &[("geek", &fake.url(), KEY)]);
    let titles: Vec<MediaQuery> = (1..=10).map(|i| movie(&format!("tt{:07}", 1_000_000 + i))).collect();

    let results = futures::future::join_all(titles.iter().map(|m| search(&*source, m, &[]))).await;

    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(fake.count_t("caps"), 1, "one caps read for ten searches: {:?}", fake.calls());
    assert_eq!(fake.count_t("movie"), 10);
}
