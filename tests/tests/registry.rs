//! Guards the linker: every plugin crate must be linked and registered, under its exact name.

use chillproxy_core::registry;
use chillproxy_core::{AuthPlugin, SourcePlugin};

#[test]
fn every_plugin_is_registered_sorted_by_name() {
    chillproxy_tests::link_plugins();
    let auth: Vec<&str> = registry::list::<AuthPlugin>().unwrap().iter().map(|p| p.name).collect();
    let stores: Vec<(&str, &str)> = registry::stores().unwrap().iter().map(|p| (p.name, p.code)).collect();
    let sources: Vec<&str> = registry::list::<SourcePlugin>().unwrap().iter().map(|p| p.name).collect();
    assert_eq!(auth, ["chillstreams", "token"]);
    assert_eq!(stores, [("alldebrid", "ad"), ("realdebrid", "rd"), ("torbox", "tb")]);
    assert_eq!(sources, ["torznab"]);
}
