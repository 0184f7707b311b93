//! A whole test deployment: the fakes (Chillstreams, TorBox, RealDebrid, AllDebrid, Premiumize,
//! two Torznab indexers, StremThru's torrent database) with a few real-looking movies and
//! episodes, and the real host configured against them. Used by the end-to-end tests and by the
//! `devstack` binary.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chillproxy_core::Env;
use serde_json::Value;

use crate::fakes::alldebrid::FakeAllDebrid;
use crate::fakes::chillstreams::FakeChillstreams;
use crate::fakes::premiumize::FakePremiumize;
use crate::fakes::realdebrid::FakeRealDebrid;
use crate::fakes::stremio_addon::{AddonStream, FakeStremioAddon};
use crate::fakes::stremthru::{DbTorrent, FakeStremThru};
use crate::fakes::torbox::FakeTorBox;
use crate::fakes::torbox_search::FakeTorBoxSearch;
use crate::fakes::torznab::{FakeTorznab, Release};
use crate::fakes::{closed_port_url, Running};
use crate::host::Host;

pub const INTERNAL_API_KEY: &str = "chs-internal-4f1c2b9e8d7a6c5b4a39281706f5e4d3";
pub const USER: &str = "550e8400-e29b-41d4-a716-446655440000";
pub const POOL_KEY: &str = "0d9c8b7a-6f5e-4d3c-2b1a-098f7e6d5c4b";
pub const POOL_KEY_ID: &str = "a3f1c2d4-0000-4000-8000-00000000abcd";
pub const TOKEN: &str = "tb-users-own-token-7e57c0ffee";
/// Users' own RealDebrid tokens, AllDebrid and Premiumize keys (two users each).
pub const RD_TOKEN: &str = "rd-users-own-token-SECRET-5b2f9c1e";
pub const RD_OTHER_TOKEN: &str = "rd-other-users-token-SECRET-0a9d8c7b";
pub const AD_KEY: &str = "ad-users-own-key-SECRET-71c3e0d4";
pub const AD_OTHER_KEY: &str = "ad-other-users-key-SECRET-2e4f6a8c";
pub const PM_KEY: &str = "pm-users-own-key-SECRET-9f8e7d6c";
pub const INDEXER_KEY: &str = "prowlarr-key-91b2c3d4e5f6";
pub const USER_INDEXER_KEY: &str = "jackett-key-0a1b2c3d";
/// The operator's whitelisted TorBox key for the search API (env `DEVSTACK_TORBOX_SEARCH_KEY`).
pub const SEARCH_KEY: &str = "tb-operator-search-key-5a6b7c8d";

pub const MOVIE: &str = "tt0111161";
pub const MOVIE_2160: &str = "2222222222222222222222222222222222222222";
pub const MOVIE_1080: &str = "1111111111111111111111111111111111111111";
pub const MOVIE_720_UNCACHED: &str = "7777777777777777777777777777777777777777";
pub const MOVIE_480_UNKNOWN: &str = "4444444444444444444444444444444444444444";
pub const MOVIE_1080_BYTES: u64 = 8_400_000_000;
/// A cached release only StremThru's database knows (no indexer lists it).
pub const MOVIE_WEB_STREMTHRU_ONLY: &str = "8888888888888888888888888888888888888888";
pub const MOVIE_WEB_NAME: &str = "The.Shawshank.Redemption.1994.1080p.WEB-DL.DDP5.1.H264-NTb";
/// A season pack only StremThru's database knows, cached nowhere: its files come from the
/// database (`Breaking.S01E05.mkv` is index 5).
pub const SEASON_1_WEB_PACK_UNCACHED: &str = "cccccccccccccccccccccccccccccccccccccccc";
/// A cached release only the Stremio addon offers.
pub const MOVIE_ADDON_ONLY: &str = "9999999999999999999999999999999999999999";
pub const MOVIE_ADDON_NAME: &str = "The.Shawshank.Redemption.1994.2160p.WEB-DL.DDP5.1.HDR.HEVC-FLUX";

