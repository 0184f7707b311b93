//! `[usage]`: where the spool lives, how many events it keeps and how delivery retries.

use chillproxy_core::ConfigError;
use serde::{Deserialize, Serialize};

/// `[usage]`: the durable spool of usage events, which the auth provider that granted a key
/// delivers. A missing key takes its value from [`UsageConfig::default`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsageConfig {
    /// The spool file (an embedded database); its folder is created when missing.
    pub spool_path: std::path::PathBuf,
    /// At most this many undelivered events are kept; beyond it new events are dropped with an
    /// error log and a counter.
    pub max_events: u64,
    /// Deliveries in flight at once.
    pub max_in_flight: usize,
    /// First and largest pause after a failed delivery (exponential backoff between them).
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// On shutdown, how long deliveries already in flight may still finish; what is left stays
    /// in the spool for the next start.
    pub shutdown_grace_ms: u64,
}

impl Default for UsageConfig {
    fn default() -> Self {
        Self {
            spool_path: "./data/usage.db".into(),
            max_events: 1_000_000,
            max_in_flight: 8,
            backoff_initial_ms: 500,
            backoff_max_ms: 60_000,
            shutdown_grace_ms: 5_000,
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
