//! The HTTP surface: routes, shared state and cross-cutting layers.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use tower_http::cors::{Any, CorsLayer};

use crate::client::public_base_url;
use crate::config::Config;
use crate::manifest::manifest;
use crate::plugins::Plugins;

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    plugins: Plugins,
}

impl AppState {
    pub fn new(config: Config, plugins: Plugins) -> Self {
        Self {
            inner: Arc::new(Inner { config, plugins }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn plugins(&self) -> &Plugins {
        &self.inner.plugins
    }
}

/// The router. Serve it with `into_make_service_with_connect_info::<SocketAddr>()`: handlers
/// need the socket peer to decide which forwarding headers to believe.
pub fn app(state: AppState) -> Router {
    let cors = CorsLayer::new().allow_origin(Any).allow_methods(Any).allow_headers(Any);
    let addon = Router::new()
        .route("/stremio/torz/manifest.json", get(unconfigured_manifest))
        .layer(cors);
    Router::new()
        .route("/health", get(health))
        .merge(addon)
        .with_state(state)
}

async fn health() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn unconfigured_manifest(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let base = public_base_url(peer, &headers, &state.config().server);
    Json(manifest(&base, None))
}
