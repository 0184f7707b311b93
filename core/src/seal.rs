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
//!
//! A stream list's playback handles share one seal (issue 25): [`Keyring::seal_list`] seals
//! what is common to the list once, and each stream's handle adds its own bytes and a tag bound
//! to that sealed part (see [`ListSeal`]), so listing costs one AEAD seal and one HMAC per list
//! and one AES-CMAC per stream.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;
type CmacAes128 = cmac::Cmac<aes::Aes128>;

/// The environment variable holding the keyring.
pub const KEYS_ENV: &str = "CHILLPROXY_KEYS";

const NONCE: usize = 24;
const TAG: usize = 16;
/// Longest key id: short, since it is in every sealed value.
const MAX_KID: usize = 16;
/// A list handle's prefix: the same as a single playback handle's, told apart by its four parts.
const LIST_PREFIX: &str = "p1";
/// A stream's tag in a list handle: AES-CMAC's 128 bits (v2), or HMAC-SHA256 truncated to
/// them (v1, made before; still opened until such handles expire).
const STREAM_TAG: usize = 16;
/// Longest per-stream part of a list handle (an info hash and a file index are 28 bytes).
pub const MAX_STREAM_PART: usize = 64;
/// Longest sealed list part accepted when opening (bytes, before base64).
const MAX_LIST_PART: usize = 4096;
/// The associated data of a list part (with `|<kid>`) and its HKDF info (with `/v1`).
const LIST_LABEL: &str = "playback-list";
/// The HKDF info of the v1 stream-tag key, and the first bytes of every v1 tag's input.
const STREAM_TAG_LABEL: &str = "chillproxy/stream-tag/v1";
/// The HKDF info of the v2 list-key key, and the first bytes of every list key's input.
const STREAM_TAG_V2_LABEL: &str = "chillproxy/stream-tag/v2";

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
    /// Seals a list handle's common part (its own subkey, `chillproxy/playback-list/v1`).
    list: XChaCha20Poly1305,
    /// Checks v1 stream tags, made before (its own subkey, `chillproxy/stream-tag/v1`), keyed once.
    stream_tag: HmacSha256,
    /// Makes each list's stream-tag key (its own subkey, `chillproxy/stream-tag/v2`), keyed once.
    list_key: HmacSha256,
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

    /// Seals what a stream list's handles share (`common`) once, under the first key. Each
    /// stream's handle is then [`ListSeal::write_handle`]: that sealed part, the stream's own
    /// bytes and a tag over both. `None` when the keyring is empty.
    pub fn seal_list(&self, common: &[u8]) -> Option<ListSeal> {
        let key = self.keys.first()?;
        let nonce = fresh_nonce();
        let aad = associated_data_of(LIST_LABEL, &key.kid);
        let sealed = key.list.encrypt(&nonce, Payload { msg: common, aad: aad.as_bytes() }).ok()?;
        let mut bytes = Vec::with_capacity(NONCE + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        let head = format!("{LIST_PREFIX}.{}.{}.", key.kid, URL_SAFE_NO_PAD.encode(&bytes));
        Some(ListSeal { head, mac: key.stream_tagger(&bytes) })
    }

    /// Opens a list handle made by [`ListSeal::write_handle`] under any key of the ring: the
    /// stream's tag is checked first (constant time), then the common part is opened. Returns
    /// the common plaintext and the stream's own bytes.
    pub fn open_list(&self, handle: &str) -> Result<(Vec<u8>, Vec<u8>), OpenError> {
        let rest = handle.strip_prefix(LIST_PREFIX).and_then(|r| r.strip_prefix('.')).ok_or(OpenError::Malformed)?;
        let mut parts = rest.split('.');
        let (Some(kid), Some(list), Some(stream), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(OpenError::Malformed);
        };
        if kid.is_empty() || kid.len() > MAX_KID || list.len() > MAX_LIST_PART * 4 / 3 + 4 {
            return Err(OpenError::Malformed);
        }
        let list = URL_SAFE_NO_PAD.decode(list).map_err(|_| OpenError::Malformed)?;
        let stream = URL_SAFE_NO_PAD.decode(stream).map_err(|_| OpenError::Malformed)?;
        if list.len() < NONCE + TAG || stream.len() <= STREAM_TAG || stream.len() > MAX_STREAM_PART + STREAM_TAG {
            return Err(OpenError::Malformed);
        }
        if self.keys.is_empty() {
            return Err(OpenError::NoKeys);
        }
        let key = self.keys.iter().find(|k| k.kid == kid).ok_or(OpenError::RetiredKey)?;
        let (item, tag) = stream.split_at(stream.len() - STREAM_TAG);
        // The tag lists make now (v2), else one made before (v1); each compared in constant time.
        let mut v2 = key.stream_tagger(&list);
        v2.update(item);
        if v2.verify_slice(tag).is_err() {
            let mut v1 = key.stream_tag_state(&list);
            v1.update(item);
            v1.verify_truncated_left(tag).map_err(|_| OpenError::Damaged)?;
        }
        let (nonce, sealed) = list.split_at(NONCE);
        let aad = associated_data_of(LIST_LABEL, kid);
        let common = key
            .list
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: aad.as_bytes() })
            .map_err(|_| OpenError::Damaged)?;
        Ok((common, item.to_vec()))
    }

    /// Whether `text` has a list handle's shape (`p1.<kid>.<list part>.<stream part>`), opened
    /// or not; a single playback handle (`p1.<kid>.<sealed>`) does not.
    pub fn looks_like_list_handle(text: &str) -> bool {
        text.strip_prefix(LIST_PREFIX)
            .and_then(|r| r.strip_prefix('.'))
            .is_some_and(|rest| rest.bytes().filter(|b| *b == b'.').count() == 2)
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
        let mut subkey = [0u8; 32];
        let _ = hkdf.expand(format!("chillproxy/{LIST_LABEL}/v1").as_bytes(), &mut subkey);
        let list = XChaCha20Poly1305::new((&subkey).into());
        let _ = hkdf.expand(STREAM_TAG_LABEL.as_bytes(), &mut subkey);
        // HMAC takes a key of any length: this cannot fail.
        let stream_tag = <HmacSha256 as Mac>::new_from_slice(&subkey).unwrap_or_else(|_| unreachable!());
        let _ = hkdf.expand(STREAM_TAG_V2_LABEL.as_bytes(), &mut subkey);
        let list_key = <HmacSha256 as Mac>::new_from_slice(&subkey).unwrap_or_else(|_| unreachable!());
        subkey.fill(0);
        Self { kid: kid.to_string(), ciphers, list, stream_tag, list_key }
    }

    /// The v2 stream tagger of one list part: AES-128-CMAC under the list's own key, the first
    /// 16 bytes of HMAC-SHA256 under the list-key subkey over
    /// `chillproxy/stream-tag/v2|<kid>|<len(list) u32 BE><list>`. One HMAC per list; each stream
    /// then costs one CMAC of its own few bytes (two AES blocks).
    fn stream_tagger(&self, list: &[u8]) -> CmacAes128 {
        let mut digest = self.after_list(&self.list_key, STREAM_TAG_V2_LABEL, list).finalize().into_bytes();
        // A 16-byte key is what AES-128 takes: this cannot fail.
        let tagger = <CmacAes128 as Mac>::new_from_slice(&digest[..16]).unwrap_or_else(|_| unreachable!());
        digest.fill(0);
        tagger
    }

    /// The v1 stream-tag key's state after `label | kid | len(list) (u32 BE) | list`: what every
    /// v1 tag of one list starts with (lists made before v2; only checked now).
    fn stream_tag_state(&self, list: &[u8]) -> HmacSha256 {
        self.after_list(&self.stream_tag, STREAM_TAG_LABEL, list)
    }

    /// `key`'s state after `label | kid | len(list) (u32 BE) | list`: what both tag versions
    /// bind to the list part.
    fn after_list(&self, key: &HmacSha256, label: &str, list: &[u8]) -> HmacSha256 {
        let mut mac = key.clone();
        mac.update(label.as_bytes());
        mac.update(b"|");
        mac.update(self.kid.as_bytes());
        mac.update(b"|");
        mac.update(&u32::try_from(list.len()).unwrap_or(u32::MAX).to_be_bytes());
        mac.update(list);
        mac
    }
}

