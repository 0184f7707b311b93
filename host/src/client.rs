//! Who is asking: the client IP (forwarding headers count only from trusted proxies), the
//! device id auth providers count, and the public base URL for generated links.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, HeaderName};
use chillproxy_core::DeviceId;
use ipnet::IpNet;

use crate::config::ServerConfig;

/// The requesting client as far as this server can tell.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: IpAddr,
    pub device: DeviceId,
}

impl ClientInfo {
    pub fn from_request(peer: SocketAddr, headers: &HeaderMap, server: &ServerConfig) -> Self {
        let ip = client_ip(peer.ip(), headers, &server.trusted_proxies);
        let user_agent = header(headers, axum::http::header::USER_AGENT).unwrap_or_default();
        let device = DeviceId::from_client(ip, user_agent);
        Self { ip, device }
    }
}

// Header names made once (looking one up by `&str` parses the name every time).
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

fn header(headers: &HeaderMap, name: impl axum::http::header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

fn is_trusted(peer: IpAddr, trusted: &[IpNet]) -> bool {
    let peer = peer.to_canonical();
    trusted.iter().any(|net| net.contains(&peer))
}

/// The socket peer, unless the peer is a trusted proxy that names the client in
/// `X-Forwarded-For` (first entry), `X-Real-IP` or `Forwarded` (`for=`, first element).
pub(crate) fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let forwarded_for = header(headers, X_FORWARDED_FOR).and_then(|v| v.split(',').next()).and_then(parse_ip);
    forwarded_for
        .or_else(|| header(headers, X_REAL_IP).and_then(parse_ip))
        .or_else(|| header(headers, axum::http::header::FORWARDED).and_then(forwarded_for_element))
        .unwrap_or(peer)
}

/// `for=` of the first element of an RFC 7239 `Forwarded` header: `for=192.0.2.60`,
/// `for="[2001:db8::1]:4711"`.
fn forwarded_for_element(value: &str) -> Option<IpAddr> {
    let first = value.split(',').next()?;
    let node = first.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim().eq_ignore_ascii_case("for").then(|| value.trim().trim_matches('"'))
    })?;
    let node = node.strip_prefix('[').map_or(node, |rest| rest.split(']').next().unwrap_or(rest));
    parse_ip(node)
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `[::1]:80` or `::1`.
fn parse_ip(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    raw.parse::<IpAddr>().ok().or_else(|| raw.parse::<SocketAddr>().ok().map(|s| s.ip())).map(|ip| ip.to_canonical())
}

/// The base URL for links this server generates: `[server] public_url`, else the request's
/// `Host` (and, from a trusted proxy, `X-Forwarded-Proto`/`X-Forwarded-Host`).
pub(crate) fn public_base_url(peer: SocketAddr, headers: &HeaderMap, server: &ServerConfig) -> String {
    if let Some(url) = &server.public_url {
        return url.clone();
    }
    let trusted = is_trusted(peer.ip(), &server.trusted_proxies);
    let proto = trusted
        .then(|| header(headers, X_FORWARDED_PROTO))
        .flatten()
        .filter(|p| *p == "http" || *p == "https")
        .unwrap_or("http");
    let host = trusted
        .then(|| header(headers, X_FORWARDED_HOST))
        .flatten()
        .or_else(|| header(headers, axum::http::header::HOST))
        .filter(|h| is_valid_host(h));
    match host {
        Some(host) => [proto, "://", host].concat(),
        None => format!("{proto}://{}", server.listen),
    }
}

/// A `Host` header value we are willing to echo into URLs: name or address, optional port.
fn is_valid_host(host: &str) -> bool {
    host.len() <= 255
        && !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_peers() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let h = headers(&[("x-forwarded-for", "203.0.113.9, 10.0.0.2")]);
        assert_eq!(client_ip("192.0.2.1".parse().unwrap(), &h, &trusted), "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip("10.1.2.3".parse().unwrap(), &h, &trusted), "203.0.113.9".parse::<IpAddr>().unwrap());
        let h = headers(&[("x-real-ip", "198.51.100.4")]);
        assert_eq!(client_ip("10.1.2.3".parse().unwrap(), &h, &trusted), "198.51.100.4".parse::<IpAddr>().unwrap());
        let h = headers(&[("forwarded", "for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.1")]);
        assert_eq!(client_ip("10.1.2.3".parse().unwrap(), &h, &trusted), "2001:db8::7".parse::<IpAddr>().unwrap());
        let h = headers(&[("forwarded", "proto=https;For=198.51.100.9")]);
        assert_eq!(client_ip("10.1.2.3".parse().unwrap(), &h, &trusted), "198.51.100.9".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip("192.0.2.1".parse().unwrap(), &h, &trusted), "192.0.2.1".parse::<IpAddr>().unwrap());
        let h = headers(&[("x-forwarded-for", "garbage")]);
        assert_eq!(client_ip("10.1.2.3".parse().unwrap(), &h, &trusted), "10.1.2.3".parse::<IpAddr>().unwrap());
        // IPv4-mapped IPv6 peers match IPv4 ranges.
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            client_ip("::ffff:10.0.0.1".parse().unwrap(), &h, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn base_url_prefers_public_url_then_trusted_forwarded_headers() {
        let mut server = ServerConfig { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..Default::default() };
        let h = headers(&[
            ("host", "addon.local:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "addon.example.com"),
        ]);
        assert_eq!(public_base_url("127.0.0.1:5000".parse().unwrap(), &h, &server), "https://addon.example.com");
        assert_eq!(public_base_url("192.0.2.1:5000".parse().unwrap(), &h, &server), "http://addon.local:8080");
        server.public_url = Some("https://fixed.example".into());
        assert_eq!(public_base_url("192.0.2.1:5000".parse().unwrap(), &h, &server), "https://fixed.example");
        let bad = headers(&[("host", "evil.com/<script>")]);
        server.public_url = None;
        assert_eq!(public_base_url("192.0.2.1:5000".parse().unwrap(), &bad, &server), "http://0.0.0.0:8080");
    }
}
