//! chillproxy-plugins: names every plugin crate so the linker keeps it, and with it the
//! plugin's `inventory::submit!`. A crate nothing names is dropped silently, so each plugin has
//! one cargo feature here; `build.rs` turns the enabled features into `extern crate` lines. The
//! host and the tests name this crate.
//!
//! **The plugin list is this crate's `Cargo.toml`**: a new plugin adds its feature, its
//! dependency and its name in `default`. The registry guard test and CI's one-plugin-at-a-time
//! builds read the list from there.

include!(concat!(env!("OUT_DIR"), "/plugins.rs"));

/// Call once (e.g. at the start of `main`) to make the dependency on this crate explicit.
pub fn link() {}