/// A stream list's common part, sealed once ([`Keyring::seal_list`]), ready to make each
/// stream's handle: `p1.<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>.<base64url(item ‖ tag16)>`,
/// where `tag16` is AES-128-CMAC of `item` under the list's own key (see
/// `RingKey::stream_tagger`; SECURITY.md has the construction). It holds that list's key (valid
/// for this one list part only), never the keyring's.
pub struct ListSeal {
    /// `p1.<kid>.<sealed list part>.`
    head: String,
    /// The list's stream tagger.
    mac: CmacAes128,
}

impl ListSeal {
    /// Writes one stream's handle (URL-safe ASCII: nothing to escape) for its own bytes
    /// `item` (at most [`MAX_STREAM_PART`]); writes nothing and returns `false` for a longer one.
    /// For many streams of one list, [`ListSeal::tagger`] copies the keyed state once.
    pub fn write_handle(&self, out: &mut Vec<u8>, item: &[u8]) -> bool {
        write_tagged(&self.head, &mut self.mac.clone(), out, item)
    }

    /// One stream's handle as a string (see [`ListSeal::write_handle`]).
    pub fn handle(&self, item: &[u8]) -> Option<String> {
        let mut out = Vec::with_capacity(self.head.len() + 128);
        self.write_handle(&mut out, item).then(|| String::from_utf8(out).ok()).flatten()
    }

