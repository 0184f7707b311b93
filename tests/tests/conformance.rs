//! Every store plugin runs the store conformance suite (chillproxy-conformance). A new store
//! plugin adds one entry to [`fixtures`]; a registered store without one fails
//! `every_registered_store_has_a_fixture`. What a store must pass follows its capabilities: a
//! stub must say "not implemented" for every case, any other store must pass them all.

use std::sync::Arc;

use chillproxy_conformance::{run_store_suite, StoreFixture};
use chillproxy_core::registry::{self, PluginContext};
use chillproxy_core::{Credential, Env, InfoHash, PluginSettings, Secret, StoreProvider};
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
        ("realdebrid", || async { (fixture(build("realdebrid", "")), None) }.boxed()),
        ("alldebrid", || async { (fixture(build("alldebrid", "")), None) }.boxed()),
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
