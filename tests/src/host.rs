//! Starting the real host (config, plugins, router) on 127.0.0.1:0, as `chillproxy` does.

use std::net::SocketAddr;

use chillproxy_core::Env;
use chillproxy_host::{server, AppState, Config, Plugins};
use tokio::sync::oneshot;

/// A running host. Dropping it shuts the server down.
pub struct Host {
    pub addr: SocketAddr,
    pub state: AppState,
    _stop: oneshot::Sender<()>,
}

impl Host {
    /// Loads `plugins_toml` with `env` and serves it. Panics on an invalid config (tests only).
    pub async fn start(plugins_toml: &str, env: Env) -> Host {
        Self::start_on("127.0.0.1:0".parse().expect("address"), plugins_toml, env).await
    }

    /// As [`Host::start`], on a given address.
    pub async fn start_on(listen: SocketAddr, plugins_toml: &str, env: Env) -> Host {
        crate::link_plugins();
        let config = Config::from_toml(plugins_toml, &env).expect("valid test config");
        let plugins = Plugins::build(&config).expect("plugins build");
        let state = AppState::new(config, plugins).expect("usage spool opens");
        state.start_background();
        let listener = tokio::net::TcpListener::bind(listen).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let serve_state = state.clone();
        tokio::spawn(async move {
            let _ = server::serve(listener, serve_state, async {
                let _ = stopped.await;
            })
            .await;
        });
        Host { addr, state, _stop: stop }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
