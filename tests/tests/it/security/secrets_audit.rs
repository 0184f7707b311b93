//! One full run, every log line captured at TRACE (the HTTP clients' own `log` records too):
//! every auth mode (auth only, token only, both, Chillstreams down), every route (manifests,
//! configure pages, stream lists, playback GET and HEAD, health), success and failure paths
//! (device limit, TorBox 401 and 429, indexers down, bad configs, uncached and never-finishing
//! torrents). Then no pool key, user token, internal API key or indexer key (the operator's and
//! the user's) may appear in the logs, in any response head or body, or in any generated URL,
//! except inside the user's own `{config}` segment, which is their config. Secrets are looked for
//! as they are and base64-encoded (standard and URL-safe, at every alignment).
//!
//! One test in this binary: it installs the global subscriber.

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use chillproxy_tests::client::warning_descriptions as warnings;
use chillproxy_tests::fakes::chillstreams::Mode as ChillMode;
use chillproxy_tests::fakes::torbox::Fault;
use chillproxy_tests::fakes::torznab::Mode as TorznabMode;
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

/// A user token TorBox does not know (the TorBox 401 path).
const REVOKED_TOKEN: &str = "tb-revoked-token-4a7d9c2e1b";

/// Everything the server sent back, and every URL it generated.
#[derive(Default)]
struct Seen {
    /// (what was asked, response head and body).
    responses: Vec<(String, String)>,
    /// (where it was found, URL).
    urls: Vec<(String, String)>,
    /// The `{config}` segments the test made up: the user's own, allowed in URLs.
    own_segments: Vec<String>,
    /// The credentials each own segment carries (`t`, `ak`): the configure page of that very
    /// config may fill its form with them.
    own_credentials: Vec<(String, Vec<String>)>,
}

impl Seen {
    fn config(&mut self, json: &Value) -> String {
        let segment = Stack::config(json);
        self.own_segments.push(segment.clone());
        let mut credentials = Vec::new();
        collect_credentials(json, &mut credentials);
        self.own_credentials.push((segment.clone(), credentials));
        segment
    }

    /// A raw segment (not base64 of JSON), also the user's own.
    fn raw_segment(&mut self, segment: &str) -> String {
        self.own_segments.push(segment.to_string());
        segment.to_string()
    }

    /// Sends one request, records its head, body and every URL in it. Returns (status, body).
    async fn fetch(&mut self, method: reqwest::Method, url: &str, user_agent: &str) -> (u16, String) {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let response = client.request(method.clone(), url).header("user-agent", user_agent).send().await.unwrap();
        let status = response.status().as_u16();
        let mut head = format!("HTTP {status}\n");
        for (name, value) in response.headers() {
            head.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())));
        }
        if let Some(location) = response.headers().get("location") {
            self.urls.push((format!("Location of {method} {url}"), location.to_str().unwrap().to_string()));
        }
        let body = response.text().await.unwrap();
        if let Ok(json) = serde_json::from_str::<Value>(&body) {
            collect_urls(&json, &format!("{method} {url}"), &mut self.urls);
        }
        self.urls.push(("requested".to_string(), url.to_string()));
        self.responses.push((format!("{method} {url}"), format!("{head}\n{body}")));
        (status, body)
    }

    async fn streams(&mut self, url: &str, user_agent: &str) -> Vec<Value> {
        let (status, body) = self.fetch(reqwest::Method::GET, url, user_agent).await;
        assert_eq!(status, 200, "{url}: {body}");
        let json: Value = serde_json::from_str(&body).unwrap();
        json["streams"].as_array().cloned().unwrap_or_default()
    }

    /// GET on every playable stream, and HEAD where GET redirected (a HEAD of a torrent that
    /// never finishes would only wait as long again); returns the GET statuses.
    async fn play_all(&mut self, streams: &[Value], user_agent: &str) -> Vec<u16> {
        let mut statuses = Vec::new();
        for url in streams.iter().filter_map(|s| s["url"].as_str()) {
            let status = self.fetch(reqwest::Method::GET, url, user_agent).await.0;
            if status == 302 {
                self.fetch(reqwest::Method::HEAD, url, user_agent).await;
            }
            statuses.push(status);
        }
        statuses
    }
}

/// Every string under a `t` or `ak` key.
fn collect_credentials(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_credentials(v, out)),
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::String(s) if key == "t" || key == "ak" => out.push(s.clone()),
                    other => collect_credentials(other, out),
                }
            }
        }
        _ => {}
    }
}

