//! Info hashes from Torznab attributes and magnet links: 40 hex digits or 32 base32 characters.

use std::fmt::Write;

use chillproxy_core::InfoHash;

/// An info hash written as 40 hex digits or as 32 RFC 4648 base32 characters (any case).
pub fn parse_hash(value: &str) -> Option<InfoHash> {
    let value = value.trim();
    match value.len() {
        40 => InfoHash::parse(value),
        32 => base32_to_hex(value).and_then(|hex| InfoHash::parse(&hex)),
        _ => None,
    }
}

/// Decodes a 32-character base32 info hash (160 bits) into 40 lowercase hex digits.
pub fn base32_to_hex(value: &str) -> Option<String> {
    if value.len() != 32 {
        return None;
    }
    let mut out = String::with_capacity(40);
    let mut bits: u32 = 0;
    let mut pending = 0u32;
    for byte in value.bytes() {
        let digit = match byte.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        bits = (bits << 5) | u32::from(digit);
        pending += 5;
        if pending >= 8 {
            pending -= 8;
            let _ = write!(out, "{:02x}", (bits >> pending) & 0xff);
            bits &= (1 << pending) - 1;
        }
    }
    Some(out)
}

/// The info hash of a magnet link's `xt=urn:btih:` parameter (hex or base32, percent-encoded
/// or not). Anything that is not a magnet link, or has no usable `btih`, gives `None`.
pub fn hash_from_magnet(uri: &str) -> Option<InfoHash> {
    let uri = uri.trim();
    let scheme = uri.get(..7)?;
    if !scheme.eq_ignore_ascii_case("magnet:") {
        return None;
    }
    let (_, query) = uri[7..].split_once('?')?;
    let query = query.split('#').next().unwrap_or_default();
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(key, _)| {
            let key = percent_decode(key);
            key.eq_ignore_ascii_case("xt") || key.to_ascii_lowercase().starts_with("xt.")
        })
        .find_map(|(_, value)| {
            let value = percent_decode(value);
            let prefix = value.get(..9)?;
            if prefix.eq_ignore_ascii_case("urn:btih:") {
                parse_hash(&value[9..])
            } else {
                None
            }
        })
}

/// `%XX` decoding; a malformed escape is kept as it is.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
    // The same 20 bytes in base32.
    const B32: &str = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK";

    #[test]
    fn base32_decodes_to_hex() {
        assert_eq!(base32_to_hex(B32).as_deref(), Some(HEX));
        assert_eq!(base32_to_hex(&B32.to_ascii_lowercase()).as_deref(), Some(HEX));
        assert_eq!(base32_to_hex("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").as_deref(), Some(&"0".repeat(40)[..]));
        assert_eq!(base32_to_hex("77777777777777777777777777777777").as_deref(), Some(&"f".repeat(40)[..]));
        assert!(base32_to_hex("YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKE1").is_none(), "1 is not base32");
        assert!(base32_to_hex("YEX6DQDL").is_none());
    }

    #[test]
    fn parse_hash_accepts_hex_and_base32_only() {
        assert_eq!(parse_hash(HEX).unwrap().as_str(), HEX);
        assert_eq!(parse_hash(&HEX.to_ascii_uppercase()).unwrap().as_str(), HEX);
        assert_eq!(parse_hash(B32).unwrap().as_str(), HEX);
        assert_eq!(parse_hash(&format!("  {HEX} ")).unwrap().as_str(), HEX);
        assert!(parse_hash("").is_none());
        assert!(parse_hash(&HEX[..39]).is_none());
        assert!(parse_hash(&format!("{HEX}0")).is_none());
    }

    #[test]
    fn magnets_in_hex_base32_and_percent_encoded() {
        let hex = format!("magnet:?xt=urn:btih:{HEX}&dn=Some.Movie&tr=udp%3A%2F%2Ftracker%3A80");
        assert_eq!(hash_from_magnet(&hex).unwrap().as_str(), HEX);
        let b32 = format!("magnet:?dn=x&xt=urn:btih:{B32}");
        assert_eq!(hash_from_magnet(&b32).unwrap().as_str(), HEX);
        let upper = format!("MAGNET:?XT=URN:BTIH:{}", HEX.to_ascii_uppercase());
        assert_eq!(hash_from_magnet(&upper).unwrap().as_str(), HEX);
        let encoded = format!("magnet:?xt=urn%3Abtih%3A{HEX}");
        assert_eq!(hash_from_magnet(&encoded).unwrap().as_str(), HEX);
        let multi = format!("magnet:?xt.1=urn:sha1:abc&xt.2=urn:btih:{HEX}");
        assert_eq!(hash_from_magnet(&multi).unwrap().as_str(), HEX);
    }

    #[test]
    fn non_magnets_and_broken_magnets_give_none() {
        assert!(hash_from_magnet("http://indexer/dl/1.torrent").is_none());
        assert!(hash_from_magnet("magnet:").is_none());
        assert!(hash_from_magnet("magnet:?dn=name").is_none());
        assert!(hash_from_magnet("magnet:?xt=urn:btih:").is_none());
        assert!(hash_from_magnet("magnet:?xt=urn:btih:notahash").is_none());
        assert!(hash_from_magnet("magnet:?xt=urn:btmh:1220abcd").is_none());
        assert!(hash_from_magnet("mag").is_none());
        assert!(hash_from_magnet("magnet:?xt=urn:btih:%ZZ").is_none());
        assert!(hash_from_magnet("magnet:?xt=urn:btih:é%").is_none());
    }

    #[test]
    fn percent_decode_keeps_malformed_escapes() {
        assert_eq!(percent_decode("a%3Ab"), "a:b");
        assert_eq!(percent_decode("a%3"), "a%3");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
