//! The Stremio addon manifest.

use serde_json::{json, Value};

pub(crate) const ADDON_NAME: &str = "chillproxy Torz";

/// The addon id: the public host with its labels reversed, plus `.torz`, as the Torz addon it
/// replaces does, so each deployment has a stable id of its own. Local addresses map to `local.chillproxy.torz`.
pub(crate) fn addon_id(base_url: &str) -> String {
    let host = base_url.split("://").nth(1).unwrap_or(base_url);
    let host = host.split('/').next().unwrap_or(host);
    let host = if host.starts_with('[') {
        host.split(']').next().unwrap_or(host).trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or(host)
    };
    if host == "localhost" || host.parse::<std::net::IpAddr>().is_ok() || host.is_empty() {
        return "local.chillproxy.torz".to_string();
    }
    let mut labels: Vec<&str> = host.split('.').filter(|l| !l.is_empty()).collect();
    labels.reverse();
    format!("{}.torz", labels.join("."))
}

/// What this server offers, as the enabled plugins describe themselves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Offer<'a> {
    /// Display names of the enabled stores.
    pub stores: &'a [&'a str],
    /// What the enabled sources search, as their plugins word it.
    pub searches: &'a [&'a str],
}

/// The manifest. `configured` is `Some(store codes)` for a valid user config.
pub(crate) fn manifest(base_url: &str, offer: Offer<'_>, configured: Option<&[&str]>) -> Value {
    let searches = if offer.searches.is_empty() { "torrent sources".to_string() } else { offer.searches.join(" and ") };
    let mut description =
        format!("Streams from your debrid service ({}) for torrents found on {searches}.", offer.stores.join(", "));
    if let Some(codes) = configured {
        let codes: Vec<String> = codes.iter().map(|c| c.to_ascii_uppercase()).collect();
        description.push_str(" — ");
        description.push_str(&codes.join(" | "));
    }
    let mut hints = json!({ "configurable": true });
    if configured.is_none() {
        hints["configurationRequired"] = json!(true);
    }
    json!({
        "id": addon_id(base_url),
        "name": ADDON_NAME,
        "description": description,
        "version": env!("CARGO_PKG_VERSION"),
        "resources": [{ "name": "stream", "types": ["movie", "series"], "idPrefixes": chillproxy_stremio::ID_PREFIXES }],
        "types": ["movie", "series"],
        "catalogs": [],
        "behaviorHints": hints,
    })
}

/// Adds the library's catalogs (id, name) and the catalog and meta resources, when there is
/// one: the manifest then offers them to Stremio's Discover and Board.
pub(crate) fn add_library(manifest: &mut Value, catalogs: &[(String, String)]) {
    use crate::library::ids::{CATALOG_TYPE, ITEM_PREFIX};
    if catalogs.is_empty() {
        return;
    }
    let extra = json!([{ "name": "skip" }, { "name": "search", "isRequired": false }]);
    manifest["catalogs"] = catalogs
        .iter()
        .map(|(id, name)| json!({ "type": CATALOG_TYPE, "id": id, "name": name, "extra": extra }))
        .collect();
    if let Some(resources) = manifest["resources"].as_array_mut() {
        resources.push(json!({ "name": "catalog", "types": [CATALOG_TYPE] }));
        resources.push(json!({ "name": "meta", "types": [CATALOG_TYPE], "idPrefixes": [ITEM_PREFIX] }));
    }
    if let Some(types) = manifest["types"].as_array_mut() {
        types.push(json!(CATALOG_TYPE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_reversed_host() {
        assert_eq!(addon_id("https://addon.example.com"), "com.example.addon.torz");
        assert_eq!(addon_id("http://localhost:8080"), "local.chillproxy.torz");
        assert_eq!(addon_id("http://127.0.0.1:9"), "local.chillproxy.torz");
        assert_eq!(addon_id("http://[::1]:9"), "local.chillproxy.torz");
    }
}
