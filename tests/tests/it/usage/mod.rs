//! The usage spool: delivery to Chillstreams, and a full spool.

mod spool;
mod spool_full;
