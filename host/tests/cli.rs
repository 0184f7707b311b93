//! The `chillproxy` binary as an operator runs it: check-config, plugins, and serving with the
//! repo's own plugins.toml and no environment.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_chillproxy");
/// A sealing keyring the replicas of a test cluster share.
const CLUSTER_KEYS: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn repo_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins.toml")
}

/// The binary with none of chillproxy's variables set, whatever the caller's environment.
fn chillproxy() -> Command {
    let mut cmd = Command::new(BIN);
    for var in [
        "ENABLE_CHILLSTREAMS_AUTH",
        "CHILLSTREAMS_API_URL",
        "CHILLSTREAMS_API_KEY",
        "CHILLPROXY_LISTEN",
        "CHILLPROXY_CONFIG",
        "CHILLPROXY_SECRET",
        "CHILLPROXY_KEYS",
        "CHILLPROXY_REDIS_URL",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output { status, stdout, stderr } = cmd.output().expect("run chillproxy");
    (status.code().unwrap_or(-1), String::from_utf8_lossy(&stdout).into(), String::from_utf8_lossy(&stderr).into())
}

fn temp_config(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chillproxy-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn check_config_accepts_the_repo_config_and_redacts_secrets() {
    let (code, out, err) = run(chillproxy().arg("check-config").arg("--config").arg(repo_config()));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("chain = [\"token\"]"), "chillstreams is off by default:\n{out}");
    assert!(out.contains("[store.torbox]"), "{out}");

    let (code, out, err) = run(chillproxy()
        .args(["check-config", "--config"])
        .arg(repo_config())
        .env("ENABLE_CHILLSTREAMS_AUTH", "true")
        .env("CHILLSTREAMS_API_KEY", "very-secret-internal-key"));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("chain = [\n    \"chillstreams\",\n    \"token\",\n]") || out.contains("\"chillstreams\""),
        "{out}"
    );
    assert!(out.contains("api_key = \"[redacted]\""), "{out}");
    assert!(!out.contains("very-secret-internal-key") && !err.contains("very-secret-internal-key"));
}

#[test]
fn check_config_rejects_bad_configs_with_a_reason() {
    let base = std::fs::read_to_string(repo_config()).unwrap();
    let cases = [
        (
            "unknown-chain.toml",
            base.replace("chain = [\"chillstreams\", \"token\"]", "chain = [\"chillstreams\", \"tokn\"]"),
            "unknown auth plugin `tokn`; available: chillstreams, token",
        ),
        (
            "unknown-table.toml",
            format!("{base}\n[store.offcloud]\napi_url = \"x\"\n"),
            "[store.offcloud] is not a registered store plugin; available: alldebrid, premiumize, realdebrid, torbox",
        ),
        (
            "unknown-key.toml",
            base.replace("[auth.token]\nenabled = true", "[auth.token]\nenabled = true\ncolour = \"blue\""),
            "unknown field `colour`",
        ),
        (
            "unknown-server-key.toml",
            base.replace("[server]\n", "[server]\nlisten_port = 9\n"),
            "unknown field `listen_port`",
        ),
        ("bad-value.toml", base.replace("timeout_ms = 5000", "timeout_ms = \"soon\""), "timeout_ms"),
    ];
    for (name, text, expected) in cases {
        let path = temp_config(name, &text);
        let (code, out, err) = run(chillproxy().arg("check-config").arg("--config").arg(&path));
        assert_ne!(code, 0, "{name} was accepted:\n{out}");
        let reasons: Vec<&str> = err.lines().filter(|l| l.starts_with("chillproxy: invalid configuration: ")).collect();
        assert_eq!(reasons.len(), 1, "{name}: one one-line reason expected: {err}");
        assert!(reasons[0].contains(expected), "{name}: {err}");
    }

    let (code, _, err) = run(chillproxy()
        .arg("check-config")
        .arg("--config")
        .arg(repo_config())
        .env("ENABLE_CHILLSTREAMS_AUTH", "maybe"));
    assert_ne!(code, 0);
    assert!(err.contains("ENABLE_CHILLSTREAMS_AUTH=\"maybe\" is not a valid flag"), "{err}");

    let (code, _, err) = run(chillproxy()
        .arg("check-config")
        .arg("--config")
        .arg(repo_config())
        .env("ENABLE_CHILLSTREAMS_AUTH", "true"));
    assert_ne!(code, 0);
    assert!(err.contains("no API key") && err.contains("CHILLSTREAMS_API_KEY"), "{err}");
}

