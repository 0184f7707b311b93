//! What the operator relies on (the `/metrics` deltas are in the `process` binary): the dashboard and alert rules over them, upstream health
//! in `/ready`, the status page, the plugin registry, the workspace's shape.

mod architecture;
mod dashboards;
mod health;
mod registry;
mod status_page;

/// Held by the tests that scrape after making load (`dashboards`, `health`, `status_page`) so
/// their loads do not overlap. Tests that count exactly how far a series moved are in the
/// `process` binary, which they have to themselves.
static SCRAPES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
