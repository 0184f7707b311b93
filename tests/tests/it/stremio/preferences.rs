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
    ] {
        let list = streams(&stack, config).await;
        let warnings = warning_descriptions(&list);
        assert_eq!(warnings.len(), 1, "{list:#?}");
        assert!(warnings[0].contains(field), "{field} in {}", warnings[0]);
    }
    assert_eq!(stack.torznab.call_count(), searches, "an invalid config searches nothing");
}
