//! The configure page's markup: the page model and its rendering. The template, style and script
//! are files next to this one (`page.html`, `page.css`, `page.js`); the script and style are
//! constants, so the Content-Security-Policy can name them by hash, and every value from the
//! request or the user's config is HTML-escaped into element content or quoted attributes.

use chillproxy_core::{EntryField, StoreEntry, UserIndexer};
use chillproxy_stremio::languages::{Language, LANGUAGES};
use chillproxy_stremio::preferences::RESOLUTIONS;
use chillproxy_stremio::{UserConfig, MAX_ENCODED_BYTES, MAX_INDEXERS, MAX_STORES, USENET_INDEXERS_FIELD};

pub(super) const STYLE: &str = include_str!("page.css");
pub(super) const SCRIPT: &str = include_str!("page.js");

/// One store the form offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreChoice {
    pub code: String,
    pub name: String,
    /// `false` for registered stubs: listed, marked "not available yet".
    pub available: bool,
}

/// Everything the page shows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page<'a> {
    /// The public base URL, for the manifest and install links.
    pub base_url: &'a str,
    /// The enabled stores, in the operator's order.
    pub stores: &'a [StoreChoice],
    /// The store-entry field an enabled auth provider reads (a user id), shown next to the token.
    pub auth_field: Option<EntryField>,
    /// (provider name, how users call it), for the check's "via …" badge.
    pub auth_names: &'a [(&'a str, &'a str)],
    /// What the sources search, as their plugins word it, for the indexers section.
    pub searches: &'a str,
    /// " Use A for now" (see `problems::use_instead`), for the stub note.
    pub use_instead: &'a str,
    /// The server seals install URLs (`POST /stremio/torz/configure/seal`).
    pub seal: bool,
    /// The user's config to fill the form with (their own, from their URL).
    pub config: Option<&'a UserConfig>,
    /// Why the user's config is invalid.
    pub problem: Option<&'a str>,
}

pub(crate) use crate::html::escape;

/// The orders the page offers (`value`, label); the first is the server's default.
const SORTS: &[(&str, &str)] = &[
    ("", "Best first: resolution, then quality, then size"),
    ("-size", "Largest first"),
    ("size", "Smallest first"),
    ("-seeders", "Most seeders first"),
    ("-resolution,-seeders", "Best resolution, then most seeders"),
    ("-quality,-resolution,-size", "Best quality (REMUX, BluRay) first"),
];

