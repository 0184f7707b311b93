//! A corpus of hostile requests against a running host: malformed configs, ids, hashes, file
//! indexes and names, overlong URLs, invalid UTF-8, wrong methods, odd headers and broken HTTP.
//! Requests are written byte by byte over a raw TCP socket, so inputs an HTTP client would
//! refuse to send reach the server as given.
//!
//! For every case: the answer is a 4xx, or (stream lists) a 200 with a single ⚠️ stream, or
//! (manifest and configure routes, which answer any config) a 200 page; never a 5xx. No case
//! reaches Chillstreams, TorBox or an indexer, unless it is a valid request with odd headers.
//! Afterwards `/health` answers and valid stream lists still work.

use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chillproxy_tests::stack::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ROOT: &str = "/stremio/torz";

/// What a case must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A 4xx.
    Reject,
    /// A 4xx, or a 200 stream list with exactly one stream, a ⚠️ one.
    RejectOrWarning,
    /// A 4xx, or a 200 JSON manifest (the unconfigured one for a bad config).
    Manifest,
    /// A 4xx, or a 200 HTML page.
    Page,
    /// A 4xx, or the connection closed without an answer (a request too large to read).
    RejectOrDrop,
    /// A valid request with odd headers: a 200 stream list with a playable stream. May reach
    /// the upstreams.
    Streams,
    /// 200 from `/health`, or a 4xx for a request the server will not read.
    Health,
    /// A valid playback with an odd extra: 302, or a 4xx for a malformed query. May reach the
    /// upstreams.
    Played,
}

struct Case {
    name: String,
    request: Vec<u8>,
    expect: Expect,
    /// Text the answer (head and body) must not contain, e.g. an injected `<script>`.
    must_not_contain: Vec<String>,
}

impl Case {
    fn new(name: impl Into<String>, request: Vec<u8>, expect: Expect) -> Self {
        Self { name: name.into(), request, expect, must_not_contain: Vec::new() }
    }

    fn get(name: impl Into<String>, path: &str, expect: Expect) -> Self {
        Self::new(name, request("GET", path, &[]), expect)
    }

    fn without(mut self, text: &str) -> Self {
        self.must_not_contain.push(text.to_string());
        self
    }
}

/// A request with `Host`, a user agent and `Connection: close`, plus `headers` (raw lines
/// without CRLF).
fn request(method: &str, path: &str, headers: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n").into_bytes();
    if !headers.iter().any(|h| h.to_ascii_lowercase().starts_with(b"user-agent:")) {
        out.extend_from_slice(b"User-Agent: hostile-corpus/1\r\n");
    }
    for header in headers {
        out.extend_from_slice(header);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A request whose head is exactly `head` (no header added).
fn raw_head(head: &[u8]) -> Vec<u8> {
    head.to_vec()
}

#[derive(Debug)]
struct RawResponse {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `bytes` on a fresh connection and reads the answer until the server closes.
/// `Ok(None)`: the connection closed (or was reset) before any answer.
async fn send_raw(addr: std::net::SocketAddr, bytes: &[u8]) -> Result<Option<RawResponse>, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    // The server may answer (and close) before it has read everything: a failed write is
    // not an error as long as an answer can be read.
    let _ = stream.write_all(bytes).await;
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
                Err(_) => break,
            }
        }
    })
    .await;
    if read.is_err() {
        return Err(format!("no end of answer within 20 s; got {} bytes", received.len()));
    }
    if received.is_empty() {
        return Ok(None);
    }
    parse_response(&received).map(Some)
}

fn parse_response(raw: &[u8]) -> Result<RawResponse, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no end of head in {:?}", String::from_utf8_lossy(&raw[..raw.len().min(200)])))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let rest = &raw[split + 4..];
    let status =
        head.split(' ').nth(1).and_then(|s| s.parse::<u16>().ok()).ok_or_else(|| format!("no status in {head:?}"))?;
    let mut response = RawResponse { status, head, body: Vec::new() };
    response.body = if response.header("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(length) = response.header("content-length").and_then(|l| l.parse::<usize>().ok()) {
        rest[..length.min(rest.len())].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(response)
}

fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n").ok_or("chunk size line")?;
        let size_text = String::from_utf8_lossy(&raw[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("chunk size {size_text:?}"))?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if raw.len() < size {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&raw[..size]);
        raw = raw.get(size + 2..).unwrap_or_default();
    }
}

/// Checks one answer against the case. `Err` says what is wrong.
fn judge(case: &Case, response: Option<&RawResponse>) -> Result<(), String> {
    let Some(response) = response else {
        return match case.expect {
            Expect::RejectOrDrop => Ok(()),
            _ => Err("the connection closed without an answer".into()),
        };
    };
    let status = response.status;
    let summary = || {
        let text = response.text();
        format!("HTTP {status}, body {:?}", text.chars().take(300).collect::<String>())
    };
    if status >= 500 {
        return Err(format!("server error: {}", summary()));
    }
    for text in &case.must_not_contain {
        if response.head.contains(text.as_str()) || response.text().contains(text.as_str()) {
            return Err(format!("the answer contains {text:?}: {}", summary()));
        }
    }
    let client_error = (400..500).contains(&status);
    let json = || serde_json::from_slice::<Value>(&response.body).ok();
    match case.expect {
        Expect::Reject | Expect::RejectOrDrop if client_error => Ok(()),
        Expect::Reject | Expect::RejectOrDrop => Err(format!("expected a 4xx: {}", summary())),
        Expect::RejectOrWarning if client_error => Ok(()),
        Expect::RejectOrWarning => {
            let streams = json().and_then(|j| j["streams"].as_array().cloned());
            match streams {
                Some(streams)
                    if status == 200
                        && streams.len() == 1
                        && streams[0]["name"].as_str().is_some_and(|n| n.starts_with("⚠️"))
                        && streams[0].get("url").is_none() =>
                {
                    Ok(())
                }
                _ => Err(format!("expected a 4xx or a single ⚠️ stream: {}", summary())),
            }
        }
        Expect::Manifest if client_error => Ok(()),
        Expect::Manifest => match json() {
            Some(manifest) if status == 200 && manifest["id"].is_string() && manifest["resources"].is_array() => Ok(()),
            _ => Err(format!("expected a 4xx or a manifest: {}", summary())),
        },
        Expect::Page if client_error => Ok(()),
        Expect::Page if status == 200 && response.header("content-type").is_some_and(|c| c.contains("text/html")) => {
            Ok(())
        }
        Expect::Page => Err(format!("expected a 4xx or an HTML page: {}", summary())),
        Expect::Streams => {
            let streams = json().and_then(|j| j["streams"].as_array().cloned()).unwrap_or_default();
            if status == 200 && streams.iter().any(|s| s["url"].is_string()) {
                Ok(())
            } else {
                Err(format!("expected a stream list with playable streams: {}", summary()))
            }
        }
        Expect::Played if status == 302 || client_error => Ok(()),
        Expect::Played => Err(format!("expected a 302 or a 4xx: {}", summary())),
        Expect::Health if status == 200 || client_error => Ok(()),
        Expect::Health => Err(format!("expected 200 or a 4xx: {}", summary())),
    }
}

fn b64(text: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

fn auth_config() -> String {
    Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}))
}

fn token_config() -> String {
    Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}))
}

fn stream_path(config: &str, kind: &str, id: &str) -> String {
    format!("{ROOT}/{config}/stream/{kind}/{id}.json")
}

fn play_path(config: &str, id: &str, store: &str, hash: &str, idx: &str, name: &str) -> String {
    format!("{ROOT}/{config}/_/strem/{id}/{store}/{hash}/{idx}/{name}")
}

const FILE: &str = "The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE.mkv";

