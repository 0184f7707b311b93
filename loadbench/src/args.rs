//! The command line (clap derive): every flag with its meaning and default, as `--help` prints
//! them, and what a run derives from them (how many cold titles, the `--torbox-limits off`
//! overrides).

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser};

use crate::scenarios::Scenario;

/// loadbench: load benchmark of the release chillproxy binary against latency-injecting fakes.
//
// A flag given twice keeps its last value (`args_override_self`), except `--set`, which adds up.
// `std::vec::Vec` (not `Vec`) makes clap take a comma list as one value instead of repeating the
// flag (clap's derive documents this).
#[derive(Debug, Clone, PartialEq, Parser)]
#[command(
    name = "loadbench",
    override_usage = "cargo run --release -p chillproxy-loadbench -- [FLAGS]\n       loadbench [FLAGS]",
    after_help = AFTER_HELP,
    args_override_self = true
)]
pub struct Args {
    /// Client counts, comma-separated; each scenario runs once per count
    #[arg(long, value_name = "LIST", default_value = "64,256", value_parser = client_counts)]
    pub concurrency: std::vec::Vec<usize>,
    /// Length of each run, in seconds
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    pub duration: Duration,
    /// Scenarios, comma-separated, run in this order: any of warm,cold,play,fixed,hangup,soak
    #[arg(long, value_name = "LIST", default_value = "warm,cold,play,fixed", value_parser = scenarios)]
    pub scenarios: std::vec::Vec<Scenario>,
    /// Stop a run after this many requests
    #[arg(long, value_name = "N", default_value = "1000000", value_parser = at_least_one_u64)]
    pub max_requests: u64,
    /// Per-request timeout in seconds (a timeout is counted as an error)
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    pub timeout: Duration,
    /// Chillstreams get-key latency, in ms
    #[arg(long, value_name = "MS", default_value = "100", value_parser = whole)]
    pub chillstreams_ms: u64,
    /// Latency of every TorBox API call, in ms
    #[arg(long, value_name = "MS", default_value = "50", value_parser = whole)]
    pub torbox_ms: u64,
    /// Torznab indexer latency, in ms
    #[arg(long, value_name = "MS", default_value = "300", value_parser = whole)]
    pub torznab_ms: u64,
    /// Distinct movies for the cold scenario [default: enough for the client counts and duration at the fakes'
    /// latency, at least 2000]
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub titles: Option<usize>,
    /// Releases per movie, 1 to 50 (even ones cached at TorBox)
    #[arg(long, value_name = "N", default_value = "2", value_parser = releases)]
    pub releases: usize,
    /// Distinct Chillstreams users (configs), one device each, 1 to 100000; requests cycle through them
    #[arg(long, value_name = "N", default_value = "1", value_parser = users)]
    pub users: usize,
    /// The host has sealing keys (CHILLPROXY_KEYS): stream URLs carry sealed playback handles, one seal per
    /// list and store entry and an HMAC tag per stream (implied by --redis) [default: off]
    #[arg(long)]
    pub sealed: bool,
    /// Before the warm scenario's measured run (after every real user's list was fetched once), send
    /// this many stream-list requests with distinct junk config segments (each answered with a ⚠️),
    /// to show the decoded-segment cache stays bounded and real viewers keep their speed [default: 0]
    #[arg(long, value_name = "N", default_value = "0")]
    pub junk_before: usize,
    /// Runs the scenarios this many times, in the given order then reversed, alternating: a
    /// ratio to the bare endpoint is then taken within each round (runs minutes apart no longer
    /// compare) and reported per round with the median [default: 1]
    #[arg(long, value_name = "N", default_value = "1", value_parser = at_least_one)]
    pub rounds: usize,
    /// With `fixed` among the scenarios: each warm and play run alternates slices of this many
    /// seconds with the bare endpoint on the same host process (each gets `--duration` in all),
    /// and its ratio is taken against those slices: the machine's drift falls on both alike
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub interleave: Option<Duration>,
    /// Distinct cached files the play scenario cycles through; they are in the pool key's TorBox account already
    #[arg(long, value_name = "N", default_value = "100", value_parser = at_least_one)]
    pub play_files: usize,
    /// The fake TorBox enforces TorBox's per-token limits (300 requests a minute, 60 createtorrent an hour, 10 a
    /// minute); off also sets chillproxy's [store.torbox] budgets to 0
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = on_off, action = ArgAction::Set)]
    pub torbox_limits: bool,
    /// The hangup scenario's clients hang up after this many ms [default: Torznab latency + 150, so they leave
    /// while TorBox's cache check is in flight]
    #[arg(long, value_name = "MS", value_parser = millis)]
    pub hangup_after: Option<Duration>,
    /// TorBox latency while the hangup scenario's clients hang up, in ms
    #[arg(long, value_name = "MS", default_value = "500", value_parser = whole)]
    pub hangup_torbox_ms: u64,
    /// Load generator worker threads [default: CPU count]
    #[arg(long, value_name = "N", default_value_t = cpu_count(), hide_default_value = true, value_parser = at_least_one)]
    pub threads: usize,
    /// The sources: torznab (one indexer searched by IMDb id) or all (plus a text-only (q) indexer fed by a fake
    /// Cinemeta, and StremThru's database)
    #[arg(
        long = "sources",
        value_name = "torznab|all",
        default_value = "torznab",
        value_parser = sources,
        action = ArgAction::Set
    )]
    pub all_sources: bool,
    /// Override the generated plugins.toml, e.g. --set source.torznab.max_in_flight=128 (repeatable; VALUE is
    /// TOML, else taken as a string). `--torbox-limits off` adds the [store.torbox] budgets here
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = plugins_override)]
    pub overrides: Vec<(String, toml::Value)>,
    /// Host processes per run, 1 to 64; clients are spread round-robin over them
    #[arg(long, value_name = "N", default_value = "1", value_parser = replicas)]
    pub replicas: usize,
    /// The replicas share state through a redis-server loadbench starts on loopback (Debian's redis-server;
    /// flushed before each run) [default: off]
    #[arg(long)]
    pub redis: bool,
    /// Benchmark this binary instead of building target/release/chillproxy
    #[arg(long, value_name = "PATH")]
    pub host_bin: Option<PathBuf>,
    /// Skip `cargo build --release -p chillproxy-host` (still run when the binary is missing); by default it runs
    /// first, a no-op when up to date [default: off]
    #[arg(long)]
    pub no_build: bool,
}

