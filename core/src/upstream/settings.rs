//! [`UpstreamSettings`]: the keys every HTTP plugin shares (`timeout_ms`, `connect_timeout_ms`,
//! `max_in_flight`, `max_body_bytes`, `proxy_url`), embedded flat in the plugin's own table with
//! that plugin's defaults.

use std::fmt;
use std::marker::PhantomData;
use std::ops::RangeInclusive;
use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::secret::REDACTED;
use crate::settings::{ConfigError, PluginSettings, MAX_BODY_BYTES_RANGE};

/// One plugin's defaults for its [`UpstreamSettings`]: a unit type per plugin, named in the
/// field that embeds the settings (see [`UpstreamSettings::with_defaults`]).
pub trait UpstreamDefaults {
    /// `timeout_ms` when the table sets none.
    const TIMEOUT_MS: u64;
    /// `connect_timeout_ms` when the table sets none, never more than `timeout_ms`; `None`
    /// means `timeout_ms` itself.
    const CONNECT_TIMEOUT_MS: Option<u64> = None;
    /// `max_in_flight` when the table sets none.
    const MAX_IN_FLIGHT: usize;
    /// `max_body_bytes` when the table sets none.
    const MAX_BODY_BYTES: usize;
}

/// How a plugin talks to its upstream. A plugin config embeds it flat, so its keys sit in the
/// plugin's own table (`[store.torbox] timeout_ms = 15000`):
///
/// ```ignore
/// #[serde(flatten, deserialize_with = "UpstreamSettings::with_defaults::<_, TorBoxUpstream>")]
/// pub upstream: UpstreamSettings,
/// ```
///
/// Such a config cannot use `deny_unknown_fields` (serde does not support it next to
/// `flatten`); [`PluginSettings::parse`] rejects unknown keys instead.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct UpstreamSettings {
    /// Budget for one call, in milliseconds: waiting for an in-flight permit, connecting,
    /// sending and reading the whole reply.
    pub timeout_ms: u64,
    /// Budget for opening the connection (TCP and TLS), in milliseconds. Unset in the table, it
    /// is the plugin's default, else `timeout_ms`.
    pub connect_timeout_ms: u64,
    /// Calls in flight at once, across all users; further calls wait (within their budget).
    pub max_in_flight: usize,
    /// Largest reply body read, in bytes; a longer reply fails the call with an error naming
    /// the limit.
    pub max_body_bytes: usize,
    /// An HTTP or HTTPS proxy every call goes through (`http://proxy.lan:3128`), instead of the
    /// `HTTP_PROXY`/`HTTPS_PROXY` environment variables; blank means none. Credentials in it
    /// are redacted wherever the settings are shown.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "serialize_proxy_url")]
    pub proxy_url: Option<String>,
}

impl fmt::Debug for UpstreamSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamSettings")
            .field("timeout_ms", &self.timeout_ms)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("proxy_url", &self.proxy_url.as_deref().map(shown_proxy_url))
            .finish()
    }
}

/// The keys as written in the table: each one optional, its plugin's default filled in by
/// [`UpstreamSettings::with_defaults`].
#[derive(Deserialize)]
#[serde(bound = "")]
struct Written<D> {
    #[serde(default, deserialize_with = "timeout_ms")]
    timeout_ms: Option<u64>,
    #[serde(default, deserialize_with = "connect_timeout_ms")]
    connect_timeout_ms: Option<u64>,
    #[serde(default, deserialize_with = "max_in_flight")]
    max_in_flight: Option<usize>,
    #[serde(default, deserialize_with = "max_body_bytes")]
    max_body_bytes: Option<usize>,
    #[serde(default, deserialize_with = "proxy_url")]
    proxy_url: Option<String>,
    #[serde(skip)]
    defaults: PhantomData<fn() -> D>,
}

/// Deserialises one key and names it in the error: the errors of a flattened struct carry no
/// position, so without the name the message could not say which key is wrong.
fn named<'de, T: Deserialize<'de>, De: Deserializer<'de>>(key: &str, de: De) -> Result<Option<T>, De::Error> {
    T::deserialize(de).map(Some).map_err(|e| De::Error::custom(format!("{key}: {e}")))
}

fn timeout_ms<'de, De: Deserializer<'de>>(de: De) -> Result<Option<u64>, De::Error> {
    named("timeout_ms", de)
}

