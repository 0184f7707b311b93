//! Playback handles (issue 15): with sealing keys configured, a stream URL carries no config.
//! It is `{base}/stremio/torz/_/play/{handle}/{file name}`, where the handle is sealed under the
//! keyring's playback subkey ([`Purpose::Playback`], `p1.<kid>.…`) and holds only what one
//! playback needs: the one store entry (its code and credential), the Stremio id, the info hash,
//! the file, and the device binding (the listing device, the client IP it was listed from, and
//! until when that binding holds). Nothing in it can be read or changed without the key; a
//! leaked stream URL plays that one file and shows no token, indexer key or user id.
//!
//! A handle plays until its expiry (`[server] binding_ttl_s` after its list was made) and is
//! refused after it. Its device binding is honoured only from the same IP (as the `?b=` binding
//! of plain URLs); from another one the device is taken from the request, as for any other.
//!
//! A stream list seals once (issue 25): [`ListParts`] is what its handles share (the entry, the
//! Stremio id, the device binding), sealed per list and store entry with
//! [`Keyring::seal_list`]; each stream adds [`stream_part_of`] (its hash and file) under a tag
//! bound to that sealed part (`p1.<kid>.<list part>.<stream part>`, see SECURITY.md). Both
//! forms open to the same [`Handle`]: single handles made before keep playing until they expire.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use chillproxy_core::seal::{Keyring, ListSeal, OpenError, Purpose};
use chillproxy_core::{ContentKind, DeviceId, InfoHash, Secret, StoreEntry, UsenetHash, UserIndexer};
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
    /// The release: an info hash, or `usenet-<md5>` (the playback URL's `{hash}` segment).
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
    /// The user's own usenet indexers (name, URL, key), when the list had them: playback puts
    /// an NZB's key back from here (a sealed link carries no config).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub n: Vec<[String; 3]>,
}

/// What a single handle holds (the form lists made before issue 25, one seal per stream): the
/// same JSON as [`Handle`]. Lists now make list handles ([`ListParts`]); this stays to test that
/// single handles still open.
#[cfg(test)]
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

#[cfg(test)]
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

#[cfg(test)]
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

/// What a stream list's handles share, sealed once per list and store entry.
pub(crate) struct ListParts<'a> {
    pub entry: &'a StoreEntry,
    pub id: &'a str,
    pub device: &'a DeviceId,
    pub ip: IpAddr,
    /// Unix seconds until which the device binding holds (see [`Handle::expiry`]).
    pub expires_at: u64,
    /// The user's own usenet indexers, sealed with the rest when a stream of the list is an NZB
    /// one of them found (empty otherwise).
    pub usenet_indexers: &'a [UserIndexer],
}

/// The list parts last sealed for one config segment (it lives with the decoded segment, see
/// `segments`), reused while fresh: a viewer asking for the same title again from the same
/// device and address within a minute gets the list part sealed for them before, instead of a
/// new AEAD seal (the sealed counterpart of `binding::BindingSlot`). The handles are then the
/// ones that viewer was already given; they expire at most a minute sooner than new ones. Any
/// other store entry, title, device, address or usenet-indexer need gets its own seal.
#[derive(Default)]
pub(crate) struct ListSlot(std::sync::Mutex<Vec<RecentList>>);

struct RecentList {
    entry: StoreEntry,
    id: Box<str>,
    device: DeviceId,
    ip: IpAddr,
    carries_usenet: bool,
    expires_at: u64,
    seal: Arc<ListSeal>,
}

/// List parts kept per config segment: one viewer's stores (most have one or two) for the title
/// they last opened.
const LISTS_KEPT: usize = 2;
/// How long a list part is reused: a minute, or a tenth of the handles' lifetime when shorter.
const LIST_REUSE_S: u64 = 60;
/// What a [`ListSlot`] may hold, roughly (each kept list part is its sealed text and a keyed
/// hash state), for the segment cache's memory bound.
pub(crate) const LIST_SLOT_BYTES: u64 = LISTS_KEPT as u64 * 1024;

