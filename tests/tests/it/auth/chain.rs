//! The auth chain against the fake Chillstreams over real sockets: each test asserts the
//! outcome and the calls the fake received.

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};
use chillproxy_core::{AuthChainError, AuthPurpose, AuthRequest, Credential, DeviceId, Env, Secret, StoreEntry};
use chillproxy_host::{ClientInfo, Config, Plugins};
use chillproxy_tests::fakes::chillstreams::{FakeChillstreams, Mode, DEVICE_LIMIT_MESSAGE};
use chillproxy_tests::fakes::closed_port_url;

const API_KEY: &str = "internal-api-key-0123456789abcdef";
const USER: &str = "550e8400-e29b-41d4-a716-446655440000";
const POOL_KEY: &str = "pool-key-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const POOL_KEY_ID: &str = "8f14e45f-ceea-467f-a0e6-7e3f1c2f2f2f";
const TOKEN: &str = "users-own-torbox-token";
const UA: &str = "Stremio/4.4.168";

fn config(chillstreams_url: &str, enable: &str, timeout_ms: u64) -> (Config, Plugins) {
    chillproxy_tests::link_plugins();
    let toml = format!(
        r#"
[server]
listen = "127.0.0.1:0"
trusted_proxies = ["10.0.0.0/8"]

[auth]
chain = ["chillstreams", "token"]

[auth.chillstreams]
timeout_ms = {timeout_ms}
"#
    );
    let env = Env::from_pairs([
        ("ENABLE_CHILLSTREAMS_AUTH", enable),
        ("CHILLSTREAMS_API_URL", chillstreams_url),
        ("CHILLSTREAMS_API_KEY", API_KEY),
    ]);
    let config = Config::from_toml(&toml, &env).expect("config");
    let plugins = Plugins::build(&config).expect("plugins");
    (config, plugins)
}

