//! The shape of the workspace, checked: plugin crates depend on core (and the protocol crate)
//! only, the fuzz targets never depend on the host, and the host names no plugin: it reads what
//! plugins can do from the registry, so `host/src` (outside its tests) contains no plugin name and
//! no store's display name.

use std::path::{Path, PathBuf};

use chillproxy_core::registry;
use chillproxy_core::{AuthPlugin, SourcePlugin};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Every `chillproxy-*` crate a manifest depends on, in any dependency table.
fn chillproxy_dependencies(manifest: &Path) -> Vec<String> {
    let manifest: toml::Table = std::fs::read_to_string(manifest).unwrap().parse().unwrap();
    let mut deps = Vec::new();
    for table in ["dependencies", "dev-dependencies", "build-dependencies"] {
        if let Some(table) = manifest.get(table).and_then(|t| t.as_table()) {
            deps.extend(table.keys().filter(|k| k.starts_with("chillproxy-")).cloned());
        }
    }
    deps
}

#[test]
fn plugin_crates_depend_on_core_and_the_protocol_crate_only() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("plugins")).unwrap() {
        let dir = entry.unwrap().path();
        if dir.file_name().unwrap() == "all" || !dir.join("Cargo.toml").is_file() {
            continue;
        }
        for dep in chillproxy_dependencies(&dir.join("Cargo.toml")) {
            assert!(
                dep == "chillproxy-core" || dep == "chillproxy-stremio",
                "{} depends on {dep}: a plugin may depend on chillproxy-core and chillproxy-stremio only",
                dir.display()
            );
        }
        checked += 1;
    }
    assert!(checked >= 6, "found only {checked} plugin crates");
}

#[test]
fn fuzz_targets_do_not_depend_on_the_host() {
    let deps = chillproxy_dependencies(&root().join("fuzz/Cargo.toml"));
    assert!(!deps.is_empty());
    assert!(!deps.contains(&"chillproxy-host".to_string()), "fuzz depends on the host: {deps:?}");
}

/// Files under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn the_host_names_no_plugin_and_no_store() {
    chillproxy_tests::link_plugins();
    let mut names: Vec<String> = Vec::new();
    names.extend(registry::list::<AuthPlugin>().unwrap().iter().map(|p| p.name.to_string()));
    names.extend(registry::list::<SourcePlugin>().unwrap().iter().map(|p| p.name.to_string()));
    for store in registry::stores().unwrap() {
        names.push(store.name.to_string());
        names.push(store.display_name.to_string());
    }
    // Plugin names that are ordinary words the host needs for itself (`metrics_token`).
    names.retain(|name| name != "token");
    let mut offences = Vec::new();
    for path in files(&root().join("host/src")) {
        if path.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Unit tests sit at the end of a file, after `#[cfg(test)]`; they may use real names.
        let code = text.split("#[cfg(test)]\nmod tests {").next().unwrap_or_default().to_ascii_lowercase();
        for name in &names {
            for (number, line) in code.lines().enumerate() {
                if line.contains(&name.to_ascii_lowercase()) {
                    offences.push(format!("{}:{}: {name}", path.display(), number + 1));
                }
            }
        }
    }
    assert!(offences.is_empty(), "host/src names plugins:\n{}", offences.join("\n"));
}