pub const SERIES: &str = "tt0903747";
pub const EPISODE_S01E03: &str = "3333333333333333333333333333333333333333";
pub const SEASON_1_PACK: &str = "5555555555555555555555555555555555555555";
pub const EPISODE_S01E04: &str = "6666666666666666666666666666666666666666";

/// What to start.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Point chillproxy at a closed port instead of the fake Chillstreams.
    pub chillstreams_down: bool,
    pub enable_chillstreams: bool,
    /// `mylist` polls an uncached torrent needs before it is downloaded.
    pub uncached_polls: u32,
    /// Extra TOML appended to the host's config.
    pub extra_toml: String,
    /// Where the host listens (a random loopback port by default).
    pub listen: Option<std::net::SocketAddr>,
    /// Extra lines for the `[auth.chillstreams]` table (e.g. `deny_ttl_s = 1`).
    pub chillstreams_settings: String,
    /// Extra lines for the `[server]` table (e.g. `metrics_token = "..."`).
    pub server_settings: String,
    /// Extra lines for other tables the stack writes, by header: `("[store.torbox]",
    /// "max_in_flight = 2")`.
    pub table_settings: Vec<(&'static str, String)>,
    /// The `[limits]` table's lines: inbound limits are off unless a test turns them on.
    pub limits: String,
    /// `[source] chain`. Only `torznab` by default: StremThru's table always points at the
    /// fake, but the source runs only when a test lists it here.
    pub sources: Vec<&'static str>,
    /// Extra environment for the host (e.g. `CHILLPROXY_KEYS`).
    pub env: Vec<(&'static str, String)>,
    /// Share state through this Redis (`CHILLPROXY_REDIS_URL`, with the shared
    /// `CHILLPROXY_SECRET` replicas need). More replicas start with [`Stack::replica`].
    pub redis_url: Option<String>,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            chillstreams_down: false,
            enable_chillstreams: true,
            uncached_polls: 2,
            extra_toml: String::new(),
            listen: None,
            chillstreams_settings: String::new(),
            server_settings: String::new(),
            table_settings: Vec::new(),
            limits: "streams_per_minute = 0\nplayback_per_minute = 0\nconfigure_checks_per_minute = 0".into(),
            sources: vec!["torznab"],
            env: Vec::new(),
            redis_url: None,
        }
    }
}

pub struct Stack {
    pub chillstreams: FakeChillstreams,
    pub torbox: FakeTorBox,
    _torbox_server: Running,
    /// RealDebrid, AllDebrid and Premiumize (in `[store.realdebrid]` etc.), seeded like TorBox
    /// (see [`seed_debrid`]); their tokens are [`RD_TOKEN`], [`AD_KEY`], [`PM_KEY`] and the
    /// `OTHER` ones. AllDebrid refuses uploads unless a proxy is configured.
    pub realdebrid: FakeRealDebrid,
    _realdebrid_server: Running,
    pub alldebrid: FakeAllDebrid,
    _alldebrid_server: Running,
    pub premiumize: FakePremiumize,
    _premiumize_server: Running,
    /// The operator's indexer (in plugins.toml).
    pub torznab: FakeTorznab,
    /// An indexer users can add to their own config.
    pub user_torznab: FakeTorznab,
    /// StremThru's torrent database (in `[source.stremthru]`; used when `sources` lists it).
    pub stremthru: FakeStremThru,
    /// A Stremio addon in Torrentio's shape (in `[source.stremio-addon]`; used when `sources`
    /// lists it).
    pub addon: FakeStremioAddon,
    /// TorBox's search API (in `[source.torbox-search]`; used when `sources` lists it).
    pub torbox_search: FakeTorBoxSearch,
    /// The Anime Kitsu addon (`[meta] kitsu_url`, unless a test's `table_settings` set another).
    pub kitsu: crate::fakes::kitsu::FakeKitsu,
    pub host: Host,
    pub plugins_toml: String,
    /// The environment the host runs with (and any replica).
    pub env: Env,
}

