//! A fake Torznab indexer in Jackett's URL form:
//! `GET /api/v2.0/indexers/{id}/results/torznab/api?apikey=…&t=…` (any `{id}`, e.g. `all`).
//!
//! - **API key.** Every request (including `t=caps`) must carry `apikey=<key>`. A missing or
//!   wrong key is answered as Jackett does: **HTTP 200** with
//!   `<error code="100" description="Invalid API Key"/>`.
//! - **Functions.** `t=caps` declares `search`, `tv-search` (`q,season,ep,imdbid`) and
//!   `movie-search` (`q,imdbid`). `t=movie&imdbid=` returns the movie releases of that id;
//!   `t=tvsearch&imdbid=&season=&ep=` returns the episode's releases plus season packs of that
//!   season (a pack has a season and no episode). `q` (with any `t`) matches titles that hold
//!   every word of it, as tracker searches do, so unrelated releases that share the words come
//!   back too. Another `t` gives error 202, no `t` error 200 (HTTP 200, like Jackett).
//! - **`q`-only indexers** ([`CapsKind::QueryOnly`], like 83 of Jackett's 87 public trackers:
//!   1337x, TPB, LimeTorrents, Nyaa): caps say `q` (`q,season,ep` for tv-search), and a search
//!   with `imdbid` gets what one Jackett indexer answers: **HTTP 400** with error 203.
//! - **`.torrent` links** (`/dl/…`, recorded in [`TorznabControl::downloads`], not in
//!   `calls`): [`HashIn::TorrentFile`] serves a real bencoded file, [`HashIn::MagnetRedirect`]
//!   a 302 to the magnet, [`HashIn::BrokenTorrent`] garbage, [`HashIn::HugeTorrent`] 3 MiB;
//!   other `/dl/` paths are 404, except in [`Mode::Fixture`], where every path but the API's is
//!   a `.torrent` made by [`torrent_file`] from the path (an `.nzb` path gets an NZB document).
//! - **Feed.** Real Torznab RSS: `xmlns:torznab="http://torznab.com/schemas/2015/feed"`,
//!   `<size>`, `<link>`, an `application/x-bittorrent` enclosure and `torznab:attr`
//!   `seeders`, `peers`, `size`, `infohash` and/or `magneturl` depending on [`HashIn`]. As in
//!   Jackett, `<link>` and the enclosure are `.torrent` links that carry `jackett_apikey=<key>`.
//! - **Modes** ([`Mode`]): slow (sleep, then answer normally), HTTP 500, invalid XML, a
//!   6 MiB body with or without `Content-Length` (another size with
//!   [`TorznabControl::set_huge_body_bytes`]), throttled (**HTTP 429**, error 900 and
//!   `Retry-After`, as Jackett does when a tracker throttles), and a fixed reply (a captured feed).
//! - **Calls.** Every request that reaches the server is recorded ([`TorznabCall`]), including
//!   ones to a wrong path (those get a 404), before the mode applies.

use std::fmt::Write as _;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::{serve, Running};

/// Size of the [`Mode::HugeBody`] and [`Mode::HugeChunkedBody`] answers, unless
/// [`TorznabControl::set_huge_body_bytes`] sets another.
pub const HUGE_BODY_BYTES: usize = 6 * 1024 * 1024;

/// Where an item carries its info hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashIn {
    /// `<torznab:attr name="infohash">` plus a `magneturl` attr with the same hash (Jackett).
    #[default]
    InfohashAttr,
    /// Only in the `magneturl` attr, as 40 hex digits.
    MagnetHex,
    /// Only in the `magneturl` attr, as 32 base32 characters.
    MagnetBase32,
    /// Only in `<link>`, which is the magnet itself (some Prowlarr indexers); no attrs.
    LinkMagnet,
    /// Nowhere: only a `.torrent` link, and it is dead (404). Such items must be skipped.
    Nowhere,
    /// Only a `.torrent` link (a private tracker, Jackett's `/dl/` proxy) that serves a real
    /// bencoded file; the release's `info_hash` becomes that file's.
    TorrentFile,
    /// Only a `.torrent` link that redirects (302) to the magnet.
    MagnetRedirect,
    /// Only a `.torrent` link that serves something that is not bencode.
    BrokenTorrent,
    /// Only a `.torrent` link that serves 3 MiB.
    HugeTorrent,
}