/// The whole page.
pub(crate) fn render(page: &Page<'_>) -> String {
    let config = page.config;
    let mut stores = String::new();
    match config.map(|c| c.stores.as_slice()) {
        Some(entries) if !entries.is_empty() => {
            for (i, entry) in entries.iter().enumerate() {
                stores.push_str(&store_row(page, i + 1, Some(entry)));
            }
        }
        _ => stores.push_str(&store_row(page, 1, None)),
    }
    let mut indexers = String::new();
    for (i, indexer) in config.map(|c| c.indexers.as_slice()).unwrap_or_default().iter().enumerate() {
        indexers.push_str(&indexer_row(&TORRENT, i + 1, Some(indexer)));
    }
    let mut usenet = String::new();
    for (i, indexer) in config.map(|c| c.usenet_indexers()).unwrap_or_default().iter().enumerate() {
        usenet.push_str(&indexer_row(&USENET, i + 1, Some(indexer)));
    }
    let cached = if config.is_some_and(|c| c.cached) { " checked" } else { "" };
    let acquire = if config.is_some_and(|c| c.acquire) { " checked" } else { "" };
    let prefs = config.map(|c| c.prefs.clone()).unwrap_or_default();
    let resolutions: String = RESOLUTIONS
        .iter()
        .map(|r| {
            let checked = if prefs.resolutions.iter().any(|p| p.eq_ignore_ascii_case(r)) { " checked" } else { "" };
            format!("<label class=\"choice\"><input type=\"checkbox\" name=\"resolution\" value=\"{r}\"{checked}> {r}</label>")
        })
        .collect();
    let languages: String = LANGUAGES
        .iter()
        .map(|l| {
            let checked = prefs.languages.iter().any(|p| Language::find(p) == Some(l));
            format!(
                "<label class=\"choice\"><input type=\"checkbox\" name=\"language\" value=\"{code}\"{checked}> {name}</label>",
                code = l.code,
                name = l.name,
                checked = if checked { " checked" } else { "" },
            )
        })
        .collect();
    let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let current_sort = prefs.sort.clone().unwrap_or_default();
    let mut sort: String = SORTS
        .iter()
        .map(|(value, label)| {
            let selected = if *value == current_sort { " selected" } else { "" };
            format!("<option value=\"{value}\"{selected}>{label}</option>")
        })
        .collect();
    if !current_sort.is_empty() && !SORTS.iter().any(|(v, _)| *v == current_sort) {
        // An order written by hand stays as it is.
        let value = escape(&current_sort);
        sort.push_str(&format!("<option value=\"{value}\" selected>{value}</option>"));
    }
    let banner = match (page.problem, config.is_some()) {
        (Some(problem), _) => format!(
            "<div class=\"banner bad\" role=\"alert\"><strong>This configuration has a problem:</strong> {}. Fix it \
             below, then reinstall the addon with the new link.</div>",
            escape(problem)
        ),
        (None, true) => "<div class=\"banner\">Editing your current configuration. After a change, reinstall the \
                         addon with the new link.</div>"
            .to_string(),
        (None, false) => String::new(),
    };
    let no_stores = if page.stores.is_empty() {
        "<p class=\"err\">This server has no debrid store enabled; tell its operator.</p>"
    } else {
        ""
    };
    let auth_hint = page.auth_field.map(|f| format!(" {}", f.hint)).unwrap_or_default();
    let auth_names: serde_json::Map<String, serde_json::Value> =
        page.auth_names.iter().map(|(name, shown)| (name.to_string(), (*shown).into())).collect();
    format!(
        include_str!("page.html"),
        style = STYLE,
        script = SCRIPT,
        max_stores = MAX_STORES,
        max_indexers = MAX_INDEXERS,
        max_bytes = MAX_ENCODED_BYTES,
        banner = banner,
        auth_hint = escape(&auth_hint),
        no_stores = no_stores,
        stores = stores,
        indexers = indexers,
        usenet = usenet,
        usenet_field = USENET_INDEXERS_FIELD,
        cached = cached,
        acquire = acquire,
        resolutions = resolutions,
        min_size_gb = number(prefs.min_size_gb),
        max_size_gb = number(prefs.max_size_gb),
        per_resolution = prefs.per_resolution.map(|n| n.to_string()).unwrap_or_default(),
        exclude = escape(&prefs.exclude.join(", ")),
        languages = languages,
        sort = sort,
        searches = escape(page.searches),
        base = escape(page.base_url),
        prefix = chillproxy_stremio::routes::PREFIX,
        auth_field = if page.auth_field.is_some() { "1" } else { "0" },
        auth_label = escape(page.auth_field.map(|f| f.label).unwrap_or_default()),
        auth_names = escape(&serde_json::Value::Object(auth_names).to_string()),
        seal = if page.seal { "1" } else { "0" },
        prefilled = if config.is_some() || page.problem.is_some() { "1" } else { "0" },
        store_template = store_row(page, 1, None),
        indexer_template = indexer_row(&TORRENT, 1, None),
        usenet_template = indexer_row(&USENET, 1, None),
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// One store entry of the form. `entry` fills it; `None` selects the first available store.
fn store_row(page: &Page<'_>, number: usize, entry: Option<&StoreEntry>) -> String {
    let wanted = entry.map(|e| e.c.as_str());
    let default = page.stores.iter().find(|s| s.available).or(page.stores.first()).map(|s| s.code.as_str());
    let selected_code = wanted.or(default);
    let mut options = String::new();
    for store in page.stores {
        let selected = if Some(store.code.as_str()) == selected_code { " selected" } else { "" };
        let (stub, suffix) = if store.available { ("", "") } else { (" data-stub", " — not available yet") };
        options.push_str(&format!(
            "<option value=\"{code}\"{selected}{stub}>{name}{suffix}</option>",
            code = escape(&store.code),
            name = escape(&store.name),
        ));
    }
    if let Some(code) = wanted.filter(|c| !page.stores.iter().any(|s| s.code == *c)) {
        let shown = if code.is_empty() { "(no store)" } else { code };
        options.push_str(&format!(
            "<option value=\"{code}\" selected data-unknown>{shown} — not offered here</option>",
            code = escape(code),
            shown = escape(shown),
        ));
    }
    let selected_stub = page.stores.iter().any(|s| Some(s.code.as_str()) == selected_code && !s.available);
    let token = entry.and_then(|e| e.t.as_ref()).map(|t| t.expose()).unwrap_or_default();
    let auth = entry.and_then(|e| e.auth.as_deref()).unwrap_or_default();
    let auth_field = if let Some(field) = page.auth_field {
        format!(
            "<label class=\"field wide\"><span>{}</span><input name=\"auth\" value=\"{}\" \
             placeholder=\"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\" spellcheck=\"false\" autocomplete=\"off\" \
             autocapitalize=\"off\"><small class=\"err\"></small></label>",
            escape(field.label),
            escape(auth)
        )
    } else if !auth.is_empty() {
        // Kept as it was, so saving the form does not drop it; this server does not use it.
        format!("<input type=\"hidden\" name=\"auth\" value=\"{}\">", escape(auth))
    } else {
        String::new()
    };
    let stub_hidden = if selected_stub { "" } else { " hidden" };
    format!(
        r#"<div class="row store">
<div class="row-head"><span class="num">Store {number}</span><button type="button" class="icon remove" aria-label="Remove this store" title="Remove">✕</button></div>
<div class="grid">
<label class="field"><span>Service</span><select name="c">{options}</select><small class="err"></small></label>
<label class="field"><span>API token</span><span class="secret"><input name="t" type="password" value="{token}" placeholder="Your API key from the store's website" spellcheck="false" autocomplete="off" autocapitalize="off"><button type="button" class="reveal" aria-label="Show the token" aria-pressed="false">Show</button></span><small class="err"></small></label>
{auth_field}
</div>
<p class="note"{stub_hidden}>This store is not available yet: its streams will show a notice.{use_instead}.</p>
<div class="result" hidden></div>
</div>
"#,
        token = escape(token),
        use_instead = escape(page.use_instead),
    )
}

/// How the form words one kind of user indexer: the user config's `indexers` (torrents) or its
/// usenet list ([`USENET_INDEXERS_FIELD`]).
struct IndexerKind {
    /// The row's class (the script finds the rows by their box, the tests by this).
    class: &'static str,
    /// "Indexer" → "Indexer 1".
    label: &'static str,
    name_placeholder: &'static str,
    url_placeholder: &'static str,
}

const TORRENT: IndexerKind = IndexerKind {
    class: "indexer",
    label: "Indexer",
    name_placeholder: "jackett",
    url_placeholder: "https://jackett.example/api/v2.0/indexers/all/results/…",
};

const USENET: IndexerKind = IndexerKind {
    class: "usenet",
    label: "Usenet indexer",
    name_placeholder: "nzbgeek",
    url_placeholder: "https://nzbhydra.example/api",
};

/// One indexer entry of the form.
fn indexer_row(kind: &IndexerKind, number: usize, indexer: Option<&UserIndexer>) -> String {
    let name = indexer.map(|i| i.n.as_str()).unwrap_or_default();
    let url = indexer.map(|i| i.u.as_str()).unwrap_or_default();
    let key = indexer.and_then(|i| i.ak.as_ref()).map(|k| k.expose()).unwrap_or_default();
    let IndexerKind { class, label, name_placeholder, url_placeholder } = kind;
    let lower = label.to_lowercase();
    format!(
        r#"<div class="row {class}">
<div class="row-head"><span class="num">{label} {number}</span><button type="button" class="icon remove" aria-label="Remove this {lower}" title="Remove">✕</button></div>
<div class="grid three">
<label class="field"><span>Name</span><input name="n" value="{name}" placeholder="{name_placeholder}" spellcheck="false"><small class="err"></small></label>
<label class="field"><span>Indexer URL</span><input name="u" value="{url}" inputmode="url" placeholder="{url_placeholder}" spellcheck="false" autocapitalize="off"><small class="err"></small></label>
<label class="field"><span>API key</span><span class="secret"><input name="ak" type="password" value="{key}" placeholder="optional" spellcheck="false" autocomplete="off" autocapitalize="off"><button type="button" class="reveal" aria-label="Show the API key" aria-pressed="false">Show</button></span><small class="err"></small></label>
</div>
</div>
"#,
        name = escape(name),
        url = escape(url),
        key = escape(key),
    )
}
