//! Device identity, as Chillstreams counts devices: SHA-256 of `client_ip|user_agent`.

use std::fmt;
use std::net::IpAddr;

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `client_ip + "|" + user_agent`. It reveals neither value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DeviceId(String);

impl DeviceId {
    pub fn from_client(ip: IpAddr, user_agent: &str) -> Self {
        let mut hasher = Sha256::new();
        // The address as `Display` writes it (`203.0.113.7`, `2001:db8::1`); an IPv4 address,
        // the common case, without the formatting machinery (this runs for every request).
        match ip {
            IpAddr::V4(v4) => {
                let mut text = [0u8; 15];
                let mut len = 0;
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text[len] = b'.';
                        len += 1;
                    }
                    if octet >= 100 {
                        text[len] = b'0' + octet / 100;
                        len += 1;
                    }
                    if octet >= 10 {
                        text[len] = b'0' + octet / 10 % 10;
                        len += 1;
                    }
                    text[len] = b'0' + octet % 10;
                    len += 1;
                }
                hasher.update(&text[..len]);
            }
            IpAddr::V6(_) => hasher.update(ip.to_string().as_bytes()),
        }
        hasher.update(b"|");
        hasher.update(user_agent.as_bytes());
        Self(crate::secret::hex_digest(&hasher.finalize().into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 32 digest bytes.
    pub fn digest(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&self.0[i * 2..i * 2 + 2], 16).unwrap_or(0);
        }
        out
    }

    /// A device id from its hex form ([`DeviceId::as_str`]); `None` unless 64 lowercase hex digits.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let valid = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| Self(hex.to_string()))
    }

    /// A device id from its 32 digest bytes (as carried, encrypted, in a playback binding).
    pub fn from_digest(digest: &[u8; 32]) -> Self {
        Self(crate::secret::hex_digest(digest))
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix is enough to correlate log lines.
        write!(f, "DeviceId({}…)", &self.0[..12])
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv4_address_is_hashed_as_display_writes_it() {
        for ip in ["0.0.0.0", "9.10.99.100", "203.0.113.7", "255.255.255.255", "127.0.0.1", "2001:db8::1"] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut hasher = Sha256::new();
            hasher.update(ip.to_string().as_bytes());
            hasher.update(b"|");
            hasher.update(b"Stremio");
            let expected = crate::secret::hex_digest(&hasher.finalize().into());
            assert_eq!(DeviceId::from_client(ip, "Stremio").as_str(), expected, "{ip}");
        }
    }

    #[test]
    fn is_sha256_of_ip_pipe_user_agent() {
        let id = DeviceId::from_client("203.0.113.7".parse().unwrap(), "Stremio/4.4");
        // printf '203.0.113.7|Stremio/4.4' | sha256sum
        let expected = Sha256::digest(b"203.0.113.7|Stremio/4.4");
        let hex = hex::encode(expected);
        assert_eq!(id.as_str(), hex);
        assert_eq!(id.as_str().len(), 64);
        let other = DeviceId::from_client("203.0.113.8".parse().unwrap(), "Stremio/4.4");
        assert_ne!(id, other);
        assert_eq!(DeviceId::from_digest(&id.digest()), id);
    }
}