/// What `t=caps` says and how `imdbid` searches are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CapsKind {
    /// `imdbid` for movie and tv search (rutor, YTS, Jackett's `all` in the tests so far).
    #[default]
    ImdbId,
    /// `q` only: an `imdbid` search is HTTP 400 with error 203.
    QueryOnly,
    /// Caps that overstate: they announce `imdbid` until the first `imdbid` search, which is
    /// refused (HTTP 400, error 203); from then on the caps say `q` only (a Jackett indexer whose
    /// tracker dropped id search).
    StaleImdbId,
}

/// A real `.torrent` file for `name`: one file `<name>.mkv` of 1.5 GB; returns the file and its
/// info hash (SHA-1 of the bencoded `info` dictionary).
pub fn torrent_file(name: &str) -> (Vec<u8>, String) {
    use sha1::{Digest, Sha1};
    let file = format!("{name}.mkv");
    let mut info =
        format!("d6:lengthi1500000000e4:name{}:{file}12:piece lengthi4194304e6:pieces20:", file.len()).into_bytes();
    info.extend_from_slice(&Sha1::digest(name.as_bytes()));
    info.push(b'e');
    let hash: String = Sha1::digest(&info).iter().map(|b| format!("{b:02x}")).collect();
    let mut torrent = b"d8:announce30:udp://tracker.example:1337/ann4:info".to_vec();
    torrent.extend_from_slice(&info);
    torrent.push(b'e');
    (torrent, hash)
}

/// One release the fake can return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// `tt…`.
    pub imdb_id: String,
    /// `None` for a movie.
    pub season: Option<u32>,
    /// `None` for a movie or a season pack.
    pub episode: Option<u32>,
    pub title: String,
    /// 40 hex digits.
    pub info_hash: String,
    pub size: u64,
    pub seeders: u32,
    pub peers: u32,
    pub hash_in: HashIn,
}

impl Release {
    fn new(imdb_id: &str, season: Option<u32>, episode: Option<u32>, title: &str, info_hash: &str) -> Self {
        Self {
            imdb_id: imdb_id.to_string(),
            season,
            episode,
            title: title.to_string(),
            info_hash: info_hash.to_ascii_lowercase(),
            size: 1_500_000_000,
            seeders: 10,
            peers: 12,
            hash_in: HashIn::InfohashAttr,
        }
    }

    pub fn movie(imdb_id: &str, title: &str, info_hash: &str) -> Self {
        Self::new(imdb_id, None, None, title, info_hash)
    }

    pub fn episode(imdb_id: &str, season: u32, episode: u32, title: &str, info_hash: &str) -> Self {
        Self::new(imdb_id, Some(season), Some(episode), title, info_hash)
    }

    /// A whole season: returned for any episode of `season`.
    pub fn season_pack(imdb_id: &str, season: u32, title: &str, info_hash: &str) -> Self {
        Self::new(imdb_id, Some(season), None, title, info_hash)
    }

    pub fn size(mut self, bytes: u64) -> Self {
        self.size = bytes;
        self
    }

    pub fn seeders(mut self, seeders: u32) -> Self {
        self.seeders = seeders;
        self
    }

    pub fn peers(mut self, peers: u32) -> Self {
        self.peers = peers;
        self
    }

    /// Where the hash is; [`HashIn::TorrentFile`] makes `info_hash` the served file's.
    pub fn hash_in(mut self, hash_in: HashIn) -> Self {
        self.hash_in = hash_in;
        if hash_in == HashIn::TorrentFile {
            self.info_hash = torrent_file(&self.title).1;
        }
        self
    }

