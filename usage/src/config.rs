//! `[usage]`: where the spool lives, how many events it keeps and how delivery retries.

use chillproxy_core::ConfigError;
use serde::{Deserialize, Serialize};

/// `[usage]`: the durable spool of usage events (Chillstreams `log-usage`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UsageConfig {
    /// The spool file (an embedded database); its folder is created when missing.
    #[serde(default = "default_spool_path")]
    pub spool_path: std::path::PathBuf,
    /// At most this many undelivered events are kept; beyond it new events are dropped with an
    /// error log and a counter.
    #[serde(default = "default_max_events")]
    pub max_events: u64,
    /// Deliveries in flight at once.
    #[serde(default = "default_usage_concurrency")]
    pub max_in_flight: usize,
    /// First and largest pause after a failed delivery (exponential backoff between them).
    #[serde(default = "default_backoff_initial_ms")]
    pub backoff_initial_ms: u64,
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// On shutdown, how long deliveries already in flight may still finish; what is left stays
    /// in the spool for the next start.
    #[serde(default = "default_shutdown_grace_ms")]
    pub shutdown_grace_ms: u64,
}

fn default_spool_path() -> std::path::PathBuf {
    "./data/usage.db".into()
}

fn default_max_events() -> u64 {
    1_000_000
}

fn default_usage_concurrency() -> usize {
    8
}

fn default_backoff_initial_ms() -> u64 {
    500
}

fn default_backoff_max_ms() -> u64 {
    60_000
}

fn default_shutdown_grace_ms() -> u64 {
    5_000
}

impl Default for UsageConfig {
    fn default() -> Self {
        Self {
            spool_path: default_spool_path(),
            max_events: default_max_events(),
            max_in_flight: default_usage_concurrency(),
            backoff_initial_ms: default_backoff_initial_ms(),
            backoff_max_ms: default_backoff_max_ms(),
            shutdown_grace_ms: default_shutdown_grace_ms(),
        }
    }
}

impl UsageConfig {
    /// Bounds that [`crate::UsageSpool::open`] enforces before it touches the disk.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.max_events == 0 || self.max_in_flight == 0 || self.max_in_flight > 1024 {
            return Err(ConfigError::new("[usage] max_events must be at least 1 and max_in_flight between 1 and 1024"));
        }
        if self.backoff_initial_ms == 0 || self.backoff_max_ms < self.backoff_initial_ms {
            return Err(ConfigError::new(
                "[usage] backoff_initial_ms must be at least 1 and backoff_max_ms at least backoff_initial_ms",
            ));
        }
        if self.shutdown_grace_ms > 60_000 {
            return Err(ConfigError::new("[usage] shutdown_grace_ms must be at most 60000"));
        }
        Ok(())
    }
}
