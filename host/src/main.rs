//! The `chillproxy` binary: serve, list plugins, or check a config.

use std::path::PathBuf;
use std::process::ExitCode;

use chillproxy_core::registry::{self, Descriptor};
use chillproxy_core::{AuthPlugin, Env, SourcePlugin};
use chillproxy_host::config::{Config, Section, CONFIG_ENV};
use chillproxy_host::{server, AppState, Plugins};
use clap::{Parser, Subcommand};

/// A Stremio addon host for debrid services: finds torrents on Torznab indexers, asks debrid
/// stores which are cached, and plays them. Auth, stores and sources are plugins, enabled and
/// ordered in plugins.toml.
#[derive(Parser)]
#[command(name = "chillproxy", version, about, long_about = None)]
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
}

fn main() -> ExitCode {
    chillproxy_host::link_plugins();
    let cli = Cli::parse();
    init_logging();
    let env = Env::from_process();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.config, &env),
        Command::Plugins => list_plugins(&cli.config, &env),
        Command::CheckConfig => check_config(&cli.config, &env),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
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
