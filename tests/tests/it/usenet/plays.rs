//! Playing usenet streams: one create at most (none when the download is in the account), the
//! link asked server-side, 302 to the CDN; an NZB TorBox cannot fetch uploaded as a file.

use chillproxy_tests::fakes::torbox_usenet::{CREATE, MYLIST as USENET_MYLIST, REQUESTDL as USENET_REQUESTDL};
use chillproxy_tests::stack::*;
use futures::future::join_all;

use super::*;

async fn cached_url(stack: &Stack, newznab: &FakeNewznab, token: &str) -> String {
    let list = streams(&stack.stream_url(&token_config(token), "movie", MOVIE)).await;
    let stream = usenet_stream(&list, &release_hash(newznab, CACHED_GUID)).expect("the cached usenet stream");
    stream["url"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn playing_a_cached_usenet_stream_makes_one_create_and_one_requestdl_and_answers_302() {
    let (stack, newznab) = usenet_stack(StackOptions::default(), "").await;
    let url = cached_url(&stack, &newznab, TOKEN).await;
    assert!(!url.contains(NZB_KEY) && !url.contains(TOKEN), "{url}");
    let response = play(&url).await;
    assert_eq!(response.status(), 302, "{}", response.text().await.unwrap_or_default());
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&format!("{}/cdn/usenet/", stack.torbox.state().base_url)), "{location}");
    assert!(location.ends_with(&format!("/0/{CACHED_FILE}")), "{location}");
    assert!(!location.contains(NZB_KEY) && !location.contains(TOKEN));
    let creates = stack.torbox.calls_to(CREATE);
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0].bearer(), Some(TOKEN));
    // TorBox was handed the indexer's link with the key back in it (it fetches the NZB itself).
    let link = creates[0].form_param("link").unwrap();
    assert!(link.contains(CACHED_GUID) && link.contains(NZB_KEY), "{link}");
    let requestdl = stack.torbox.calls_to(USENET_REQUESTDL);
    assert_eq!(requestdl.len(), 1);
    assert_eq!(requestdl[0].query_param("file_id").as_deref(), Some("0"));
    // The list was read before the create.
    let first_list = stack.torbox.calls().iter().position(|c| c.path == USENET_MYLIST).unwrap();
    let first_create = stack.torbox.calls().iter().position(|c| c.path == CREATE).unwrap();
    assert!(first_list < first_create);

    // Played again (the link is reused): nothing more reaches TorBox's usenet endpoints.
    assert_eq!(play(&url).await.status(), 302);
    assert_eq!(stack.torbox.calls_to(CREATE).len(), 1);
}

#[tokio::test]
async fn a_download_already_in_the_account_plays_without_a_create() {
    let (stack, newznab) = usenet_stack(StackOptions::default(), "").await;
    // Added earlier from the same link, which TorBox names by its md5.
    let link = nzb_link(newznab.url().trim_end_matches('/'), NZB_KEY, LinkForm::ApiGet, CACHED_GUID);
    stack.torbox.add_usenet_to_account(TOKEN, &release_hash(&newznab, CACHED_GUID), &link);
    let url = cached_url(&stack, &newznab, TOKEN).await;
    assert_eq!(play(&url).await.status(), 302);
    assert_eq!(stack.torbox.calls_to(CREATE).len(), 0);
    assert_eq!(stack.torbox.calls_to(USENET_REQUESTDL).len(), 1);
}

#[tokio::test]
async fn twenty_five_concurrent_plays_of_one_usenet_stream_make_one_create() {
    let (stack, newznab) = usenet_stack(StackOptions::default(), "").await;
    let url = cached_url(&stack, &newznab, TOKEN).await;
    let answers = join_all((0..25).map(|_| play(&url))).await;
    for answer in &answers {
        assert_eq!(answer.status(), 302);
    }
    assert_eq!(stack.torbox.calls_to(CREATE).len(), 1);
    assert_eq!(stack.torbox.calls_to(USENET_REQUESTDL).len(), 1);
}