/// The configure page of a user's own config fills its form with that config's credentials
/// (`value="…"` of a password field), so they can change it. That is the one place a response
/// may carry them, and only with `Cache-Control: no-store` and `Referrer-Policy: no-referrer`.
/// Returns the text with those form values blanked, or what is wrong.
fn allow_own_form_values(seen: &Seen, request: &str, text: &str) -> Result<String, String> {
    let Some(path) = request.split_once(' ').map(|(_, url)| url) else { return Ok(text.to_string()) };
    let own =
        seen.own_credentials.iter().find(|(segment, _)| path.ends_with(&format!("/stremio/torz/{segment}/configure")));
    let Some((_, credentials)) = own else { return Ok(text.to_string()) };
    let mut out = text.to_string();
    for credential in credentials {
        let field = format!(r#"type="password" value="{credential}""#);
        if out.contains(&field) {
            let head = text.split("\n\n").next().unwrap_or_default().to_ascii_lowercase();
            if !head.contains("cache-control: no-store") || !head.contains("referrer-policy: no-referrer") {
                return Err(format!("a filled configure page without no-store and no-referrer:\n{head}"));
            }
            out = out.replace(&field, r#"type="password" value="{own credential}""#);
        }
    }
    Ok(out)
}

fn collect_urls(value: &Value, context: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) if s.contains("://") => out.push((context.to_string(), s.clone())),
        Value::Array(items) => items.iter().for_each(|v| collect_urls(v, context, out)),
        Value::Object(map) => map.values().for_each(|v| collect_urls(v, context, out)),
        _ => {}
    }
}

