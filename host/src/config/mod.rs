//! `plugins.toml`: the server settings and, for each plugin kind, which plugins run in which
//! order with which settings. Environment variables beat the file.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use chillproxy_core::registry::{self, Descriptor};
use chillproxy_core::{AuthPlugin, ConfigError, Env, PluginSettings, Secret, SourcePlugin, StorePlugin};
use chillproxy_usage::UsageConfig;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

mod cache;
mod meta;

pub use cache::CacheConfig;
pub use meta::{MetaConfig, DEFAULT_KITSU_URL};

pub const LISTEN_ENV: &str = "CHILLPROXY_LISTEN";
pub const CONFIG_ENV: &str = "CHILLPROXY_CONFIG";
pub const SECRET_ENV: &str = "CHILLPROXY_SECRET";
pub const METRICS_TOKEN_ENV: &str = "CHILLPROXY_METRICS_TOKEN";
pub const REDIS_URL_ENV: &str = "CHILLPROXY_REDIS_URL";

/// `[server] log_format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line, with the request span (and its request id).
    Json,
}

/// `[server]`. A missing key takes its value from [`ServerConfig::default`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on. Env `CHILLPROXY_LISTEN` beats it.
    pub listen: SocketAddr,
    /// The public base URL of this server; when unset it is taken from the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Peers allowed to set `X-Forwarded-For`/`X-Real-IP`/`X-Forwarded-Proto`/`X-Forwarded-Host`.
    #[serde(with = "nets")]
    pub trusted_proxies: Vec<IpNet>,
    /// Serve `GET /_bench/fixed/{bytes}`, a fixed JSON body, as the load benchmark's ceiling.
    /// Off in production.
    #[serde(default)]
    pub bench_endpoint: bool,
    /// Signs the device binding in playback URLs. Env `CHILLPROXY_SECRET` beats it; when
    /// neither is set, a random per-process secret is used (links then do not survive a
    /// restart or span replicas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// How long a playback URL's device binding is honoured.
    pub binding_ttl_s: u64,
    /// Longest request target (path and query) accepted; longer gets 414.
    pub max_uri_bytes: usize,
    /// Largest total of request header names and values accepted; larger gets 431.
    pub max_header_bytes: usize,
    /// On SIGTERM/SIGINT, how long in-flight requests may still finish.
    pub shutdown_grace_ms: u64,
    /// `pretty` or `json`.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Log filter in tracing-subscriber syntax (`info`, `warn,chillproxy_host=debug`). Env
    /// `RUST_LOG` beats it.
    pub log_level: String,
    /// When set, `GET /metrics` requires `Authorization: Bearer <token>`. Env
    /// `CHILLPROXY_METRICS_TOKEN` beats it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_token: Option<Secret>,
    /// Accept plain (base64 JSON) configs in URLs, as classic install URLs carry them.
    /// `false`: only configs sealed with this server's keys (`CHILLPROXY_KEYS`).
    pub accept_plain_config: bool,
    /// The sealing keyring, `kid:base64key,…` (first seals, all open). From the environment
    /// only (`CHILLPROXY_KEYS`): never written in plugins.toml, never printed.
    #[serde(skip)]
    pub keys: Option<Secret>,
    /// Let user-supplied URLs (their indexers, the `.torrent` links those return, redirects)
    /// reach loopback, private, link-local and other non-public addresses. Off: such URLs are
    /// refused before any connection. For home setups.
    pub allow_private_user_urls: bool,
    /// Exact `host:port` endpoints user URLs may reach even when private (a home Jackett at
    /// `192.168.1.10:9117`), without opening the rest.
    pub user_url_allow: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            public_url: None,
            trusted_proxies: vec![
                IpNet::from(IpAddr::from([127, 0, 0, 1])),
                IpNet::from(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
            ],
            bench_endpoint: false,
            secret: None,
            binding_ttl_s: 6 * 3600,
            max_uri_bytes: 16 * 1024,
            max_header_bytes: 32 * 1024,
            shutdown_grace_ms: 10_000,
            log_format: LogFormat::default(),
            log_level: "info".to_string(),
            metrics_token: None,
            accept_plain_config: true,
            keys: None,
            allow_private_user_urls: false,
            user_url_allow: Vec::new(),
        }
    }
}

