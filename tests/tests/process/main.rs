//! Tests that count on the process's global state: the Prometheus registry is one per process,
//! so a test that asserts how far a counter moved between two scrapes (`chillproxy_http_requests_total`
//! went up by exactly 2) must not share the process with ~200 other tests serving lists. This
//! second binary holds only those, one at a time (`ALONE`); everything else is in `tests/it`.

mod metrics;

/// Held by every test of this binary for its whole run.
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
