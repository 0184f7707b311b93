//! The `Requester` extractor: who is asking (client IP and device, see `client`) and the public
//! base URL for the links a reply carries, read from the socket peer and the headers under
//! `[server]`'s rules.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::client::{public_base_url, ClientInfo};
use crate::state::AppState;

/// The requesting client and the public base URL for links, from the socket peer and the
/// headers (forwarding headers only from trusted proxies).
pub(crate) struct Requester {
    pub client: ClientInfo,
    pub base_url: String,
}

impl FromRequestParts<AppState> for Requester {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>().copied() else {
            return Err((StatusCode::INTERNAL_SERVER_ERROR, "the connection's peer address is unknown").into_response());
        };
        let server = &state.config().server;
        Ok(Self {
            client: ClientInfo::from_request(peer, &parts.headers, server),
            base_url: public_base_url(peer, &parts.headers, server),
        })
    }
}
