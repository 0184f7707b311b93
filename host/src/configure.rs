//! The configure page (`GET /stremio/torz/configure`, `GET /stremio/torz/{config}/configure`)
//! and its credential check (`POST /stremio/torz/configure/check`).
//!
//! The page is rendered here, with inline CSS and a little vanilla JS and no external resource,
//! so it works offline. Every value from the request or the user's config is HTML-escaped and
//! goes into element content or double-quoted attributes only; the script is a constant (its
//! data comes from `data-` attributes), so the Content-Security-Policy can name it by hash.
//!
//! The check answers, per store, whether the auth chain grants a credential and what the store
//! says about the account behind it (its subscription status only). It never returns a token, a
//! pool key, an account id or an email address.

use std::net::SocketAddr;
use std::sync::LazyLock;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, MethodRouter};
use axum::Json;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD as BASE64, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use chillproxy_core::{AuthPurpose, AuthRequest, DeviceId, StoreEntry, StoreError, UserIndexer};
use futures::future::join_all;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::client::{public_base_url, ClientInfo};
use crate::streams::{auth_problem, store_problem};
use crate::userconfig::{UserConfig, MAX_ENCODED_BYTES, MAX_INDEXERS, MAX_STORES};
use crate::AppState;

/// The largest check request body read.
pub const MAX_CHECK_BODY_BYTES: usize = 16 * 1024;

/// The name of the auth plugin whose user id field the page shows.
const CHILLSTREAMS: &str = "chillstreams";

// ---------------------------------------------------------------------------------------------
// Handlers

/// `GET /stremio/torz/configure`: an empty form.
pub async fn page(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let base = public_base_url(peer, &headers, &state.config().server);
    let choices = store_choices(&state);
    let chillstreams = state.plugins().auth.provider(CHILLSTREAMS).is_some();
    html_response(render(&Page { base_url: &base, stores: &choices, chillstreams, config: None, problem: None }))
}

/// `GET /stremio/torz/{config}/configure`: the form filled from the user's config. A config the
/// server rejects is still shown (when it is readable at all) under a banner naming the problem.
pub async fn page_with_config(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(segment): Path<String>,
) -> Response {
    let base = public_base_url(peer, &headers, &state.config().server);
    let choices = store_choices(&state);
    let chillstreams = state.plugins().auth.provider(CHILLSTREAMS).is_some();
    let (config, problem) = match state.decode_user_config(&segment) {
        Ok(config) => (Some(config), None),
        Err(problem) => (read_unvalidated(&segment), Some(problem.0)),
    };
    html_response(render(&Page {
        base_url: &base,
        stores: &choices,
        chillstreams,
        config: config.as_ref(),
        problem: problem.as_deref(),
    }))
}

/// The check route: `POST` with the JSON user config as the body, at most
/// [`MAX_CHECK_BODY_BYTES`].
pub fn check_route() -> MethodRouter<AppState> {
    post(check).layer(DefaultBodyLimit::max(MAX_CHECK_BODY_BYTES))
}

/// The check's answer for one store entry, in config order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreCheck {
    /// The store code from the config.
    pub c: String,
    /// The store's display name.
    pub name: String,
    /// A credential was granted and the store accepted it.
    pub ok: bool,
    /// The auth provider that granted the credential (`chillstreams`, `token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<&'static str>,
    /// What the store says about the account. Only the subscription status: the account id and
    /// email are personal data and are left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountStatus>,
    /// What happened, for the user (the stream list's wording on failures).
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountStatus {
    /// `premium`, `trial` or `expired`.
    pub subscription: String,
}

#[derive(Debug, Serialize)]
struct CheckAnswer {
    stores: Vec<StoreCheck>,
}

/// An invalid config (or body): the server's rule, and the field it is about when it names one
/// (`stores[0].c`, `indexers[1].u`).
#[derive(Debug, Serialize)]
struct CheckProblem {
    problem: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

async fn check(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) if body.len() <= MAX_CHECK_BODY_BYTES => body,
        Ok(_) => return too_large(),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
        Err(_) => return problem_response(StatusCode::BAD_REQUEST, "could not read the request body".into()),
    };
    // Validate exactly as the manifest URL will be: the same encoding, the same rules.
    let segment = URL_SAFE_NO_PAD.encode(&body);
    let config = match state.decode_user_config(&segment) {
        Ok(config) => config,
        Err(problem) => return problem_response(StatusCode::UNPROCESSABLE_ENTITY, problem.0),
    };
    let client = ClientInfo::from_request(peer, &headers, &state.config().server);
    let stores = join_all(config.stores.iter().map(|entry| check_store(&state, entry, &client.device))).await;
    let ok = stores.iter().filter(|s| s.ok).count();
    tracing::info!(stores = stores.len(), ok, "configure check");
    no_store(Json(CheckAnswer { stores }).into_response())
}

fn too_large() -> Response {
    problem_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the config is larger than {MAX_CHECK_BODY_BYTES} bytes; at most {MAX_ENCODED_BYTES} encoded bytes are accepted"),
    )
}

fn problem_response(status: StatusCode, problem: String) -> Response {
    let field = problem_field(&problem);
    no_store((status, Json(CheckProblem { problem, field })).into_response())
}

/// The field a [`crate::userconfig::ConfigProblem`] names: its text up to the first `:` when
/// that is a path such as `stores[0].c` or `indexers`.
fn problem_field(problem: &str) -> Option<String> {
    let (head, _) = problem.split_once(':')?;
    let is_path = (head.starts_with("stores") || head.starts_with("indexers"))
        && head.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'[' | b']' | b'.'));
    is_path.then(|| head.to_string())
}

