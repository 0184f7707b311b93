//! What the operator relies on: metrics, the dashboard and alert rules over them, the plugin
//! registry, the workspace's shape.

mod architecture;
mod dashboards;
mod metrics;
mod registry;

/// Held by the tests that count requests between two scrapes (`metrics`) or make load for one
/// (`dashboards`): the registry is global to this binary, so these two must not overlap.
static SCRAPES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
