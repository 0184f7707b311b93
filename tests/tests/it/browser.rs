//! The configure page in a real browser: headless Chromium driven over WebDriver (chromedriver)
//! against the whole test stack (fakes + host). The driver and its helpers serve the status
//! page's browser test too (`ops::status_page`). Needs Debian's `chromium` and `chromium-driver`
//! packages; `CHILLPROXY_SKIP_BROWSER=1` skips the browser test where they cannot be installed.
//!
//! A screenshot of the checked page is saved to `target/browser-artifacts/configure.png` (and one
//! of the validation errors to `configure-invalid.png`).
//!
//! fantoccini is built without TLS (`default-features = false`) and given hyper-util's plain
//! `HttpConnector`: chromedriver is on loopback HTTP. Its `rustls-tls` feature would bring
//! hyper-rustls' default aws-lc-rs provider next to reqwest's ring, and with both compiled in
//! rustls cannot pick a process default, so `ClientBuilder::rustls()` panics.

use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chillproxy_tests::stack::{
    Stack, StackOptions, AD_KEY, MOVIE, PM_KEY, POOL_KEY, RD_TOKEN, TOKEN, USER, USER_INDEXER_KEY,
};
use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const SKIP_ENV: &str = "CHILLPROXY_SKIP_BROWSER";
/// The API key of a usenet indexer the browser test types in.
const NEWZNAB_USER_KEY: &str = "nzb-user-key-SECRET-9f8e7d";

pub(crate) fn artifacts_dir() -> PathBuf {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests.parent().unwrap_or(tests).join("target").join("browser-artifacts")
}

/// A chromedriver on a free loopback port, with a fresh Chromium profile folder. Dropping it
/// stops chromedriver and removes the profile.
pub(crate) struct Driver {
    child: Child,
    url: String,
    profile: PathBuf,
}

impl Driver {
    pub(crate) fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let log = artifacts_dir().join("chromedriver.log");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {CHROMEDRIVER}: {e}"));
        let profile = std::env::temp_dir().join(format!(
            "chillproxy-chromium-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
        ));
        std::fs::create_dir_all(&profile).expect("profile folder");
        Driver { child, url: format!("http://127.0.0.1:{port}"), profile }
    }

    pub(crate) async fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromedriver exited early ({status}); see target/browser-artifacts/chromedriver.log");
            }
            if let Ok(response) = reqwest::get(format!("{}/status", self.url)).await {
                if response.status().is_success() {
                    return;
                }
            }
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not become ready in 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn connect(&self) -> Client {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1000,1500",
            &format!("--user-data-dir={}", self.profile.display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!() };
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("could not start a Chromium session through chromedriver: {e}"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// `None` when the test should be skipped; panics with the install command when the browser is
/// missing.
pub(crate) fn browser_available() -> Option<()> {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER].into_iter().filter(|p| !Path::new(p).exists()).collect();
    if std::env::var(SKIP_ENV).is_ok_and(|v| v == "1") {
        eprintln!("SKIPPED: browser test ({SKIP_ENV}=1)");
        return None;
    }
    assert!(
        missing.is_empty(),
        "the browser test needs {} (Debian packages `chromium` and `chromium-driver`): install them with \
         `apt-get install -y chromium chromium-driver`, or set {SKIP_ENV}=1 to skip this test",
        missing.join(" and ")
    );
    Some(())
}

async fn text(client: &Client, css: &str) -> String {
    client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}")).text().await.unwrap()
}

async fn value(client: &Client, css: &str) -> String {
    let element = client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
    element.prop("value").await.unwrap().unwrap_or_default()
}

pub(crate) fn save(name: &str, png: &[u8]) -> PathBuf {
    let dir = artifacts_dir();
    std::fs::create_dir_all(&dir).expect("artifacts folder");
    let path = dir.join(name);
    std::fs::write(&path, png).expect("write screenshot");
    path
}

/// What the page produced, checked after the browser is closed.
struct Outcome {
    manifest_url: String,
    install_href: String,
}