/// CIDRs as strings; a bare address means that one address.
mod nets {
    use ipnet::IpNet;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(nets: &[IpNet], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(nets.iter().map(|n| n.to_string()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|raw| {
                raw.parse::<IpNet>()
                    .or_else(|_| raw.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| serde::de::Error::custom(format!("{raw:?} is not an IP address or CIDR")))
            })
            .collect()
    }
}

/// `[playback]`: how long a playback request may wait for the store to finish a torrent.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlaybackConfig {
    /// Total budget for waiting on an uncached torrent before answering 504.
    pub wait_ms: u64,
    /// Pause between status polls.
    pub poll_interval_ms: u64,
    /// How long a failed resolution is remembered per (store, credential, hash, file), so the
    /// player's retries (Android sends about 20 requests per tap) get the same answer with no
    /// upstream call. At most 60; 0 turns it off.
    pub error_ttl_s: u64,
    /// A failed playback answers 302 to a short status video
    /// (`/stremio/torz/_/status/{name}.mp4`) that says what happened, which players show; the
    /// status, its text and `Retry-After` travel as headers of the redirect. `false`: the plain
    /// text answer with its status code (for API clients and tests).
    pub status_videos: bool,
    /// When a release fails for a reason of its own (dead, failed download, refused, file
    /// missing), the same request plays another release of the same title from the title's
    /// search result (see `playback::failover`). `false` answers the failure.
    pub failover: bool,
    /// When an episode plays, the next episode's best release (the same kind first) is added to
    /// the store in the background when it is not cached, so "next episode" plays at once. For
    /// a pooled key only when its auth provider allows it, and never past the store's reserve of
    /// new downloads (see `StoreProvider::may_add_in_background`).
    pub prepare_next: bool,
}

impl Default for PlaybackConfig {
    fn default() -> Self {
        Self {
            wait_ms: 15_000,
            poll_interval_ms: 1_500,
            error_ttl_s: 15,
            status_videos: true,
            failover: true,
            prepare_next: true,
        }
    }
}

/// `[limits]`: requests per minute that one client IP, and one user (their config), may make on
/// each route family. Over it, a stream list is a ⚠️ stream and playback a 429 with
/// `Retry-After`. 0 turns a limit off. The client IP is decided by `[server] trusted_proxies`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub streams_per_minute: u32,
    pub playback_per_minute: u32,
    pub configure_checks_per_minute: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        // A viewer browsing lists a few titles a minute; one tap on Android is about 20 playback
        // requests; the configure check is pressed by hand. Per IP they are generous, since a
        // household or a carrier's NAT shares one address.
        Self { streams_per_minute: 120, playback_per_minute: 600, configure_checks_per_minute: 30 }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    cache: CacheConfig,
    #[serde(default)]
    usage: UsageConfig,
    #[serde(default)]
    server: ServerConfig,
    #[serde(default)]
    playback: PlaybackConfig,
    #[serde(default)]
    limits: LimitsConfig,
    #[serde(default)]
    meta: MetaConfig,
    #[serde(default)]
    auth: toml::Table,
    #[serde(default)]
    store: toml::Table,
    #[serde(default)]
    source: toml::Table,
}

/// One registered plugin as the config sees it.
#[derive(Debug)]
pub struct PluginState<T: 'static> {
    pub descriptor: &'static T,
    pub settings: PluginSettings,
    /// `enabled` from its table or its environment flag.
    pub enabled: bool,
    /// Named in the section's list (`chain` or `enabled`).
    pub listed: bool,
}

/// One plugin kind's section: `[auth]` with `chain`, `[store]` with `enabled`, `[source]` with
/// `chain`.
#[derive(Debug)]
pub struct Section<T: 'static> {
    pub list_key: &'static str,
    /// Every registered plugin of the kind, sorted by name.
    pub plugins: Vec<PluginState<T>>,
    /// The plugins that run, in the operator's order: listed and enabled.
    pub active: Vec<&'static T>,
}

