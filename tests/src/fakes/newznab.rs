//! A fake Newznab indexer, per the Newznab API as indexers implement it
//! (`/work/shared/reference/usenet.md` §1): `GET {base}/api?t=<function>&apikey=<key>&…` (any path
//! ending in `/api`, so Prowlarr's `/{id}/api` works too), XML replies.
//!
//! - **`t=caps`** needs no key (NNTmux skips the check). What it announces is [`CapsKind`]:
//!   [`CapsKind::Full`] (NZBFinder's: movie-search `q,imdbid`, tv-search
//!   `q,rid,tvdbid,imdbid,season,ep`), [`CapsKind::TvWithoutImdb`] (DOGnzb's tv-search
//!   `q,rid,tvdbid,season,ep`), [`CapsKind::QueryOnly`] (`q` everywhere) and
//!   [`CapsKind::NoSupportedParams`] (Sonarr's captured caps: no `supportedParams` at all).
//! - **API key.** Every other function needs `apikey=<key>`; a missing or wrong one is **HTTP
//!   200** with `<error code="100" description="Incorrect user credentials"/>` (SPEC §5).
//! - **Searches.** `t=search` (`q`), `t=movie` (`imdbid`, `q`), `t=tvsearch` (`imdbid`, `season`,
//!   `ep`, `q`; `season` may be `1` or `S01`, `ep` `2` or `E02`). `imdbid` is digits (SPEC
//!   §2.5); a `tt…` value is error **201** "Incorrect parameter (imdbid)" (what Prowlarr
//!   answers). A parameter the caps do not announce for that function is error **203**
//!   "Function not available" (so a client that sends one is caught). No `t` is error 200,
//!   another `t` error 202. `q` matches titles holding every word.
//! - **Items**: title, `guid`, `<link>` and an `application/x-nzb` enclosure (same URL, with
//!   `length`), `pubDate`, `newznab:attr` `category`, `size`, `grabs`, `usenetdate`, and
//!   `imdb` (digits). The NZB link's form is [`LinkForm`] (default: the `t=get` API link); every
//!   form carries the key.
//! - **`t=get&id=`** (with the key) answers an NZB document (`application/x-nzb`) of the release;
//!   an unknown id is error 300. [`NewznabControl::nzb_fetches`] counts them.
//! - **Modes** ([`Mode`]): slow (sleep, then answer), HTTP 500, auth failure (error 100 whatever
//!   the key), a limit ([`Mode::Limited`]: error 429 with **HTTP 429** and `Retry-After`, as
//!   Prowlarr sends; or 500/501/910 with HTTP 200, as NNTmux and others do), and a fixed reply to
//!   searches (a captured feed; caps are still answered).
//! - **Calls.** Every request is recorded ([`NewznabCall`]) before the mode applies.

use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::torznab::escape;
use super::{serve, Running};

/// What `t=caps` announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CapsKind {
    #[default]
    Full,
    TvWithoutImdb,
    QueryOnly,
    NoSupportedParams,
}

impl CapsKind {
    /// The parameters `function` (`search`, `movie`, `tvsearch`) takes, as announced (or as
    /// clients assume when nothing is announced).
    fn params(self, function: &str) -> &'static [&'static str] {
        match (self, function) {
            (_, "search") => &["q"],
            (CapsKind::Full, "movie") | (CapsKind::TvWithoutImdb, "movie") => &["q", "imdbid"],
            (CapsKind::Full, "tvsearch") => &["q", "rid", "tvdbid", "imdbid", "season", "ep"],
            (CapsKind::TvWithoutImdb, "tvsearch") => &["q", "rid", "tvdbid", "season", "ep"],
            (CapsKind::QueryOnly | CapsKind::NoSupportedParams, "tvsearch") => &["q", "season", "ep"],
            _ => &["q"],
        }
    }

    fn document(self) -> String {
        let function = |tag: &str, t: &str| match self {
            CapsKind::NoSupportedParams => format!(r#"<{tag} available="yes"/>"#),
            _ => format!(r#"<{tag} available="yes" supportedParams="{}"/>"#, self.params(t).join(",")),
        };
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<caps>
  <server version="1.0" title="FakeNewznab" />
  <limits max="100" default="100"/>
  <searching>
    {}
    {}
    {}
    <audio-search available="no" supportedParams="q"/>
  </searching>
  <categories>
    <category id="2000" name="Movies"><subcat id="2040" name="HD"/></category>
    <category id="5000" name="TV"><subcat id="5040" name="HD"/></category>
  </categories>
</caps>"#,
            function("search", "search"),
            function("tv-search", "tvsearch"),
            function("movie-search", "movie"),
        )
    }
}

