//! The outbound URL policy: the one place that decides whether chillproxy may call a URL a user
//! supplied (their indexers, the `.torrent` links an indexer returns, every hop of a redirect).
//! Operators' own configured upstreams are trusted and never asked.
//!
//! - Only `http` and `https`, with a host.
//! - Every address the host stands for must be public: loopback, private (RFC 1918), link-local
//!   (169.254.0.0/16 with the cloud metadata address, fe80::/10), CGNAT (100.64.0.0/10),
//!   multicast, broadcast, unspecified, documentation and benchmarking ranges, IPv6 ULA
//!   (fc00::/7), and the IPv4-mapped and -compatible forms of those are refused. An IP literal in
//!   any spelling the URL parser accepts (`2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]`) is
//!   normalised first, then checked.
//! - The connection goes to the checked address: a client built with the policy resolves names
//!   through [`PolicyResolver`], which drops refused addresses, so there is no second lookup that
//!   DNS rebinding could change.
//! - `[server] allow_private_user_urls = true` turns the address check off (home setups), and
//!   `[server] user_url_allow = ["host:port", …]` admits exact endpoints (a home Jackett).
//!
//! Refusals say why in words that never repeat the URL (it may hold a key).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// Who may be called through a URL a user supplied.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    inner: Arc<PolicyInner>,
}

#[derive(Debug, Default)]
struct PolicyInner {
    allow_private: bool,
    /// `host:port`, host lowercased (IPv6 without brackets).
    allow: HashSet<(String, u16)>,
    /// The hosts of `allow`, for the resolver (which sees no port).
    allow_hosts: HashSet<String>,
}

/// Why a URL was refused: which rule ([`RefusalKind`]), and the reason shown to the user as a
/// ⚠️, in words that never repeat the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct OutboundRefused {
    pub kind: RefusalKind,
    pub reason: String,
}

/// The rule a refused URL broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Not an `http` or `https` URL.
    Scheme,
    /// A URL without a host.
    NoHost,
    /// The host is, or resolves only to, an address that is not public (and not admitted by
    /// `[server] user_url_allow`): a user's URL aimed at the server's own network.
    NonPublic,
}

impl OutboundPolicy {
    /// The default: public addresses only, no exceptions.
    pub fn public_only() -> Self {
        Self::default()
    }

    /// `allow_private`: every address; `allow`: `host:port` entries admitted even when private.
    pub fn new(allow_private: bool, allow: &[String]) -> Self {
        let allow: HashSet<(String, u16)> = allow.iter().filter_map(|entry| parse_host_port(entry)).collect();
        let allow_hosts = allow.iter().map(|(h, _)| h.clone()).collect();
        Self { inner: Arc::new(PolicyInner { allow_private, allow, allow_hosts }) }
    }

    pub fn allows_private(&self) -> bool {
        self.inner.allow_private
    }

    /// Checks `url` before a call (and before each redirect hop): scheme, host, and an IP literal's
    /// address. A host name is checked when it is resolved ([`PolicyResolver`]).
    pub fn check_url(&self, url: &Url) -> Result<(), OutboundRefused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutboundRefused {
                kind: RefusalKind::Scheme,
                reason: "only http and https URLs are followed".into(),
            });
        }
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
            return Err(OutboundRefused { kind: RefusalKind::NoHost, reason: "the URL has no host".into() });
        };
        let port = url.port_or_known_default().unwrap_or(0);
        // The parser has already turned every IPv4 spelling into dotted decimal, and IPv6 into
        // its bracketed canonical form.
        let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>();
        let ip = match literal {
            Ok(ip) => ip,
            Err(_) => {
                let name = host;
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if self.admits(&name, port) {
                    return Ok(());
                }
                // Names that always mean this machine, whatever a resolver says.
                if !self.inner.allow_private && (name == "localhost" || name.ends_with(".localhost")) {
                    return Err(refused_for(IpAddr::V4(Ipv4Addr::LOCALHOST)));
                }
                return Ok(());
            }
        };
        if self.inner.allow_private || self.admits(&ip.to_string(), port) {
            return Ok(());
        }
        match non_public(ip) {
            Some(_) => Err(refused_for(ip)),
            None => Ok(()),
        }
    }

    fn admits(&self, host: &str, port: u16) -> bool {
        self.inner.allow.contains(&(host.to_string(), port))
    }

    /// Whether a resolved address of `host` may be connected to.
    fn admits_address(&self, host: &str, ip: IpAddr) -> bool {
        self.inner.allow_private || self.inner.allow_hosts.contains(host) || non_public(ip).is_none()
    }
}

/// `host:port` (`[v6]:port` too) as (lowercase host without brackets, port); `None` when it is
/// not one. The form of `[server] user_url_allow` entries.
pub fn parse_host_port(entry: &str) -> Option<(String, u16)> {
    let (host, port) = entry.trim().rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    (!host.is_empty()).then_some(())?;
    Some((host, port.parse().ok()?))
}

fn refused_for(ip: IpAddr) -> OutboundRefused {
    let kind = non_public(ip).unwrap_or("a non-public");
    OutboundRefused {
        kind: RefusalKind::NonPublic,
        reason: format!(
            "this URL points at {kind} address, which this server does not call for users (the operator can \
             allow it with [server] user_url_allow)"
        ),
    }
}

