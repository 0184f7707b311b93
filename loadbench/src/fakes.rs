//! The fakes loadbench runs in its own process, with latency: Chillstreams, TorBox, a Torznab
//! indexer sharded by IMDb id behind one URL (and with `--sources all` a text-only indexer,
//! Cinemeta and StremThru), the movies they are seeded with, and the calls that reached them.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::{middleware, Router};
use chillproxy_tests::fakes::chillstreams::{FakeChillstreams, Mode as ChillstreamsMode};
use chillproxy_tests::fakes::cinemeta::FakeCinemeta;
use chillproxy_tests::fakes::stremthru::{DbTorrent, FakeStremThru};
use chillproxy_tests::fakes::torbox::{FakeTorBox, Fault, Limits};
use chillproxy_tests::fakes::torznab::{CapsKind, Mode as TorznabMode, Release, TorznabControl};
use chillproxy_tests::fakes::{serve, Running};
use chillproxy_tests::stack::{INDEXER_KEY, INTERNAL_API_KEY, POOL_KEY, POOL_KEY_ID, USER};

use crate::args::Args;

/// First IMDb number used; title `n` is `tt{FIRST_IMDB + n}`.
const FIRST_IMDB: usize = 7_000_000;

pub struct Fakes {
    pub chillstreams: FakeChillstreams,
    pub torbox: FakeTorBox,
    _torbox_server: Running,
    /// The Torznab fake, sharded by IMDb id (see [`torznab_router`]).
    pub torznab: Vec<TorznabControl>,
    pub torznab_server: Running,
    /// `--sources all`.
    pub extra: Option<ExtraSources>,
}

/// The sources `--sources all` adds.
pub struct ExtraSources {
    /// A `q`-only indexer, sharded by the title's number (see [`text_router`]).
    pub text: Vec<TorznabControl>,
    pub text_server: Running,
    pub cinemeta: FakeCinemeta,
    pub stremthru: FakeStremThru,
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

pub fn imdb(n: usize) -> String {
    format!("tt{}", FIRST_IMDB + n)
}

pub fn info_hash(n: usize, release: usize) -> String {
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
pub fn seed(fakes: &Fakes, count: usize, releases: usize) {
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

pub async fn start_fakes(args: &Args, titles: usize) -> Fakes {
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
pub struct Counts {
    pub get_key: usize,
    pub log_usage: usize,
    pub torbox: usize,
    pub torbox_by_path: BTreeMap<String, usize>,
    /// Calls the fake TorBox refused with 429 (its per-token limits).
    pub torbox_429: usize,
    pub torznab: usize,
    /// `--sources all`: calls to the text-only indexer, Cinemeta and StremThru.
    pub text: usize,
    pub cinemeta: usize,
    pub stremthru: usize,
}

impl Fakes {
    pub fn counts(&self) -> Counts {
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
    pub fn minus(&self, before: &Counts) -> Counts {
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

pub fn torbox_latency(ms: u64) -> Fault {
    if ms > 0 {
        Fault::Hang(Duration::from_millis(ms))
    } else {
        Fault::None
    }
}
