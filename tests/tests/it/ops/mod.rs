//! What the operator relies on: metrics, the plugin registry, the workspace's shape.

mod architecture;
mod metrics;
mod registry;