/// What kind of non-public address `ip` is, or `None` for a public one.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => {
            // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d) forms.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return non_public_v4(v4);
            }
            let segments = v6.segments();
            if segments[..6] == [0; 6] && !v6.is_unspecified() && !v6.is_loopback() {
                return non_public_v4(Ipv4Addr::from(v6.to_bits() as u32));
            }
            non_public_v6(v6)
        }
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback")
    } else if ip.is_unspecified() || a == 0 {
        Some("an unspecified")
    } else if ip.is_private() {
        Some("a private")
    } else if ip.is_link_local() {
        Some("a link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (CGNAT)")
    } else if ip.is_multicast() || a >= 224 {
        Some("a multicast or reserved")
    } else if ip.is_broadcast() {
        Some("a broadcast")
    } else if ip.is_documentation() || (a == 198 && (b == 18 || b == 19)) || (a == 192 && b == 0 && c == 0) {
        Some("a reserved")
    } else {
        None
    }
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("a loopback")
    } else if ip.is_unspecified() {
        Some("an unspecified")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a private (unique local)")
    } else if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
        Some("a link-local")
    } else if ip.is_multicast() {
        Some("a multicast")
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        Some("a reserved (documentation)")
    } else if first == 0x0064 && ip.segments()[1] == 0xff9b {
        // NAT64 embeds an IPv4 address in the last 32 bits.
        non_public_v4(Ipv4Addr::from(ip.to_bits() as u32))
    } else {
        None
    }
}

/// A DNS resolver that answers only with the addresses the policy admits, so a client built
/// with it connects to checked addresses only, in the same lookup.
#[derive(Debug, Clone)]
pub struct PolicyResolver {
    policy: OutboundPolicy,
}

impl PolicyResolver {
    pub fn new(policy: OutboundPolicy) -> Self {
        Self { policy }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let admitted: Vec<SocketAddr> =
                found.iter().copied().filter(|a| policy.admits_address(&host, a.ip())).collect();
            if admitted.is_empty() {
                let error: Box<dyn std::error::Error + Send + Sync> = match found.first() {
                    Some(addr) => Box::new(refused_for(addr.ip())),
                    None => "the name has no address".into(),
                };
                return Err(error);
            }
            let addrs: Addrs = Box::new(admitted.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: &OutboundPolicy, u: &str) -> Result<(), OutboundRefused> {
        policy.check_url(&Url::parse(u).unwrap_or_else(|e| panic!("{u}: {e}")))
    }

    #[test]
    fn only_http_and_https_with_a_host() {
        let policy = OutboundPolicy::public_only();
        assert!(check(&policy, "http://indexer.example/dl/1.torrent").is_ok());
        assert!(check(&policy, "https://93.184.216.34:9117/dl").is_ok());
        for bad in ["file:///etc/passwd", "ftp://h/x.torrent", "magnet:?xt=urn:btih:aaaa"] {
            assert!(check(&policy, bad).is_err(), "{bad}");
            assert_eq!(check(&policy, bad).unwrap_err().kind, RefusalKind::Scheme, "{bad}");
        }
    }

    #[test]
    fn every_spelling_of_a_private_address_is_refused() {
        let policy = OutboundPolicy::public_only();
        for url in [
            "http://127.0.0.1:6379/",
            "http://localhost:9117/api",
            "http://api.localhost/",
            "http://[::1]/",
            "http://0.0.0.0/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7f.1/",
            "http://017700000001/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.5/admin",
            "http://172.16.3.4/",
            "http://192.168.1.10:9117/",
            "http://100.64.0.1/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::]/",
            "http://[64:ff9b::a00:1]/",
            "http://[::10.0.0.1]/",
        ] {
            let refused = check(&policy, url).expect_err(url);
            assert!(refused.reason.contains("address"), "{url}: {refused}");
            assert!(!refused.reason.contains("http"), "the reason never repeats the URL: {refused}");
            assert_eq!(refused.kind, RefusalKind::NonPublic, "{url}");
        }
        for public in ["http://1.1.1.1/", "http://[2606:4700:4700::1111]/", "http://[::ffff:1.1.1.1]/"] {
            assert!(check(&policy, public).is_ok(), "{public}");
        }
    }

    #[test]
    fn exceptions_are_exact_and_the_switch_opens_everything() {
        let home = OutboundPolicy::new(false, &["192.168.1.10:9117".into(), "jackett.lan:9117".into()]);
        assert!(check(&home, "http://192.168.1.10:9117/api").is_ok());
        assert!(check(&home, "http://192.168.1.10:9118/api").is_err(), "another port");
        assert!(check(&home, "http://192.168.1.11:9117/api").is_err(), "another host");
        assert!(check(&home, "http://jackett.lan:9117/api").is_ok());
        assert!(home.admits_address("jackett.lan", "192.168.1.10".parse().unwrap()));
        assert!(!home.admits_address("other.lan", "192.168.1.10".parse().unwrap()));
        let open = OutboundPolicy::new(true, &[]);
        assert!(check(&open, "http://127.0.0.1:6379/").is_ok());
        assert!(check(&open, "http://localhost/").is_ok());
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses() {
        let resolver = PolicyResolver::new(OutboundPolicy::public_only());
        let error = resolver.resolve("localhost".parse::<Name>().unwrap()).await.err().expect("localhost is refused");
        assert!(error.to_string().contains("loopback"), "{error}");
        let open = PolicyResolver::new(OutboundPolicy::new(true, &[]));
        let addrs: Vec<SocketAddr> = open.resolve("localhost".parse::<Name>().unwrap()).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }
}