#[test]
fn plugins_lists_every_plugin_with_its_state() {
    let (code, out, err) = run(chillproxy().arg("plugins").arg("--config").arg(repo_config()));
    assert_eq!(code, 0, "{err}");
    let line = |needle: &str| out.lines().find(|l| l.contains(needle)).unwrap_or_default().to_string();
    assert!(line("chillstreams").contains("disabled"), "{out}");
    assert!(line("token").contains("enabled"), "{out}");
    assert!(line("torbox (tb)").contains("enabled"), "{out}");
    for store in ["realdebrid (rd)", "alldebrid (ad)", "premiumize (pm)"] {
        assert!(line(store).contains("enabled") && !line(store).contains("stub"), "{out}");
    }
    assert!(line("torznab").contains("enabled"), "{out}");
    // Zero setup: the shipped config lists StremThru's database (building it calls nobody).
    assert!(line("stremthru").contains("enabled"), "{out}");
    assert!(line("stremio-addon").contains("disabled"), "an operator names addons first: {out}");
}

/// `chillproxy` set to serve the repo config on a free loopback address, run where an operator
/// would but in a scratch folder named after `label` (the usage spool goes to ./data): the
/// command, the address and the folder.
fn serving(label: &str) -> (Command, String, PathBuf) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let workdir = std::env::temp_dir().join(format!("chillproxy-cli-{label}-{}", std::process::id()));
    std::fs::create_dir_all(&workdir).unwrap();
    let mut command = chillproxy();
    command.current_dir(&workdir).arg("--config").arg(repo_config()).env("CHILLPROXY_LISTEN", &addr);
    (command, addr, workdir)
}

/// The first answer to `GET path`, waiting up to 20 s for the server to start.
fn first_answer(addr: &str, path: &str) -> String {
    let started = Instant::now();
    loop {
        if let Some(response) = http_get(addr, path) {
            return response;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn serves_health_and_manifest_with_the_repo_config_then_stops_on_sigterm() {
    let (mut command, addr, workdir) = serving("serve");
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let health = first_answer(&addr, "/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"status\":\"ok\""), "{health}");

    let manifest = http_get(&addr, "/stremio/torz/manifest.json").unwrap();
    assert!(manifest.starts_with("HTTP/1.1 200"), "{manifest}");
    assert!(manifest.to_ascii_lowercase().contains("access-control-allow-origin: *"), "{manifest}");
    let body = manifest.split("\r\n\r\n").nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["resources"][0]["name"], "stream");
    assert_eq!(json["resources"][0]["types"], serde_json::json!(["movie", "series"]));
    assert_eq!(json["resources"][0]["idPrefixes"], serde_json::json!(["tt", "kitsu"]));
    assert_eq!(json["catalogs"], serde_json::json!([]));
    assert_eq!(json["behaviorHints"]["configurable"], true);
    assert_eq!(json["behaviorHints"]["configurationRequired"], true);
    assert_eq!(json["id"], "local.chillproxy.torz");

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    assert!(workdir.join("data/usage.db").exists(), "the usage spool was created in ./data");
    let _ = std::fs::remove_dir_all(&workdir);
}

#[test]
fn replicas_sharing_redis_must_share_the_secret() {
    let (code, _, err) = run(chillproxy()
        .args(["check-config", "--config"])
        .arg(repo_config())
        .env("CHILLPROXY_REDIS_URL", "redis://:redis-password-123@127.0.0.1:9/0"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("CHILLPROXY_REDIS_URL") && err.contains("same CHILLPROXY_KEYS"), "{err}");
    assert!(!err.contains("redis-password-123"), "{err}");

    let (code, _, err) = run(chillproxy()
        .args(["check-config", "--config"])
        .arg(repo_config())
        .env("CHILLPROXY_REDIS_URL", "redis://:redis-password-123@127.0.0.1:9/0")
        .env("CHILLPROXY_KEYS", CLUSTER_KEYS));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("CHILLPROXY_REDIS_URL") && err.contains("same CHILLPROXY_SECRET"), "{err}");

    let (code, out, err) = run(chillproxy()
        .args(["check-config", "--config"])
        .arg(repo_config())
        .env("CHILLPROXY_REDIS_URL", "redis://:redis-password-123@127.0.0.1:9/0")
        .env("CHILLPROXY_KEYS", CLUSTER_KEYS)
        .env("CHILLPROXY_SECRET", "a-shared-secret-of-the-cluster"));
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("AAECAwQFBgcICQoL"), "the keyring is never printed: {out}");
    assert!(out.contains("redis_url = \"[redacted]\""), "{out}");
    assert!(!out.contains("redis-password-123") && !out.contains("a-shared-secret-of-the-cluster"), "{out}");
}

