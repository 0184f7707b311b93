//! An NZB fetched here, for TorBox to take as a file when it cannot fetch the link itself (a
//! LAN NZBHydra or Prowlarr, a redirecting `t=get`, a private indexer): the fetch, the checks
//! that the body is an NZB (an indexer answers errors as `<error code=… />` with HTTP 200, or
//! as an HTML page), and the `multipart/form-data` upload body (field `file`).
//!
//! The link carries the indexer's key: it reaches no error text or log line (the kit scrubs it,
//! and the messages here name no URL).

use chillproxy_core::upstream::{Method, Upstream, UpstreamError, Url};
use chillproxy_core::{Secret, StoreError};

use crate::error::{error, Kind, STORE};

/// Largest NZB read (a season pack's NZB runs to tens of MB).
pub const MAX_NZB_BYTES: usize = 50 * 1024 * 1024;

/// The NZB at `url` (the unlocked `link`), fetched with `upstream` (which follows redirects,
/// each hop checked by its policy): its bytes, or why they are not an NZB.
pub(crate) async fn fetch_nzb(upstream: &Upstream, url: Url, link: &Secret) -> Result<Vec<u8>, StoreError> {
    let request = upstream.request_url(Method::GET, "nzb", url).secret(link).accept("application/x-nzb, */*");
    upstream
        .call(request, |reply| {
            let reply = reply.map_err(|e| fetch_error(e, link))?;
            let status = reply.status.as_u16();
            check_nzb(status, &reply.content_type, &reply.body)?;
            Ok(reply.body)
        })
        .await
}

fn fetch_error(e: UpstreamError, link: &Secret) -> StoreError {
    if e.refusal().is_some() {
        return error(
            Kind::DownloadFailed,
            "the indexer's NZB link points at an address this server may not fetch from".to_string(),
            None,
        );
    }
    let what = match e {
        UpstreamError::Timeout => "did not answer in time".to_string(),
        UpstreamError::BodyTooLarge { .. } => format!("sent an NZB larger than {} MiB", MAX_NZB_BYTES >> 20),
        other => format!("could not be reached ({})", crate::error::clean_message(&other.to_string(), link.expose())),
    };
    error(Kind::DownloadFailed, format!("the indexer {what}"), None)
}

/// Whether a body is an NZB; an indexer's error (Newznab `<error code … />`, HTTP error, HTML)
/// is a typed error naming the indexer's code, never its text (which may echo the key).
pub(crate) fn check_nzb(status: u16, content_type: &str, body: &[u8]) -> Result<(), StoreError> {
    let head = String::from_utf8_lossy(&body[..body.len().min(2048)]).to_ascii_lowercase();
    if let Some(code) = newznab_error_code(&head) {
        let (kind, meaning) = match code {
            100..=102 => (Kind::DownloadFailed, "the indexer refused its API key"),
            300 => (Kind::DownloadFailed, "the indexer no longer has this release"),
            429 | 500 | 501 | 910 => (Kind::RateLimited, "the indexer's download limit is reached"),
            _ => (Kind::DownloadFailed, "the indexer answered with an error instead of the NZB"),
        };
        return Err(error(kind, format!("{meaning} (Newznab error {code})"), None));
    }
    if status == 429 {
        return Err(error(Kind::RateLimited, "the indexer's download limit is reached (HTTP 429)".to_string(), None));
    }
    if !(200..300).contains(&status) {
        return Err(error(
            Kind::DownloadFailed,
            format!("the indexer answered HTTP {status} instead of the NZB"),
            None,
        ));
    }
    let html = content_type.contains("html") || head.trim_start().starts_with("<!doctype") || head.contains("<html");
    if html {
        return Err(error(Kind::DownloadFailed, "the indexer sent a web page instead of the NZB".to_string(), None));
    }
    if !head.contains("<nzb") {
        return Err(error(Kind::DownloadFailed, "the indexer's reply is not an NZB".to_string(), None));
    }
    Ok(())
}

/// The code of a Newznab `<error code="N" …/>` at the start of a body.
fn newznab_error_code(head: &str) -> Option<u32> {
    if head.contains("<nzb") {
        return None;
    }
    let at = head.find("<error")?;
    let rest = &head[at..];
    let code = rest.find("code=")?;
    let value = rest[code + 5..].trim_start_matches(['"', '\'']);
    let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().or(Some(0))
}

/// The `multipart/form-data` body that uploads `nzb` as field `file` (`<name>.nzb`,
/// `application/x-nzb`) with the download's `name`: its content type and bytes.
pub(crate) fn multipart_nzb(nzb: &[u8], name: &str) -> (String, Vec<u8>) {
    let mut boundary = "chillproxy-nzb-7f3a9c1e5b".to_string();
    while contains(nzb, boundary.as_bytes()) || name.contains(&boundary) {
        boundary.push('x');
    }
    let file_name: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') { c } else { '_' })
        .take(120)
        .collect();
    let mut body = Vec::with_capacity(nzb.len() + 512);
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n").as_bytes());
    body.extend_from_slice(name.replace(['\r', '\n'], " ").as_bytes());
    body.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}.nzb\"\r\n\
             Content-Type: application/x-nzb\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(nzb);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    tracing::debug!(store = STORE, bytes = nzb.len(), "nzb upload prepared");
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NZB: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nzb PUBLIC "-//newzBin//DTD NZB 1.1//EN" "http://www.newzbin.com/DTD/nzb/nzb-1.1.dtd">
<nzb xmlns="http://www.newzbin.com/DTD/2003/nzb"><file subject="x"></file></nzb>"#;

    #[test]
    fn an_nzb_passes_and_errors_do_not() {
        assert!(check_nzb(200, "application/x-nzb", NZB).is_ok());
        let e = check_nzb(200, "text/xml", br#"<?xml version="1.0"?><error code="300" description="No such item"/>"#)
            .unwrap_err();
        assert!(matches!(e, StoreError::DownloadFailed { .. }), "{e:?}");
        assert!(e.to_string().contains("Newznab error 300"), "{e}");
        let e = check_nzb(200, "text/xml", br#"<error code="501" description="limit KEYKEY"/>"#).unwrap_err();
        assert!(matches!(e, StoreError::RateLimited { .. }), "{e:?}");
        assert!(!e.to_string().contains("KEYKEY"));
        let e = check_nzb(200, "text/html", b"<!DOCTYPE html><html>login</html>").unwrap_err();
        assert!(e.to_string().contains("web page"), "{e}");
        assert!(check_nzb(404, "application/x-nzb", NZB).is_err());
        assert!(check_nzb(200, "application/octet-stream", b"PK\x03\x04").is_err());
    }

    #[test]
    fn the_upload_is_one_file_field() {
        let (content_type, body) = multipart_nzb(NZB, "Movie 2020 / 1080p");
        let boundary = content_type.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("name=\"file\"; filename=\"Movie 2020 _ 1080p.nzb\""), "{text}");
        assert!(text.contains("Content-Type: application/x-nzb"));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
        assert!(contains(&body, NZB));
    }
}
