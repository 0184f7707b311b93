//! The `chillproxy` binary: serve, list plugins, or check a config.

use std::path::PathBuf;
use std::process::ExitCode;

use chillproxy_core::registry::{self, Descriptor};
use chillproxy_core::{AuthPlugin, Env, SourcePlugin, StorePlugin};
use chillproxy_host::config::{Config, LogFormat, Section, ServerConfig, CONFIG_ENV};
use chillproxy_host::{server, AppState, Plugins};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// The environment the host itself reads; plugins add theirs (see [`after_help`]).
const HOST_ENV: [(&str, &str); 5] = [
    ("CHILLPROXY_CONFIG", "path of plugins.toml"),
    ("CHILLPROXY_LISTEN", "listen address, e.g. 0.0.0.0:8080"),
    ("CHILLPROXY_SECRET", "signs playback links' device binding (set it in production)"),
    ("CHILLPROXY_METRICS_TOKEN", "bearer token required by /metrics"),
    ("RUST_LOG", "log filter (beats [server] log_level)"),
];

/// `--help`'s closing text: every environment variable, the host's and each registered
/// plugin's, then exit status, signals and docs.
fn after_help() -> String {
    let mut vars: Vec<(String, String)> = HOST_ENV.iter().map(|(n, h)| (n.to_string(), h.to_string())).collect();
    fn add<T: Descriptor>(vars: &mut Vec<(String, String)>, plugins: &[&'static T]) {
        for plugin in plugins {
            if let Some(flag) = plugin.enable_env() {
                vars.push((flag.into(), format!("true/1 or false/0: the {} {} plugin", plugin.name(), T::KIND)));
            }
            for var in plugin.env() {
                vars.push((var.name.into(), var.help.into()));
            }
        }
    }
    add(&mut vars, &registry::list::<AuthPlugin>().unwrap_or_default());
    add(&mut vars, &registry::list::<StorePlugin>().unwrap_or_default());
    add(&mut vars, &registry::list::<SourcePlugin>().unwrap_or_default());
    let mut text = String::from("Environment (beats plugins.toml):\n");
    for (name, help) in vars {
        text.push_str(&format!("  {name:<26} {help}\n"));
    }
    text.push_str(
        "\nExit status: 0 ok, 2 invalid configuration, 1 other failure.\n\
         Signals: SIGTERM/SIGINT stop accepting, finish in-flight requests (bounded), flush usage events.\n\
         Docs: README.md (run, configure, install in Stremio), SECURITY.md, docs/writing-a-plugin.md.",
    );
    text
}

#[derive(Parser)]
#[command(
    name = "chillproxy",
    version,
    about = "A Stremio addon host for debrid services: finds torrents through its source plugins, asks \
             debrid stores which are cached, and plays them. Auth, stores and sources are plugins, enabled \
             and ordered in plugins.toml."
)]
struct Cli {
    /// Path of plugins.toml.
    #[arg(long, global = true, env = CONFIG_ENV, default_value = "./plugins.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// List every registered plugin by kind, and whether the config enables it.
    Plugins,
    /// Validate the config and print the effective configuration, secrets redacted.
    CheckConfig,
    /// Read a user config (JSON) on stdin and print it sealed with the first key of
    /// CHILLPROXY_KEYS, as the `{config}` segment of an install URL:
    /// `{public_url}/stremio/torz/{segment}/manifest.json`. Checked against the stores the
    /// config enables, as the server would.
    SealConfig,
}

/// mimalloc: the warm stream list is allocation-heavy (BENCHMARKS.md, issue 16).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    chillproxy_host::link_plugins();
    let matches = Cli::command().after_help(after_help()).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let env = Env::from_process();
    // Logging follows [server] log_format and log_level, so the config is read first. A config
    // that cannot be read gets the default logging here; the command then says what is wrong.
    init_logging(&logging_settings(&cli.config));
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.config, &env),
        Command::Plugins => list_plugins(&cli.config, &env),
        Command::CheckConfig => check_config(&cli.config, &env),
        Command::SealConfig => seal_config(&cli.config, &env),
    }
}

/// The `[server]` table of the config at `path` (only what logging needs is used), or the
/// defaults when the file cannot be read or is invalid. The full load comes after logging is
/// set up, so its own logs (e.g. disabled plugins) follow the configured format.
fn logging_settings(path: &std::path::Path) -> ServerConfig {
    let Ok(text) = std::fs::read_to_string(path) else { return ServerConfig::default() };
    let Ok(mut root) = text.parse::<toml::Table>() else { return ServerConfig::default() };
    match root.remove("server") {
        Some(server) => server.try_into().unwrap_or_default(),
        None => ServerConfig::default(),
    }
}

fn init_logging(server: &ServerConfig) {
    let rust_log = std::env::var("RUST_LOG").ok();
    // `try_init` fails only when a logger is already installed, which `main` never does.
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = subscriber(server, rust_log.as_deref(), std::io::stderr).try_init();
}

