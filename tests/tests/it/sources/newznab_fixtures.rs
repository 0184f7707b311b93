//! Every captured Newznab reply in `tests/fixtures/newznab/`, served by the fake as an indexer's
//! answer to a search: a feed yields its items (title, size, NZB identity) as NZB candidates, an
//! error document a clear error; nothing panics and the indexer's key (the placeholder each
//! capture carries, configured as the key) is in no candidate and no message.

use std::collections::HashSet;

use chillproxy_core::{ContentKind, SourceError};
use chillproxy_tests::fakes::newznab::{FakeNewznab, Mode};

use super::newznab::{movie, search, source_with, SHAWSHANK};

/// `(file, the key its links carry, items with a usable NZB link, items with a size)`.
const FEEDS: &[(&str, &str, usize, usize)] = &[
    ("sonarr_newznab_nzb_su.xml", "xxx", 100, 100),
    ("lidarr_newznab_nzb_su.xml", "xxx", 100, 100),
    ("nzbhydra2_drunkenSlugResponse.xml", "APIKEY", 100, 100),
    ("nzbhydra2_wtfnzb.xml", "apikey", 193, 0),
    ("nzbhydra_dognzb_spy_imdbid.xml", "0000000000000000000000000000a91e", 13, 13),
    ("nzbhydra_dognzb_bbt_s1_e1.xml", "0000000000000000000000000000a91e", 10, 10),
    ("prowlarr_Omgwtfnzbs.xml", "nzbdrone", 100, 100),
    ("nzbhydra2_drunkenSlug_withSomeLimits.xml", "APIKEY", 0, 0),
    ("nzbhydra_nfo-noresult.xml", "APIKEY", 0, 0),
    // NZBHydra2's serializer test data: its one item's "link" is the word `enclosureUrl`.
    ("nzbhydra2_simplesearchresult.xml", "APIKEY", 0, 0),
];

/// `(file, what the error says)`.
const ERRORS: &[(&str, &str)] = &[
    ("sonarr_unauthorized.xml", "Newznab error 100: Incorrect user credentials"),
    ("nzbhydra_nfo-nosuchitem.xml", "Newznab error 300"),
    ("sonarr_NewznabError.nzb", "Newznab error 201"),
    ("sonarr_newznab_caps.xml", "not an RSS feed"),
    ("nzbhydra2_nzbFinderCapsResponse.xml", "not an RSS feed"),
];

fn fixture(file: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/newznab").join(file);
    String::from_utf8(std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test]
async fn real_newznab_replies_yield_their_nzbs_or_a_clear_error() {
    for (file, key, usable, sized) in FEEDS {
        let fake = FakeNewznab::start(key).await;
        let body = fixture(file);
        fake.set_mode(Mode::Fixture(body.clone()));
        let source = source_with(5_000, &[("fixture", &fake.url(), key)], "http://127.0.0.1:1");

        let found = search(&*source, &movie(SHAWSHANK), &[]).await.unwrap_or_else(|e| panic!("{file}: {e}"));

        let candidates = &found.candidates;
        assert_eq!(candidates.len(), *usable, "{file}: {:?}", found.notices);
        assert_eq!(candidates.iter().filter(|c| c.size.is_some()).count(), *sized, "{file}");
        let identities: HashSet<&str> = candidates.iter().map(|c| c.nzb.as_ref().unwrap().hash.as_str()).collect();
        assert_eq!(identities.len(), *usable, "{file}: two releases, two identities");
        for candidate in candidates {
            assert_eq!(candidate.kind(), ContentKind::Usenet);
            let word = candidate.title.split(|c: char| !c.is_alphanumeric()).find(|w| !w.is_empty()).unwrap();
            assert!(body.contains(word), "{file}: {:?}", candidate.title);
            let nzb = candidate.nzb.as_ref().unwrap();
            assert!(!nzb.link.contains(key) && nzb.needs_key(), "{file}: {}", nzb.link);
        }
        let produced = format!("{:?} {:?}", serde_json::to_string(candidates).unwrap(), found.notices);
        let without_titles = candidates.iter().fold(produced, |text, c| text.replace(&c.title, ""));
        for leak in [format!("={key}"), format!("/{key}")] {
            let at = without_titles.find(&leak);
            let around = at.map(|at| &without_titles[at.saturating_sub(200)..(at + 40).min(without_titles.len())]);
            assert!(at.is_none(), "{file}: {around:?}");
        }
        println!("{file}: {} NZBs, {} with a size", candidates.len(), sized);
    }
}

#[tokio::test]
async fn error_documents_are_typed_errors_without_the_key() {
    for (file, want) in ERRORS {
        let key = "fixture-key-31415926";
        let fake = FakeNewznab::start(key).await;
        fake.set_mode(Mode::Fixture(fixture(file)));
        let source = source_with(5_000, &[("fixture", &fake.url(), key)], "http://127.0.0.1:1");
        match search(&*source, &movie(SHAWSHANK), &[]).await {
            Err(SourceError::Upstream { message, .. }) => {
                assert!(message.contains(&format!("fixture: {want}")), "{file}: {message}");
                assert!(!message.contains(key), "{file}: {message}");
            }
            other => panic!("{file}: expected an upstream error, got {other:?}"),
        }
    }
}
