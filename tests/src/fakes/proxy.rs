//! A tiny HTTP forward proxy for tests: it takes absolute-form requests (`GET http://host/path`,
//! what an HTTP client sends to a configured `proxy_url`), forwards them with a `Via` header
//! added, and counts what went through. Plain HTTP only (no `CONNECT`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::{serve, Running};

#[derive(Clone)]
pub struct ForwardProxy {
    forwarded: Arc<AtomicUsize>,
    client: reqwest::Client,
}

impl ForwardProxy {
    pub async fn start() -> (Self, Running) {
        let client = reqwest::Client::builder().no_proxy().build().expect("a client");
        let proxy = Self { forwarded: Arc::new(AtomicUsize::new(0)), client };
        let running = serve(Router::new().fallback(forward).with_state(proxy.clone())).await;
        (proxy, running)
    }

    /// Requests forwarded so far.
    pub fn forwarded(&self) -> usize {
        self.forwarded.load(Ordering::SeqCst)
    }
}

async fn forward(
    State(proxy): State<ForwardProxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.scheme().is_none() || uri.authority().is_none() {
        return (StatusCode::BAD_REQUEST, "not a proxy request").into_response();
    }
    proxy.forwarded.fetch_add(1, Ordering::SeqCst);
    let mut request = proxy.client.request(method, uri.to_string()).body(body);
    for (name, value) in &headers {
        if !matches!(name.as_str(), "host" | "proxy-connection" | "connection" | "content-length") {
            request = request.header(name, value);
        }
    }
    request = request.header("via", "1.1 chillproxy-test-proxy");
    match request.send().await {
        Ok(reply) => {
            let status = reply.status();
            let headers = reply.headers().clone();
            let bytes = reply.bytes().await.unwrap_or_default();
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            for (name, value) in &headers {
                if !matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
                    response.headers_mut().insert(name, value.clone());
                }
            }
            response
        }
        Err(_) => (StatusCode::BAD_GATEWAY, "the proxy could not reach the upstream").into_response(),
    }
}
