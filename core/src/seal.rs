//! Sealed values: user configs and playback handles that can travel in URLs without showing what
//! they hold (issue 15).
//!
//! A sealed value is `<prefix>.<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>`:
//! - XChaCha20-Poly1305 (RustCrypto `chacha20poly1305`): a random 24-byte nonce per value is safe
//!   at any volume, and the tag makes any change (one flipped bit, a cut) fail to open.
//! - The key is derived with HKDF-SHA256 from the keyring's master key, one subkey per
//!   [`Purpose`], so a playback handle can never be opened as a config and the other way round.
//! - The associated data is `chillproxy/<purpose>/v1|<kid>`: the key id cannot be swapped.
//!
//! The keyring comes from `CHILLPROXY_KEYS` = `kid:base64key,kid:base64key,…` (each key 32 bytes,
//! standard or URL-safe base64): the first key seals, every key opens, so an operator rotates by
//! putting a new key first and removing the old one once its links may go. A value sealed with
//! a removed key fails with [`OpenError::RetiredKey`].

use std::fmt;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

/// The environment variable holding the keyring.
pub const KEYS_ENV: &str = "CHILLPROXY_KEYS";

const NONCE: usize = 24;
const TAG: usize = 16;
/// Longest key id: short, since it is in every sealed value.
const MAX_KID: usize = 16;

/// What a sealed value is for; each purpose has its own subkey and prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A user config in the `{config}` segment: `c1.`.
    Config,
    /// A playback handle in a stream URL: `p1.`.
    Playback,
    /// A value kept in the shared tier (Redis): `s1.`.
    Shared,
}

impl Purpose {
    const ALL: [Purpose; 3] = [Purpose::Config, Purpose::Playback, Purpose::Shared];

    pub fn prefix(self) -> &'static str {
        match self {
            Purpose::Config => "c1",
            Purpose::Playback => "p1",
            Purpose::Shared => "s1",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Purpose::Config => "config",
            Purpose::Playback => "playback",
            Purpose::Shared => "shared",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

/// Why a sealed value did not open. Messages say what to do, never what the value held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Not `<prefix>.<kid>.<base64url>` of a plausible length.
    #[error("it is not a sealed value")]
    Malformed,
    /// Sealed with a key this server no longer has.
    #[error("it was sealed with a key this server no longer has")]
    RetiredKey,
    /// The tag does not match: changed, cut short, or sealed for another purpose.
    #[error("it was changed or cut short")]
    Damaged,
    /// This server has no keyring.
    #[error("this server has no sealing keys")]
    NoKeys,
}

struct RingKey {
    kid: String,
    /// One cipher per [`Purpose`], in [`Purpose::ALL`] order.
    ciphers: Vec<XChaCha20Poly1305>,
}

/// The server's sealing keys. `Debug` shows the key ids only.
#[derive(Default)]
pub struct Keyring {
    keys: Vec<RingKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").field("kids", &self.kids()).finish()
    }
}

