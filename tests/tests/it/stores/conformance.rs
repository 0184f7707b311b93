//! Every store plugin runs the store conformance suite (chillproxy-conformance). A new store
//! plugin adds one entry to [`fixtures`]; a registered store without one fails
//! `every_registered_store_has_a_fixture`. What a store must pass follows its capabilities: a
//! stub must say "not implemented" for every case, any other store must pass them all.

use std::sync::Arc;

use chillproxy_conformance::{run_store_suite, run_usenet_suite, StoreFixture, UsenetFixture};
use chillproxy_core::registry::{self, PluginContext};
use chillproxy_core::{Credential, Env, InfoHash, PluginSettings, Secret, StoreProvider, UsenetHash};
use chillproxy_tests::fakes::alldebrid::FakeAllDebrid;
use chillproxy_tests::fakes::premiumize::FakePremiumize;
use chillproxy_tests::fakes::realdebrid::FakeRealDebrid;
use chillproxy_tests::fakes::torbox::FakeTorBox;
use chillproxy_tests::fakes::Running;
use futures::future::BoxFuture;
use futures::FutureExt;

const GOOD: &str = "conformance-good-key";
const BAD: &str = "conformance-bad-key";

/// A store's fixture: the store pointed at its fake, and the fake's server (kept running).
type Fixture = (StoreFixture, Option<Running>);

/// Sets up one store's fixture.
type Setup = fn() -> BoxFuture<'static, Fixture>;

/// One line per store plugin: its registry name and how to set up its fixture.
fn fixtures() -> Vec<(&'static str, Setup)> {
    vec![
        ("torbox", || torbox().boxed()),
        ("realdebrid", || realdebrid().boxed()),
        ("alldebrid", || alldebrid().boxed()),
        ("premiumize", || premiumize().boxed()),
        // New store plugins: one line above this comment.
    ]
}

fn hash(c: char) -> InfoHash {
    InfoHash::parse(&c.to_string().repeat(40)).unwrap()
}

/// Builds a store plugin the way the host does, from its registry descriptor and a table.
fn build(name: &str, table: &str) -> Arc<dyn StoreProvider> {
    chillproxy_tests::link_plugins();
    let descriptor = registry::stores().unwrap().into_iter().find(|d| d.name == name).unwrap();
    let table: toml::Table = toml::from_str(table).unwrap();
    let settings = PluginSettings::new(format!("store.{name}"), table, Env::default());
    (descriptor.build)(&PluginContext::new(&settings)).unwrap()
}

fn fixture(store: Arc<dyn StoreProvider>) -> StoreFixture {
    StoreFixture {
        store,
        valid: Credential::new(Secret::new(GOOD), "token"),
        invalid: Credential::new(Secret::new(BAD), "token"),
        cached: vec![hash('a'), hash('b')],
        unknown: hash('c'),
    }
}

async fn torbox() -> Fixture {
    let (fake, running) = FakeTorBox::start().await;
    fake.add_key(GOOD);
    fake.add_cached(&hash('a').to_string(), "Movie.2020.1080p", &[("Movie.2020.1080p.mkv", 4_000_000_000)]);
    fake.add_cached(
        &hash('b').to_string(),
        "Show.S01.720p",
        &[("Show.S01E01.720p.mkv", 900_000_000), ("Show.S01E02.720p.mkv", 910_000_000)],
    );
    (fixture(build("torbox", &format!("api_url = {:?}", running.url()))), Some(running))
}

const MOVIE: (&str, &[(&str, u64)]) = ("Movie.2020.1080p.REMUX", &[("Movie.2020.1080p.REMUX.mkv", 4_000_000_000)]);
const SHOW: (&str, &[(&str, u64)]) =
    ("Show.S01.720p.HDTV", &[("Show.S01E01.720p.mkv", 900_000_000), ("Show.S01E02.720p.mkv", 910_000_000)]);

