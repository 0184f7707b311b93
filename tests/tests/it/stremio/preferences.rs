//! The viewer's own filters and order (issue 16, point 2), through the real host: a valid choice
//! shapes the list; an invalid one is a ⚠️ stream naming the field, and nothing is searched.

use chillproxy_tests::client::{http, warning_descriptions};
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

async fn streams(stack: &Stack, config: Value) -> Vec<Value> {
    let url = stack.stream_url(&Stack::config(&config), "movie", MOVIE);
    let body: Value = http().get(url).send().await.unwrap().json().await.unwrap();
    body["streams"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn filters_shape_the_list_and_bad_values_name_their_field() {
    let stack = Stack::start(StackOptions::default()).await;
    let all = streams(&stack, json!({"stores": [{"c": "tb", "t": TOKEN}]})).await;
    assert_eq!(all.len(), 4, "{all:#?}");

    let only_4k = streams(&stack, json!({"stores": [{"c": "tb", "t": TOKEN}], "resolutions": ["2160p"]})).await;
    assert_eq!(only_4k.len(), 1, "{only_4k:#?}");
    assert!(only_4k[0]["url"].as_str().unwrap().contains(MOVIE_2160));

    let small_first =
        streams(&stack, json!({"stores": [{"c": "tb", "t": TOKEN}], "sort": "size", "cached": true})).await;
    let order: Vec<bool> = small_first.iter().map(|s| s["url"].as_str().unwrap().contains(MOVIE_1080)).collect();
    assert_eq!(order, [true, false], "the 8 GB file before the 61 GB one: {small_first:#?}");

    let searches = stack.torznab.call_count();
    for (config, field) in [
        (json!({"stores": [{"c": "tb", "t": TOKEN}], "sort": "-colour"}), "sort:"),
        (json!({"stores": [{"c": "tb", "t": TOKEN}], "resolutions": ["8k"]}), "resolutions[0]:"),
        (json!({"stores": [{"c": "tb", "t": TOKEN}], "max_size_gb": 0}), "max_size_gb:"),
        (json!({"stores": [{"c": "tb", "t": TOKEN}], "per_resolution": 99}), "per_resolution:"),
        (json!({"stores": [{"c": "tb", "t": TOKEN}], "languages": ["xx"]}), "languages[0]:"),
    ] {
        let list = streams(&stack, config).await;
        let warnings = warning_descriptions(&list);
        assert_eq!(warnings.len(), 1, "{list:#?}");
        assert!(warnings[0].contains(field), "{field} in {}", warnings[0]);
    }
    assert_eq!(stack.torznab.call_count(), searches, "an invalid config searches nothing");
}

/// Issue 23, point 5: a value of the wrong type is a ⚠️ naming its field and what it takes, never
/// a decoder's message, and nothing is searched.
#[tokio::test]
async fn wrongly_typed_values_name_their_field() {
    let stack = Stack::start(StackOptions::default()).await;
    let searches = stack.torznab.call_count();
    let two_stores = json!([{"c": "tb", "t": TOKEN}, {"c": "rd", "t": TOKEN}]);
    let store = json!([{"c": "tb", "t": TOKEN}]);
    for (config, field, expects) in [
        (json!({"stores": store, "max_size_gb": "big"}), "max_size_gb:", "number"),
        (json!({"stores": store, "min_size_gb": true}), "min_size_gb:", "number"),
        (json!({"stores": store, "per_resolution": "two"}), "per_resolution:", "whole number"),
        (json!({"stores": store, "exclude": "cam"}), "exclude:", "list"),
        (json!({"stores": store, "languages": "fr"}), "languages:", "list"),
        (json!({"stores": store, "languages": ["fr", 3]}), "languages[1]:", "list"),
        (json!({"stores": store, "resolutions": "1080p"}), "resolutions:", "list"),
        (json!({"stores": store, "sort": 5}), "sort:", "text"),
        (json!({"stores": store, "cached": "yes"}), "cached:", "true or false"),
        (json!({"stores": [{"c": "tb", "t": TOKEN}, {"c": 7, "t": TOKEN}]}), "stores[1].c:", "text"),
        (json!({"stores": store, "indexers": [{"n": "x", "u": 80}]}), "indexers[0].u:", "text"),
        (json!({"stores": two_stores, "indexers": "http://x"}), "indexers:", "list"),
    ] {
        let list = streams(&stack, config.clone()).await;
        let warnings = warning_descriptions(&list);
        assert_eq!(warnings.len(), 1, "{config}: {list:#?}");
        assert!(warnings[0].contains(field) && warnings[0].contains(expects), "{field} {expects} in {}", warnings[0]);
        assert!(!warnings[0].contains("invalid type") && !warnings[0].contains("column"), "{}", warnings[0]);
    }
    assert_eq!(stack.torznab.call_count(), searches, "an invalid config searches nothing");
}

/// Issue 23, point 4: `languages` takes codes and English names alike; French releases
/// (`TRUEFRENCH`, `VFF`, `MULTI`) come first and nothing is dropped.
#[tokio::test]
async fn languages_by_code_or_name_put_french_first_and_drop_nothing() {
    use chillproxy_tests::fakes::torznab::Release;
    let stack = Stack::start(StackOptions::default()).await;
    for (hash, name) in [
        ("f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1", "Les.Evades.1994.TRUEFRENCH.720p.BluRay.x264-GRP"),
        ("f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2", "The.Shawshank.Redemption.1994.MULTi.VFF.2160p.WEB-DL-GRP"),
    ] {
        stack.torznab.add_release(Release::movie(MOVIE, name, hash));
        stack.torbox.add_cached(hash, name, &[(&format!("{name}.mkv"), 3_000_000_000)]);
    }
    let store = json!([{"c": "tb", "t": TOKEN}]);
    let hashes = |list: &[Value]| -> Vec<String> {
        list.iter()
            .filter_map(|s| s["url"].as_str())
            .map(|u| u.split('/').rev().nth(2).unwrap_or_default().to_string())
            .collect()
    };
    let plain = streams(&stack, json!({"stores": store})).await;
    assert!(warning_descriptions(&plain).is_empty(), "{plain:#?}");
    let mut everything = hashes(&plain);
    everything.sort();
    for languages in [json!(["fr"]), json!(["french"]), json!(["French"]), json!(["FR", "de"])] {
        let list = streams(&stack, json!({"stores": store, "languages": languages})).await;
        let order = hashes(&list);
        let mut same = order.clone();
        same.sort();
        assert_eq!(same, everything, "{languages}: nothing dropped");
        let french: Vec<bool> = order.iter().map(|h| h.starts_with("f1") || h.starts_with("f2")).collect();
        assert_eq!(&french[..2], [true, true], "{languages}: French first: {order:?}");
        assert!(french[2..].iter().all(|f| !f), "{languages}: {order:?}");
    }
}
