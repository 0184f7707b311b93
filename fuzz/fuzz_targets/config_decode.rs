//! `UserConfig::decode` on any text. The first byte picks the mode: odd → the rest is the raw
//! path segment (lossy UTF-8); even → the rest is the JSON, base64-encoded first (in the
//! flavour bits 1-2 pick) so the fuzzer explores the JSON shapes rather than base64 noise.

#![no_main]

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use chillproxy_stremio::{UserConfig, MAX_ENCODED_BYTES, MAX_INDEXERS, MAX_STORES};
use libfuzzer_sys::fuzz_target;

const CODES: &[&str] = &["tb", "rd", "ad"];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        let _ = UserConfig::decode("", CODES);
        return;
    };
    let segment = if mode & 1 == 1 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        match (mode >> 1) & 3 {
            0 => STANDARD.encode(rest),
            1 => STANDARD_NO_PAD.encode(rest),
            2 => URL_SAFE.encode(rest),
            _ => URL_SAFE_NO_PAD.encode(rest),
        }
    };
    if let Ok(config) = UserConfig::decode(&segment, CODES) {
        assert!(segment.len() <= MAX_ENCODED_BYTES);
        assert!((1..=MAX_STORES).contains(&config.stores.len()), "{} stores", config.stores.len());
        assert!(config.indexers.len() <= MAX_INDEXERS);
        for (i, store) in config.stores.iter().enumerate() {
            assert!(CODES.contains(&store.c.as_str()), "stores[{i}].c = {:?}", store.c);
            assert!(store.token().is_some() || store.auth().is_some(), "stores[{i}] has no credential");
            assert!(config.stores[..i].iter().all(|s| s.c != store.c), "stores[{i}] is a duplicate");
        }
        for indexer in &config.indexers {
            let url = indexer.u.trim();
            assert!(url.starts_with("http://") || url.starts_with("https://"), "indexer url {url:?}");
        }
    }
});