/// The secret every replica of a test cluster shares.
pub const CLUSTER_SECRET: &str = "cluster-secret-2f9e8d7c6b5a4f3e";
/// The sealing keyring replicas share (env `CHILLPROXY_KEYS`), set with `redis_url`.
pub const CLUSTER_KEYS: &str = "cluster1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

impl Stack {
    pub async fn start(options: StackOptions) -> Stack {
        let chillstreams = FakeChillstreams::start(INTERNAL_API_KEY).await;
        chillstreams.add_user(USER, POOL_KEY, POOL_KEY_ID);
        let (torbox, torbox_server) = FakeTorBox::start().await;
        torbox.add_key(POOL_KEY);
        torbox.add_key(TOKEN);
        seed_torbox(&torbox, options.uncached_polls);
        let (realdebrid, realdebrid_server) = FakeRealDebrid::start().await;
        let (alldebrid, alldebrid_server) = FakeAllDebrid::start().await;
        let (premiumize, premiumize_server) = FakePremiumize::start().await;
        seed_debrid(&realdebrid, &alldebrid, &premiumize, options.uncached_polls);
        let torznab = FakeTorznab::start(INDEXER_KEY).await;
        seed_releases(&torznab);
        let user_torznab = FakeTorznab::start(USER_INDEXER_KEY).await;
        let stremthru = FakeStremThru::start().await;
        seed_stremthru(&stremthru);
        let addon = FakeStremioAddon::start().await;
        seed_addon(&addon);
        let torbox_search = FakeTorBoxSearch::start(SEARCH_KEY).await;
        let kitsu = crate::fakes::kitsu::FakeKitsu::start().await;
        torbox_search.add(
            MOVIE,
            MOVIE_2160,
            "The.Shawshank.Redemption.1994.2160p.UHD.BluRay.REMUX.HEVC-FGT",
            61_000_000_000,
            57,
        );
        torbox_search.add(
            MOVIE,
            MOVIE_720_UNCACHED,
            "The.Shawshank.Redemption.1994.720p.WEB-DL.x264-GRP",
            1_300_000_000,
            12,
        );
        // The search API takes the same keys as TorBox, and knows TorBox's cache.
        torbox_search.add_key(TOKEN);
        torbox_search.add_key(POOL_KEY);
        torbox_search.set_cached(MOVIE_2160);

        let chillstreams_url = if options.chillstreams_down { closed_port_url() } else { chillstreams.url() };
        let chain: Vec<String> = options.sources.iter().map(|s| format!("{s:?}")).collect();
        let mut plugins_toml = plugins_toml(&torbox.state().base_url, &torznab.torznab_url(), &options.extra_toml)
            .replace("[source]\nchain = [\"torznab\"]\n", &format!("[source]\nchain = [{}]\n", chain.join(", ")))
            .replace(STREMTHRU_URL, &stremthru.url())
            .replace(ADDON_URL, &addon.manifest_url())
            .replace(TORBOX_SEARCH_URL, &torbox_search.url())
            .replace(REALDEBRID_URL, &FakeRealDebrid::api_url(&realdebrid_server))
            .replace(ALLDEBRID_URL, &FakeAllDebrid::api_url(&alldebrid_server))
            .replace(PREMIUMIZE_URL, &FakePremiumize::api_url(&premiumize_server))
            .replace("[auth.chillstreams]\ntimeout_ms = 1000\n", &chillstreams_table(&options.chillstreams_settings))
            .replace(SERVER_TABLE, &server_table(&with_user_indexer_allowed(&options.server_settings, &user_torznab)));
        plugins_toml.push_str(&format!("\n[limits]\n{}\n", options.limits.trim()));
        // Failed playbacks answer plain text with their status here, which most tests assert;
        // tests/tests/status_videos.rs turns the status videos back on.
        if !options.table_settings.iter().any(|(_, lines)| lines.contains("status_videos")) {
            plugins_toml = plugins_toml.replacen("[playback]\n", "[playback]\nstatus_videos = false\n", 1);
        }
        for (header, lines) in &options.table_settings {
            assert!(plugins_toml.contains(&format!("{header}\n")), "the stack writes no {header} table");
            plugins_toml = plugins_toml.replacen(&format!("{header}\n"), &format!("{header}\n{}\n", lines.trim()), 1);
        }
        // Kitsu lookups go to the stack's fake (which knows no anime until a test adds some)
        // unless a test points them elsewhere.
        if !plugins_toml.contains("kitsu_url") {
            plugins_toml = plugins_toml.replacen("[meta]\n", &format!("[meta]\nkitsu_url = \"{}\"\n", kitsu.url()), 1);
        }
        let env = Env::from_pairs(Self::env_pairs(&options, &chillstreams_url));
        let host = match options.listen {
            Some(listen) => Host::start_on(listen, &plugins_toml, env.clone()).await,
            None => Host::start(&plugins_toml, env.clone()).await,
        };
        Stack {
            chillstreams,
            torbox,
            _torbox_server: torbox_server,
            realdebrid,
            _realdebrid_server: realdebrid_server,
            alldebrid,
            _alldebrid_server: alldebrid_server,
            premiumize,
            _premiumize_server: premiumize_server,
            torznab,
            user_torznab,
            stremthru,
            addon,
            torbox_search,
            kitsu,
            host,
            plugins_toml,
            env,
        }
    }

