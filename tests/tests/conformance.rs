//! Every store plugin runs the store conformance suite (chillproxy-conformance). A new store
//! plugin adds one entry to `fixtures()`.

use std::sync::Arc;

use chillproxy_conformance::{run_store_suite, StoreFixture};
use chillproxy_core::registry;
use chillproxy_core::{Credential, Env, InfoHash, PluginSettings, Secret, StoreProvider};
use chillproxy_tests::fakes::torbox::FakeTorBox;
use chillproxy_tests::fakes::Running;

const GOOD: &str = "conformance-good-key";
const BAD: &str = "conformance-bad-key";

fn hash(c: char) -> InfoHash {
    InfoHash::parse(&c.to_string().repeat(40)).unwrap()
}

/// Builds a store plugin the way the host does, from its registry descriptor and a table.
fn build(name: &str, table: &str) -> Arc<dyn StoreProvider> {
    chillproxy_tests::link_plugins();
    let descriptor = registry::stores().unwrap().into_iter().find(|d| d.name == name).unwrap();
    let table: toml::Table = toml::from_str(table).unwrap();
    (descriptor.build)(&PluginSettings::new(format!("store.{name}"), table, Env::default())).unwrap()
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

async fn torbox() -> (StoreFixture, Running) {
    let (fake, running) = FakeTorBox::start().await;
    fake.add_key(GOOD);
    fake.add_cached(&hash('a').to_string(), "Movie.2020.1080p", &[("Movie.2020.1080p.mkv", 4_000_000_000)]);
    fake.add_cached(
        &hash('b').to_string(),
        "Show.S01.720p",
        &[("Show.S01E01.720p.mkv", 900_000_000), ("Show.S01E02.720p.mkv", 910_000_000)],
    );
    (fixture(build("torbox", &format!("api_url = {:?}", running.url()))), running)
}

#[tokio::test]
async fn torbox_passes_every_case() {
    let (fixture, _fake) = torbox().await;
    let report = run_store_suite(&fixture).await;
    println!("{report}");
    report.assert_all_passed();
    assert!(report.passed() >= 9);
}

#[tokio::test]
async fn the_stub_stores_say_what_is_not_implemented() {
    for name in ["realdebrid", "alldebrid"] {
        let report = run_store_suite(&fixture(build(name, ""))).await;
        println!("{report}");
        assert!(report.failed().is_empty(), "{report}");
        assert_eq!(report.not_implemented().len(), report.cases.len(), "{report}");
    }
}
