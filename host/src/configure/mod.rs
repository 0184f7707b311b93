//! The configure page (`GET /stremio/torz/configure`, `GET /stremio/torz/{config}/configure`)
//! and its credential check (`POST /stremio/torz/configure/check`).
//!
//! The page works offline: inline CSS and a little vanilla JS (files next to this one), no
//! external resource. What it offers comes from the enabled plugins: their stores, the entry
//! field an auth provider reads, what the sources search.

mod check;
mod page;
#[cfg(test)]
mod tests;

use std::sync::LazyLock;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, MethodRouter};
use axum::Json;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD};
use base64::Engine;
use chillproxy_stremio::{ConfigProblem, UserConfig, MAX_ENCODED_BYTES};
use futures::future::join_all;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::limits::user_fingerprint;
use crate::limits::Family;
use crate::problems::use_instead;
use crate::requester::Requester;
use crate::state::AppState;
use check::{check_store, CheckAnswer};
use page::{render, Page, StoreChoice, SCRIPT, STYLE};

/// The largest check request body read.
pub(crate) const MAX_CHECK_BODY_BYTES: usize = 16 * 1024;

/// `GET /stremio/torz/configure`: an empty form.
pub(crate) async fn page(State(state): State<AppState>, requester: Requester) -> Response {
    html_response(render_for(&state, &requester.base_url, None, None))
}

/// `GET /stremio/torz/{config}/configure`: the form filled from the user's config. A config the
/// server rejects is still shown (when it is readable at all) under a banner naming the problem.
pub(crate) async fn page_with_config(
    State(state): State<AppState>,
    requester: Requester,
    Path(segment): Path<String>,
) -> Response {
    let (config, problem) = match state.decode_user_config(&segment) {
        Ok(config) => (Some(UserConfig::clone(&config)), None),
        Err(problem) => (UserConfig::read_unvalidated(&segment), Some(problem.to_string())),
    };
    html_response(render_for(&state, &requester.base_url, config.as_ref(), problem.as_deref()))
}

/// The page for this server's plugins: its stores (stubs marked), the entry field an auth
/// provider reads, what its sources search.
fn render_for(state: &AppState, base_url: &str, config: Option<&UserConfig>, problem: Option<&str>) -> String {
    let plugins = state.plugins();
    let stores: Vec<StoreChoice> = plugins
        .stores
        .iter()
        .map(|store| StoreChoice {
            code: store.code().to_string(),
            name: store.display_name().to_string(),
            available: !store.capabilities().stub,
        })
        .collect();
    let presentations = plugins.auth.presentations();
    let auth_field = presentations.iter().find_map(|(_, p)| p.entry_field.filter(|f| f.key == "auth"));
    let auth_names: Vec<(&str, &str)> = presentations.iter().map(|(name, p)| (*name, p.display_name)).collect();
    let searches = plugins.searches.join(" and ");
    let use_instead = use_instead(&plugins.available_stores);
    render(&Page {
        base_url,
        stores: &stores,
        auth_field,
        auth_names: &auth_names,
        searches: &searches,
        use_instead: &use_instead,
        seal: !state.keyring().is_empty(),
        config,
        problem,
    })
}

/// The check route: `POST` with the JSON user config as the body, at most
/// [`MAX_CHECK_BODY_BYTES`].
pub(crate) fn check_route() -> MethodRouter<AppState> {
    post(check).layer(DefaultBodyLimit::max(MAX_CHECK_BODY_BYTES))
}

/// An invalid config (or body): the server's rule, and the field it is about when it names one
/// (`stores[0].c`, `indexers[1].u`).
#[derive(Debug, Serialize)]
struct CheckProblem {
    problem: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

/// A configure request's body, at most [`MAX_CHECK_BODY_BYTES`]; else the answer to give.
fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Box<Response>> {
    let answer = match body {
        Ok(body) if body.len() <= MAX_CHECK_BODY_BYTES => return Ok(body),
        Ok(_) => too_large(),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        Err(_) => problem_response(StatusCode::BAD_REQUEST, ConfigProblem::whole("could not read the request body")),
    };
    Err(Box::new(answer))
}

async fn check(State(state): State<AppState>, requester: Requester, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match read_body(body) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    // Validate exactly as the manifest URL will be: the same size bound, the same rules.
    let segment = URL_SAFE_NO_PAD.encode(&body);
    let config = match valid_config(&state, &body, &segment) {
        Ok(config) => config,
        Err(problem) => return problem_response(StatusCode::UNPROCESSABLE_ENTITY, problem),
    };
    let user = user_fingerprint(&segment);
    if let Err(wait) = state.limits().admit(Family::ConfigureCheck, requester.client.ip, Some(&user)).await {
        let seconds = wait.as_secs().max(1);
        let problem = ConfigProblem::whole(format!("too many checks from here; try again in {seconds} s"));
        let mut response = problem_response(StatusCode::TOO_MANY_REQUESTS, problem);
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let device = &requester.client.device;
    let stores = join_all(config.stores.iter().map(|entry| check_store(state.plugins(), entry, device))).await;
    let ok = stores.iter().filter(|s| s.ok).count();
    tracing::info!(stores = stores.len(), ok, "configure check");
    no_store(Json(CheckAnswer { stores }).into_response())
}

/// The body's config under the server's rules (the plain segment's size bound included).
fn valid_config(state: &AppState, body: &[u8], segment: &str) -> Result<UserConfig, ConfigProblem> {
    if segment.len() > MAX_ENCODED_BYTES {
        return Err(ConfigProblem::whole(format!(
            "the config is {} bytes encoded; at most {MAX_ENCODED_BYTES} are accepted",
            segment.len()
        )));
    }
    UserConfig::from_json(body, state.store_codes())
}

/// The seal route: `POST /stremio/torz/configure/seal` with the JSON user config as the body
/// answers `{"segment": "c1.…"}`, the config sealed with the server's first key, for the install
/// URL. 404 when the server has no sealing keys. No upstream call and no secret in the answer
/// beyond the sealed value, so it is not rate-limited like the check.
pub(crate) fn seal_route() -> MethodRouter<AppState> {
    post(seal).layer(DefaultBodyLimit::max(MAX_CHECK_BODY_BYTES))
}

#[derive(Debug, Serialize)]
struct Sealed {
    segment: String,
}

async fn seal(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match read_body(body) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    if let Err(problem) = valid_config(&state, &body, &URL_SAFE_NO_PAD.encode(&body)) {
        return problem_response(StatusCode::UNPROCESSABLE_ENTITY, problem);
    }
    match state.seal_user_config(&body) {
        Some(segment) => no_store(Json(Sealed { segment }).into_response()),
        None => problem_response(StatusCode::NOT_FOUND, ConfigProblem::whole("this server does not seal configs")),
    }
}

fn too_large() -> Response {
    problem_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        ConfigProblem::whole(format!(
            "the config is larger than {MAX_CHECK_BODY_BYTES} bytes; at most {MAX_ENCODED_BYTES} encoded bytes are accepted"
        )),
    )
}

fn problem_response(status: StatusCode, problem: ConfigProblem) -> Response {
    let field = problem.field.clone();
    no_store((status, Json(CheckProblem { problem: problem.to_string(), field })).into_response())
}

/// `'sha256-…'` of an inline script or style, for the Content-Security-Policy.
pub(super) fn csp_hash(source: &str) -> String {
    format!("'sha256-{}'", BASE64.encode(Sha256::digest(source.as_bytes())))
}

/// Only this page's own script and style run; it may talk to its own origin only (the check)
/// and load nothing from elsewhere.
pub(super) static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
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