    /// Another chillproxy with the same config and environment (its own port and usage
    /// spool): with `redis_url`, a replica of the same cluster.
    pub async fn replica(&self) -> Host {
        Host::start(&self.plugins_toml, self.env.clone()).await
    }

    /// The environment the host runs with.
    pub fn env_pairs(options: &StackOptions, chillstreams_url: &str) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("ENABLE_CHILLSTREAMS_AUTH", (if options.enable_chillstreams { "true" } else { "false" }).to_string()),
            ("CHILLSTREAMS_API_URL", chillstreams_url.to_string()),
            ("CHILLSTREAMS_API_KEY", INTERNAL_API_KEY.to_string()),
            ("DEVSTACK_INDEXER_KEY", INDEXER_KEY.to_string()),
            ("DEVSTACK_TORBOX_SEARCH_KEY", SEARCH_KEY.to_string()),
        ];
        pairs.extend(options.env.iter().cloned());
        if let Some(url) = &options.redis_url {
            pairs.push(("CHILLPROXY_REDIS_URL", url.clone()));
            pairs.push(("CHILLPROXY_SECRET", CLUSTER_SECRET.to_string()));
            if !options.env.iter().any(|(name, _)| *name == "CHILLPROXY_KEYS") {
                pairs.push(("CHILLPROXY_KEYS", CLUSTER_KEYS.to_string()));
            }
        }
        pairs
    }

    /// The `{config}` segment for a user config JSON.
    pub fn config(json: &Value) -> String {
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    pub fn stream_url(&self, config: &str, kind: &str, id: &str) -> String {
        format!("{}/stremio/torz/{config}/stream/{kind}/{id}.json", self.host.url())
    }

    pub fn manifest_url(&self, config: &str) -> String {
        format!("{}/stremio/torz/{config}/manifest.json", self.host.url())
    }
}

/// The start of the `[server]` table in [`plugins_toml`].
const SERVER_TABLE: &str = "[server]\nlisten = \"127.0.0.1:0\"\n";