impl Keyring {
    /// An empty keyring: nothing seals, nothing opens.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses `kid:base64key,…`. Each key id is 1–16 of `A-Z a-z 0-9 _ -`, unique; each key is
    /// exactly 32 bytes. Errors name the entry by position and key id, never the key.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys: Vec<RingKey> = Vec::new();
        for (n, entry) in text.split(',').map(str::trim).filter(|e| !e.is_empty()).enumerate() {
            let position = n + 1;
            let Some((kid, encoded)) = entry.split_once(':') else {
                return Err(format!("{KEYS_ENV} entry {position} is not `kid:base64key`"));
            };
            let kid = kid.trim();
            let kid_ok = !kid.is_empty()
                && kid.len() <= MAX_KID
                && kid.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !kid_ok {
                return Err(format!(
                    "{KEYS_ENV} entry {position}: the key id must be 1 to {MAX_KID} of A-Z a-z 0-9 _ -"
                ));
            }
            if keys.iter().any(|k| k.kid == kid) {
                return Err(format!("{KEYS_ENV}: the key id {kid:?} appears twice"));
            }
            let encoded = encoded.trim();
            let bytes = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(encoded).ok())
                .ok_or_else(|| format!("{KEYS_ENV} key {kid:?} is not base64"))?;
            if bytes.len() != 32 {
                return Err(format!(
                    "{KEYS_ENV} key {kid:?} is {} bytes; it must be 32 (e.g. `openssl rand -base64 32`)",
                    bytes.len()
                ));
            }
            keys.push(RingKey::derive(kid, &bytes));
        }
        Ok(Self { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key ids, the sealing one first.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.kid.as_str()).collect()
    }

    /// Seals `plaintext` under the first key. `None` when the keyring is empty.
    pub fn seal(&self, purpose: Purpose, plaintext: &[u8]) -> Option<String> {
        let key = self.keys.first()?;
        let nonce = fresh_nonce();
        let aad = associated_data(purpose, &key.kid);
        let sealed =
            key.ciphers[purpose.index()].encrypt(&nonce, Payload { msg: plaintext, aad: aad.as_bytes() }).ok()?;
        let mut bytes = Vec::with_capacity(NONCE + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Some(format!("{}.{}.{}", purpose.prefix(), key.kid, URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Opens a value sealed by [`Keyring::seal`] under any key of the ring.
    pub fn open(&self, purpose: Purpose, sealed: &str) -> Result<Vec<u8>, OpenError> {
        let rest =
            sealed.strip_prefix(purpose.prefix()).and_then(|r| r.strip_prefix('.')).ok_or(OpenError::Malformed)?;
        let (kid, body) = rest.split_once('.').ok_or(OpenError::Malformed)?;
        if kid.is_empty() || kid.len() > MAX_KID {
            return Err(OpenError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD.decode(body.trim_end_matches('=')).map_err(|_| OpenError::Malformed)?;
        if bytes.len() < NONCE + TAG {
            return Err(OpenError::Malformed);
        }
        if self.keys.is_empty() {
            return Err(OpenError::NoKeys);
        }
        let key = self.keys.iter().find(|k| k.kid == kid).ok_or(OpenError::RetiredKey)?;
        let (nonce, sealed) = bytes.split_at(NONCE);
        let aad = associated_data(purpose, kid);
        key.ciphers[purpose.index()]
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: aad.as_bytes() })
            .map_err(|_| OpenError::Damaged)
    }

    /// Whether `text` looks like a value sealed for `purpose` (its prefix), opened or not.
    pub fn looks_sealed(purpose: Purpose, text: &str) -> bool {
        text.strip_prefix(purpose.prefix()).is_some_and(|rest| rest.starts_with('.'))
    }
}

impl RingKey {
    fn derive(kid: &str, master: &[u8]) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(b"chillproxy keyring v1"), master);
        let ciphers = Purpose::ALL
            .iter()
            .map(|purpose| {
                let mut subkey = [0u8; 32];
                let info = format!("chillproxy/{}/v1", purpose.label());
                // 32 bytes is far below HKDF-SHA256's limit of 255 × 32: this cannot fail.
                let _ = hkdf.expand(info.as_bytes(), &mut subkey);
                let cipher = XChaCha20Poly1305::new((&subkey).into());
                subkey.fill(0);
                cipher
            })
            .collect();
        Self { kid: kid.to_string(), ciphers }
    }
}

/// A nonce this process never used before and another process almost surely not: a random
/// 128-bit prefix drawn once per process and a 64-bit counter. XChaCha20-Poly1305 needs each
/// nonce used once per key; its 192 bits leave room for the prefix, so sealing a stream list's
/// handles costs no system call per handle.
fn fresh_nonce() -> XNonce {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PREFIX: OnceLock<[u8; 16]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let random = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut prefix = [0u8; 16];
        prefix.copy_from_slice(&random[..16]);
        prefix
    });
    let mut nonce = XNonce::default();
    nonce[..16].copy_from_slice(prefix);
    nonce[16..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    nonce
}

