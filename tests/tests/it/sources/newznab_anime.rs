//! Anime through the `newznab` source, as through `torznab` (the search is the shared indexer
//! protocol's): a Kitsu id the metadata maps to no IMDb id is searched by the title the request's
//! metadata gives, and an IMDb episode with an absolute number gets a text search
//! (`One Piece 1085`) next to its id search; text results are matched to the wanted episode.

use chillproxy_core::{Found, MediaMeta, MediaQuery, SourceProvider, SourceQuery};
use chillproxy_tests::fakes::newznab::{FakeNewznab, Release};

use super::newznab::{source_with, KEY};

const ONE_PIECE: &str = "tt0388629";

async fn search(source: &dyn SourceProvider, media: &MediaQuery, meta: &MediaMeta) -> Found {
    let query = SourceQuery { media, user_indexers: &[], usenet_indexers: &[], credential: None, meta: Some(meta) };
    source.search(&query).await.expect("the newznab source answers")
}

fn titles(found: &Found) -> Vec<String> {
    let mut titles: Vec<String> = found.candidates.iter().map(|c| c.title.clone()).collect();
    titles.sort();
    titles
}

#[tokio::test]
async fn a_kitsu_id_without_an_imdb_id_is_searched_by_the_metadata_title() {
    let fake = FakeNewznab::start(KEY).await;
    fake.add_releases([
        Release::episode("tt0000001", 1, 8, "[SubsPlease] Sousou no Frieren - 08 (1080p) [A1B2C3D4]", "k8"),
        Release::episode("tt0000001", 1, 9, "[Erai-raws] Sousou no Frieren - 09 [1080p]", "k9"),
        Release::episode("tt0000001", 1, 1, "[SubsPlease] Sousou no Frieren (01-28) (1080p) [Batch]", "kb"),
        Release::episode("tt0000001", 1, 8, "[SubsPlease] Dungeon Meshi - 08 (1080p)", "dm"),
    ]);
    // The title lookup (Cinemeta) is unreachable: the request's metadata is all there is.
    let source = source_with(5_000, &[("geek", &fake.url(), KEY)], "http://127.0.0.1:1");
    let media = chillproxy_stremio::parse_media("series", "kitsu:46474:8").unwrap();
    let meta = MediaMeta {
        name: "Sousou no Frieren".into(),
        aliases: vec!["Frieren: Beyond Journey's End".into()],
        year: Some(2023),
    };

    let found = search(&*source, &media, &meta).await;

    assert_eq!(
        titles(&found),
        vec![
            "[SubsPlease] Sousou no Frieren (01-28) (1080p) [Batch]",
            "[SubsPlease] Sousou no Frieren - 08 (1080p) [A1B2C3D4]"
        ],
        "episode 8 and the batch holding it; not 9, not another show: {found:?}"
    );
    let searches = fake.searches();
    assert_eq!(searches.len(), 1, "{searches:?}");
    assert_eq!((searches[0].t(), searches[0].param("q")), (Some("search"), Some("Sousou no Frieren")));
    assert!(searches[0].param("imdbid").is_none(), "{searches:?}");
}

#[tokio::test]
async fn an_imdb_episode_with_an_absolute_number_is_also_searched_by_title_and_number() {
    let fake = FakeNewznab::start(KEY).await;
    fake.add_releases([
        Release::episode(ONE_PIECE, 21, 15, "One.Piece.S21E15.1080p.WEB.H264", "id"),
        Release::episode("tt0000001", 1, 1, "[SubsPlease] One Piece - 1085 (1080p) [0B2F7A5E]", "abs"),
        Release::episode("tt0000001", 1, 1, "[SubsPlease] One Piece - 1084 (1080p) [9A1E2F3B]", "old"),
    ]);
    let source = source_with(5_000, &[("geek", &fake.url(), KEY)], "http://127.0.0.1:1");
    let mut media = chillproxy_stremio::parse_media("series", &format!("{ONE_PIECE}:21:15")).unwrap();
    media.absolute_episode = Some(1085);
    let meta = MediaMeta { name: "One Piece".into(), aliases: Vec::new(), year: Some(1999) };

    let found = search(&*source, &media, &meta).await;

    assert_eq!(
        titles(&found),
        vec!["One.Piece.S21E15.1080p.WEB.H264", "[SubsPlease] One Piece - 1085 (1080p) [0B2F7A5E]"],
        "{found:?}"
    );
    let searches = fake.searches();
    let by_id = searches.iter().find(|c| c.param("imdbid").is_some()).expect("an id search");
    assert_eq!((by_id.t(), by_id.param("imdbid")), (Some("tvsearch"), Some("0388629")));
    assert!(searches.iter().any(|c| c.t() == Some("search") && c.param("q") == Some("One Piece 1085")), "{searches:?}");
}
