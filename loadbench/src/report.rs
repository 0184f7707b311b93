//! The Markdown report (see BENCHMARKS.md): the machine and the setup, one table row per run
//! (req/s, latency percentiles, errors, upstream calls per request, peak and end RSS), the
//! details per run, and the host's warnings.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::args::{cpu_count, Args};
use crate::drive::Tally;
use crate::fakes::Counts;
use crate::host::workspace_root;
use crate::scenarios::Scenario;

pub struct Row {
    pub scenario: Scenario,
    pub clients: usize,
    /// Which round of `--rounds` (0-based).
    pub round: usize,
    /// A bare-endpoint row whose slices alternated with this scenario's (`--interleave`).
    pub paired_with: Option<Scenario>,
    pub tally: Tally,
    pub elapsed: Duration,
    pub upstream: Counts,
    /// (peak, end) RSS in KiB.
    pub memory: Option<(u64, u64)>,
    /// What happened before the measured run (the hang-ups).
    pub note: Option<String>,
}

fn rate(row: &Row) -> f64 {
    row.tally.requests() as f64 / row.elapsed.as_secs_f64().max(1e-9)
}

/// "warm list, 64 clients: 44% of `/_bench/fixed`" for every warm and play row whose client count
/// also has a fixed row in the same round (the ratio issue 25's targets are stated in); with
/// several rounds, each round's ratio and their median.
fn ratios_to_bare(rows: &[Row]) -> Vec<String> {
    let mut lines = Vec::new();
    let rounds = rows.iter().map(|r| r.round + 1).max().unwrap_or(1);
    let mut seen: Vec<(Scenario, usize)> = Vec::new();
    for row in rows.iter().filter(|r| matches!(r.scenario, Scenario::Warm | Scenario::Play)) {
        if seen.contains(&(row.scenario, row.clients)) {
            continue;
        }
        seen.push((row.scenario, row.clients));
        let mut ratios = Vec::new();
        let mut parts = Vec::new();
        for round in 0..rounds {
            let of_round = |scenario: Scenario, paired: Option<Scenario>| {
                rows.iter().find(|r| {
                    r.scenario == scenario && r.clients == row.clients && r.round == round && r.paired_with == paired
                })
            };
            // The bare slices interleaved with this scenario when there are, else the bare run.
            let bare = of_round(Scenario::Fixed, Some(row.scenario)).or_else(|| of_round(Scenario::Fixed, None));
            let (Some(list), Some(bare)) = (of_round(row.scenario, None), bare) else { continue };
            if rate(bare) <= 0.0 {
                continue;
            }
            let ratio = 100.0 * rate(list) / rate(bare);
            ratios.push(ratio);
            parts.push(format!("{ratio:.0}% ({:.0} of {:.0} req/s)", rate(list), rate(bare)));
        }
        if ratios.is_empty() {
            continue;
        }
        let label = format!("{}, {} clients", row.scenario.label(), row.clients);
        if ratios.len() == 1 {
            lines.push(format!("{label}: {}", parts[0]));
        } else {
            lines.push(format!("{label}: median {:.0}%; rounds: {}", median(&mut ratios), parts.join(", ")));
        }
    }
    lines
}

/// The row's scenario, and for bare slices what they alternated with.
fn row_label(row: &Row) -> String {
    match row.paired_with {
        Some(scenario) => format!("{}, interleaved with {}", row.scenario.label(), scenario.label()),
        None => row.scenario.label().to_string(),
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    match values.len() % 2 {
        0 => (values[mid - 1] + values[mid]) / 2.0,
        _ => values[mid],
    }
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

pub struct Context<'a> {
    pub body_bytes: usize,
    pub shards: usize,
    pub log: &'a Path,
    pub started: Instant,
    /// `/proc/loadavg`'s first three fields when the benchmark started.
    pub load_before: Option<String>,
}

pub fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(text.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
}

pub fn report(args: &Args, rows: &[Row], context: &Context<'_>) -> String {
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
            "sealed playback handles (`CHILLPROXY_KEYS` set: one seal per list and store entry, an HMAC tag per stream)"
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
            row_label(row),
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
    let ratios = ratios_to_bare(rows);
    if !ratios.is_empty() {
        let _ = writeln!(
            out,
            "Against the bare endpoint in this run (req/s as a share of `/_bench/fixed` at the same client count):\n"
        );
        for line in ratios {
            let _ = writeln!(out, "- {line}");
        }
        let _ = writeln!(out);
    }
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
            row_label(row),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(scenario: Scenario, round: usize, requests: u64) -> Row {
        let tally = Tally { transport: requests, ..Tally::default() };
        let elapsed = Duration::from_secs(1);
        let upstream = Counts::default();
        Row { scenario, clients: 64, round, tally, elapsed, upstream, memory: None, note: None, paired_with: None }
    }

    #[test]
    fn each_round_is_compared_with_its_own_bare_run_and_the_median_is_reported() {
        let one = [row(Scenario::Warm, 0, 50), row(Scenario::Fixed, 0, 100)];
        assert_eq!(ratios_to_bare(&one), ["stream list, warm (same title), 64 clients: 50% (50 of 100 req/s)"]);
        let three = [
            row(Scenario::Warm, 0, 50),
            row(Scenario::Fixed, 0, 100),
            row(Scenario::Fixed, 1, 80),
            row(Scenario::Warm, 1, 60),
            row(Scenario::Warm, 2, 70),
            row(Scenario::Fixed, 2, 100),
        ];
        assert_eq!(
            ratios_to_bare(&three),
            ["stream list, warm (same title), 64 clients: median 70%; rounds: 50% (50 of 100 req/s), \
              75% (60 of 80 req/s), 70% (70 of 100 req/s)"]
        );
        assert_eq!(median(&mut [3.0, 1.0, 2.0, 4.0]), 2.5);
        // Bare slices interleaved with the warm run are what its ratio is taken against.
        let paired = Row { paired_with: Some(Scenario::Warm), ..row(Scenario::Fixed, 0, 80) };
        let interleaved = [row(Scenario::Warm, 0, 60), row(Scenario::Fixed, 0, 100), paired];
        assert_eq!(ratios_to_bare(&interleaved), ["stream list, warm (same title), 64 clients: 75% (60 of 80 req/s)"]);
    }
}