/// How an item's NZB link looks (usenet.md §1.5); every form carries the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkForm {
    /// `{base}/api?t=get&id=<guid>&apikey=<key>` (NZBgeek).
    #[default]
    ApiGet,
    /// `{base}/getnzb/<guid>.nzb&i=42&r=<key>` (classic newznab, no `?`).
    Classic,
    /// `{base}/fetch/<guid>/<key>` (DOGnzb).
    KeyInPath,
}

/// One release the fake knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// `tt…`; the fake compares digits.
    pub imdb_id: String,
    pub season: Option<u32>,
    pub episode: Option<u32>,
    pub title: String,
    /// The release's id at the indexer (its `guid`).
    pub guid: String,
    pub size: u64,
    pub grabs: u32,
}

impl Release {
    pub fn movie(imdb_id: &str, title: &str, guid: &str) -> Self {
        Self::new(imdb_id, None, None, title, guid)
    }

    pub fn episode(imdb_id: &str, season: u32, episode: u32, title: &str, guid: &str) -> Self {
        Self::new(imdb_id, Some(season), Some(episode), title, guid)
    }

    fn new(imdb_id: &str, season: Option<u32>, episode: Option<u32>, title: &str, guid: &str) -> Self {
        Self {
            imdb_id: imdb_id.into(),
            season,
            episode,
            title: title.into(),
            guid: guid.into(),
            size: 4_000_000_000,
            grabs: 10,
        }
    }

    pub fn size(mut self, size: u64) -> Self {
        self.size = size;
        self
    }

    pub fn grabs(mut self, grabs: u32) -> Self {
        self.grabs = grabs;
        self
    }
}

/// What the fake answers besides normal replies.
#[derive(Debug, Clone, Default)]
pub enum Mode {
    #[default]
    Normal,
    Slow(Duration),
    ServerError,
    /// Error 100 to everything but caps, whatever the key.
    AuthFailure,
    /// A limit: `code` 429 comes with HTTP 429 and `Retry-After: retry_after_s` (Prowlarr);
    /// 500, 501 and 910 with HTTP 200 (and the header when given).
    Limited {
        code: u32,
        retry_after_s: Option<u64>,
    },
    /// This body answers every search (caps are still answered).
    Fixture(String),
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct NewznabCall {
    pub path: String,
    pub params: Vec<(String, String)>,
}

impl NewznabCall {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn t(&self) -> Option<&str> {
        self.param("t")
    }
}

#[derive(Debug, Default)]
struct FakeState {
    api_key: String,
    caps: CapsKind,
    links: LinkForm,
    mode: Mode,
    releases: Vec<Release>,
    calls: Vec<NewznabCall>,
}

/// The fake's state, shared with the test.
#[derive(Clone, Default)]
pub struct NewznabControl(Arc<Mutex<FakeState>>);

impl NewznabControl {
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn api_key(&self) -> String {
        self.lock().api_key.clone()
    }

    /// Another user's key: the indexer now takes this one.
    pub fn set_api_key(&self, api_key: &str) {
        self.lock().api_key = api_key.to_string();
    }

    pub fn set_caps(&self, caps: CapsKind) {
        self.lock().caps = caps;
    }

    pub fn set_links(&self, links: LinkForm) {
        self.lock().links = links;
    }

    pub fn set_mode(&self, mode: Mode) {
        self.lock().mode = mode;
    }

    pub fn add_release(&self, release: Release) {
        self.lock().releases.push(release);
    }

    pub fn add_releases(&self, releases: impl IntoIterator<Item = Release>) {
        self.lock().releases.extend(releases);
    }

    pub fn calls(&self) -> Vec<NewznabCall> {
        self.lock().calls.clone()
    }

    pub fn call_count(&self) -> usize {
        self.lock().calls.len()
    }

    /// Calls with `t=<t>`.
    pub fn count_t(&self, t: &str) -> usize {
        self.lock().calls.iter().filter(|c| c.t() == Some(t)).count()
    }

    /// Searches (every call but caps and `t=get`).
    pub fn searches(&self) -> Vec<NewznabCall> {
        self.lock().calls.iter().filter(|c| !matches!(c.t(), Some("caps" | "get"))).cloned().collect()
    }

