//! Pieces of the user's config (the `{config}` path segment) that plugins see.

use serde::{Deserialize, Serialize};

use crate::Secret;

/// One entry of `stores[]`: a store code plus whatever credentials the user gave.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoreEntry {
    /// Store code: `tb`, `rd`, `ad`.
    #[serde(default)]
    pub c: String,
    /// The user's own debrid API token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<Secret>,
    /// A Chillstreams user UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
}

impl StoreEntry {
    pub fn token(&self) -> Option<&Secret> {
        self.t.as_ref().filter(|t| !t.is_empty())
    }

    pub fn auth(&self) -> Option<&str> {
        self.auth.as_deref().map(str::trim).filter(|a| !a.is_empty())
    }
}

/// One entry of `indexers[]`: a Torznab endpoint the user brings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserIndexer {
    /// Kind or display name: `jackett`, `prowlarr`, `generic`.
    #[serde(default)]
    pub n: String,
    /// Torznab URL.
    #[serde(default)]
    pub u: String,
    /// API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ak: Option<Secret>,
}
