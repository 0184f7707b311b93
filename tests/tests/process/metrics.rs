//! `/metrics`, `/ready` and `/health` end to end: the real host and the fakes on 127.0.0.1.
//!
//! The metrics registry is global to the process: these tests assert on deltas between two
//! scrapes, and run in their own binary, one at a time (see `main.rs`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chillproxy_tests::client::http;
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const STREMIO_UA: &str = "Stremio/4.4.168 (Windows)";
const PLAYER_UA: &str = "mpv/0.38";
const METRICS_TOKEN: &str = "metrics-token-5f0e1d2c3b4a";
const STREAM_ROUTE: &str = "/stremio/torz/{config}/stream/{kind}/{id}";

/// One scrape: `name{sorted labels}` → value.
#[derive(Debug, Default)]
struct Scrape {
    text: String,
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples.get(&key(name, labels)).copied().unwrap_or(0.0)
    }

    fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.samples.contains_key(&key(name, labels))
    }
}

fn key(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return name.to_string();
    }
    let mut labels = labels.to_vec();
    labels.sort();
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", pairs.join(","))
}

/// Parses the text format and checks its shape: every sample belongs to a family announced by
/// `# HELP` and `# TYPE` lines, names are `chillproxy_`-prefixed, label names are snake_case.
fn parse(text: &str) -> Scrape {
    let mut samples = BTreeMap::new();
    let mut family: Option<(String, String)> = None;
    let mut help: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(name.starts_with("chillproxy_"), "{line}");
            help = Some(name.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(help.as_deref(), Some(name), "HELP before TYPE: {line}");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            family = Some((name.to_string(), kind.to_string()));
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "unexpected line {line:?}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = series.split('{').next().unwrap();
        let (family_name, kind) = family.as_ref().unwrap_or_else(|| panic!("sample before TYPE: {line}"));
        let expected = if kind == "histogram" {
            [format!("{family_name}_bucket"), format!("{family_name}_sum"), format!("{family_name}_count")]
                .contains(&name.to_string())
        } else {
            name == family_name
        };
        assert!(expected, "{name} outside its family {family_name}");
        if let Some(labels) = series.strip_prefix(name).and_then(|l| l.strip_prefix('{')) {
            let labels = labels.strip_suffix('}').unwrap();
            for pair in labels.split("\",") {
                let label = pair.split('=').next().unwrap();
                assert!(label.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "label {label} in {line}");
            }
        }
        assert!(samples.insert(series.to_string(), value).is_none(), "duplicate series {series}");
    }
    Scrape { text: text.to_string(), samples }
}

