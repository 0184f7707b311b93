//! Fake upstreams. Each one is an axum app served on its own 127.0.0.1:0 socket; its state is
//! shared with the test so the test can switch modes and read what the fake received.

pub mod alldebrid;
pub mod chillstreams;
pub mod cinemeta;
pub mod debrid;
pub mod kitsu;
pub mod newznab;
pub mod premiumize;
pub mod proxy;
pub mod realdebrid;
pub mod stremio_addon;
pub mod stremthru;
pub mod torbox;
pub mod torbox_search;
pub mod torbox_usenet;
pub mod torznab;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use tokio::sync::oneshot;

/// A running fake. Dropping it stops the server.
pub struct Running {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Serves `router` on a fresh loopback port until the returned handle is dropped.
pub async fn serve(router: Router) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Running { addr, _stop: stop }
}

/// A loopback port with nothing listening on it, for "upstream down" tests.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Every header, name lowercased.
    pub headers: BTreeMap<String, String>,
}

impl Received {
    /// What `request` carries, whole.
    pub fn of(request: &axum::extract::Request) -> Self {
        Self {
            method: request.method().to_string(),
            path: request.uri().path().to_string(),
            query: request.uri().query().unwrap_or_default().to_string(),
            headers: request
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
        }
    }

    /// The whole request as text, for "contains no secret" checks.
    pub fn text(&self) -> String {
        let headers: Vec<String> = self.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        format!("{} {}?{}\n{}", self.method, self.path, self.query, headers.join("\n"))
    }
}