impl<T: Descriptor> Section<T> {
    fn load(mut raw: toml::Table, list_key: &'static str, env: &Env) -> Result<Self, ConfigError> {
        let kind = T::KIND;
        let registered = registry::list::<T>()?;
        let available = registry::names(&registered);
        let listed: Vec<String> = match raw.remove(list_key) {
            None => registered.iter().map(|p| p.name().to_string()).collect(),
            Some(toml::Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    toml::Value::String(name) => Ok(name),
                    other => Err(ConfigError::new(format!(
                        "[{kind}] {list_key} must list plugin names as strings, found {other}"
                    ))),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(ConfigError::new(format!(
                    "[{kind}] {list_key} must be a list of plugin names, found {other}"
                )))
            }
        };
        for (i, name) in listed.iter().enumerate() {
            if !registered.iter().any(|p| p.name() == name) {
                return Err(ConfigError::new(format!(
                    "[{kind}] {list_key} names unknown {kind} plugin `{name}`; available: {available}"
                )));
            }
            if listed[..i].contains(name) {
                return Err(ConfigError::new(format!("[{kind}] {list_key} names `{name}` twice")));
            }
        }
        let mut tables = toml::Table::new();
        for (name, value) in raw {
            let toml::Value::Table(table) = value else {
                return Err(ConfigError::new(format!(
                    "[{kind}] has unknown key `{name}`; expected `{list_key}` or a [{kind}.<plugin>] table"
                )));
            };
            if !registered.iter().any(|p| p.name() == name) {
                return Err(ConfigError::new(format!(
                    "[{kind}.{name}] is not a registered {kind} plugin; available: {available}"
                )));
            }
            tables.insert(name, toml::Value::Table(table));
        }

        let mut plugins = Vec::with_capacity(registered.len());
        for descriptor in registered {
            let name = descriptor.name();
            let section = format!("{kind}.{name}");
            let mut table = match tables.remove(name) {
                Some(toml::Value::Table(t)) => t,
                _ => toml::Table::new(),
            };
            let mut enabled = match table.remove("enabled") {
                None => descriptor.enabled_by_default(),
                Some(toml::Value::Boolean(b)) => b,
                Some(other) => {
                    return Err(ConfigError::new(format!("[{section}] enabled must be true or false, found {other}")))
                }
            };
            if let Some(var) = descriptor.enable_env() {
                if let Some(flag) = env.flag(var)? {
                    enabled = flag;
                }
            }
            let settings = PluginSettings::new(section, table, env.clone());
            (descriptor.check())(&settings)?;
            plugins.push(PluginState { descriptor, settings, enabled, listed: listed.iter().any(|n| n == name) });
        }

        let mut active = Vec::new();
        for name in &listed {
            if let Some(state) = plugins.iter().find(|p| p.descriptor.name() == name) {
                if state.enabled {
                    active.push(state.descriptor);
                } else {
                    tracing::info!(kind, plugin = %name, "plugin is listed but disabled; skipping it");
                }
            }
        }
        Ok(Self { list_key, plugins, active })
    }

    pub fn state(&self, name: &str) -> Option<&PluginState<T>> {
        self.plugins.iter().find(|p| p.descriptor.name() == name)
    }

    fn effective(&self) -> toml::Table {
        let mut out = toml::Table::new();
        out.insert(
            self.list_key.to_string(),
            toml::Value::Array(self.active.iter().map(|p| toml::Value::String(p.name().to_string())).collect()),
        );
        for state in &self.plugins {
            let mut table = toml::Table::new();
            table.insert("enabled".into(), toml::Value::Boolean(state.enabled));
            if let Ok(settings) = (state.descriptor.check())(&state.settings) {
                table.extend(settings);
            }
            out.insert(state.descriptor.name().to_string(), toml::Value::Table(table));
        }
        out
    }
}