/// Asks the auth chain for a credential for `entry` (as the configure purpose, for this
/// device) and the store for the account behind it. A credential the store rejects is
/// forgotten and asked for again, once, as the stream list does.
async fn check_store(state: &AppState, entry: &StoreEntry, device: &DeviceId) -> StoreCheck {
    let plugins = state.plugins();
    let mut answer = StoreCheck {
        c: entry.c.clone(),
        name: entry.c.clone(),
        ok: false,
        auth: None,
        account: None,
        message: String::new(),
    };
    let Some(store) = plugins.store_by_code(&entry.c) else {
        answer.message = "This server does not offer this store.".into();
        return answer;
    };
    let name = store.display_name();
    answer.name = name.to_string();
    let request = AuthRequest { entry, device, purpose: AuthPurpose::Configure };
    let mut credential = match plugins.auth.resolve(&request).await {
        Ok(credential) => credential,
        Err(error) => {
            answer.message = auth_problem(name, &error).1;
            return answer;
        }
    };
    let mut result = store.account(&credential).await;
    if matches!(result, Err(StoreError::Unauthorized { .. })) && plugins.auth.invalidate(&request, &credential).await {
        if let Ok(again) = plugins.auth.resolve(&request).await {
            result = store.account(&again).await;
            credential = again;
        }
    }
    answer.auth = Some(credential.provider);
    match result {
        Ok(account) => {
            let subscription: String = account.subscription.chars().take(32).collect();
            answer.ok = true;
            answer.message = granted_message(entry, credential.provider, name, &subscription);
            answer.account = Some(AccountStatus { subscription });
        }
        Err(error) => answer.message = store_problem(name, &error).1,
    }
    answer
}

fn granted_message(entry: &StoreEntry, provider: &str, store: &str, subscription: &str) -> String {
    let who = match provider {
        CHILLSTREAMS => "The Chillstreams credential".to_string(),
        "token" => "Your API token".to_string(),
        other => format!("The {other} credential"),
    };
    let mut message = format!("{who} works: the {store} account is {subscription}.");
    if entry.auth().is_some() && provider != CHILLSTREAMS {
        message.push_str(" Your Chillstreams user id was not used for it; your own API token was.");
    }
    if subscription == "expired" {
        message.push_str(" The account has no active plan, so streams may not play.");
    }
    message
}

// ---------------------------------------------------------------------------------------------
// The page model

/// One store the form offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreChoice {
    pub code: String,
    pub name: String,
    /// `false` for registered stubs: listed, marked "not available yet".
    pub available: bool,
}

/// Everything the page shows.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// The public base URL, for the manifest and install links.
    pub base_url: &'a str,
    /// The enabled stores, in the operator's order.
    pub stores: &'a [StoreChoice],
    /// The chillstreams auth plugin is active: show the user id field.
    pub chillstreams: bool,
    /// The user's config to fill the form with (their own, from their URL).
    pub config: Option<&'a UserConfig>,
    /// Why the user's config is invalid.
    pub problem: Option<&'a str>,
}

/// The enabled stores; a stub (its plugin summary says "stub") is marked unavailable.
fn store_choices(state: &AppState) -> Vec<StoreChoice> {
    let active = &state.config().store.active;
    state
        .plugins()
        .stores
        .iter()
        .map(|store| {
            let stub = active
                .iter()
                .find(|d| d.name == store.name())
                .is_some_and(|d| d.summary.to_ascii_lowercase().contains("stub"));
            StoreChoice { code: store.code().to_string(), name: store.display_name().to_string(), available: !stub }
        })
        .collect()
}

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const LENIENT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// A config the server rejected, read without its rules, so the form can show it for fixing.
fn read_unvalidated(segment: &str) -> Option<UserConfig> {
    let segment = segment.trim();
    if segment.len() > 2 * MAX_ENCODED_BYTES {
        return None;
    }
    let bytes = LENIENT_STANDARD.decode(segment).or_else(|_| LENIENT_URL_SAFE.decode(segment)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            ch => out.push(ch),
        }
    }
    out
}