#[tokio::test]
async fn an_nzb_torbox_cannot_fetch_is_uploaded_as_a_file_and_plays() {
    let (stack, newznab) = usenet_stack(StackOptions::default(), "").await;
    stack.torbox.set_usenet_fetchable(&release_hash(&newznab, CACHED_GUID), false);
    let url = cached_url(&stack, &newznab, TOKEN).await;
    let response = play(&url).await;
    assert_eq!(response.status(), 302, "{}", response.text().await.unwrap_or_default());
    let creates = stack.torbox.calls_to(CREATE);
    assert_eq!(creates.len(), 2, "the link, then the file");
    assert!(creates[1].body.contains("name=\"file\"") && creates[1].body.contains("<nzb"), "{}", creates[1].body);
    assert!(!creates[1].body.contains(NZB_KEY));
    assert_eq!(newznab.nzb_fetches(), 1, "chillproxy fetched the NZB once");
    assert!(stack.torbox.usenet_downloads_of(TOKEN)[0].from_file);
}

#[tokio::test]
async fn an_uncached_usenet_stream_still_downloading_says_so_and_plays_once_it_is_done() {
    let options = StackOptions { table_settings: vec![("[playback]", "error_ttl_s = 0".into())], ..Default::default() };
    let (stack, newznab) = usenet_stack(options, "").await;
    let hash = release_hash(&newznab, UNCACHED_GUID);
    // Longer than the stack's [playback] wait_ms (3 s at 20 ms a poll).
    stack.torbox.state().usenet.releases.get_mut(&hash).unwrap().polls = 400;
    let list = streams(&stack.stream_url(&token_config(TOKEN), "movie", MOVIE)).await;
    let url = usenet_stream(&list, &hash).unwrap()["url"].as_str().unwrap().to_string();
    let response = play(&url).await;
    assert_eq!(response.status(), 504);
    let text = response.text().await.unwrap();
    assert!(text.contains("downloading from usenet: try again in a minute"), "{text}");
    assert_eq!(stack.torbox.calls_to(CREATE).len(), 1);

    // Done downloading: the next play plays it, with no second create.
    stack.torbox.state().usenet.releases.get_mut(&hash).unwrap().polls = 0;
    let response = play(&url).await;
    assert_eq!(response.status(), 302, "{}", response.text().await.unwrap_or_default());
    assert_eq!(stack.torbox.calls_to(CREATE).len(), 1);
}

#[tokio::test]
async fn a_sealed_stream_of_the_users_own_indexer_plays_with_its_key_put_back() {
    const MINE: &str = "users-own-nzb-key-SECRET-77";
    let options = StackOptions {
        server_settings: "allow_private_user_urls = true".into(),
        env: vec![("CHILLPROXY_KEYS", CLUSTER_KEYS.to_string())],
        ..Default::default()
    };
    let (stack, _operator) = usenet_stack(options, "").await;
    let mine = FakeNewznab::start(MINE).await;
    mine.add_release(chillproxy_tests::fakes::newznab::Release::movie(
        MOVIE,
        "The.Shawshank.Redemption.1994.720p.NZB-MINE",
        "mine-1",
    ));
    let identity = release_hash_with(&mine, "mine-1", MINE);
    stack.torbox.add_usenet_cached(
        &identity,
        "mine-1",
        "The.Shawshank.Redemption.1994.720p.NZB-MINE",
        &[("mine.mkv", 700)],
    );
    let config = Stack::config(&serde_json::json!({
        "stores": [{"c": "tb", "t": TOKEN}],
        "newznab": [{"n": "mine", "u": mine.url(), "ak": MINE}],
    }));
    let list = streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    let stream = list
        .iter()
        .find(|s| s["behaviorHints"]["filename"] == "mine.mkv")
        .unwrap_or_else(|| panic!("{:#?}", names(&list)));
    let url = stream["url"].as_str().unwrap();
    assert!(url.contains("/_/play/") && !url.contains(MINE) && !url.contains(TOKEN), "{url}");
    let response = play(url).await;
    assert_eq!(response.status(), 302, "{}", response.text().await.unwrap_or_default());
    let link = stack.torbox.calls_to(CREATE)[0].form_param("link").unwrap();
    assert!(link.contains("mine-1") && link.contains(MINE), "{link}");
}
