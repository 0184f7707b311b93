//! The compile-time plugin registry. Each plugin crate submits one const descriptor with
//! `inventory::submit!`; the host lists them here and builds the ones `plugins.toml` enables.

use std::sync::Arc;

use serde::Serialize;

use crate::health::Health;
use crate::settings::effective_table;
use crate::shared::SharedState;
use crate::store::{StoreCapabilities, StoreIdentity};
use crate::upstream::OutboundPolicy;
use crate::{AuthProvider, ConfigError, PluginSettings, SourceProvider, StoreProvider};

/// Checks a plugin's settings and returns its effective config with secrets redacted (what
/// `chillproxy check-config` prints). Must not fail for a missing secret: that is `build`'s job,
/// because a disabled plugin needs no secret.
pub type CheckFn = fn(&PluginSettings) -> Result<toml::Table, ConfigError>;

/// What a plugin's `build` receives: its settings and the services every plugin shares.
#[derive(Debug, Clone)]
pub struct PluginContext<'a> {
    pub settings: &'a PluginSettings,
    /// The shared-state tier (in-process, or cluster-wide): per-key budgets, shared caches.
    pub shared: SharedState,
    /// The server's policy for URLs users supply (`[server] allow_private_user_urls`,
    /// `user_url_allow`). A plugin that calls such URLs builds that client with
    /// `UpstreamOptions { outbound: Some(policy), .. }`; its operator-configured upstreams are
    /// trusted and need none.
    pub outbound: OutboundPolicy,
    /// The server's health registry: a plugin takes a [`Tracker`](crate::health::Tracker) per
    /// upstream the operator configured (never one a user supplied) and gives it to the
    /// upstream kit, which reports every call's outcome (see [`crate::health`]).
    pub health: Health,
}

impl<'a> PluginContext<'a> {
    /// A context with a fresh in-process shared tier (a single node, or a test), the default
    /// outbound policy (public addresses only) and a health registry of its own.
    pub fn new(settings: &'a PluginSettings) -> Self {
        Self::with_shared(settings, SharedState::default())
    }

    pub fn with_shared(settings: &'a PluginSettings, shared: SharedState) -> Self {
        Self { settings, shared, outbound: OutboundPolicy::public_only(), health: Health::default() }
    }

    pub fn with_outbound(mut self, outbound: OutboundPolicy) -> Self {
        self.outbound = outbound;
        self
    }

    pub fn with_health(mut self, health: Health) -> Self {
        self.health = health;
        self
    }
}