/// `{config}` segments that are not a usable config (each is already path-safe).
fn bad_configs() -> Vec<(&'static str, String)> {
    let ok_store = format!(r#"{{"c":"tb","auth":"{USER}"}}"#);
    let many_stores = format!(r#"{{"stores":[{}]}}"#, vec![ok_store.clone(); 10_000].join(","));
    let many_empty_stores = format!(r#"{{"stores":[{}]}}"#, vec!["{}"; 10_000].join(","));
    let six_stores = format!(r#"{{"stores":[{}]}}"#, [r#"{"c":"tb","auth":"x"}"#; 6].join(","));
    let six_indexers = format!(
        r#"{{"stores":[{ok_store}],"indexers":[{}]}}"#,
        [r#"{"n":"j","u":"http://127.0.0.1:1/x","ak":"k"}"#; 6].join(",")
    );
    // Nested where a store is expected (an unknown field is skipped, however deep).
    let nested = format!(r#"{{"stores":{}{}}}"#, "[".repeat(3000), "]".repeat(3000));
    vec![
        ("bad base64", "not-base64!!".to_string()),
        ("base64 of plain text", b64(b"hello world")),
        ("base64 of invalid UTF-8", b64(&[0xff, 0xfe, 0xfd, 0x00, 0x80])),
        ("base64 with bad padding", "eyJzdG9yZXMiOltdfQ===".to_string()),
        ("base64 of nothing", "====".to_string()),
        ("JSON array", b64(b"[1,2,3]")),
        ("JSON null", b64(b"null")),
        ("JSON string", b64(br#""tb""#)),
        ("truncated JSON", b64(format!(r#"{{"stores":[{{"c":"tb","auth":"{USER}""#).as_bytes())),
        ("JSON with trailing garbage", b64(format!(r#"{{"stores":[{ok_store}]}}xyz"#).as_bytes())),
        ("stores is a string", b64(br#"{"stores":"tb"}"#)),
        ("stores of numbers", b64(br#"{"stores":[1,2]}"#)),
        ("store code is a number", b64(br#"{"stores":[{"c":5,"t":"x"}]}"#)),
        ("token is a number", b64(br#"{"stores":[{"c":"tb","t":123456789}]}"#)),
        ("auth is an object", b64(br#"{"stores":[{"c":"tb","auth":{"id":1}}]}"#)),
        ("cached is a string", b64(format!(r#"{{"stores":[{ok_store}],"cached":"yes"}}"#).as_bytes())),
        ("indexers is an object", b64(format!(r#"{{"stores":[{ok_store}],"indexers":{{"u":"x"}}}}"#).as_bytes())),
        ("huge float", b64(format!(r#"{{"stores":[{ok_store}],"cached":1e999}}"#).as_bytes())),
        ("huge integer token", b64(br#"{"stores":[{"c":"tb","t":123456789012345678901234567890}]}"#)),
        ("huge integer as a store", b64(br#"{"stores":[123456789012345678901234567890]}"#)),
        ("10,000 stores", b64(many_stores.as_bytes())),
        ("10,000 empty stores", b64(many_empty_stores.as_bytes())),
        ("6 stores", b64(six_stores.as_bytes())),
        ("6 indexers", b64(six_indexers.as_bytes())),
        ("no stores", b64(br#"{"stores":[]}"#)),
        ("empty object", b64(b"{}")),
        ("store without credentials", b64(br#"{"stores":[{"c":"tb"}]}"#)),
        ("empty token and auth", b64(br#"{"stores":[{"c":"tb","t":"","auth":"  "}]}"#)),
        ("non-UUID auth", b64(br#"{"stores":[{"c":"tb","auth":"not-a-uuid"}]}"#)),
        ("UUID with an injection", b64(format!(r#"{{"stores":[{{"c":"tb","auth":"{USER}' OR 1=1"}}]}}"#).as_bytes())),
        ("UUID without hyphens", b64(br#"{"stores":[{"c":"tb","auth":"550e8400e29b41d4a716446655440000"}]}"#)),
        ("UUID in braces", b64(br#"{"stores":[{"c":"tb","auth":"{550e8400-e29b-41d4-a716-4466554400}"}]}"#)),
        ("unknown store code", b64(br#"{"stores":[{"c":"zz","t":"x"}]}"#)),
        ("store code with unicode", b64("{\"stores\":[{\"c\":\"t\u{0431}\",\"t\":\"x\"}]}".as_bytes())),
        ("store code with a NUL", b64(b"{\"stores\":[{\"c\":\"tb\\u0000\",\"t\":\"x\"}]}")),
        ("store listed twice", b64(format!(r#"{{"stores":[{ok_store},{ok_store}]}}"#).as_bytes())),
        (
            "indexer with an ftp URL",
            b64(format!(r#"{{"stores":[{ok_store}],"indexers":[{{"n":"j","u":"ftp://h/x"}}]}}"#).as_bytes()),
        ),
        (
            "indexer with a javascript URL",
            b64(format!(r#"{{"stores":[{ok_store}],"indexers":[{{"n":"j","u":"javascript:alert(1)"}}]}}"#).as_bytes()),
        ),
        (
            "indexer with a file URL",
            b64(format!(r#"{{"stores":[{ok_store}],"indexers":[{{"n":"j","u":"file:///etc/passwd"}}]}}"#).as_bytes()),
        ),
        (
            "indexer with an empty URL",
            b64(format!(r#"{{"stores":[{ok_store}],"indexers":[{{"n":"j","u":" "}}]}}"#).as_bytes()),
        ),
        ("deeply nested JSON", b64(nested.as_bytes())),
        ("config over 8 KiB", "A".repeat(9_000)),
        ("percent-encoded invalid UTF-8", "%FF%FE".to_string()),
        ("percent-encoded invalid UTF-8 after a valid config", format!("{}%FF", auth_config())),
        ("percent-encoded NUL", "%00".to_string()),
        ("percent-encoded newline in base64", "eyJ%0AzdG9yZXMiOltdfQ".to_string()),
        ("percent-encoded slash", "..%2F..%2Fetc%2Fpasswd".to_string()),
        ("standard base64 with a percent-encoded slash", STANDARD.encode([0xff, 0xff, 0xff]).replace('/', "%2F")),
    ]
}

fn corpus() -> Vec<Case> {
    let ok = auth_config();
    let mut cases = Vec::new();

    // 1. Bad configs on every route that takes one.
    for (name, config) in bad_configs() {
        cases.push(Case::get(
            format!("config {name}: stream list"),
            &stream_path(&config, "movie", MOVIE),
            Expect::RejectOrWarning,
        ));
        cases.push(Case::get(
            format!("config {name}: playback"),
            &play_path(&config, MOVIE, "tb", MOVIE_1080, "0", FILE),
            Expect::Reject,
        ));
        cases.push(Case::get(
            format!("config {name}: manifest"),
            &format!("{ROOT}/{config}/manifest.json"),
            Expect::Manifest,
        ));
        cases.push(Case::get(format!("config {name}: configure"), &format!("{ROOT}/{config}/configure"), Expect::Page));
    }

    // 2. Invalid ids, on the stream list and in playback URLs.
    // (kind, id, invalid whatever the kind): playback URLs carry no kind (a `:` makes a series),
    // so only ids invalid for both kinds are tried there too.
    for (kind, id, any_kind) in [
        ("movie", "tt", true),
        ("series", "tt1:x:y", true),
        ("movie", "..%2F..%2Fetc", true),
        ("series", "..%2F..%2Fetc%2Fpasswd:1:1", true),
        ("movie", "tt0111161:1:1", false),
        ("series", "tt0903747", false),
        ("series", "tt0903747:1", false),
        ("movie", "tt12345678901", true),
        ("anime", MOVIE, false),
        ("..", MOVIE, false),
        ("movie", "kitsu:0", true),
        ("series", "kitsu:1:2:3", true),
        ("series", "kitsu:abc", true),
        ("movie", "kitsu:1:8", false),
        ("series", "mal:1", true),
        ("movie", "TT0111161", true),
        ("movie", "0111161", true),
        ("series", "tt0903747:-1:1", true),
        ("series", "tt0903747:1:1:1", true),
        ("series", "tt0903747:99999999:1", true),
        ("series", "tt0903747:1:99999999999999999999", true),
        ("movie", "tt0111161%00", true),
        ("movie", "tt0111161%0A", true),
        ("movie", "%FF%FE", true),
        ("movie", "tt%FF0111161", true),
        ("movie", "%3Cscript%3Ealert(1)%3C%2Fscript%3E", true),
        ("movie", "tt0111161%20", true),
        ("movie", "", true),
    ] {
        cases.push(Case::get(format!("id {kind}/{id}: stream list"), &stream_path(&ok, kind, id), Expect::Reject));
        if any_kind {
            cases.push(Case::get(
                format!("id {id}: playback"),
                &play_path(&ok, id, "tb", MOVIE_1080, "0", FILE),
                Expect::Reject,
            ));
        }
    }
    cases.push(Case::get("stream list without .json", &format!("{ROOT}/{ok}/stream/movie/{MOVIE}"), Expect::Reject));
    cases.push(Case::get(
        "stream list with .json.json",
        &stream_path(&ok, "movie", &format!("{MOVIE}.json")),
        Expect::Reject,
    ));
    cases.push(Case::get(
        "stream list with an extra segment",
        &format!("{ROOT}/{ok}/stream/movie/x/{MOVIE}.json"),
        Expect::Reject,
    ));

    // 3. Invalid hashes, stores, file indexes and file names in playback URLs.
    for hash in [
        "xyz",
        "111111111111111111111111111111111111111",
        "11111111111111111111111111111111111111111",
        "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
        "CEYMBKMIHJWZKKKFCHQO7H2YTC7IOYEP",
        "1111111111111111111111111111111111111111%00",
        "%FF%FE",
        "..%2F..%2F1111111111111111111111111111111111111111",
        "11111111111111111111%2011111111111111111111",
    ] {
        cases.push(Case::get(format!("hash {hash}"), &play_path(&ok, MOVIE, "tb", hash, "0", FILE), Expect::Reject));
    }
    for store in ["zz", "TB", "rd", "%FF", "t%00b", ".."] {
        cases.push(Case::get(
            format!("store {store}"),
            &play_path(&ok, MOVIE, store, MOVIE_1080, "0", FILE),
            Expect::Reject,
        ));
    }
    for idx in ["-2", "10000000000", "18446744073709551616", "abc", "1.5", "0x1", "1e3", "%FF", "1%20", "%00"] {
        cases.push(Case::get(
            format!("fileIdx {idx}"),
            &play_path(&ok, MOVIE, "tb", MOVIE_1080, idx, FILE),
            Expect::Reject,
        ));
    }
    let long_name = "a".repeat(2_000);
    for (label, name) in [
        ("traversal with slashes", "..%2F..%2Fetc%2Fpasswd"),
        ("encoded dot-dot", "%2E%2E"),
        ("absolute path", "%2Fetc%2Fpasswd"),
        ("newline", "movie%0A.mkv"),
        ("header injection", "x%0D%0ALocation:%20http://evil.example/"),
        ("NUL", "movie%00.mkv"),
        ("escape sequence", "%1B%5B31mred.mkv"),
        ("DEL", "movie%7F.mkv"),
        ("2000 bytes", long_name.as_str()),
        ("invalid UTF-8", "%FF%FE.mkv"),
    ] {
        cases.push(Case::get(
            format!("file name {label}"),
            &play_path(&ok, MOVIE, "tb", MOVIE_1080, "0", name),
            Expect::Reject,
        ));
    }
    // A bare `..` segment: only a raw client sends it as is.
    cases.push(Case::get(
        "file name .. (raw segment)",
        &play_path(&ok, MOVIE, "tb", MOVIE_1080, "0", ".."),
        Expect::Reject,
    ));
    // Broken device bindings (`?b=`): with a bad hash still a 400; on a valid playback the
    // binding is ignored and the playback works.
    let long_binding = "A".repeat(4_000);
    let bindings = ["%FF%FE", "", "not-base64!!", long_binding.as_str(), "AAAA&b=BBBB", "%00", "..%2F.."];
    for binding in bindings {
        let path = format!("{}?b={binding}", play_path(&ok, MOVIE, "tb", "xyz", "0", FILE));
        cases.push(Case::get(format!("binding {:.12} with a bad hash", binding), &path, Expect::Reject));
    }
    let token = token_config();
    for binding in bindings {
        let path = format!("{}?b={binding}", play_path(&token, MOVIE, "tb", MOVIE_1080, "0", FILE));
        cases.push(Case::get(format!("binding {:.12} on a valid playback", binding), &path, Expect::Played));
    }

    // 4. Wrong methods on every route.
    let routes = [
        ("health", "/health".to_string()),
        ("addon root", format!("{ROOT}/")),
        ("unconfigured manifest", format!("{ROOT}/manifest.json")),
        ("configure", format!("{ROOT}/configure")),
        ("manifest", format!("{ROOT}/{ok}/manifest.json")),
        ("configured configure", format!("{ROOT}/{ok}/configure")),
        ("stream list", stream_path(&ok, "movie", MOVIE)),
        ("playback", play_path(&ok, MOVIE, "tb", MOVIE_1080, "0", FILE)),
        ("playback without file name", format!("{ROOT}/{ok}/_/strem/{MOVIE}/tb/{MOVIE_1080}/0")),
    ];
    for (route, path) in &routes {
        for method in ["POST", "PUT", "DELETE", "PATCH", "TRACE", "FOO"] {
            let body: &[&[u8]] = if method == "POST" || method == "PUT" {
                &[b"Content-Type: application/json", b"Content-Length: 2"]
            } else {
                &[]
            };
            let mut bytes = request(method, path, body);
            if !body.is_empty() {
                bytes.extend_from_slice(b"{}");
            }
            cases.push(Case::new(format!("{method} {route}"), bytes, Expect::Reject));
        }
    }

    // 5. Broken HTTP and overlong input.
    let long_path = format!("{ROOT}/{}/manifest.json", "A".repeat(100 * 1024));
    cases.push(Case::get("100 KB path", &long_path, Expect::RejectOrDrop));
    let long_query = format!("/health?{}", "q=1&".repeat(25_000));
    cases.push(Case::new("100 KB query on health", request("GET", &long_query, &[]), Expect::RejectOrDrop));
    cases.push(Case::get(
        "60 KB config segment",
        &stream_path(&"A".repeat(60 * 1024), "movie", MOVIE),
        Expect::RejectOrWarning,
    ));
    cases.push(Case::new("garbage request line", raw_head(b"GARBAGE\r\n\r\n"), Expect::RejectOrDrop));
    cases.push(Case::new("HTTP/0.9 request", raw_head(b"GET /health\r\n\r\n"), Expect::RejectOrDrop));
    cases.push(Case::new("unknown protocol version", raw_head(b"GET /health HTTP/7.0\r\n\r\n"), Expect::RejectOrDrop));
    cases.push(Case::new(
        "space in the path",
        raw_head(b"GET /stremio/torz/ x/manifest.json HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
        Expect::RejectOrDrop,
    ));
    let mut raw_bytes = format!("GET {ROOT}/").into_bytes();
    raw_bytes.extend_from_slice(b"\xff\xfe\x80/manifest.json HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    cases.push(Case::new("raw non-UTF-8 bytes in the config segment", raw_bytes, Expect::RejectOrDrop));
    let mut raw_bytes = format!("GET {ROOT}/{ok}/stream/movie/tt").into_bytes();
    raw_bytes.extend_from_slice(b"\xc3\x28.json HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    cases.push(Case::new("raw non-UTF-8 bytes in the id", raw_bytes, Expect::RejectOrDrop));
    let mut raw_bytes = play_path(&ok, MOVIE, "tb", MOVIE_1080, "0", "").into_bytes();
    raw_bytes.splice(0..0, b"GET ".iter().copied());
    raw_bytes.extend_from_slice(b"\xff\xfe.mkv HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    cases.push(Case::new("raw non-UTF-8 bytes in the file name", raw_bytes, Expect::RejectOrDrop));
    cases.push(Case::new(
        "NUL byte in the request line",
        raw_head(b"GET /hea\0lth HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
        Expect::RejectOrDrop,
    ));
    cases.push(Case::new(
        "invalid Content-Length",
        request("GET", "/health", &[b"Content-Length: abc"]),
        Expect::RejectOrDrop,
    ));
    cases.push(Case::new(
        "Content-Length and chunked together",
        {
            let mut r = request(
                "POST",
                &stream_path(&ok, "movie", MOVIE),
                &[b"Content-Length: 5", b"Transfer-Encoding: chunked"],
            );
            r.extend_from_slice(b"0\r\n\r\n");
            r
        },
        Expect::RejectOrDrop,
    ));
    cases.push(Case::new(
        "two different Content-Lengths",
        request("POST", "/health", &[b"Content-Length: 1", b"Content-Length: 2"]),
        Expect::RejectOrDrop,
    ));
    cases.push(Case::new(
        "header name with a space",
        request("GET", &stream_path(&ok, "movie", MOVIE), &[b"Bad Header: x"]),
        Expect::RejectOrDrop,
    ));
    cases.push(Case::new(
        "header without a colon",
        request("GET", &stream_path(&ok, "movie", MOVIE), &[b"NoColonHere"]),
        Expect::RejectOrDrop,
    ));
    let one_mb = format!("X-Padding: {}", "a".repeat(1024 * 1024));
    cases.push(Case::new(
        "1 MB header",
        request("GET", &stream_path(&ok, "movie", MOVIE), &[one_mb.as_bytes()]),
        Expect::RejectOrDrop,
    ));
    let many: Vec<String> = (0..200).map(|i| format!("X-H{i}: {i}")).collect();
    let many: Vec<&[u8]> = many.iter().map(|h| h.as_bytes()).collect();
    cases.push(Case::new(
        "200 headers",
        request("GET", &stream_path(&ok, "movie", MOVIE), &many),
        Expect::RejectOrDrop,
    ));

    // 6. Odd headers. On requests that need no upstream, and on valid ones (which may call
    // the upstreams but must still work).
    let bad = Stack::config(&json!({"stores": [{"c": "tb", "auth": "not-a-uuid"}]}));
    // Large, but under the server's header limit (32 KiB).
    let long_ua = format!("User-Agent: {}", "M".repeat(20 * 1024)).into_bytes();
    let odd_headers: Vec<(&str, Vec<u8>)> = vec![
        ("20 KB User-Agent", long_ua.clone()),
        ("non-UTF-8 User-Agent", b"User-Agent: \xff\xfe\x80 Stremio".to_vec()),
        ("control bytes in User-Agent", b"User-Agent: a\x01b\x7fc".to_vec()),
        ("empty User-Agent", b"User-Agent: ".to_vec()),
        ("bogus X-Forwarded-For", b"X-Forwarded-For: <script>, 999.1.1.1, ::zz".to_vec()),
        ("long X-Forwarded-For", format!("X-Forwarded-For: {}", "1.2.3.4, ".repeat(2_000)).into_bytes()),
        ("bogus X-Real-IP", b"X-Real-IP: not-an-ip\xff".to_vec()),
        ("X-Forwarded-Host with markup", b"X-Forwarded-Host: evil.example\"><script>alert(1)</script>".to_vec()),
        ("X-Forwarded-Proto javascript", b"X-Forwarded-Proto: javascript".to_vec()),
        ("Accept garbage", b"Accept: \xff/\xfe;q=999999999999999999".to_vec()),
        ("Range garbage", b"Range: bytes=99999999999999999999-1".to_vec()),
    ];
    for (label, header) in &odd_headers {
        let targets = [
            ("a stream list with a denied config", stream_path(&bad, "movie", MOVIE), Expect::RejectOrWarning),
            ("a playback with a bad hash", play_path(&ok, MOVIE, "tb", "xyz", "0", FILE), Expect::Reject),
            ("the manifest", format!("{ROOT}/{ok}/manifest.json"), Expect::Manifest),
            ("the configure page", format!("{ROOT}/configure"), Expect::Page),
            ("health", "/health".to_string(), Expect::Health),
        ];
        for (target, path, expect) in targets {
            cases.push(
                Case::new(format!("{label} on {target}"), request("GET", &path, &[header.as_slice()]), expect)
                    .without("alert(1)")
                    .without("javascript:"),
            );
        }
    }
    // The Host header ends up in generated URLs: markup must not.
    for (host, marker) in
        [("evil.example/<script>", "evil.example"), ("a\"b<c>", "b<c>"), ("127.0.0.1:1@evil.example", "evil.example")]
    {
        let header = format!("Host: {host}");
        let mut bytes = format!("GET {ROOT}/manifest.json HTTP/1.1\r\n").into_bytes();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
        cases.push(Case::new(format!("Host {host} on the manifest"), bytes.clone(), Expect::Manifest).without(marker));
        let bytes_page = String::from_utf8(bytes).unwrap().replace("/manifest.json", "/configure").into_bytes();
        cases.push(Case::new(format!("Host {host} on the configure page"), bytes_page, Expect::Page).without(marker));
    }
    cases.push(Case::new(
        "no Host header",
        raw_head(format!("GET {ROOT}/{ok}/manifest.json HTTP/1.1\r\nConnection: close\r\n\r\n").as_bytes()),
        Expect::Manifest,
    ));
    cases.push(Case::new(
        "two Host headers",
        raw_head(
            format!(
                "GET {ROOT}/manifest.json HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        ),
        Expect::Manifest,
    ));
    cases.push(Case::new(
        "absolute-form target to another host",
        raw_head(
            format!("GET http://evil.example{ROOT}/{bad}/stream/movie/{MOVIE}.json HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        ),
        Expect::RejectOrWarning,
    ));

    // Valid requests with odd headers (the user's own token, so no device is used up).
    for (label, header) in [
        ("20 KB User-Agent", long_ua.clone()),
        ("non-UTF-8 User-Agent", b"User-Agent: \xff\xfe Stremio".to_vec()),
        ("bogus X-Forwarded-For", b"X-Forwarded-For: <script>, 999.1.1.1".to_vec()),
        ("X-Forwarded-For with a port and junk", b"X-Forwarded-For: [::1]:80junk".to_vec()),
    ] {
        let bytes = request("GET", &stream_path(&token, "movie", MOVIE), &[header.as_slice()]);
        cases.push(Case::new(format!("valid stream list with {label}"), bytes, Expect::Streams).without("<script>"));
    }
    // Over the header limit: refused before any work.
    for (label, header) in [
        ("200 KB User-Agent", format!("User-Agent: {}", "M".repeat(200 * 1024))),
        ("90 KB X-Forwarded-For", format!("X-Forwarded-For: {}", "1.2.3.4, ".repeat(10_000))),
    ] {
        let bytes = request("GET", &stream_path(&token, "movie", MOVIE), &[header.as_bytes()]);
        cases.push(Case::new(format!("valid stream list with {label}"), bytes, Expect::RejectOrDrop));
    }
    cases
}

type Counts = (usize, usize, usize, usize);

fn upstream_calls(stack: &Stack) -> Counts {
    (
        // Only get-key: usage reports of earlier playbacks arrive in the background.
        stack.chillstreams.get_key_calls().len(),
        stack.torbox.calls().len(),
        stack.torznab.call_count(),
        stack.user_torznab.call_count(),
    )
}

#[tokio::test]
async fn hostile_requests_get_client_errors_or_warnings_and_never_reach_an_upstream() {
    let stack = Stack::start(StackOptions::default()).await;
    let cases = corpus();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let before = upstream_calls(&stack);
        let outcome = send_raw(stack.host.addr, &case.request).await;
        let after = upstream_calls(&stack);
        let verdict = match &outcome {
            Ok(response) => judge(case, response.as_ref()),
            Err(error) => Err(error.clone()),
        };
        if let Err(problem) = verdict {
            failures.push(format!("[{}] {problem}", case.name));
        }
        if !matches!(case.expect, Expect::Streams | Expect::Played) && after != before {
            failures.push(format!(
                "[{}] reached an upstream: (chillstreams, torbox, torznab, user torznab) calls went from {before:?} to {after:?}",
                case.name
            ));
        }
    }

    // The server is still fine.
    let health = send_raw(stack.host.addr, &request("GET", "/health", &[])).await.unwrap().expect("health answers");
    assert_eq!(health.status, 200, "{}", health.text());
    for config in [token_config(), auth_config()] {
        let response = send_raw(stack.host.addr, &request("GET", &stream_path(&config, "movie", MOVIE), &[]))
            .await
            .unwrap()
            .expect("stream list answers");
        assert_eq!(response.status, 200);
        let body: Value = serde_json::from_slice(&response.body).unwrap();
        let streams = body["streams"].as_array().cloned().unwrap_or_default();
        assert_eq!(streams.iter().filter(|s| s["url"].is_string()).count(), 4, "{body:#}");
    }

    let mut failed: Vec<&str> = failures.iter().filter_map(|f| f.split(']').next()).collect();
    failed.dedup();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failed.len(), cases.len(), failures.join("\n"));
    eprintln!("{} hostile cases passed", cases.len());
}