const AFTER_HELP: &str = "\
Scenarios: warm (the same title again and again), cold (a new title on every request), play (playback of
cached files: 302s, not followed), fixed (GET /_bench/fixed/{bytes}, as large as the warm stream list: the
machine's ceiling), hangup (clients hang up on new titles while TorBox is slow, then normal clients measure),
soak (a long cold run over more titles than the caches hold, reported per quarter).

The report (Markdown) goes to stdout, progress to stderr. BENCHMARKS.md explains the scenarios and the
report, and holds the results.";

impl Args {
    /// The command line of this process; clap prints `--help` or the error and exits (status 2
    /// on an error).
    pub fn from_env() -> Self {
        Self::parse().resolved()
    }

    /// What the flags imply beyond themselves: `--torbox-limits off` turns chillproxy's TorBox
    /// budgets off too, as `--set` overrides (so the report lists them).
    fn resolved(mut self) -> Self {
        if !self.torbox_limits {
            for key in ["requests_per_minute", "creates_per_hour", "creates_per_minute"] {
                self.overrides.push((format!("store.torbox.{key}"), toml::Value::Integer(0)));
            }
        }
        self
    }

    /// Distinct movies for the cold scenario: `--titles`, else what every cold run could use if
    /// each request took only the Torznab and one TorBox latency (get-key cached), plus 20%.
    pub fn cold_titles(&self) -> usize {
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

pub fn cpu_count() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

// Value parsers. Numbers and words may carry spaces around them (`--concurrency "64, 256"`).

fn whole(v: &str) -> Result<u64, String> {
    v.trim().parse::<u64>().map_err(|_| format!("{v:?} is not a whole number"))
}

fn at_least_one_u64(v: &str) -> Result<u64, String> {
    Ok(whole(v)?.max(1))
}

fn at_least_one(v: &str) -> Result<usize, String> {
    Ok(whole(v)?.max(1) as usize)
}

fn releases(v: &str) -> Result<usize, String> {
    Ok(whole(v)?.clamp(1, 50) as usize)
}

fn users(v: &str) -> Result<usize, String> {
    Ok(whole(v)?.clamp(1, 100_000) as usize)
}

fn replicas(v: &str) -> Result<usize, String> {
    Ok((whole(v)? as usize).clamp(1, 64))
}

fn millis(v: &str) -> Result<Duration, String> {
    Ok(Duration::from_millis(whole(v)?.max(1)))
}

fn seconds(v: &str) -> Result<Duration, String> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{v:?} is not a positive number of seconds"))
}

/// A comma list of client counts; zeros are dropped, but one count must remain.
fn client_counts(v: &str) -> Result<Vec<usize>, String> {
    let counts: Vec<usize> = v
        .split(',')
        .map(|c| whole(c).map(|n| n as usize))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|c| *c > 0)
        .collect();
    if counts.is_empty() {
        return Err("give at least one client count above 0".into());
    }
    Ok(counts)
}

fn scenarios(v: &str) -> Result<Vec<Scenario>, String> {
    v.split(',')
        .map(|s| {
            Scenario::parse(s).ok_or_else(|| {
                format!("unknown scenario {s:?} (the scenarios are warm, cold, play, fixed, hangup, soak)")
            })
        })
        .collect()
}

fn on_off(v: &str) -> Result<bool, String> {
    match v.trim() {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("{other:?} is neither on nor off")),
    }
}

