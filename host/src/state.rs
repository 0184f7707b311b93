//! What request handlers share: [`AppState`], built once at startup. It builds each feature's
//! own context ([`StreamsContext`], [`PlaybackContext`]) over one set of plugins and one
//! availability memory; a handler hands a feature only its context (axum's `FromRef` gives it
//! to handlers that ask for it), so features are tested with in-memory providers and no socket.

use std::sync::Arc;
use std::time::Duration;

use chillproxy_core::ConfigError;
use chillproxy_stremio::{ConfigProblem, UserConfig};

use axum::extract::FromRef;
use axum::http::HeaderValue;
use chillproxy_core::seal::{Keyring, OpenError, Purpose};
use chillproxy_usage::UsageSpool;

use crate::binding::Binder;
use crate::config::Config;
use crate::library::LibraryContext;
use crate::limits::InboundLimits;
use crate::memory::AvailabilityMemory;
use crate::meta::MetaLookup;
use crate::playback::PlaybackContext;
use crate::plugins::Plugins;
use crate::segments::{Decoded, SegmentCache};
use crate::status::{StatusBoard, SAMPLE_EVERY};
use crate::streams::{SearchResults, StreamsContext};

/// Longest sealed config accepted: the plain bound, base64-expanded, plus nonce, tag and prefix.
const SEALED_CONFIG_MAX: usize = chillproxy_stremio::MAX_ENCODED_BYTES * 4 / 3 + 128;

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    plugins: Arc<Plugins>,
    streams: StreamsContext,
    playback: PlaybackContext,
    /// Kitsu metadata for `kitsu:` ids and anime episode numbers (`[meta]`).
    meta: MetaLookup,
    library: LibraryContext,
    usage: Arc<UsageSpool>,
    binder: Binder,
    limits: InboundLimits,
    /// Seals configs and playback handles; empty without `CHILLPROXY_KEYS`.
    keyring: Keyring,
    /// Decoded `{config}` segments by the segment as sent.
    segments: SegmentCache,
    /// The status page's last hour.
    status: StatusBoard,
    /// `Cache-Control` of stream lists, made once: (with real streams, warnings only).
    list_caching: (HeaderValue, HeaderValue),
}

