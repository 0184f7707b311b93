//! The shape of the workspace, checked: plugin crates depend on core (and the protocol crates:
//! Stremio's, and the indexer API Torznab and Newznab share) only, the fuzz targets never depend on the host, and the host names no plugin: it reads what
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
                dep == "chillproxy-core" || dep == "chillproxy-stremio" || dep == "chillproxy-indexer-protocol",
                "{} depends on {dep}: a plugin may depend on chillproxy-core, chillproxy-stremio and chillproxy-indexer-protocol only",
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

/// A module path under `host/src` (`["streams", "format"]`), from a file's path.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The code of a file without comments, string contents and its `#[cfg(test)]` items (a test
/// module may use anything).
fn code_without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            // Skip the item: one line (`mod tests;`) or a block up to its closing brace.
            let Some(item) = lines.next() else { break };
            if item.trim_end().ends_with('{') {
                let indent = item.len() - item.trim_start().len();
                for rest in lines.by_ref() {
                    if rest.len() - rest.trim_start().len() == indent && rest.trim() == "}" {
                        break;
                    }
                }
            }
            continue;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let mut in_string = false;
        let mut previous = ' ';
        for c in line.chars() {
            if c == '"' && previous != '\\' {
                in_string = !in_string;
                out.push(c);
            } else if !in_string {
                out.push(c);
            }
            previous = c;
        }
        out.push('\n');
    }
    out
}

/// Every path a `use` tree names, braces expanded: `a::{b, c::d}` → `a::b`, `a::c::d`.
fn expand_use(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or_default().trim();
        return vec![path.trim_end_matches("::*").to_string()];
    };
    let prefix = tree[..open].trim_end_matches("::");
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .flat_map(expand_use)
        .map(|rest| match rest.as_str() {
            "self" => prefix.to_string(),
            _ if prefix.is_empty() => rest,
            _ => format!("{prefix}::{rest}"),
        })
        .collect()
}

/// The paths a file's code names that may point into its own crate: `use` trees, and
/// `crate::…`/`super::…`/`self::…`/`<child module>::…` paths anywhere else.
fn named_paths(code: &str, children: &[String]) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let boundary = at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric() && rest.as_bytes()[at - 1] != b'_';
        let end = rest[at..].find(';').map_or(rest.len(), |e| at + e);
        if boundary {
            paths.extend(expand_use(&rest[at + 4..end]));
        }
        rest = &rest[(at + 4).min(rest.len())..];
    }
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let tokens: Vec<&str> = code.split(|c: char| !(is_ident(c) || c == ':')).collect();
    for token in tokens {
        let first = token.split("::").next().unwrap_or_default();
        if token.contains("::") && (["crate", "super", "self"].contains(&first) || children.iter().any(|c| c == first))
        {
            paths.push(token.trim_end_matches(':').to_string());
        }
    }
    paths
}

/// Which file of `modules` a path named in module `from` (declaring `children`) points at.
fn resolve(
    path: &str,
    from: &[String],
    modules: &std::collections::BTreeMap<Vec<String>, PathBuf>,
    reexports: &std::collections::BTreeMap<String, String>,
) -> Option<Vec<String>> {
    let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let (mut at, mut rest): (Vec<String>, &[&str]) = match *segments.first()? {
        "crate" => (Vec::new(), &segments[1..]),
        "self" => (from.to_vec(), &segments[1..]),
        "super" => {
            // `super` of `a::b` (a/b.rs) is `a`; of `a` (a/mod.rs), the crate.
            let mut at = from.to_vec();
            let mut rest = &segments[..];
            while rest.first() == Some(&"super") {
                at.pop();
                rest = &rest[1..];
            }
            (at, rest)
        }
        _ => (from.to_vec(), &segments[..]),
    };
    if at.is_empty() {
        if let Some(first) = rest.first() {
            if let Some(target) = reexports.get(*first) {
                return resolve(target, &[], modules, reexports);
            }
        }
    }
    while let Some(next) = rest.first() {
        let mut deeper = at.clone();
        deeper.push(next.to_string());
        if !modules.contains_key(&deeper) {
            break;
        }
        at = deeper;
        rest = &rest[1..];
    }
    modules.contains_key(&at).then_some(at)
}

/// The first cycle in `edges`, as the list of nodes it passes.
fn find_cycle<N: Ord + Clone + std::fmt::Debug>(
    edges: &std::collections::BTreeMap<N, std::collections::BTreeSet<N>>,
) -> Option<Vec<N>> {
    fn visit<N: Ord + Clone>(
        node: &N,
        edges: &std::collections::BTreeMap<N, std::collections::BTreeSet<N>>,
        done: &mut std::collections::BTreeSet<N>,
        stack: &mut Vec<N>,
    ) -> Option<Vec<N>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.clone());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    edges.keys().find_map(|node| visit(node, edges, &mut done, &mut Vec::new()))
}

