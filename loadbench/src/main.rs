//! `cargo run --release -p chillproxy-loadbench [-- FLAGS]`: a load benchmark of the release
//! `chillproxy` binary against the fakes with realistic upstream latency.
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
//!
//! Modules: [`args`] (the flags), [`scenarios`] (the benchmark loop), [`fakes`], [`host`] and
//! [`replicas`] (the processes under test), [`drive`] and [`http`] (the load generator),
//! [`report`].

mod args;
mod drive;
mod fakes;
mod host;
mod http;
mod replicas;
mod report;
mod scenarios;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crate::args::Args;
use crate::host::host_binary;
use crate::scenarios::bench;

fn main() -> ExitCode {
    let args = Args::from_env();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("loadbench: {message}");
            ExitCode::FAILURE
        }
    }
}

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
