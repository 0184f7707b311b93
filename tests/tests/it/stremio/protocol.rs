//! Stremio protocol conformance: the served manifests pass `stremio-addon-linter` (npm; installed
//! by `.ci/run` with `npm ci --prefix tools/stremio-lint`), and every stream of every kind of
//! answer (cached, uncached, episode, warnings) passes the stream checks.

use std::path::Path;
use std::process::Command;

use chillproxy_tests::fakes::chillstreams::Mode;
use chillproxy_tests::stack::*;
use chillproxy_tests::stremio_check::check_stream_list;
use serde_json::{json, Value};

async fn get_json(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn served_manifests_pass_the_stremio_addon_linter() {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/stremio-lint");
    if !tool.join("node_modules/stremio-addon-linter").exists() {
        if std::env::var("CHILLPROXY_SKIP_LINTER").is_ok_and(|v| v == "1") {
            eprintln!("skipped: stremio-addon-linter is not installed (CHILLPROXY_SKIP_LINTER=1)");
            return;
        }
        panic!("stremio-addon-linter is not installed: run `npm ci --prefix tools/stremio-lint` (or set CHILLPROXY_SKIP_LINTER=1)");
    }
    let stack = Stack::start(StackOptions::default()).await;
    let config = Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}));
    let dir = std::env::temp_dir().join(format!("chillproxy-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    let manifest = get_json(&stack.manifest_url(&config)).await;
    assert_eq!(manifest["resources"][0]["idPrefixes"], json!(["tt", "kitsu"]), "both id kinds are declared");
    for (name, url) in [
        ("unconfigured", format!("{}/stremio/torz/manifest.json", stack.host.url())),
        ("configured", stack.manifest_url(&config)),
        (
            "library-catalogs",
            stack.manifest_url(&Stack::config(
                &json!({"stores": [{"c": "tb", "t": TOKEN}, {"c": "rd", "t": RD_TOKEN}]}),
            )),
        ),
        ("invalid-config", stack.manifest_url("not-a-config")),
    ] {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, get_json(&url).await.to_string()).unwrap();
        files.push(path);
    }
    let output = Command::new("node").arg(tool.join("lint.js")).args(&files).output().expect("node runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the linter rejected a manifest:\n{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(report.lines().count(), 4, "{report}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn every_kind_of_stream_list_follows_the_protocol() {
    let stack = Stack::start(StackOptions::default()).await;
    let auth = Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}));
    let mixed = Stack::config(&json!({"stores": [{"c": "rd", "t": "x"}, {"c": "tb", "t": TOKEN}]}));
    let mut urls = vec![
        stack.stream_url(&auth, "movie", MOVIE),
        stack.stream_url(&auth, "series", &format!("{SERIES}:1:3")),
        stack.stream_url(&mixed, "movie", MOVIE),
        stack.stream_url("bad-config", "movie", MOVIE),
    ];
    let mut checked = 0;
    for url in urls.drain(..) {
        let body = get_json(&url).await;
        check_stream_list(&body).unwrap_or_else(|e| panic!("{url}: {e}"));
        checked += body["streams"].as_array().unwrap().len();
    }
    stack.chillstreams.set_mode(Mode::Error500);
    let body = get_json(&stack.stream_url(&auth, "movie", "tt0068646")).await;
    check_stream_list(&body).unwrap();
    assert!(checked >= 10, "checked {checked} streams");
}
