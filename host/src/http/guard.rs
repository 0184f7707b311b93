//! The outermost layers: a request id for every request (`x-request-id`, and a tracing span
//! that carries it), request-size limits, request metrics, and turning a handler panic into a
//! 500 that names the request id while the server keeps serving.
//!
//! `Router::layer` wraps every route (and the fallback) after routing, so the guard sees the
//! matched route pattern ([`MatchedPath`]): metrics are labelled with it, never with the raw
//! path, which holds user configs. Requests no route matched are labelled `unmatched`.

use std::any::Any;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chillproxy_core::metrics;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

pub const REQUEST_ID: &str = "x-request-id";
/// The `route` label of requests no route matched.
pub const UNMATCHED: &str = "unmatched";
pub const HTTP_REQUESTS: &str = metrics::HTTP_REQUESTS;
pub const HTTP_DURATION: &str = "chillproxy_http_request_duration_seconds";
/// Set by the panic handler, replaced by the guard with the request id.
const PANICKED: &str = "x-chillproxy-panicked";

/// Request-size limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_uri_bytes: usize,
    pub max_header_bytes: usize,
}

/// Wraps `router` in the guard layers.
pub fn protect<S: Clone + Send + Sync + 'static>(router: Router<S>, limits: Limits) -> Router<S> {
    router.layer(CatchPanicLayer::custom(panic_response)).layer(middleware::from_fn_with_state(limits, guard))
}

fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response {
    let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    response.headers_mut().insert(PANICKED, HeaderValue::from_static("1"));
    response
}

/// 16 hex digits, unique in this process and unlikely to repeat across replicas: a random
/// start (one system call per process, not per request) plus a counter, mixed so that
/// consecutive ids do not look alike.
fn new_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static START: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let start = *START.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // An odd multiplier is a bijection on u64: distinct counters give distinct ids.
    format!("{:016x}", start.wrapping_add(n).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The path as it may be logged: the user's config segment (which can hold their token) is
/// replaced by `{config}`, a playback handle (which plays with their credential) by `{handle}`,
/// and the rest is cut short.
pub fn loggable_path(path: &str) -> String {
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.len() > 3
        && parts[1] == "stremio"
        && parts[2] == "torz"
        && !matches!(parts[3], "" | "manifest.json" | "configure" | "_")
    {
        parts[3] = "{config}";
    }
    if parts.len() > 5 && parts[1] == "stremio" && parts[2] == "torz" && parts[3] == "_" && parts[4] == "play" {
        parts[5] = "{handle}";
    }
    let joined = parts.join("/");
    match joined.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &joined[..i]),
        None => joined,
    }
}

async fn guard(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let id = new_request_id();
    let route = request.extensions().get::<MatchedPath>().map_or(UNMATCHED, MatchedPath::as_str).to_string();
    let span = tracing::info_span!("request", id = %id, method = %request.method(), route = %route, path = tracing::field::Empty);
    // The loggable path costs a split and a join: only when the span is recorded.
    if !span.is_disabled() {
        span.record("path", tracing::field::display(loggable_path(request.uri().path())));
    }
    let uri_bytes = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    let header_bytes: usize = request.headers().iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    let started = Instant::now();
    let mut response = if uri_bytes > limits.max_uri_bytes {
        span.in_scope(|| tracing::info!(uri_bytes, "request target too long"));
        too_large(StatusCode::URI_TOO_LONG, format!("request target too long (limit {} bytes)", limits.max_uri_bytes))
    } else if header_bytes > limits.max_header_bytes {
        span.in_scope(|| tracing::info!(header_bytes, "request headers too large"));
        too_large(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("request headers too large (limit {} bytes)", limits.max_header_bytes),
        )
    } else {
        next.run(request).instrument(span.clone()).await
    };
    if response.headers_mut().remove(PANICKED).is_some() {
        span.in_scope(|| tracing::error!("handler panicked; answered 500"));
        response = (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("internal error (request id {id})"),
        )
            .into_response();
    }
    span.in_scope(|| {
        tracing::debug!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "served"
        )
    });
    record_request(&route, response.status().as_u16(), started.elapsed());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// `chillproxy_http_requests_total{route,status}` and
