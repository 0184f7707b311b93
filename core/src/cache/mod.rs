//! An in-process TTL cache with single-flight loading: concurrent misses for one key share one
//! load, and the loader decides per result how long (if at all) it is kept.
//!
//! Two rules keep it safe under clients that hang up (issue 9):
//! - **A load runs on its own task.** Waiters only hold a handle on it. When every waiter goes
//!   away (a Stremio client closed its socket), the load still runs to its end under its own
//!   deadline, releases whatever it holds (in-flight permits, locks) and fills the cache for the
//!   next request. Nothing is ever held by a future that nobody polls.
//! - **Storage and eviction are `quick_cache`'s** (a sharded map with CLOCK-Pro-like eviction:
//!   entries read since they came in outlive one-hit entries), bounded by entries *and* by
//!   estimated bytes: each entry weighs `max(its size, max_bytes / max_entries)`, so neither
//!   bound can be exceeded. No full scan ever happens on the request path. It replaced moka
//!   here for the warm path (issue 25): a moka read queues a read record and now and then runs
//!   housekeeping, which the profile of a warm list showed at about 10% of the host's CPU across
//!   its lookups; a quick_cache read is a hash, a shard read lock and a clone.
//!
//! Caches' own single-flight loaders run the load on the caller's task and cancel it with that
//! caller; we want the opposite (every flight in chillproxy is bounded by its own timeout, and
//! its result is useful to the next viewer), so flights are a small map of spawned tasks next to
//! the store.
//!
//! [`SharedCache`] puts the shared-state tier (Redis across replicas) between the memory and the
//! loader. Loaders return the value *with* how long to keep it ([`Kept`]), so a lifetime that is
//! only known once the load ran (a link's expiry, what is left of a value another replica
//! cached) goes with the value.

mod flight;
mod shared;
#[cfg(test)]
mod tests;

pub use flight::{CacheLimits, CacheStats, FlightCache, Kept, Weigher};
pub use shared::SharedCache;
