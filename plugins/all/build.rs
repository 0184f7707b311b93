//! Writes one `extern crate chillproxy_<feature>;` line per enabled plugin feature, so that the
//! plugin list lives in one place (this crate's Cargo.toml) and every enabled plugin is linked.

use std::fmt::Write as _;

fn main() {
    let mut lines = String::new();
    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(key, _)| key.strip_prefix("CARGO_FEATURE_").map(str::to_ascii_lowercase))
        .filter(|feature| feature != "default")
        .collect();
    features.sort();
    for feature in features {
        // `store-torbox` arrives as STORE_TORBOX; the crate is chillproxy_store_torbox.
        let _ = writeln!(lines, "extern crate chillproxy_{feature};");
    }
    let out = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    if let Err(e) = std::fs::write(std::path::Path::new(&out).join("plugins.rs"), lines) {
        println!("cargo::error=cannot write the plugin list: {e}");
    }
    println!("cargo::rerun-if-changed=Cargo.toml");
}
