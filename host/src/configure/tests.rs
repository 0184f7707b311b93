//! The configure page's rendering and the check's answers, without a server.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chillproxy_core::{AuthPresentation, EntryField, Secret, StoreEntry, UserIndexer};
use chillproxy_stremio::{UserConfig, USENET_INDEXERS_FIELD};

use super::check::{granted_message, AccountStatus, StoreCheck};
use super::page::{escape, render, Page, StoreChoice, SCRIPT, STYLE};
use super::{csp_hash, CONTENT_SECURITY_POLICY};

/// An auth provider's entry field, as the Member Pool plugin declares it.
const USER_ID_FIELD: EntryField = EntryField {
    key: "auth",
    label: "Member Pool user id",
    hint: "Member Pool members: enter your Member Pool user id instead of a token.",
    unused_note: "Your Member Pool user id was not used for it; your own API token was.",
};

fn presentations() -> Vec<(&'static str, AuthPresentation)> {
    vec![
        (
            "pool",
            AuthPresentation {
                display_name: "Member Pool",
                credential_label: "The Member Pool credential",
                entry_field: Some(USER_ID_FIELD),
            },
        ),
        (
            "token",
            AuthPresentation { display_name: "your API token", credential_label: "Your API token", entry_field: None },
        ),
    ]
}

fn choices() -> Vec<StoreChoice> {
    vec![
        StoreChoice { code: "tb".into(), name: "Swift Store".into(), available: true },
        StoreChoice { code: "rd".into(), name: "Slow Store".into(), available: false },
    ]
}

fn page<'a>(stores: &'a [StoreChoice], with_field: bool, config: Option<&'a UserConfig>) -> Page<'a> {
    Page {
        base_url: "http://127.0.0.1:7000",
        stores,
        auth_field: with_field.then_some(USER_ID_FIELD),
        auth_names: &[],
        searches: "test indexers",
        use_instead: " Use Swift Store for now",
        seal: false,
        config,
        problem: None,
    }
}

/// The form markup only (the templates hold empty rows).
fn form(html: &str) -> &str {
    let start = html.find("<form").unwrap();
    let end = html.find("</form>").unwrap();
    &html[start..end]
}

fn config(json: &str) -> UserConfig {
    serde_json::from_str(json).unwrap()
}