/// Where [`plugins_toml`] points StremThru until the stack knows its fake's address (a closed
/// loopback port: a config written without the stack reaches nothing).
const STREMTHRU_URL: &str = "http://127.0.0.1:9/stremthru";
/// The same for the Stremio addon.
const ADDON_URL: &str = "http://127.0.0.1:9/addon/manifest.json";
/// The same for TorBox's search API.
const TORBOX_SEARCH_URL: &str = "http://127.0.0.1:9/torbox-search";
/// The same for the debrid stores.
const REALDEBRID_URL: &str = "http://127.0.0.1:9/realdebrid";
const ALLDEBRID_URL: &str = "http://127.0.0.1:9/alldebrid";
const PREMIUMIZE_URL: &str = "http://127.0.0.1:9/premiumize";

/// The host's plugins.toml for the fakes.
pub fn plugins_toml(torbox_url: &str, torznab_url: &str, extra: &str) -> String {
    format!(
        r#"[server]
listen = "127.0.0.1:0"

[playback]
wait_ms = 3000
poll_interval_ms = 20

[meta]
timeout_ms = 1000

[auth]
chain = ["chillstreams", "token"]

[auth.chillstreams]
timeout_ms = 1000

[store]
enabled = ["torbox", "realdebrid", "alldebrid", "premiumize"]

[store.torbox]
api_url = "{torbox_url}"
timeout_ms = 2000

[store.realdebrid]
api_url = "{REALDEBRID_URL}"
timeout_ms = 2000

[store.alldebrid]
api_url = "{ALLDEBRID_URL}"
timeout_ms = 2000

[store.premiumize]
api_url = "{PREMIUMIZE_URL}"
timeout_ms = 2000

[source]
chain = ["torznab"]

[source.stremthru]
url = "{STREMTHRU_URL}"
timeout_ms = 1200

[source.stremio-addon]
addons = [{{ name = "Torrentio", url = "{ADDON_URL}" }}]
timeout_ms = 1200

[source.torbox-search]
url = "{TORBOX_SEARCH_URL}"
api_key_env = "DEVSTACK_TORBOX_SEARCH_KEY"
timeout_ms = 1200

[source.torznab]
timeout_ms = 1500
indexers = [{{ name = "Prowlarr", url = "{torznab_url}", api_key_env = "DEVSTACK_INDEXER_KEY" }}]
# Title lookups never leave the machine (the stack's indexer searches by id).
meta_url = "http://127.0.0.1:9"
{extra}"#
    )
}

fn seed_torbox(torbox: &FakeTorBox, polls: u32) {
    torbox.add_cached(
        MOVIE_2160,
        "The.Shawshank.Redemption.1994.2160p.UHD.BluRay.REMUX.HEVC-FGT",
        &[("The.Shawshank.Redemption.1994.2160p.UHD.BluRay.REMUX.HEVC-FGT.mkv", 61_000_000_000)],
    );
    torbox.add_cached(
        MOVIE_1080,
        "The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE",
        &[
            ("The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE.mkv", MOVIE_1080_BYTES),
            ("Sample/sample.mkv", 52_000_000),
            ("The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE.nfo", 4_000),
        ],
    );
    torbox.add_uncached(
        MOVIE_720_UNCACHED,
        "The.Shawshank.Redemption.1994.720p.WEB-DL.x264-GRP",
        &[("The.Shawshank.Redemption.1994.720p.WEB-DL.x264-GRP.mkv", 1_300_000_000)],
        polls,
    );
    torbox.add_cached(MOVIE_WEB_STREMTHRU_ONLY, MOVIE_WEB_NAME, &[(&format!("{MOVIE_WEB_NAME}.mkv"), 4_200_000_000)]);
    torbox.add_cached(MOVIE_ADDON_ONLY, MOVIE_ADDON_NAME, &[(&format!("{MOVIE_ADDON_NAME}.mkv"), 15_200_000_000)]);
    torbox.add_cached(
        EPISODE_S01E03,
        "Breaking.Bad.S01E03.1080p.WEB-DL.x264",
        &[("Breaking.Bad.S01E03.1080p.WEB-DL.x264.mkv", 2_100_000_000)],
    );
    let pack: Vec<(String, u64)> =
        (1..=7).map(|e| (format!("Breaking.Bad.S01E{e:02}.720p.BluRay.x264.mkv"), 900_000_000 + e * 1_000)).collect();
    let pack: Vec<(&str, u64)> = pack.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    torbox.add_cached(SEASON_1_PACK, "Breaking.Bad.S01.720p.BluRay.x264", &pack);
    torbox.add_cached(
        EPISODE_S01E04,
        "Breaking.Bad.S01E04.1080p.WEB-DL.x264",
        &[("Breaking.Bad.S01E04.1080p.WEB-DL.x264.mkv", 2_000_000_000)],
    );
}

