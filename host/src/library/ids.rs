//! The library's ids. A catalog is `cpl.<code>.<install>` and an item `cpl:<code>:<install>:<hash>`,
//! where `<install>` is a short fingerprint of the store entry (its code, key or user), so two
//! installs for two accounts never share a catalog id (Stremio shows only one of two catalogs
//! with the same id) and no id carries a key.

use chillproxy_core::{InfoHash, StoreEntry};

/// What every library item id starts with (the meta resource's `idPrefixes`).
pub(crate) const ITEM_PREFIX: &str = "cpl:";
/// The catalogs' Stremio type.
pub(crate) const CATALOG_TYPE: &str = "other";

/// A short fingerprint of the store entry.
pub(crate) fn install(entry: &StoreEntry) -> String {
    let mut material = entry.c.clone();
    material.push('\u{1f}');
    material.push_str(entry.token().map(|t| t.expose()).unwrap_or_default());
    material.push('\u{1f}');
    material.push_str(entry.auth.as_deref().unwrap_or_default());
    chillproxy_core::secret::fingerprint(material.as_bytes())[..10].to_string()
}

pub(crate) fn catalog_id(entry: &StoreEntry) -> String {
    format!("cpl.{}.{}", entry.c, install(entry))
}

pub(crate) fn item_id(entry: &StoreEntry, hash: &InfoHash) -> String {
    format!("{ITEM_PREFIX}{}:{}:{hash}", entry.c, install(entry))
}

/// A video of an item: the item id and the file's store id.
pub(crate) fn video_id(entry: &StoreEntry, hash: &InfoHash, file: u64) -> String {
    format!("{}:{file}", item_id(entry, hash))
}

/// The entry of `entries` a catalog id names.
pub(crate) fn entry_of_catalog<'a>(entries: &'a [StoreEntry], id: &str) -> Option<&'a StoreEntry> {
    entries.iter().find(|e| catalog_id(e) == id)
}

/// The entry and hash an item id names.
pub(crate) fn entry_of_item<'a>(entries: &'a [StoreEntry], id: &str) -> Option<(&'a StoreEntry, InfoHash)> {
    let mut parts = id.strip_prefix(ITEM_PREFIX)?.split(':');
    let (code, install_tag, hash) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let entry = entries.iter().find(|e| e.c == code && install(e) == install_tag)?;
    Some((entry, InfoHash::parse(hash)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chillproxy_core::Secret;

    #[test]
    fn ids_differ_per_account_round_trip_and_carry_no_key() {
        let mine = StoreEntry { c: "tb".into(), t: Some(Secret::new("tb-secret-key")), auth: None };
        let other = StoreEntry { c: "tb".into(), t: Some(Secret::new("tb-other-key")), auth: None };
        assert_ne!(catalog_id(&mine), catalog_id(&other));
        assert!(!catalog_id(&mine).contains("secret"));
        let hash = InfoHash::parse(&"ab".repeat(20)).unwrap();
        let entries = [other.clone(), mine.clone()];
        let (entry, parsed) = entry_of_item(&entries, &item_id(&mine, &hash)).unwrap();
        assert_eq!((entry, &parsed), (&mine, &hash));
        assert_eq!(entry_of_catalog(&entries, &catalog_id(&other)), Some(&other));
        assert!(entry_of_item(&entries, "cpl:tb:nope:abc").is_none());
        assert!(entry_of_item(&entries, &format!("{}:1", item_id(&mine, &hash))).is_none());
    }
}