/// The whole page.
pub fn render(page: &Page<'_>) -> String {
    let config = page.config;
    let mut stores = String::new();
    match config.map(|c| c.stores.as_slice()) {
        Some(entries) if !entries.is_empty() => {
            for (i, entry) in entries.iter().enumerate() {
                stores.push_str(&store_row(page, i + 1, Some(entry)));
            }
        }
        _ => stores.push_str(&store_row(page, 1, None)),
    }
    let mut indexers = String::new();
    for (i, indexer) in config.map(|c| c.indexers.as_slice()).unwrap_or_default().iter().enumerate() {
        indexers.push_str(&indexer_row(i + 1, Some(indexer)));
    }
    let cached = if config.is_some_and(|c| c.cached) { " checked" } else { "" };
    let banner = match (page.problem, config.is_some()) {
        (Some(problem), _) => format!(
            "<div class=\"banner bad\" role=\"alert\"><strong>This configuration has a problem:</strong> {}. Fix it \
             below, then reinstall the addon with the new link.</div>",
            escape(problem)
        ),
        (None, true) => "<div class=\"banner\">Editing your current configuration. After a change, reinstall the \
                         addon with the new link.</div>"
            .to_string(),
        (None, false) => String::new(),
    };
    let no_stores = if page.stores.is_empty() {
        "<p class=\"err\">This server has no debrid store enabled; tell its operator.</p>"
    } else {
        ""
    };
    let chillstreams_hint = if page.chillstreams {
        " Chillstreams members: enter your Chillstreams user id instead of a token; the TorBox key is provided \
         for you and never shown. With both, Chillstreams is tried first, then your token."
    } else {
        ""
    };
    format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>chillproxy · Configure</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Crect width='32' height='32' rx='8' fill='%237c3aed'/%3E%3Ctext x='16' y='23' font-size='20' text-anchor='middle' fill='white'%3E%E2%9D%84%3C/text%3E%3C/svg%3E">
<style>{STYLE}</style>
</head>
<body>
<main id="app" data-base="{base}" data-max-stores="{MAX_STORES}" data-max-indexers="{MAX_INDEXERS}" data-max-bytes="{MAX_ENCODED_BYTES}" data-chillstreams="{chillstreams}" data-prefilled="{prefilled}">
<header>
<div class="logo" aria-hidden="true">❄</div>
<div><h1>chillproxy</h1><p>Torz addon for Stremio · streams from your debrid service</p></div>
</header>
<noscript><div class="banner bad">This page needs JavaScript to build your install link.</div></noscript>
{banner}
<form id="form" novalidate autocomplete="off">
<section class="card">
<h2>Debrid stores</h2>
<p class="hint">Up to {MAX_STORES}. Streams come from the first store that has a torrent ready.{chillstreams_hint}</p>
{no_stores}
<div id="stores">
{stores}</div>
<button type="button" class="ghost" id="add-store">+ Add store</button>
</section>
<section class="card">
<h2>Your indexers <span class="tag">optional</span></h2>
<p class="hint">Torznab endpoints (Jackett, Prowlarr), searched next to this server's own. Up to {MAX_INDEXERS}.</p>
<div id="indexers">
{indexers}</div>
<button type="button" class="ghost" id="add-indexer">+ Add indexer</button>
</section>
<section class="card">
<label class="switch"><input type="checkbox" id="cached" name="cached"{cached}><span class="knob" aria-hidden="true"></span><span><strong>Cached only</strong><br><small>Only list torrents a store already has, which play at once.</small></span></label>
</section>
<section class="card" id="install-card">
<h2>Check &amp; install</h2>
<p class="hint">Check asks each store whether your credentials work. Your keys are never shown back.</p>
<div class="actions"><button type="submit" class="secondary" id="check">Check</button><span id="check-status" class="status" role="status" aria-live="polite"></span></div>
<p class="err form-error" id="form-error"></p>
<div class="field install-url"><span>Manifest URL</span>
<div class="copyrow"><input id="manifest" readonly spellcheck="false" placeholder="Fill in a store to get your link" aria-label="Manifest URL"><button type="button" id="copy" disabled>Copy</button></div></div>
<div class="actions"><a id="install" class="button primary disabled" aria-disabled="true">Install in Stremio</a><small class="muted">or paste the manifest URL into Stremio's addon search</small></div>
</section>
</form>
<template id="store-template">{store_template}</template>
<template id="indexer-template">{indexer_template}</template>
<footer>chillproxy {version} · your config lives only in your install link</footer>
</main>
<script>{SCRIPT}</script>
</body>
</html>
"##,
        base = escape(page.base_url),
        chillstreams = if page.chillstreams { "1" } else { "0" },
        prefilled = if config.is_some() || page.problem.is_some() { "1" } else { "0" },
        store_template = store_row(page, 1, None),
        indexer_template = indexer_row(1, None),
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// One store entry of the form. `entry` fills it; `None` selects the first available store.
fn store_row(page: &Page<'_>, number: usize, entry: Option<&StoreEntry>) -> String {
    let wanted = entry.map(|e| e.c.as_str());
    let default = page.stores.iter().find(|s| s.available).or(page.stores.first()).map(|s| s.code.as_str());
    let selected_code = wanted.or(default);
    let mut options = String::new();
    for store in page.stores {
        let selected = if Some(store.code.as_str()) == selected_code { " selected" } else { "" };
        let (stub, suffix) = if store.available { ("", "") } else { (" data-stub", " — not available yet") };
        options.push_str(&format!(
            "<option value=\"{code}\"{selected}{stub}>{name}{suffix}</option>",
            code = escape(&store.code),
            name = escape(&store.name),
        ));
    }
    if let Some(code) = wanted.filter(|c| !page.stores.iter().any(|s| s.code == *c)) {
        let shown = if code.is_empty() { "(no store)" } else { code };
        options.push_str(&format!(
            "<option value=\"{code}\" selected data-unknown>{shown} — not offered here</option>",
            code = escape(code),
            shown = escape(shown),
        ));
    }
    let selected_stub = page.stores.iter().any(|s| Some(s.code.as_str()) == selected_code && !s.available);
    let token = entry.and_then(|e| e.t.as_ref()).map(|t| t.expose()).unwrap_or_default();
    let auth = entry.and_then(|e| e.auth.as_deref()).unwrap_or_default();
    let auth_field = if page.chillstreams {
        format!(
            "<label class=\"field wide\"><span>Chillstreams user id</span><input name=\"auth\" value=\"{}\" \
             placeholder=\"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\" spellcheck=\"false\" autocomplete=\"off\" \
             autocapitalize=\"off\"><small class=\"err\"></small></label>",
            escape(auth)
        )
    } else if !auth.is_empty() {
        // Kept as it was, so saving the form does not drop it; this server does not use it.
        format!("<input type=\"hidden\" name=\"auth\" value=\"{}\">", escape(auth))
    } else {
        String::new()
    };
    let stub_hidden = if selected_stub { "" } else { " hidden" };
    format!(
        r#"<div class="row store">
<div class="row-head"><span class="num">Store {number}</span><button type="button" class="icon remove" aria-label="Remove this store" title="Remove">✕</button></div>
<div class="grid">
<label class="field"><span>Service</span><select name="c">{options}</select><small class="err"></small></label>
<label class="field"><span>API token</span><span class="secret"><input name="t" type="password" value="{token}" placeholder="Your API key from the store's website" spellcheck="false" autocomplete="off" autocapitalize="off"><button type="button" class="reveal" aria-label="Show the token" aria-pressed="false">Show</button></span><small class="err"></small></label>
{auth_field}
</div>
<p class="note"{stub_hidden}>This store is not available yet: its streams will show a notice. Use TorBox for now.</p>
<div class="result" hidden></div>
</div>
"#,
        token = escape(token),
    )
}

/// One indexer entry of the form.
fn indexer_row(number: usize, indexer: Option<&UserIndexer>) -> String {
    let name = indexer.map(|i| i.n.as_str()).unwrap_or_default();
    let url = indexer.map(|i| i.u.as_str()).unwrap_or_default();
    let key = indexer.and_then(|i| i.ak.as_ref()).map(|k| k.expose()).unwrap_or_default();
    format!(
        r#"<div class="row indexer">
<div class="row-head"><span class="num">Indexer {number}</span><button type="button" class="icon remove" aria-label="Remove this indexer" title="Remove">✕</button></div>
<div class="grid three">
<label class="field"><span>Name</span><input name="n" value="{name}" placeholder="jackett" spellcheck="false"><small class="err"></small></label>
<label class="field"><span>Torznab URL</span><input name="u" value="{url}" inputmode="url" placeholder="https://jackett.example/api/v2.0/indexers/all/results/torznab" spellcheck="false" autocapitalize="off"><small class="err"></small></label>
<label class="field"><span>API key</span><span class="secret"><input name="ak" type="password" value="{key}" placeholder="optional" spellcheck="false" autocomplete="off" autocapitalize="off"><button type="button" class="reveal" aria-label="Show the API key" aria-pressed="false">Show</button></span><small class="err"></small></label>
</div>
</div>
"#,
        name = escape(name),
        url = escape(url),
        key = escape(key),
    )
}

/// `'sha256-…'` of an inline script or style, for the Content-Security-Policy.
fn csp_hash(source: &str) -> String {
    format!("'sha256-{}'", BASE64.encode(Sha256::digest(source.as_bytes())))
}

/// Only this page's own script and style run; it may talk to its own origin only (the check)
/// and load nothing from elsewhere.
static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src data:; connect-src 'self'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'",
        csp_hash(SCRIPT),
        csp_hash(STYLE)
    )
});