impl ListSlot {
    /// `parts` sealed: the list part sealed for the same entry, title, device, address and
    /// indexers less than a minute ago (`ttl_s` is the handles' lifetime), or a new one (kept
    /// for the next list). `None` without sealing keys.
    pub fn get_or_seal(&self, parts: &ListParts<'_>, keyring: &Keyring, ttl_s: u64) -> Option<Arc<ListSeal>> {
        let reuse = LIST_REUSE_S.min(ttl_s / 10);
        let carries_usenet = !parts.usenet_indexers.is_empty();
        let fits = |recent: &RecentList| {
            recent.ip == parts.ip
                && recent.carries_usenet == carries_usenet
                && *recent.id == *parts.id
                && recent.device == *parts.device
                && recent.entry == *parts.entry
        };
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(recent) = kept.iter().find(|r| fits(r)) {
            if parts.expires_at.saturating_sub(recent.expires_at) < reuse {
                return Some(recent.seal.clone());
            }
        }
        let seal = Arc::new(parts.seal(keyring)?);
        kept.retain(|r| !fits(r));
        if kept.len() >= LISTS_KEPT {
            kept.remove(0);
        }
        kept.push(RecentList {
            entry: parts.entry.clone(),
            id: parts.id.into(),
            device: parts.device.clone(),
            ip: parts.ip,
            carries_usenet,
            expires_at: parts.expires_at,
            seal: seal.clone(),
        });
        Some(seal)
    }
}

/// A list handle's sealed part: [`Handle`] without the info hash and the file.
#[derive(Serialize)]
struct ListFields<'a> {
    c: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    t: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    u: Option<&'a str>,
    i: &'a str,
    d: &'a str,
    a: IpAddr,
    x: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    n: Vec<[&'a str; 3]>,
}

/// [`ListFields`] as opened.
#[derive(Deserialize)]
struct OpenedList {
    c: String,
    #[serde(default)]
    t: Option<String>,
    #[serde(default)]
    u: Option<String>,
    i: String,
    d: String,
    a: IpAddr,
    x: u64,
    #[serde(default)]
    n: Vec<[String; 3]>,
}

impl ListParts<'_> {
    /// Sealed once for the list's handles; `None` without sealing keys.
    pub fn seal(&self, keyring: &Keyring) -> Option<ListSeal> {
        let fields = ListFields {
            c: &self.entry.c,
            t: self.entry.t.as_ref().map(|t| t.expose()),
            u: self.entry.auth.as_deref(),
            i: self.id,
            d: self.device.as_str(),
            a: self.ip,
            x: self.expires_at,
            n: self
                .usenet_indexers
                .iter()
                .filter_map(|i| i.ak.as_ref().map(|key| [i.n.as_str(), i.u.as_str(), key.expose()]))
                .collect(),
        };
        let json = serde_json::to_vec(&fields).ok()?;
        keyring.seal_list(&json)
    }
}

/// Longest [`stream_part_of`].
pub(crate) const STREAM_PART: usize = 28;

/// A stream's own part of a list handle and its length (see [`stream_part_of`]).
pub(crate) type StreamPart = ([u8; STREAM_PART], usize);

/// A stream's own part of a list handle: a torrent's info hash (20 bytes) or a usenet release's
/// usenet hash (16 bytes), then the file id as 8 bytes big-endian when known, so the length (20
/// or 28, 16 or 24) says both the kind and whether a file is named. Returns the bytes and their
/// length.
pub(crate) fn stream_part_of(hash: &InfoHash, kind: ContentKind, file_idx: Option<u64>) -> StreamPart {
    let mut part = [0u8; STREAM_PART];
    let usenet = (kind == ContentKind::Usenet).then(|| UsenetHash::from_key(hash)).flatten();
    let id_len = match usenet {
        Some(usenet) => {
            part[..16].copy_from_slice(&usenet.to_bytes());
            16
        }
        None => {
            part[..20].copy_from_slice(&hash.to_bytes());
            20
        }
    };
    match file_idx {
        Some(file) => {
            part[id_len..id_len + 8].copy_from_slice(&file.to_be_bytes());
            (part, id_len + 8)
        }
        None => (part, id_len),
    }
}