#[test]
fn escapes_everything_it_interpolates() {
    assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    let hostile = r#""><script>alert(1)</script>'"#;
    let stores = vec![StoreChoice { code: hostile.into(), name: hostile.into(), available: true }];
    let user = UserConfig {
        stores: vec![StoreEntry { c: hostile.into(), t: Some(Secret::new(hostile)), auth: Some(hostile.into()) }],
        indexers: vec![UserIndexer { n: hostile.into(), u: hostile.into(), ak: Some(Secret::new(hostile)) }],
        ..Default::default()
    }
    .with_usenet_indexers(vec![UserIndexer {
        n: hostile.into(),
        u: hostile.into(),
        ak: Some(Secret::new(hostile)),
    }]);
    let html = render(&Page {
        base_url: hostile,
        stores: &stores,
        auth_field: Some(USER_ID_FIELD),
        auth_names: &[],
        searches: hostile,
        use_instead: hostile,
        seal: false,
        config: Some(&user),
        problem: Some(hostile),
    });
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains(hostile), "a value went in unescaped");
    assert_eq!(html.matches("<script>").count(), 1, "only the page's own script");
    assert!(html.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#39;"));
    assert!(html.contains(r#"data-base="&quot;&gt;&lt;script&gt;"#));
}

#[test]
fn prefills_the_users_own_config() {
    let user = config(&format!(
        r#"{{"stores":[{{"c":"tb","t":"tb-token-123","auth":"550e8400-e29b-41d4-a716-446655440000"}},{{"c":"rd","t":"rd-tok"}}],
           "indexers":[{{"n":"jackett","u":"https://j.example/feed?a=1&b=2","ak":"idx-key"}}],
           "{USENET_INDEXERS_FIELD}":[{{"n":"geek","u":"https://api.nzbgeek.example/api","ak":"nzb-key-456"}}],"cached":true}}"#,
    ));
    let stores = choices();
    let html = render(&page(&stores, true, Some(&user)));
    let form = form(&html);
    assert_eq!(form.matches(r#"<div class="row store">"#).count(), 2);
    assert!(form.contains(r#"name="t" type="password" value="tb-token-123""#));
    assert!(form.contains(r#"name="t" type="password" value="rd-tok""#));
    assert!(form.contains(r#"name="auth" value="550e8400-e29b-41d4-a716-446655440000""#));
    assert!(form.contains(r#"<option value="rd" selected data-stub>Slow Store — not available yet</option>"#));
    assert!(form.contains(r#"value="https://j.example/feed?a=1&amp;b=2""#));
    assert!(form.contains(r#"name="ak" type="password" value="idx-key""#));
    assert!(form.contains(r#"name="n" value="jackett""#));
    // The usenet indexer in its own section, its key in a password field only.
    let usenet = &form[form.find(r#"<div id="usenet">"#).unwrap()..];
    assert_eq!(usenet.matches(r#"<div class="row usenet">"#).count(), 1);
    assert!(usenet.contains(r#"name="n" value="geek""#));
    assert!(usenet.contains(r#"name="u" value="https://api.nzbgeek.example/api""#));
    assert!(usenet.contains(r#"name="ak" type="password" value="nzb-key-456""#));
    assert_eq!(html.matches("nzb-key-456").count(), 1);
    assert!(
        !form[..form.find(r#"<div id="usenet">"#).unwrap()].contains(r#"value="geek""#),
        "not among the torrent indexers"
    );
    assert!(form.contains(r#"id="cached" name="cached" checked"#));
    assert!(html.contains(r#"data-prefilled="1""#));
    // The stub note shows on the Slow Store row only.
    assert_eq!(form.matches(r#"<p class="note">"#).count(), 1);
    // The token appears only in its own field.
    assert_eq!(html.matches("tb-token-123").count(), 1);
    assert!(!html.contains("[redacted]"));
}

#[test]
fn an_empty_page_has_one_blank_store_with_the_first_available_store() {
    let stores = vec![
        StoreChoice { code: "ad".into(), name: "Later Store".into(), available: false },
        StoreChoice { code: "tb".into(), name: "Swift Store".into(), available: true },
    ];
    let html = render(&page(&stores, false, None));
    let form = form(&html);
    assert_eq!(form.matches(r#"<div class="row store">"#).count(), 1);
    assert!(form.contains(r#"<option value="tb" selected>Swift Store</option>"#));
    assert!(form.contains(r#"<option value="ad" data-stub>Later Store — not available yet</option>"#));
    assert!(form.contains(r#"name="t" type="password" value="""#));
    assert!(!form.contains(r#"<div class="row indexer">"#));
    assert!(!form.contains(" checked"));
    assert!(html.contains(r#"data-prefilled="0""#));
    assert!(!html.contains("role=\"alert\"") && !html.contains("Editing your current"));
}

#[test]
fn user_id_field_only_with_an_auth_field() {
    let stores = choices();
    let with = render(&page(&stores, true, None));
    assert!(with.contains("Member Pool user id</span><input name=\"auth\""));
    assert!(with.contains(r#"data-auth-field="1""#));
    let without = render(&page(&stores, false, None));
    assert!(!without.contains("name=\"auth\""));
    assert!(!form(&without).contains("Member Pool"));
    assert!(without.contains(r#"data-auth-field="0""#));
    // A user id already in the config is kept (hidden) rather than dropped on save.
    let user = config(r#"{"stores":[{"c":"tb","t":"x","auth":"550e8400-e29b-41d4-a716-446655440000"}]}"#);
    let kept = render(&page(&stores, false, Some(&user)));
    assert!(kept.contains(r#"<input type="hidden" name="auth" value="550e8400-e29b-41d4-a716-446655440000">"#));
    assert!(!form(&kept).contains("Member Pool user id"));
}

#[test]
fn an_invalid_config_is_shown_with_its_problem() {
    let stores = choices();
    let user = config(r#"{"stores":[{"c":"xx","t":"tok"}]}"#);
    let html = render(&Page {
        base_url: "http://h",
        stores: &stores,
        auth_field: None,
        auth_names: &[],
        searches: "test indexers",
        use_instead: "",
        seal: false,
        config: Some(&user),
        problem: Some("stores[0].c: unknown store code \"xx\""),
    });
    assert!(html.contains("This configuration has a problem:</strong> stores[0].c: unknown store code &quot;xx&quot;."));
    assert!(form(&html).contains(r#"<option value="xx" selected data-unknown>xx — not offered here</option>"#));
    let segment = URL_SAFE_NO_PAD.encode(r#"{"stores":[{"c":"xx","t":"tok"}]}"#);
    assert_eq!(UserConfig::read_unvalidated(&segment).unwrap().stores[0].c, "xx");
    assert!(UserConfig::read_unvalidated("%%%").is_none());
}

#[test]
fn check_answers_carry_no_secret() {
    let answer = StoreCheck {
        c: "tb".into(),
        name: "Swift Store".into(),
        ok: true,
        auth: Some("pool"),
        account: Some(AccountStatus { subscription: "premium".into() }),
        message: "The Member Pool credential works: the Swift Store account is premium.".into(),
    };
    let json = serde_json::to_value(&answer).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"c":"tb","name":"Swift Store","ok":true,"auth":"pool",
            "account":{"subscription":"premium"},
            "message":"The Member Pool credential works: the Swift Store account is premium."})
    );
    let entry = StoreEntry { c: "tb".into(), t: Some(Secret::new("k")), auth: Some("u".into()) };
    assert!(granted_message(&entry, &presentations(), "token", "Swift Store", "expired").contains("own API token"));
    assert_eq!(
        granted_message(&entry, &presentations(), "pool", "Swift Store", "premium"),
        "The Member Pool credential works: the Swift Store account is premium."
    );
    let field = |json: &str| UserConfig::decode(&URL_SAFE_NO_PAD.encode(json), &["tb"]).unwrap_err().field;
    assert_eq!(field(r#"{"stores":[{"c":"xx","t":"a"}]}"#), Some("stores[0].c".into()));
    assert_eq!(field(r#"{"stores":[]}"#), Some("stores".into()));
    assert_eq!(field("not json"), None);
}

#[test]
fn content_security_policy_names_the_inline_code() {
    let csp = CONTENT_SECURITY_POLICY.as_str();
    assert!(csp.starts_with("default-src 'none'; script-src 'sha256-"));
    assert!(csp.contains(&csp_hash(SCRIPT)) && csp.contains(&csp_hash(STYLE)));
    // The page embeds them byte for byte, so the hashes match what the browser sees.
    let html = render(&page(&choices(), true, None));
    assert!(html.contains(&format!("<script>{SCRIPT}</script>")));
    assert!(html.contains(&format!("<style>{STYLE}</style>")));
}
