//! `cargo run --release -p chillproxy-tests --bin loadbench [-- FLAGS]`: a load benchmark of the
//! release `chillproxy` binary against the fakes with realistic upstream latency.
//!
//! It builds the host (`cargo build --release -p chillproxy-host`, a no-op when up to date; or
//! `--host-bin PATH`), starts the fake Chillstreams, TorBox and Torznab in this process with
//! latency (100/50/300 ms by default), seeds them with many distinct movies, and then, for every
//! scenario and client count, starts a fresh host process (so peak RSS is per run), drives it
//! for a fixed time from in-process tokio tasks over keep-alive HTTP/1.1 on loopback, counts the
//! calls that reached each fake, and finally prints a Markdown report (see BENCHMARKS.md).
//!
//! Scenarios: `warm` (the same title again and again), `cold` (a new title on every request),
//! `play` (playback of files already in the pool key's TorBox account: 302s, not followed) and `fixed`
//! (`GET /_bench/fixed/{bytes}`, as large as the warm stream list: the machine's ceiling).
//! Two more for issue 9: `hangup` (clients hang up on new titles while TorBox is slow, then
//! normal clients measure latency and errors) and `soak` (a long cold run over more titles than
//! the caches hold, reported per quarter of the run).
//!
//! `--sources all` adds what a deployment without an id-searching indexer meets (issue 12): a
//! second Torznab indexer that takes only text (`q`) searches, the titles for it from a fake
//! Cinemeta, and StremThru's torrent database as a second source.
//! `--replicas N` starts N host processes per run and spreads the clients round-robin over
//! them; with `--redis` they share a `redis-server` loadbench starts (flushed before each run,
//! so every run starts cold), as replicas behind a load balancer do (issue 14).
//!
//! The fake TorBox enforces TorBox's documented per-token limits (300 requests a minute, 60
//! new downloads an hour) unless `--torbox-limits off`, which also turns chillproxy's own
//! per-key budgets off (as before issue 11).

mod http;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::{middleware, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chillproxy_tests::fakes::chillstreams::{FakeChillstreams, Mode as ChillstreamsMode};
use chillproxy_tests::fakes::cinemeta::FakeCinemeta;
use chillproxy_tests::fakes::stremthru::{DbTorrent, FakeStremThru};
use chillproxy_tests::fakes::torbox::{FakeTorBox, Fault, Limits};
use chillproxy_tests::fakes::torznab::{CapsKind, Mode as TorznabMode, Release, TorznabControl};
use chillproxy_tests::fakes::{serve, Running};
use chillproxy_tests::stack::{INDEXER_KEY, INTERNAL_API_KEY, POOL_KEY, POOL_KEY_ID, USER};
use serde_json::Value;
use tokio::runtime::Runtime;

use crate::http::Conn;

/// Every simulated client sends this, from 127.0.0.1: one Chillstreams device.
const USER_AGENT: &str = "Mozilla/5.0 (loadbench) Stremio/4.4";
/// The env var the generated plugins.toml names for the indexer key.
const INDEXER_KEY_ENV: &str = "LOADBENCH_INDEXER_KEY";
/// The sealing keyring of `--sealed` and `--redis` runs.
const LOADBENCH_KEYS: &str = "lb1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// First IMDb number used; title `n` is `tt{FIRST_IMDB + n}`.
const FIRST_IMDB: usize = 7_000_000;

const USAGE: &str = "\
loadbench: load benchmark of the release chillproxy binary against latency-injecting fakes.

usage: cargo run --release -p chillproxy-tests --bin loadbench -- [FLAGS]

