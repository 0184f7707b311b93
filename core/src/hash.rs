//! BitTorrent info hashes.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A v1 info hash: exactly 40 hex digits, stored lowercase.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHash(String);

impl InfoHash {
    /// Accepts 40 hex digits in any case; anything else is `None`.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        if value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some(Self(value.to_ascii_lowercase()))
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 20 bytes the 40 hex digits spell.
    pub fn to_bytes(&self) -> [u8; 20] {
        let mut bytes = [0u8; 20];
        // Always 40 hex digits (see `parse`): this cannot fail.
        let _ = hex::decode_to_slice(&self.0, &mut bytes);
        bytes
    }

    /// The info hash of these 20 bytes.
    pub fn from_bytes(bytes: &[u8; 20]) -> Self {
        Self(hex::encode(bytes))
    }

    pub fn magnet(&self) -> String {
        format!("magnet:?xt=urn:btih:{}", self.0)
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({})", self.0)
    }
}

impl Serialize for InfoHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for InfoHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        InfoHash::parse(&raw).ok_or_else(|| serde::de::Error::custom("an info hash is 40 hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_lowercases() {
        let h = InfoHash::parse("0123456789ABCDEF0123456789abcdef01234567").unwrap();
        assert_eq!(h.as_str(), "0123456789abcdef0123456789abcdef01234567");
        assert!(InfoHash::parse("xyz").is_none());
        assert!(InfoHash::parse("0123456789abcdef0123456789abcdef0123456g").is_none());
        assert!(InfoHash::parse("0123456789abcdef0123456789abcdef012345678").is_none());
        assert_eq!(h.to_bytes()[..3], [0x01, 0x23, 0x45]);
        assert_eq!(InfoHash::from_bytes(&h.to_bytes()), h);
    }
}
