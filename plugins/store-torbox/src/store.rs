//! Placeholder until the TorBox client lands (issue 3): every operation is NotImplemented.

use std::net::IpAddr;

use chillproxy_core::{
    async_trait, Account, CachedItem, Credential, InfoHash, Magnet, StoreError, StoreFile, StoreProvider,
};

use crate::TorBoxConfig;

pub struct TorBoxStore {
    _http: reqwest::Client,
    _api_url: String,
}

impl TorBoxStore {
    pub fn new(config: &TorBoxConfig) -> Result<Self, reqwest::Error> {
        Ok(Self { _http: reqwest::Client::builder().build()?, _api_url: config.api_url.clone() })
    }

    fn todo<T>(&self, operation: &'static str) -> Result<T, StoreError> {
        Err(StoreError::NotImplemented { store: "TorBox", operation })
    }
}

#[async_trait]
impl StoreProvider for TorBoxStore {
    fn name(&self) -> &'static str {
        crate::NAME
    }
    fn code(&self) -> &'static str {
        crate::CODE
    }
    fn display_name(&self) -> &'static str {
        "TorBox"
    }
    async fn check_cached(&self, _: &Credential, _: &[InfoHash]) -> Result<Vec<CachedItem>, StoreError> {
        self.todo("check_cached")
    }
    async fn add_magnet(&self, _: &Credential, _: &InfoHash, _: Option<IpAddr>) -> Result<Magnet, StoreError> {
        self.todo("add_magnet")
    }
    async fn get_magnet(&self, _: &Credential, _: &str, _: Option<IpAddr>) -> Result<Magnet, StoreError> {
        self.todo("get_magnet")
    }
    async fn generate_link(&self, _: &Credential, _: &Magnet, _: &StoreFile, _: Option<IpAddr>) -> Result<String, StoreError> {
        self.todo("generate_link")
    }
    async fn account(&self, _: &Credential) -> Result<Account, StoreError> {
        self.todo("account")
    }
}
