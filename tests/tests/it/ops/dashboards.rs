//! The operator's dashboard and alert rules name only series the server exports: the real host
//! against the fakes serves a short load (stream lists, cached and ⚠️; playback, a 302 to the
//! store, one after a failover and one to a status clip; an uncached torrent created; a failing
//! indexer; an inbound limit), then every PromQL expression in `deploy/grafana/chillproxy.json`,
//! `deploy/prometheus/chillproxy-rules.yml` and the series of its promtool tests is checked
//! against one scrape of `/metrics`: metric names, label names, and the values of `=` matchers.
//!
//! The dashboard's shape is checked too (what Grafana's classic JSON model needs to import it),
//! and the rules' unit tests have a case that fires and one that does not for every rule
//! (promtool runs them in `.ci/run`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chillproxy_tests::client::{http, warning_descriptions};
use chillproxy_tests::fakes::torznab::{Mode, Release};
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

const STREMIO_UA: &str = "Stremio/4.4.168 (Windows)";
/// A 2160p release of the movie whose TorBox download fails.
const DEAD_2160: &str = "dead2160dead2160dead2160dead2160dead2160";
const PLAYER_UA: &str = "mpv/0.38";

/// Labels Prometheus adds to every scraped series (the target's): queries may match on them
/// although `/metrics` does not carry them.
const TARGET_LABELS: &[&str] = &["instance", "job"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ------------------------------------------------------------------------------------------
// The scrape

/// One scrape: every sample name (histograms as `_bucket`, `_sum`, `_count`) with the label
/// sets it was seen with.
#[derive(Debug, Default)]
struct Scrape {
    series: BTreeMap<String, Vec<BTreeMap<String, String>>>,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut series: BTreeMap<String, Vec<BTreeMap<String, String>>> = BTreeMap::new();
        for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let (name, labels) = sample_series(line).unwrap_or_else(|| panic!("unreadable sample {line:?}"));
            series.entry(name).or_default().push(labels);
        }
        Scrape { series }
    }

    fn has_label(&self, metric: &str, label: &str) -> bool {
        TARGET_LABELS.contains(&label)
            || self.series.get(metric).is_some_and(|all| all.iter().any(|labels| labels.contains_key(label)))
    }

    fn has_value(&self, metric: &str, label: &str, value: &str) -> bool {
        TARGET_LABELS.contains(&label)
            || self
                .series
                .get(metric)
                .is_some_and(|all| all.iter().any(|labels| labels.get(label).is_some_and(|v| v == value)))
    }
}

/// `name{k="v",...} value` → the name and its labels (values unescaped).
fn sample_series(line: &str) -> Option<(String, BTreeMap<String, String>)> {
    let end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = line[..end].to_string();
    let mut labels = BTreeMap::new();
    if line[end..].starts_with('{') {
        let mut chars = line[end + 1..].chars();
        loop {
            let mut key = String::new();
            loop {
                match chars.next()? {
                    '=' => break,
                    '}' if key.is_empty() => return Some((name, labels)),
                    c => key.push(c),
                }
            }
            if chars.next()? != '"' {
                return None;
            }
            let mut value = String::new();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        'n' => value.push('\n'),
                        c => value.push(c),
                    },
                    c => value.push(c),
                }
            }
            labels.insert(key, value);
            match chars.next()? {
                ',' => {}
                '}' => return Some((name, labels)),
                _ => return None,
            }
        }
    }
    Some((name, labels))
}

// ------------------------------------------------------------------------------------------
// What a PromQL expression refers to

/// One `label op "value"` inside a selector's braces.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Matcher {
    label: String,
    op: String,
    value: String,
}

/// A series selector: a metric name (empty for `{__name__=...}` forms) and its matchers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Selector {
    metric: String,
    matchers: Vec<Matcher>,
}

/// The metric names and label names an expression uses.
#[derive(Debug, Default, PartialEq, Eq)]
struct Refs {
    selectors: Vec<Selector>,
    /// Labels in `by`, `without`, `on`, `ignoring`, `group_left` and `group_right` lists.
    grouping: Vec<String>,
}