  --concurrency LIST     client counts, comma-separated            (default 64,256)
  --duration SECS        length of each run                        (default 10)
  --scenarios LIST       warm,cold,play,fixed,hangup,soak (any subset, in order)
                         (default warm,cold,play,fixed)
  --max-requests N       stop a run after N requests               (default 1000000)
  --timeout SECS         per-request timeout (counted as an error) (default 10)
  --chillstreams-ms MS   Chillstreams get-key latency              (default 100)
  --torbox-ms MS         latency of every TorBox API call          (default 50)
  --torznab-ms MS        Torznab indexer latency                   (default 300)
  --titles N             distinct movies for the cold scenario     (default: enough for the
                         client counts and duration at the fakes' latency, at least 2000)
  --releases N           releases per movie (even ones cached)     (default 2)
  --users N              distinct Chillstreams users (configs), one device each; requests
                         cycle through them                         (default 1)
  --sealed               the host has sealing keys (CHILLPROXY_KEYS): stream URLs carry
                         sealed playback handles, one seal per stream (implied by --redis)
  --play-files N         distinct cached files the play scenario cycles through (default 100);
                         they are in the pool key's TorBox account already
  --torbox-limits on|off the fake TorBox enforces TorBox's per-token limits (300 requests a
                         minute, 60 createtorrent an hour, 10 a minute)         (default on);
                         off also sets chillproxy's [store.torbox] budgets to 0
  --hangup-after MS      hangup: clients hang up after this long   (default: Torznab latency
                         + 150, so they leave while TorBox's cache check is in flight)
  --hangup-torbox-ms MS  hangup: TorBox latency while clients hang up (default 500)
  --threads N            load generator worker threads             (default: CPU count)
  --sources torznab|all  torznab: one indexer searched by IMDb id; all: plus a text-only (q)
                         indexer fed by a fake Cinemeta, and StremThru's database (default torznab)
  --set KEY=VALUE        override the generated plugins.toml, e.g. --set source.torznab.max_in_flight=128
                         (repeatable; VALUE is TOML, else taken as a string)
  --replicas N           host processes per run; clients are spread round-robin over them
                         (default 1)
  --redis                the replicas share state through a redis-server loadbench starts on
                         loopback (Debian's redis-server; flushed before each run)
  --host-bin PATH        benchmark this binary instead of building target/release/chillproxy
  --no-build             skip `cargo build --release -p chillproxy-host` (still run when the
                         binary is missing); by default it runs first, a no-op when up to date
  -h, --help             this text
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Warm,
    Cold,
    Play,
    Fixed,
    Hangup,
    Soak,
}

impl Scenario {
    fn parse(name: &str) -> Option<Self> {
        match name.trim() {
            "warm" => Some(Self::Warm),
            "cold" => Some(Self::Cold),
            "play" => Some(Self::Play),
            "fixed" => Some(Self::Fixed),
            "hangup" => Some(Self::Hangup),
            "soak" => Some(Self::Soak),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Warm => "stream list, warm (same title)",
            Self::Cold => "stream list, cold (new title each request)",
            Self::Play => "playback of cached files (302)",
            Self::Fixed => "`/_bench/fixed` (ceiling)",
            Self::Hangup => "stream list, new titles, after clients hung up",
            Self::Soak => "stream list, cold soak (new title each request)",
        }
    }

    /// Whether a run takes fresh titles from the cold list.
    fn uses_fresh_titles(self) -> bool {
        matches!(self, Self::Cold | Self::Hangup | Self::Soak)
    }

    fn expected_status(self) -> u16 {
        match self {
            Self::Play => 302,
            _ => 200,
        }
    }
}

#[derive(Debug)]
struct Args {
    concurrency: Vec<usize>,
    duration: Duration,
    scenarios: Vec<Scenario>,
    max_requests: u64,
    timeout: Duration,
    chillstreams_ms: u64,
    torbox_ms: u64,
    torznab_ms: u64,
    /// `None`: [`Args::cold_titles`] works it out.
    titles: Option<usize>,
    releases: usize,
    play_files: usize,
    /// `None`: the Torznab latency + 150 ms.
    hangup_after: Option<Duration>,
    hangup_torbox_ms: u64,
    threads: usize,
    host_bin: Option<PathBuf>,
    no_build: bool,
    /// `--set` overrides of the generated plugins.toml: (dotted key, value).
    overrides: Vec<(String, toml::Value)>,
    /// The fake TorBox enforces TorBox's per-token limits.
    torbox_limits: bool,
    /// `--sources all`: a text-only indexer (with Cinemeta) and StremThru besides the id indexer.
    all_sources: bool,
    /// Distinct Chillstreams users (configs); requests cycle through them.
    users: usize,
    /// Host processes per run.
    replicas: usize,
    /// They share a Redis.
    redis: bool,
    /// `--sealed`: the hosts have sealing keys.
    sealed: bool,
}

impl Args {
    /// Distinct movies for the cold scenario: `--titles`, else what every cold run could use if
    /// each request took only the Torznab and one TorBox latency (get-key cached), plus 20%.
    fn cold_titles(&self) -> usize {
        self.titles.unwrap_or_else(|| {
            let floor_ms = (self.torznab_ms + self.torbox_ms).max(100) as f64;
            let clients: usize = self.concurrency.iter().sum();
            // A hang-up run takes titles twice (the hung-up clients, then the normal ones).
            let runs: usize = self
                .scenarios
                .iter()
                .map(|s| match s {
                    Scenario::Hangup => 2,
                    s if s.uses_fresh_titles() => 1,
                    _ => 0,
                })
                .sum::<usize>()
                .max(1);
            let most = (clients * runs) as f64 * self.duration.as_secs_f64() * 1000.0 / floor_ms * 1.2;
            (most.ceil() as usize).max(2000)
        })
    }
}

fn cpu_count() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        concurrency: vec![64, 256],
        duration: Duration::from_secs(10),
        scenarios: vec![Scenario::Warm, Scenario::Cold, Scenario::Play, Scenario::Fixed],
        max_requests: 1_000_000,
        timeout: Duration::from_secs(10),
        chillstreams_ms: 100,
        torbox_ms: 50,
        torznab_ms: 300,
        titles: None,
        releases: 2,
        play_files: 100,
        hangup_after: None,
        hangup_torbox_ms: 500,
        threads: cpu_count(),
        host_bin: None,
        no_build: false,
        overrides: Vec::new(),
        torbox_limits: true,
        all_sources: false,
        users: 1,
        replicas: 1,
        redis: false,
        sealed: false,
    };
    let mut raw = std::env::args().skip(1);
    while let Some(arg) = raw.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        match name.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--no-build" => {
                args.no_build = true;
                continue;
            }
            "--redis" => {
                args.redis = true;
                continue;
            }
            "--sealed" => {
                args.sealed = true;
                continue;
            }
            _ => {}
        }
        let value = match inline.or_else(|| raw.next()) {
            Some(v) => v,
            None => return Err(format!("{name} needs a value")),
        };
        let number = |v: &str| v.trim().parse::<u64>().map_err(|_| format!("{name}: {v:?} is not a whole number"));
        let seconds = |v: &str| {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("{name}: {v:?} is not a positive number of seconds"))
        };
        match name.as_str() {
            "--concurrency" => {
                args.concurrency = value
                    .split(',')
                    .map(|c| number(c).map(|n| n as usize))
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .filter(|c| *c > 0)
                    .collect();
                if args.concurrency.is_empty() {
                    return Err("--concurrency: give at least one client count above 0".into());
                }
            }
            "--duration" => args.duration = seconds(&value)?,
            "--timeout" => args.timeout = seconds(&value)?,
            "--scenarios" => {
                args.scenarios = value
                    .split(',')
                    .map(|s| Scenario::parse(s).ok_or_else(|| format!("--scenarios: unknown scenario {s:?}")))
                    .collect::<Result<_, _>>()?;
            }
            "--max-requests" => args.max_requests = number(&value)?.max(1),
            "--replicas" => args.replicas = (number(&value)? as usize).clamp(1, 64),
            "--chillstreams-ms" => args.chillstreams_ms = number(&value)?,
            "--torbox-ms" => args.torbox_ms = number(&value)?,
            "--torznab-ms" => args.torznab_ms = number(&value)?,
            "--titles" => args.titles = Some(number(&value)?.max(1) as usize),
            "--releases" => args.releases = number(&value)?.clamp(1, 50) as usize,
            "--users" => args.users = number(&value)?.clamp(1, 100_000) as usize,
            "--play-files" => args.play_files = number(&value)?.max(1) as usize,
            "--hangup-after" => args.hangup_after = Some(Duration::from_millis(number(&value)?.max(1))),
            "--hangup-torbox-ms" => args.hangup_torbox_ms = number(&value)?,
            "--threads" => args.threads = number(&value)?.max(1) as usize,
            "--host-bin" => args.host_bin = Some(PathBuf::from(value)),
            "--torbox-limits" => {
                args.torbox_limits = match value.trim() {
                    "on" => true,
                    "off" => false,
                    other => return Err(format!("--torbox-limits: {other:?} is neither on nor off")),
                };
            }
            "--sources" => {
                args.all_sources = match value.trim() {
                    "torznab" => false,
                    "all" => true,
                    other => return Err(format!("--sources: {other:?} is neither torznab nor all")),
                };
            }
            "--set" => {
                let (key, raw) = value.split_once('=').ok_or_else(|| format!("--set {value:?}: expected KEY=VALUE"))?;
                let value = format!("v = {raw}")
                    .parse::<toml::Table>()
                    .ok()
                    .and_then(|mut t| t.remove("v"))
                    .unwrap_or_else(|| toml::Value::String(raw.to_string()));
                args.overrides.push((key.trim().to_string(), value));
            }
            _ => return Err(format!("unknown flag {name}")),
        }
    }
    if !args.torbox_limits {
        for key in ["requests_per_minute", "creates_per_hour", "creates_per_minute"] {
            args.overrides.push((format!("store.torbox.{key}"), toml::Value::Integer(0)));
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) if message.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("loadbench: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("loadbench: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (this crate's parent folder).
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The host binary to benchmark, built first unless told otherwise.
fn host_binary(args: &Args) -> Result<PathBuf, String> {
    if let Some(path) = &args.host_bin {
        return if path.is_file() {
            Ok(path.clone())
        } else {
            Err(format!("--host-bin {}: no such file", path.display()))
        };
    }
    let root = workspace_root();
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    };
    let binary = target.join("release").join("chillproxy");
    if !args.no_build || !binary.is_file() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        eprintln!("loadbench: cargo build --release -p chillproxy-host");
        let status = Command::new(cargo)
            .args(["build", "--release", "-p", "chillproxy-host"])
            .current_dir(&root)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build --release -p chillproxy-host failed ({status})"));
        }
    }
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!("{} not found after the build; pass --host-bin", binary.display()))
    }
}

