//! The hosts of one run: `--replicas` fresh processes (clients spread round-robin over them),
//! sharing a `redis-server` with `--redis` (flushed before each run) and sealing keys with
//! `--sealed` or `--redis`; each started with its own config and spool and waited for.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chillproxy_tests::stack::{INDEXER_KEY, INTERNAL_API_KEY};
use tokio::runtime::Runtime;

use crate::drive::fetch;
use crate::fakes::Fakes;
use crate::host::{free_port, plugins_toml, tail, with_overrides, HostProcess, INDEXER_KEY_ENV, LOADBENCH_KEYS};

/// The replicas of one run.
pub struct Cluster {
    pub hosts: Vec<HostProcess>,
}

impl Cluster {
    /// The first replica (warm-ups and preparation go there).
    pub fn addr(&self) -> SocketAddr {
        self.hosts[0].addr
    }

    /// Where clients go: client `i` talks to replica `i % n`.
    pub fn targets(&self) -> Vec<(SocketAddr, String)> {
        self.hosts.iter().map(|h| (h.addr, h.host_header())).collect()
    }

    /// (VmHWM, VmRSS) in KiB, summed over the replicas.
    pub fn memory_kib(&self) -> Option<(u64, u64)> {
        let each: Option<Vec<(u64, u64)>> = self.hosts.iter().map(HostProcess::memory_kib).collect();
        each.map(|all| all.iter().fold((0, 0), |(p, r), (hp, hr)| (p + hp, r + hr)))
    }
}

pub struct Launcher {
    pub binary: PathBuf,
    pub temp: PathBuf,
    pub log: PathBuf,
    pub chillstreams_url: String,
    pub overrides: Vec<(String, toml::Value)>,
    pub runs: usize,
    pub replicas: usize,
    /// The Redis every replica shares, flushed before each run.
    pub redis: Option<chillproxy_tests::redis::RedisServer>,
    /// The hosts get sealing keys (also whenever they share a Redis).
    pub sealed: bool,
}

impl Launcher {
    /// Starts `--replicas` fresh hosts (on an empty Redis with `--redis`).
    pub fn start_cluster(&mut self, fakes: &Fakes, rt: &Runtime) -> Result<Cluster, String> {
        if let Some(redis) = &self.redis {
            redis.flush_all();
        }
        let mut hosts = Vec::with_capacity(self.replicas);
        for _ in 0..self.replicas {
            hosts.push(self.start(fakes, rt)?);
        }
        Ok(Cluster { hosts })
    }

    /// Starts a fresh host with its own config and usage spool, and waits until it answers.
    pub fn start(&mut self, fakes: &Fakes, rt: &Runtime) -> Result<HostProcess, String> {
        self.runs += 1;
        let dir = self.temp.join(format!("run-{}", self.runs));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let config = dir.join("plugins.toml");
        let text = with_overrides(plugins_toml(fakes, &dir.join("usage.db")), &self.overrides)?;
        std::fs::write(&config, text).map_err(|e| format!("{}: {e}", config.display()))?;
        let port = free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let mut command = Command::new(&self.binary);
        if let Some(redis) = &self.redis {
            // Replicas sharing state must share the sealing keys too (a startup error otherwise):
            // stream URLs then carry sealed playback handles.
            command.env("CHILLPROXY_REDIS_URL", redis.url());
        }
        if self.redis.is_some() || self.sealed {
            command.env("CHILLPROXY_KEYS", LOADBENCH_KEYS);
        }
        let child = command
            .arg("--config")
            .arg(&config)
            .env("CHILLPROXY_LISTEN", addr.to_string())
            .env("RUST_LOG", "warn")
            .env("CHILLPROXY_SECRET", "loadbench-link-secret-0123456789")
            .env("ENABLE_CHILLSTREAMS_AUTH", "true")
            .env("CHILLSTREAMS_API_URL", &self.chillstreams_url)
            .env("CHILLSTREAMS_API_KEY", INTERNAL_API_KEY)
            .env(INDEXER_KEY_ENV, INDEXER_KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        let mut host = HostProcess { child, addr };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = host.child.try_wait() {
                return Err(format!("chillproxy exited at startup ({status}); see its log:\n{}", tail(&self.log, 20)));
            }
            let up = rt.block_on(async {
                let request = tokio::time::timeout(Duration::from_secs(1), fetch(addr, "/health"));
                matches!(request.await, Ok(Ok(response)) if response.status == 200)
            });
            if up {
                return Ok(host);
            }
            if Instant::now() > deadline {
                return Err("chillproxy did not answer /health within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