    fn matches(&self, t: &str, params: &[(String, String)]) -> bool {
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim());
        let imdb_matches = || param("imdbid").is_some_and(|id| normalise_imdb(id) == normalise_imdb(&self.imdb_id));
        let number = |name: &str| param(name).and_then(|v| v.parse::<u32>().ok());
        // Tracker search: every word of `q` is a word of the title.
        let words = |text: &str| -> Vec<String> {
            text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
        };
        let text_matches = || {
            param("q").is_some_and(|q| {
                let title = words(&self.title);
                words(q).iter().all(|w| title.contains(w))
            })
        };
        let id_or_text = || if param("imdbid").is_some() { imdb_matches() } else { text_matches() };
        match t {
            "movie" => self.season.is_none() && id_or_text(),
            "tvsearch" => {
                self.season.is_some()
                    && id_or_text()
                    && number("season").is_none_or(|s| self.season == Some(s))
                    && number("ep").is_none_or(|e| self.episode.is_none() || self.episode == Some(e))
            }
            "search" => text_matches(),
            _ => false,
        }
    }
}

fn normalise_imdb(id: &str) -> String {
    let id = id.trim().to_ascii_lowercase();
    let digits = id.strip_prefix("tt").unwrap_or(&id);
    digits.trim_start_matches('0').to_string()
}

/// How the fake answers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Normal,
    /// Sleeps this long, then answers normally.
    Slow(Duration),
    /// HTTP 500 with a short text body.
    ServerError,
    /// HTTP 200 with a body that is not well-formed XML.
    InvalidXml,
    /// HTTP 200 with [`HUGE_BODY_BYTES`] (or the size set with
    /// [`TorznabControl::set_huge_body_bytes`]) of (otherwise valid) RSS and a `Content-Length`.
    HugeBody,
    /// As `HugeBody`, but chunked: no `Content-Length`, so only counting the bytes catches it.
    HugeChunkedBody,
    /// HTTP 429 with `Retry-After: <seconds>` and error 900 (Jackett, a throttled tracker).
    Throttled(u64),
    /// HTTP 200 with this body for every API call (a captured reply); every `/dl/` path serves
    /// [`torrent_file`] of the path.
    Fixture(String),
}

/// One request that reached the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorznabCall {
    pub path: String,
    /// The `{id}` path segment, when the path had Jackett's form.
    pub indexer_id: Option<String>,
    /// Decoded query parameters, in order.
    pub params: Vec<(String, String)>,
}

impl TorznabCall {
    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The `t` parameter (`caps`, `movie`, `tvsearch`, `search`).
    pub fn t(&self) -> Option<&str> {
        self.param("t")
    }
}

#[derive(Debug, Default)]
struct FakeState {
    api_key: String,
    title: String,
    releases: Vec<Release>,
    mode: Mode,
    calls: Vec<TorznabCall>,
    downloads: Vec<String>,
    caps: CapsKind,
    /// Size of the huge bodies; `None` is [`HUGE_BODY_BYTES`].
    huge_body_bytes: Option<usize>,
}

/// The fake's state and router, without a socket: clone it freely. [`FakeTorznab`] derefs to
/// this, so the methods below are called on the running fake directly.
#[derive(Debug, Clone)]
pub struct TorznabControl {
    state: Arc<Mutex<FakeState>>,
}