// ---------------------------------------------------------------------------------------------
// The fakes.

struct Fakes {
    chillstreams: FakeChillstreams,
    torbox: FakeTorBox,
    _torbox_server: Running,
    /// The Torznab fake, sharded by IMDb id (see [`torznab_router`]).
    torznab: Vec<TorznabControl>,
    torznab_server: Running,
    /// `--sources all`.
    extra: Option<ExtraSources>,
}

/// The sources `--sources all` adds.
struct ExtraSources {
    /// A `q`-only indexer, sharded by the title's number (see [`text_router`]).
    text: Vec<TorznabControl>,
    text_server: Running,
    cinemeta: FakeCinemeta,
    stremthru: FakeStremThru,
}

/// Most movies one Torznab shard holds.
const TITLES_PER_SHARD: usize = 250;

/// The Torznab shard of an IMDb id (`tt0123` → 123 mod `shards`); 0 without one.
fn shard_of(imdb_id: Option<&str>, shards: usize) -> usize {
    let digits = imdb_id.map(|id| id.trim().trim_start_matches(['t', 'T'])).unwrap_or_default();
    digits.parse::<usize>().map(|n| n % shards.max(1)).unwrap_or(0)
}

/// One Torznab URL in front of many fake indexers. The fake answers a query by scanning all its
/// releases under a lock, so one fake holding thousands of movies would be the bottleneck of the
/// cold scenario; here each shard holds at most [`TITLES_PER_SHARD`] movies. A request for
/// `/api/v2.0/indexers/all/...` is rewritten to `/s{shard}/api/v2.0/indexers/all/...`, which is
/// routed (prefix stripped) to the shard that holds the requested `imdbid`.
fn torznab_router(shards: &[TorznabControl]) -> Router {
    let inner = shard_routes(shards);
    let count = shards.len();
    // A layer runs after its router's routing, so the rewrite wraps `inner` from outside.
    Router::new().fallback_service(inner).layer(middleware::map_request(move |mut request: Request| async move {
        let query = request.uri().query().unwrap_or_default().to_string();
        let imdb_id = query.split('&').find_map(|pair| pair.strip_prefix("imdbid="));
        let shard = shard_of(imdb_id, count);
        if let Some(rest) = request.uri().path().strip_prefix("/api/v2.0/indexers/all/") {
            if let Ok(uri) = format!("/s{shard}/api/v2.0/indexers/all/{rest}?{query}").parse() {
                *request.uri_mut() = uri;
            }
        }
        request
    }))
}

/// Shard `i` under `/s{i}`, 404 elsewhere: what the rewriting routers forward to.
fn shard_routes(shards: &[TorznabControl]) -> Router {
    let mut inner = Router::new();
    for (i, shard) in shards.iter().enumerate() {
        inner = inner.nest(&format!("/s{i}"), shard.router());
    }
    inner.fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
}

/// The shard of a text search `q=Bench Movie {n} 2020`: `n` mod `shards`.
fn text_router(shards: &[TorznabControl]) -> Router {
    let inner = shard_routes(shards);
    let count = shards.len();
    Router::new().fallback_service(inner).layer(middleware::map_request(move |mut request: Request| async move {
        let query = request.uri().query().unwrap_or_default().to_string();
        let n = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("q="))
            .and_then(|q| q.split(['+', ' ']).nth(2).map(str::to_string))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        if let Ok(uri) = format!("/s{}{}?{query}", n % count.max(1), request.uri().path()).parse() {
            *request.uri_mut() = uri;
        }
        // (The shards answer Jackett's per-indexer route, `/api/v2.0/indexers/{id}/results/torznab/api`.)
        request
    }))
}

fn imdb(n: usize) -> String {
    format!("tt{}", FIRST_IMDB + n)
}

fn info_hash(n: usize, release: usize) -> String {
    format!("be{n:030x}{release:08x}")
}

/// Release names, one per release index (wrapping).
const FLAVOURS: [(&str, u64); 6] = [
    ("1080p.BluRay.x264-AMIABLE", 8_400_000_000),
    ("720p.WEB-DL.x264-GRP", 1_300_000_000),
    ("2160p.UHD.BluRay.REMUX.HEVC-FGT", 61_000_000_000),
    ("1080p.WEB-DL.DDP5.1.H.264-NTb", 5_200_000_000),
    ("480p.DVDRip.XviD", 700_000_000),
    ("2160p.WEB-DL.DV.HEVC-FLUX", 18_000_000_000),
];

/// Titles `0..count`: every release is at the indexer; even ones are cached at TorBox, odd ones
/// are unknown to it (listed as uncached streams).
fn seed(fakes: &Fakes, count: usize, releases: usize) {
    let mut all = Vec::with_capacity(count * releases);
    for n in 0..count {
        for r in 0..releases {
            let (flavour, size) = FLAVOURS[r % FLAVOURS.len()];
            let name = format!("Bench.Movie.{n}.2020.{flavour}");
            let hash = info_hash(n, r);
            if r % 2 == 0 {
                fakes.torbox.add_cached(&hash, &name, &[(&format!("{name}.mkv"), size)]);
            }
            all.push(Release::movie(&imdb(n), &name, &hash).size(size).seeders(10 + (n % 90) as u32));
        }
    }
    let shards = fakes.torznab.len();
    let mut by_shard: Vec<Vec<Release>> = vec![Vec::new(); shards];
    for release in all {
        by_shard[shard_of(Some(&release.imdb_id), shards)].push(release);
    }
    for (shard, releases) in fakes.torznab.iter().zip(by_shard) {
        shard.add_releases(releases);
    }
    // --sources all: each title also has a release only the text indexer lists (found by its
    // title from Cinemeta; odd titles cached) and one only StremThru lists (even titles cached).
    if let Some(extra) = &fakes.extra {
        let shards = extra.text.len();
        let mut by_shard: Vec<Vec<Release>> = vec![Vec::new(); shards];
        for n in 0..count {
            extra.cinemeta.add("movie", &imdb(n), &format!("Bench Movie {n}"), "2020");
            let name = format!("Bench.Movie.{n}.2020.1080p.WEB-DL.DDP5.1.x264-TEXT");
            let hash = info_hash(n, 100);
            if n % 2 == 1 {
                fakes.torbox.add_cached(&hash, &name, &[(&format!("{name}.mkv"), 4_000_000_000)]);
            }
            by_shard[n % shards].push(Release::movie(&imdb(n), &name, &hash).size(4_000_000_000).seeders(25));
            let name = format!("Bench.Movie.{n}.2020.2160p.WEB-DL.DV.HEVC-STDB");
            let hash = info_hash(n, 101);
            if n % 2 == 0 {
                fakes.torbox.add_cached(&hash, &name, &[(&format!("{name}.mkv"), 16_000_000_000)]);
            }
            extra.stremthru.add(DbTorrent::movie(&imdb(n), &name, &hash, 16_000_000_000, 40));
        }
        for (shard, releases) in extra.text.iter().zip(by_shard) {
            shard.add_releases(releases);
        }
    }
}

