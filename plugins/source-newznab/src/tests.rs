use super::*;

fn settings(toml_text: &str, env: &[(&str, &str)]) -> PluginSettings {
    PluginSettings::new("source.newznab", toml::from_str(toml_text).unwrap(), Env::from_pairs(env.iter().copied()))
}

#[test]
fn config_errors_name_the_problem_never_the_key() {
    let missing =
        settings("indexers = [{ name = 'geek', url = 'https://api.nzbgeek.info', api_key_env = 'GEEK' }]", &[]);
    let err = NewznabSource::from_settings(&missing).err().unwrap();
    assert!(err.0.contains("GEEK") && err.0.contains("not set"), "{err}");
    let ok = settings(
        "indexers = [{ name = 'geek', url = 'https://api.nzbgeek.info', api_key_env = 'GEEK' }]",
        &[("GEEK", "s3cret")],
    );
    let source = NewznabSource::from_settings(&ok).unwrap();
    assert_eq!(source.indexer_names(), vec!["geek"]);
    assert_eq!(source.indexers[0].api_key.as_ref().unwrap().expose(), "s3cret");
    assert_eq!(source.indexers[0].imdbid, protocol::ImdbidForm::Digits, "Newznab takes ids without tt");
    assert_eq!(source.indexers[0].endpoint.as_ref().unwrap().as_str(), "https://api.nzbgeek.info/api");

    let twice = "indexers = [{ name = 'a', url = 'http://h/x' }, { name = 'a', url = 'http://h/y' }]";
    assert!(NewznabConfig::from_settings(&settings(twice, &[])).unwrap_err().0.contains("two indexers are named"));
    let both = "indexers = [{ name = 'p', url = 'http://h/x', api_key = 'a', api_key_env = 'B' }]";
    assert!(NewznabConfig::from_settings(&settings(both, &[])).unwrap_err().0.contains("not both"));
    let bad_url = "indexers = [{ name = 'p', url = 'ftp://h/x', api_key = 'zzz' }]";
    let err = NewznabConfig::from_settings(&settings(bad_url, &[])).unwrap_err();
    assert!(err.0.contains("\"p\"") && !err.0.contains("zzz"), "{err}");
    let printed = check_config::<NewznabConfig>(&settings(
        "indexers = [{ name = 'p', url = 'http://h/x', api_key = 'zzz' }]",
        &[],
    ))
    .unwrap()
    .to_string();
    assert!(!printed.contains("zzz") && printed.contains("[redacted]"), "{printed}");
    let empty = NewznabConfig::from_settings(&settings("", &[])).unwrap();
    assert_eq!(
        (empty.upstream.timeout_ms, empty.failure_pause_s, empty.meta_url.as_str()),
        (10_000, 60, DEFAULT_META_URL)
    );
}

#[test]
fn nzb_keys_come_back_for_playback_by_indexer() {
    let source = NewznabSource::from_settings(&settings(
        "indexers = [{ name = 'geek', url = 'https://api.nzbgeek.info', api_key = 'OPKEY' }]",
        &[],
    ))
    .unwrap();
    let operator = NzbIndexer::Operator { source: NAME.into(), name: "geek".into() };
    assert_eq!(source.nzb_key(&operator, &[]).unwrap().expose(), "OPKEY");
    let unknown = NzbIndexer::Operator { source: NAME.into(), name: "other".into() };
    assert!(source.nzb_key(&unknown, &[]).is_none());
    let torznab = NzbIndexer::Operator { source: "torznab".into(), name: "geek".into() };
    assert!(source.nzb_key(&torznab, &[]).is_none());
    let users = [
        UserIndexer { n: "a".into(), u: "https://a".into(), ak: Some(Secret::new("KA")) },
        UserIndexer { n: "b".into(), u: "https://b".into(), ak: Some(Secret::new("KB")) },
    ];
    let user = NzbIndexer::User { source: NAME.into(), index: 1 };
    assert_eq!(source.nzb_key(&user, &users).unwrap().expose(), "KB");
    assert!(source.nzb_key(&NzbIndexer::User { source: NAME.into(), index: 2 }, &users).is_none());
    assert!(source.nzb_key(&NzbIndexer::None, &users).is_none());
}

#[test]
fn user_indexer_names() {
    let entry = UserIndexer { n: " geek\n".into(), u: "https://api.nzbgeek.info".into(), ak: None };
    assert_eq!(user_indexer(0, &entry).name, "geek");
    let entry = UserIndexer { n: String::new(), u: "http://hydra.lan:5076".into(), ak: None };
    let indexer = user_indexer(0, &entry);
    assert_eq!((indexer.name.as_str(), indexer.dialect), ("hydra.lan", Dialect::Newznab));
    let entry = UserIndexer { n: String::new(), u: "nonsense".into(), ak: None };
    assert_eq!(user_indexer(2, &entry).name, "user indexer 3");
}
