use super::*;

const KEY_A: &str = "0123456789abcdef0123456789abcdef";
const KEY_B: &str = "fedcba9876543210fedcba9876543210";

fn md5_of(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

/// `(link with key A, the same with key B, another release with key A, normalised, form)`.
fn check(link: impl Fn(&str, &str) -> String, other_release: &str, want: &str, form: LinkForm) {
    let (a, b, other) = (link("R1", KEY_A), link("R1", KEY_B), link(other_release, KEY_A));
    let normalised = normalise(&a, Some(KEY_A)).unwrap();
    assert_eq!(normalised, (want.to_string(), form), "{a}");
    let (ia, ib, io) = (
        identity(&a, Some(KEY_A)).unwrap(),
        identity(&b, Some(KEY_B)).unwrap(),
        identity(&other, Some(KEY_A)).unwrap(),
    );
    assert_eq!(ia.hash, md5_of(want));
    assert_eq!(ia, ib, "two users' links to one release agree: {a} / {b}");
    assert_ne!(ia.hash, io.hash, "two releases never collide: {a} / {other}");
    assert!(!normalised.0.contains(KEY_A), "no key hashed: {}", normalised.0);
    // Without knowing the key, the known forms still drop it.
    let unknown = normalise(&a, None).unwrap().0;
    assert!(!unknown.contains(KEY_A), "{a} → {unknown}");
    assert_eq!(ia.hash.len(), 32);
    assert!(ia.hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
}

#[test]
fn classic_newznab_without_a_question_mark() {
    check(
        |r, k| format!("https://drunkenslug.com/getnzb/{r}aa.nzb&i=1882&r={k}"),
        "R2",
        "https://drunkenslug.com/getnzb/R1aa.nzb",
        LinkForm::Classic,
    );
    // WtF[nZb]: `r` first, `i` empty.
    let a = format!("https://wtfnzb.pw/getnzb/abc.nzb&r={KEY_A}&i=");
    assert_eq!(normalise(&a, None).unwrap().0, "https://wtfnzb.pw/getnzb/abc.nzb");
}

#[test]
fn nntmux_getnzb_with_an_id() {
    check(
        |r, k| format!("https://indexer.example/getnzb?id={r}-guid.nzb&r={k}"),
        "R2",
        "https://indexer.example/getnzb?id=R1-guid.nzb",
        LinkForm::Nntmux,
    );
}

#[test]
fn api_get_keeps_t_and_id_as_stremthru_does() {
    check(
        |r, k| format!("https://api.nzbgeek.info/api?t=get&id={r}&apikey={k}"),
        "R2",
        "https://api.nzbgeek.info/api?id=R1&t=get",
        LinkForm::ApiGet,
    );
    // StremThru's own test link: md5 of `…/api?id=…&t=get`, whatever the order and the key.
    let x = identity("https://example.com/api?t=get&id=abc&apikey=one", None).unwrap();
    let y = identity("https://example.com/api?apikey=two&id=abc&t=get", None).unwrap();
    assert_eq!(x, y);
    assert_eq!(x.hash, md5_of("https://example.com/api?id=abc&t=get"));
    assert_eq!(normalise("https://h/api?t=g&id=a%20b&r=k", None).unwrap().0, "https://h/api?id=a+b&t=g");
}

#[test]
fn dognzb_key_in_the_path() {
    check(
        |r, k| format!("https://dognzb.cr/fetch/{r}0000/{k}"),
        "R2",
        "https://dognzb.cr/fetch/R10000",
        LinkForm::KeyInPath,
    );
}

#[test]
fn omgwtfnzbs_other_parameter_names() {
    check(
        |r, k| format!("https://api.omgwtfnzbs.me/nzb/?id={r}&user=nzbdrone&api={k}"),
        "R2",
        "https://api.omgwtfnzbs.me/nzb/?id=R1",
        LinkForm::IdParam,
    );
    // Another user name too.
    let a = identity("https://api.omgwtfnzbs.me/nzb/?id=X&user=alice&api=1", None).unwrap();
    let b = identity("https://api.omgwtfnzbs.me/nzb/?id=X&user=bob&api=2", None).unwrap();
    assert_eq!(a, b);
}

#[test]
fn nzbhydra2_proxy() {
    check(
        |r, k| format!("http://hydra:5076/getnzb/api/{r}5678?apikey={k}"),
        "R2",
        "http://hydra:5076/getnzb/api/R15678",
        LinkForm::HydraProxy,
    );
}

#[test]
fn prowlarr_proxy_keys_by_file_not_by_the_random_link() {
    let link = |file: &str, key: &str| {
        let iv = if key == KEY_A { "Zm9vYmFy" } else { "YmFyYmF6" };
        format!("http://prowlarr:9696/3/download?apikey={key}&link={iv}&file={file}")
    };
    check(link, "R2", "http://prowlarr:9696/3/download?file=R1", LinkForm::ProwlarrProxy);
    // Same release through another Prowlarr indexer: another indexer id, another identity.
    let other = identity(&format!("http://prowlarr:9696/4/download?apikey={KEY_A}&link=x&file=R1"), None).unwrap();
    assert_ne!(other, identity(&link("R1", KEY_A), None).unwrap());
}

#[test]
fn other_links_drop_user_parameters_and_the_key_wherever_it_is() {
    let a = format!("https://h.example/dl/{KEY_A}/nzb?guid=9&token=t1&sort=x");
    let (normalised, form) = normalise(&a, Some(KEY_A)).unwrap();
    assert_eq!((normalised.as_str(), form), ("https://h.example/dl/nzb?guid=9&sort=x", LinkForm::Other));
    let b = format!("https://h.example/dl/nzb?secret={KEY_A}&guid=9");
    assert_eq!(normalise(&b, Some(KEY_A)).unwrap().0, "https://h.example/dl/nzb?guid=9");
    assert_ne!(identity("https://h.example/dl/nzb?guid=9", None), identity("https://h.example/dl/nzb?guid=10", None));
    assert_eq!(identity("magnet:?xt=urn:btih:abc", None), None);
    assert_eq!(identity("not a url", None), None);
}