impl Handle {
    /// When a binding made now for `binding_ttl_s` ends.
    pub fn expiry(binding_ttl_s: u64) -> u64 {
        now_secs() + binding_ttl_s
    }

    /// Opens either form: a list handle (`p1.<kid>.<list part>.<stream part>`) or a single one
    /// (`p1.<kid>.<sealed>`).
    pub fn open(keyring: &Keyring, sealed: &str) -> Result<Self, OpenError> {
        if Keyring::looks_like_list_handle(sealed) {
            return Self::open_list(keyring, sealed);
        }
        let json = keyring.open(Purpose::Playback, sealed)?;
        serde_json::from_slice(&json).map_err(|_| OpenError::Damaged)
    }

    fn open_list(keyring: &Keyring, sealed: &str) -> Result<Self, OpenError> {
        let (common, part) = keyring.open_list(sealed)?;
        let list: OpenedList = serde_json::from_slice(&common).map_err(|_| OpenError::Damaged)?;
        let id_len = match part.len() {
            16 | 24 => 16,
            20 | STREAM_PART => 20,
            _ => return Err(OpenError::Damaged),
        };
        let f = match part.len() - id_len {
            0 => None,
            _ => part.get(id_len..).and_then(|f| f.try_into().ok()).map(u64::from_be_bytes),
        };
        let h = match id_len {
            16 => {
                let md5: [u8; 16] = part.get(..16).and_then(|h| h.try_into().ok()).ok_or(OpenError::Damaged)?;
                let usenet = UsenetHash::from_digest(&md5);
                chillproxy_stremio::playback::release_segment(&usenet.key(), ContentKind::Usenet)
            }
            _ => {
                let hash: [u8; 20] = part.get(..20).and_then(|h| h.try_into().ok()).ok_or(OpenError::Damaged)?;
                InfoHash::from_bytes(&hash).as_str().to_string()
            }
        };
        Ok(Self { c: list.c, t: list.t, u: list.u, i: list.i, h, f, d: list.d, a: list.a, x: list.x, n: list.n })
    }

    /// The user's own usenet indexers the handle carries (for an NZB's key).
    pub fn usenet_indexers(&self) -> Vec<UserIndexer> {
        self.n
            .iter()
            .map(|[n, u, key]| UserIndexer { n: n.clone(), u: u.clone(), ak: Some(Secret::new(key.clone())) })
            .collect()
    }

    /// The store entry, as the user's config had it.
    pub fn entry(&self) -> StoreEntry {
        StoreEntry { c: self.c.clone(), t: self.t.clone().map(Secret::new), auth: self.u.clone() }
    }

    /// Whether the handle is past its expiry: it plays no more (its list must be asked again).
    pub fn is_expired(&self) -> bool {
        now_secs() > self.x
    }