async fn start_fakes(args: &Args, titles: usize) -> Fakes {
    let chillstreams = FakeChillstreams::start(INTERNAL_API_KEY).await;
    chillstreams.add_user(USER, POOL_KEY, POOL_KEY_ID);
    let (torbox, torbox_server) = FakeTorBox::start().await;
    torbox.add_key(POOL_KEY);
    let torznab: Vec<TorznabControl> =
        (0..titles.div_ceil(TITLES_PER_SHARD).max(1)).map(|_| TorznabControl::new(INDEXER_KEY)).collect();
    let torznab_server = serve(torznab_router(&torznab)).await;
    if args.chillstreams_ms > 0 {
        chillstreams.set_mode(ChillstreamsMode::Slow(Duration::from_millis(args.chillstreams_ms)));
    }
    torbox.set_fault(torbox_latency(args.torbox_ms));
    if args.torbox_limits {
        torbox.set_limits(Some(Limits::DOCUMENTED));
    }
    if args.torznab_ms > 0 {
        for shard in &torznab {
            shard.set_mode(TorznabMode::Slow(Duration::from_millis(args.torznab_ms)));
        }
    }
    let extra = if args.all_sources {
        let text: Vec<TorznabControl> = (0..titles.div_ceil(TITLES_PER_SHARD).max(1))
            .map(|_| {
                let shard = TorznabControl::new(INDEXER_KEY);
                shard.set_caps(CapsKind::QueryOnly);
                if args.torznab_ms > 0 {
                    shard.set_mode(TorznabMode::Slow(Duration::from_millis(args.torznab_ms)));
                }
                shard
            })
            .collect();
        let text_server = serve(text_router(&text)).await;
        Some(ExtraSources {
            text,
            text_server,
            cinemeta: FakeCinemeta::start().await,
            stremthru: FakeStremThru::start().await,
        })
    } else {
        None
    };
    Fakes { chillstreams, torbox, _torbox_server: torbox_server, torznab, torznab_server, extra }
}

/// Calls that reached the fakes so far.
#[derive(Debug, Clone, Default)]
struct Counts {
    get_key: usize,
    log_usage: usize,
    torbox: usize,
    torbox_by_path: BTreeMap<String, usize>,
    /// Calls the fake TorBox refused with 429 (its per-token limits).
    torbox_429: usize,
    torznab: usize,
    /// `--sources all`: calls to the text-only indexer, Cinemeta and StremThru.
    text: usize,
    cinemeta: usize,
    stremthru: usize,
}

impl Fakes {
    fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for call in self.chillstreams.calls() {
            if call.path.ends_with("/get-key") {
                counts.get_key += 1;
            } else if call.path.ends_with("/log-usage") {
                counts.log_usage += 1;
            }
        }
        let torbox = self.torbox.state();
        counts.torbox = torbox.calls.len();
        for call in &torbox.calls {
            let short = call.path.trim_start_matches("/v1/api/").to_string();
            *counts.torbox_by_path.entry(short).or_default() += 1;
        }
        counts.torbox_429 = torbox.rate_limited;
        drop(torbox);
        counts.torznab = self.torznab.iter().map(TorznabControl::call_count).sum();
        if let Some(extra) = &self.extra {
            counts.text = extra.text.iter().map(TorznabControl::call_count).sum();
            counts.cinemeta = extra.cinemeta.calls().len();
            counts.stremthru = extra.stremthru.received().len();
        }
        counts
    }
}

