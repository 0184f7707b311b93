//! The upstream HTTP kit: everything a plugin that speaks HTTP needs besides its own envelope
//! and error codes. Build one [`Upstream`] from the plugin's [`UpstreamSettings`] (embedded
//! flat in its config) and a base URL checked by [`check_base_url`]; each call goes through
//! [`Upstream::call`], which holds an in-flight permit, applies the deadline, reads the body
//! up to the limit, records the upstream metric and hands the plugin a [`Reply`] or a typed
//! [`UpstreamError`] whose text carries neither the URL nor a secret. A store plugin calls its
//! API through [`BudgetedUpstream`], which spends from the caller's key's request budgets first.

mod budgeted;
mod cache_control;
mod client;
mod errors;
mod outbound;
mod settings;
mod text;

#[cfg(test)]
mod tests;

pub use budgeted::{BlockOn, BudgetedUpstream, CallPolicy, Spend};
pub use cache_control::{max_age, CacheControl};
pub use client::{Reply, Request, Upstream, UpstreamOptions, USER_AGENT};
pub use errors::{Failure, Stage, UpstreamBuildError, UpstreamError, UpstreamFailure};
pub use outbound::{non_public, parse_host_port, OutboundPolicy, OutboundRefused, PolicyResolver, RefusalKind};
pub use reqwest::{Method, StatusCode, Url};
pub use settings::{UpstreamDefaults, UpstreamSettings};
pub use text::{check_base_url, clean_text, parse_retry_after, scrub, size_text, BaseUrl};