/// Builds the plugin's provider from its context.
pub type BuildFn<T> = fn(&PluginContext<'_>) -> Result<Arc<T>, ConfigError>;

/// A plugin's config type: parsed and validated from its settings. The descriptor's `check` is
/// then [`check_config::<TheConfig>`](check_config), written once for every plugin.
pub trait PluginConfig: Serialize + Sized {
    fn from_settings(settings: &PluginSettings) -> Result<Self, ConfigError>;
}

/// The generic [`CheckFn`]: parse and validate, then render the effective config.
pub fn check_config<C: PluginConfig>(settings: &PluginSettings) -> Result<toml::Table, ConfigError> {
    C::from_settings(settings).map(|config| effective_table(&config))
}

/// An environment variable a plugin reads, for `chillproxy --help`.
#[derive(Debug, Clone, Copy)]
pub struct EnvVar {
    pub name: &'static str,
    pub help: &'static str,
}

pub struct AuthPlugin {
    pub name: &'static str,
    pub summary: &'static str,
    /// An environment flag that turns the plugin on or off, beating the file.
    pub enable_env: Option<&'static str>,
    pub enabled_by_default: bool,
    /// Environment variables it reads (besides `enable_env`).
    pub env: &'static [EnvVar],
    pub check: CheckFn,
    pub build: BuildFn<dyn AuthProvider>,
}

pub struct StorePlugin {
    pub name: &'static str,
    /// The code users write in their config (`tb`).
    pub code: &'static str,
    pub display_name: &'static str,
    pub summary: &'static str,
    pub capabilities: StoreCapabilities,
    /// One sentence for the configure page: where users find their API token.
    pub token_help: &'static str,
    pub env: &'static [EnvVar],
    pub check: CheckFn,
    pub build: BuildFn<dyn StoreProvider>,
}

impl StorePlugin {
    /// The descriptor's name, code, display name and capabilities: what the provider it builds
    /// must answer from [`StoreProvider::identity`] (a plugin fills both from one `IDENTITY`).
    pub fn identity(&self) -> StoreIdentity {
        StoreIdentity {
            name: self.name,
            code: self.code,
            display_name: self.display_name,
            capabilities: self.capabilities,
        }
    }
}

pub struct SourcePlugin {
    pub name: &'static str,
    pub summary: &'static str,
    /// What it searches, as users read it in the manifest (`Torznab indexers`).
    pub searches: &'static str,
    pub env: &'static [EnvVar],
    pub check: CheckFn,
    pub build: BuildFn<dyn SourceProvider>,
}

inventory::collect!(AuthPlugin);
inventory::collect!(StorePlugin);
inventory::collect!(SourcePlugin);

/// Common to the three descriptor kinds, so listing and duplicate checks are written once.
pub trait Descriptor: inventory::Collect {
    const KIND: &'static str;
    fn name(&self) -> &'static str;
    fn summary(&self) -> &'static str;
    fn check(&self) -> CheckFn;
    /// An environment flag that turns the plugin on or off.
    fn enable_env(&self) -> Option<&'static str> {
        None
    }
    /// Whether the plugin runs when `plugins.toml` says nothing of `enabled`.
    fn enabled_by_default(&self) -> bool {
        true
    }
    /// Environment variables it reads.
    fn env(&self) -> &'static [EnvVar];
}

macro_rules! descriptor {
    ($ty:ty, $kind:literal $(, $extra:item)*) => {
        impl Descriptor for $ty {
            const KIND: &'static str = $kind;
            fn name(&self) -> &'static str {
                self.name
            }
            fn summary(&self) -> &'static str {
                self.summary
            }
            fn check(&self) -> CheckFn {
                self.check
            }
            fn env(&self) -> &'static [EnvVar] {
                self.env
            }
            $($extra)*
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{} plugin `{}`", $kind, self.name)
            }
        }
    };
}
descriptor!(
    AuthPlugin,
    "auth",
    fn enable_env(&self) -> Option<&'static str> {
        self.enable_env
    },
    fn enabled_by_default(&self) -> bool {
        self.enabled_by_default
    }
);
descriptor!(StorePlugin, "store");
descriptor!(SourcePlugin, "source");

/// Every registered plugin of one kind, sorted by name. Two plugins with one name is a
/// startup error: which one would `plugins.toml` mean?
pub fn list<T: Descriptor>() -> Result<Vec<&'static T>, ConfigError> {
    let mut plugins: Vec<&'static T> = inventory::iter::<T>.into_iter().collect();
    plugins.sort_by_key(|p| p.name());
    if let Some(pair) = plugins.windows(2).find(|w| w[0].name() == w[1].name()) {
        return Err(ConfigError::new(format!(
            "two {} plugins are registered under the name `{}`; rename one",
            T::KIND,
            pair[0].name()
        )));
    }
    Ok(plugins)
}

/// Store plugins, also rejecting two stores with one code.
pub fn stores() -> Result<Vec<&'static StorePlugin>, ConfigError> {
    let plugins = list::<StorePlugin>()?;
    for (i, a) in plugins.iter().enumerate() {
        if let Some(b) = plugins[i + 1..].iter().find(|b| b.code == a.code) {
            return Err(ConfigError::new(format!(
                "store plugins `{}` and `{}` both use the code `{}`",
                a.name, b.name, a.code
            )));
        }
    }
    Ok(plugins)
}

/// The names of a list, for "available: …" messages.
pub fn names<T: Descriptor>(plugins: &[&'static T]) -> String {
    let names: Vec<&str> = plugins.iter().map(|p| p.name()).collect();
    if names.is_empty() {
        "none (this binary was built without any)".to_string()
    } else {
        names.join(", ")
    }
}