fn connect_timeout_ms<'de, De: Deserializer<'de>>(de: De) -> Result<Option<u64>, De::Error> {
    named("connect_timeout_ms", de)
}

fn max_in_flight<'de, De: Deserializer<'de>>(de: De) -> Result<Option<usize>, De::Error> {
    named("max_in_flight", de)
}

fn max_body_bytes<'de, De: Deserializer<'de>>(de: De) -> Result<Option<usize>, De::Error> {
    named("max_body_bytes", de)
}

fn proxy_url<'de, De: Deserializer<'de>>(de: De) -> Result<Option<String>, De::Error> {
    named("proxy_url", de)
}

impl UpstreamSettings {
    /// The settings of a table that sets none of the keys.
    pub fn defaults<D: UpstreamDefaults>() -> Self {
        Self::resolve::<D>(Written::empty())
    }

    /// Reads the keys, filling in `D`'s defaults; for
    /// `#[serde(flatten, deserialize_with = "UpstreamSettings::with_defaults::<_, D>")]`.
    pub fn with_defaults<'de, De: Deserializer<'de>, D: UpstreamDefaults>(de: De) -> Result<Self, De::Error> {
        Written::<D>::deserialize(de).map(Self::resolve::<D>)
    }

    fn resolve<D: UpstreamDefaults>(written: Written<D>) -> Self {
        let timeout_ms = written.timeout_ms.unwrap_or(D::TIMEOUT_MS);
        let connect_timeout_ms = written
            .connect_timeout_ms
            .unwrap_or_else(|| D::CONNECT_TIMEOUT_MS.map_or(timeout_ms, |c| c.min(timeout_ms)));
        Self {
            timeout_ms,
            connect_timeout_ms,
            max_in_flight: written.max_in_flight.unwrap_or(D::MAX_IN_FLIGHT),
            max_body_bytes: written.max_body_bytes.unwrap_or(D::MAX_BODY_BYTES),
            // Kept even when blank, so that the key reads back (see `PluginSettings::parse`).
            proxy_url: written.proxy_url.map(|url| url.trim().to_string()),
        }
    }

    /// Checks the values with the messages every plugin uses: `timeout_ms` and
    /// `connect_timeout_ms` within `timeout_ms_range`, `max_body_bytes` within
    /// [`MAX_BODY_BYTES_RANGE`], `proxy_url` an `http://` or `https://` URL. `max_in_flight` is
    /// not checked: 0 counts as 1.
    pub fn check(&self, settings: &PluginSettings, timeout_ms_range: RangeInclusive<u64>) -> Result<(), ConfigError> {
        settings.check_range("timeout_ms", self.timeout_ms, timeout_ms_range.clone())?;
        settings.check_range("connect_timeout_ms", self.connect_timeout_ms, timeout_ms_range)?;
        settings.check_range("max_body_bytes", self.max_body_bytes, MAX_BODY_BYTES_RANGE)?;
        if let Some(proxy) = self.proxy() {
            check_proxy_url(proxy).map_err(|reason| ConfigError::new(format!("[{}] {reason}", settings.section)))?;
        }
        Ok(())
    }

