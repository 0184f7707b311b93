//! A string that must never be printed: debrid keys, pool keys, internal API keys.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Holds a secret value. `Debug`, `Display` and `Serialize` all print `[redacted]`; the only way
/// to read the value is [`Secret::expose`], which makes every use of the real value greppable.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(Box<str>);

pub const REDACTED: &str = "[redacted]";

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().into_boxed_str())
    }

    /// The real value, for the one place that must send it upstream.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// A stable, one-way identifier of the value (hex SHA-256), for cache keys: equal secrets
    /// give equal fingerprints, and the fingerprint does not reveal the secret.
    pub fn fingerprint(&self) -> String {
        fingerprint(self.0.as_bytes())
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn fingerprint(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex_digest(&Sha256::digest(bytes).into())
}

/// Lowercase hex of a 32-byte digest, without going through `char`s (`hex::encode` collects
/// them one by one; this is on every request's path).
pub fn hex_digest(digest: &[u8; 32]) -> String {
    let mut out = [0u8; 64];
    // The output is exactly twice the input: this cannot fail.
    let _ = hex::encode_to_slice(digest, &mut out);
    String::from_utf8(out.to_vec()).unwrap_or_default()
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("tb_live_key_123");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
        assert_eq!(s.expose(), "tb_live_key_123");
        let back: Secret = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(back.expose(), "abc");
    }
}
