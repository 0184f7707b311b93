//! chillproxy-core: the contracts every plugin implements (auth, store, source), the shared
//! types they exchange, the compile-time plugin registry, the auth chain, and the upstream HTTP
//! kit plugins call their services with.
//!
//! This crate must not depend on the host, on any plugin crate, or on an HTTP server (its
//! tests use one as a fake upstream).

pub mod auth;
pub mod budget;
pub mod cache;
pub mod device;
pub mod hash;
pub mod health;
pub mod metrics;
pub mod registry;
pub mod seal;
pub mod secret;
pub mod settings;
pub mod shared;
pub mod source;
pub mod source_cache;
pub mod store;
pub mod upstream;
pub mod user;

pub use async_trait::async_trait;
pub use inventory;

pub use auth::{
    AuthChain, AuthChainError, AuthOutcome, AuthPresentation, AuthProvider, AuthPurpose, AuthRequest, Credential,
    DenyReason, EntryField, UsageError, UsageEvent, UsageRecord, UsageTag,
};
pub use budget::{Budget, OverBudget, Window};
pub use device::DeviceId;
pub use hash::{InfoHash, UsenetHash};
pub use registry::{check_config, AuthPlugin, EnvVar, PluginConfig, PluginContext, SourcePlugin, StorePlugin};
pub use secret::Secret;
pub use settings::{ConfigError, Env, PluginSettings};
pub use shared::{SharedState, SharedTier, TierStatus};
pub use source::{
    Candidate, ContentKind, Found, IdKind, MediaKind, MediaMeta, MediaQuery, Nzb, NzbIndexer, SourceError,
    SourceProvider, SourceQuery,
};
pub use store::{
    Account, CacheKnowledge, CachedItem, LibraryItem, Magnet, MagnetStatus, StoreCapabilities, StoreError,
    StoreErrorKind, StoreFile, StoreIdentity, StoreProvider, UsenetAdd,
};
pub use user::{StoreEntry, UserIndexer};