    /// The proxy to use: `proxy_url` unless unset or blank.
    pub fn proxy(&self) -> Option<&str> {
        self.proxy_url.as_deref().filter(|url| !url.is_empty())
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
}

impl<D> Written<D> {
    fn empty() -> Self {
        Self {
            timeout_ms: None,
            connect_timeout_ms: None,
            max_in_flight: None,
            max_body_bytes: None,
            proxy_url: None,
            defaults: PhantomData,
        }
    }
}

/// `Ok` for an `http://` or `https://` URL with a host. The reason never repeats the URL,
/// which may carry a password.
pub(crate) fn check_proxy_url(proxy: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(proxy).map_err(|e| format!("proxy_url is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err("proxy_url must be an http:// or https:// URL".to_string());
    }
    Ok(url)
}

/// The proxy URL as shown by `check-config` and `Debug`: `[redacted]` when it carries
/// credentials.
fn shown_proxy_url(proxy: &str) -> &str {
    if proxy.is_empty() {
        return proxy;
    }
    match reqwest::Url::parse(proxy) {
        Ok(url) if url.username().is_empty() && url.password().is_none() => proxy,
        Ok(_) => REDACTED,
        // Not a URL: `check` refuses it; it could still be a mistyped secret.
        Err(_) => REDACTED,
    }
}

fn serialize_proxy_url<S: Serializer>(proxy: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    match proxy {
        Some(proxy) => serializer.serialize_str(shown_proxy_url(proxy)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Env;

    struct Slow;
    impl UpstreamDefaults for Slow {
        const TIMEOUT_MS: u64 = 10_000;
        const CONNECT_TIMEOUT_MS: Option<u64> = Some(5_000);
        const MAX_IN_FLIGHT: usize = 128;
        const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
    }

    #[derive(Debug, Deserialize, Serialize)]
    struct Config {
        #[serde(default)]
        api_url: Option<String>,
        #[serde(flatten, deserialize_with = "UpstreamSettings::with_defaults::<_, Slow>")]
        upstream: UpstreamSettings,
    }

    fn settings(text: &str) -> PluginSettings {
        PluginSettings::new("store.x", toml::from_str(text).unwrap(), Env::default())
    }

    fn parse(text: &str) -> Result<UpstreamSettings, ConfigError> {
        let settings = settings(text);
        let config: Config = settings.parse()?;
        config.upstream.check(&settings, 100..=60_000)?;
        Ok(config.upstream)
    }

    #[test]
    fn defaults_are_the_plugins_and_keys_sit_flat_in_its_table() {
        let defaults = parse("").unwrap();
        assert_eq!(defaults, UpstreamSettings::defaults::<Slow>());
        assert_eq!(
            (defaults.timeout_ms, defaults.connect_timeout_ms, defaults.max_in_flight, defaults.max_body_bytes),
            (10_000, 5_000, 128, 5 * 1024 * 1024)
        );
        assert_eq!(defaults.proxy_url, None);

        let set =
            parse("timeout_ms = 2000\nmax_in_flight = 4\nmax_body_bytes = 4096\nproxy_url = 'http://p:3128'").unwrap();
        assert_eq!((set.timeout_ms, set.connect_timeout_ms), (2_000, 2_000), "the connect default never exceeds");
        assert_eq!((set.max_in_flight, set.max_body_bytes, set.proxy_url.as_deref()), (4, 4096, Some("http://p:3128")));
        assert_eq!(parse("connect_timeout_ms = 700").unwrap().connect_timeout_ms, 700);
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = parse("timeout_ms = 'soon'").unwrap_err();
        assert!(err.0.starts_with("[store.x] timeout_ms: invalid type: string \"soon\""), "{err}");
        let err = parse("max_body_bytes = -1").unwrap_err();
        assert!(err.0.starts_with("[store.x] max_body_bytes: invalid value"), "{err}");
        assert_eq!(
            parse("timeout_ms = 60001").unwrap_err().0,
            "[store.x] timeout_ms must be between 100 and 60000, got 60001"
        );
        assert!(parse("connect_timeout_ms = 50").unwrap_err().0.contains("connect_timeout_ms must be between 100"));
        assert!(parse("max_body_bytes = 1023").unwrap_err().0.contains("max_body_bytes must be between 1024 and"));
        assert_eq!(parse("timeout_mss = 1").unwrap_err().0, "[store.x] timeout_mss: unknown field `timeout_mss`");
    }

    #[test]
    fn proxy_url_must_be_http_and_its_password_is_never_shown() {
        for bad in ["socks5://p:1080", "p:3128", "http://", "ftp://user:pw-secret@p"] {
            let err = parse(&format!("proxy_url = '{bad}'")).unwrap_err();
            assert!(err.0.starts_with("[store.x] proxy_url "), "{bad}: {err}");
            assert!(!err.0.contains("pw-secret"), "{err}");
        }
        assert!(parse("proxy_url = 'https://p.lan'").is_ok());
        assert_eq!(parse("proxy_url = ' '").unwrap().proxy(), None, "blank means no proxy");

        let settings = settings("proxy_url = 'http://user:pw-secret@p:3128'");
        let config: Config = settings.parse().unwrap();
        let shown = crate::settings::effective_table(&config).to_string();
        assert!(shown.contains("proxy_url = \"[redacted]\"") && !shown.contains("pw-secret"), "{shown}");
        assert!(!format!("{config:?}").contains("pw-secret"));
        let plain: Config = self::settings("proxy_url = 'http://p:3128'").parse().unwrap();
        assert!(crate::settings::effective_table(&plain).to_string().contains("proxy_url = \"http://p:3128\""));
    }
}
