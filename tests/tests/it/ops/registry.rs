//! Guards the linker: every plugin listed in `plugins/all/Cargo.toml` (the one plugin list) must
//! be linked and registered under its exact name, and nothing else may be registered.

use std::path::Path;

use chillproxy_core::registry;
use chillproxy_core::{AuthPlugin, SourcePlugin};

/// `(kind, name)` of every plugin feature in `plugins/all/Cargo.toml`, sorted; and the default
/// feature list.
fn listed_plugins() -> (Vec<(String, String)>, Vec<String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/all/Cargo.toml");
    let manifest: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    let features = manifest["features"].as_table().unwrap();
    let mut listed: Vec<(String, String)> = features
        .keys()
        .filter(|f| *f != "default")
        .map(|f| {
            let (kind, name) = f.split_once('-').unwrap_or_else(|| panic!("feature {f:?} is not <kind>-<name>"));
            (kind.to_string(), name.to_string())
        })
        .collect();
    listed.sort();
    let defaults = features["default"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    (listed, defaults)
}

#[test]
fn every_listed_plugin_is_registered_and_nothing_else() {
    chillproxy_tests::link_plugins();
    let mut registered: Vec<(String, String)> = Vec::new();
    registered.extend(registry::list::<AuthPlugin>().unwrap().iter().map(|p| ("auth".into(), p.name.into())));
    registered.extend(registry::stores().unwrap().iter().map(|p| ("store".into(), p.name.into())));
    registered.extend(registry::list::<SourcePlugin>().unwrap().iter().map(|p| ("source".into(), p.name.into())));
    registered.sort();
    let (listed, defaults) = listed_plugins();
    assert!(!listed.is_empty());
    assert_eq!(registered, listed, "registered plugins vs plugins/all/Cargo.toml");
    for (kind, name) in &listed {
        assert!(defaults.contains(&format!("{kind}-{name}")), "{kind}-{name} is not in the default features");
    }
}

#[test]
fn store_codes_are_unique_and_short() {
    chillproxy_tests::link_plugins();
    for store in registry::stores().unwrap() {
        assert!((2..=3).contains(&store.code.len()) && store.code.bytes().all(|b| b.is_ascii_lowercase()), "{store:?}");
    }
}

#[test]
fn the_four_debrid_stores_are_registered_and_none_is_a_stub() {
    chillproxy_tests::link_plugins();
    let stores: Vec<(&str, &str, bool)> =
        registry::stores().unwrap().iter().map(|s| (s.name, s.code, s.capabilities.stub)).collect();
    for store in
        [("alldebrid", "ad", false), ("premiumize", "pm", false), ("realdebrid", "rd", false), ("torbox", "tb", false)]
    {
        assert!(stores.contains(&store), "{store:?} in {stores:?}");
    }
}