impl Counts {
    fn minus(&self, before: &Counts) -> Counts {
        let mut by_path = self.torbox_by_path.clone();
        for (path, n) in by_path.iter_mut() {
            *n -= before.torbox_by_path.get(path).copied().unwrap_or(0);
        }
        by_path.retain(|_, n| *n > 0);
        Counts {
            get_key: self.get_key - before.get_key,
            log_usage: self.log_usage - before.log_usage,
            torbox: self.torbox - before.torbox,
            torbox_by_path: by_path,
            torbox_429: self.torbox_429 - before.torbox_429,
            torznab: self.torznab - before.torznab,
            text: self.text - before.text,
            cinemeta: self.cinemeta - before.cinemeta,
            stremthru: self.stremthru - before.stremthru,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The host process.

fn plugins_toml(fakes: &Fakes, spool: &Path) -> String {
    let spool = toml::Value::String(spool.display().to_string());
    format!(
        r#"# Generated by loadbench. Chillstreams' URL and key come from the environment.
[server]
listen = "127.0.0.1:8080"
bench_endpoint = true

[auth]
chain = ["chillstreams", "token"]

[store]
enabled = ["torbox", "realdebrid", "alldebrid"]

[store.torbox]
api_url = "{torbox}"

{sources}
[usage]
spool_path = {spool}

# Every client is one IP and one user here: inbound limits would measure themselves.
[limits]
streams_per_minute = 0
playback_per_minute = 0
configure_checks_per_minute = 0
"#,
        torbox = fakes.torbox.state().base_url,
        sources = sources_toml(fakes),
    )
}

/// `[source]` and the sources' tables.
fn sources_toml(fakes: &Fakes) -> String {
    let torznab = fakes.torznab_server.url();
    let id = format!(
        r#"{{ name = "Prowlarr", url = "{torznab}/api/v2.0/indexers/all/results/torznab", api_key_env = "{INDEXER_KEY_ENV}" }}"#
    );
    match &fakes.extra {
        None => format!("[source]\nchain = [\"torznab\"]\n\n[source.torznab]\nindexers = [{id}]\n"),
        Some(extra) => format!(
            r#"[source]
chain = ["torznab", "stremthru"]

[source.torznab]
indexers = [{id}, {{ name = "1337x", url = "{text}/api/v2.0/indexers/1337x/results/torznab", api_key_env = "{INDEXER_KEY_ENV}" }}]
meta_url = "{meta}"

[source.stremthru]
url = "{stremthru}"
requests_per_minute = 6000
"#,
            text = extra.text_server.url(),
            meta = extra.cinemeta.url(),
            stremthru = extra.stremthru.url(),
        ),
    }
}

/// `text` with every `--set` applied.
fn with_overrides(text: String, overrides: &[(String, toml::Value)]) -> Result<String, String> {
    if overrides.is_empty() {
        return Ok(text);
    }
    let mut root: toml::Table = text.parse().map_err(|e| format!("generated plugins.toml: {e}"))?;
    for (key, value) in overrides {
        let parts: Vec<&str> = key.split('.').collect();
        let Some((last, parents)) = parts.split_last() else { continue };
        let mut table = &mut root;
        for part in parents {
            table = table
                .entry(part.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .ok_or_else(|| format!("--set {key}: {part} is not a table"))?;
        }
        table.insert(last.to_string(), value.clone());
    }
    toml::to_string(&root).map_err(|e| format!("plugins.toml with --set: {e}"))
}

/// A running `chillproxy`; killed when dropped.
struct HostProcess {
    child: Child,
    addr: SocketAddr,
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl HostProcess {
    fn host_header(&self) -> String {
        self.addr.to_string()
    }

    /// (VmHWM, VmRSS) in KiB.
    fn memory_kib(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
        };
        Some((field("VmHWM:")?, field("VmRSS:")?))
    }
}

/// The replicas of one run.
struct Cluster {
    hosts: Vec<HostProcess>,
}

impl Cluster {
    /// The first replica (warm-ups and preparation go there).
    fn addr(&self) -> SocketAddr {
        self.hosts[0].addr
    }

    /// Where clients go: client `i` talks to replica `i % n`.
    fn targets(&self) -> Vec<(SocketAddr, String)> {
        self.hosts.iter().map(|h| (h.addr, h.host_header())).collect()
    }

    /// (VmHWM, VmRSS) in KiB, summed over the replicas.
    fn memory_kib(&self) -> Option<(u64, u64)> {
        let each: Option<Vec<(u64, u64)>> = self.hosts.iter().map(HostProcess::memory_kib).collect();
        each.map(|all| all.iter().fold((0, 0), |(p, r), (hp, hr)| (p + hp, r + hr)))
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

struct Launcher {
    binary: PathBuf,
    temp: PathBuf,
    log: PathBuf,
    chillstreams_url: String,
    overrides: Vec<(String, toml::Value)>,
    runs: usize,
    replicas: usize,
    /// The Redis every replica shares, flushed before each run.
    redis: Option<chillproxy_tests::redis::RedisServer>,
    /// The hosts get sealing keys (also whenever they share a Redis).
    sealed: bool,
}

impl Launcher {
    /// Starts `--replicas` fresh hosts (on an empty Redis with `--redis`).
    fn start_cluster(&mut self, fakes: &Fakes, rt: &Runtime) -> Result<Cluster, String> {
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
    fn start(&mut self, fakes: &Fakes, rt: &Runtime) -> Result<HostProcess, String> {
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

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// One request on a fresh connection.
async fn fetch(addr: SocketAddr, path: &str) -> std::io::Result<http::Response> {
    let mut conn = Conn::connect(addr).await?;
    conn.get(&addr.to_string(), path, USER_AGENT).await
}

// ---------------------------------------------------------------------------------------------
// The load generator.

/// Which paths a run requests.
struct Target {
    paths: Arc<Vec<String>>,
    cursor: Arc<AtomicUsize>,
    /// Round-robin over `paths`; else each path once, then stop.
    wrap: bool,
}

impl Target {
    fn next(&self) -> Option<&str> {
        let i = self.cursor.fetch_add(1, Ordering::Relaxed);
        if self.wrap {
            Some(&self.paths[i % self.paths.len()])
        } else {
            self.paths.get(i).map(String::as_str)
        }
    }
}

struct RunSpec {
    /// (address, Host header) of each replica; client `i` uses entry `i % len`.
    targets: Vec<(SocketAddr, String)>,
    target: Target,
    expect: u16,
    /// A 200 stream list holding a ⚠️ stream is an error too.
    check_warnings: bool,
    started: Instant,
    deadline: Instant,
    max_requests: u64,
    issued: AtomicU64,
    timeout: Duration,
}

#[derive(Debug, Default)]
struct Tally {
    latencies_us: Vec<u64>,
    /// When each response in `latencies_us` completed, in ms since the run started.
    finished_ms: Vec<u32>,
    wrong_status: BTreeMap<u16, u64>,
    warnings: u64,
    transport: u64,
    timeouts: u64,
    /// A fresh-title run ran out of titles.
    exhausted: bool,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.finished_ms.extend(other.finished_ms);
        for (status, n) in other.wrong_status {
            *self.wrong_status.entry(status).or_default() += n;
        }
        self.warnings += other.warnings;
        self.transport += other.transport;
        self.timeouts += other.timeouts;
        self.exhausted |= other.exhausted;
    }

    fn errors(&self) -> u64 {
        self.wrong_status.values().sum::<u64>() + self.warnings + self.transport + self.timeouts
    }

    /// Completed responses plus failed attempts.
    fn requests(&self) -> u64 {
        self.latencies_us.len() as u64 + self.transport + self.timeouts
    }
}

/// The UTF-8 of ⚠ (U+26A0), which starts every warning stream's name.
const WARNING_SIGN: &[u8] = "\u{26a0}".as_bytes();

async fn client(spec: Arc<RunSpec>, index: usize) -> Tally {
    let (addr, host) = &spec.targets[index % spec.targets.len()];
    let mut tally = Tally::default();
    let mut conn: Option<Conn> = None;
    loop {
        if Instant::now() >= spec.deadline || spec.issued.fetch_add(1, Ordering::Relaxed) >= spec.max_requests {
            break;
        }
        let Some(path) = spec.target.next() else {
            tally.exhausted = true;
            break;
        };
        let started = Instant::now();
        let attempt = tokio::time::timeout(spec.timeout, async {
            if conn.is_none() {
                conn = Some(Conn::connect(*addr).await?);
            }
            match conn.as_mut() {
                Some(c) => c.get(host, path, USER_AGENT).await,
                None => Err(std::io::ErrorKind::NotConnected.into()),
            }
        })
        .await;
        let elapsed = started.elapsed();
        match attempt {
            Ok(Ok(response)) => {
                tally.latencies_us.push(elapsed.as_micros() as u64);
                tally.finished_ms.push(spec.started.elapsed().as_millis() as u32);
                if response.status != spec.expect {
                    *tally.wrong_status.entry(response.status).or_default() += 1;
                } else if spec.check_warnings && contains(&response.body, WARNING_SIGN) {
                    tally.warnings += 1;
                }
                if response.close {
                    conn = None;
                }
            }
            Ok(Err(_)) => {
                tally.transport += 1;
                conn = None;
            }
            Err(_) => {
                tally.timeouts += 1;
                conn = None;
            }
        }
    }
    tally
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs `clients` clients until the deadline; the merged tally and the wall time.
fn drive(rt: &Runtime, spec: RunSpec, clients: usize) -> (Tally, Duration) {
    let spec = Arc::new(spec);
    let started = Instant::now();
    let tally = rt.block_on(async {
        let handles: Vec<_> = (0..clients).map(|i| tokio::spawn(client(spec.clone(), i))).collect();
        let mut total = Tally::default();
        for handle in handles {
            if let Ok(tally) = handle.await {
                total.merge(tally);
            }
        }
        total
    });
    (tally, started.elapsed())
}

// ---------------------------------------------------------------------------------------------
// Preparation: the warm body size and the playback paths.

/// User `u`'s id: the stack's `USER` for 0, then made-up UUIDs.
fn user_id(u: usize) -> String {
    if u == 0 {
        USER.to_string()
    } else {
        format!("00000000-0000-4000-8000-{u:012x}")
    }
}

fn config_segment(u: usize) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::json!({"stores": [{"c": "tb", "auth": user_id(u)}]}).to_string())
}

fn stream_path(config: &str, n: usize) -> String {
    format!("/stremio/torz/{config}/stream/movie/{}.json", imdb(n))
}

/// Fetches a stream list and checks it is a real one (200, streams, no ⚠️).
async fn stream_list(addr: SocketAddr, path: &str) -> Result<(usize, Vec<Value>), String> {
    let response = fetch(addr, path).await.map_err(|e| format!("GET {path}: {e}"))?;
    if response.status != 200 {
        return Err(format!("GET {path}: HTTP {}", response.status));
    }
    if contains(&response.body, WARNING_SIGN) {
        return Err(format!("GET {path}: a warning stream: {}", String::from_utf8_lossy(&response.body)));
    }
    let json: Value = serde_json::from_slice(&response.body).map_err(|e| format!("GET {path}: {e}"))?;
    let streams = json.get("streams").and_then(Value::as_array).cloned().unwrap_or_default();
    if streams.is_empty() {
        return Err(format!("GET {path}: no streams"));
    }
    Ok((response.body.len(), streams))
}

/// The playback path (no scheme/host) of each play title's cached release 0.
fn play_paths(
    rt: &Runtime,
    addr: SocketAddr,
    config: &str,
    titles: std::ops::Range<usize>,
) -> Result<Vec<String>, String> {
    rt.block_on(async {
        let mut handles = Vec::new();
        for n in titles {
            let path = stream_path(config, n);
            handles.push(tokio::spawn(async move {
                let (_, streams) = stream_list(addr, &path).await?;
                let hash = info_hash(n, 0);
                let url = streams
                    .iter()
                    .filter_map(|s| s.get("url").and_then(Value::as_str))
                    .find(|u| u.contains(&hash))
                    .ok_or_else(|| format!("GET {path}: no stream for the cached release {hash}"))?;
                let start = url.find("/stremio/").ok_or_else(|| format!("unexpected playback URL {url}"))?;
                Ok::<_, String>(url[start..].to_string())
            }));
        }
        let mut paths = Vec::new();
        for handle in handles {
            paths.push(handle.await.map_err(|e| e.to_string())??);
        }
        Ok(paths)
    })
}

// ---------------------------------------------------------------------------------------------
// Reporting.

struct Row {
    scenario: Scenario,
    clients: usize,
    tally: Tally,
    elapsed: Duration,
    upstream: Counts,
    /// (peak, end) RSS in KiB.
    memory: Option<(u64, u64)>,
    /// What happened before the measured run (the hang-ups).
    note: Option<String>,
}

fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// req/s and p50/p99 of the first and the last quarter of a run (by completion time).
fn quarters(tally: &Tally, elapsed: Duration) -> String {
    let total_ms = elapsed.as_millis().max(4) as u32;
    let quarter = |from: u32, to: u32| {
        let mut sorted: Vec<u64> = tally
            .latencies_us
            .iter()
            .zip(&tally.finished_ms)
            .filter(|(_, at)| (from..to).contains(*at))
            .map(|(us, _)| *us)
            .collect();
        sorted.sort_unstable();
        let rate = sorted.len() as f64 / (f64::from(to - from) / 1000.0);
        format!("{rate:.0} req/s, p50 {} ms, p99 {} ms", ms(percentile(&sorted, 50.0)), ms(percentile(&sorted, 99.0)))
    };
    let q = total_ms / 4;
    format!("first quarter: {}; last quarter: {}", quarter(0, q), quarter(total_ms - q, total_ms + 1))
}

/// The hang-up phase of the `hangup` scenario: TorBox turns slow, `clients` clients ask for new
/// titles and close their connections after `--hangup-after`, for `--duration`; then TorBox gets
/// its normal latency back. What happened, for the report.
fn hang_up(
    args: &Args,
    fakes: &Fakes,
    rt: &Runtime,
    host: &Cluster,
    cold: &Arc<Vec<String>>,
    cursor: &Arc<AtomicUsize>,
    clients: usize,
) -> String {
    let after = args.hangup_after.unwrap_or(Duration::from_millis(args.torznab_ms + 150));
    fakes.torbox.set_fault(Fault::Hang(Duration::from_millis(args.hangup_torbox_ms)));
    let spec = RunSpec {
        targets: host.targets(),
        target: Target { paths: cold.clone(), cursor: cursor.clone(), wrap: false },
        expect: 200,
        check_warnings: true,
        started: Instant::now(),
        deadline: Instant::now() + args.duration,
        max_requests: args.max_requests,
        issued: AtomicU64::new(0),
        timeout: after,
    };
    let (tally, elapsed) = drive(rt, spec, clients);
    fakes.torbox.set_fault(torbox_latency(args.torbox_ms));
    format!(
        "before it, {} clients hung up {} times in {:.1} s (after {} ms each, TorBox answering in {} ms; {} requests completed before their client left)",
        clients,
        tally.timeouts,
        elapsed.as_secs_f64(),
        after.as_millis(),
        args.hangup_torbox_ms,
        tally.latencies_us.len()
    )
}

fn torbox_latency(ms: u64) -> Fault {
    if ms > 0 {
        Fault::Hang(Duration::from_millis(ms))
    } else {
        Fault::None
    }
}

fn ms(us: Option<u64>) -> String {
    match us {
        None => "–".into(),
        Some(us) if us < 10_000 => format!("{:.2}", us as f64 / 1000.0),
        Some(us) => format!("{:.0}", us as f64 / 1000.0),
    }
}

fn per_request(calls: usize, requests: u64) -> String {
    if requests == 0 {
        return "–".into();
    }
    match calls as f64 / requests as f64 {
        0.0 => "0".into(),
        // Two significant digits for small ratios (0.0018, 0.000020).
        r if r < 0.01 => format!("{r:.*}", (1 - r.log10().floor() as i64).clamp(3, 9) as usize),
        r => format!("{r:.2}"),
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).current_dir(workspace_root()).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB RAM", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown RAM".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|k| k.trim().to_string()).ok();
    let kernel = kernel.map(|k| format!(", Linux {k}")).unwrap_or_default();
    format!("{} CPUs ({model}), {memory}{kernel}", cpu_count())
}

fn commit() -> String {
    match command_output("git", &["rev-parse", "--short", "HEAD"]) {
        Some(hash) => {
            let dirty = command_output("git", &["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("`{hash}` + uncommitted changes")
            } else {
                format!("`{hash}`")
            }
        }
        None => "unknown (no git)".into(),
    }
}

/// `line` without terminal colour codes (`ESC [ … m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

struct Context<'a> {
    body_bytes: usize,
    shards: usize,
    log: &'a Path,
    started: Instant,
    /// `/proc/loadavg`'s first three fields when the benchmark started.
    load_before: Option<String>,
}

fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(text.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
}

fn report(args: &Args, rows: &[Row], context: &Context<'_>) -> String {
    let Context { body_bytes, shards, log, started, ref load_before } = *context;
    let mut out = String::new();
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
    let _ = writeln!(out, "### loadbench run {date}\n");
    let _ = writeln!(out, "- Machine: {}", machine());
    if let Some(load) = load_before {
        let _ = writeln!(out, "- Load average before the benchmark (1, 5, 15 min): {load}");
    }
    let _ = writeln!(out, "- Commit: {}", commit());
    let _ = writeln!(
        out,
        "- Fake upstream latency: Chillstreams get-key {} ms, TorBox {} ms per API call, Torznab {} ms",
        args.chillstreams_ms, args.torbox_ms, args.torznab_ms
    );
    let _ = writeln!(
        out,
        "- {:.0} s per run, a fresh release `chillproxy` process per run (RUST_LOG=warn), {} Chillstreams user(s), one \
         device each, {} releases per movie (even ones cached at TorBox), warm stream-list body {body_bytes} bytes",
        args.duration.as_secs_f64(),
        args.users,
        args.releases
    );
    let _ = writeln!(
        out,
        "- TorBox per-token limits at the fake: {}; the play scenario's files are in the pool key's account already",
        if args.torbox_limits {
            "on (300 requests a minute, 60 createtorrent an hour, 10 a minute), chillproxy's budgets at their defaults"
        } else {
            "off, and chillproxy's budgets off"
        }
    );
    if args.all_sources {
        let _ = writeln!(
            out,
            "- Sources (`--sources all`): the id-searching Torznab indexer, a text-only (`q`) Torznab indexer whose \
             titles come from a fake Cinemeta (same latency as the other indexer), and StremThru's torrent database \
             (no latency); each title has one release only the text indexer lists and one only StremThru lists"
        );
    }
    let _ = writeln!(
        out,
        "- Replicas: {} per run, clients spread round-robin over them; shared state: {}",
        args.replicas,
        if args.redis {
            "one redis-server on loopback (flushed before each run)"
        } else {
            "none (each replica its own memory)"
        }
    );
    let _ = writeln!(
        out,
        "- Stream URLs: {}",
        if args.sealed || args.redis {
            "sealed playback handles (`CHILLPROXY_KEYS` set: one seal per stream)"
        } else {
            "plain (the config segment and a `?b=` device binding)"
        }
    );
    if !args.overrides.is_empty() {
        let sets: Vec<String> = args.overrides.iter().map(|(k, v)| format!("`{k} = {v}`")).collect();
        let _ = writeln!(out, "- plugins.toml overrides (`--set`): {}", sets.join(", "));
    }
    let _ = writeln!(
        out,
        "- Cold scenario: {} distinct movies available; the Torznab fake is split into {} shards by IMDb id behind one \
         URL, so its linear scan of releases is not the bottleneck",
        args.cold_titles(),
        shards
    );
    let _ = writeln!(
        out,
        "- The load generator ({} threads, keep-alive HTTP/1.1 on 127.0.0.1) and the fakes run in the loadbench process \
         on the same {} cores as the host: the numbers are lower than a dedicated host would reach",
        args.threads,
        cpu_count()
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| scenario | clients | requests | req/s | p50 ms | p90 ms | p99 ms | errors | get-key/req | TorBox/req | Torznab/req | peak RSS MiB | end RSS MiB |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for row in rows {
        let mut sorted = row.tally.latencies_us.clone();
        sorted.sort_unstable();
        let requests = row.tally.requests();
        let rate = requests as f64 / row.elapsed.as_secs_f64().max(1e-9);
        let (peak, end) = match row.memory {
            Some((peak, end)) => (mib(peak), mib(end)),
            None => ("–".into(), "–".into()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.scenario.label(),
            row.clients,
            requests,
            rate,
            ms(percentile(&sorted, 50.0)),
            ms(percentile(&sorted, 90.0)),
            ms(percentile(&sorted, 99.0)),
            row.tally.errors(),
            per_request(row.upstream.get_key, requests),
            per_request(row.upstream.torbox, requests),
            per_request(row.upstream.torznab, requests),
            peak,
            end,
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Details:\n");
    for row in rows {
        let requests = row.tally.requests();
        let by_path: Vec<String> = row
            .upstream
            .torbox_by_path
            .iter()
            .map(|(path, n)| format!("{path} {}", per_request(*n, requests)))
            .collect();
        let mut line = format!(
            "- {} × {}: {:.1} s; calls: get-key {}, TorBox {}, Torznab {}; TorBox per request: {}; TorBox 429s: {}; \
             Chillstreams log-usage per request: {}",
            row.scenario.label(),
            row.clients,
            row.elapsed.as_secs_f64(),
            row.upstream.get_key,
            row.upstream.torbox,
            row.upstream.torznab,
            if by_path.is_empty() { "none".to_string() } else { by_path.join(", ") },
            row.upstream.torbox_429,
            per_request(row.upstream.log_usage, requests),
        );
        if row.tally.errors() > 0 {
            let statuses: Vec<String> = row.tally.wrong_status.iter().map(|(s, n)| format!("{n}× HTTP {s}")).collect();
            let _ = write!(
                line,
                "; errors: {} unexpected status [{}], {} ⚠️ warning stream lists, {} transport, {} timeouts",
                row.tally.wrong_status.values().sum::<u64>(),
                statuses.join(", "),
                row.tally.warnings,
                row.tally.transport,
                row.tally.timeouts
            );
        }
        if args.all_sources {
            let _ = write!(
                line,
                "; text-only indexer per request: {}, Cinemeta: {}, StremThru: {}",
                per_request(row.upstream.text, requests),
                per_request(row.upstream.cinemeta, requests),
                per_request(row.upstream.stremthru, requests)
            );
        }
        if let Some(note) = &row.note {
            let _ = write!(line, "; {note}");
        }
        if row.scenario == Scenario::Soak {
            let _ = write!(line, "; {}", quarters(&row.tally, row.elapsed));
        }
        if row.tally.exhausted {
            let _ = write!(line, "; **ran out of fresh titles** (raise --titles)");
        }
        let _ = writeln!(out, "{line}");
    }
    let log_lines: Vec<String> = File::open(log)
        .map(|f| BufReader::new(f).lines().map_while(Result::ok).map(|l| strip_ansi(&l)).collect())
        .unwrap_or_default();
    let _ = writeln!(out, "\nHost log (warn and above): {} lines.", log_lines.len());
    let mut shown = Vec::new();
    for line in &log_lines {
        // Skip the timestamp when deduplicating.
        let key = line.split_once(' ').map(|(_, rest)| rest).unwrap_or(line).to_string();
        if !shown.iter().any(|(k, _): &(String, &String)| *k == key) {
            shown.push((key, line));
        }
        if shown.len() == 5 {
            break;
        }
    }
    for (_, line) in shown {
        let _ = writeln!(out, "    {line}");
    }
    let _ = writeln!(out, "\nBenchmark wall time (after the build): {:.0} s.", started.elapsed().as_secs_f64());
    out
}

// ---------------------------------------------------------------------------------------------

fn run(args: &Args) -> Result<(), String> {
    let binary = host_binary(args)?;
    let started = Instant::now();
    let temp = TempDir::create()?;
    let report = bench(args, binary, &temp.0, started)?;
    println!("{report}");
    Ok(())
}

/// The run's scratch folder (configs, usage spools, the host log), removed on drop, panics
/// included.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> Result<Self, String> {
        let path = std::env::temp_dir().join(format!("chillproxy-loadbench-{}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn build_runtime(threads: usize, name: &str) -> Result<Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))
}

fn bench(args: &Args, binary: PathBuf, temp: &Path, started: Instant) -> Result<String, String> {
    // The fakes get their own runtime so their latency timers do not queue behind the clients.
    let load_before = load_average();
    let fakes_rt = build_runtime(cpu_count(), "fakes")?;
    let rt = build_runtime(args.threads, "loadgen")?;

    let warm_title = 0;
    let play_titles = 1..1 + args.play_files;
    let cold_titles = play_titles.end..play_titles.end + args.cold_titles();
    let seeding = Instant::now();
    let fakes = fakes_rt.block_on(start_fakes(args, cold_titles.end));
    seed(&fakes, cold_titles.end, args.releases);
    // The play files are in the pool key's account already, as a popular title is: playing them
    // needs no createtorrent.
    for n in play_titles.clone() {
        fakes.torbox.add_to_account(POOL_KEY, &info_hash(n, 0));
    }
    eprintln!(
        "loadbench: fakes up with {} movies × {} releases, Torznab in {} shards ({:.1} s); host {}",
        cold_titles.end,
        args.releases,
        fakes.torznab.len(),
        seeding.elapsed().as_secs_f64(),
        binary.display()
    );

    let log = temp.join("host.log");
    let mut launcher = Launcher {
        binary,
        temp: temp.to_path_buf(),
        log: log.clone(),
        chillstreams_url: fakes.chillstreams.url(),
        overrides: args.overrides.clone(),
        runs: 0,
        replicas: args.replicas,
        sealed: args.sealed,
        redis: if args.redis {
            Some(
                chillproxy_tests::redis::RedisServer::start()
                    .ok_or("--redis needs redis-server (CHILLPROXY_SKIP_REDIS is set)")?,
            )
        } else {
            None
        },
    };
    let configs: Vec<String> = (0..args.users).map(config_segment).collect();
    for u in 1..args.users {
        fakes.chillstreams.add_user(&user_id(u), POOL_KEY, POOL_KEY_ID);
    }
    let config = configs[0].clone();
    let warm_path = stream_path(&config, warm_title);

    // Preparation on a host of its own: the warm body size and the playback paths.
    let (body_bytes, play) = {
        let host = launcher.start_cluster(&fakes, &rt)?;
        let (body_bytes, _) = rt.block_on(stream_list(host.addr(), &warm_path))?;
        let play = if args.scenarios.contains(&Scenario::Play) {
            play_paths(&rt, host.addr(), &config, play_titles)?
        } else {
            Vec::new()
        };
        (body_bytes, play)
    };
    eprintln!("loadbench: warm stream list is {body_bytes} bytes; {} playback paths", play.len());

    let warm = Arc::new(configs.iter().map(|c| stream_path(c, warm_title)).collect::<Vec<_>>());
    let fixed = Arc::new(vec![format!("/_bench/fixed/{body_bytes}")]);
    let play = Arc::new(play);
    let cold = Arc::new(cold_titles.map(|n| stream_path(&configs[n % configs.len()], n)).collect::<Vec<_>>());
    let cold_cursor = Arc::new(AtomicUsize::new(0));

    let mut rows = Vec::new();
    for &scenario in &args.scenarios {
        for &clients in &args.concurrency {
            eprintln!("loadbench: {} × {clients} clients, {:.0} s", scenario.label(), args.duration.as_secs_f64());
            let host = launcher.start_cluster(&fakes, &rt)?;
            let (paths, cursor, wrap) = match scenario {
                Scenario::Warm => (warm.clone(), Arc::new(AtomicUsize::new(0)), true),
                Scenario::Cold | Scenario::Hangup | Scenario::Soak => (cold.clone(), cold_cursor.clone(), false),
                Scenario::Play => (play.clone(), Arc::new(AtomicUsize::new(0)), true),
                Scenario::Fixed => (fixed.clone(), Arc::new(AtomicUsize::new(0)), true),
            };
            // Warm-up: one request, so the run measures steady state (and a broken setup shows).
            match scenario {
                Scenario::Warm => {
                    // Every user once (64 at a time): their pool keys are granted before the run.
                    let addr = host.addr();
                    for chunk in warm.chunks(64) {
                        rt.block_on(async {
                            let mut set = tokio::task::JoinSet::new();
                            for path in chunk {
                                let path = path.clone();
                                set.spawn(async move { stream_list(addr, &path).await });
                            }
                            while let Some(done) = set.join_next().await {
                                done.map_err(|e| e.to_string())??;
                            }
                            Ok::<(), String>(())
                        })?;
                    }
                }
                Scenario::Fixed => {
                    let response = rt.block_on(fetch(host.addr(), &fixed[0])).map_err(|e| e.to_string())?;
                    if response.status != 200 {
                        return Err(format!(
                            "GET {}: HTTP {} (is bench_endpoint supported?)",
                            fixed[0], response.status
                        ));
                    }
                }
                Scenario::Cold | Scenario::Play | Scenario::Soak | Scenario::Hangup => {}
            }
            let note = match scenario {
                Scenario::Hangup => Some(hang_up(args, &fakes, &rt, &host, &cold, &cold_cursor, clients)),
                _ => None,
            };
            let before = fakes.counts();
            let spec = RunSpec {
                targets: host.targets(),
                target: Target { paths, cursor, wrap },
                expect: scenario.expected_status(),
                check_warnings: !matches!(scenario, Scenario::Play | Scenario::Fixed),
                started: Instant::now(),
                deadline: Instant::now() + args.duration,
                max_requests: args.max_requests,
                issued: AtomicU64::new(0),
                timeout: args.timeout,
            };
            let (tally, elapsed) = drive(&rt, spec, clients);
            let upstream = fakes.counts().minus(&before);
            let memory = host.memory_kib();
            drop(host);
            eprintln!(
                "loadbench:   {} requests in {:.1} s, {} errors",
                tally.requests(),
                elapsed.as_secs_f64(),
                tally.errors()
            );
            rows.push(Row { scenario, clients, tally, elapsed, upstream, memory, note });
        }
    }
    let context = Context { body_bytes, shards: fakes.torznab.len(), log: &log, started, load_before };
    Ok(report(args, &rows, &context))
}