async fn drive(client: &Client, stack: &Stack) -> Outcome {
    let base = stack.host.url();
    client.set_window_size(1000, 1500).await.unwrap();
    client.goto(&format!("{base}/stremio/torz/configure")).await.unwrap();
    assert_eq!(client.title().await.unwrap(), "chillproxy · Configure");

    // One store row to start with; nothing to install yet.
    let store = "#stores .store:nth-child(1)";
    assert_eq!(value(client, "#manifest").await, "");
    let select = client.find(Locator::Css(&format!("{store} select[name=c]"))).await.unwrap();
    select.select_by_value("tb").await.unwrap();
    let options = text(client, &format!("{store} select[name=c]")).await;
    for store in ["TorBox", "RealDebrid", "AllDebrid", "Premiumize"] {
        assert!(options.contains(store), "{options}");
    }
    assert!(!options.contains("not available yet"), "{options}");

    // Client-side validation: a bad user id is flagged next to its field, and no link is made.
    let auth = client.find(Locator::Css(&format!("{store} input[name=auth]"))).await.unwrap();
    auth.send_keys("not-a-uuid").await.unwrap();
    client.find(Locator::Css("#check")).await.unwrap().click().await.unwrap();
    let error = text(client, &format!("{store} .field.invalid .err")).await;
    assert!(error.contains("Not a user id"), "{error}");
    assert_eq!(value(client, "#manifest").await, "");
    save("configure-invalid.png", &client.screenshot().await.unwrap());
    let status = text(client, "#check-status").await;
    assert_eq!(status, "Fix the fields marked in red first.", "the click on Check landed");

    // The Chillstreams user id: Check asks the auth chain and TorBox.
    auth.clear().await.unwrap();
    auth.send_keys(USER).await.unwrap();
    assert!(value(client, "#manifest").await.ends_with("/manifest.json"));
    client.find(Locator::Css("#check")).await.unwrap().click().await.unwrap();
    let result = client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(&format!("{store} .result[data-state=done]")))
        .await
        .expect("the check answered");
    let result_text = result.text().await.unwrap();
    assert_eq!(result.attr("class").await.unwrap().as_deref(), Some("result ok"), "{result_text}");
    assert!(result_text.contains("The Chillstreams credential works"), "{result_text}");
    assert!(result_text.contains("premium"), "{result_text}");
    assert!(result_text.contains("via Chillstreams"), "{result_text}");
    let status = text(client, "#check-status").await;
    assert!(status.contains("Your store works"), "{status}");
    let path = save("configure.png", &client.screenshot().await.unwrap());
    eprintln!("screenshot: {}", path.display());

    // Nothing secret or personal reached the page.
    let source = client.source().await.unwrap();
    assert!(!source.contains(POOL_KEY), "the pool key reached the page");
    assert!(!source.contains("@torbox.fake"), "the account email reached the page");

    let manifest_url = value(client, "#manifest").await;
    let install_href =
        client.find(Locator::Css("#install")).await.unwrap().attr("href").await.unwrap().unwrap_or_default();

    // The configured page is filled from its config.
    let configure_url = manifest_url.replace("/manifest.json", "/configure");
    client.goto(&configure_url).await.unwrap();
    assert_eq!(value(client, &format!("{store} input[name=auth]")).await, USER);
    assert_eq!(value(client, &format!("{store} select[name=c]")).await, "tb");
    assert_eq!(value(client, "#manifest").await, manifest_url, "the same config gives the same link");
    assert!(client.find(Locator::Css(".banner.bad[role=alert]")).await.is_err(), "a valid config shows no problem");

    // The user's own token and indexer fill their fields; the link rebuilds the same config.
    let indexer = json!({"n": "jackett", "u": stack.user_torznab.torznab_url(), "ak": USER_INDEXER_KEY});
    let own = json!({"stores": [{"c": "tb", "t": TOKEN}], "indexers": [indexer], "cached": true, "acquire": true});
    client.goto(&format!("{base}/stremio/torz/{}/configure", Stack::config(&own))).await.unwrap();
    assert_eq!(value(client, &format!("{store} input[name=t]")).await, TOKEN);
    assert_eq!(value(client, "#indexers .indexer input[name=u]").await, stack.user_torznab.torznab_url());
    assert_eq!(value(client, "#indexers .indexer input[name=ak]").await, USER_INDEXER_KEY);
    let cached = client.find(Locator::Css("#cached")).await.unwrap().prop("checked").await.unwrap();
    assert_eq!(cached.as_deref(), Some("true"));
    let acquire = client.find(Locator::Css("#acquire")).await.unwrap().prop("checked").await.unwrap();
    assert_eq!(acquire.as_deref(), Some("true"));
    assert_eq!(config_of(&value(client, "#manifest").await), own);
    let extras = text(client, "#extras").await;
    assert!(extras.contains("my downloads") && extras.contains("next one"), "{extras}");
    // Acquiring needs "Cached only": without it the switch is off and the link says neither.
    client.find(Locator::Css("label:has(#cached) .knob")).await.unwrap().click().await.unwrap();
    let disabled = client.find(Locator::Css("#acquire")).await.unwrap().prop("disabled").await.unwrap();
    assert_eq!(disabled.as_deref(), Some("true"));
    let mut without = own.clone();
    without.as_object_mut().unwrap().remove("cached");
    without.as_object_mut().unwrap().remove("acquire");
    assert_eq!(config_of(&value(client, "#manifest").await), without);

    // A usenet (Newznab) indexer added on the page goes into the link's `newznab` list; its API
    // key is typed into a password field and shows nowhere on the page.
    client.find(Locator::Css("#add-usenet")).await.unwrap().click().await.unwrap();
    let row = "#usenet .usenet:nth-child(1)";
    let key_field = client.find(Locator::Css(&format!("{row} input[name=ak]"))).await.unwrap();
    assert_eq!(key_field.attr("type").await.unwrap().as_deref(), Some("password"));
    client.find(Locator::Css(&format!("{row} input[name=n]"))).await.unwrap().send_keys("mygeek").await.unwrap();
    let url_field = client.find(Locator::Css(&format!("{row} input[name=u]"))).await.unwrap();
    url_field.send_keys("ftp://nzb.example/api").await.unwrap();
    key_field.send_keys(NEWZNAB_USER_KEY).await.unwrap();
    let error = text(client, &format!("{row} .field.invalid .err")).await;
    assert_eq!(error, "The indexer URL must start with http:// or https://.");
    assert_eq!(value(client, "#manifest").await, "", "no link while the usenet indexer is invalid");
    url_field.clear().await.unwrap();
    url_field.send_keys("https://nzb.example/api").await.unwrap();
    let usenet = json!({"n": "mygeek", "u": "https://nzb.example/api", "ak": NEWZNAB_USER_KEY});
    let mut with_usenet = without.clone();
    with_usenet["newznab"] = json!([usenet]);
    let usenet_url = value(client, "#manifest").await;
    assert_eq!(config_of(&usenet_url), with_usenet);
    let shown = text(client, "body").await;
    assert!(!shown.contains(NEWZNAB_USER_KEY), "the key is shown: {shown}");
    // Opened again, the server takes it and the form is filled with it.
    client.goto(&usenet_url.replace("/manifest.json", "/configure")).await.unwrap();
    assert!(client.find(Locator::Css(".banner.bad[role=alert]")).await.is_err(), "the server takes the config");
    assert_eq!(value(client, &format!("{row} input[name=n]")).await, "mygeek");
    assert_eq!(value(client, &format!("{row} input[name=u]")).await, "https://nzb.example/api");
    assert_eq!(value(client, &format!("{row} input[name=ak]")).await, NEWZNAB_USER_KEY);
    assert_eq!(value(client, "#indexers .indexer input[name=u]").await, stack.user_torznab.torznab_url());
    assert!(!text(client, "body").await.contains(NEWZNAB_USER_KEY));
    assert_eq!(value(client, "#manifest").await, usenet_url, "the same config gives the same link");

    // An invalid config is shown with its problem and can be fixed in place.
    let twice = json!({"stores": [{"c": "tb", "t": TOKEN}, {"c": "tb", "auth": USER}]});
    client.goto(&format!("{base}/stremio/torz/{}/configure", Stack::config(&twice))).await.unwrap();
    let banner = text(client, ".banner.bad[role=alert]").await;
    assert!(banner.contains("listed twice"), "{banner}");
    let error = text(client, "#stores .store:nth-child(2) .field.invalid .err").await;
    assert_eq!(error, "TorBox is listed twice: remove one.");
    assert_eq!(value(client, "#manifest").await, "");
    client.find(Locator::Css("#stores .store:nth-child(2) .remove")).await.unwrap().click().await.unwrap();
    assert_eq!(config_of(&value(client, "#manifest").await), json!({"stores": [{"c": "tb", "t": TOKEN}]}));

    // The viewer's filters and order go into the link, and come back when it is opened again.
    let find = |css: &'static str| client.find(Locator::Css(css));
    find("#prefs input[value='1080p']").await.unwrap().click().await.unwrap();
    find("#prefs input[value='2160p']").await.unwrap().click().await.unwrap();
    find("#max_size_gb").await.unwrap().send_keys("1000.5").await.unwrap();
    let error = text(client, "#prefs .field.invalid .err").await;
    assert_eq!(error, "A number of GB above 0, at most 1000.");
    assert_eq!(value(client, "#manifest").await, "", "no link while a filter is invalid");
    find("#max_size_gb").await.unwrap().clear().await.unwrap();
    find("#max_size_gb").await.unwrap().send_keys("40").await.unwrap();
    find("#exclude").await.unwrap().send_keys("CAM, HDTS").await.unwrap();
    find("#per_resolution").await.unwrap().send_keys("3").await.unwrap();
    find("#sort").await.unwrap().select_by_value("-size").await.unwrap();
    // Languages are a list to tick, not free text.
    find("#languages input[value='fr']").await.unwrap().click().await.unwrap();
    let filtered = config_of(&value(client, "#manifest").await);
    let wanted = json!({
        "stores": [{"c": "tb", "t": TOKEN}], "resolutions": ["2160p", "1080p"], "max_size_gb": 40,
        "per_resolution": 3, "exclude": ["CAM", "HDTS"], "languages": ["fr"], "sort": "-size",
    });
    assert_eq!(filtered, wanted);
    let filtered_url = value(client, "#manifest").await;
    client.goto(&filtered_url.replace("/manifest.json", "/configure")).await.unwrap();
    assert_eq!(value(client, "#max_size_gb").await, "40");
    assert_eq!(value(client, "#exclude").await, "CAM, HDTS");
    assert_eq!(value(client, "#sort").await, "-size");
    let ticked = find("#prefs input[value='1080p']").await.unwrap().prop("checked").await.unwrap();
    assert_eq!(ticked.as_deref(), Some("true"));
    let french = find("#languages input[value='fr']").await.unwrap().prop("checked").await.unwrap();
    assert_eq!(french.as_deref(), Some("true"));
    assert_eq!(value(client, "#manifest").await, filtered_url, "the same filters give the same link");
    // The server applies them: only 2160p and 1080p streams, within 40 GB.
    let list: Value = reqwest::get(filtered_url.replace("/manifest.json", &format!("/stream/movie/{MOVIE}.json")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["streams"].as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    assert!(!names.is_empty() && names.iter().all(|n| n.contains("1080p")), "{names:?}");

    Outcome { manifest_url, install_href }
}

/// The user config inside a manifest URL.
fn config_of(manifest_url: &str) -> Value {
    let segment = manifest_url.rsplit('/').nth(1).unwrap_or_default();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("URL-safe base64")).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configure_page_in_chromium() {
    let started = Instant::now();
    if browser_available().is_none() {
        return;
    }
    std::fs::create_dir_all(artifacts_dir()).expect("artifacts folder");
    let stack = Stack::start(StackOptions::default()).await;
    let mut driver = Driver::start();
    driver.wait_ready().await;
    let client = driver.connect().await;

    let outcome =
        AssertUnwindSafe(tokio::time::timeout(Duration::from_secs(90), drive(&client, &stack))).catch_unwind().await;
    if !matches!(outcome, Ok(Ok(_))) {
        if let Ok(png) = client.screenshot().await {
            eprintln!("failure screenshot: {}", save("configure-failure.png", &png).display());
        }
    }
    let _ = client.close().await;
    drop(driver);
    let outcome = match outcome {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => panic!("the browser test took longer than 90 s"),
        Err(panic) => std::panic::resume_unwind(panic),
    };

    // The link installs a configured addon.
    let Outcome { manifest_url, install_href } = outcome;
    let prefix = format!("{}/stremio/torz/", stack.host.url());
    assert!(manifest_url.starts_with(&prefix) && manifest_url.ends_with("/manifest.json"), "{manifest_url}");
    assert_eq!(install_href, manifest_url.replacen("http://", "stremio://", 1));
    assert_eq!(config_of(&manifest_url), json!({"stores": [{"c": "tb", "auth": USER}]}));
    let manifest: Value = reqwest::get(&manifest_url).await.unwrap().json().await.unwrap();
    assert!(manifest["behaviorHints"].get("configurationRequired").is_none(), "{manifest}");
    assert_eq!(manifest["behaviorHints"]["configurable"], true);
    let description = manifest["description"].as_str().unwrap_or_default();
    assert!(description.ends_with("— TB"), "{description}");
    eprintln!("browser test took {:.1} s", started.elapsed().as_secs_f64());
}

/// The check endpoint over plain HTTP: answers per store, never echoes a secret, and reports
/// invalid configs with the field they are about.
#[tokio::test]
async fn check_endpoint_answers_without_secrets() {
    let stack = Stack::start(StackOptions::default()).await;
    let url = format!("{}/stremio/torz/configure/check", stack.host.url());
    let http = reqwest::Client::new();
    let post = |body: String| http.post(&url).header("content-type", "application/json").body(body).send();

    let body = json!({"stores": [{"c": "tb", "t": TOKEN}, {"c": "rd", "t": "rd-token"}]}).to_string();
    let response = post(body).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let text = response.text().await.unwrap();
    assert!(!text.contains(TOKEN) && !text.contains("rd-token") && !text.contains('@'), "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    let tb = &answer["stores"][0];
    assert_eq!((tb["c"].as_str(), tb["ok"].as_bool(), tb["auth"].as_str()), (Some("tb"), Some(true), Some("token")));
    assert_eq!(tb["account"], json!({"subscription": "premium"}));
    let rd = &answer["stores"][1];
    assert_eq!(rd["ok"], false);
    assert!(rd["message"].as_str().unwrap().contains("RealDebrid rejected the API key"), "{rd}");

    // The Check button works for every store, each with its own account call.
    let body = json!({"stores": [{"c": "rd", "t": RD_TOKEN}, {"c": "ad", "t": AD_KEY}, {"c": "pm", "t": PM_KEY}]});
    let text = post(body.to_string()).await.unwrap().text().await.unwrap();
    for secret in [RD_TOKEN, AD_KEY, PM_KEY] {
        assert!(!text.contains(secret), "{text}");
    }
    let answer: Value = serde_json::from_str(&text).unwrap();
    for (i, code) in ["rd", "ad", "pm"].into_iter().enumerate() {
        let store = &answer["stores"][i];
        assert_eq!((store["c"].as_str(), store["ok"].as_bool()), (Some(code), Some(true)), "{answer}");
        assert_eq!(store["account"], json!({"subscription": "premium"}), "{answer}");
    }

    // The stream list's wording for a rejected key.
    let body = json!({"stores": [{"c": "tb", "t": "wrong-key"}]}).to_string();
    let answer: Value = post(body).await.unwrap().json().await.unwrap();
    assert_eq!(answer["stores"][0]["ok"], false);
    assert!(answer["stores"][0]["message"].as_str().unwrap().contains("TorBox rejected the API key"), "{answer}");

    let response = post(json!({"stores": [{"c": "tb"}]}).to_string()).await.unwrap();
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["field"], "stores[0]");

    let response = post(format!(r#"{{"stores":[{{"c":"tb","t":"{}"}}]}}"#, "x".repeat(20_000))).await.unwrap();
    assert_eq!(response.status(), 413);
    let problem: Value = response.json().await.unwrap();
    assert!(problem["problem"].as_str().unwrap().contains("16384"), "{problem}");
}

/// With sealing keys, the page makes sealed install links (no token in the URL) through the
/// server, and re-seals a plain link it opens; the sealed link installs and lists streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configure_page_seals_links_in_chromium() {
    if browser_available().is_none() {
        return;
    }
    std::fs::create_dir_all(artifacts_dir()).expect("artifacts folder");
    let keys = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let stack =
        Stack::start(StackOptions { env: vec![("CHILLPROXY_KEYS", keys.to_string())], ..Default::default() }).await;
    let mut driver = Driver::start();
    driver.wait_ready().await;
    let client = driver.connect().await;
    let base = stack.host.url();
    let run = async {
        // A plain link opened on the page: the form is filled and the link comes back sealed.
        let plain = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));
        client.goto(&format!("{base}/stremio/torz/{plain}/configure")).await.unwrap();
        // The page asks the server to seal once typing pauses: poll the field's value.
        let started = Instant::now();
        let manifest = loop {
            let shown = value(&client, "#manifest").await;
            if shown.contains("/c1.k1.") {
                break shown;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "the link was not sealed: {shown:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(!manifest.contains(TOKEN) && !manifest.contains(&plain), "{manifest}");
        assert_eq!(value(&client, ".store input[name=t]").await, TOKEN, "the form shows the user their token");
        manifest
    };
    let manifest = AssertUnwindSafe(tokio::time::timeout(Duration::from_secs(60), run)).catch_unwind().await;
    if !matches!(manifest, Ok(Ok(_))) {
        if let Ok(png) = client.screenshot().await {
            eprintln!("failure screenshot: {}", save("configure-sealed-failure.png", &png).display());
        }
    }
    let _ = client.close().await;
    drop(driver);
    let manifest = match manifest {
        Ok(Ok(manifest)) => manifest,
        Ok(Err(_)) => panic!("the sealing browser test took longer than 60 s"),
        Err(panic) => std::panic::resume_unwind(panic),
    };
    // The sealed link works: its stream list has playable streams.
    let list: Value = reqwest::get(manifest.replace("/manifest.json", &format!("/stream/movie/{MOVIE}.json")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list["streams"].as_array().unwrap().iter().any(|s| s.get("url").is_some()), "{list}");
}
