//! chillproxy-tests: fakes of every upstream (Chillstreams, TorBox, RealDebrid, AllDebrid,
//! Premiumize, Torznab, StremThru, Stremio addons; plus a forward proxy), each a small axum
//! server on 127.0.0.1:0 that follows the upstream's documented API and records what reached
//! it; helpers to start the real host against them; the devstack binary.
//!
//! The test files live in `tests/tests/`.

pub mod client;
pub mod fakes;
pub mod host;
pub mod logs;
pub mod redis;
pub mod stack;
pub mod stremio_check;
pub mod usenet;

/// Links every plugin crate, as the real binary does.
pub fn link_plugins() {
    chillproxy_plugins::link();
}