impl TorznabControl {
    pub fn new(api_key: &str) -> Self {
        let state =
            FakeState { api_key: api_key.to_string(), title: "Fake Torznab".to_string(), ..FakeState::default() };
        Self { state: Arc::new(Mutex::new(state)) }
    }

    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The router, for serving it yourself (e.g. in the devstack on a fixed port).
    pub fn router(&self) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }

    pub fn api_key(&self) -> String {
        self.lock().api_key.clone()
    }

    pub fn set_api_key(&self, api_key: &str) {
        self.lock().api_key = api_key.to_string();
    }

    /// The channel title (Jackett puts the indexer's name there).
    pub fn set_title(&self, title: &str) {
        self.lock().title = title.to_string();
    }

    pub fn add_release(&self, release: Release) {
        self.lock().releases.push(release);
    }

    pub fn add_releases(&self, releases: impl IntoIterator<Item = Release>) {
        self.lock().releases.extend(releases);
    }

    pub fn clear_releases(&self) {
        self.lock().releases.clear();
    }

    pub fn set_mode(&self, mode: Mode) {
        self.lock().mode = mode;
    }

    pub fn mode(&self) -> Mode {
        self.lock().mode.clone()
    }

    /// The size of the [`Mode::HugeBody`] and [`Mode::HugeChunkedBody`] answers (default
    /// [`HUGE_BODY_BYTES`]), e.g. 50 MB.
    pub fn set_huge_body_bytes(&self, bytes: usize) {
        self.lock().huge_body_bytes = Some(bytes);
    }

    /// Every request so far, oldest first.
    pub fn calls(&self) -> Vec<TorznabCall> {
        self.lock().calls.clone()
    }

    pub fn call_count(&self) -> usize {
        self.lock().calls.len()
    }

    /// How many requests had `t=<t>`.
    pub fn count_t(&self, t: &str) -> usize {
        self.lock().calls.iter().filter(|c| c.t() == Some(t)).count()
    }

    /// Searches: every call but `t=caps` (which a client reads once before its first search).
    pub fn search_count(&self) -> usize {
        self.lock().calls.iter().filter(|c| c.t() != Some("caps")).count()
    }

    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    pub fn set_caps(&self, caps: CapsKind) {
        self.lock().caps = caps;
    }

    /// The `/dl/…` paths requested, oldest first (with their query in [`Mode::Fixture`]).
    pub fn downloads(&self) -> Vec<String> {
        self.lock().downloads.clone()
    }
}

/// A running fake on 127.0.0.1:0. Dropping it stops the server.
pub struct FakeTorznab {
    control: TorznabControl,
    server: Running,
}

impl Deref for FakeTorznab {
    type Target = TorznabControl;

    fn deref(&self) -> &TorznabControl {
        &self.control
    }
}

impl FakeTorznab {
    /// Starts a fake that requires `api_key`.
    pub async fn start(api_key: &str) -> Self {
        let control = TorznabControl::new(api_key);
        let server = serve(control.router()).await;
        Self { control, server }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.url()
    }

    /// The Torznab URL of indexer `{id}` as Jackett shows it, without the trailing `/api`:
    /// `http://127.0.0.1:PORT/api/v2.0/indexers/{id}/results/torznab`.
    pub fn torznab_url_for(&self, indexer_id: &str) -> String {
        format!("{}/api/v2.0/indexers/{indexer_id}/results/torznab", self.base_url())
    }

    /// [`Self::torznab_url_for`] the aggregate indexer `all`.
    pub fn torznab_url(&self) -> String {
        self.torznab_url_for("all")
    }

    /// A handle to the state that outlives nothing: for moving into tasks.
    pub fn control(&self) -> TorznabControl {
        self.control.clone()
    }
}

/// `/api/v2.0/indexers/{id}/results/torznab/api` → `{id}`.
fn indexer_id(path: &str) -> Option<String> {
    let id = path.strip_prefix("/api/v2.0/indexers/")?.strip_suffix("/results/torznab/api")?;
    (!id.is_empty() && !id.contains('/')).then(|| id.to_string())
}