/// The forms a secret could take in text: as it is, and base64 at each of the three byte
/// alignments (the part of the encoding that does not depend on the neighbouring bytes).
fn forms(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_string()];
    for engine in [&STANDARD, &URL_SAFE] {
        for offset in 0..3usize {
            let mut bytes = vec![b'x'; offset];
            bytes.extend_from_slice(secret.as_bytes());
            let encoded = engine.encode(&bytes);
            let skip = (offset * 4).div_ceil(3);
            let core = encoded.trim_end_matches('=');
            let core = &core[skip..core.len() - 3];
            out.push(core.to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The places where a secret shows up in `text`: (secret name, form, context around it).
fn find_secrets(text: &str, secrets: &[(&str, &str)]) -> Vec<String> {
    let mut found = Vec::new();
    for (name, secret) in secrets {
        for form in forms(secret) {
            if let Some(at) = text.find(&form) {
                let start = text[..at].char_indices().rev().nth(80).map(|(i, _)| i).unwrap_or(0);
                let end = (at + form.len() + 80).min(text.len());
                let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
                found.push(format!("{name} (as {form:?}) in …{}…", &text[start..end]));
            }
        }
    }
    found
}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_in_logs_responses_or_generated_urls() {
    let buffer = chillproxy_tests::logs::capture();

    let mut seen = Seen::default();
    let ua = "Stremio/4.4.168 (Windows)";
    let episode = format!("{SERIES}:1:3");

    // --- Chillstreams up: every auth mode, every route, success paths.
    let stack = Stack::start(StackOptions::default()).await;
    stack.user_torznab.add_releases([chillproxy_tests::fakes::torznab::Release::movie(
        MOVIE,
        "The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE",
        MOVIE_1080,
    )]);
    let host = stack.host.url();
    let user_indexer = json!({"n": "jackett", "u": stack.user_torznab.torznab_url(), "ak": USER_INDEXER_KEY});
    let auth_only = seen.config(&json!({"stores": [{"c": "tb", "auth": USER}], "indexers": [user_indexer]}));
    let token_only = seen.config(&json!({"stores": [{"c": "tb", "t": TOKEN}], "indexers": [user_indexer]}));
    let both = seen.config(&json!({"stores": [{"c": "tb", "t": TOKEN, "auth": USER}]}));
    let cached_only = seen.config(&json!({"stores": [{"c": "tb", "t": TOKEN}], "cached": true}));

    assert_eq!(seen.fetch(reqwest::Method::GET, &format!("{host}/health"), ua).await.0, 200);
    seen.fetch(reqwest::Method::GET, &format!("{host}/stremio/torz/manifest.json"), ua).await;
    seen.fetch(reqwest::Method::GET, &format!("{host}/stremio/torz/configure"), ua).await;
    seen.fetch(reqwest::Method::GET, &format!("{host}/stremio/torz/"), ua).await;
    seen.fetch(reqwest::Method::OPTIONS, &stack.manifest_url(&both), ua).await;
    for config in [&auth_only, &token_only, &both, &cached_only] {
        seen.fetch(reqwest::Method::GET, &stack.manifest_url(config), ua).await;
        seen.fetch(reqwest::Method::GET, &format!("{host}/stremio/torz/{config}/configure"), ua).await;
        for (kind, id) in [("movie", MOVIE), ("series", episode.as_str())] {
            let streams = seen.streams(&stack.stream_url(config, kind, id), ua).await;
            assert!(warnings(&streams).is_empty(), "{kind} {id}: {:?}", warnings(&streams));
            let statuses = seen.play_all(&streams, "mpv/0.38").await;
            // Cached ones redirect; the never-finishing 480p one answers 504 (once per config).
            assert!(statuses.contains(&302), "{statuses:?}");
        }
    }
    assert!(stack.torbox.calls().iter().any(|c| c.bearer() == Some(POOL_KEY)), "the pool key was used");
    assert!(stack.user_torznab.call_count() > 0, "the user's indexer was asked");

    // --- Failure paths.
    // TorBox 401 for a user token, and for the pool key (forgotten and asked for again).
    let revoked = seen.config(&json!({"stores": [{"c": "tb", "t": REVOKED_TOKEN}]}));
    let streams = seen.streams(&stack.stream_url(&revoked, "series", &format!("{SERIES}:1:4")), ua).await;
    assert!(warnings(&streams).iter().any(|w| w.contains("rejected")), "{streams:#?}");
    let url = format!("{host}/stremio/torz/{revoked}/_/strem/{MOVIE}/tb/{MOVIE_1080}/0/x.mkv");
    assert_eq!(seen.fetch(reqwest::Method::GET, &url, ua).await.0, 401);
    stack.torbox.set_fault(Fault::Error { status: 401, code: "BAD_TOKEN".into(), detail: "Invalid API token.".into() });
    let fresh = seen.config(&json!({"stores": [{"c": "tb", "auth": USER}], "cached": true}));
    let url = format!("{host}/stremio/torz/{fresh}/_/strem/{MOVIE}/tb/{MOVIE_2160}/0/y.mkv");
    assert_eq!(seen.fetch(reqwest::Method::GET, &url, ua).await.0, 401);
    seen.fetch(reqwest::Method::HEAD, &url, ua).await;
    // TorBox 429.
    stack.torbox.set_fault(Fault::RateLimited { retry_after_secs: 3 });
    let streams = seen.streams(&stack.stream_url(&token_only, "series", &format!("{SERIES}:1:4")), ua).await;
    assert!(warnings(&streams).iter().any(|w| w.contains("rate limiting")), "{streams:#?}");
    let url = format!("{host}/stremio/torz/{token_only}/_/strem/{MOVIE}/tb/{MOVIE_720_UNCACHED}/-1/");
    assert_eq!(seen.fetch(reqwest::Method::GET, &url, ua).await.0, 429);
    stack.torbox.set_fault(Fault::None);
    // TorBox answering garbage.
    stack.torbox.set_fault(Fault::HtmlPage { status: 502 });
    let url = format!("{host}/stremio/torz/{both}/_/strem/{MOVIE}/tb/{EPISODE_S01E04}/0/z.mkv");
    seen.fetch(reqwest::Method::GET, &url, ua).await;
    stack.torbox.set_fault(Fault::None);
    // Indexers down: the operator's and the user's (whose URL also carries its key).
    stack.torznab.set_mode(TorznabMode::ServerError);
    stack.user_torznab.set_mode(TorznabMode::InvalidXml);
    let keyed_url = format!("{}?apikey={USER_INDEXER_KEY}", stack.user_torznab.torznab_url());
    let indexers_down = seen.config(&json!({
        "stores": [{"c": "tb", "t": TOKEN}],
        "indexers": [
            {"n": "jackett", "u": keyed_url, "ak": USER_INDEXER_KEY},
            {"n": "", "u": format!("http://127.0.0.1:1/x?apikey={USER_INDEXER_KEY}")},
        ],
    }));
    let streams = seen.streams(&stack.stream_url(&indexers_down, "movie", "tt0110912"), ua).await;
    assert!(warnings(&streams).iter().any(|w| w.contains("indexer")), "{streams:#?}");
    stack.torznab.set_mode(TorznabMode::Normal);
    stack.user_torznab.set_mode(TorznabMode::Normal);
    // Device limit.
    stack.chillstreams.add_devices(USER, &["tv", "phone", "laptop", "tablet"]);
    let streams = seen.streams(&stack.stream_url(&auth_only, "movie", MOVIE), "a-new-device/1").await;
    assert!(warnings(&streams).iter().any(|w| w.contains("Device limit reached")), "{streams:#?}");
    let url = format!("{host}/stremio/torz/{auth_only}/_/strem/{MOVIE}/tb/{MOVIE_1080}/0/a.mkv");
    assert_eq!(seen.fetch(reqwest::Method::GET, &url, "another-new-device/1").await.0, 403);
    // Chillstreams failing in every way.
    for mode in [ChillMode::Error500, ChillMode::Garbage, ChillMode::AllowedWithoutKey] {
        stack.chillstreams.set_mode(mode);
        let other = seen.config(&json!({"stores": [{"c": "tb", "auth": "00000000-0000-4000-8000-000000000001"}]}));
        seen.streams(&stack.stream_url(&other, "movie", MOVIE), ua).await;
        seen.streams(&stack.stream_url(&both, "movie", "tt0133093"), "yet-another-device").await;
    }
    stack.chillstreams.set_mode(ChillMode::Normal);
    // Bad configs that carry a token: the problem never quotes it.
    for config in [
        json!({"stores": [{"c": "tb", "t": TOKEN, "auth": 5}]}),
        json!({"stores": [{"c": "zz", "t": TOKEN}]}),
        json!({"stores": [{"c": "tb", "t": TOKEN}, {"c": "tb", "t": TOKEN}]}),
        json!({"stores": [{"c": "tb", "t": TOKEN}], "indexers": [{"n": "j", "u": format!("ftp://h/?apikey={USER_INDEXER_KEY}"), "ak": USER_INDEXER_KEY}]}),
        json!({"stores": TOKEN}),
        json!({"stores": [{"c": "tb", "t": [TOKEN]}]}),
    ] {
        let segment = seen.config(&config);
        let streams = seen.streams(&stack.stream_url(&segment, "movie", MOVIE), ua).await;
        assert_eq!(streams.len(), 1, "{config}: {streams:#?}");
        let url = format!("{host}/stremio/torz/{segment}/_/strem/{MOVIE}/tb/{MOVIE_1080}/0/b.mkv");
        assert_eq!(seen.fetch(reqwest::Method::GET, &url, ua).await.0, 400);
        seen.fetch(reqwest::Method::GET, &stack.manifest_url(&segment), ua).await;
    }
    for raw in [
        format!("{{\"stores\":[{{\"c\":\"tb\",\"t\":\"{TOKEN}\"").into_bytes(),
        format!("{{\"stores\":[{{\"c\":\"tb\",\"t\":\"{TOKEN}\" \"x\"}}]}}").into_bytes(),
    ] {
        let segment = seen.raw_segment(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw));
        seen.streams(&stack.stream_url(&segment, "movie", MOVIE), ua).await;
    }
    let not_base64 = seen.raw_segment(&format!("t={TOKEN}"));
    seen.streams(&stack.stream_url(&not_base64, "movie", MOVIE), ua).await;

    // --- RealDebrid, AllDebrid (uploads refused without a proxy) and Premiumize (key in the
    // query string): success and failure paths.
    use chillproxy_tests::fakes::debrid::Fault as DebridFault;
    let debrid = seen.config(&json!({"stores": [
        {"c": "rd", "t": RD_TOKEN}, {"c": "ad", "t": AD_KEY}, {"c": "pm", "t": PM_KEY}
    ]}));
    for (kind, id) in [("movie", MOVIE), ("series", episode.as_str())] {
        let streams = seen.streams(&stack.stream_url(&debrid, kind, id), ua).await;
        let statuses = seen.play_all(&streams, "mpv/0.38").await;
        assert!(statuses.contains(&302), "{statuses:?}");
    }
    assert!(stack.premiumize.calls().iter().any(|c| c.query.contains("apikey=")), "Premiumize got its key");
    for fault in [DebridFault::RateLimited { retry_after_secs: 2 }, DebridFault::ServerError { status: 502 }] {
        stack.realdebrid.set_fault(fault.clone());
        stack.alldebrid.set_fault(fault.clone());
        stack.premiumize.set_fault(fault);
        for code in ["rd", "ad", "pm"] {
            let url = format!("{host}/stremio/torz/{debrid}/_/strem/{MOVIE}/{code}/{MOVIE_720_UNCACHED}/-1/");
            assert!(seen.fetch(reqwest::Method::GET, &url, ua).await.0 >= 400);
        }
        seen.streams(&stack.stream_url(&debrid, "series", &format!("{SERIES}:1:4")), ua).await;
    }
    stack.realdebrid.set_fault(DebridFault::None);
    stack.alldebrid.set_fault(DebridFault::None);
    stack.premiumize.set_fault(DebridFault::None);
    let wrong = seen
        .config(&json!({"stores": [{"c": "pm", "t": "pm-wrong-key-SECRET-1"}, {"c": "rd", "t": "rd-wrong-SECRET-2"}]}));
    let streams = seen.streams(&stack.stream_url(&wrong, "movie", MOVIE), ua).await;
    assert!(warnings(&streams).iter().any(|w| w.contains("RealDebrid rejected")), "{streams:#?}");

    // --- Chillstreams down: auth only fails, both falls back to the token.
    let down = Stack::start(StackOptions { chillstreams_down: true, ..StackOptions::default() }).await;
    let down_host = down.host.url();
    for config in [&auth_only, &both] {
        let streams = seen.streams(&down.stream_url(config, "movie", MOVIE), ua).await;
        seen.play_all(&streams, "mpv/0.38").await;
        let url = format!("{down_host}/stremio/torz/{config}/_/strem/{MOVIE}/tb/{MOVIE_1080}/0/c.mkv");
        seen.fetch(reqwest::Method::GET, &url, ua).await;
        seen.fetch(reqwest::Method::HEAD, &url, ua).await;
    }
    seen.fetch(reqwest::Method::GET, &format!("{down_host}/health"), ua).await;

    // Let background work (usage reports) finish and log.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // --- The audit.
    let secrets = [
        ("pool key", POOL_KEY),
        ("user token", TOKEN),
        ("revoked user token", REVOKED_TOKEN),
        ("internal API key", INTERNAL_API_KEY),
        ("operator indexer key", INDEXER_KEY),
        ("user indexer key", USER_INDEXER_KEY),
        ("RealDebrid token", RD_TOKEN),
        ("AllDebrid key", AD_KEY),
        ("Premiumize key", PM_KEY),
        ("wrong Premiumize key", "pm-wrong-key-SECRET-1"),
        ("wrong RealDebrid token", "rd-wrong-SECRET-2"),
    ];
    let logs = buffer.text();
    assert!(logs.contains("TRACE"), "TRACE level was captured");
    assert!(logs.contains("chillstreams granted a pool key"), "the host's own logs were captured");
    assert!(logs.contains("torbox call"), "the TorBox plugin's logs were captured");
    assert!(
        logs.contains("premiumize call") && logs.contains("realdebrid call"),
        "the debrid plugins' logs were captured"
    );
    assert!(logs.contains("reqwest") || logs.contains("hyper"), "the HTTP clients' log records were captured");
    // The search sees through base64: the user's token is found in their own config segment.
    assert!(!find_secrets(&token_only, &[("user token", TOKEN)]).is_empty(), "base64 forms are searched");
    if let Ok(path) = std::env::var("SECRETS_AUDIT_DUMP") {
        std::fs::write(path, &logs).unwrap();
    }
    let mut problems = Vec::new();
    for found in find_secrets(&logs, &secrets) {
        problems.push(format!("logs: {found}"));
    }
    // The user's own config segments may appear in responses and URLs, nothing else.
    let mut own = seen.own_segments.clone();
    own.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let without_own = |text: &str| own.iter().fold(text.to_string(), |t, s| t.replace(s.as_str(), "{own config}"));
    for (request, response) in &seen.responses {
        let response = match allow_own_form_values(&seen, request, response) {
            Ok(text) => text,
            Err(problem) => {
                problems.push(format!("response to {request}: {problem}"));
                continue;
            }
        };
        for found in find_secrets(&without_own(&response), &secrets) {
            problems.push(format!("response to {request}: {found}"));
        }
    }
    for (context, url) in &seen.urls {
        for found in find_secrets(&without_own(url), &secrets) {
            problems.push(format!("URL {url} ({context}): {found}"));
        }
    }
    assert!(seen.responses.len() > 80, "{} responses", seen.responses.len());
    assert!(seen.urls.iter().any(|(_, u)| u.contains("/_/strem/")), "playback URLs were generated");
    assert!(
        problems.is_empty(),
        "{} secret leaks ({} log bytes, {} responses, {} URLs checked):\n{}",
        problems.len(),
        logs.len(),
        seen.responses.len(),
        seen.urls.len(),
        problems.join("\n")
    );
    eprintln!(
        "secrets audit: {} log bytes, {} responses, {} URLs, no secret found",
        logs.len(),
        seen.responses.len(),
        seen.urls.len()
    );
}