/// Redis down at start is not a reason to refuse to start: the replica serves from its own
/// memory and `/ready` says the shared tier is degraded.
#[test]
fn starts_and_stays_ready_when_redis_is_unreachable() {
    let (mut command, addr, workdir) = serving("redis");
    let mut child = command
        .env("CHILLPROXY_REDIS_URL", "redis://127.0.0.1:9/0")
        .env("CHILLPROXY_KEYS", CLUSTER_KEYS)
        .env("CHILLPROXY_SECRET", "a-shared-secret-of-the-cluster")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ready = first_answer(&addr, "/ready");
    let started = Instant::now();
    // The tier learns Redis is away at its first call (the background probe or a request).
    while !ready.contains("\"shared\":\"degraded\"") && started.elapsed() < Duration::from_secs(20) {
        let _ = http_get(&addr, "/stremio/torz/manifest.json");
        std::thread::sleep(Duration::from_millis(100));
        ready = http_get(&addr, "/ready").unwrap_or_default();
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&workdir);
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(ready.contains("\"status\":\"ready\"") && ready.contains("\"shared\":\"degraded\""), "{ready}");
}

#[test]
fn the_production_example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/plugins.production.toml");
    let (code, out, err) = run(chillproxy()
        .arg("check-config")
        .arg("--config")
        .arg(&path)
        .env("CHILLSTREAMS_API_KEY", "prod-internal-key-123")
        .env("CHILLPROXY_SECRET", "a-production-secret-of-32-chars!!")
        .env("PROWLARR_API_KEY", "prowlarr-key-456"));
    assert_eq!(code, 0, "{err}");
    for secret in ["prod-internal-key-123", "a-production-secret-of-32-chars!!", "prowlarr-key-456"] {
        assert!(!out.contains(secret) && !err.contains(secret), "{secret} printed");
    }
    assert!(out.contains("secret = \"[redacted]\""), "{out}");
}

#[test]
fn help_and_version_are_complete() {
    let (code, out, _) = run(chillproxy().arg("--help"));
    assert_eq!(code, 0);
    for needle in [
        "serve",
        "plugins",
        "check-config",
        "--config",
        "CHILLPROXY_LISTEN",
        "CHILLPROXY_SECRET",
        "CHILLPROXY_KEYS",
        "ENABLE_CHILLSTREAMS_AUTH",
        "CHILLSTREAMS_API_URL",
        "CHILLSTREAMS_API_KEY",
        "Exit status",
    ] {
        assert!(out.contains(needle), "--help lacks {needle}:\n{out}");
    }
    let (code, out, _) = run(chillproxy().arg("--version"));
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("chillproxy {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn seal_config_prints_a_segment_the_server_opens() {
    use chillproxy_core::seal::{Keyring, Purpose};
    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let toml = temp_config("seal.toml", "[store]\nenabled = [\"torbox\"]\n");
    let seal = |keys: Option<&str>, input: &str| {
        let mut command = chillproxy();
        command.args(["--config", toml.to_str().unwrap(), "seal-config"]).env_remove("CHILLPROXY_KEYS");
        if let Some(keys) = keys {
            command.env("CHILLPROXY_KEYS", keys);
        }
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let Output { status, stdout, stderr } = child.wait_with_output().unwrap();
        (
            status.code().unwrap_or(-1),
            String::from_utf8_lossy(&stdout).into_owned(),
            String::from_utf8_lossy(&stderr).into_owned(),
        )
    };
    let config = r#"{"stores":[{"c":"tb","t":"tb-token-123"}]}"#;
    let (code, out, err) = seal(Some(K1), config);
    assert_eq!(code, 0, "{err}");
    let sealed = out.trim();
    assert!(sealed.starts_with("c1.k1.") && !sealed.contains("tb-token"), "{sealed}");
    let opened = Keyring::parse(K1).unwrap().open(Purpose::Config, sealed).unwrap();
    assert_eq!(opened, config.as_bytes());

    let (code, _, err) = seal(Some(K1), r#"{"stores":[{"c":"zz","t":"x"}]}"#);
    assert_eq!(code, 2);
    assert!(err.contains("unknown store code"), "{err}");
    let (code, _, err) = seal(None, config);
    assert_eq!(code, 2);
    assert!(err.contains("CHILLPROXY_KEYS"), "{err}");
}