/// The same torrents as TorBox's on RealDebrid, AllDebrid and Premiumize: cached 2160p and
/// 1080p movies, an uncached 720p one, the cached season pack and S01E03. RealDebrid's names are
/// the torrents' own, so its content filter refuses the 1080p `BluRay.x264` release (HTTP 451);
/// its season pack and 720p release are named so that the filter lets them through.
fn seed_debrid(realdebrid: &FakeRealDebrid, alldebrid: &FakeAllDebrid, premiumize: &FakePremiumize, polls: u32) {
    realdebrid.add_key(RD_TOKEN);
    realdebrid.add_key(RD_OTHER_TOKEN);
    alldebrid.add_key(AD_KEY);
    alldebrid.add_key(AD_OTHER_KEY);
    premiumize.add_key(PM_KEY);
    let pack: Vec<(String, u64)> =
        (1..=7).map(|e| (format!("Breaking.Bad.S01E{e:02}.720p.BluRay.x265.mkv"), 900_000_000 + e * 1_000)).collect();
    let pack: Vec<(&str, u64)> = pack.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    let movie_2160 = "The.Shawshank.Redemption.1994.2160p.UHD.BluRay.REMUX.HEVC-FGT";
    let movie_1080 = "The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE";
    let movie_720 = "The.Shawshank.Redemption.1994.720p.AMZN.x265-GRP";
    let episode = "Breaking.Bad.S01E03.1080p.AMZN.x265";
    let movie_2160_file = format!("{movie_2160}.mkv");
    let movie_1080_files =
        [(format!("{movie_1080}.mkv"), MOVIE_1080_BYTES), ("Sample/sample.mkv".to_string(), 52_000_000)];
    let movie_1080_files: Vec<(&str, u64)> = movie_1080_files.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    let movie_720_file = format!("{movie_720}.mkv");
    let episode_file = format!("{episode}.mkv");
    macro_rules! seed {
        ($fake:expr) => {
            $fake.add_cached(MOVIE_2160, movie_2160, &[(movie_2160_file.as_str(), 61_000_000_000)]);
            $fake.add_cached(MOVIE_1080, movie_1080, &movie_1080_files);
            $fake.add_uncached(MOVIE_720_UNCACHED, movie_720, &[(movie_720_file.as_str(), 1_300_000_000)], polls);
            $fake.add_cached(SEASON_1_PACK, "Breaking.Bad.S01.720p.BluRay.x265", &pack);
            $fake.add_cached(EPISODE_S01E03, episode, &[(episode_file.as_str(), 2_100_000_000)]);
        };
    }
    seed!(realdebrid);
    seed!(alldebrid);
    seed!(premiumize);
}

