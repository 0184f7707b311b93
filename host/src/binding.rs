//! Device binding for playback URLs. Stremio lists streams with one User-Agent and its player
//! fetches the playback URL with another, which a pooled-key auth provider would count as a second device.
//! So each playback URL carries the list request's device id, bound to the client IP and an
//! expiry, encrypted and authenticated under the server secret:
//!
//! `b = base64url(nonce[12] | expiry[8] | E(device)[32] | tag[16])`, where
//! `E(device) = device XOR HMAC(secret, "enc" | nonce)` and
//! `tag = HMAC(secret, "mac" | nonce | expiry | E(device) | client IP)[..16]`.
//!
//! The IP is only inside the MAC (never in the token), the device id is encrypted with a
//! one-time pad derived from a fresh nonce, and any change to the token, another IP or a past
//! expiry fails verification, in which case the device id is computed from the request.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chillproxy_core::{DeviceId, Secret};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const NONCE: usize = 12;
const TAG: usize = 16;
const TOKEN_BYTES: usize = NONCE + 8 + 32 + TAG;

/// Signs and checks device bindings.
pub struct Binder {
    /// HMAC keyed with the server secret once; each use clones it (the key is never kept
    /// elsewhere, and `Hmac` does not print it).
    keyed: HmacSha256,
    ttl: Duration,
    /// Tokens already opened, by the token as sent: the client IP they were opened for, the
    /// device and the expiry. A player asking again with the same URL costs a lookup instead of
    /// two HMACs; a hit holds only for the same IP and before the expiry (else the token is
    /// checked in full). Bounded by entries.
    opened: quick_cache::sync::Cache<Box<str>, (IpAddr, DeviceId, u64)>,
}

/// Opened tokens kept (about 200 bytes each).
const OPENED_KEPT: usize = 10_000;

/// A nonce never used before by this process, and not by another (random 96-bit start): the pad
/// is a PRF of the nonce, so a unique nonce is all it needs. One random draw per process
/// instead of one system call per stream list.
fn fresh_nonce() -> [u8; NONCE] {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static START: OnceLock<(u32, u64)> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let (prefix, start) = *START.get_or_init(|| {
        let (high, low) = uuid::Uuid::new_v4().as_u64_pair();
        (high as u32, low)
    });
    let counter = start.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed));
    let mut nonce = [0u8; NONCE];
    nonce[..4].copy_from_slice(&prefix.to_be_bytes());
    nonce[4..].copy_from_slice(&counter.to_be_bytes());
    nonce
}

impl Binder {
    #[allow(clippy::expect_used)] // HMAC accepts keys of any length: this cannot fail.
    pub fn new(secret: Secret, ttl: Duration) -> Self {
        let keyed = <HmacSha256 as Mac>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key length");
        Self { keyed, ttl, opened: quick_cache::sync::Cache::new(OPENED_KEPT) }
    }

    /// A random secret for this process only (links then do not survive a restart).
    pub fn random_secret() -> Secret {
        let bytes: Vec<u8> = (0..3).flat_map(|_| *uuid::Uuid::new_v4().as_bytes()).collect();
        Secret::new(URL_SAFE_NO_PAD.encode(bytes))
    }

    fn mac(&self) -> HmacSha256 {
        self.keyed.clone()
    }