/// `chillproxy_http_request_duration_seconds{route}` (until the response head is ready).
fn record_request(route: &str, status: u16, elapsed: Duration) {
    let status = status.to_string();
    metrics::counter(
        HTTP_REQUESTS,
        "HTTP requests by matched route pattern and status.",
        &[("route", route), ("status", &status)],
    )
    .inc();
    metrics::histogram(
        HTTP_DURATION,
        "Time to answer HTTP requests (to the response head), by matched route pattern.",
        &[("route", route)],
    )
    .observe_duration(elapsed);
}

fn too_large(status: StatusCode, message: String) -> Response {
    let mut response = Response::new(Body::from(message));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn raw(addr: std::net::SocketAddr, request: String) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        out
    }

    async fn boom() -> &'static str {
        panic!("handler bug")
    }

    #[tokio::test]
    async fn panics_answer_500_with_the_request_id_and_the_server_keeps_serving() {
        let router: Router = Router::new().route("/boom", get(boom)).route("/ok", get(|| async { "fine" }));
        let router = protect(router, Limits { max_uri_bytes: 2048, max_header_bytes: 4096 });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });

        let boom = raw(addr, "GET /boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into()).await;
        assert!(boom.starts_with("HTTP/1.1 500"), "{boom}");
        let id = boom.lines().find_map(|l| l.strip_prefix("x-request-id: ")).unwrap().trim().to_string();
        assert!(boom.contains(&format!("internal error (request id {id})")), "{boom}");
        assert!(!boom.contains(PANICKED));

        let ok = raw(addr, "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into()).await;
        assert!(ok.starts_with("HTTP/1.1 200") && ok.contains("x-request-id: "), "{ok}");

        let long =
            raw(addr, format!("GET /ok?{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "a".repeat(3000))).await;
        assert!(long.starts_with("HTTP/1.1 414"), "{long}");
        let big = raw(
            addr,
            format!("GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n", "b".repeat(5000)),
        )
        .await;
        assert!(big.starts_with("HTTP/1.1 431"), "{big}");
    }

    #[tokio::test]
    async fn requests_are_counted_by_route_pattern_never_by_path() {
        let router: Router = Router::new()
            .route("/metrics-unit/{config}/item", get(|| async { "fine" }))
            .merge(Router::new().route("/metrics-unit/other", get(|| async { "other" })));
        let router = protect(router, Limits { max_uri_bytes: 2048, max_header_bytes: 4096 });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let count = |route: &str, status: &str| {
            metrics::counter(HTTP_REQUESTS, "", &[("route", route), ("status", status)]).get()
        };
        let (ok, other, missing) =
            (count("/metrics-unit/{config}/item", "200"), count("/metrics-unit/other", "200"), count(UNMATCHED, "404"));
        for path in ["/metrics-unit/eyJTOKENsecret/item", "/metrics-unit/other", "/metrics-unit/eyJTOKENsecret/nope"] {
            raw(addr, format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).await;
        }
        assert_eq!(count("/metrics-unit/{config}/item", "200"), ok + 1);
        assert_eq!(count("/metrics-unit/other", "200"), other + 1);
        assert!(count(UNMATCHED, "404") > missing);
        let text = metrics::render();
        assert!(text.contains("chillproxy_http_request_duration_seconds_count{route=\"/metrics-unit/{config}/item\"}"));
        assert!(!text.contains("eyJTOKENsecret"), "{text}");
    }

    #[test]
    fn config_segments_never_reach_the_log_path() {
        assert_eq!(
            loggable_path("/stremio/torz/eyJTOKEN/stream/movie/tt1.json"),
            "/stremio/torz/{config}/stream/movie/tt1.json"
        );
        assert_eq!(loggable_path("/stremio/torz/manifest.json"), "/stremio/torz/manifest.json");
        assert_eq!(loggable_path("/health"), "/health");
    }
}
