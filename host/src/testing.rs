//! In-memory providers for unit tests of the domain functions: an auth provider with scripted
//! outcomes, a store that knows a few torrents, a source with fixed candidates, and a usage sink
//! that keeps what it is given. No socket, no file.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chillproxy_core::async_trait;
use chillproxy_core::{
    Account, AuthChain, AuthOutcome, AuthPresentation, AuthProvider, AuthRequest, CachedItem, Candidate, ContentKind,
    Credential, Found, InfoHash, Magnet, MagnetStatus, NzbIndexer, Secret, SharedState, SourceError, SourceProvider,
    SourceQuery, StoreCapabilities, StoreError, StoreFile, StoreIdentity, StoreProvider, UsageEvent, UsenetAdd,
    UsenetHash, UserIndexer,
};

use crate::client::ClientInfo;
use crate::config::{CacheConfig, PlaybackConfig};
use crate::memory::AvailabilityMemory;
use crate::playback::{PlaybackContext, UsageSink};
use crate::plugins::Plugins;
use crate::streams::{StreamRequest, StreamsContext};

/// The client of the unit tests' requests: one address, one device.
pub(crate) fn client() -> ClientInfo {
    let ip = [203, 0, 113, 7].into();
    ClientInfo { ip, device: chillproxy_core::DeviceId::from_client(ip, "test") }
}

/// A stream-list request for the movie, with the test's config, client and binding.
pub(crate) fn movie_request<'a>(
    config: &'a chillproxy_stremio::UserConfig,
    client: &'a ClientInfo,
    media: &'a chillproxy_core::MediaQuery,
    binding: &str,
) -> StreamRequest<'a> {
    StreamRequest {
        config,
        config_segment: "seg",
        id: "tt0111161",
        media,
        meta: None,
        client,
        base_url: "http://h",
        binding: binding.to_string(),
        keyring: None,
        binding_ttl_s: 3600,
        lists: None,
    }
}

pub(crate) fn hash(c: char) -> InfoHash {
    InfoHash::parse(&c.to_string().repeat(40)).unwrap()
}

/// Answers every request with `outcome()`; counts the calls.
pub(crate) struct ScriptedAuth {
    pub name: &'static str,
    pub display: &'static str,
    pub outcome: fn() -> AuthOutcome,
    pub calls: AtomicUsize,
}

#[async_trait]
impl AuthProvider for ScriptedAuth {
    fn name(&self) -> &'static str {
        self.name
    }
    fn presentation(&self) -> AuthPresentation {
        AuthPresentation { display_name: self.display, credential_label: "The credential", entry_field: None }
    }
    async fn authorize(&self, _: &AuthRequest<'_>) -> AuthOutcome {
        self.calls.fetch_add(1, Ordering::SeqCst);
        (self.outcome)()
    }
}

pub(crate) fn granting() -> AuthOutcome {
    AuthOutcome::Granted(Credential::new(Secret::new("memory-key"), "memory"))
}

/// A store holding `torrents` (hash → files), all ready; it counts its calls.
pub(crate) struct MemoryStore {
    pub code: &'static str,
    pub display: &'static str,
    pub torrents: HashMap<InfoHash, Vec<StoreFile>>,
    pub checks: AtomicUsize,
    pub adds: AtomicUsize,
    /// [`StoreCapabilities::EXACT`] unless a test says otherwise (`HISTORY_ONLY`: `torrents` is
    /// then the user's library).
    pub capabilities: StoreCapabilities,
    /// With `capabilities.usenet`: whether the credential may use usenet (a plan that includes it).
    pub usenet_allowed: bool,
    /// Usenet hashes asked in `check_cached_usenet`, and the links `add_usenet` was given.
    pub usenet_checked: Mutex<Vec<UsenetHash>>,
    pub usenet_links: Mutex<Vec<String>>,
    /// Torrents `add_magnet` refuses (as a store refuses a release, 451).
    pub refused: Vec<InfoHash>,
}

