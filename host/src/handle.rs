//! Playback handles (issue 15): with sealing keys configured, a stream URL carries no config.
//! It is `{base}/stremio/torz/_/play/{handle}/{file name}`, where the handle is sealed under the
//! keyring's playback subkey ([`Purpose::Playback`], `p1.<kid>.…`) and holds only what one
//! playback needs: the one store entry (its code and credential), the Stremio id, the info hash,
//! the file, and the device binding (the listing device, the client IP it was listed from, and
//! until when that binding holds). Nothing in it can be read or changed without the key; a
//! leaked stream URL plays that one file and shows no token, indexer key or user id.
//!
//! The device binding is honoured only from the same IP and before its expiry (as the `?b=`
//! binding of plain URLs); otherwise the device is taken from the request, as for any other.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use chillproxy_core::seal::{Keyring, OpenError, Purpose};
use chillproxy_core::{DeviceId, InfoHash, Secret, StoreEntry};
use serde::{Deserialize, Serialize};

/// What a handle holds. Short field names: it is in every stream URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Handle {
    /// The store code of the entry the stream plays from (only this one of the user's stores).
    pub c: String,
    /// Its token, when it has one. Held in clear inside the sealed value only: `Secret`
    /// serialises as `[redacted]`, so the entry is copied field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<String>,
    /// Its auth id (`auth`: a user id an auth provider reads), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub u: Option<String>,
    /// The Stremio id (`tt…` or `tt…:S:E`).
    pub i: String,
    /// The info hash.
    pub h: String,
    /// The store's file id, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f: Option<u64>,
    /// The listing device's digest (hex), bound to `a` until `x`.
    pub d: String,
    /// The client IP the list was served to.
    pub a: IpAddr,
    /// Unix seconds until which the device binding holds.
    pub x: u64,
}

/// What a new handle holds, borrowed from the stream list request (a list seals one per
/// stream): the same JSON as [`Handle`], without copying each part.
pub(crate) struct HandleParts<'a> {
    pub entry: &'a StoreEntry,
    pub id: &'a str,
    pub hash: &'a InfoHash,
    pub file_idx: Option<u64>,
    pub device: &'a DeviceId,
    pub ip: IpAddr,
    /// Unix seconds until which the device binding holds (see [`Handle::expiry`]).
    pub expires_at: u64,
}

#[derive(Serialize)]
struct Fields<'a> {
    c: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    t: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    u: Option<&'a str>,
    i: &'a str,
    h: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    f: Option<u64>,
    d: &'a str,
    a: IpAddr,
    x: u64,
}

impl HandleParts<'_> {
    /// Sealed for a URL; `None` without sealing keys.
    pub fn seal(&self, keyring: &Keyring) -> Option<String> {
        let fields = Fields {
            c: &self.entry.c,
            t: self.entry.t.as_ref().map(|t| t.expose()),
            u: self.entry.auth.as_deref(),
            i: self.id,
            h: self.hash.as_str(),
            f: self.file_idx,
            d: self.device.as_str(),
            a: self.ip,
            x: self.expires_at,
        };
        let json = serde_json::to_vec(&fields).ok()?;
        keyring.seal(Purpose::Playback, &json)
    }
}

impl Handle {
    /// When a binding made now for `binding_ttl_s` ends.
    pub fn expiry(binding_ttl_s: u64) -> u64 {
        now_secs() + binding_ttl_s
    }

    pub fn open(keyring: &Keyring, sealed: &str) -> Result<Self, OpenError> {
        let json = keyring.open(Purpose::Playback, sealed)?;
        serde_json::from_slice(&json).map_err(|_| OpenError::Damaged)
    }

    /// The store entry, as the user's config had it.
    pub fn entry(&self) -> StoreEntry {
        StoreEntry { c: self.c.clone(), t: self.t.clone().map(Secret::new), auth: self.u.clone() }
    }

    /// The listing device, when this request comes from the IP it was listed to and in time.
    pub fn device_for(&self, ip: IpAddr) -> Option<DeviceId> {
        if self.a != ip || now_secs() > self.x {
            return None;
        }
        DeviceId::from_hex(&self.d)
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(text: &str) -> Keyring {
        Keyring::parse(text).unwrap()
    }

    #[test]
    fn a_handle_hides_the_entry_and_binds_the_device_to_its_ip_and_time() {
        let keyring = ring("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
        let entry = StoreEntry { c: "tb".into(), t: Some(Secret::new("user-token-123")), ..Default::default() };
        let device = DeviceId::from_client("10.0.0.1".parse().unwrap(), "Stremio");
        let hash = InfoHash::parse(&"ab".repeat(20)).unwrap();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let expires_at = Handle::expiry(3600);
        let parts = HandleParts {
            entry: &entry,
            id: "tt0903747:1:3",
            hash: &hash,
            file_idx: Some(4),
            device: &device,
            ip,
            expires_at,
        };
        let sealed = parts.seal(&keyring).unwrap();
        assert!(sealed.starts_with("p1.k1."), "{sealed}");
        assert!(!sealed.contains("user-token-123") && !sealed.contains(&"ab".repeat(20)), "{sealed}");
        let opened = Handle::open(&keyring, &sealed).unwrap();
        let handle = Handle {
            c: "tb".into(),
            t: Some("user-token-123".into()),
            u: None,
            i: "tt0903747:1:3".into(),
            h: "ab".repeat(20),
            f: Some(4),
            d: device.as_str().into(),
            a: ip,
            x: expires_at,
        };
        assert_eq!(opened, handle);
        assert_eq!(opened.entry(), entry);
        assert_eq!(opened.device_for(ip).map(|d| d.digest()), Some(device.digest()));
        assert_eq!(opened.device_for("203.0.113.10".parse().unwrap()), None, "another IP");
        let expired = Handle { x: now_secs() - 1, ..handle };
        assert_eq!(expired.device_for(ip), None, "past its expiry");
        // A config sealed with the same keyring is not a handle.
        let config = keyring.seal(Purpose::Config, br#"{"stores":[]}"#).unwrap();
        assert!(Handle::open(&keyring, &config).is_err());
    }
}
