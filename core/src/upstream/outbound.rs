//! The outbound URL policy: the one place that decides whether chillproxy may call a URL it did
//! not configure itself (a `.torrent` link from an indexer's reply, every hop of its redirects).
//!
//! Today it only insists on `http`/`https` with a host. The security issue fills in the rest
//! (private and link-local addresses, ports, DNS rebinding); callers already ask it on every hop.

use reqwest::Url;

/// `Ok` when `url` may be called; otherwise why not, in words that never repeat the URL.
pub fn check_outbound_url(url: &Url) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err("only http and https links are followed".to_string());
    }
    if url.host().is_none() {
        return Err("the link has no host".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_with_a_host() {
        let ok = |u: &str| check_outbound_url(&Url::parse(u).unwrap_or_else(|e| panic!("{u}: {e}")));
        assert!(ok("http://indexer.example/dl/1.torrent").is_ok());
        assert!(ok("https://127.0.0.1:9117/dl").is_ok());
        assert!(ok("file:///etc/passwd").is_err());
        assert!(ok("ftp://h/x.torrent").is_err());
        assert!(ok("magnet:?xt=urn:btih:aaaa").is_err());
    }
}