fn seed_stremthru(stremthru: &FakeStremThru) {
    stremthru.add(DbTorrent::movie(MOVIE, MOVIE_WEB_NAME, MOVIE_WEB_STREMTHRU_ONLY, 4_200_000_000, 31));
    stremthru.add(DbTorrent::movie(
        MOVIE,
        "The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE",
        MOVIE_1080,
        MOVIE_1080_BYTES,
        0,
    ));
    stremthru.add(DbTorrent::season_pack(
        SERIES,
        1,
        7,
        "Breaking.Bad.S01.720p.BluRay.x264",
        SEASON_1_PACK,
        900_000_000,
    ));
    stremthru.add(DbTorrent::season_pack(
        SERIES,
        1,
        7,
        "Breaking.Bad.S01.1080p.WEB-DL.x264",
        SEASON_1_WEB_PACK_UNCACHED,
        1_500_000_000,
    ));
}

fn seed_addon(addon: &FakeStremioAddon) {
    addon.add(AddonStream {
        id: MOVIE.into(),
        release: MOVIE_ADDON_NAME.into(),
        hash: MOVIE_ADDON_ONLY.into(),
        file_idx: None,
        filename: format!("{MOVIE_ADDON_NAME}.mkv"),
        seeders: 12,
        size_text: "14.2 GB".into(),
    });
    addon.add(AddonStream {
        id: format!("{SERIES}:1:3"),
        release: "Breaking.Bad.S01.720p.BluRay.x264".into(),
        hash: SEASON_1_PACK.into(),
        file_idx: Some(2),
        filename: "Breaking.Bad.S01E03.720p.BluRay.x264.mkv".into(),
        seeders: 40,
        size_text: "6.3 GB".into(),
    });
}

fn seed_releases(torznab: &FakeTorznab) {
    torznab.add_releases([
        Release::movie(MOVIE, "The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE", MOVIE_1080)
            .size(MOVIE_1080_BYTES + 52_004_000)
            .seeders(412),
        Release::movie(MOVIE, "The.Shawshank.Redemption.1994.2160p.UHD.BluRay.REMUX.HEVC-FGT", MOVIE_2160)
            .size(61_000_000_000)
            .seeders(57),
        Release::movie(MOVIE, "The.Shawshank.Redemption.1994.720p.WEB-DL.x264-GRP", MOVIE_720_UNCACHED)
            .size(1_300_000_000)
            .seeders(88),
        Release::movie(MOVIE, "The.Shawshank.Redemption.1994.480p.DVDRip.XviD", MOVIE_480_UNKNOWN)
            .size(700_000_000)
            .seeders(3),
        Release::episode(SERIES, 1, 3, "Breaking.Bad.S01E03.1080p.WEB-DL.x264", EPISODE_S01E03).size(2_100_000_000),
        Release::episode(SERIES, 1, 4, "Breaking.Bad.S01E04.1080p.WEB-DL.x264", EPISODE_S01E04).size(2_000_000_000),
        Release::season_pack(SERIES, 1, "Breaking.Bad.S01.720p.BluRay.x264", SEASON_1_PACK).size(6_300_000_000),
    ]);
}

/// The start of the `[server]` table with the test's settings.
/// The `[server]` lines, with the user indexer fake admitted by the outbound URL policy (it is on
/// loopback, which users' URLs may not reach by default) unless the test sets the policy itself.
fn with_user_indexer_allowed(settings: &str, user_torznab: &FakeTorznab) -> String {
    if settings.contains("user_url_allow") || settings.contains("allow_private_user_urls") {
        return settings.to_string();
    }
    let host_port = user_torznab.base_url().trim_start_matches("http://").trim_end_matches('/').to_string();
    format!("{settings}\nuser_url_allow = [{host_port:?}]")
}

fn server_table(settings: &str) -> String {
    let settings = settings.trim();
    if settings.is_empty() {
        SERVER_TABLE.to_string()
    } else {
        format!("{SERVER_TABLE}{settings}\n")
    }
}

/// The `[auth.chillstreams]` table: the test's settings, with a 1 s timeout unless they set one.
fn chillstreams_table(settings: &str) -> String {
    let timeout = if settings.contains("timeout_ms") { "" } else { "timeout_ms = 1000\n" };
    format!("[auth.chillstreams]\n{timeout}{settings}\n")
}