    /// A writer of this list's handles for one request: the keyed CMAC state (about 750 bytes
    /// with both AES back ends) is copied once here, and reset after each stream's tag.
    pub fn tagger(self: std::sync::Arc<Self>) -> StreamTagger {
        let mac = self.mac.clone();
        StreamTagger { seal: self, mac }
    }
}

/// Writes the handles of one list's streams ([`ListSeal::tagger`]).
pub struct StreamTagger {
    seal: std::sync::Arc<ListSeal>,
    mac: CmacAes128,
}

impl StreamTagger {
    /// As [`ListSeal::write_handle`].
    pub fn write_handle(&mut self, out: &mut Vec<u8>, item: &[u8]) -> bool {
        write_tagged(&self.seal.head, &mut self.mac, out, item)
    }
}

/// `head`, then base64url of `item ‖ CMAC(item)`; `mac` is left reset for the next item.
fn write_tagged(head: &str, mac: &mut CmacAes128, out: &mut Vec<u8>, item: &[u8]) -> bool {
    if item.len() > MAX_STREAM_PART {
        return false;
    }
    mac.update(item);
    let tag = mac.finalize_reset().into_bytes();
    let mut raw = [0u8; MAX_STREAM_PART + STREAM_TAG];
    let raw_len = item.len() + STREAM_TAG;
    raw[..item.len()].copy_from_slice(item);
    raw[item.len()..raw_len].copy_from_slice(&tag[..STREAM_TAG]);
    let mut encoded = [0u8; (MAX_STREAM_PART + STREAM_TAG).div_ceil(3) * 4];
    let Ok(written) = URL_SAFE_NO_PAD.encode_slice(&raw[..raw_len], &mut encoded) else {
        return false;
    };
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(&encoded[..written]);
    true
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
    associated_data_of(purpose.label(), kid)
}

