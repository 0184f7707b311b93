//! Starting the real host (config, plugins, router) on 127.0.0.1:0, as `chillproxy` does.
//!
//! Every host gets its own usage spool: when the config does not set `[usage] spool_path`, a
//! fresh file in the system temp folder is put in (and removed when the host is dropped), so
//! tests never share a spool. [`Host::stop`] and [`Host::restart`] shut the spool down as the
//! binary does, so a test can restart chillproxy in-process on the same spool.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chillproxy_core::Env;
use chillproxy_host::{server, AppState, Config, Plugins};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running host. Dropping it shuts the server down (without waiting for it).
pub struct Host {
    pub addr: SocketAddr,
    pub state: AppState,
    /// The config the host runs with (with the spool path put in).
    pub plugins_toml: String,
    env: Env,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    /// The spool file this host made up, removed on drop.
    temp_spool: Option<PathBuf>,
}

impl Host {
    /// Loads `plugins_toml` with `env` and serves it. Panics on an invalid config (tests only).
    pub async fn start(plugins_toml: &str, env: Env) -> Host {
        Self::start_on("127.0.0.1:0".parse().expect("address"), plugins_toml, env).await
    }

    /// As [`Host::start`], on a given address.
    pub async fn start_on(listen: SocketAddr, plugins_toml: &str, env: Env) -> Host {
        let (plugins_toml, temp_spool) = with_own_spool(plugins_toml);
        let mut host = Self::launch(listen, plugins_toml, env).await;
        host.temp_spool = temp_spool;
        host
    }

    async fn launch(listen: SocketAddr, plugins_toml: String, env: Env) -> Host {
        crate::link_plugins();
        // Kitsu lookups (tt episodes ask for anime numbering) never leave the machine unless the
        // test points them at its fake.
        let plugins_toml = if plugins_toml.contains("kitsu_url") {
            plugins_toml
        } else {
            format!("{plugins_toml}\n[meta]\nkitsu_url = \"http://127.0.0.1:9/kitsu\"\n")
        };
        let config = Config::from_toml(&plugins_toml, &env).expect("valid test config");
        let plugins = Plugins::build(&config).expect("plugins build");
        let state = AppState::new(config, plugins).expect("usage spool opens");
        state.start_background();
        let listener = tokio::net::TcpListener::bind(listen).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let serve_state = state.clone();
        let server = tokio::spawn(async move {
            let _ = server::serve(listener, serve_state, async {
                let _ = stopped.await;
            })
            .await;
        });
        Host { addr, state, plugins_toml, env, stop: Some(stop), server: Some(server), temp_spool: None }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops as `chillproxy` does on SIGTERM: stops the server, lets in-flight requests finish
    /// (at most a few seconds), then shuts the usage spool down (deliveries in flight finish,
    /// everything is committed, the file is released).
    pub async fn stop(mut self) {
        self.shut_down().await;
    }

    /// Stops this host and starts a new one with the same config and environment, on a new
    /// port and the same usage spool.
    pub async fn restart(&mut self) {
        self.shut_down().await;
        let mut next =
            Self::launch("127.0.0.1:0".parse().expect("address"), self.plugins_toml.clone(), self.env.clone()).await;
        next.temp_spool = self.temp_spool.take();
        *self = next;
    }

    async fn shut_down(&mut self) {
        drop(self.stop.take());
        if let Some(server) = self.server.take() {
            if tokio::time::timeout(Duration::from_secs(5), server).await.is_err() {
                eprintln!("host: the server did not stop within 5 s; shutting the spool down anyway");
            }
        }
        self.state.usage().shutdown().await;
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(path) = self.temp_spool.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Puts `[usage] spool_path = "<temp>/chillproxy-tests/usage-<pid>-<n>-<nanos>.db"` into a
/// config that names no spool path (a config that is not valid TOML is left as it is, for the
/// config's own error). Returns the config and the made-up path.
pub fn with_own_spool(plugins_toml: &str) -> (String, Option<PathBuf>) {
    let Ok(parsed) = plugins_toml.parse::<toml::Table>() else { return (plugins_toml.to_string(), None) };
    let usage = parsed.get("usage");
    if usage.and_then(|u| u.get("spool_path")).is_some() {
        return (plugins_toml.to_string(), None);
    }
    let path = unique_spool_path();
    let setting = format!("spool_path = {}", toml::Value::String(path.display().to_string()));
    let text = match usage {
        None => format!("{}\n\n[usage]\n{setting}\n", plugins_toml.trim_end()),
        Some(toml::Value::Table(_)) if plugins_toml.lines().any(|l| l.trim() == "[usage]") => {
            let mut text = String::with_capacity(plugins_toml.len() + setting.len() + 1);
            let mut done = false;
            for line in plugins_toml.split_inclusive('\n') {
                text.push_str(line);
                if !done && line.trim() == "[usage]" {
                    if !line.ends_with('\n') {
                        text.push('\n');
                    }
                    text.push_str(&setting);
                    text.push('\n');
                    done = true;
                }
            }
            text
        }
        Some(_) => {
            // `usage = { ... }` or a dotted key: rewrite the parsed table.
            let mut parsed = parsed;
            if let Some(toml::Value::Table(usage)) = parsed.get_mut("usage") {
                usage.insert("spool_path".into(), toml::Value::String(path.display().to_string()));
            }
            toml::to_string(&parsed).unwrap_or_else(|_| plugins_toml.to_string())
        }
    };
    (text, Some(path))
}

/// A spool path no other test (in this process or another) uses.
pub fn unique_spool_path() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    std::env::temp_dir().join("chillproxy-tests").join(format!(
        "usage-{}-{}-{nanos}.db",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}
