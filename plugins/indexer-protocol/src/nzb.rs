//! The identity of an NZB link: what TorBox's usenet cache is keyed by (the md5 of a link),
//! computed from the link normalised so that two users' links to one release agree, two
//! releases never collide and no key is ever hashed (`/work/shared/reference/usenet.md` §1.5, §3).
//!
//! The normalised link is the link's scheme and host plus the per-release token of its form:
//!
//! | form | example | normalised |
//! |---|---|---|
//! | API `t=get` | `…/api?t=get&id=X&apikey=K` | `…/api?id=X&t=get` (StremThru's form, keys sorted) |
//! | classic newznab (no `?`) | `…/getnzb/<sha1>.nzb&i=1&r=K` | `…/getnzb/<sha1>.nzb` |
//! | NNTmux | `…/getnzb?id=<guid>.nzb&r=K` | `…/getnzb?id=<guid>.nzb` |
//! | key in the path (DOGnzb) | `…/fetch/<guid>/K` | `…/fetch/<guid>` |
//! | other parameter names (omgwtfnzbs) | `…/nzb/?id=X&user=U&api=K` | `…/nzb/?id=X` |
//! | NZBHydra2 proxy | `…/getnzb/api/<result id>?apikey=K` | `…/getnzb/api/<result id>` |
//! | Prowlarr proxy | `…/<n>/download?apikey=K&link=<random IV>&file=<name>` | `…/<n>/download?file=<name>` |
//!
//! Any other link keeps its path (cut at a stray `&`) and its query parameters sorted, less the
//! user parameters (`apikey`, `r`, `i`, `api`, `user`, `token`, …). Wherever the indexer's key
//! still shows up (a path segment, a parameter of another name), it is dropped before hashing.
//! StremThru's rule for the API form is kept exactly, so hits agree with what other TorBox
//! clients submit; for the classic form the result equals StremThru's and AIOStreams' too.

use chillproxy_core::upstream::Url;
use md5::{Digest, Md5};

/// Query parameters that name the user, not the release.
const USER_PARAMS: [&str; 11] =
    ["apikey", "api_key", "r", "i", "api", "user", "token", "key", "passkey", "uid", "username"];

/// The link forms of §1.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkForm {
    ApiGet,
    Classic,
    Nntmux,
    KeyInPath,
    IdParam,
    HydraProxy,
    ProwlarrProxy,
    Other,
}

/// An NZB link's identity: the md5 (32 lowercase hex digits) of its normalised form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NzbIdentity {
    pub hash: String,
    pub form: LinkForm,
}

/// The identity of `link`; `key` is the indexer's API key, when known, and never part of the
/// hashed text. `None` for a link that is not an http(s) URL.
pub fn identity(link: &str, key: Option<&str>) -> Option<NzbIdentity> {
    let (normalised, form) = normalise(link, key)?;
    let hash = hex::encode(Md5::digest(normalised.as_bytes()));
    Some(NzbIdentity { hash, form })
}

fn is_user_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    USER_PARAMS.contains(&name.as_str())
}

/// Go's `url.QueryEscape`, which StremThru's `Values.Encode` uses.
fn go_query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(byte)),
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// The normalised link that is hashed, and its form.
pub fn normalise(link: &str, key: Option<&str>) -> Option<(String, LinkForm)> {
    let url = Url::parse(link.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str()?;
    let key = key.map(str::trim).filter(|k| !k.is_empty());
    let origin = match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    };
    let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let param = |name: &str| pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    // A key never hashed: path segments equal to it go, and so do parameters carrying it.
    let keyless = |text: &str| key.is_none_or(|key| !text.contains(key));
    let raw_path = url.path();
    // The classic form has no `?`: its user parameters hang off the path after a `&`.
    let path = raw_path.split('&').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    let lower = path.to_ascii_lowercase();

    if lower.ends_with("/api") {
        if let (Some(t @ ("get" | "g")), Some(id)) = (param("t"), param("id")) {
            if keyless(id) {
                let query = format!("id={}&t={}", go_query_escape(id), go_query_escape(t));
                return Some((format!("{origin}{path}?{query}"), LinkForm::ApiGet));
            }
        }
    }
    if url.query().is_none() && raw_path.contains('&') {
        return Some((format!("{origin}{}", keyless_path(&segments, key)), LinkForm::Classic));
    }
    if let Some(at) = segments.iter().position(|s| s.eq_ignore_ascii_case("fetch")) {
        if let Some(guid) = segments.get(at + 1).filter(|g| !g.is_empty() && keyless(g)) {
            let kept = segments[..=at].join("/");
            return Some((format!("{origin}{kept}/{guid}"), LinkForm::KeyInPath));
        }
    }
    if lower.contains("/getnzb/api/") {
        return Some((format!("{origin}{}", keyless_path(&segments, key)), LinkForm::HydraProxy));
    }
    if lower.ends_with("/download") && param("link").is_some() {
        if let Some(file) = param("file").filter(|f| keyless(f)) {
            let path = keyless_path(&segments, key);
            return Some((format!("{origin}{path}?file={}", go_query_escape(file)), LinkForm::ProwlarrProxy));
        }
    }
    if let Some(id) = param("id").filter(|id| !id.is_empty() && keyless(id)) {
        let form = if lower.ends_with("/getnzb") { LinkForm::Nntmux } else { LinkForm::IdParam };
        let path = keyless_path(&segments, key);
        return Some((format!("{origin}{path}?id={}", go_query_escape(id)), form));
    }
    let mut kept: Vec<(String, String)> =
        pairs.into_iter().filter(|(k, v)| !is_user_param(k) && keyless(k) && keyless(v)).collect();
    kept.sort();
    let query: Vec<String> =
        kept.iter().map(|(k, v)| format!("{}={}", go_query_escape(k), go_query_escape(v))).collect();
    let path = keyless_path(&segments, key);
    let normalised = match query.is_empty() {
        true => format!("{origin}{path}"),
        false => format!("{origin}{path}?{}", query.join("&")),
    };
    Some((normalised, LinkForm::Other))
}

/// The path without any segment that holds the key.
fn keyless_path(segments: &[&str], key: Option<&str>) -> String {
    match key {
        None => segments.join("/"),
        Some(key) => segments.iter().filter(|s| !s.contains(key)).copied().collect::<Vec<_>>().join("/"),
    }
}

#[cfg(test)]
#[path = "nzb_tests.rs"]
mod tests;