impl MemoryStore {
    pub(crate) fn new(code: &'static str, display: &'static str, torrents: &[(InfoHash, &[(&str, u64)])]) -> Self {
        let torrents = torrents
            .iter()
            .map(|(hash, files)| {
                let files = files
                    .iter()
                    .enumerate()
                    .map(|(i, (name, size))| StoreFile {
                        id: i as u64,
                        name: name.to_string(),
                        path: format!("/{name}"),
                        size: *size,
                        video_hash: None,
                    })
                    .collect();
                (hash.clone(), files)
            })
            .collect();
        let capabilities = StoreCapabilities::EXACT;
        Self {
            code,
            display,
            torrents,
            checks: AtomicUsize::new(0),
            adds: AtomicUsize::new(0),
            capabilities,
            usenet_allowed: true,
            usenet_checked: Mutex::new(Vec::new()),
            usenet_links: Mutex::new(Vec::new()),
            refused: Vec::new(),
        }
    }

    fn magnet(&self, hash: &InfoHash) -> Result<Magnet, StoreError> {
        let files =
            self.torrents.get(hash).ok_or(StoreError::NotFound { store: self.display, message: "no".into() })?;
        Ok(Magnet {
            id: hash.to_string(),
            hash: hash.clone(),
            name: "memory".into(),
            size: files.iter().map(|f| f.size).sum(),
            status: MagnetStatus::Downloaded,
            files: files.clone(),
        })
    }
}

#[async_trait]
impl StoreProvider for MemoryStore {
    fn identity(&self) -> StoreIdentity {
        StoreIdentity { name: self.code, code: self.code, display_name: self.display, capabilities: self.capabilities }
    }
    async fn check_cached(&self, _: &Credential, hashes: &[InfoHash]) -> Result<Vec<CachedItem>, StoreError> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        Ok(hashes
            .iter()
            .filter_map(|h| self.torrents.get(h).map(|files| CachedItem { hash: h.clone(), files: files.clone() }))
            .collect())
    }
    async fn add_magnet(&self, _: &Credential, hash: &InfoHash, _: Option<IpAddr>) -> Result<Magnet, StoreError> {
        self.adds.fetch_add(1, Ordering::SeqCst);
        if self.refused.contains(hash) {
            return Err(StoreError::Refused { store: self.display, message: "not this one".into() });
        }
        self.magnet(hash)
    }
    async fn get_magnet(&self, _: &Credential, id: &str, _: Option<IpAddr>) -> Result<Magnet, StoreError> {
        self.magnet(&InfoHash::parse(id).ok_or(StoreError::NotFound { store: self.display, message: id.into() })?)
    }
    async fn generate_link(
        &self,
        _: &Credential,
        magnet: &Magnet,
        file: &StoreFile,
        _: Option<IpAddr>,
    ) -> Result<String, StoreError> {
        Ok(format!("https://cdn.memory/{}/{}", magnet.hash, file.name))
    }
    async fn account(&self, _: &Credential) -> Result<Account, StoreError> {
        Ok(Account { id: "1".into(), email: "m@example".into(), subscription: "premium".into() })
    }
    async fn plays(&self, _: &Credential, kind: ContentKind) -> bool {
        self.capabilities.plays(kind) && (kind == ContentKind::Torrent || self.usenet_allowed)
    }
    /// `torrents` holds the cached usenet releases too, under their keys.
    async fn check_cached_usenet(&self, c: &Credential, hashes: &[UsenetHash]) -> Result<Vec<CachedItem>, StoreError> {
        self.usenet_checked.lock().unwrap().extend(hashes.iter().cloned());
        let keys: Vec<InfoHash> = hashes.iter().map(UsenetHash::key).collect();
        self.check_cached(c, &keys).await
    }
    async fn add_usenet(&self, c: &Credential, nzb: &UsenetAdd<'_>, ip: Option<IpAddr>) -> Result<Magnet, StoreError> {
        self.usenet_links.lock().unwrap().push(nzb.link.expose().to_string());
        self.add_magnet(c, &nzb.hash.key(), ip).await
    }
}

