//! A real `redis-server` for the multi-replica tests: started on a free loopback port with
//! persistence off (`--save "" --appendonly no`), stopped when dropped. Needs Debian's
//! `redis-server` package (`.ci/run` installs it); `CHILLPROXY_REDIS_SERVER` names another
//! binary, and `CHILLPROXY_SKIP_REDIS=1` skips the Redis tests where it cannot be installed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SKIP_ENV: &str = "CHILLPROXY_SKIP_REDIS";
pub const BINARY_ENV: &str = "CHILLPROXY_REDIS_SERVER";

/// A running `redis-server`. Dropping it kills it.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
}

impl RedisServer {
    /// `None` (with a note on stderr) when `CHILLPROXY_SKIP_REDIS=1`. Panics when the server
    /// cannot start: a test that needs Redis must not pass without it.
    pub fn start() -> Option<RedisServer> {
        if std::env::var(SKIP_ENV).is_ok_and(|v| v == "1") {
            eprintln!("{SKIP_ENV}=1: skipping a test that needs redis-server");
            return None;
        }
        let port = free_port();
        let mut server = RedisServer { child: None, port };
        server.start_again();
        Some(server)
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server (as a crash would: no shutdown, nothing saved).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty, and waits until it answers.
    pub fn start_again(&mut self) {
        self.kill();
        let binary = std::env::var(BINARY_ENV).unwrap_or_else(|_| "redis-server".to_string());
        let child = Command::new(&binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {binary:?} ({e}): install Debian's redis-server (apt-get install redis-server), \
                     set {BINARY_ENV} to a redis-server binary, or set {SKIP_ENV}=1 to skip the Redis tests"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.connection().and_then(|mut c| redis::cmd("PING").query::<String>(&mut c).ok()).is_some() {
                return;
            }
            assert!(Instant::now() < deadline, "redis-server did not answer on port {} within 10 s", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn connection(&self) -> Option<redis::Connection> {
        redis::Client::open(self.url()).ok()?.get_connection_with_timeout(Duration::from_secs(1)).ok()
    }

    /// Forgets every key.
    pub fn flush_all(&self) {
        let mut connection = self.connection().expect("redis answers");
        let _: () = redis::cmd("FLUSHALL").query(&mut connection).expect("FLUSHALL");
    }

    /// Every key and its value (strings as they are; other types as their type name).
    pub fn dump(&self) -> Vec<(String, String)> {
        let mut connection = self.connection().expect("redis answers");
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut connection).expect("KEYS");
        let mut entries = Vec::new();
        for key in keys {
            let value: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query(&mut connection).unwrap_or(None);
            entries.push((key, value.map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default()));
        }
        entries.sort();
        entries
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}