impl AppState {
    /// Opens the usage spool; call [`AppState::start_background`] inside the runtime.
    pub fn new(config: Config, plugins: Plugins) -> Result<Self, ConfigError> {
        let usage = Arc::new(UsageSpool::open(&config.usage)?);
        let plugins = Arc::new(plugins);
        let memory = AvailabilityMemory::new(&config.cache, plugins.shared.clone());
        let streams = StreamsContext::new(plugins.clone(), memory.clone(), &config.cache);
        let meta = MetaLookup::new(&config.meta, plugins.shared.clone(), &plugins.health)?;
        let playback =
            PlaybackContext::new(plugins.clone(), memory, &config.cache, config.playback.clone(), usage.clone())
                .with_titles(Arc::new(SearchResults(streams.clone())));
        let library = LibraryContext::new(plugins.clone(), config.cache.max_entries);
        let secret = config.server.secret.clone().unwrap_or_else(|| {
            tracing::warn!(
                "no [server] secret or CHILLPROXY_SECRET set: using a random one; playback links' device \
                 bindings will not survive a restart or work across replicas"
            );
            Binder::random_secret()
        });
        let binder = Binder::new(secret, Duration::from_secs(config.server.binding_ttl_s));
        let limits = InboundLimits::new(&config.limits).with_shared(&plugins.shared);
        let keyring = match &config.server.keys {
            Some(keys) => Keyring::parse(keys.expose()).map_err(ConfigError::new)?,
            None => Keyring::empty(),
        };
        let segments = SegmentCache::new(&config.cache, !keyring.is_empty());
        let status = StatusBoard::default();
        let list_caching = list_cache_control(&config, !keyring.is_empty());
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                plugins,
                streams,
                playback,
                meta,
                library,
                usage,
                binder,
                limits,
                keyring,
                segments,
                status,
                list_caching,
            }),
        })
    }

    /// Starts background work (usage delivery, idle limits, the shared tier's probe, the status
    /// page's sampler).
    pub fn start_background(&self) {
        self.inner.usage.start(self.inner.plugins.auth.clone());
        let state = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                match state.upgrade() {
                    Some(inner) => inner.limits.forget_idle(),
                    None => break,
                }
            }
        });
        // A read every second keeps `/ready` true to the shared tier without traffic: it finds
        // out that Redis went away or came back (requests would, too). One GET a second.
        let state = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                let Some(inner) = state.upgrade() else { break };
                let shared = inner.plugins.shared.clone();
                drop(inner);
                let _ = shared.tier().get("cp:v1:probe").await;
            }
        });
        // The status page's hour: one reading every 10 s (the first at once), bounded.
        let state = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SAMPLE_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let Some(inner) = state.upgrade() else { break };
                inner.status.sample(&inner.plugins, inner.usage.depth());
            }
        });
    }

    pub(crate) fn status_board(&self) -> &StatusBoard {
        &self.inner.status
    }

    pub(crate) fn limits(&self) -> &InboundLimits {
        &self.inner.limits
    }

    pub fn usage(&self) -> &UsageSpool {
        &self.inner.usage
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn plugins(&self) -> &Plugins {
        &self.inner.plugins
    }

    /// The stream list's context.
    pub(crate) fn streams(&self) -> &StreamsContext {
        &self.inner.streams
    }

    /// Kitsu metadata, read by the stream list and playback.
    pub(crate) fn meta(&self) -> &MetaLookup {
        &self.inner.meta
    }

    /// The library's context.
    pub(crate) fn library(&self) -> &LibraryContext {
        &self.inner.library
    }

    /// Playback's context.
    pub(crate) fn playback(&self) -> &PlaybackContext {
        &self.inner.playback
    }

    pub(crate) fn binder(&self) -> &Binder {
        &self.inner.binder
    }

    /// The codes of the enabled stores.
    pub(crate) fn store_codes(&self) -> &[&'static str] {
        &self.plugins().store_codes
    }

    /// The `Cache-Control` of a stream list with real streams (`true`) or warnings only.
    pub(crate) fn list_cache_control(&self, real: bool) -> &HeaderValue {
        match real {
            true => &self.inner.list_caching.0,
            false => &self.inner.list_caching.1,
        }
    }

    pub(crate) fn keyring(&self) -> &Keyring {
        &self.inner.keyring
    }

    /// A `{config}` segment decoded and validated against the enabled stores, with the user's
    /// fingerprint; decoded once per distinct segment (see `segments`).
    pub(crate) fn decoded(&self, segment: &str) -> Arc<Decoded> {
        self.inner.segments.get_or_decode(segment, |segment| self.decode_uncached(segment))
    }

    /// The config of a `{config}` segment, or why it is refused (see [`AppState::decoded`]).
    pub(crate) fn decode_user_config(&self, segment: &str) -> Result<Arc<UserConfig>, ConfigProblem> {
        self.decoded(segment).config.clone()
    }

    /// Decodes and validates a `{config}` segment against the enabled stores: a sealed one
    /// (`c1.…`) is opened with the keyring; a plain one is read when `accept_plain_config` allows.
    fn decode_uncached(&self, segment: &str) -> Result<UserConfig, ConfigProblem> {
        let segment = segment.trim();
        if Keyring::looks_sealed(Purpose::Config, segment) {
            if segment.len() > SEALED_CONFIG_MAX {
                return Err(ConfigProblem::whole("this install link is too long to be one of this server's"));
            }
            let json = self.keyring().open(Purpose::Config, segment).map_err(|error| match error {
                OpenError::RetiredKey | OpenError::NoKeys => {
                    ConfigProblem::whole("this install link is no longer valid: configure again")
                }
                OpenError::Damaged | OpenError::Malformed => ConfigProblem::whole(
                    "this install link is damaged (changed or cut short): copy it again, or configure again",
                ),
            })?;
            return UserConfig::from_json(&json, self.store_codes());
        }
        if !self.config().server.accept_plain_config {
            return Err(ConfigProblem::whole(
                "this server accepts only sealed install links: open its configure page, fill it in and install again",
            ));
        }
        UserConfig::decode(segment, self.store_codes())
    }

    /// Seals a config's JSON for an install URL; `None` without sealing keys.
    pub(crate) fn seal_user_config(&self, json: &[u8]) -> Option<String> {
        self.keyring().seal(Purpose::Config, json)
    }
}

impl FromRef<AppState> for StreamsContext {
    fn from_ref(state: &AppState) -> Self {
        state.inner.streams.clone()
    }
}

impl FromRef<AppState> for LibraryContext {
    fn from_ref(state: &AppState) -> Self {
        state.inner.library.clone()
    }
}

impl FromRef<AppState> for PlaybackContext {
    fn from_ref(state: &AppState) -> Self {
        state.inner.playback.clone()
    }
}

/// `Cache-Control` for a stream list with real streams and for one of warnings only: a list
/// with real streams may be reused for minutes (and served stale while it is refreshed or when
/// we fail); a list of warnings only briefly, so a fixed problem shows at once. With sealing
/// keys a list's handles stop playing at their expiry (`[server] binding_ttl_s`), so no reuse,
/// stale or not, reaches past it. Made once at startup.
fn list_cache_control(config: &Config, sealing: bool) -> (HeaderValue, HeaderValue) {
    let cache = &config.cache;
    let mut stale_while = cache.list_stale_while_revalidate_s;
    let mut stale_if_error = cache.list_stale_if_error_s;
    if sealing {
        // `list_max_age_s < binding_ttl_s` is checked at startup.
        let room = config.server.binding_ttl_s.saturating_sub(cache.list_max_age_s);
        stale_while = stale_while.min(room);
        stale_if_error = stale_if_error.min(room);
    }
    let real = format!(
        "public, max-age={}, stale-while-revalidate={stale_while}, stale-if-error={stale_if_error}",
        cache.list_max_age_s
    );
    let warnings = match cache.warning_list_max_age_s {
        0 => "no-store".to_string(),
        age => format!("public, max-age={age}"),
    };
    let value = |text: String| HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("no-store"));
    (value(real), value(warnings))
}