/// The log subscriber: env `RUST_LOG` (when set and valid) beats `[server] log_level`; JSON
/// lines carry the current span (the request span with its `id`) and the span list.
fn subscriber<W>(
    server: &ServerConfig,
    rust_log: Option<&str>,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync + 'static>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::EnvFilter;
    let filter = rust_log
        .filter(|value| !value.trim().is_empty())
        .and_then(|value| EnvFilter::try_new(value).ok())
        .or_else(|| EnvFilter::try_new(&server.log_level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match server.log_format {
        LogFormat::Pretty => Box::new(builder.finish()),
        LogFormat::Json => {
            Box::new(builder.json().with_ansi(false).with_current_span(true).with_span_list(true).finish())
        }
    }
}

fn load(path: &std::path::Path, env: &Env) -> Result<(Config, Plugins), String> {
    let config = Config::from_file(path, env).map_err(|e| e.to_string())?;
    let plugins = Plugins::build(&config).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((config, plugins))
}

fn serve(path: &std::path::Path, env: &Env) -> ExitCode {
    let (config, plugins) = match load(path, env) {
        Ok(loaded) => loaded,
        Err(message) => {
            eprintln!("chillproxy: invalid configuration: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("chillproxy: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listen = config.server.listen;
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("chillproxy: cannot listen on {listen}: {e}");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(%listen, version = env!("CARGO_PKG_VERSION"), "chillproxy listening");
        let state = match AppState::new(config, plugins) {
            Ok(state) => state,
            Err(e) => {
                eprintln!("chillproxy: invalid configuration: {e}");
                return ExitCode::from(2);
            }
        };
        state.start_background();
        match server::serve(listener, state.clone(), server::shutdown_signal()).await {
            Ok(()) => {
                state.usage().shutdown().await;
                tracing::info!("chillproxy stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("chillproxy: server error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

fn check_config(path: &std::path::Path, env: &Env) -> ExitCode {
    match load(path, env) {
        Ok((config, _)) => {
            println!("# {} is valid. Effective configuration (secrets redacted):\n", path.display());
            print!("{}", config.effective_toml());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("chillproxy: invalid configuration: {message}");
            ExitCode::from(2)
        }
    }
}

fn seal_config(path: &std::path::Path, env: &Env) -> ExitCode {
    use std::io::Read;
    let (config, plugins) = match load(path, env) {
        Ok(loaded) => loaded,
        Err(message) => {
            eprintln!("chillproxy: invalid configuration: {message}");
            return ExitCode::from(2);
        }
    };
    let Some(keys) = config.server.keys.as_ref() else {
        eprintln!("chillproxy: set {} to seal configs", chillproxy_core::seal::KEYS_ENV);
        return ExitCode::from(2);
    };
    let keyring = match chillproxy_core::seal::Keyring::parse(keys.expose()) {
        Ok(keyring) => keyring,
        Err(message) => {
            eprintln!("chillproxy: {message}");
            return ExitCode::from(2);
        }
    };
    let mut json = Vec::new();
    if std::io::stdin().take(64 * 1024).read_to_end(&mut json).is_err() {
        eprintln!("chillproxy: could not read the config from stdin");
        return ExitCode::from(2);
    }
    let json = json.trim_ascii();
    if let Err(problem) = chillproxy_stremio::UserConfig::from_json(json, &plugins.store_codes) {
        eprintln!("chillproxy: the config is not valid here: {problem}");
        return ExitCode::from(2);
    }
    match keyring.seal(chillproxy_core::seal::Purpose::Config, json) {
        Some(sealed) => {
            println!("{sealed}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("chillproxy: sealing failed");
            ExitCode::from(1)
        }
    }
}

fn list_plugins(path: &std::path::Path, env: &Env) -> ExitCode {
    let config = match Config::from_file(path, env) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("note: cannot read the config, so 'enabled' is unknown: {e}");
            None
        }
    };
    let status = |listed_and_enabled: Option<bool>| match listed_and_enabled {
        Some(true) => "enabled",
        Some(false) => "disabled",
        None => "?",
    };
    fn active<T: Descriptor>(section: Option<&Section<T>>, name: &str) -> Option<bool> {
        section.map(|s| s.active.iter().any(|p| p.name() == name))
    }
    let lists = (registry::list::<AuthPlugin>(), registry::stores(), registry::list::<SourcePlugin>());
    let (Ok(auth), Ok(stores), Ok(sources)) = lists else {
        eprintln!("chillproxy: the plugin registry is inconsistent (duplicate names or codes)");
        return ExitCode::FAILURE;
    };
    println!("auth plugins (tried in [auth] chain order):");
    for p in auth {
        println!("  {:<16} {:<9} {}", p.name, status(active(config.as_ref().map(|c| &c.auth), p.name)), p.summary);
    }
    println!("store plugins:");
    for p in stores {
        let code = format!("{} ({})", p.name, p.code);
        println!("  {:<16} {:<9} {}", code, status(active(config.as_ref().map(|c| &c.store), p.name)), p.summary);
    }
    println!("source plugins:");
    for p in sources {
        println!("  {:<16} {:<9} {}", p.name, status(active(config.as_ref().map(|c| &c.source), p.name)), p.summary);
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use axum::routing::get;
    use axum::Router;
    use chillproxy_host::guard::{protect, Limits, REQUEST_ID};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn server(toml_text: &str) -> Result<ServerConfig, chillproxy_core::ConfigError> {
        chillproxy_host::link_plugins();
        Config::from_toml(toml_text, &Env::default()).map(|c| c.server)
    }

    #[test]
    fn log_and_metrics_settings_have_defaults_env_and_validation() {
        let defaults = server("").unwrap();
        assert_eq!((defaults.log_format, defaults.log_level.as_str()), (LogFormat::Pretty, "info"));
        assert!(defaults.metrics_token.is_none());

        let set = server(
            "[server]\nlog_format = 'json'\nlog_level = 'warn,chillproxy_host=debug'\nmetrics_token = 'file-token'\n",
        )
        .unwrap();
        assert_eq!((set.log_format, set.log_level.as_str()), (LogFormat::Json, "warn,chillproxy_host=debug"));
        assert_eq!(set.metrics_token.as_ref().unwrap().expose(), "file-token");

        chillproxy_host::link_plugins();
        let env = Env::from_pairs([("CHILLPROXY_METRICS_TOKEN", "env-token")]);
        let config = Config::from_toml("[server]\nmetrics_token = 'file-token'\n", &env).unwrap();
        assert_eq!(config.server.metrics_token.as_ref().unwrap().expose(), "env-token", "env beats the file");
        assert!(!config.effective_toml().contains("env-token"), "the token is redacted");

        let err = server("[server]\nlog_format = 'xml'\n").err().unwrap();
        assert!(err.to_string().contains("xml"), "{err}");
        let err = server("[server]\nlog_level = 'debugg'\n").err().unwrap();
        assert!(err.to_string().contains("log_level") && err.to_string().contains("debugg"), "{err}");
        assert!(server("[server]\nlog_level = 'chillproxy=bogus'\n").is_err());
        let err = server("[server]\nmetrics_token = ' '\n").err().unwrap();
        assert!(err.to_string().contains("metrics_token"), "{err}");
    }

    #[test]
    fn logging_settings_fall_back_to_defaults() {
        let missing = logging_settings(std::path::Path::new("/nonexistent/chillproxy/plugins.toml"));
        assert_eq!(missing.log_format, LogFormat::Pretty);
        let dir = std::env::temp_dir().join(format!("chillproxy-main-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("plugins.toml");
        std::fs::write(&path, "[server]\nlog_format = 'json'\nlog_level = 'debug'\n[auth]\nchain = ['token']\n")
            .unwrap();
        let read = logging_settings(&path);
        assert_eq!((read.log_format, read.log_level.as_str()), (LogFormat::Json, "debug"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn json_logs_carry_the_request_span_and_its_id() {
        let capture = Capture::default();
        let writer = capture.clone();
        let server = ServerConfig { log_format: LogFormat::Json, log_level: "debug".into(), ..Default::default() };
        let subscriber = subscriber(&server, None, move || writer.clone());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let request_id = tracing::subscriber::with_default(subscriber, || {
            runtime.block_on(async {
                let router: Router = Router::new().route(
                    "/stremio/torz/{config}/manifest.json",
                    get(|| async {
                        tracing::info!("inside the handler");
                        "fine"
                    }),
                );
                let router = protect(router, Limits { max_uri_bytes: 2048, max_header_bytes: 4096 });
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                tokio::spawn(async move { axum::serve(listener, router).await });
                let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                let request =
                    "GET /stremio/torz/eyJsecretCONFIG/manifest.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
                stream.write_all(request.as_bytes()).await.unwrap();
                let mut response = String::new();
                stream.read_to_string(&mut response).await.unwrap();
                let prefix = format!("{REQUEST_ID}: ");
                response.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap().trim().to_string()
            })
        });
        let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        let line = text.lines().find(|l| l.contains("inside the handler")).unwrap_or_else(|| panic!("{text}"));
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(event["span"]["name"], "request", "{line}");
        assert_eq!(event["span"]["id"], request_id.as_str(), "{line}");
        assert_eq!(event["span"]["route"], "/stremio/torz/{config}/manifest.json", "{line}");
        assert_eq!(event["fields"]["message"], "inside the handler", "{line}");
        assert!(text.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()), "{text}");
        assert!(!text.contains("eyJsecretCONFIG"), "{text}");
    }
}