/// The key [`FixedSource`] gives back for its operator indexers' NZBs.
pub(crate) const NZB_INDEXER_KEY: &str = "operator-indexer-key";

/// A source that always answers `candidates`.
pub(crate) struct FixedSource(pub Vec<Candidate>);

#[async_trait]
impl SourceProvider for FixedSource {
    fn name(&self) -> &'static str {
        "fixed"
    }
    async fn search(&self, _: &SourceQuery<'_>) -> Result<Found, SourceError> {
        Ok(self.0.clone().into())
    }
    fn nzb_key(&self, indexer: &NzbIndexer, user_indexers: &[UserIndexer]) -> Option<Secret> {
        match indexer {
            NzbIndexer::Operator { .. } => Some(Secret::new(NZB_INDEXER_KEY)),
            NzbIndexer::User { index, .. } => user_indexers.get(*index).and_then(|i| i.ak.clone()),
            NzbIndexer::None => None,
        }
    }
}

/// An NZB candidate of [`FixedSource`]'s operator indexer, whose link carries its key.
pub(crate) fn nzb_candidate(n: u8, title: &str, size: u64) -> Candidate {
    let hash = UsenetHash::from_digest(&[n; 16]);
    let link = format!("https://indexer.example/api?t=get&id={n}&apikey={NZB_INDEXER_KEY}");
    let indexer = NzbIndexer::Operator { source: "fixed".into(), name: "geek".into() };
    let nzb = chillproxy_core::Nzb::new(hash, &link, Some(&Secret::new(NZB_INDEXER_KEY)), indexer);
    Candidate::usenet(nzb, title.into(), Some(size), "geek".into())
}

pub(crate) fn candidate(hash: InfoHash, title: &str, size: u64) -> Candidate {
    Candidate {
        hash,
        title: title.into(),
        size: Some(size),
        seeders: Some(5),
        indexer: "memory".into(),
        files: Vec::new(),
        file_idx: None,
        cached_on: Vec::new(),
        nzb: None,
    }
}

/// Keeps every usage event.
#[derive(Default)]
pub(crate) struct RecordedUsage(pub Mutex<Vec<UsageEvent>>);

impl UsageSink for RecordedUsage {
    fn record(&self, _: &Credential, event: &UsageEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

/// Both features' contexts over one set of providers and one availability memory, as
/// `AppState::new` builds them.
pub(crate) struct Services {
    pub streams: StreamsContext,
    pub playback: PlaybackContext,
    pub memory: AvailabilityMemory,
}

/// Services over the given providers, with default caches and a short playback wait.
pub(crate) fn services(
    auth: Vec<Arc<dyn AuthProvider>>,
    stores: Vec<Arc<dyn StoreProvider>>,
    sources: Vec<Arc<dyn SourceProvider>>,
    usage: Arc<RecordedUsage>,
) -> Services {
    let settings = PlaybackConfig {
        wait_ms: 200,
        poll_interval_ms: 10,
        error_ttl_s: 15,
        status_videos: false,
        ..Default::default()
    };
    services_with(auth, stores, sources, usage, settings)
}

/// As [`services`], with these playback settings, and playback reading the stream list's
/// search results (for failover) as `AppState::new` wires it.
pub(crate) fn services_with(
    auth: Vec<Arc<dyn AuthProvider>>,
    stores: Vec<Arc<dyn StoreProvider>>,
    sources: Vec<Arc<dyn SourceProvider>>,
    usage: Arc<RecordedUsage>,
    settings: PlaybackConfig,
) -> Services {
    let plugins = Plugins::assemble(AuthChain::new(auth), stores, sources, vec!["memory"], SharedState::default());
    let plugins = Arc::new(plugins);
    let cache = CacheConfig::default();
    let memory = AvailabilityMemory::new(&cache, SharedState::default());
    let streams = StreamsContext::new(plugins.clone(), memory.clone(), &cache);
    let playback = PlaybackContext::new(plugins, memory.clone(), &cache, settings, usage)
        .with_titles(Arc::new(crate::streams::SearchResults(streams.clone())));
    Services { streams, playback, memory }
}
