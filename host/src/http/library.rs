//! The library's catalog and meta handlers: `/{config}/catalog/other/{id}.json` (with
//! `/skip=N.json`, `/search=…​.json` or both joined by `&`) and `/{config}/meta/other/{id}.json`.
//! Replies are `private` and cached briefly (a user's own list), never carry a key (plain
//! playback URLs carry the config segment as the stream list's do; with keys, sealed handles).

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::library::{self, ids, LibraryContext, LibraryError, LibraryRequest};
use crate::limits::{user_fingerprint, Family};
use crate::requester::Requester;
use crate::state::AppState;

/// How long Stremio may reuse a catalog page or a meta.
const MAX_AGE_S: u64 = 60;

/// The extras of a catalog request (`skip=20&search=term`), URL-decoded.
fn extras(segment: Option<&str>) -> (usize, Option<String>) {
    let Some(segment) = segment else { return (0, None) };
    let mut skip = 0;
    let mut search = None;
    for (name, value) in form_urlencoded::parse(segment.as_bytes()) {
        match name.as_ref() {
            "skip" => skip = value.trim().parse::<usize>().unwrap_or(0).min(100_000),
            "search" => search = Some(value.chars().take(100).collect()),
            _ => {}
        }
    }
    (skip, search)
}

fn cached(mut response: Response, max_age: u64) -> Response {
    let value = if max_age == 0 { "no-store".to_string() } else { format!("private, max-age={max_age}") };
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

fn not_found() -> Response {
    cached((StatusCode::NOT_FOUND, Json(json!({ "error": "not found" }))).into_response(), 0)
}

/// The request's config, who asks and how their playback URLs are written; `Err` is the answer.
async fn library_request<'a>(
    state: &'a AppState,
    segment: &'a str,
    requester: &'a Requester,
) -> Result<(std::sync::Arc<chillproxy_stremio::UserConfig>, Option<&'a chillproxy_core::seal::Keyring>), Response> {
    let Ok(config) = state.decode_user_config(segment) else { return Err(not_found()) };
    if let Err(wait) =
        state.limits().admit(Family::Streams, requester.client.ip, Some(&user_fingerprint(segment))).await
    {
        let seconds = wait.as_secs().max(1).to_string();
        let mut response =
            (StatusCode::TOO_MANY_REQUESTS, Json(json!({ "error": "too many requests" }))).into_response();
        if let Ok(value) = HeaderValue::from_str(&seconds) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return Err(cached(response, 0));
    }
    Ok((config, Some(state.keyring()).filter(|k| !k.is_empty())))
}

fn binding(state: &AppState, requester: &Requester, sealed: bool) -> String {
    if sealed {
        String::new()
    } else {
        state.binder().seal(&requester.client.device, requester.client.ip)
    }
}

fn answer(result: Result<Value, LibraryError>) -> Response {
    match result {
        Ok(body) => cached(Json(body).into_response(), MAX_AGE_S),
        Err(LibraryError::NotFound) => not_found(),
        Err(LibraryError::Unavailable(message)) => {
            tracing::info!(%message, "library unavailable");
            // Stremio shows an empty catalog; it asks again soon.
            cached(Json(json!({ "metas": [] })).into_response(), 0)
        }
    }
}

pub(super) async fn catalog(
    State(state): State<AppState>,
    State(ctx): State<LibraryContext>,
    requester: Requester,
    Path(params): Path<Vec<(String, String)>>,
) -> Response {
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let (segment, kind) = (param("config").unwrap_or_default(), param("kind").unwrap_or_default());
    let (id, extra) = match param("extra") {
        Some(extra) => (param("id").unwrap_or_default(), extra.strip_suffix(".json")),
        None => (param("id").and_then(|id| id.strip_suffix(".json")).unwrap_or_default(), Some("")),
    };
    let Some(extra) = extra.filter(|_| kind == ids::CATALOG_TYPE) else { return not_found() };
    let (config, keyring) = match library_request(&state, segment, &requester).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let (skip, search) = extras(Some(extra).filter(|e| !e.is_empty()));
    let request = LibraryRequest {
        config: &config,
        config_segment: segment,
        client: &requester.client,
        base_url: &requester.base_url,
        binding: String::new(),
        keyring,
        binding_ttl_s: state.config().server.binding_ttl_s,
    };
    let page = library::catalog(&ctx, &request, id, skip, search.as_deref()).await;
    answer(page.map(|metas| json!({ "metas": metas })))
}

pub(super) async fn meta(
    State(state): State<AppState>,
    State(ctx): State<LibraryContext>,
    requester: Requester,
    Path((segment, kind, id)): Path<(String, String, String)>,
) -> Response {
    let Some(id) = id.strip_suffix(".json").filter(|_| kind == ids::CATALOG_TYPE) else { return not_found() };
    let (config, keyring) = match library_request(&state, &segment, &requester).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let request = LibraryRequest {
        config: &config,
        config_segment: &segment,
        client: &requester.client,
        base_url: &requester.base_url,
        binding: binding(&state, &requester, keyring.is_some()),
        keyring,
        binding_ttl_s: state.config().server.binding_ttl_s,
    };
    answer(library::meta(&ctx, &request, id).await.map(|meta| json!({ "meta": meta })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extras_are_decoded() {
        assert_eq!(extras(Some("skip=20")), (20, None));
        assert_eq!(extras(Some("search=the%20shaw+shank&skip=40")), (40, Some("the shaw shank".into())));
        assert_eq!(extras(Some("skip=nope")), (0, None));
        assert_eq!(extras(None), (0, None));
    }
}
