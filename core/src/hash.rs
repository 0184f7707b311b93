//! Release identities: BitTorrent info hashes, and the usenet hash an NZB release is known by.

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

/// An NZB release's identity: the lowercase-hex md5 (32 digits) of its normalised link, which
/// is what TorBox's usenet cache (`usenet/checkcached`) is keyed by. The normalisation (the
/// Newznab source's, issue 22) drops every user part of the link (API keys, user names, per-user
/// tokens), so two users' links to one release have one usenet hash and no key is ever hashed.
///
/// Inside the host a usenet release is filed under [`UsenetHash::key`], a 40-digit
/// [`InfoHash`] (the md5 behind eight `0` digits), so the maps keyed by release (the
/// availability memory, the cache checks, a list's dedup) take both kinds without a second
/// key type. The key never reaches a torrent store: a candidate's kind
/// ([`Candidate::kind`](crate::Candidate::kind)) says which calls it takes, and stores are asked
/// only for the kinds they play.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsenetHash(String);

impl UsenetHash {
    /// Accepts 32 hex digits in any case; anything else is `None`.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        if value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some(Self(value.to_ascii_lowercase()))
        } else {
            None
        }
    }

    /// The usenet hash of these 16 digest bytes (an md5).
    pub fn from_digest(bytes: &[u8; 16]) -> Self {
        Self(hex::encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 16 bytes the 32 hex digits spell.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        // Always 32 hex digits (see `parse`): this cannot fail.
        let _ = hex::decode_to_slice(&self.0, &mut bytes);
        bytes
    }

    /// The key the host files this release under (see the type's doc).
    pub fn key(&self) -> InfoHash {
        InfoHash(format!("{USENET_KEY_PREFIX}{}", self.0))
    }

    /// The usenet hash a key made by [`UsenetHash::key`] stands for.
    pub fn from_key(key: &InfoHash) -> Option<Self> {
        key.as_str().strip_prefix(USENET_KEY_PREFIX).map(|md5| Self(md5.to_string()))
    }
}

/// What a usenet release's [`InfoHash`] key starts with.
const USENET_KEY_PREFIX: &str = "00000000";

impl fmt::Display for UsenetHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UsenetHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UsenetHash({})", self.0)
    }
}

impl Serialize for UsenetHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for UsenetHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        UsenetHash::parse(&raw).ok_or_else(|| serde::de::Error::custom("a usenet hash is 32 hex digits"))
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

    #[test]
    fn a_usenet_hash_is_32_hex_digits_and_keys_as_an_info_hash() {
        let u = UsenetHash::parse("0123456789ABCDEF0123456789abcdef").unwrap();
        assert_eq!(u.as_str(), "0123456789abcdef0123456789abcdef");
        assert!(UsenetHash::parse(&"a".repeat(40)).is_none());
        assert!(UsenetHash::parse("0123456789abcdef0123456789abcdeg").is_none());
        let key = u.key();
        assert_eq!(key.as_str(), "000000000123456789abcdef0123456789abcdef");
        assert_eq!(UsenetHash::from_key(&key), Some(u.clone()));
        assert_eq!(UsenetHash::from_key(&h40()), None);
        assert_eq!(UsenetHash::from_digest(&[0xab; 16]).as_str(), "ab".repeat(16));
        assert_eq!(UsenetHash::from_digest(&u.to_bytes()), u);
        let json = serde_json::to_string(&u).unwrap();
        assert_eq!(serde_json::from_str::<UsenetHash>(&json).unwrap(), u);
    }

    fn h40() -> InfoHash {
        InfoHash::parse(&"ab".repeat(20)).unwrap()
    }
}
