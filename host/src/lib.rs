//! chillproxy-host: the HTTP server (`pub fn app(state) -> Router`), `plugins.toml` loading and
//! the `chillproxy` command line. Plugins come in through chillproxy-plugins; this crate names
//! no plugin: it reads what they can do from the registry and from their providers.
//!
//! Layout, by behaviour: `http` (router, extractors, layers, operator routes, serving),
//! `streams` (the stream list: availability across stores, ranking, formatting), `playback`
//! (resolution, its error and response), `configure` (the page and its credential check),
//! `status` (the operator's status page and its sampler), `problems` (what the user reads),
//! `state` (what handlers share), `meta` (Kitsu metadata for ids), `config`, `plugins`,
//! `caches`, `binding`, `usage`.

mod binding;
mod client;
pub mod config;
mod configure;
mod handle;
mod html;
mod http;
mod library;
mod limits;
mod memory;
mod meta;
mod nzb_book;
mod playback;
mod plays;
mod plugins;
mod problems;
mod redis_tier;
mod requester;
mod segments;
mod state;
mod status;
mod streams;
#[cfg(test)]
mod testing;
mod titles;
#[cfg(test)]
mod usenet_tests;

pub use client::ClientInfo;
pub use config::Config;
pub use http::serve as server;
pub use http::{app, guard};
pub use plugins::Plugins;
pub use state::AppState;

/// Makes sure every plugin crate is linked in (see chillproxy-plugins).
pub fn link_plugins() {
    chillproxy_plugins::link();
}