    fn pad(&self, nonce: &[u8]) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(b"chillproxy binding enc");
        mac.update(nonce);
        mac.finalize().into_bytes().into()
    }

    fn tag(&self, nonce: &[u8], expiry: &[u8], sealed: &[u8], ip: IpAddr) -> HmacSha256 {
        let mut mac = self.mac();
        mac.update(b"chillproxy binding mac");
        mac.update(nonce);
        mac.update(expiry);
        mac.update(sealed);
        mac.update(ip.to_string().as_bytes());
        mac
    }

    /// A binding of `device` to `ip` that expires after the configured TTL (requests go through
    /// `BindingSlot::get_or_seal`; this is the tests' way in).
    pub fn seal(&self, device: &DeviceId, ip: IpAddr) -> String {
        self.seal_until(device, ip, now_secs() + self.ttl.as_secs())
    }

    fn seal_until(&self, device: &DeviceId, ip: IpAddr, expires_at: u64) -> String {
        let nonce_source = fresh_nonce();
        let nonce = &nonce_source[..];
        let expiry = expires_at.to_be_bytes();
        let pad = self.pad(nonce);
        let mut sealed = device.digest();
        for (byte, key) in sealed.iter_mut().zip(pad) {
            *byte ^= key;
        }
        let tag = self.tag(nonce, &expiry, &sealed, ip).finalize().into_bytes();
        let mut token = Vec::with_capacity(TOKEN_BYTES);
        token.extend_from_slice(nonce);
        token.extend_from_slice(&expiry);
        token.extend_from_slice(&sealed);
        token.extend_from_slice(&tag[..TAG]);
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The bound device, if `token` is intact, unexpired and was made for `ip`.
    pub fn open(&self, token: &str, ip: IpAddr) -> Option<DeviceId> {
        if token.len() > 2 * TOKEN_BYTES {
            return None;
        }
        let now = now_secs();
        if let Some((for_ip, device, expires_at)) = self.opened.get(token) {
            if for_ip == ip && expires_at > now {
                return Some(device);
            }
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() != TOKEN_BYTES {
            return None;
        }
        let (nonce, rest) = bytes.split_at(NONCE);
        let (expiry, rest) = rest.split_at(8);
        let (sealed, tag) = rest.split_at(32);
        self.tag(nonce, expiry, sealed, ip).verify_truncated_left(tag).ok()?;
        let expires_at = u64::from_be_bytes(expiry.try_into().ok()?);
        if expires_at <= now {
            return None;
        }
        let pad = self.pad(nonce);
        let mut digest = [0u8; 32];
        for ((out, byte), key) in digest.iter_mut().zip(sealed).zip(pad) {
            *out = byte ^ key;
        }
        let device = DeviceId::from_digest(&digest);
        self.opened.insert(token.into(), (ip, device.clone(), expires_at));
        Some(device)
    }
}

/// The last binding made for one config segment, reused while it is fresh: a viewer refreshing
/// lists from one device and address gets the same `?b=` token instead of two HMACs per list
/// (issue 25's profile had sealing at about 3% of a warm list). A token made `REUSE_S` seconds
/// ago simply expires that much sooner than a new one; any other device or address gets its own.
#[derive(Default)]
pub(crate) struct BindingSlot(std::sync::Mutex<Option<Recent>>);

struct Recent {
    device: DeviceId,
    ip: IpAddr,
    made_at: u64,
    token: String,
}

/// How long a binding is reused: a minute, or a tenth of the binding's lifetime when shorter.
const REUSE_S: u64 = 60;

impl BindingSlot {
    /// The binding of `device` to `ip`: the one made for them here less than a minute ago, or a
    /// new one (kept for the next list).
    pub fn get_or_seal(&self, binder: &Binder, device: &DeviceId, ip: IpAddr) -> String {
        let now = now_secs();
        let reuse = REUSE_S.min(binder.ttl.as_secs() / 10);
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(recent) = slot.as_ref() {
            if recent.ip == ip && &recent.device == device && now.saturating_sub(recent.made_at) < reuse {
                return recent.token.clone();
            }
        }
        let token = binder.seal_until(device, ip, now + binder.ttl.as_secs());
        *slot = Some(Recent { device: device.clone(), ip, made_at: now, token: token.clone() });
        token
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binder() -> Binder {
        Binder::new(Secret::new("test-secret-0123456789abcdef"), Duration::from_secs(3600))
    }

    #[test]
    fn round_trips_for_the_same_ip_only() {
        let device = DeviceId::from_client("203.0.113.5".parse().unwrap(), "Stremio");
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let token = binder().seal(&device, ip);
        assert_eq!(binder().open(&token, ip), Some(device.clone()));
        assert_eq!(binder().open(&token, "203.0.113.6".parse().unwrap()), None, "another IP");
        let other = Binder::new(Secret::new("another-secret-0123456789"), Duration::from_secs(3600));
        assert_eq!(other.open(&token, ip), None, "another server secret");
        // Reveals neither the device id nor the IP.
        let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        assert!(!raw.windows(32).any(|w| w == device.digest()));
        assert!(!token.contains("203.0.113.5") && !token.contains(device.as_str()));
    }

    #[test]
    fn tampered_or_expired_tokens_are_ignored() {
        let device = DeviceId::from_client("198.51.100.1".parse().unwrap(), "Stremio");
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        let token = binder().seal(&device, ip);
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in [0, 13, 30, TOKEN_BYTES - 1] {
            bytes[i] ^= 1;
            assert_eq!(binder().open(&URL_SAFE_NO_PAD.encode(&bytes), ip), None, "byte {i}");
            bytes[i] ^= 1;
        }
        let expired = binder().seal_until(&device, ip, now_secs() - 1);
        assert_eq!(binder().open(&expired, ip), None);
        for junk in ["", "!!!", "AAAA", &"A".repeat(500)] {
            assert_eq!(binder().open(junk, ip), None);
        }
        // Two bindings of one device differ (fresh nonce).
        assert_ne!(binder().seal(&device, ip), binder().seal(&device, ip));
    }

    #[test]
    fn an_opened_token_is_remembered_for_its_ip_and_until_its_expiry_only() {
        let binder = binder();
        let device = DeviceId::from_client("198.51.100.2".parse().unwrap(), "Stremio");
        let ip: IpAddr = "198.51.100.2".parse().unwrap();
        let token = binder.seal(&device, ip);
        assert_eq!(binder.open(&token, ip), Some(device.clone()));
        assert!(binder.opened.get(token.as_str()).is_some(), "kept after one full check");
        assert_eq!(binder.open(&token, ip), Some(device.clone()), "and found again");
        assert_eq!(binder.open(&token, "198.51.100.3".parse().unwrap()), None, "not from another IP");
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[TOKEN_BYTES - 1] ^= 1;
        assert_eq!(binder.open(&URL_SAFE_NO_PAD.encode(&bytes), ip), None, "a changed token is checked in full");
        // Past its expiry a remembered token no longer opens (the full check refuses it too).
        let expired = binder.seal_until(&device, ip, now_secs() - 1);
        binder.opened.insert(expired.as_str().into(), (ip, device.clone(), now_secs() - 1));
        assert_eq!(binder.open(&expired, ip), None);
    }

    #[test]
    fn a_slot_reuses_a_fresh_binding_for_the_same_device_and_address_only() {
        let binder = binder();
        let slot = BindingSlot::default();
        let device = DeviceId::from_client("198.51.100.1".parse().unwrap(), "Stremio");
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        let first = slot.get_or_seal(&binder, &device, ip);
        assert_eq!(slot.get_or_seal(&binder, &device, ip), first, "reused");
        assert_eq!(binder.open(&first, ip), Some(device.clone()));
        let other_ip: IpAddr = "198.51.100.2".parse().unwrap();
        let moved = slot.get_or_seal(&binder, &device, other_ip);
        assert_ne!(moved, first);
        assert_eq!(binder.open(&moved, other_ip), Some(device.clone()));
        let phone = DeviceId::from_client(ip, "Stremio Android");
        let phones = slot.get_or_seal(&binder, &phone, ip);
        assert_eq!(binder.open(&phones, ip), Some(phone));
        // A short binding lifetime is never reused (a tenth of 5 s rounds to nothing).
        let short = Binder::new(Secret::new("test-secret-0123456789abcdef"), Duration::from_secs(5));
        let slot = BindingSlot::default();
        assert_ne!(slot.get_or_seal(&short, &device, ip), slot.get_or_seal(&short, &device, ip));
    }
}