async fn handle(
    State(control): State<TorznabControl>,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let path = uri.path().to_string();
    let fixture = matches!(control.lock().mode, Mode::Fixture(_));
    if path.starts_with("/dl/") || (fixture && indexer_id(&path).is_none()) {
        let link = if fixture { uri.path_and_query().map_or(path.clone(), |p| p.to_string()) } else { path };
        return download(&control, &link);
    }
    let id = indexer_id(&path);
    let (mode, api_key, title, huge, caps) = {
        let mut state = control.lock();
        state.calls.push(TorznabCall { path: path.clone(), indexer_id: id.clone(), params: params.clone() });
        (
            state.mode.clone(),
            state.api_key.clone(),
            state.title.clone(),
            state.huge_body_bytes.unwrap_or(HUGE_BODY_BYTES),
            state.caps,
        )
    };
    if id.is_none() {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match mode {
        Mode::Normal => {}
        Mode::Slow(delay) => tokio::time::sleep(delay).await,
        Mode::ServerError => return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response(),
        Mode::InvalidXml => {
            return xml(r#"<?xml version="1.0"?><rss><channel><item><title>broken</item></channel>"#.to_string())
        }
        Mode::HugeBody => return xml(huge_feed(huge)),
        Mode::HugeChunkedBody => {
            let body = Body::from_stream(Body::from(huge_feed(huge)).into_data_stream());
            return ([(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")], body).into_response();
        }
        Mode::Throttled(seconds) => {
            let body = error_document(900, "Request limit reached, retry later");
            let headers = [
                (header::CONTENT_TYPE, "application/xml; charset=utf-8".to_string()),
                (header::RETRY_AFTER, seconds.to_string()),
            ];
            return (StatusCode::TOO_MANY_REQUESTS, headers, body).into_response();
        }
        Mode::Fixture(body) => return xml(body),
    }
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if param("apikey") != Some(api_key.as_str()) {
        return xml(error_document(100, "Invalid API Key"));
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let base = format!("http://{host}");
    match param("t") {
        None => xml(error_document(200, "Missing parameter (t)")),
        Some("caps") if caps == CapsKind::QueryOnly => xml(CAPS_QUERY_ONLY.to_string()),
        Some("movie" | "tvsearch") if caps == CapsKind::StaleImdbId && param("imdbid").is_some() => {
            control.lock().caps = CapsKind::QueryOnly;
            let body = error_document(203, "Function Not Available: imdbid");
            (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/xml; charset=utf-8")], body).into_response()
        }
        Some("caps") => xml(CAPS.to_string()),
        Some("movie" | "tvsearch") if caps == CapsKind::QueryOnly && param("imdbid").is_some() => {
            let body =
                error_document(203, "Function Not Available: imdbid is not supported for movie search by this indexer");
            (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/xml; charset=utf-8")], body).into_response()
        }
        Some(t @ ("movie" | "tvsearch" | "search")) => {
            let releases: Vec<Release> =
                control.lock().releases.iter().filter(|r| r.matches(t, &params)).cloned().collect();
            let all = control.lock().releases.clone();
            xml(feed(&title, &base, &api_key, &releases, &all))
        }
        Some(_) => xml(error_document(202, "No such function")),
    }
}

/// A `/dl/…` request: `/dl/{kind}/{release index}` or, in [`Mode::Fixture`], any path.
fn download(control: &TorznabControl, path: &str) -> Response {
    let (mode, releases) = {
        let mut state = control.lock();
        state.downloads.push(path.to_string());
        (state.mode.clone(), state.releases.clone())
    };
    let torrent = |bytes: Vec<u8>| ([(header::CONTENT_TYPE, "application/x-bittorrent")], bytes).into_response();
    if matches!(mode, Mode::Fixture(_)) {
        if path.split('?').next().is_some_and(|p| p.ends_with(".nzb")) {
            let nzb =
                r#"<?xml version="1.0" encoding="UTF-8"?><nzb xmlns="http://www.newzbin.com/DTD/2003/nzb"></nzb>"#;
            return ([(header::CONTENT_TYPE, "application/x-nzb")], nzb).into_response();
        }
        return torrent(torrent_file(path).0);
    }
    let mut parts = path.trim_start_matches("/dl/").splitn(2, '/');
    let (kind, index) = (parts.next().unwrap_or_default(), parts.next().and_then(|i| i.parse::<usize>().ok()));
    let Some(release) = index.and_then(|i| releases.get(i)) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    match kind {
        "file" => torrent(torrent_file(&release.title).0),
        "magnet" => {
            let magnet = format!("magnet:?xt=urn:btih:{}&dn={}", release.info_hash, release.title.replace(' ', "+"));
            (StatusCode::FOUND, [(header::LOCATION, magnet)]).into_response()
        }
        "broken" => torrent(b"<html>this is not a torrent</html>".to_vec()),
        "huge" => torrent(vec![b'x'; 3 * 1024 * 1024]),
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")], body).into_response()
}

fn error_document(code: u32, description: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error code=\"{code}\" description=\"{}\" />",
        escape(description)
    )
}

const CAPS_QUERY_ONLY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<caps>
  <server title="Jackett" />
  <limits default="100" max="100" />
  <searching>
    <search available="yes" supportedParams="q" />
    <tv-search available="yes" supportedParams="q,season,ep" />
    <movie-search available="yes" supportedParams="q" />
  </searching>
  <categories>
    <category id="2000" name="Movies" />
    <category id="5000" name="TV" />
  </categories>
</caps>"#;

const CAPS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<caps>
  <server title="Jackett" />
  <limits default="100" max="100" />
  <searching>
    <search available="yes" supportedParams="q" />
    <tv-search available="yes" supportedParams="q,season,ep,imdbid" />
    <movie-search available="yes" supportedParams="q,imdbid" />
    <music-search available="no" supportedParams="q" />
    <audio-search available="no" supportedParams="q" />
    <book-search available="no" supportedParams="q" />
  </searching>
  <categories>
    <category id="2000" name="Movies" />
    <category id="5000" name="TV" />
  </categories>
</caps>"#;

/// XML text/attribute escaping.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(ch),
        }
    }
    out
}

/// RFC 4648 base32 (no padding) of a 40-hex-digit hash: 32 characters.
pub fn hex_to_base32(hex: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| hex.get(2 * i..2 * i + 2))
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect();
    let mut out = String::new();
    let mut bits: u32 = 0;
    let mut pending = 0;
    for byte in bytes {
        bits = (bits << 8) | u32::from(byte);
        pending += 8;
        while pending >= 5 {
            pending -= 5;
            out.push(char::from(ALPHABET[((bits >> pending) & 31) as usize]));
        }
        bits &= (1 << pending) - 1;
    }
    if pending > 0 {
        out.push(char::from(ALPHABET[((bits << (5 - pending)) & 31) as usize]));
    }
    out
}

fn feed(title: &str, base: &str, api_key: &str, releases: &[Release], all: &[Release]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:torznab="http://torznab.com/schemas/2015/feed">
  <channel>
    <atom:link href="{base}/api" rel="self" type="application/rss+xml" />
    <title>{}</title>
    <description>A fake Torznab indexer</description>
    <link>{base}/</link>
    <language>en-US</language>
    <category>search</category>
"#,
        escape(title)
    );
    for (i, release) in releases.iter().enumerate() {
        let global = all.iter().position(|r| r == release).unwrap_or(i);
        item(&mut out, i, global, base, api_key, release);
    }
    out.push_str("  </channel>\n</rss>\n");
    out
}

fn item(out: &mut String, index: usize, global: usize, base: &str, api_key: &str, r: &Release) {
    let torrent_link = match r.hash_in {
        HashIn::TorrentFile => format!("{base}/dl/file/{global}?jackett_apikey={api_key}"),
        HashIn::MagnetRedirect => format!("{base}/dl/magnet/{global}?jackett_apikey={api_key}"),
        HashIn::BrokenTorrent => format!("{base}/dl/broken/{global}?jackett_apikey={api_key}"),
        HashIn::HugeTorrent => format!("{base}/dl/huge/{global}?jackett_apikey={api_key}"),
        _ => format!("{base}/dl/fake/?jackett_apikey={api_key}&path={index}&file={}", r.info_hash),
    };
    let dn = r.title.replace(' ', "+");
    let magnet_hex = format!("magnet:?xt=urn:btih:{}&dn={dn}&tr=udp%3A%2F%2Ftracker.example%3A1337", r.info_hash);
    let magnet_b32 = format!("magnet:?xt=urn:btih:{}&dn={dn}", hex_to_base32(&r.info_hash));
    let link = if r.hash_in == HashIn::LinkMagnet { magnet_hex.clone() } else { torrent_link.clone() };
    let category = if r.season.is_some() { 5000 } else { 2000 };
    let _ = write!(
        out,
        r#"    <item>
      <title>{title}</title>
      <guid>{guid}</guid>
      <jackettindexer id="fake">Fake</jackettindexer>
      <type>public</type>
      <comments>{base}/details/{index}</comments>
      <pubDate>Mon, 01 Jan 2024 00:00:00 +0000</pubDate>
      <size>{size}</size>
      <grabs>5</grabs>
      <description />
      <link>{link}</link>
      <category>{category}</category>
      <enclosure url="{enclosure}" length="{size}" type="application/x-bittorrent" />
      <torznab:attr name="category" value="{category}" />
      <torznab:attr name="seeders" value="{seeders}" />
      <torznab:attr name="peers" value="{peers}" />
      <torznab:attr name="size" value="{size}" />
"#,
        title = escape(&r.title),
        guid = escape(&format!("{base}/details/{index}")),
        size = r.size,
        link = escape(&link),
        enclosure = escape(&torrent_link),
        seeders = r.seeders,
        peers = r.peers,
    );
    let (infohash, magnet) = match r.hash_in {
        HashIn::InfohashAttr => (Some(r.info_hash.as_str()), Some(&magnet_hex)),
        HashIn::MagnetHex => (None, Some(&magnet_hex)),
        HashIn::MagnetBase32 => (None, Some(&magnet_b32)),
        _ => (None, None),
    };
    if let Some(hash) = infohash {
        let _ = writeln!(out, r#"      <torznab:attr name="infohash" value="{hash}" />"#);
    }
    if let Some(magnet) = magnet {
        let _ = writeln!(out, r#"      <torznab:attr name="magneturl" value="{}" />"#, escape(magnet));
    }
    out.push_str(
        "      <torznab:attr name=\"downloadvolumefactor\" value=\"0\" />\n      <torznab:attr name=\"uploadvolumefactor\" value=\"1\" />\n    </item>\n",
    );
}

/// A feed padded with a comment to `bytes` bytes.
fn huge_feed(bytes: usize) -> String {
    let head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><!--";
    let tail = "--></channel></rss>\n";
    let mut out = String::with_capacity(bytes.max(head.len() + tail.len()));
    out.push_str(head);
    out.push_str(&"x".repeat(bytes.saturating_sub(head.len() + tail.len())));
    out.push_str(tail);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_of_a_known_hash() {
        assert_eq!(hex_to_base32("c12fe1c06bba254a9dc9f519b335aa7c1367a88a"), "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK");
    }

    #[test]
    fn season_packs_match_any_episode_of_their_season() {
        let pack = Release::season_pack("tt0903747", 1, "Pack", &"a".repeat(40));
        let ep2 = Release::episode("tt0903747", 1, 2, "E2", &"b".repeat(40));
        let q = |s: &str, e: &str| {
            vec![
                ("imdbid".to_string(), "tt0903747".to_string()),
                ("season".to_string(), s.to_string()),
                ("ep".to_string(), e.to_string()),
            ]
        };
        assert!(pack.matches("tvsearch", &q("1", "5")));
        assert!(!pack.matches("tvsearch", &q("2", "5")));
        assert!(ep2.matches("tvsearch", &q("1", "2")));
        assert!(!ep2.matches("tvsearch", &q("1", "3")));
        assert!(!ep2.matches("movie", &q("1", "2")));
    }

    #[test]
    fn jackett_paths() {
        assert_eq!(indexer_id("/api/v2.0/indexers/all/results/torznab/api").as_deref(), Some("all"));
        assert_eq!(indexer_id("/api/v2.0/indexers/all/results/torznab"), None);
        assert_eq!(indexer_id("/api/v2.0/indexers/all/results/torznab/api/api"), None);
    }
}
