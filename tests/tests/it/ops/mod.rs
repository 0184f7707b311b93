//! What the operator relies on: metrics, the dashboard and alert rules over them, upstream health
//! in `/ready`, the status page, the plugin registry, the workspace's shape.

mod architecture;
mod dashboards;
mod health;
mod metrics;
mod registry;
mod status_page;

/// Held by the tests that count requests between two scrapes (`metrics`) or make load
/// (`dashboards`, `health`, `status_page`): the registry is global to this binary, so these must
/// not overlap.
static SCRAPES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
