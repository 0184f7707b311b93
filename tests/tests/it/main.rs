//! chillproxy's integration tests: one binary, one module per area, so the workspace links the
//! host and every plugin once for all of them (see matklad's "Delete Cargo Integration Tests").
//! Every test starts its own servers and fakes on free loopback ports; nothing reaches the
//! internet, and the test data they read is under `tests/fixtures/`.
//!
//! Run one area with `cargo test -p chillproxy-tests --test it stores::`, one test by its name.

mod auth;
mod browser;
mod ops;
mod playback;
mod replicas;
mod security;
mod sources;
mod stores;
mod stremio;
mod usage;
mod usenet;
