//! chillproxy-host: the HTTP server (`pub fn app(state) -> Router`), `plugins.toml` loading and
//! the `chillproxy` command line. Plugins come in through chillproxy-plugins; this crate names
//! no plugin crate directly.

pub mod app;
pub mod binding;
pub mod caches;
pub mod client;
pub mod config;
pub mod configure;
pub mod guard;
pub mod manifest;
pub mod media;
pub mod playback;
pub mod plugins;
pub mod server;
pub mod streams;
pub mod stremio;
pub mod userconfig;

pub use app::{app, AppState};
pub use config::Config;
pub use plugins::Plugins;

/// Makes sure every plugin crate is linked in (see chillproxy-plugins).
pub fn link_plugins() {
    chillproxy_plugins::link();
}