async fn scrape(stack: &Stack, token: Option<&str>) -> Scrape {
    let mut request = http().get(format!("{}/metrics", stack.host.url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    parse(&response.text().await.unwrap())
}

async fn get_streams(url: &str) -> Vec<Value> {
    let response = http().get(url).header("user-agent", STREMIO_UA).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let body: Value = response.json().await.unwrap();
    body["streams"].as_array().cloned().unwrap_or_default()
}

/// Scrapes until `done` holds (background work, like usage delivery, lands a little later).
async fn scrape_until(stack: &Stack, mut done: impl FnMut(&Scrape) -> bool) -> Scrape {
    let started = Instant::now();
    loop {
        let scrape = scrape(stack, None).await;
        if done(&scrape) || started.elapsed() > Duration::from_secs(5) {
            return scrape;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn stream_lists_and_playback_move_the_request_upstream_cache_auth_and_usage_series() {
    let _alone = super::ALONE.lock().await;
    let stack = Stack::start(StackOptions::default()).await;
    let ready = http().get(format!("{}/ready", stack.host.url())).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");

    let before = scrape(&stack, None).await;
    let user_indexer = stack.user_torznab.torznab_url();
    let config = Stack::config(&json!({
        "stores": [{"c": "tb", "auth": USER, "t": TOKEN}],
        "indexers": [{"n": "jackett", "u": user_indexer, "ak": USER_INDEXER_KEY}],
    }));
    let url = stack.stream_url(&config, "movie", MOVIE);
    let streams = get_streams(&url).await;
    let again = get_streams(&url).await;
    assert_eq!(streams.len(), again.len());
    let playable = streams
        .iter()
        .find_map(|s| s["url"].as_str().filter(|u| u.contains(MOVIE_1080)))
        .unwrap_or_else(|| panic!("{streams:#?}"));
    let played = http().get(playable).header("user-agent", PLAYER_UA).send().await.unwrap();
    assert_eq!(played.status(), 302);

    let log_usage_ok = [("plugin", "chillstreams"), ("operation", "log_usage"), ("outcome", "ok")];
    let upstream = "chillproxy_upstream_requests_total";
    let after = scrape_until(&stack, |s| {
        s.get(upstream, &log_usage_ok) > before.get(upstream, &log_usage_ok)
            && s.get("chillproxy_usage_delivered_total", &[]) >= 1.0
    })
    .await;
    let delta = |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);

    // Requests, by route pattern and status, with their latency.
    assert_eq!(delta("chillproxy_http_requests_total", &[("route", STREAM_ROUTE), ("status", "200")]), 2.0);
    assert_eq!(delta("chillproxy_http_request_duration_seconds_count", &[("route", STREAM_ROUTE)]), 2.0);
    let inf_bucket = format!("chillproxy_http_request_duration_seconds_bucket{{route=\"{STREAM_ROUTE}\",le=\"+Inf\"}}");
    assert!(after.samples.contains_key(&inf_bucket), "{}", after.text);
    assert!(delta("chillproxy_http_requests_total", &[("route", "/metrics"), ("status", "200")]) >= 1.0);

    // Upstream calls, by plugin, operation and outcome, with their latency.
    let ok = |plugin: &'static str, operation: &'static str| {
        delta(upstream, &[("plugin", plugin), ("operation", operation), ("outcome", "ok")])
    };
    assert!(ok("torbox", "torrents/checkcached") >= 1.0, "{}", after.text);
    assert!(ok("torbox", "torrents/requestdl") >= 1.0, "{}", after.text);
    assert!(ok("torznab", "search") >= 1.0, "{}", after.text);
    assert!(ok("torznab", "user_search") >= 1.0, "{}", after.text);
    assert!(ok("chillstreams", "get_key") >= 1.0, "{}", after.text);
    assert!(ok("chillstreams", "log_usage") >= 1.0, "{}", after.text);
    let duration = "chillproxy_upstream_request_duration_seconds_count";
    assert!(delta(duration, &[("plugin", "torbox"), ("operation", "torrents/checkcached")]) >= 1.0);
    assert!(delta(duration, &[("plugin", "chillstreams"), ("operation", "get_key")]) >= 1.0);
    assert!(delta(duration, &[("plugin", "torznab"), ("operation", "search")]) >= 1.0);

    // Caches: the second list reused the candidates and Chillstreams' answer.
    let hits = "chillproxy_cache_hits_total";
    let misses = "chillproxy_cache_misses_total";
    assert!(delta(misses, &[("cache", "sources")]) >= 1.0, "{}", after.text);
    assert!(delta(hits, &[("cache", "sources")]) >= 1.0, "{}", after.text);
    assert!(delta(misses, &[("cache", "chillstreams_answers")]) >= 1.0, "{}", after.text);
    assert!(delta(hits, &[("cache", "chillstreams_answers")]) >= 1.0, "{}", after.text);
    assert!(delta(misses, &[("cache", "links")]) >= 1.0, "{}", after.text);
    assert!(after.has(hits, &[("cache", "availability")]));

    // Auth outcomes, the breaker, the usage spool.
    let granted = [("provider", "chillstreams"), ("outcome", "granted")];
    assert!(delta("chillproxy_auth_outcomes_total", &granted) >= 2.0, "{}", after.text);
    assert_eq!(after.get("chillproxy_breaker_open", &[("plugin", "chillstreams")]), 0.0);
    assert!(after.has("chillproxy_breaker_open", &[("plugin", "chillstreams")]));
    assert!(after.has("chillproxy_usage_spool_depth", &[]));
    assert_eq!(after.get("chillproxy_usage_delivered_total", &[]), 1.0);
    assert!(after.has("chillproxy_usage_failed_attempts_total", &[]));
    for reason in ["full", "rejected", "error"] {
        assert!(after.has("chillproxy_usage_dropped_total", &[("reason", reason)]), "{reason}");
    }
    assert_eq!(after.get("chillproxy_ready", &[]), 1.0);

    // Nothing a user sent, and no key, ever reaches the metrics.
    for secret in [
        config.as_str(),
        TOKEN,
        USER,
        POOL_KEY,
        POOL_KEY_ID,
        INTERNAL_API_KEY,
        INDEXER_KEY,
        USER_INDEXER_KEY,
        MOVIE_1080,
    ] {
        assert!(!after.text.contains(secret), "{secret} in the metrics");
    }
    assert!(!after.text.contains("jackett") && !after.text.contains(&user_indexer), "user indexer in the metrics");
}

#[tokio::test]
async fn a_metrics_token_guards_metrics_but_not_health_or_ready() {
    let _alone = super::ALONE.lock().await;
    let options =
        StackOptions { server_settings: format!("metrics_token = \"{METRICS_TOKEN}\""), ..Default::default() };
    let stack = Stack::start(options).await;
    let url = format!("{}/metrics", stack.host.url());

    let response = http().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let body = response.text().await.unwrap();
    assert!(!body.contains(METRICS_TOKEN) && !body.contains("chillproxy_http"), "{body}");
    let wrong = http().get(&url).bearer_auth("metrics-token-5f0e1d2c3b4b").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let basic = http().get(&url).basic_auth("prometheus", Some(METRICS_TOKEN)).send().await.unwrap();
    assert_eq!(basic.status(), 401);

    let first = scrape(&stack, Some(METRICS_TOKEN)).await;
    assert!(first.has("chillproxy_http_requests_total", &[("route", "/metrics"), ("status", "401")]), "{}", first.text);
    assert!(!first.text.contains(METRICS_TOKEN));

    for path in ["/health", "/ready"] {
        let response = http().get(format!("{}{path}", stack.host.url())).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let unmatched = http().get(format!("{}/no/such/route/{METRICS_TOKEN}", stack.host.url())).send().await.unwrap();
    assert_eq!(unmatched.status(), 404);
    let second = scrape(&stack, Some(METRICS_TOKEN)).await;
    assert!(second.get("chillproxy_http_requests_total", &[("route", "unmatched"), ("status", "404")]) >= 1.0);
    assert!(!second.text.contains(METRICS_TOKEN) && !second.text.contains("/no/such/route"));
}

#[tokio::test]
async fn a_failover_is_counted_once_by_outcome() {
    let _alone = super::ALONE.lock().await;
    let stack = Stack::start(StackOptions::default()).await;
    let config = Stack::config(&json!({"stores": [{"c": "rd", "t": RD_TOKEN}]}));
    let streams = get_streams(&stack.stream_url(&config, "movie", MOVIE)).await;
    // RealDebrid's content filter refuses the 1080p release (451): the 2160p one plays instead.
    let refused = streams
        .iter()
        .find_map(|s| s["url"].as_str().filter(|u| u.contains(&format!("/rd/{MOVIE_1080}/"))))
        .unwrap_or_else(|| panic!("{streams:#?}"));
    let before = scrape(&stack, None).await;
    let played = http().get(refused).header("user-agent", PLAYER_UA).send().await.unwrap();
    assert_eq!(played.status(), 302);
    let after = scrape(&stack, None).await;
    let failovers = "chillproxy_playback_failovers_total";
    let delta =
        |outcome| after.get(failovers, &[("outcome", outcome)]) - before.get(failovers, &[("outcome", outcome)]);
    assert_eq!((delta("played"), delta("failed")), (1.0, 0.0), "{}", after.text);
    let outcomes = "chillproxy_playback_outcomes_total";
    let played = after.get(outcomes, &[("outcome", "played")]) - before.get(outcomes, &[("outcome", "played")]);
    assert_eq!(played, 1.0, "one playback, played");
}