/// `--sources`: whether it is `all`.
fn sources(v: &str) -> Result<bool, String> {
    match v.trim() {
        "torznab" => Ok(false),
        "all" => Ok(true),
        other => Err(format!("{other:?} is neither torznab nor all")),
    }
}

/// `KEY=VALUE`: a dotted key and a TOML value (a string when it is not valid TOML).
fn plugins_override(v: &str) -> Result<(String, toml::Value), String> {
    let (key, raw) = v.split_once('=').ok_or_else(|| format!("{v:?}: expected KEY=VALUE"))?;
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    Ok((key.trim().to_string(), value))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(flags: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("loadbench").chain(flags.iter().copied())).map(Args::resolved)
    }

    #[test]
    fn defaults_are_the_old_parsers() {
        let expected = Args {
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
            users: 1,
            sealed: false,
            play_files: 100,
            junk_before: 0,
            rounds: 1,
            interleave: None,
            torbox_limits: true,
            hangup_after: None,
            hangup_torbox_ms: 500,
            threads: cpu_count(),
            all_sources: false,
            overrides: Vec::new(),
            replicas: 1,
            redis: false,
            host_bin: None,
            no_build: false,
        };
        assert_eq!(parse(&[]).unwrap(), expected);
    }

    #[test]
    fn comma_lists_and_values_parse() {
        let args = parse(&[
            "--scenarios",
            "warm,fixed,play",
            "--concurrency=64, 0,256",
            "--duration",
            "2.5",
            "--host-bin",
            "/tmp/chillproxy",
            "--sources",
            "all",
            "--replicas",
            "3",
            "--redis",
            "--sealed",
            "--users",
            "1000",
            "--releases",
            "99",
            "--torbox-limits",
            "off",
            "--set",
            "source.torznab.max_in_flight=128",
            "--set",
            "server.name=bench",
            "--hangup-after",
            "0",
        ])
        .unwrap();
        assert_eq!(args.scenarios, [Scenario::Warm, Scenario::Fixed, Scenario::Play]);
        assert_eq!(args.concurrency, [64, 256]);
        assert_eq!(args.duration, Duration::from_millis(2500));
        assert_eq!(args.host_bin, Some(PathBuf::from("/tmp/chillproxy")));
        assert!(args.all_sources && args.redis && args.sealed && !args.torbox_limits);
        assert_eq!((args.replicas, args.users, args.releases), (3, 1000, 50));
        assert_eq!(args.hangup_after, Some(Duration::from_millis(1)));
        let overrides: Vec<String> = args.overrides.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        assert_eq!(
            overrides,
            [
                "source.torznab.max_in_flight = 128",
                "server.name = \"bench\"",
                "store.torbox.requests_per_minute = 0",
                "store.torbox.creates_per_hour = 0",
                "store.torbox.creates_per_minute = 0",
            ]
        );
        // A flag given twice keeps the last value, as before.
        assert_eq!(parse(&["--duration", "2", "--duration", "3"]).unwrap().duration, Duration::from_secs(3));
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let error = parse(&["--scenarios", "warm,bogus"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
        let message = error.to_string();
        assert!(message.contains("--scenarios") && message.contains("unknown scenario \"bogus\""), "{message}");
        for flags in [
            &["--concurrency", "0"][..],
            &["--concurrency", "64,x"],
            &["--duration", "0"],
            &["--torbox-limits", "maybe"],
            &["--sources", "some"],
            &["--set", "novalue"],
            &["--no-such-flag"],
            &["--titles"],
        ] {
            assert!(parse(flags).is_err(), "{flags:?} parsed");
        }
    }

    #[test]
    fn help_lists_every_flag() {
        let help = Args::command().render_help().to_string();
        for flag in [
            "--concurrency <LIST>",
            "--duration <SECS>",
            "--scenarios <LIST>",
            "--max-requests <N>",
            "--timeout <SECS>",
            "--chillstreams-ms <MS>",
            "--torbox-ms <MS>",
            "--torznab-ms <MS>",
            "--titles <N>",
            "--releases <N>",
            "--users <N>",
            "--sealed",
            "--play-files <N>",
            "--torbox-limits <on|off>",
            "--hangup-after <MS>",
            "--hangup-torbox-ms <MS>",
            "--threads <N>",
            "--sources <torznab|all>",
            "--set <KEY=VALUE>",
            "--replicas <N>",
            "--redis",
            "--host-bin <PATH>",
            "--no-build",
            "--help",
        ] {
            assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
        }
        assert!(help.contains("[default: 64,256]") && help.contains("[default: CPU count]"), "{help}");
    }
}
