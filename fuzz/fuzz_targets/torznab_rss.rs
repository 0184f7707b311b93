//! The Torznab RSS parser on any text (lossy UTF-8): no panic, and every item it returns has a
//! valid hash (if any), a non-zero size (if any) and a title within the field limit.

#![no_main]

use chillproxy_source_torznab::parse_feed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let xml = String::from_utf8_lossy(data);
    if let Ok(items) = parse_feed(&xml) {
        for item in items {
            if let Some(hash) = &item.hash {
                let hash = hash.as_str();
                assert!(
                    hash.len() == 40 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                    "hash {hash:?}"
                );
            }
            assert_ne!(item.size, Some(0));
            assert!(item.title.len() <= 4096, "title of {} bytes", item.title.len());
            assert_eq!(item.title.trim(), item.title);
        }
    }
});