    /// The listing device, when this request comes from the IP it was listed to and in time.
    pub fn device_for(&self, ip: IpAddr) -> Option<DeviceId> {
        if self.a != ip || self.is_expired() {
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
            n: Vec::new(),
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

    fn list_parts<'a>(entry: &'a StoreEntry, device: &'a DeviceId, ip: IpAddr, expires_at: u64) -> ListParts<'a> {
        ListParts { entry, id: "tt0903747:1:3", device, ip, expires_at, usenet_indexers: &[] }
    }

    fn list_handle(list: &ListSeal, hash: &InfoHash, file_idx: Option<u64>) -> String {
        let (part, len) = stream_part_of(hash, ContentKind::Torrent, file_idx);
        list.handle(&part[..len]).unwrap()
    }

    #[test]
    fn a_usenet_stream_part_carries_its_kind_and_opens_to_its_usenet_segment() {
        let keyring = ring("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
        let entry = StoreEntry { c: "tb".into(), t: Some(Secret::new("user-token-123")), auth: None };
        let device = DeviceId::from_client("10.0.0.1".parse().unwrap(), "Stremio");
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let list = list_parts(&entry, &device, ip, Handle::expiry(3600)).seal(&keyring).unwrap();
        let usenet = UsenetHash::parse(&"5e".repeat(16)).unwrap();
        for file_idx in [None, Some(3)] {
            let (part, len) = stream_part_of(&usenet.key(), ContentKind::Usenet, file_idx);
            assert_eq!(len, 16 + file_idx.map_or(0, |_| 8));
            let opened = Handle::open(&keyring, &list.handle(&part[..len]).unwrap()).unwrap();
            assert_eq!((opened.h.clone(), opened.f), (format!("usenet-{usenet}"), file_idx));
        }
        // The user's own usenet indexers travel sealed in the list part.
        let mine =
            [UserIndexer { n: "mine".into(), u: "https://nzb.example".into(), ak: Some(Secret::new("nzb-key-9")) }];
        let parts = ListParts { usenet_indexers: &mine, ..list_parts(&entry, &device, ip, Handle::expiry(3600)) };
        let carried = parts.seal(&keyring).unwrap();
        let (part, len) = stream_part_of(&usenet.key(), ContentKind::Usenet, None);
        let handle = carried.handle(&part[..len]).unwrap();
        assert!(!handle.contains("nzb-key-9") && !handle.contains("nzb.example"), "{handle}");
        let opened = Handle::open(&keyring, &handle).unwrap();
        assert_eq!(opened.usenet_indexers(), mine);
        // The same key as a torrent stays a torrent.
        let (part, len) = stream_part_of(&usenet.key(), ContentKind::Torrent, None);
        let opened = Handle::open(&keyring, &list.handle(&part[..len]).unwrap()).unwrap();
        assert_eq!(opened.h, usenet.key().as_str());
    }

    #[test]
    fn a_list_handle_opens_to_the_same_handle_as_a_single_one() {
        let keyring = ring("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
        let entry = StoreEntry { c: "tb".into(), t: Some(Secret::new("user-token-123")), auth: Some("user-9".into()) };
        let device = DeviceId::from_client("10.0.0.1".parse().unwrap(), "Stremio");
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let expires_at = Handle::expiry(3600);
        let list = list_parts(&entry, &device, ip, expires_at).seal(&keyring).unwrap();
        for (hash, file_idx) in [("ab".repeat(20), Some(4)), ("0f".repeat(20), None), ("ff".repeat(20), Some(u64::MAX))]
        {
            let hash = InfoHash::parse(&hash).unwrap();
            let handle = list_handle(&list, &hash, file_idx);
            assert!(handle.starts_with("p1.k1.") && handle.split('.').count() == 4, "{handle}");
            assert!(!handle.contains("user-token-123") && !handle.contains(hash.as_str()), "{handle}");
            let single = HandleParts {
                entry: &entry,
                id: "tt0903747:1:3",
                hash: &hash,
                file_idx,
                device: &device,
                ip,
                expires_at,
            }
            .seal(&keyring)
            .unwrap();
            assert_eq!(Handle::open(&keyring, &handle).unwrap(), Handle::open(&keyring, &single).unwrap());
        }
        let opened =
            Handle::open(&keyring, &list_handle(&list, &InfoHash::parse(&"ab".repeat(20)).unwrap(), None)).unwrap();
        assert_eq!(opened.entry(), entry);
        assert_eq!(opened.device_for(ip).map(|d| d.digest()), Some(device.digest()));
        assert_eq!(opened.device_for("203.0.113.10".parse().unwrap()), None, "another IP");
    }

    #[test]
    fn a_stream_moved_to_another_lists_part_or_changed_does_not_open() {
        let keyring = ring("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
        let entry = StoreEntry { c: "tb".into(), t: Some(Secret::new("token-a")), ..Default::default() };
        let other_user = StoreEntry { c: "tb".into(), t: Some(Secret::new("token-b")), ..Default::default() };
        let device = DeviceId::from_client("10.0.0.1".parse().unwrap(), "Stremio");
        let other_device = DeviceId::from_client("10.0.0.2".parse().unwrap(), "Stremio");
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let x = Handle::expiry(3600);
        let hash = InfoHash::parse(&"ab".repeat(20)).unwrap();
        let mine = list_handle(&list_parts(&entry, &device, ip, x).seal(&keyring).unwrap(), &hash, Some(1));
        let (_, my_stream) = mine.rsplit_once('.').unwrap();
        for other in [
            list_parts(&other_user, &device, ip, x),
            list_parts(&entry, &other_device, ip, x),
            list_parts(&entry, &device, ip, x + 3600),
            list_parts(&entry, &device, ip, x),
        ] {
            let theirs = list_handle(&other.seal(&keyring).unwrap(), &InfoHash::parse(&"cd".repeat(20)).unwrap(), None);
            let (their_list, _) = theirs.rsplit_once('.').unwrap();
            assert!(Handle::open(&keyring, &theirs).is_ok());
            assert_eq!(Handle::open(&keyring, &format!("{their_list}.{my_stream}")), Err(OpenError::Damaged));
        }
    }

    #[test]
    fn a_list_part_is_reused_only_for_the_same_entry_title_device_and_address_within_a_minute() {
        let keyring = ring("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
        let entry = StoreEntry { c: "tb".into(), t: Some(Secret::new("user-token-123")), auth: None };
        let other_entry = StoreEntry { c: "rd".into(), ..entry.clone() };
        let device = DeviceId::from_client("10.0.0.1".parse().unwrap(), "Stremio");
        let other_device = DeviceId::from_client("10.0.0.1".parse().unwrap(), "Stremio (Linux)");
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let now = Handle::expiry(3600);
        let slot = ListSlot::default();
        let first = slot.get_or_seal(&list_parts(&entry, &device, ip, now), &keyring, 3600).unwrap();
        let again = slot.get_or_seal(&list_parts(&entry, &device, ip, now + 59), &keyring, 3600).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "the same viewer and title within a minute");
        let hash = InfoHash::parse(&"ab".repeat(20)).unwrap();
        assert_eq!(list_handle(&first, &hash, None), list_handle(&again, &hash, None));

        let mine =
            [UserIndexer { n: "mine".into(), u: "https://nzb.example".into(), ak: Some(Secret::new("nzb-key-9")) }];
        let others = [
            list_parts(&entry, &device, ip, now + 60),
            list_parts(&other_entry, &device, ip, now),
            list_parts(&entry, &other_device, ip, now),
            list_parts(&entry, &device, "203.0.113.10".parse().unwrap(), now),
            ListParts { id: "tt0903747:1:4", ..list_parts(&entry, &device, ip, now) },
            ListParts { usenet_indexers: &mine, ..list_parts(&entry, &device, ip, now) },
        ];
        for (n, parts) in others.iter().enumerate() {
            let fresh = ListSlot::default();
            let kept = fresh.get_or_seal(&list_parts(&entry, &device, ip, now), &keyring, 3600).unwrap();
            let sealed = fresh.get_or_seal(parts, &keyring, 3600).unwrap();
            assert!(!Arc::ptr_eq(&kept, &sealed), "case {n} gets its own seal");
            let opened = Handle::open(&keyring, &list_handle(&sealed, &hash, None)).unwrap();
            assert_eq!(
                (opened.c.as_str(), opened.i.as_str(), opened.a, opened.x),
                (parts.entry.c.as_str(), parts.id, parts.ip, parts.expires_at)
            );
        }
        // Short-lived handles (a lifetime under ten minutes) reuse for a tenth of it; 5 s: never.
        let short = ListSlot::default();
        let one = short.get_or_seal(&list_parts(&entry, &device, ip, now), &keyring, 5).unwrap();
        let two = short.get_or_seal(&list_parts(&entry, &device, ip, now), &keyring, 5).unwrap();
        assert!(!Arc::ptr_eq(&one, &two));
        // At most two list parts are kept per segment: the oldest goes first.
        let kept = ListSlot::default();
        let a = kept.get_or_seal(&list_parts(&entry, &device, ip, now), &keyring, 3600).unwrap();
        kept.get_or_seal(&list_parts(&other_entry, &device, ip, now), &keyring, 3600);
        kept.get_or_seal(&list_parts(&entry, &other_device, ip, now), &keyring, 3600);
        let a_again = kept.get_or_seal(&list_parts(&entry, &device, ip, now), &keyring, 3600).unwrap();
        assert!(!Arc::ptr_eq(&a, &a_again));
    }
}