/// The whole validated configuration.
#[derive(Debug)]
pub struct Config {
    pub server: ServerConfig,
    pub playback: PlaybackConfig,
    pub cache: CacheConfig,
    pub usage: UsageConfig,
    pub limits: LimitsConfig,
    pub meta: MetaConfig,
    pub auth: Section<AuthPlugin>,
    pub store: Section<StorePlugin>,
    pub source: Section<SourcePlugin>,
}

impl Config {
    pub fn from_file(path: &Path, env: &Env) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text, env).map_err(|e| ConfigError::new(format!("{}: {e}", path.display())))
    }

    pub fn from_toml(text: &str, env: &Env) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::new(one_line(text, &e)))?;
        let mut server = raw.server;
        if let Some(listen) = env.get(LISTEN_ENV) {
            server.listen = listen.trim().parse().map_err(|_| {
                ConfigError::new(format!("{LISTEN_ENV}={listen:?} is not an address like 0.0.0.0:8080"))
            })?;
        }
        if let Some(secret) = env.get(SECRET_ENV) {
            server.secret = Some(Secret::new(secret.trim()));
        }
        if let Some(token) = env.get(METRICS_TOKEN_ENV) {
            server.metrics_token = Some(Secret::new(token.trim()));
        }
        if let Some(keys) = env.get(chillproxy_core::seal::KEYS_ENV).map(str::trim).filter(|k| !k.is_empty()) {
            chillproxy_core::seal::Keyring::parse(keys).map_err(ConfigError::new)?;
            server.keys = Some(Secret::new(keys));
        }
        if !server.accept_plain_config && server.keys.is_none() {
            return Err(ConfigError::new(format!(
                "[server] accept_plain_config = false needs sealing keys: set {} (e.g. `k1:$(openssl rand -base64 32)`)",
                chillproxy_core::seal::KEYS_ENV
            )));
        }
        for entry in &server.user_url_allow {
            if chillproxy_core::upstream::parse_host_port(entry).is_none() {
                return Err(ConfigError::new(format!(
                    "[server] user_url_allow entry {entry:?} is not host:port (e.g. \"192.168.1.10:9117\")"
                )));
            }
        }
        if server.metrics_token.as_ref().is_some_and(Secret::is_empty) {
            return Err(ConfigError::new(format!(
                "[server] metrics_token (or {METRICS_TOKEN_ENV}) is empty; set a token or leave it out"
            )));
        }
        // A bare word must be a level: tracing would read a typo (`debugg`) as a target name and
        // silence everything else.
        let level = server.log_level.trim();
        let bare_word = !level.contains(['=', ',', '[', ':']);
        let invalid = if bare_word {
            level.parse::<tracing_subscriber::filter::LevelFilter>().err().map(|e| e.to_string())
        } else {
            tracing_subscriber::EnvFilter::try_new(level).err().map(|e| e.to_string())
        };
        if let Some(e) = invalid {
            return Err(ConfigError::new(format!(
                "[server] log_level {:?} is not a level (off, error, warn, info, debug, trace) or a filter like \
                 \"warn,chillproxy_host=debug\": {e}",
                server.log_level
            )));
        }
        if server.secret.as_ref().is_some_and(|s| s.expose().len() < 16) {
            return Err(ConfigError::new(format!("[server] secret (or {SECRET_ENV}) must be at least 16 characters")));
        }
        if !(1024..=1024 * 1024).contains(&server.max_uri_bytes)
            || !(1024..=1024 * 1024).contains(&server.max_header_bytes)
        {
            return Err(ConfigError::new(
                "[server] max_uri_bytes and max_header_bytes must be between 1024 and 1048576",
            ));
        }
        if server.binding_ttl_s == 0 || server.binding_ttl_s > 7 * 86_400 || server.shutdown_grace_ms > 600_000 {
            return Err(ConfigError::new(
                "[server] binding_ttl_s must be 1..=604800 and shutdown_grace_ms at most 600000",
            ));
        }
        if let Some(url) = &server.public_url {
            let ok = (url.starts_with("http://") || url.starts_with("https://")) && url.len() > 8;
            if !ok {
                return Err(ConfigError::new(format!(
                    "[server] public_url {url:?} must start with http:// or https://"
                )));
            }
            server.public_url = Some(url.trim_end_matches('/').to_string());
        }
        let playback = raw.playback;
        if playback.wait_ms > 120_000 || !(10..=30_000).contains(&playback.poll_interval_ms) {
            return Err(ConfigError::new(
                "[playback] wait_ms must be at most 120000 and poll_interval_ms between 10 and 30000",
            ));
        }
        if playback.error_ttl_s > 60 {
            return Err(ConfigError::new("[playback] error_ttl_s must be at most 60 (0 turns it off)"));
        }
        let mut cache = raw.cache;
        if let Some(url) = env.get(REDIS_URL_ENV) {
            let url = url.trim();
            cache.redis_url = (!url.is_empty()).then(|| Secret::new(url));
        }
        if cache.redis_url.is_some() {
            // Replicas sharing state must sign and open each other's playback links, and open each
            // other's sealed install links and playback handles.
            if server.keys.is_none() {
                return Err(ConfigError::new(format!(
                    "[cache] redis_url (or {REDIS_URL_ENV}) is set, so several replicas share state, but {keys} is \
                     not: set the same {keys} (the sealing keyring) on every replica, so each opens the sealed \
                     install links and playback handles the others make",
                    keys = chillproxy_core::seal::KEYS_ENV
                )));
            }
            if server.secret.is_none() {
                return Err(ConfigError::new(format!(
                    "[cache] redis_url (or {REDIS_URL_ENV}) is set, so several replicas share state, but no \
                     [server] secret (or {SECRET_ENV}) is: each replica would sign playback links with its own \
                     random secret and reject the others'. Set the same {SECRET_ENV} on every replica"
                )));
            }
            if !(10..=5_000).contains(&cache.redis_timeout_ms) {
                return Err(ConfigError::new("[cache] redis_timeout_ms must be between 10 and 5000"));
            }
        }
        if cache.list_max_age_s >= server.binding_ttl_s || cache.warning_list_max_age_s > 60 {
            return Err(ConfigError::new(
                "[cache] list_max_age_s must be shorter than [server] binding_ttl_s (a reused list carries \
                 device bindings) and warning_list_max_age_s at most 60",
            ));
        }
        raw.meta.check()?;
        Ok(Self {
            server,
            playback,
            cache,
            usage: raw.usage,
            limits: raw.limits,
            meta: raw.meta,
            auth: Section::load(raw.auth, "chain", env)?,
            store: Section::load(raw.store, "enabled", env)?,
            source: Section::load(raw.source, "chain", env)?,
        })
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn effective_toml(&self) -> String {
        let mut root = toml::Table::new();
        if let Ok(server) = toml::Table::try_from(&self.server) {
            root.insert("server".into(), toml::Value::Table(server));
        }
        if let Ok(playback) = toml::Table::try_from(&self.playback) {
            root.insert("playback".into(), toml::Value::Table(playback));
        }
        if let Ok(cache) = toml::Table::try_from(&self.cache) {
            root.insert("cache".into(), toml::Value::Table(cache));
        }
        if let Ok(usage) = toml::Table::try_from(&self.usage) {
            root.insert("usage".into(), toml::Value::Table(usage));
        }
        if let Ok(limits) = toml::Table::try_from(&self.limits) {
            root.insert("limits".into(), toml::Value::Table(limits));
        }
        if let Ok(meta) = toml::Table::try_from(&self.meta) {
            root.insert("meta".into(), toml::Value::Table(meta));
        }
        root.insert("auth".into(), toml::Value::Table(self.auth.effective()));
        root.insert("store".into(), toml::Value::Table(self.store.effective()));
        root.insert("source".into(), toml::Value::Table(self.source.effective()));
        toml::to_string_pretty(&root).unwrap_or_default()
    }
}

/// toml's errors span several lines with a source excerpt; keep the message and line.
fn one_line(text: &str, error: &toml::de::Error) -> String {
    match error.span() {
        Some(span) => {
            let line = text.get(..span.start).map_or(0, |before| before.matches('\n').count()) + 1;
            format!("line {line}: {}", error.message().trim())
        }
        None => error.message().trim().to_string(),
    }
}