/// RealDebrid has no cache check: "cached" is what the valid token's library holds downloaded.
async fn realdebrid() -> Fixture {
    let (fake, running) = FakeRealDebrid::start().await;
    fake.add_key(GOOD);
    for (c, (name, files)) in [('a', MOVIE), ('b', SHOW)] {
        fake.add_cached(&hash(c).to_string(), name, files);
        fake.add_to_library(GOOD, &hash(c).to_string());
    }
    let table = format!("api_url = {:?}", FakeRealDebrid::api_url(&running));
    (fixture(build("realdebrid", &table)), Some(running))
}

/// AllDebrid has no cache check: "cached" is what the valid key holds ready.
async fn alldebrid() -> Fixture {
    let (fake, running) = FakeAllDebrid::start().await;
    fake.add_key(GOOD);
    for (c, (name, files)) in [('a', MOVIE), ('b', SHOW)] {
        fake.add_cached(&hash(c).to_string(), name, files);
        fake.add_to_library(GOOD, &hash(c).to_string());
    }
    let table = format!("api_url = {:?}", FakeAllDebrid::api_url(&running));
    (fixture(build("alldebrid", &table)), Some(running))
}

async fn premiumize() -> Fixture {
    let (fake, running) = FakePremiumize::start().await;
    fake.add_key(GOOD);
    for (c, (name, files)) in [('a', MOVIE), ('b', SHOW)] {
        fake.add_cached(&hash(c).to_string(), name, files);
    }
    let table = format!("api_url = {:?}", FakePremiumize::api_url(&running));
    (fixture(build("premiumize", &table)), Some(running))
}

#[tokio::test]
async fn every_store_passes_the_suite_its_capabilities_call_for() {
    for (name, setup) in fixtures() {
        let (fixture, _fake) = setup().await;
        let report = run_store_suite(&fixture).await;
        println!("{report}");
        if fixture.store.capabilities().stub {
            assert!(report.failed().is_empty(), "{report}");
            assert_eq!(report.not_implemented().len(), report.cases.len(), "{name}: {report}");
        } else {
            report.assert_all_passed();
            assert!(report.passed() >= 9, "{name}: {report}");
        }
    }
}

#[test]
fn every_registered_store_has_a_fixture() {
    chillproxy_tests::link_plugins();
    let covered: Vec<&str> = fixtures().iter().map(|(name, _)| *name).collect();
    for store in registry::stores().unwrap() {
        assert!(covered.contains(&store.name), "store plugin `{}` has no conformance fixture", store.name);
    }
}

/// The usenet cases: TorBox (which plays usenet for Pro keys) passes them all; every other store
/// says it plays no usenet.
#[tokio::test]
async fn usenet_stores_pass_the_usenet_cases_and_the_others_play_none() {
    const ESSENTIAL: &str = "conformance-essential-key";
    let release = UsenetHash::parse(&"7a".repeat(16)).unwrap();
    for (name, setup) in fixtures() {
        let (fixture, fake) = setup().await;
        let usenet = UsenetFixture {
            cached: vec![(release.clone(), Secret::new("https://indexer.example/getnzb/rel7a.nzb&r=indexer-key"))],
            unknown: UsenetHash::parse(&"7b".repeat(16)).unwrap(),
            without_usenet: Credential::new(Secret::new(ESSENTIAL), "token"),
        };
        if name == "torbox" {
            let (tb, running) = FakeTorBox::start().await;
            tb.add_key(GOOD);
            tb.add_key_with_plan(ESSENTIAL, 1);
            tb.add_usenet_cached(release.as_str(), "rel7a", "Movie.2020.NZB", &[("Movie.2020.mkv", 4_000_000)]);
            let fixture = StoreFixture { store: build("torbox", &format!("api_url = {:?}", running.url())), ..fixture };
            let report = run_usenet_suite(&fixture, &usenet).await;
            println!("{report}");
            report.assert_all_passed();
            assert_eq!(report.passed(), 4, "{report}");
        } else {
            let report = run_usenet_suite(&fixture, &usenet).await;
            report.assert_all_passed();
            assert_eq!(report.passed(), 1, "{name}: {report}");
        }
        drop(fake);
    }
}
