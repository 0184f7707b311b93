//! chillproxy-plugins: names every plugin crate so the linker keeps it, and with it the
//! plugin's `inventory::submit!`. A crate nothing names is dropped silently, so each plugin has
//! one cargo feature and one `extern crate` line here. The host and the tests name this crate.

#[cfg(feature = "auth-chillstreams")]
extern crate chillproxy_auth_chillstreams;
#[cfg(feature = "auth-token")]
extern crate chillproxy_auth_token;
#[cfg(feature = "source-torznab")]
extern crate chillproxy_source_torznab;
#[cfg(feature = "store-alldebrid")]
extern crate chillproxy_store_alldebrid;
#[cfg(feature = "store-realdebrid")]
extern crate chillproxy_store_realdebrid;
#[cfg(feature = "store-torbox")]
extern crate chillproxy_store_torbox;

/// Call once (e.g. at the start of `main`) to make the dependency on this crate explicit.
pub fn link() {}
