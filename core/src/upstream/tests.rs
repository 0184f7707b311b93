//! The kit against real loopback sockets: a small axum upstream, a raw proxy, a closed port.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode as HttpStatus};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::health::{ErrorKind, Health, Kind, State, Tracker};
use crate::Secret;

const LIMIT: usize = 4096;
const SECRET: &str = "kit-secret-5f2c";

/// The fake upstream: `/ok`, `/sized/{n}` (with Content-Length), `/chunked/{n}` (without),
/// `/redirect` (302 to `/ok`), `/slow/{ms}`, `/limited` (429 + Retry-After), `/agent`.
async fn upstream() -> (String, Arc<AtomicUsize>) {
    let ok_hits = Arc::new(AtomicUsize::new(0));
    let hits = ok_hits.clone();
    let router = Router::new()
        .route(
            "/ok",
            get(move || {
                hits.fetch_add(1, Ordering::SeqCst);
                async { ([(header::CONTENT_TYPE, "Text/Plain")], "hello") }
            }),
        )
        .route("/sized/{n}", get(|axum::extract::Path(n): axum::extract::Path<usize>| async move { vec![b'x'; n] }))
        .route(
            "/chunked/{n}",
            get(|axum::extract::Path(n): axum::extract::Path<usize>| async move {
                let chunks = (0..n.div_ceil(1024)).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 1024])));
                Body::from_stream(futures::stream::iter(chunks.collect::<Vec<_>>()))
            }),
        )
        .route("/redirect", get(|| async { (HttpStatus::FOUND, [(header::LOCATION, "/ok")]) }))
        .route(
            "/slow/{ms}",
            get(|axum::extract::Path(ms): axum::extract::Path<u64>| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                "late"
            }),
        )
        .route(
            "/limited",
            get(|| async {
                (HttpStatus::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "7")], "slow down").into_response()
            }),
        )
        .route(
            "/agent",
            get(|headers: HeaderMap| async move {
                headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, ok_hits)
}

fn settings(timeout_ms: u64, max_in_flight: usize) -> UpstreamSettings {
    UpstreamSettings {
        timeout_ms,
        connect_timeout_ms: timeout_ms,
        max_in_flight,
        max_body_bytes: LIMIT,
        proxy_url: None,
    }
}

fn client(plugin: &'static str, base: &str, settings: &UpstreamSettings, follow_redirects: bool) -> Upstream {
    let base = check_base_url("store.kit", "api_url", base).unwrap();
    Upstream::new(plugin, Some(base), settings, UpstreamOptions { follow_redirects, ..Default::default() }).unwrap()
}

async fn get_path(upstream: &Upstream, path: &str) -> Result<Reply, UpstreamError> {
    upstream.call(upstream.request(Method::GET, "get", path), |reply| reply).await
}

/// The value of `chillproxy_upstream_requests_total` for this plugin, endpoint and outcome.
fn calls_recorded(plugin: &str, endpoint: &str, outcome: &str) -> f64 {
    let labels = format!("{{operation=\"{endpoint}\",outcome=\"{outcome}\",plugin=\"{plugin}\"}}");
    crate::metrics::render_with(&[])
        .lines()
        .find_map(|line| line.strip_prefix(&format!("chillproxy_upstream_requests_total{labels} ")))
        .map_or(0.0, |value| value.parse().unwrap())
}

#[tokio::test]
async fn a_reply_comes_back_with_status_type_and_body_and_is_counted_once() {
    let (url, _) = upstream().await;
    let upstream = client("kit-ok", &url, &settings(2_000, 4), false);
    let reply = get_path(&upstream, "/ok").await.unwrap();
    assert_eq!(
        (reply.status, reply.content_type.as_str(), reply.body.as_slice()),
        (StatusCode::OK, "text/plain", &b"hello"[..])
    );
    assert_eq!(calls_recorded("kit-ok", "get", "ok"), 1.0);

    let agent = get_path(&upstream, "/agent").await.unwrap();
    assert_eq!(String::from_utf8_lossy(&agent.body), USER_AGENT);
    assert!(USER_AGENT.starts_with("chillproxy/"));
}

/// Every call reports to the client's tracker, or to the one its request names: an answer is
/// `ok` (even an error status the plugin accepts), a failure is what the wire and the plugin's
/// error type say. A store's "wrong key" is the user's, not the store's.
#[tokio::test]
async fn calls_report_their_outcome_to_the_upstreams_tracker() {
    let (url, _) = upstream().await;
    let health = Health::default();
    let tracker = health.tracker(Kind::Source, "kit");
    let base = check_base_url("source.kit", "url", &url).unwrap();
    let options = UpstreamOptions { health: Some(tracker.clone()), ..Default::default() };
    let upstream = Upstream::new("kit-health", Some(base), &settings(300, 4), options).unwrap();
    let state = |t: &Tracker| {
        let read = t.read();
        (read.state, read.last_error)
    };
    let status_is_ok = |reply: Result<Reply, UpstreamError>| match reply {
        Ok(reply) if reply.status.is_success() => Ok(reply),
        Ok(reply) => Err(crate::source_cache::SourceFailure::new(format!("HTTP {}", reply.status.as_u16()))),
        Err(e) => Err(crate::source_cache::SourceFailure::from_upstream(e, Duration::from_millis(300))),
    };
    let call = |path: &'static str| upstream.call(upstream.request(Method::GET, "get", path), status_is_ok);

    assert_eq!(state(&tracker), (State::Unknown, None));
    call("/ok").await.unwrap();
    assert_eq!(state(&tracker), (State::Ok, None));
    call("/limited").await.unwrap_err();
    assert_eq!(state(&tracker), (State::Throttled, Some(ErrorKind::RateLimited)));
    call("/slow/1000").await.unwrap_err();
    assert_eq!(state(&tracker), (State::Failing, Some(ErrorKind::Timeout)));
    call("/nowhere").await.unwrap_err();
    assert_eq!(state(&tracker), (State::Failing, Some(ErrorKind::Http4xx)));
    call("/ok").await.unwrap();
    assert_eq!(state(&tracker), (State::Ok, Some(ErrorKind::Http4xx)));

    // A request may name another tracker (one of several upstreams behind one client).
    let indexer = health.tracker(Kind::Indexer, "Prowlarr");
    let request = upstream.request(Method::GET, "get", "/limited").report_to(&indexer);
    upstream.call(request, status_is_ok).await.unwrap_err();
    assert_eq!(state(&indexer), (State::Throttled, Some(ErrorKind::RateLimited)));
    assert_eq!(state(&tracker).0, State::Ok, "not the client's");

    // Nothing listening: connect.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let down = Upstream::new(
        "kit-health",
        Some(check_base_url("source.kit", "url", &closed).unwrap()),
        &settings(300, 4),
        UpstreamOptions { health: Some(indexer.clone()), ..Default::default() },
    )
    .unwrap();
    down.call(down.request(Method::GET, "get", "/ok"), status_is_ok).await.unwrap_err();
    assert_eq!(state(&indexer), (State::Failing, Some(ErrorKind::Connect)));

    // A store's error type judges its failures: a rejected key leaves the store `ok`.
    let store = health.tracker(Kind::Store, "kit-store");
    let options = UpstreamOptions { health: Some(store.clone()), ..Default::default() };
    let base = check_base_url("store.kit", "api_url", &url).unwrap();
    let calls = Upstream::new("kit-health", Some(base), &settings(300, 4), options).unwrap();
    let as_store = |kind: crate::StoreErrorKind| {
        move |reply: Result<Reply, UpstreamError>| -> Result<Reply, crate::StoreError> {
            let reply = reply.map_err(|e| crate::StoreError::from_transport("Kit", e, ""))?;
            Err(crate::StoreError::of(kind, "Kit", format!("HTTP {}", reply.status.as_u16()), None))
        }
    };
    calls
        .call(calls.request(Method::GET, "get", "/ok"), as_store(crate::StoreErrorKind::Unauthorized))
        .await
        .unwrap_err();
    assert_eq!(state(&store), (State::Ok, None));
    calls
        .call(calls.request(Method::GET, "get", "/ok"), as_store(crate::StoreErrorKind::Unavailable))
        .await
        .unwrap_err();
    assert_eq!(state(&store), (State::Failing, Some(ErrorKind::BadReply)));
    calls
        .call(calls.request(Method::GET, "get", "/slow/1000"), as_store(crate::StoreErrorKind::Upstream))
        .await
        .unwrap_err();
    assert_eq!(state(&store), (State::Failing, Some(ErrorKind::Timeout)));
    assert_eq!(health.upstreams().len(), 3);
}

