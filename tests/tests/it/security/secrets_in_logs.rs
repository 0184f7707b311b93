//! Captures every log line of auth-chain runs at TRACE (including the HTTP client's own `log`
//! records) and asserts that no pool key, internal API key or user token appears.

use chillproxy_core::{AuthPurpose, AuthRequest, DeviceId, Env, InfoHash, Secret, StoreEntry};
use chillproxy_host::{Config, Plugins};
use chillproxy_tests::fakes::chillstreams::{FakeChillstreams, Mode};

const API_KEY: &str = "internal-api-key-SECRET-5f4dcc3b5aa765d61d8327deb882cf99";
const POOL_KEY: &str = "pool-key-SECRET-e99a18c4-28cb-38d5-f260-853678922e03";
const TOKEN: &str = "user-token-SECRET-0cc175b9c0f1b6a831c399e269772661";
const USER: &str = "550e8400-e29b-41d4-a716-446655440000";

#[tokio::test(flavor = "current_thread")]
async fn no_secret_reaches_a_trace_log() {
    let buffer = chillproxy_tests::logs::capture();

    chillproxy_tests::link_plugins();
    let fake = FakeChillstreams::start(API_KEY).await;
    fake.add_user(USER, POOL_KEY, "pool-key-id-1");
    let env = Env::from_pairs([
        ("ENABLE_CHILLSTREAMS_AUTH", "1"),
        ("CHILLSTREAMS_API_URL", fake.url().as_str()),
        ("CHILLSTREAMS_API_KEY", API_KEY),
    ]);
    let config = Config::from_toml("[auth.chillstreams]\ntimeout_ms = 300\n", &env).unwrap();
    tracing::info!(config = ?config, "loaded");
    let plugins = Plugins::build(&config).unwrap();

    let hash = InfoHash::parse("0123456789abcdef0123456789abcdef01234567").unwrap();
    let entries = [
        StoreEntry { c: "tb".into(), t: None, auth: Some(USER.into()) },
        StoreEntry { c: "tb".into(), t: Some(Secret::new(TOKEN)), auth: Some(USER.into()) },
        StoreEntry { c: "tb".into(), t: Some(Secret::new(TOKEN)), auth: None },
    ];
    let mut granted = 0;
    for mode in [Mode::Normal, Mode::Error500, Mode::Garbage, Mode::Slow(std::time::Duration::from_secs(2))] {
        fake.set_mode(mode);
        for (i, entry) in entries.iter().enumerate() {
            let device = DeviceId::from_client([192, 0, 2, i as u8].into(), "ua");
            for purpose in [AuthPurpose::StreamList, AuthPurpose::Playback { hash: hash.clone() }] {
                let request = AuthRequest { entry, device: &device, purpose };
                match plugins.auth.resolve(&request).await {
                    Ok(credential) => {
                        granted += 1;
                        tracing::debug!(?credential, "resolved");
                    }
                    Err(error) => tracing::debug!(%error, ?error, "not resolved"),
                }
            }
        }
    }
    assert!(granted >= 8);

    let logs = buffer.text();
    assert!(logs.contains("chillstreams granted a pool key"), "the capture works");
    assert!(logs.contains("TRACE"), "TRACE level was captured");
    for secret in [API_KEY, POOL_KEY, TOKEN] {
        assert!(!logs.contains(secret), "a secret reached the logs:\n{logs}");
    }
    // Every secret above has `-SECRET-` inside (the server's own warning names `CHILLPROXY_SECRET`).
    assert!(!logs.contains("-SECRET-"), "a part of a secret reached the logs:\n{logs}");
}