fn associated_data_of(label: &str, kid: &str) -> String {
    format!("chillproxy/{label}/v1|{kid}")
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

    fn flip_each_bit(handle: &str) -> Vec<String> {
        // Every bit of every decoded part, and each character of the prefix and the key id.
        let mut out = Vec::new();
        let parts: Vec<&str> = handle.split('.').collect();
        for (p, part) in parts.iter().enumerate().skip(2) {
            let bytes = URL_SAFE_NO_PAD.decode(part).unwrap();
            for i in 0..bytes.len() {
                for bit in 0..8 {
                    let mut changed = bytes.clone();
                    changed[i] ^= 1 << bit;
                    let mut all: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
                    all[p] = URL_SAFE_NO_PAD.encode(&changed);
                    out.push(all.join("."));
                }
            }
        }
        for i in 0..5 {
            let mut bytes = handle.as_bytes().to_vec();
            bytes[i] ^= 0x01;
            out.push(String::from_utf8_lossy(&bytes).into_owned());
        }
        out
    }

    #[test]
    fn a_list_seals_once_and_each_stream_is_tagged_to_that_seal() {
        let ring = Keyring::parse(&format!("k1:{K1}")).unwrap();
        let list = ring.seal_list(b"{\"t\":\"user-token\",\"x\":1}").unwrap();
        let one = list.handle(b"stream-one").unwrap();
        let two = list.handle(b"stream-two").unwrap();
        assert!(one.starts_with("p1.k1.") && Keyring::looks_like_list_handle(&one), "{one}");
        assert!(!Keyring::looks_like_list_handle(&ring.seal(Purpose::Playback, b"x").unwrap()));
        assert!(!one.contains("user-token"));
        // Both streams share the list part, byte for byte.
        assert_eq!(one.rsplit_once('.').unwrap().0, two.rsplit_once('.').unwrap().0);
        assert_eq!(ring.open_list(&one).unwrap(), (b"{\"t\":\"user-token\",\"x\":1}".to_vec(), b"stream-one".to_vec()));
        assert_eq!(ring.open_list(&two).unwrap().1, b"stream-two");
        // Rotation: the second key of a ring opens; a retired one does not.
        let rotated = Keyring::parse(&format!("k2:{K2},k1:{K1}")).unwrap();
        assert!(rotated.open_list(&one).is_ok());
        assert_eq!(Keyring::parse(&format!("k2:{K2}")).unwrap().open_list(&one), Err(OpenError::RetiredKey));
        assert_eq!(Keyring::empty().open_list(&one), Err(OpenError::NoKeys));
        assert!(Keyring::empty().seal_list(b"x").is_none());
        assert!(list.handle(&[0; MAX_STREAM_PART + 1]).is_none(), "too long a stream part");
    }

    #[test]
    fn a_stream_tag_moved_onto_another_lists_part_is_refused() {
        let ring = Keyring::parse(&format!("k1:{K1}")).unwrap();
        // The same common bytes sealed twice (another request) and other common bytes.
        let a = ring.seal_list(b"same").unwrap().handle(b"stream").unwrap();
        let b = ring.seal_list(b"same").unwrap().handle(b"stream").unwrap();
        let c = ring.seal_list(b"other").unwrap().handle(b"stream").unwrap();
        for (from, onto) in [(&a, &b), (&a, &c), (&c, &a)] {
            let (_, stream) = from.rsplit_once('.').unwrap();
            let (list, _) = onto.rsplit_once('.').unwrap();
            assert_eq!(ring.open_list(&format!("{list}.{stream}")), Err(OpenError::Damaged));
        }
        // A list part is not a config or a single handle, and the other way round.
        let (list, _) = a.rsplit_once('.').unwrap();
        let list = list.replacen("p1.", "", 1);
        assert_eq!(ring.open(Purpose::Playback, &format!("p1.{list}")), Err(OpenError::Damaged));
        let single = ring.seal(Purpose::Playback, b"same").unwrap();
        let (_, stream) = a.rsplit_once('.').unwrap();
        assert_eq!(ring.open_list(&format!("{single}.{stream}")), Err(OpenError::Damaged));
    }

    #[test]
    fn one_flipped_bit_anywhere_in_a_list_handle_is_refused() {
        let ring = Keyring::parse(&format!("k1:{K1}")).unwrap();
        let handle = ring.seal_list(b"common part").unwrap().handle(&[7u8; 28]).unwrap();
        let flipped = flip_each_bit(&handle);
        assert!(flipped.len() > 8 * (40 + 11 + 44), "every bit: {}", flipped.len());
        for changed in flipped {
            assert!(ring.open_list(&changed).is_err(), "{changed}");
        }
        for junk in ["", "p1", "p1.k1", "p1.k1.AAAA", "p1.k1.AAAA.AAAA.AAAA", "p1..AAAA.AAAA", "p1.k1.!!.AAAA"] {
            assert_eq!(ring.open_list(junk), Err(OpenError::Malformed), "{junk:?}");
        }
    }

    /// Lists made before the v2 tag carry HMAC-SHA256 tags: they keep opening (until their
    /// handles expire, which the caller checks), and a v1 tag is just as bound to its list part.
    #[test]
    fn a_v1_tagged_handle_made_before_still_opens_and_is_as_bound_to_its_list() {
        let ring = Keyring::parse(&format!("k1:{K1}")).unwrap();
        let key = &ring.keys[0];
        let v1_handle = |list: &ListSeal, item: &[u8]| {
            let (_, body) = list.head.trim_end_matches('.').rsplit_once('.').unwrap();
            let bytes = URL_SAFE_NO_PAD.decode(body).unwrap();
            let mut mac = key.stream_tag_state(&bytes);
            mac.update(item);
            let tag = mac.finalize().into_bytes();
            let mut raw = item.to_vec();
            raw.extend_from_slice(&tag[..STREAM_TAG]);
            format!("{}{}", list.head, URL_SAFE_NO_PAD.encode(raw))
        };
        let list = ring.seal_list(b"common").unwrap();
        let old = v1_handle(&list, b"stream");
        let new = list.handle(b"stream").unwrap();
        assert_ne!(old, new, "v2 tags differ from v1 tags");
        assert_eq!(ring.open_list(&old).unwrap(), (b"common".to_vec(), b"stream".to_vec()));
        assert_eq!(ring.open_list(&new).unwrap(), (b"common".to_vec(), b"stream".to_vec()));
        let other = ring.seal_list(b"common").unwrap();
        let (_, old_stream) = old.rsplit_once('.').unwrap();
        let (other_list, _) =
            other.handle(b"stream").unwrap().rsplit_once('.').map(|(l, s)| (l.to_string(), s.to_string())).unwrap();
        assert_eq!(ring.open_list(&format!("{other_list}.{old_stream}")), Err(OpenError::Damaged));
        for changed in flip_each_bit(&old) {
            assert!(ring.open_list(&changed).is_err(), "{changed}");
        }
    }

    #[test]
    fn a_tagger_writes_the_same_handles_as_the_list_seal_stream_after_stream() {
        let ring = Keyring::parse(&format!("k1:{K1}")).unwrap();
        let list = std::sync::Arc::new(ring.seal_list(b"common").unwrap());
        let mut tagger = list.clone().tagger();
        for item in [&b"first-stream-part-20"[..], b"second", &[9u8; 28], b"first-stream-part-20"] {
            let mut out = Vec::new();
            assert!(tagger.write_handle(&mut out, item));
            let handle = String::from_utf8(out).unwrap();
            assert_eq!(handle, list.handle(item).unwrap());
            assert_eq!(ring.open_list(&handle).unwrap().1, item);
        }
        assert!(!tagger.write_handle(&mut Vec::new(), &[0; MAX_STREAM_PART + 1]));
    }
}