#[tokio::test]
async fn bodies_over_the_limit_fail_naming_it_with_or_without_a_length() {
    let (url, _) = upstream().await;
    let upstream = client("kit-body", &url, &settings(2_000, 4), false);
    assert_eq!(get_path(&upstream, &format!("/sized/{LIMIT}")).await.unwrap().body.len(), LIMIT);
    for path in [format!("/sized/{}", LIMIT + 1), format!("/chunked/{}", 64 * 1024)] {
        let err = get_path(&upstream, &path).await.unwrap_err();
        assert_eq!(err, UpstreamError::BodyTooLarge { status: 200, limit: LIMIT }, "{path}");
        assert_eq!(err.to_string(), "the reply (HTTP 200) is larger than 4 KiB (max_body_bytes = 4096)");
    }
    assert_eq!(calls_recorded("kit-body", "get", "error"), 2.0);
}

#[tokio::test]
async fn redirects_are_not_followed_unless_asked() {
    let (url, ok_hits) = upstream().await;
    let reply = get_path(&client("kit-redirect", &url, &settings(2_000, 4), false), "/redirect").await.unwrap();
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(ok_hits.load(Ordering::SeqCst), 0, "the target was never asked");

    let reply = get_path(&client("kit-redirect", &url, &settings(2_000, 4), true), "/redirect").await.unwrap();
    assert_eq!((reply.status, reply.body.as_slice()), (StatusCode::OK, &b"hello"[..]));
    assert_eq!(ok_hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn waiting_for_a_permit_counts_against_the_timeout() {
    let (url, _) = upstream().await;
    // Each call takes 1000 ms of a 1500 ms budget: one at a time, the second cannot make it
    // (it waits ~950 ms for the permit); two at a time, both fit with 500 ms to spare.
    for (max_in_flight, second_times_out) in [(1, true), (2, false)] {
        let upstream = client("kit-permits", &url, &settings(1_500, max_in_flight), false);
        let (first, second) = tokio::join!(get_path(&upstream, "/slow/1000"), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let started = Instant::now();
            (get_path(&upstream, "/slow/1000").await, started.elapsed())
        });
        assert_eq!(first.unwrap().body, b"late");
        let (second, elapsed) = second;
        if second_times_out {
            assert_eq!(second.unwrap_err(), UpstreamError::Timeout);
            assert!(elapsed < Duration::from_millis(2_500), "the deadline held: {elapsed:?}");
        } else {
            assert_eq!(second.unwrap().body, b"late", "with two permits both fit");
        }
    }
}

#[tokio::test]
async fn a_slow_reply_is_a_timeout_and_counted_as_one() {
    let (url, _) = upstream().await;
    let upstream = client("kit-timeout", &url, &settings(200, 4), false);
    let started = Instant::now();
    assert_eq!(get_path(&upstream, "/slow/3000").await.unwrap_err(), UpstreamError::Timeout);
    assert!(
        started.elapsed() < Duration::from_millis(2_000),
        "a 200 ms budget, not the 3 s reply: {:?}",
        started.elapsed()
    );
    assert_eq!(calls_recorded("kit-timeout", "get", "timeout"), 1.0);
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error_without_url_or_secret() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let upstream = Upstream::new("kit-connect", None, &settings(2_000, 4), UpstreamOptions::default()).unwrap();
    let key = Secret::new(SECRET);
    let url = Url::parse(&format!("http://127.0.0.1:{port}/torrents/requestdl?token={SECRET}&file_id=1")).unwrap();
    let request = upstream.request_url(Method::GET, "requestdl", url).bearer(&key).secret(&key);
    let err = upstream.call(request, |reply| reply).await.unwrap_err();
    assert!(matches!(err, UpstreamError::Connect(_)), "{err:?}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(SECRET) && !text.contains("token=") && !text.contains("requestdl"), "{text}");
        assert!(!text.contains(&port.to_string()), "no URL: {text}");
    }
    assert_eq!(calls_recorded("kit-connect", "requestdl", "error"), 1.0);
}

/// A raw server that answers every connection with `reply` and records the request head.
async fn raw_server(reply: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            seen.lock().unwrap().push(String::from_utf8_lossy(&head).into_owned());
            let _ = socket.write_all(reply.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    (url, heads)
}

#[tokio::test]
async fn a_reply_cut_short_is_a_body_error_without_url_or_secret() {
    let (url, _) = raw_server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort").await;
    let upstream = Upstream::new("kit-cut", None, &settings(2_000, 4), UpstreamOptions::default()).unwrap();
    let key = Secret::new(SECRET);
    let request = upstream.request_url(Method::GET, "cut", Url::parse(&format!("{url}/x?apikey={SECRET}")).unwrap());
    let err = upstream.call(request.secret(&key), |reply| reply).await.unwrap_err();
    assert!(matches!(err, UpstreamError::Other { stage: Stage::Body, .. }), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(!text.contains(SECRET) && !text.contains("apikey") && !text.contains("127.0.0.1"), "{text}");
}

#[tokio::test]
async fn retry_after_comes_with_the_reply() {
    let (url, _) = upstream().await;
    let reply = get_path(&client("kit-retry", &url, &settings(2_000, 4), false), "/limited").await.unwrap();
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.retry_after, Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn proxy_url_sends_every_call_through_the_proxy() {
    let (proxy, heads) = raw_server("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nvia proxy").await;
    let settings = UpstreamSettings { proxy_url: Some(proxy), ..settings(2_000, 4) };
    // `.invalid` never resolves: only the proxy can answer.
    let base = check_base_url("store.kit", "api_url", "http://upstream.invalid").unwrap();
    let upstream = Upstream::new("kit-proxy", Some(base), &settings, UpstreamOptions::default()).unwrap();
    let reply = get_path(&upstream, "/feed?q=1").await.unwrap();
    assert_eq!(reply.body, b"via proxy");
    let heads = heads.lock().unwrap();
    assert!(heads[0].starts_with("GET http://upstream.invalid/feed?q=1 HTTP/1.1\r\n"), "{heads:?}");
}

#[test]
fn a_proxy_url_that_is_not_http_cannot_build_a_client() {
    let settings = UpstreamSettings { proxy_url: Some("socks5://user:pw-secret@p:1080".into()), ..settings(2_000, 4) };
    let err = Upstream::new("kit-bad-proxy", None, &settings, UpstreamOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "cannot build the HTTP client: proxy_url must be an http:// or https:// URL");
}

/// A refusal of the outbound URL policy is typed wherever it is decided: before the call (an
/// address literal), and inside reqwest (a redirect hop); a plain connect failure is not one.
#[tokio::test]
async fn policy_refusals_are_typed_not_read_from_text() {
    let (to_private, _) =
        raw_server("HTTP/1.1 302 Found\r\nLocation: http://10.0.0.1/x\r\nContent-Length: 0\r\n\r\n").await;
    let (to_ftp, _) =
        raw_server("HTTP/1.1 302 Found\r\nLocation: ftp://files.example/x\r\nContent-Length: 0\r\n\r\n").await;
    let admitted: Vec<String> =
        [&to_private, &to_ftp].iter().map(|url| url.trim_start_matches("http://").to_string()).collect();
    let options =
        UpstreamOptions { follow_redirects: true, outbound: Some(OutboundPolicy::new(false, &admitted)), health: None };
    let upstream = Upstream::new("kit-refused", None, &settings(2_000, 4), options).unwrap();
    let get = |url: String| {
        let upstream = upstream.clone();
        async move {
            let request = upstream.request_url(Method::GET, "refused", Url::parse(&url).unwrap());
            upstream.call(request, |reply| reply).await.unwrap_err()
        }
    };

    let literal = get("http://127.0.0.1:9/api".to_string()).await;
    assert_eq!(literal.refusal(), Some(RefusalKind::NonPublic), "{literal:?}");
    let redirected = get(format!("{to_private}/api")).await;
    assert_eq!(redirected.refusal(), Some(RefusalKind::NonPublic), "{redirected:?}");
    assert!(redirected.to_string().contains("a private address"), "the reason is the policy's: {redirected}");
    let scheme = get(format!("{to_ftp}/api")).await;
    assert_eq!(scheme.refusal(), Some(RefusalKind::Scheme), "{scheme:?}");

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap().to_string();
    drop(listener);
    let open = Upstream::new("kit-refused", None, &settings(2_000, 4), UpstreamOptions::default()).unwrap();
    let request = open.request_url(Method::GET, "refused", Url::parse(&format!("http://{closed}/")).unwrap());
    let err = open.call(request, |reply| reply).await.unwrap_err();
    assert!(matches!(err, UpstreamError::Connect(_)) && err.refusal().is_none(), "{err:?}");
}

mod budgeted {
    use super::*;
    use crate::{OverBudget, SharedState, StoreCapabilities, StoreError, StoreIdentity, Window};

    const REQUESTS: Window = Window::per_minute("requests", 2);

    fn over_budget(over: OverBudget) -> StoreError {
        over.into_store_error("Kit", "Kit asked to slow down", "Kit's limit is reached")
    }

    fn budgeted(url: &str, name: &'static str, block_on: BlockOn) -> BudgetedUpstream {
        let identity = StoreIdentity { name, code: "kt", display_name: "Kit", capabilities: StoreCapabilities::EXACT };
        let policy = CallPolicy { budget_wait: Duration::ZERO, block_on, ..CallPolicy::new(over_budget) };
        BudgetedUpstream::new(
            &identity,
            url,
            &settings(2_000, 4),
            SharedState::in_process(1000),
            &Health::default(),
            policy,
        )
        .unwrap()
    }

    /// A 429 is `RateLimited` with the reply's `Retry-After`; any other reply is its body.
    fn kit_reply(reply: Result<Reply, UpstreamError>, key: &Secret) -> Result<Vec<u8>, StoreError> {
        let reply = reply.map_err(|e| StoreError::from_transport("Kit", e, key.expose()))?;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            return Err(StoreError::RateLimited { store: "Kit", retry_after: reply.retry_after, message: "no".into() });
        }
        Ok(reply.body)
    }

    async fn get(calls: &BudgetedUpstream, key: &Secret, spend: Spend<'_>, path: &str) -> Result<Vec<u8>, StoreError> {
        let endpoint = if path == "/ok" { "ok" } else { "limited" };
        calls.call(key, spend, calls.request(Method::GET, endpoint, path).bearer(key), |r| kit_reply(r, key)).await
    }

    #[tokio::test]
    async fn a_call_spends_before_it_is_sent_and_one_over_budget_is_never_sent() {
        let (url, ok_hits) = upstream().await;
        let calls = budgeted(&url, "kit-budget", BlockOn::RateLimited);
        let key = Secret::new(SECRET);
        for _ in 0..2 {
            assert_eq!(get(&calls, &key, Spend::one(&REQUESTS), "/ok").await.unwrap(), b"hello");
        }
        let err = get(&calls, &key, Spend::one(&REQUESTS), "/ok").await.unwrap_err();
        assert!(
            matches!(&err, StoreError::BudgetExhausted { store: "Kit", message, retry_after: Some(_) } if message == "Kit's limit is reached"),
            "{err:?}"
        );
        assert_eq!(ok_hits.load(Ordering::SeqCst), 2, "the third call was not sent");
        assert_eq!(calls_recorded("kit-budget", "ok", "ok"), 2.0, "nor counted as an upstream call");

        let other = Secret::new("another-key");
        assert_eq!(get(&calls, &other, Spend::one(&REQUESTS), "/ok").await.unwrap(), b"hello", "its own budget");
        let err = get(&calls, &Secret::new(""), Spend::one(&REQUESTS), "/ok").await.unwrap_err();
        assert_eq!(err, StoreError::Unauthorized { store: "Kit", message: "no API key was given".into() });
        assert_eq!(ok_hits.load(Ordering::SeqCst), 3, "no key: not sent");
    }

    #[tokio::test]
    async fn a_429_holds_the_keys_calls_on_the_blocked_window_back_for_its_retry_after() {
        let (url, ok_hits) = upstream().await;
        let calls = budgeted(&url, "kit-429", BlockOn::TooManyRequests);
        let key = Secret::new(SECRET);
        let windows = [Window::per_minute("requests", 100), Window::per_hour("creates", 100)];
        let create = Spend { windows: &windows, blocks: "creates" };
        let err = get(&calls, &key, create, "/limited").await.unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)), "{err:?}");

        let err = get(&calls, &key, create, "/ok").await.unwrap_err();
        assert_eq!(
            err,
            StoreError::RateLimited {
                store: "Kit",
                retry_after: Some(Duration::from_secs(7)),
                message: "Kit asked to slow down".into()
            },
            "held back as the store asked, the wait rounded up"
        );
        assert_eq!(ok_hits.load(Ordering::SeqCst), 0, "not sent");
        get(&calls, &key, Spend::one(&windows[0]), "/ok").await.expect("the other window is not blocked");
        get(&calls, &Secret::new("another-key"), create, "/ok").await.expect("nor another key");
        assert_eq!(ok_hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn block_on_says_whether_a_rate_limited_error_without_a_429_holds_the_key_back() {
        let (url, ok_hits) = upstream().await;
        let cooldown = |_: Result<Reply, UpstreamError>| -> Result<(), StoreError> {
            Err(StoreError::RateLimited { store: "Kit", retry_after: None, message: "cooldown".into() })
        };
        for (block_on, held_back) in [(BlockOn::TooManyRequests, false), (BlockOn::RateLimited, true)] {
            let calls = budgeted(&url, "kit-block-on", block_on);
            let key = Secret::new(SECRET);
            let sent = calls.call(&key, Spend::one(&REQUESTS), calls.request(Method::GET, "ok", "/ok"), cooldown);
            assert!(matches!(sent.await, Err(StoreError::RateLimited { .. })));
            let before = ok_hits.load(Ordering::SeqCst);
            let next = get(&calls, &key, Spend::one(&REQUESTS), "/ok").await;
            assert_eq!(next.is_err(), held_back, "{block_on:?}: {next:?}");
            if held_back {
                let err = next.unwrap_err();
                assert_eq!(err.retry_after(), Some(Duration::from_secs(60)), "the default block: {err:?}");
                assert_eq!(ok_hits.load(Ordering::SeqCst), before, "not sent");
            }
        }
    }
}