    /// `t=get` calls: NZB downloads.
    pub fn nzb_fetches(&self) -> usize {
        self.count_t("get")
    }

    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }
}

/// A running fake on 127.0.0.1:0. Dropping it stops the server.
pub struct FakeNewznab {
    control: NewznabControl,
    server: Running,
}

impl Deref for FakeNewznab {
    type Target = NewznabControl;

    fn deref(&self) -> &NewznabControl {
        &self.control
    }
}

impl FakeNewznab {
    /// Starts a fake indexer that takes `api_key`.
    pub async fn start(api_key: &str) -> Self {
        let control = NewznabControl::default();
        control.lock().api_key = api_key.to_string();
        let router = Router::new().fallback(handle).with_state(control.clone());
        let server = serve(router).await;
        Self { control, server }
    }

    /// `http://127.0.0.1:PORT`: the URL a user or operator configures (`/api` is added).
    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn control(&self) -> NewznabControl {
        self.control.clone()
    }
}

fn xml(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")], body).into_response()
}

/// `<error code description/>`, as Newznab servers write it.
pub fn error_document(code: u32, description: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error code=\"{code}\" description=\"{}\"/>",
        escape(description)
    )
}

/// A minimal NZB document for `title` (what `t=get` serves).
pub fn nzb_document(title: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nzb PUBLIC "-//newzBin//DTD NZB 1.1//EN" "http://www.newzbin.com/DTD/nzb/nzb-1.1.dtd">
<nzb xmlns="http://www.newzbin.com/DTD/2003/nzb">
  <head><meta type="name">{}</meta></head>
  <file poster="poster@example.com" date="1700000000" subject="&quot;{}.mkv&quot; yEnc (1/1)">
    <groups><group>alt.binaries.example</group></groups>
    <segments><segment bytes="1000" number="1">part1of1@example.com</segment></segments>
  </file>
</nzb>"#,
        escape(title),
        escape(title)
    )
}

fn digits(value: &str) -> Option<u64> {
    let value = value.trim();
    (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())).then(|| value.parse().ok())?
}

fn number(value: &str, prefix: char) -> Option<u32> {
    let value = value.trim();
    let value = value.strip_prefix(prefix).or_else(|| value.strip_prefix(prefix.to_ascii_lowercase())).unwrap_or(value);
    value.parse().ok()
}