fn entry(t: Option<&str>, auth: Option<&str>) -> StoreEntry {
    StoreEntry { c: "tb".into(), t: t.map(Secret::new), auth: auth.map(str::to_string) }
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("user-agent", HeaderValue::from_static(UA));
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

async fn resolve_from(
    (config, plugins): &(Config, Plugins),
    entry: &StoreEntry,
    peer: &str,
    extra_headers: &[(&'static str, &str)],
) -> (Result<Credential, AuthChainError>, ClientInfo) {
    let client = ClientInfo::from_request(peer.parse().unwrap(), &headers(extra_headers), &config.server);
    let request = AuthRequest { entry, device: &client.device, purpose: AuthPurpose::StreamList };
    (plugins.auth.resolve(&request).await, client)
}

async fn resolve(setup: &(Config, Plugins), entry: &StoreEntry) -> Result<Credential, AuthChainError> {
    resolve_from(setup, entry, "192.0.2.10:40000", &[]).await.0
}

async fn fake() -> FakeChillstreams {
    let fake = FakeChillstreams::start(API_KEY).await;
    fake.add_user(USER, POOL_KEY, POOL_KEY_ID);
    fake
}

#[tokio::test]
async fn auth_only_gets_the_pool_key_with_one_call() {
    let fake = fake().await;
    let setup = config(&fake.url(), "true", 5000);
    let credential = resolve(&setup, &entry(None, Some(USER))).await.unwrap();
    assert_eq!(credential.key.expose(), POOL_KEY);
    assert_eq!(credential.provider, "chillstreams");
    assert_eq!(credential.usage.as_ref().unwrap().pool_key_id, POOL_KEY_ID);

    let calls = fake.get_key_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].authorization.as_deref(), Some(format!("Bearer {API_KEY}").as_str()));
    assert_eq!(calls[0].body["userId"], USER);
    assert_eq!(calls[0].body["action"], "init");
    assert_eq!(calls[0].body["hash"], "");
    let expected_device = DeviceId::from_client("192.0.2.10".parse().unwrap(), UA);
    assert_eq!(calls[0].body["deviceId"], expected_device.as_str());
}

#[tokio::test]
async fn token_only_makes_no_chillstreams_call() {
    let fake = fake().await;
    let setup = config(&fake.url(), "true", 5000);
    let credential = resolve(&setup, &entry(Some(TOKEN), None)).await.unwrap();
    assert_eq!(credential.key.expose(), TOKEN);
    assert_eq!(credential.provider, "token");
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn playback_sends_the_hash() {
    let fake = fake().await;
    let (config, plugins) = config(&fake.url(), "true", 5000);
    let device = DeviceId::from_client("192.0.2.10".parse().unwrap(), UA);
    let hash = chillproxy_core::InfoHash::parse("0123456789abcdef0123456789abcdef01234567").unwrap();
    let entry = entry(None, Some(USER));
    let request = AuthRequest { entry: &entry, device: &device, purpose: AuthPurpose::Playback { hash } };
    plugins.auth.resolve(&request).await.unwrap();
    drop(config);
    assert_eq!(fake.get_key_calls()[0].body["hash"], "0123456789abcdef0123456789abcdef01234567");
}

/// Denied (4th device), down, slow, 500, garbage, allowed-without-key: with `t` the token is
/// used; without it the user sees the denial verbatim or "Chillstreams unavailable: …".
#[tokio::test]
async fn chillstreams_problems_fall_back_to_the_token() {
    let timeout_ms = 400;
    for case in ["denied", "down", "slow", "500", "garbage", "nokey"] {
        let fake = fake().await;
        let url = if case == "down" { closed_port_url() } else { fake.url() };
        match case {
            "denied" => fake.add_devices(USER, &["device-a", "device-b", "device-c"]),
            "slow" => fake.set_mode(Mode::Slow(Duration::from_secs(5))),
            "500" => fake.set_mode(Mode::Error500),
            "garbage" => fake.set_mode(Mode::Garbage),
            "nokey" => fake.set_mode(Mode::AllowedWithoutKey),
            _ => {}
        }
        let setup = config(&url, "true", timeout_ms);

        let started = Instant::now();
        let credential = resolve(&setup, &entry(Some(TOKEN), Some(USER))).await.unwrap();
        // The 400 ms timeout, not the 5 s the slow fake takes (2 s for a busy machine).
        assert!(started.elapsed() < Duration::from_millis(timeout_ms + 2000), "{case}: took {:?}", started.elapsed());
        assert_eq!(credential.key.expose(), TOKEN, "{case}");
        assert_eq!(credential.provider, "token", "{case}");

        let error = resolve(&setup, &entry(None, Some(USER))).await.unwrap_err();
        match case {
            "denied" => {
                assert_eq!(error.to_string(), DEVICE_LIMIT_MESSAGE);
                assert!(matches!(error, AuthChainError::Denied { provider: "chillstreams", .. }));
                assert_eq!(fake.devices(USER).len(), 3, "a denied device is not registered");
            }
            _ => {
                let message = error.to_string();
                assert!(message.starts_with("Chillstreams unavailable: "), "{case}: {message}");
                assert!(!message.contains(API_KEY), "{case}: {message}");
                let cause = match case {
                    "down" => "could not connect",
                    "slow" => "no answer within 400 ms",
                    "500" => "HTTP 500",
                    "garbage" => "could not be read",
                    _ => "no pool key",
                };
                assert!(message.contains(cause), "{case}: {message}");
            }
        }
        // A denial is cached for deny_ttl_s, so the second request makes no call; failures are
        // never cached.
        let expected_calls = match case {
            "down" => 0,
            "denied" => 1,
            _ => 2,
        };
        assert_eq!(fake.get_key_calls().len(), expected_calls, "{case}");
    }
}

#[tokio::test]
async fn inactive_user_is_denied_with_chillstreams_message() {
    let fake = fake().await;
    let other = "6fa459ea-ee8a-3ca4-894e-db77e160355e";
    fake.add_inactive_user(other);
    let setup = config(&fake.url(), "true", 5000);
    let error = resolve(&setup, &entry(None, Some(other))).await.unwrap_err();
    assert_eq!(error.to_string(), "User not found or inactive");
}

#[tokio::test]
async fn wrong_internal_api_key_is_a_failure_not_a_denial() {
    let fake = FakeChillstreams::start("a-different-key").await;
    fake.add_user(USER, POOL_KEY, POOL_KEY_ID);
    let setup = config(&fake.url(), "true", 5000);
    let error = resolve(&setup, &entry(None, Some(USER))).await.unwrap_err();
    assert!(matches!(error, AuthChainError::Failed { .. }), "{error:?}");
    assert!(error.to_string().contains("rejected this server's API key (HTTP 403)"), "{error}");
    let credential = resolve(&setup, &entry(Some(TOKEN), Some(USER))).await.unwrap();
    assert_eq!(credential.key.expose(), TOKEN);
}

#[tokio::test]
async fn disabled_flag_skips_chillstreams_entirely() {
    let fake = fake().await;
    let setup = config(&fake.url(), "false", 5000);
    assert_eq!(setup.1.auth.provider_names(), vec!["token"]);
    let credential = resolve(&setup, &entry(Some(TOKEN), Some(USER))).await.unwrap();
    assert_eq!(credential.key.expose(), TOKEN);
    let error = resolve(&setup, &entry(None, Some(USER))).await.unwrap_err();
    assert!(error.to_string().contains("no usable credentials"), "{error}");
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn non_uuid_auth_is_rejected_without_a_call() {
    let fake = fake().await;
    let setup = config(&fake.url(), "true", 5000);
    for bad in ["not-a-uuid", "550e8400e29b41d4a716446655440000", "550e8400-e29b-41d4-a716-44665544000z"] {
        let error = resolve(&setup, &entry(None, Some(bad))).await.unwrap_err();
        assert_eq!(error.to_string(), "invalid auth format, expected UUID");
    }
    // With a token, the token still works.
    let credential = resolve(&setup, &entry(Some(TOKEN), Some("nope"))).await.unwrap();
    assert_eq!(credential.key.expose(), TOKEN);
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn forwarded_for_counts_only_from_trusted_proxies() {
    let fake = fake().await;
    let setup = config(&fake.url(), "true", 5000);
    let spoof = [("x-forwarded-for", "198.51.100.77")];
    let auth = entry(None, Some(USER));

    // Untrusted peer: the header is ignored, the device is the peer's.
    let (_, plain) = resolve_from(&setup, &auth, "192.0.2.10:1000", &[]).await;
    let (_, spoofed) = resolve_from(&setup, &auth, "192.0.2.10:1001", &spoof).await;
    assert_eq!(plain.device, spoofed.device);
    assert_eq!(spoofed.ip.to_string(), "192.0.2.10");

    // Trusted proxy (10.0.0.0/8): the header names the client.
    let (_, proxied) = resolve_from(&setup, &auth, "10.0.0.5:1002", &spoof).await;
    assert_eq!(proxied.ip.to_string(), "198.51.100.77");
    assert_eq!(proxied.device, DeviceId::from_client("198.51.100.77".parse().unwrap(), UA));

    let seen: Vec<String> =
        fake.get_key_calls().iter().map(|c| c.body["deviceId"].as_str().unwrap().to_string()).collect();
    // The spoofed request is the same device as the plain one, so its answer came from the cache.
    assert_eq!(seen, vec![plain.device.to_string(), proxied.device.to_string()]);
    assert_eq!(fake.devices(USER).len(), 2);
}