fn associated_data(purpose: Purpose, kid: &str) -> String {
    format!("chillproxy/{}/v1|{kid}", purpose.label())
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    #[test]
    fn seals_and_opens_with_every_key_of_the_ring_and_refuses_a_retired_one() {
        let old = Keyring::parse(&format!("k1:{K1}")).unwrap();
        let rotated = Keyring::parse(&format!("k2:{K2}, k1:{K1}")).unwrap();
        let retired = Keyring::parse(&format!("k2:{K2}")).unwrap();
        let sealed = old.seal(Purpose::Config, b"{\"t\":\"secret\"}").unwrap();
        assert!(sealed.starts_with("c1.k1."), "{sealed}");
        assert!(!sealed.contains("secret"));
        assert_eq!(rotated.open(Purpose::Config, &sealed).unwrap(), b"{\"t\":\"secret\"}");
        assert_eq!(retired.open(Purpose::Config, &sealed), Err(OpenError::RetiredKey));
        assert!(rotated.seal(Purpose::Config, b"x").unwrap().starts_with("c1.k2."), "the first key seals");
        assert_eq!(Keyring::empty().open(Purpose::Config, &sealed), Err(OpenError::NoKeys));
        assert_eq!(Keyring::empty().seal(Purpose::Config, b"x"), None);
    }

    #[test]
    fn every_seal_has_its_own_nonce() {
        let ring = Keyring::parse(&format!("k1:{K1}")).unwrap();
        let nonces: std::collections::HashSet<Vec<u8>> = (0..1000)
            .map(|_| {
                let sealed = ring.seal(Purpose::Playback, b"same handle").unwrap();
                assert_eq!(ring.open(Purpose::Playback, &sealed).unwrap(), b"same handle");
                URL_SAFE_NO_PAD.decode(sealed.rsplit('.').next().unwrap()).unwrap()[..NONCE].to_vec()
            })
            .collect();
        assert_eq!(nonces.len(), 1000, "one nonce per sealed value, so equal handles seal differently");
    }

    #[test]
    fn any_change_fails_to_open() {
        let ring = Keyring::parse(&format!("k1:{K1}")).unwrap();
        let sealed = ring.seal(Purpose::Config, b"hello config").unwrap();
        let body = sealed.rsplit('.').next().unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(body).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 0x01;
            let flipped = format!("c1.k1.{}", URL_SAFE_NO_PAD.encode(&bytes));
            assert_eq!(ring.open(Purpose::Config, &flipped), Err(OpenError::Damaged), "bit flipped in byte {i}");
            bytes[i] ^= 0x01;
        }
        let cut = &sealed[..sealed.len() - 4];
        assert!(matches!(ring.open(Purpose::Config, cut), Err(OpenError::Damaged | OpenError::Malformed)));
        // Another purpose's key, and another key id in the prefix, do not open it either.
        let as_handle = sealed.replacen("c1.", "p1.", 1);
        assert_eq!(ring.open(Purpose::Playback, &as_handle), Err(OpenError::Damaged));
        let two = Keyring::parse(&format!("k1:{K1},k2:{K1}")).unwrap();
        assert_eq!(two.open(Purpose::Config, &sealed.replacen(".k1.", ".k2.", 1)), Err(OpenError::Damaged));
        for junk in ["", "c1", "c1.k1", "c1..abc", "c1.k1.!!!", "c1.k1.AAAA", "x1.k1.AAAA"] {
            assert_eq!(ring.open(Purpose::Config, junk), Err(OpenError::Malformed), "{junk:?}");
        }
    }

    #[test]
    fn bad_keyrings_are_refused_without_showing_the_key() {
        for (text, wanted) in [
            ("k1", "not `kid:base64key`"),
            (&format!("bad kid:{K1}")[..], "key id"),
            (&format!("k1:{K1},k1:{K2}")[..], "appears twice"),
            ("k1:c2hvcnQ=", "is 5 bytes"),
            ("k1:***", "not base64"),
        ] {
            let error = Keyring::parse(text).unwrap_err();
            assert!(error.contains(wanted), "{text:?}: {error}");
            assert!(!error.contains("c2hvcnQ") && !error.contains(K1), "{error}");
        }
        assert!(Keyring::parse("").unwrap().is_empty());
        assert_eq!(format!("{:?}", Keyring::parse(&format!("k1:{K1}")).unwrap()), "Keyring { kids: [\"k1\"] }");
    }
}