async fn handle(
    State(control): State<NewznabControl>,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let path = uri.path().to_string();
    let (mode, api_key, caps, links) = {
        let mut state = control.lock();
        state.calls.push(NewznabCall { path: path.clone(), params: params.clone() });
        (state.mode.clone(), state.api_key.clone(), state.caps, state.links)
    };
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if !path.trim_end_matches('/').ends_with("/api") {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match &mode {
        Mode::Slow(delay) => tokio::time::sleep(*delay).await,
        Mode::ServerError => return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response(),
        _ => {}
    }
    let t = param("t");
    if t == Some("caps") {
        return xml(StatusCode::OK, caps.document());
    }
    match &mode {
        Mode::AuthFailure => return xml(StatusCode::OK, error_document(100, "Incorrect user credentials")),
        Mode::Limited { code, retry_after_s } => {
            let (status, description) = match code {
                429 => (StatusCode::TOO_MANY_REQUESTS, "Query limit reached"),
                501 => (StatusCode::OK, "Download limit reached"),
                910 => (StatusCode::OK, "API Temporarily Disabled (daily maintenance)"),
                _ => (StatusCode::OK, "Request limit reached (100/100)"),
            };
            let mut response = xml(status, error_document(*code, description));
            if let Some(seconds) = retry_after_s {
                if let Ok(value) = seconds.to_string().parse() {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            return response;
        }
        _ => {}
    }
    if param("apikey") != Some(api_key.as_str()) {
        return xml(StatusCode::OK, error_document(100, "Incorrect user credentials"));
    }
    let function = match t {
        None => return xml(StatusCode::OK, error_document(200, "Missing parameter (t)")),
        Some("get") => return get(&control, param("id")),
        Some(function @ ("search" | "movie" | "tvsearch")) => function,
        Some(_) => return xml(StatusCode::OK, error_document(202, "No such function")),
    };
    const NOT_SEARCH: [&str; 6] = ["t", "apikey", "extended", "limit", "offset", "cat"];
    let announced = caps.params(function);
    if let Some((name, _)) =
        params.iter().find(|(k, _)| !NOT_SEARCH.contains(&k.as_str()) && !announced.contains(&k.as_str()))
    {
        return xml(StatusCode::OK, error_document(203, &format!("Function not available: {name}")));
    }
    let imdb = match param("imdbid") {
        Some(id) => match digits(id) {
            Some(id) => Some(id),
            None => return xml(StatusCode::OK, error_document(201, "Incorrect parameter (imdbid)")),
        },
        None => None,
    };
    if let Mode::Fixture(body) = mode {
        return xml(StatusCode::OK, body);
    }
    let season = param("season").and_then(|s| number(s, 'S'));
    let ep = param("ep").and_then(|e| number(e, 'E'));
    let words: Vec<String> =
        param("q").unwrap_or_default().split_whitespace().map(|w| w.to_ascii_lowercase()).collect();
    let releases: Vec<Release> = control
        .lock()
        .releases
        .iter()
        .filter(|r| {
            let id_ok = imdb.is_none_or(|id| digits(r.imdb_id.trim_start_matches("tt")) == Some(id));
            let kind_ok = match function {
                "movie" => r.season.is_none(),
                "tvsearch" => r.season.is_some(),
                _ => true,
            };
            let season_ok = season.is_none_or(|s| r.season == Some(s));
            let ep_ok = ep.is_none_or(|e| r.episode == Some(e));
            let title = r.title.to_ascii_lowercase();
            let words_ok = words.iter().all(|w| title.contains(w.as_str()));
            id_ok && kind_ok && season_ok && ep_ok && words_ok
        })
        .cloned()
        .collect();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    xml(StatusCode::OK, feed(&format!("http://{host}"), &api_key, links, &releases))
}

fn get(control: &NewznabControl, id: Option<&str>) -> Response {
    let release = control.lock().releases.iter().find(|r| Some(r.guid.as_str()) == id).cloned();
    match release {
        Some(release) => ([(header::CONTENT_TYPE, "application/x-nzb")], nzb_document(&release.title)).into_response(),
        None => xml(StatusCode::OK, error_document(300, "No such item")),
    }
}

/// The NZB link of `release` in `form`.
pub fn nzb_link(base: &str, api_key: &str, form: LinkForm, guid: &str) -> String {
    match form {
        LinkForm::ApiGet => format!("{base}/api?t=get&id={guid}&apikey={api_key}"),
        LinkForm::Classic => format!("{base}/getnzb/{guid}.nzb&i=42&r={api_key}"),
        LinkForm::KeyInPath => format!("{base}/fetch/{guid}/{api_key}"),
    }
}

fn feed(base: &str, api_key: &str, form: LinkForm, releases: &[Release]) -> String {
    let mut items = String::new();
    for r in releases {
        let link = escape(&nzb_link(base, api_key, form, &r.guid));
        let category = if r.season.is_some() { 5040 } else { 2040 };
        let imdb = r.imdb_id.trim_start_matches("tt");
        items.push_str(&format!(
            r#"
    <item>
      <title>{title}</title>
      <guid isPermaLink="true">{base}/details/{guid}</guid>
      <link>{link}</link>
      <comments>{base}/details/{guid}#comments</comments>
      <pubDate>Tue, 02 Aug 2016 12:50:06 +0000</pubDate>
      <category>Movies &gt; HD</category>
      <enclosure url="{link}" length="{size}" type="application/x-nzb"/>
      <newznab:attr name="category" value="{parent}"/>
      <newznab:attr name="category" value="{category}"/>
      <newznab:attr name="size" value="{size}"/>
      <newznab:attr name="grabs" value="{grabs}"/>
      <newznab:attr name="usenetdate" value="Tue, 02 Aug 2016 12:50:06 +0000"/>
      <newznab:attr name="imdb" value="{imdb}"/>
    </item>"#,
            title = escape(&r.title),
            guid = escape(&r.guid),
            size = r.size,
            grabs = r.grabs,
            parent = category / 1000 * 1000,
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:newznab="http://www.newznab.com/DTD/2010/feeds/attributes/">
  <channel>
    <atom:link href="{base}/api" rel="self" type="application/rss+xml"/>
    <title>FakeNewznab</title>
    <description>FakeNewznab API results</description>
    <link>{base}/</link>
    <newznab:response offset="0" total="{total}"/>{items}
  </channel>
</rss>"#,
        total = releases.len()
    )
}