/// Words that are PromQL, not metric names: aggregations (which may be followed by `by (...)`
/// before their `(`) and keywords. Any other word followed by `(` is a function: a metric name
/// never is.
const KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "inf",
    "nan",
    "Inf",
    "NaN",
];
const GROUPING: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];

/// Reads `expr` (PromQL, with Grafana's `$variables`) for the series it names. Strings, numbers,
/// durations, ranges and subqueries (`[...]`), function and aggregation names and keywords are
/// skipped; identifiers left are metric names, each with the matchers in the braces after it.
fn refs(expr: &str) -> Refs {
    let chars: Vec<char> = expr.chars().collect();
    let mut refs = Refs::default();
    let mut i = 0;
    let is_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let is_part = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let next_non_space = |mut j: usize| {
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        j
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
        } else if c == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            i += 1;
        } else if c == '$' {
            // A Grafana variable: `$name`, `$__rate_interval`, `${name}`.
            i += 1;
            if chars.get(i) == Some(&'{') {
                while i < chars.len() && chars[i] != '}' {
                    i += 1;
                }
                i += 1;
            } else {
                while i < chars.len() && is_part(chars[i]) {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c == '{' {
            let (matchers, end) = read_matchers(&chars, i);
            refs.selectors.push(Selector { metric: String::new(), matchers });
            i = end;
        } else if is_start(c) {
            let start = i;
            while i < chars.len() && is_part(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let after = next_non_space(i);
            if GROUPING.contains(&word.as_str()) && chars.get(after) == Some(&'(') {
                let close = chars[after..].iter().position(|&c| c == ')').map_or(chars.len(), |p| after + p);
                let list: String = chars[after + 1..close.min(chars.len())].iter().collect();
                refs.grouping.extend(list.split(',').map(str::trim).filter(|l| !l.is_empty()).map(str::to_string));
                i = close + 1;
            } else if chars.get(after) == Some(&'(') || KEYWORDS.contains(&word.as_str()) {
                // A function or an aggregation, or a keyword.
            } else if chars.get(after) == Some(&'{') {
                let (matchers, end) = read_matchers(&chars, after);
                refs.selectors.push(Selector { metric: word, matchers });
                i = end;
            } else {
                refs.selectors.push(Selector { metric: word, matchers: Vec::new() });
            }
        } else {
            i += 1;
        }
    }
    refs
}

/// The index after the string literal that starts at `start`.
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' && quote != '`' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// The matchers in the braces that open at `open`, and the index after the closing brace.
fn read_matchers(chars: &[char], open: usize) -> (Vec<Matcher>, usize) {
    let mut matchers = Vec::new();
    let mut i = open + 1;
    loop {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        if i >= chars.len() || chars[i] == '}' {
            return (matchers, i + 1);
        }
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        let label: String = chars[start..i].iter().collect();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let op_start = i;
        while i < chars.len() && ['=', '!', '~'].contains(&chars[i]) {
            i += 1;
        }
        let op: String = chars[op_start..i].iter().collect();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let end = skip_string(chars, i);
        let value: String = chars[(i + 1).min(chars.len())..(end - 1).min(chars.len())].iter().collect();
        matchers.push(Matcher { label, op, value: value.replace("\\\\", "\\").replace("\\\"", "\"") });
        i = end;
    }
}

/// What `expr` names that `scrape` does not have: metric names that are not sample names,
/// label names no series of that metric carries, values of `=` matchers no series has (with
/// `values`), and grouping labels none of the expression's metrics carries. Empty when every
/// series the expression reads exists.
fn missing(expr: &str, scrape: &Scrape, values: bool) -> Vec<String> {
    let refs = refs(expr);
    let mut missing = Vec::new();
    if refs.selectors.is_empty() {
        missing.push("no series at all".to_string());
    }
    for selector in &refs.selectors {
        let metric = &selector.metric;
        if metric.is_empty() {
            missing.push(format!("a selector without a metric name: {selector:?}"));
            continue;
        }
        if !scrape.series.contains_key(metric) {
            missing.push(format!("series {metric}"));
            continue;
        }
        for m in &selector.matchers {
            if !scrape.has_label(metric, &m.label) {
                missing.push(format!("label {} on {metric}", m.label));
            } else if values && m.op == "=" && !m.value.contains('$') && !scrape.has_value(metric, &m.label, &m.value) {
                missing.push(format!("{metric}{{{}=\"{}\"}}", m.label, m.value));
            }
        }
    }
    for label in &refs.grouping {
        if !refs.selectors.iter().any(|s| scrape.has_label(&s.metric, label)) {
            missing.push(format!("grouping label {label}"));
        }
    }
    missing
}

// ------------------------------------------------------------------------------------------
// The files

/// Every `expr` of the dashboard's panels and every query of its query variables, with where
/// it is.
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap_or_default();
            queries.push((
                format!("panel {:?} {}", panel["title"].as_str().unwrap_or_default(), target["refId"]),
                expr.to_string(),
            ));
        }
    }
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        if variable["type"] != "query" {
            continue;
        }
        let query = variable["query"]["query"].as_str().or(variable["query"].as_str()).unwrap_or_default();
        // `label_values(selector, label)`: the selector is PromQL, the label one of its labels.
        let (selector, label) = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .and_then(|q| q.rsplit_once(','))
            .unwrap_or_else(|| panic!("variable query {query:?} is not label_values(selector, label)"));
        let expr = format!("max by ({}) ({selector})", label.trim());
        queries.push((format!("variable {}", variable["name"]), expr));
    }
    queries
}

/// The `expr:` of every rule in a rules file (a value on the line, or a `|` / `>` block under
/// it), with the rule's name: read by hand, as the file is plain YAML of one shape.
fn rule_exprs(yaml: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut exprs = Vec::new();
    let mut rule = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let trimmed = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        if let Some(name) = trimmed.strip_prefix("alert:").or(trimmed.strip_prefix("record:")) {
            rule = name.trim().to_string();
        }
        if let Some(rest) = trimmed.strip_prefix("expr:") {
            let rest = rest.trim();
            if rest.starts_with('|') || rest.starts_with('>') {
                let indent = line.len() - line.trim_start().len();
                let mut block = Vec::new();
                while i + 1 < lines.len()
                    && (lines[i + 1].trim().is_empty() || lines[i + 1].len() - lines[i + 1].trim_start().len() > indent)
                {
                    i += 1;
                    block.push(lines[i].trim());
                }
                exprs.push((rule.clone(), block.join("\n").trim().to_string()));
            } else {
                exprs.push((rule.clone(), unquote(rest)));
            }
        }
        i += 1;
    }
    exprs
}

fn unquote(text: &str) -> String {
    let text = text.trim();
    if text.len() >= 2 && text.starts_with('\'') && text.ends_with('\'') {
        text[1..text.len() - 1].replace("''", "'")
    } else if text.len() >= 2 && text.starts_with('"') && text.ends_with('"') {
        text[1..text.len() - 1].replace("\\\"", "\"").replace("\\\\", "\\")
    } else {
        text.to_string()
    }
}

/// The promtool tests' input series (`- series: '...'`).
fn test_series(yaml: &str) -> Vec<String> {
    yaml.lines()
        .filter_map(|l| l.trim_start().strip_prefix("- series:").or(l.trim_start().strip_prefix("series:")))
        .map(unquote)
        .collect()
}

/// Per alert name in the promtool tests: (cases expecting it to fire, cases expecting it not to).
fn test_cases(yaml: &str) -> BTreeMap<String, (usize, usize)> {
    let mut cases: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut alert = None;
    for line in yaml.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("alertname:") {
            alert = Some(name.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("exp_alerts:") {
            let entry = cases.entry(alert.take().expect("exp_alerts after an alertname")).or_default();
            if rest.trim() == "[]" {
                entry.1 += 1;
            } else {
                entry.0 += 1;
            }
        }
    }
    cases
}

// ------------------------------------------------------------------------------------------
// The load and the checks

/// A short load through the real host that makes every series the dashboard and the rules
/// read, then one scrape.
async fn scrape_after_a_short_load() -> Scrape {
    // Its stream lists would count in `metrics`' exact deltas.
    let _alone = super::SCRAPES.lock().await;
    let stack = Stack::start(StackOptions {
        table_settings: vec![("[playback]", "status_videos = true".into())],
        limits: "streams_per_minute = 0\nplayback_per_minute = 0\nconfigure_checks_per_minute = 1".into(),
        ..Default::default()
    })
    .await;
    let host = stack.host.url();
    let get = |url: String, agent: &'static str| http().get(url).header("user-agent", agent).send();
    // A release whose download fails on TorBox: its playback fails over to another one.
    let dead = "The.Shawshank.Redemption.1994.2160p.WEB-DL.x265-DEAD";
    stack.torznab.add_release(Release::movie(MOVIE, dead, DEAD_2160).size(20_000_000_000).seeders(30));
    stack.torbox.add_failing(DEAD_2160, dead, &[(&format!("{dead}.mkv"), 20_000_000_000)], "error", 100, 0);

    // Stream lists: Chillstreams' pool key, the operator's and a user's indexer; the second
    // list comes from the caches.
    let config = Stack::config(&json!({
        "stores": [{"c": "tb", "auth": USER}],
        "indexers": [{"n": "jackett", "u": stack.user_torznab.torznab_url(), "ak": USER_INDEXER_KEY}],
    }));
    let mut lists = Vec::new();
    for _ in 0..2 {
        let response = get(stack.stream_url(&config, "movie", MOVIE), STREMIO_UA).await.unwrap();
        assert_eq!(response.status(), 200);
        lists.push(response.json::<Value>().await.unwrap());
    }
    let streams = lists[1]["streams"].as_array().cloned().unwrap_or_default();
    let url_of = |hash: &str| {
        streams
            .iter()
            .find_map(|s| s["url"].as_str().filter(|u| u.contains(hash)).map(str::to_string))
            .unwrap_or_else(|| panic!("no {hash} in {streams:#?}"))
    };

    // Playback: a cached release (302 to TorBox), an uncached one (created, then 302), a failed
    // one (failed over, 302), and a malformed link (302 to the not_found clip, which the player
    // then fetches).
    for hash in [MOVIE_1080, MOVIE_720_UNCACHED, DEAD_2160] {
        let played = get(url_of(hash), PLAYER_UA).await.unwrap();
        assert_eq!(played.status(), 302, "{hash}");
        let location = played.headers()["location"].to_str().unwrap().to_string();
        assert!(!location.contains("/_/status/"), "{hash} played: {location}");
    }
    let broken = get(url_of(MOVIE_2160).replace(MOVIE_2160, "nothex"), PLAYER_UA).await.unwrap();
    assert_eq!(broken.status(), 302);
    let clip = broken.headers()["location"].to_str().unwrap().to_string();
    assert!(clip.contains("/_/status/not_found.mp4"), "{clip}");
    assert_eq!(get(clip, PLAYER_UA).await.unwrap().status(), 200);

    // The operator's indexer fails: its searches are errors, and a list with no other source is
    // a ⚠️ warning.
    stack.torznab.set_mode(Mode::ServerError);
    let only_operator = Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}));
    let response = get(stack.stream_url(&only_operator, "series", &format!("{SERIES}:1:4")), STREMIO_UA).await;
    let body: Value = response.unwrap().json().await.unwrap();
    let streams = body["streams"].as_array().cloned().unwrap_or_default();
    assert!(!warning_descriptions(&streams).is_empty(), "expected a ⚠️ list: {body:#}");
    stack.torznab.set_mode(Mode::Normal);

    // An inbound limit: the configure check allows one a minute here.
    let check = format!("{host}/stremio/torz/configure/check");
    let body = json!({"stores": [{"c": "tb", "t": TOKEN}]}).to_string();
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let response =
            http().post(&check).header("content-type", "application/json").body(body.clone()).send().await.unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 429]);

    // Usage delivery lands in the background; one scrape once it has.
    let started = std::time::Instant::now();
    loop {
        let text = http().get(format!("{host}/metrics")).send().await.unwrap().text().await.unwrap();
        let scrape = Scrape::parse(&text);
        let delivered = text.lines().any(|l| l.starts_with("chillproxy_usage_delivered_total ") && !l.ends_with(" 0"));
        if delivered || started.elapsed() > std::time::Duration::from_secs(5) {
            return scrape;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn every_dashboard_and_alert_query_reads_series_a_real_scrape_has() {
    let scrape = scrape_after_a_short_load().await;

    let dashboard: Value = serde_json::from_str(&read("deploy/grafana/chillproxy.json")).unwrap();
    let queries = dashboard_queries(&dashboard);
    assert!(queries.len() >= 20, "{} queries", queries.len());
    let rules = rule_exprs(&read("deploy/prometheus/chillproxy-rules.yml"));
    assert!(rules.len() >= 7, "{rules:#?}");

    let mut problems = Vec::new();
    for (place, expr) in queries.iter().chain(&rules) {
        for what in missing(expr, &scrape, true) {
            problems.push(format!("{place}: {what}\n    in {expr}"));
        }
    }
    // The promtool tests' input series: names and label names as exported (their values are
    // made up for the cases, like `tier="redis"` or `status="500"`).
    let series = test_series(&read("deploy/prometheus/chillproxy-rules.test.yml"));
    assert!(series.len() >= 14, "{series:#?}");
    for selector in &series {
        for what in missing(selector, &scrape, false) {
            problems.push(format!("promtool test series: {what}\n    in {selector}"));
        }
    }
    let known: Vec<&String> = scrape.series.keys().collect();
    assert!(problems.is_empty(), "not in the scrape:\n{}\n\nthe scrape has {known:#?}", problems.join("\n"));

    // The same checker refuses what the server does not export.
    for (wrong, why) in [
        ("sum(rate(chillproxy_http_requests_totl[5m]))", "series chillproxy_http_requests_totl"),
        ("chillproxy_http_request_duration_seconds", "series chillproxy_http_request_duration_seconds"),
        ("sum by (path) (rate(chillproxy_http_requests_total[5m]))", "grouping label path"),
        ("chillproxy_breaker_open{component=\"chillstreams\"}", "label component on chillproxy_breaker_open"),
        ("chillproxy_breaker_open{plugin=\"chillstream\"}", "chillproxy_breaker_open{plugin=\"chillstream\"}"),
        ("rate(chillproxy_playbacks_total{outcome=\"ok\"}[5m])", "series chillproxy_playbacks_total"),
    ] {
        let found = missing(wrong, &scrape, true);
        assert!(found.iter().any(|m| m == why), "{wrong}: expected {why:?}, got {found:?}");
    }
}

#[test]
fn promql_references_are_read_past_functions_keywords_strings_and_variables() {
    let expr = "histogram_quantile(0.95, sum by (route, le) (rate(a_bucket{instance=~\"$instance\", \
                route=~\".*/_/(strem|play)/.*\"}[$__rate_interval]))) / on() group_left \
                sum without(x)(b_total offset 5m) > bool 1e3 and c unless {__name__=\"d\"}";
    let refs = refs(expr);
    let names: Vec<&str> = refs.selectors.iter().map(|s| s.metric.as_str()).collect();
    assert_eq!(names, ["a_bucket", "b_total", "c", ""]);
    assert_eq!(
        refs.selectors[0].matchers,
        [
            Matcher { label: "instance".into(), op: "=~".into(), value: "$instance".into() },
            Matcher { label: "route".into(), op: "=~".into(), value: ".*/_/(strem|play)/.*".into() },
        ]
    );
    assert_eq!(refs.grouping, ["route", "le", "x"]);
    assert_eq!(refs.selectors[3].matchers[0].value, "d");
    let rule = "- alert: A\n  expr: |\n    sum(x)\n    > 1\n  for: 5m\n- alert: B\n  expr: y == 0\n";
    assert_eq!(rule_exprs(rule), [("A".to_string(), "sum(x)\n> 1".to_string()), ("B".into(), "y == 0".into())]);
}

#[test]
fn the_dashboard_is_a_grafana_dashboard_with_a_prometheus_datasource_variable() {
    let dashboard: Value = serde_json::from_str(&read("deploy/grafana/chillproxy.json")).unwrap();
    for field in ["title", "uid"] {
        assert!(dashboard[field].as_str().is_some_and(|s| !s.is_empty()), "{field}");
    }
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 36), "schemaVersion");
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    let datasource = variables
        .iter()
        .find(|v| v["type"] == "datasource" && v["query"] == "prometheus")
        .expect("a datasource variable for Prometheus");
    let uid = format!("${{{}}}", datasource["name"].as_str().unwrap());
    assert_eq!(uid, "${datasource}");
    for variable in variables.iter().filter(|v| v["type"] == "query") {
        assert_eq!(variable["datasource"]["uid"], uid, "variable {}", variable["name"]);
    }

    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 20, "{} panels", panels.len());
    let mut ids = BTreeSet::new();
    let mut boxes = Vec::new();
    for panel in panels {
        let title = panel["title"].as_str().unwrap_or_default();
        assert!(!title.is_empty(), "a panel without a title: {panel}");
        assert!(ids.insert(panel["id"].as_u64().expect("a numeric panel id")), "id {} twice", panel["id"]);
        let grid = &panel["gridPos"];
        let [h, w, x, y] = ["h", "w", "x", "y"].map(|k| grid[k].as_u64().unwrap_or_else(|| panic!("{title}: gridPos")));
        assert!(h > 0 && w > 0 && x + w <= 24, "{title}: gridPos {grid}");
        for (other, (ox, oy, ow, oh)) in &boxes {
            let apart = x + w <= *ox || *ox + *ow <= x || y + h <= *oy || *oy + *oh <= y;
            assert!(apart, "{title} overlaps {other}");
        }
        boxes.push((title.to_string(), (x, y, w, h)));
        let kind = panel["type"].as_str().unwrap_or_default();
        if kind == "row" {
            assert!(panel.get("targets").is_none(), "row {title} has targets");
            continue;
        }
        assert!(["timeseries", "stat", "gauge", "bargauge", "table"].contains(&kind), "{title}: type {kind}");
        assert_eq!(panel["datasource"]["type"], "prometheus", "{title}");
        assert_eq!(panel["datasource"]["uid"], uid, "{title}");
        let targets = panel["targets"].as_array().unwrap_or_else(|| panic!("{title}: no targets"));
        assert!(!targets.is_empty(), "{title}: no targets");
        let mut ref_ids = BTreeSet::new();
        for target in targets {
            assert!(target["expr"].as_str().is_some_and(|e| !e.trim().is_empty()), "{title}: a target without expr");
            let ref_id = target["refId"].as_str().unwrap_or_else(|| panic!("{title}: a target without refId"));
            assert!(ref_ids.insert(ref_id.to_string()), "{title}: refId {ref_id} twice");
            assert_eq!(target["datasource"]["uid"], uid, "{title} {ref_id}");
        }
    }
}

#[test]
fn every_alert_rule_has_a_promtool_case_that_fires_it_and_one_that_does_not() {
    let rules = rule_exprs(&read("deploy/prometheus/chillproxy-rules.yml"));
    let cases = test_cases(&read("deploy/prometheus/chillproxy-rules.test.yml"));
    for (rule, _) in &rules {
        let (fires, quiet) = cases.get(rule).copied().unwrap_or_default();
        assert!(fires >= 1 && quiet >= 1, "{rule}: {fires} cases that fire it, {quiet} that do not");
    }
    let names: BTreeSet<&String> = rules.iter().map(|(r, _)| r).collect();
    for tested in cases.keys() {
        assert!(names.contains(tested), "the tests name {tested}, which no rule is");
    }
}
