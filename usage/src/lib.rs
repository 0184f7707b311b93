//! chillproxy-usage: the durable usage spool. Each successful playback with a credential that
//! carries a usage tag (Chillstreams) becomes one [`chillproxy_core::UsageRecord`]; it is kept on
//! disk ([`UsageSpool`], configured by [`UsageConfig`], the `[usage]` table) until the auth
//! provider that granted the credential accepted it, so events survive an outage of the receiver
//! and a restart of chillproxy. Delivery is at least once: the receiver drops duplicates by their
//! `eventId`. Records hold no key, and no credential is ever logged.
//!
//! - `config`: the `[usage]` table, its defaults and its checks.
//! - `spool`: the redb store, its writer thread and the [`UsageSpool`] handle.
//! - `delivery`: the background worker that delivers, with backoff and a shutdown grace.
//!
//! Depends on chillproxy-core and its own crates only: never on chillproxy-host or a plugin crate
//! (the receiver is whatever [`chillproxy_core::AuthProvider`] the host's auth chain names).

mod config;
mod delivery;
mod spool;
#[cfg(test)]
mod test_support;

pub use config::UsageConfig;
pub use spool::{UsageCounters, UsageSpool};
