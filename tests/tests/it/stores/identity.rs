//! Every registered store plugin's provider says who it is exactly as its descriptor does:
//! the host lists, configures and names stores from the descriptor, and talks to them (and
//! words their errors) through the provider.

use chillproxy_core::registry;
use chillproxy_core::{Env, PluginContext, PluginSettings};

#[test]
fn every_store_provider_matches_its_descriptor() {
    chillproxy_tests::link_plugins();
    let stores = registry::stores().expect("no two stores share a name or code");
    assert!(stores.len() >= 4, "the default plugin list links the four stores: {}", registry::names(&stores));
    for descriptor in stores {
        let settings = PluginSettings::new(format!("store.{}", descriptor.name), Default::default(), Env::default());
        let provider = (descriptor.build)(&PluginContext::new(&settings))
            .unwrap_or_else(|e| panic!("store {} builds from an empty table: {e}", descriptor.name));
        let expected = descriptor.identity();
        assert_eq!(provider.identity(), expected, "store {}", descriptor.name);
        let answered = (provider.name(), provider.code(), provider.display_name(), provider.capabilities());
        assert_eq!(
            answered,
            (expected.name, expected.code, expected.display_name, expected.capabilities),
            "store {}: the provider's accessors read its identity",
            descriptor.name
        );
    }
}