fn html_response(body: String) -> Response {
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    // The filled page holds the user's own credentials: keep it out of caches and referrers.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    no_store(response)
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

const STYLE: &str = r#"
:root{color-scheme:dark;--bg:#0c0e14;--card:#151923;--row:#1b2030;--line:#2a3143;--text:#e9ebf2;--muted:#9aa2b6;--accent:#8b5cf6;--accent2:#a78bfa;--ok:#34d399;--bad:#f87171;--warn:#fbbf24}
*{box-sizing:border-box}
html{background:var(--bg)}
body{margin:0;color:var(--text);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Ubuntu,"Noto Sans",sans-serif;background:radial-gradient(900px 500px at 15% -10%,#2b1d57 0,transparent 65%),radial-gradient(700px 400px at 110% 10%,#0e3a4a 0,transparent 60%),var(--bg);min-height:100vh}
main{max-width:780px;margin:0 auto;padding:32px 20px 40px}
header{display:flex;align-items:center;gap:14px;margin-bottom:20px}
.logo{width:50px;height:50px;border-radius:14px;background:linear-gradient(135deg,#8b5cf6,#22d3ee);display:grid;place-items:center;font-size:28px;color:#fff;box-shadow:0 8px 24px rgba(139,92,246,.35)}
h1{margin:0;font-size:26px;letter-spacing:-.02em}
header p{margin:0;color:var(--muted)}
h2{margin:0 0 2px;font-size:17px}
.tag{font-size:11px;font-weight:600;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);border:1px solid var(--line);border-radius:999px;padding:1px 8px;vertical-align:middle;margin-left:6px}
.card{background:rgba(21,25,35,.92);border:1px solid var(--line);border-radius:16px;padding:20px;margin:14px 0;box-shadow:0 10px 30px rgba(0,0,0,.25)}
.hint{margin:0 0 12px;color:var(--muted);font-size:13.5px}
.muted{color:var(--muted)}
.banner{border:1px solid var(--line);background:var(--card);border-radius:12px;padding:12px 14px;margin:14px 0;font-size:14px}
.banner.bad{border-color:rgba(248,113,113,.5);background:rgba(248,113,113,.1)}
.row{background:var(--row);border:1px solid var(--line);border-radius:12px;padding:12px 14px 14px;margin:10px 0}
.row-head{display:flex;justify-content:space-between;align-items:center;margin-bottom:6px}
.num{font-size:12px;font-weight:700;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.grid{display:grid;grid-template-columns:minmax(150px,200px) 1fr;gap:12px}
.grid.three{grid-template-columns:minmax(110px,150px) 1.4fr 1fr}
.wide{grid-column:1/-1}
@media (max-width:640px){.grid,.grid.three{grid-template-columns:1fr}}
.field{display:flex;flex-direction:column;gap:5px;min-width:0}
.field>span:first-child{font-size:12.5px;font-weight:600;color:var(--muted)}
input,select{width:100%;background:#0e121b;border:1px solid var(--line);color:var(--text);border-radius:9px;padding:9px 11px;font:inherit;font-size:14px;outline:none;transition:border-color .15s,box-shadow .15s}
select{appearance:none;background-image:linear-gradient(45deg,transparent 50%,var(--muted) 50%),linear-gradient(135deg,var(--muted) 50%,transparent 50%);background-position:calc(100% - 17px) 55%,calc(100% - 12px) 55%;background-size:5px 5px;background-repeat:no-repeat;padding-right:30px}
input:focus,select:focus{border-color:var(--accent);box-shadow:0 0 0 3px rgba(139,92,246,.28)}
input::placeholder{color:#5d6579}
.invalid input,.invalid select{border-color:var(--bad)}
.invalid input:focus,.invalid select:focus{box-shadow:0 0 0 3px rgba(248,113,113,.25)}
.err{color:var(--bad);font-size:12.5px}
.err:empty{display:none}
.form-error{margin:10px 0 0}
.note{color:var(--warn);font-size:12.5px;margin:10px 0 0}
.secret{position:relative;display:block}
.secret input{padding-right:64px}
.reveal{position:absolute;right:5px;top:5px;bottom:5px;padding:0 10px;font-size:12px;background:#222839;border-color:transparent;color:var(--muted)}
button,a.button{font:inherit;font-size:14px;cursor:pointer;border-radius:9px;border:1px solid var(--line);background:#222839;color:var(--text);padding:9px 16px;transition:border-color .15s,filter .15s,opacity .15s}
button:hover{border-color:var(--accent2)}
button:disabled{opacity:.45;cursor:not-allowed}
.ghost{width:100%;background:transparent;border:1px dashed #3a4258;color:var(--accent2);margin-top:4px}
.icon{background:transparent;border:none;color:var(--muted);padding:2px 8px;font-size:15px}
.icon:hover{color:var(--bad)}
.secondary{border-color:var(--accent);color:#fff;background:rgba(139,92,246,.16);font-weight:600;min-width:110px}
.primary,a.button.primary{background:linear-gradient(135deg,#8b5cf6,#6d28d9);border-color:transparent;color:#fff;font-weight:600}
a.button{display:inline-flex;align-items:center;text-decoration:none}
a.button:hover{filter:brightness(1.1)}
a.button.disabled{opacity:.4;pointer-events:none}
.actions{display:flex;gap:12px;flex-wrap:wrap;align-items:center;margin-top:12px}
.status{color:var(--muted);font-size:13.5px}
.status.ok{color:var(--ok)}
.status.bad{color:var(--bad)}
.install-url{margin-top:14px}
.copyrow{display:flex;gap:8px}
.copyrow input{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;color:#c9cde0}
.result{margin-top:12px;padding:10px 12px;border-radius:10px;font-size:13.5px;border:1px solid var(--line);display:flex;gap:10px;align-items:flex-start}
.result .mark{font-weight:700;width:20px;height:20px;flex:none;border-radius:50%;display:grid;place-items:center;font-size:12px;margin-top:1px}
.result.ok{border-color:rgba(52,211,153,.45);background:rgba(52,211,153,.09)}
.result.ok .mark{background:var(--ok);color:#06281c}
.result.bad{border-color:rgba(248,113,113,.45);background:rgba(248,113,113,.09)}
.result.bad .mark{background:var(--bad);color:#3a0a0a}
.result.pending{color:var(--muted)}
.result.pending .mark{border:2px solid var(--muted);border-top-color:transparent;animation:spin .8s linear infinite}
@keyframes spin{to{transform:rotate(360deg)}}
.result .text{display:flex;flex-direction:column;gap:4px}
.badges{display:flex;gap:6px;flex-wrap:wrap}
.badge{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600;background:#272e40;color:var(--text)}
.badge.good{background:rgba(52,211,153,.18);color:var(--ok)}
.badge.warn{background:rgba(251,191,36,.16);color:var(--warn)}
.switch{display:flex;gap:14px;align-items:center;cursor:pointer}
.switch input{position:absolute;opacity:0;width:1px;height:1px}
.knob{width:44px;height:24px;flex:none;border-radius:999px;background:#2a3143;position:relative;transition:background .15s}
.knob::after{content:"";position:absolute;left:3px;top:3px;width:18px;height:18px;border-radius:50%;background:#cfd3e0;transition:transform .15s}
.switch input:checked+.knob{background:var(--accent)}
.switch input:checked+.knob::after{transform:translateX(20px);background:#fff}
.switch input:focus-visible+.knob{box-shadow:0 0 0 3px rgba(139,92,246,.35)}
.switch small{color:var(--muted)}
footer{color:var(--muted);font-size:12.5px;text-align:center;margin-top:22px}
[hidden]{display:none!important}
"#;

const SCRIPT: &str = r#"
(function () {
  'use strict';
  var app = document.getElementById('app');
  var form = document.getElementById('form');
  var storesBox = document.getElementById('stores');
  var indexersBox = document.getElementById('indexers');
  var addStore = document.getElementById('add-store');
  var addIndexer = document.getElementById('add-indexer');
  var cached = document.getElementById('cached');
  var checkButton = document.getElementById('check');
  var statusLine = document.getElementById('check-status');
  var formError = document.getElementById('form-error');
  var manifest = document.getElementById('manifest');
  var copyButton = document.getElementById('copy');
  var install = document.getElementById('install');
  var base = app.dataset.base;
  var maxStores = Number(app.dataset.maxStores);
  var maxIndexers = Number(app.dataset.maxIndexers);
  var maxBytes = Number(app.dataset.maxBytes);
  var chillstreams = app.dataset.chillstreams === '1';
  var showAll = app.dataset.prefilled === '1';
  var touched = new WeakSet();
  var forced = new Map();
  var checkSeq = 0;
  var UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  var prefix = location.pathname.indexOf('/stremio/torz/') >= 0 ? location.pathname.slice(0, location.pathname.indexOf('/stremio/torz/')) : '';
  var checkUrl = prefix + '/stremio/torz/configure/check';

  function rows(box) { return Array.prototype.slice.call(box.children); }
  function input(row, name) { return row.querySelector('[name="' + name + '"]'); }
  function value(row, name) { var el = input(row, name); return el ? el.value.trim() : ''; }

  function setError(el, message) {
    if (!el) return false;
    var field = el.closest('.field');
    if (!field) return !!message;
    message = forced.get(el) || message;
    var shown = message && (showAll || touched.has(el) || forced.has(el)) ? message : '';
    field.querySelector('.err').textContent = shown;
    field.classList.toggle('invalid', !!shown);
    return !!message;
  }

  function encode(text) {
    var bytes = new TextEncoder().encode(text);
    var binary = '';
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // The server's rules (userconfig.rs), checked as the user types.
  function build() {
    var invalid = 0;
    var problems = [];
    var seen = {};
    var stores = rows(storesBox).map(function (row) {
      var select = input(row, 'c');
      var option = select.options[select.selectedIndex];
      var c = select.value;
      var t = value(row, 't');
      var auth = value(row, 'auth');
      var cError = '';
      if (!option || option.hasAttribute('data-unknown')) cError = 'This server does not offer this store.';
      else if (seen[c]) cError = option.textContent.split(' — ')[0] + ' is listed twice: remove one.';
      seen[c] = true;
      row.querySelector('.note').hidden = !(option && option.hasAttribute('data-stub'));
      var tError = '';
      var authEl = input(row, 'auth');
      var authShown = authEl && authEl.type !== 'hidden';
      if (!t && !(authShown && auth)) tError = chillstreams ? 'Enter an API token or a Chillstreams user id.' : 'Enter your API token.';
      var aError = authShown && auth && !UUID.test(auth) ? 'Not a user id: it looks like xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.' : '';
      if (setError(select, cError) | setError(input(row, 't'), tError) | setError(authShown ? authEl : null, aError)) invalid++;
      var entry = { c: c };
      if (t) entry.t = t;
      if (auth) entry.auth = auth;
      return entry;
    });
    var indexers = rows(indexersBox).map(function (row) {
      var u = value(row, 'u');
      var uError = '';
      if (!u) uError = 'Enter the Torznab URL.';
      else if (!/^https?:\/\//.test(u)) uError = 'The Torznab URL must start with http:// or https://.';
      if (setError(input(row, 'u'), uError) | setError(input(row, 'n'), '')) invalid++;
      var indexer = { n: value(row, 'n') || 'generic', u: u };
      var ak = value(row, 'ak');
      if (ak) indexer.ak = ak;
      return indexer;
    });
    if (!stores.length) problems.push('Add at least one store.');
    if (stores.length > maxStores) problems.push('At most ' + maxStores + ' stores are allowed.');
    if (indexers.length > maxIndexers) problems.push('At most ' + maxIndexers + ' indexers are allowed.');
    var config = { stores: stores };
    if (indexers.length) config.indexers = indexers;
    if (cached.checked) config.cached = true;
    var json = JSON.stringify(config);
    var encoded = encode(json);
    if (encoded.length > maxBytes) problems.push('The config is too long (' + encoded.length + ' of at most ' + maxBytes + ' characters): remove an entry.');
    if (forced.has(form)) problems.push(forced.get(form));
    return { ok: !invalid && !problems.length, json: json, encoded: encoded, problems: problems };
  }

  function renumber(box, label) {
    rows(box).forEach(function (row, i) { row.querySelector('.num').textContent = label + ' ' + (i + 1); });
  }

  function update() {
    renumber(storesBox, 'Store');
    renumber(indexersBox, 'Indexer');
    addStore.disabled = storesBox.children.length >= maxStores;
    addIndexer.disabled = indexersBox.children.length >= maxIndexers;
    var built = build();
    formError.textContent = showAll ? built.problems.join(' ') : '';
    if (built.ok) {
      manifest.value = base + '/stremio/torz/' + built.encoded + '/manifest.json';
      install.href = manifest.value.replace(/^https?:\/\//, 'stremio://');
      install.classList.remove('disabled');
      install.removeAttribute('aria-disabled');
      copyButton.disabled = false;
    } else {
      manifest.value = '';
      manifest.placeholder = 'Fix the fields marked in red to get your link';
      install.removeAttribute('href');
      install.classList.add('disabled');
      install.setAttribute('aria-disabled', 'true');
      copyButton.disabled = true;
    }
    return built;
  }

  function clearResult(row) {
    var result = row && row.querySelector('.result');
    if (result) { result.hidden = true; result.removeAttribute('data-state'); }
  }

  function showResult(row, state, title, message, badges) {
    var result = row.querySelector('.result');
    result.className = 'result ' + state;
    result.hidden = false;
    result.textContent = '';
    var mark = document.createElement('span');
    mark.className = 'mark';
    mark.textContent = state === 'ok' ? '✓' : state === 'bad' ? '!' : '';
    var text = document.createElement('span');
    text.className = 'text';
    var strong = document.createElement('strong');
    strong.textContent = title;
    text.appendChild(strong);
    if (message) { var span = document.createElement('span'); span.textContent = message; text.appendChild(span); }
    if (badges && badges.length) {
      var list = document.createElement('span');
      list.className = 'badges';
      badges.forEach(function (b) { var el = document.createElement('span'); el.className = 'badge ' + (b[1] || ''); el.textContent = b[0]; list.appendChild(el); });
      text.appendChild(list);
    }
    result.appendChild(mark);
    result.appendChild(text);
    result.setAttribute('data-state', state === 'pending' ? 'pending' : 'done');
  }

  function showStore(row, answer) {
    if (!row) return;
    var badges = [];
    if (answer.auth) badges.push([answer.auth === 'chillstreams' ? 'via Chillstreams' : answer.auth === 'token' ? 'via your API token' : 'via ' + answer.auth, '']);
    if (answer.account) badges.push([answer.name + ' ' + answer.account.subscription, answer.account.subscription === 'expired' ? 'warn' : 'good']);
    showResult(row, answer.ok ? 'ok' : 'bad', answer.ok ? answer.name + ' works' : answer.name + ' does not work', answer.message, badges);
  }

  // A problem the server found: next to its field when it names one.
  function serverProblem(problem, field) {
    var m = /^(stores|indexers)\[(\d+)\](?:\.(\w+))?$/.exec(field || '');
    var target = null;
    if (m) {
      var row = rows(m[1] === 'stores' ? storesBox : indexersBox)[Number(m[2])];
      if (row) target = input(row, m[3] || (m[1] === 'stores' ? 't' : 'u'));
    }
    if (target && target.closest('.field')) forced.set(target, 'Server: ' + problem);
    else forced.set(form, 'Server: ' + problem);
    update();
  }

  function setStatus(text, state) { statusLine.textContent = text; statusLine.className = 'status ' + (state || ''); }

  function check() {
    showAll = true;
    forced.clear();
    var built = update();
    if (!built.ok) {
      setStatus('Fix the fields marked in red first.', 'bad');
      var first = form.querySelector('.invalid input, .invalid select');
      if (first) first.focus();
      return;
    }
    var seq = ++checkSeq;
    var checked = rows(storesBox);
    checked.forEach(function (row) { showResult(row, 'pending', 'Checking…'); });
    checkButton.disabled = true;
    checkButton.textContent = 'Checking…';
    setStatus('');
    fetch(checkUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: built.json, credentials: 'omit', cache: 'no-store' })
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (data) { return { status: response.status, ok: response.ok, data: data }; });
      })
      .then(function (answer) {
        if (seq !== checkSeq) return;
        var data = answer.data;
        if (answer.ok && data && Array.isArray(data.stores)) {
          data.stores.forEach(function (store, i) { showStore(checked[i], store); });
          var good = data.stores.filter(function (s) { return s.ok; }).length;
          if (good === data.stores.length) setStatus(good === 1 ? 'Your store works. Install the addon below.' : 'All ' + good + ' stores work. Install the addon below.', 'ok');
          else setStatus(good + ' of ' + data.stores.length + ' stores work.', 'bad');
        } else {
          checked.forEach(clearResult);
          if (data && data.problem) { serverProblem(data.problem, data.field); setStatus('The server found a problem in the config.', 'bad'); }
          else setStatus('The check failed (HTTP ' + answer.status + '). Try again.', 'bad');
        }
      })
      .catch(function () {
        if (seq !== checkSeq) return;
        checked.forEach(clearResult);
        setStatus('Could not reach the server. Try again.', 'bad');
      })
      .then(function () {
        if (seq !== checkSeq) return;
        checkButton.disabled = false;
        checkButton.textContent = 'Check';
      });
  }

  function addRow(box, template, max) {
    if (box.children.length >= max) return;
    var row = template.content.firstElementChild.cloneNode(true);
    box.appendChild(row);
    update();
    var first = row.querySelector('select, input');
    if (first) first.focus();
  }

  addStore.addEventListener('click', function () { addRow(storesBox, document.getElementById('store-template'), maxStores); });
  addIndexer.addEventListener('click', function () { addRow(indexersBox, document.getElementById('indexer-template'), maxIndexers); });
  form.addEventListener('click', function (event) {
    var remove = event.target.closest('.remove');
    if (remove) { remove.closest('.row').remove(); forced.clear(); update(); return; }
    var reveal = event.target.closest('.reveal');
    if (reveal) {
      var field = reveal.parentNode.querySelector('input');
      var show = field.type === 'password';
      field.type = show ? 'text' : 'password';
      reveal.textContent = show ? 'Hide' : 'Show';
      reveal.setAttribute('aria-pressed', String(show));
    }
  });
  function edited(event) {
    forced.delete(event.target);
    forced.delete(form);
    clearResult(event.target.closest('.store'));
    update();
  }
  form.addEventListener('input', edited);
  form.addEventListener('change', edited);
  // Leaving a field shows its error, which moves what is below it: while a button is being
  // pressed, wait for the release so the click still lands on it.
  var pointerDown = false;
  var pendingUpdate = false;
  function released() {
    pointerDown = false;
    if (pendingUpdate) { pendingUpdate = false; setTimeout(update, 0); }
  }
  document.addEventListener('pointerdown', function () { pointerDown = true; }, true);
  document.addEventListener('pointerup', released, true);
  document.addEventListener('pointercancel', released, true);
  form.addEventListener('focusout', function (event) {
    if (!event.target.matches('input, select')) return;
    touched.add(event.target);
    if (pointerDown) pendingUpdate = true;
    else update();
  });
  form.addEventListener('submit', function (event) { event.preventDefault(); check(); });
  copyButton.addEventListener('click', function () {
    var text = manifest.value;
    if (!text) return;
    function done() { copyButton.textContent = 'Copied ✓'; setTimeout(function () { copyButton.textContent = 'Copy'; }, 1500); }
    function fallback() { manifest.focus(); manifest.select(); try { if (document.execCommand('copy')) done(); } catch (e) { /* selected for a manual copy */ } }
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
    else fallback();
  });
  update();
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use chillproxy_core::Secret;

    fn choices() -> Vec<StoreChoice> {
        vec![
            StoreChoice { code: "tb".into(), name: "TorBox".into(), available: true },
            StoreChoice { code: "rd".into(), name: "RealDebrid".into(), available: false },
        ]
    }

    fn page<'a>(stores: &'a [StoreChoice], chillstreams: bool, config: Option<&'a UserConfig>) -> Page<'a> {
        Page { base_url: "http://127.0.0.1:7000", stores, chillstreams, config, problem: None }
    }

    /// The form markup only (the templates hold empty rows).
    fn form(html: &str) -> &str {
        let start = html.find("<form").unwrap();
        let end = html.find("</form>").unwrap();
        &html[start..end]
    }

    fn config(json: &str) -> UserConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn escapes_everything_it_interpolates() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        let hostile = r#""><script>alert(1)</script>'"#;
        let stores = vec![StoreChoice { code: hostile.into(), name: hostile.into(), available: true }];
        let user = UserConfig {
            stores: vec![StoreEntry { c: hostile.into(), t: Some(Secret::new(hostile)), auth: Some(hostile.into()) }],
            indexers: vec![UserIndexer { n: hostile.into(), u: hostile.into(), ak: Some(Secret::new(hostile)) }],
            cached: false,
        };
        let html = render(&Page {
            base_url: hostile,
            stores: &stores,
            chillstreams: true,
            config: Some(&user),
            problem: Some(hostile),
        });
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains(hostile), "a value went in unescaped");
        assert_eq!(html.matches("<script>").count(), 1, "only the page's own script");
        assert!(html.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#39;"));
        assert!(html.contains(r#"data-base="&quot;&gt;&lt;script&gt;"#));
    }

    #[test]
    fn prefills_the_users_own_config() {
        let user = config(
            r#"{"stores":[{"c":"tb","t":"tb-token-123","auth":"550e8400-e29b-41d4-a716-446655440000"},{"c":"rd","t":"rd-tok"}],
               "indexers":[{"n":"jackett","u":"https://j.example/torznab?a=1&b=2","ak":"idx-key"}],"cached":true}"#,
        );
        let stores = choices();
        let html = render(&page(&stores, true, Some(&user)));
        let form = form(&html);
        assert_eq!(form.matches(r#"<div class="row store">"#).count(), 2);
        assert!(form.contains(r#"name="t" type="password" value="tb-token-123""#));
        assert!(form.contains(r#"name="t" type="password" value="rd-tok""#));
        assert!(form.contains(r#"name="auth" value="550e8400-e29b-41d4-a716-446655440000""#));
        assert!(form.contains(r#"<option value="rd" selected data-stub>RealDebrid — not available yet</option>"#));
        assert!(form.contains(r#"value="https://j.example/torznab?a=1&amp;b=2""#));
        assert!(form.contains(r#"name="ak" type="password" value="idx-key""#));
        assert!(form.contains(r#"name="n" value="jackett""#));
        assert!(form.contains(r#"id="cached" name="cached" checked"#));
        assert!(html.contains(r#"data-prefilled="1""#));
        // The stub note shows on the RealDebrid row only.
        assert_eq!(form.matches(r#"<p class="note">"#).count(), 1);
        // The token appears only in its own field.
        assert_eq!(html.matches("tb-token-123").count(), 1);
        assert!(!html.contains("[redacted]"));
    }

    #[test]
    fn an_empty_page_has_one_blank_store_with_the_first_available_store() {
        let stores = vec![
            StoreChoice { code: "ad".into(), name: "AllDebrid".into(), available: false },
            StoreChoice { code: "tb".into(), name: "TorBox".into(), available: true },
        ];
        let html = render(&page(&stores, false, None));
        let form = form(&html);
        assert_eq!(form.matches(r#"<div class="row store">"#).count(), 1);
        assert!(form.contains(r#"<option value="tb" selected>TorBox</option>"#));
        assert!(form.contains(r#"<option value="ad" data-stub>AllDebrid — not available yet</option>"#));
        assert!(form.contains(r#"name="t" type="password" value="""#));
        assert!(!form.contains(r#"<div class="row indexer">"#));
        assert!(!form.contains(" checked"));
        assert!(html.contains(r#"data-prefilled="0""#));
        assert!(!html.contains("role=\"alert\"") && !html.contains("Editing your current"));
    }

    #[test]
    fn user_id_field_only_with_chillstreams() {
        let stores = choices();
        let with = render(&page(&stores, true, None));
        assert!(with.contains("Chillstreams user id</span><input name=\"auth\""));
        assert!(with.contains(r#"data-chillstreams="1""#));
        let without = render(&page(&stores, false, None));
        assert!(!without.contains("name=\"auth\""));
        assert!(!form(&without).contains("Chillstreams"));
        assert!(without.contains(r#"data-chillstreams="0""#));
        // A user id already in the config is kept (hidden) rather than dropped on save.
        let user = config(r#"{"stores":[{"c":"tb","t":"x","auth":"550e8400-e29b-41d4-a716-446655440000"}]}"#);
        let kept = render(&page(&stores, false, Some(&user)));
        assert!(kept.contains(r#"<input type="hidden" name="auth" value="550e8400-e29b-41d4-a716-446655440000">"#));
        assert!(!form(&kept).contains("Chillstreams user id"));
    }

    #[test]
    fn an_invalid_config_is_shown_with_its_problem() {
        let stores = choices();
        let user = config(r#"{"stores":[{"c":"xx","t":"tok"}]}"#);
        let html = render(&Page {
            base_url: "http://h",
            stores: &stores,
            chillstreams: false,
            config: Some(&user),
            problem: Some("stores[0].c: unknown store code \"xx\""),
        });
        assert!(
            html.contains("This configuration has a problem:</strong> stores[0].c: unknown store code &quot;xx&quot;.")
        );
        assert!(form(&html).contains(r#"<option value="xx" selected data-unknown>xx — not offered here</option>"#));
        let segment = URL_SAFE_NO_PAD.encode(r#"{"stores":[{"c":"xx","t":"tok"}]}"#);
        assert_eq!(read_unvalidated(&segment).unwrap().stores[0].c, "xx");
        assert!(read_unvalidated("%%%").is_none());
    }

    #[test]
    fn check_answers_carry_no_secret() {
        let answer = StoreCheck {
            c: "tb".into(),
            name: "TorBox".into(),
            ok: true,
            auth: Some("chillstreams"),
            account: Some(AccountStatus { subscription: "premium".into() }),
            message: "The Chillstreams credential works: the TorBox account is premium.".into(),
        };
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"c":"tb","name":"TorBox","ok":true,"auth":"chillstreams",
                "account":{"subscription":"premium"},
                "message":"The Chillstreams credential works: the TorBox account is premium."})
        );
        let entry = StoreEntry { c: "tb".into(), t: Some(Secret::new("k")), auth: Some("u".into()) };
        assert!(granted_message(&entry, "token", "TorBox", "expired").contains("own API token"));
        assert_eq!(problem_field("stores[0].c: unknown store code"), Some("stores[0].c".into()));
        assert_eq!(problem_field("stores: add at least one store"), Some("stores".into()));
        assert_eq!(problem_field("the config is not valid JSON (line 1: x)"), None);
    }

    #[test]
    fn content_security_policy_names_the_inline_code() {
        let csp = CONTENT_SECURITY_POLICY.as_str();
        assert!(csp.starts_with("default-src 'none'; script-src 'sha256-"));
        assert!(csp.contains(&csp_hash(SCRIPT)) && csp.contains(&csp_hash(STYLE)));
        // The page embeds them byte for byte, so the hashes match what the browser sees.
        let html = render(&page(&choices(), true, None));
        assert!(html.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(html.contains(&format!("<style>{STYLE}</style>")));
    }
}
