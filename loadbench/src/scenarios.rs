//! The scenarios and the benchmark itself: the fakes are started and seeded once, then every
//! scenario × client count gets a fresh cluster of hosts, a warm-up, the measured run and the
//! calls that reached the fakes. Also the preparation (users' configs, the warm stream list's
//! size, the playback paths) and the hang-up phase of `hangup`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chillproxy_tests::fakes::torbox::Fault;
use chillproxy_tests::stack::{POOL_KEY, POOL_KEY_ID, USER};
use serde_json::Value;
use tokio::runtime::Runtime;

use crate::args::{cpu_count, Args};
use crate::drive::{contains, drive, fetch, RunSpec, Tally, Target, WARNING_SIGN};
use crate::fakes::{imdb, info_hash, seed, start_fakes, torbox_latency, Fakes};
use crate::replicas::{Cluster, Launcher};
use crate::report::{load_average, report, Context, Row};

/// One kind of run (`--scenarios`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Warm,
    Cold,
    Play,
    Fixed,
    Hangup,
    Soak,
}

impl Scenario {
    /// `warm`, `cold`, `play`, `fixed`, `hangup` or `soak` (spaces around it ignored).
    pub fn parse(name: &str) -> Option<Self> {
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

    /// The report's name of the scenario.
    pub fn label(self) -> &'static str {
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
    pub fn uses_fresh_titles(self) -> bool {
        matches!(self, Self::Cold | Self::Hangup | Self::Soak)
    }

    fn expected_status(self) -> u16 {
        match self {
            Self::Play => 302,
            _ => 200,
        }
    }
}

/// The whole benchmark: the fakes, a preparation host, then every scenario × client count on
/// fresh hosts; the report.
pub fn bench(args: &Args, binary: PathBuf, temp: &Path, started: Instant) -> Result<String, String> {
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
    // Round `r` runs every (scenario, clients) pair, reversed in odd rounds, so what comes
    // first in one round comes last in the next (slow drift of the machine cancels out).
    let mut order: Vec<(Scenario, usize)> = Vec::new();
    for &scenario in &args.scenarios {
        for &clients in &args.concurrency {
            order.push((scenario, clients));
        }
    }
    for round in 0..args.rounds {
        let pairs: Vec<(Scenario, usize)> =
            if round % 2 == 1 { order.iter().rev().copied().collect() } else { order.clone() };
        for (scenario, clients) in pairs {
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
                    if args.junk_before > 0 {
                        junk_flood(&rt, addr, args.junk_before, warm_title)?;
                        let (peak, now) = host.memory_kib().unwrap_or_default();
                        eprintln!(
                            "loadbench:   {} junk segments sent; host RSS {:.1} MiB (peak {:.1} MiB)",
                            args.junk_before,
                            now as f64 / 1024.0,
                            peak as f64 / 1024.0
                        );
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
            let spec = |scenario: Scenario, target: Target, length: Duration| RunSpec {
                targets: host.targets(),
                target,
                expect: scenario.expected_status(),
                // The bare endpoint's body gets the same check as a list's: the client does the
                // same work per response in both, so their ratio is the server's.
                check_warnings: !matches!(scenario, Scenario::Play),
                started: Instant::now(),
                deadline: Instant::now() + length,
                max_requests: args.max_requests,
                issued: AtomicU64::new(0),
                timeout: args.timeout,
            };
            let interleave = args
                .interleave
                .filter(|_| matches!(scenario, Scenario::Warm | Scenario::Play))
                .filter(|_| args.scenarios.contains(&Scenario::Fixed));
            let (tally, elapsed, paired) = match interleave {
                None => {
                    let (tally, elapsed) =
                        drive(&rt, spec(scenario, Target { paths, cursor, wrap }, args.duration), clients);
                    (tally, elapsed, None)
                }
                Some(slice) => {
                    // Slices of this scenario and of the bare endpoint, alternating on this host.
                    let (mut tally, mut elapsed) = (Tally::default(), Duration::ZERO);
                    let (mut bare, mut bare_elapsed) = (Tally::default(), Duration::ZERO);
                    while elapsed < args.duration {
                        let length = slice.min(args.duration - elapsed);
                        let target = Target { paths: paths.clone(), cursor: cursor.clone(), wrap };
                        let (t, e) = drive(&rt, spec(scenario, target, length), clients);
                        tally.merge(t);
                        elapsed += e;
                        let target = Target { paths: fixed.clone(), cursor: Arc::new(AtomicUsize::new(0)), wrap: true };
                        let (t, e) = drive(&rt, spec(Scenario::Fixed, target, length), clients);
                        bare.merge(t);
                        bare_elapsed += e;
                    }
                    (tally, elapsed, Some((bare, bare_elapsed)))
                }
            };
            let upstream = fakes.counts().minus(&before);
            let memory = host.memory_kib();
            drop(host);
            eprintln!(
                "loadbench:   {} requests in {:.1} s, {} errors",
                tally.requests(),
                elapsed.as_secs_f64(),
                tally.errors()
            );
            rows.push(Row { scenario, clients, round, tally, elapsed, upstream, memory, note, paired_with: None });
            if let Some((tally, elapsed)) = paired {
                let upstream = Default::default();
                let paired_with = Some(scenario);
                let row = Row {
                    scenario: Scenario::Fixed,
                    clients,
                    round,
                    tally,
                    elapsed,
                    upstream,
                    memory: None,
                    note: None,
                    paired_with,
                };
                rows.push(row);
            }
        }
    }
    let context = Context { body_bytes, shards: fakes.torznab.len(), log: &log, started, load_before };
    Ok(report(args, &rows, &context))
}

fn build_runtime(threads: usize, name: &str) -> Result<Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))
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

/// `count` stream-list requests, 64 at a time, each with its own junk config segment (about the
/// length of a real one): every one is a ⚠️ list, and every one is a distinct cache key.
fn junk_flood(rt: &tokio::runtime::Runtime, addr: SocketAddr, count: usize, title: usize) -> Result<(), String> {
    let pad = "x".repeat(160);
    for start in (0..count).step_by(64) {
        rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for n in start..(start + 64).min(count) {
                let path = stream_path(&format!("junk{n}{pad}"), title);
                set.spawn(async move { fetch(addr, &path).await.map(|r| r.status) });
            }
            while let Some(done) = set.join_next().await {
                let status = done.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
                if status >= 500 {
                    return Err(format!("a junk segment got HTTP {status}"));
                }
            }
            Ok::<(), String>(())
        })?;
    }
    Ok(())
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
