//! Secrets, sealing, hostile input, inbound and outbound limits.

mod hardening;
mod hostile;
mod inbound_limits;
mod outbound_policy;
mod properties;
mod sealed_configs;
mod sealed_lists;
mod secrets_audit;
mod secrets_in_logs;