/// The file-to-file imports of `host/src` (the library; `main.rs` is the binary's root), test
/// code left out.
fn host_imports() -> std::collections::BTreeMap<Vec<String>, std::collections::BTreeSet<Vec<String>>> {
    use std::collections::{BTreeMap, BTreeSet};
    let src = root().join("host/src");
    let mut modules = BTreeMap::new();
    for file in files(&src) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".rs") || name == "main.rs" || name == "tests.rs" || name == "testing.rs" {
            continue;
        }
        modules.insert(module_of(&src, &file), file);
    }
    // What the crate root re-exports (`pub use state::AppState;`), so `crate::AppState` counts
    // as an import of `state`.
    let lib = code_without_tests(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut reexports = BTreeMap::new();
    for path in named_paths(&lib, &[]) {
        if let Some(last) = path.rsplit("::").next() {
            reexports.insert(last.to_string(), path.clone());
        }
    }
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, file) in &modules {
        if module.is_empty() {
            continue;
        }
        let code = code_without_tests(&std::fs::read_to_string(file).unwrap());
        let children: Vec<String> = modules
            .keys()
            .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
            .map(|m| m.last().unwrap().clone())
            .collect();
        for path in named_paths(&code, &children) {
            let first = path.split("::").next().unwrap_or_default();
            if !["crate", "super", "self"].contains(&first) && !children.iter().any(|c| c == first) {
                continue;
            }
            if let Some(target) = resolve(&path, module, &modules, &reexports) {
                if &target != module && !target.is_empty() {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
    }
    edges
}

/// The imports between `host/src`'s modules run one way: no file, and no folder at any depth,
/// imports something that (directly or through others) imports it back. Features own their
/// state (http → feature → shared parts → core), which is what keeps the next feature from
/// piling onto a knot.
#[test]
fn host_modules_import_one_way() {
    use std::collections::{BTreeMap, BTreeSet};
    let edges = host_imports();
    assert!(edges.len() > 10, "the import scan found too little: {edges:?}");
    let deepest = edges.keys().map(Vec::len).max().unwrap_or(1);
    for depth in 1..=deepest {
        // Modules grouped by their first `depth` segments; edges inside a group don't count.
        let group = |m: &Vec<String>| m[..m.len().min(depth)].join("::");
        let mut grouped: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, targets) in &edges {
            for to in targets {
                let (a, b) = (group(from), group(to));
                if a != b && !b.starts_with(&format!("{a}::")) && !a.starts_with(&format!("{b}::")) {
                    grouped.entry(a).or_default().insert(b);
                }
            }
        }
        if let Some(cycle) = find_cycle(&grouped) {
            panic!("import cycle among host/src's modules (depth {depth}): {}", cycle.join(" → "));
        }
    }
    let files: BTreeMap<String, BTreeSet<String>> =
        edges.iter().map(|(from, to)| (from.join("::"), to.iter().map(|t| t.join("::")).collect())).collect();
    if let Some(cycle) = find_cycle(&files) {
        panic!("import cycle among host/src's files: {}", cycle.join(" → "));
    }
}

/// The guard above finds what it is meant to find: a two-file cycle in a scratch tree.
#[test]
fn the_import_scan_reads_use_trees_and_paths() {
    assert_eq!(expand_use("crate::{a, b::{c, d as e}, f::*}"), ["crate::a", "crate::b::c", "crate::b::d", "crate::f"]);
    let code = code_without_tests(
        "use super::x;\n// crate::in_a_comment\nfn f() { crate::y::z(); \"crate::in_string\"; }\n#[cfg(test)]\nmod tests {\n    use crate::only_tests;\n}\n",
    );
    let paths = named_paths(&code, &[]);
    assert!(paths.contains(&"super::x".to_string()) && paths.contains(&"crate::y::z".to_string()), "{paths:?}");
    assert!(
        !paths.iter().any(|p| p.contains("comment") || p.contains("string") || p.contains("only_tests")),
        "{paths:?}"
    );
    let mut edges = std::collections::BTreeMap::new();
    edges.insert("a", std::collections::BTreeSet::from(["b"]));
    edges.insert("b", std::collections::BTreeSet::from(["a"]));
    assert_eq!(find_cycle(&edges), Some(vec!["a", "b", "a"]));
}
