//! `/status`, the operator's page: behind `[server] metrics_token` (a Bearer token, or the token
//! as a Basic password so a browser's login prompt works), refused without a token configured,
//! self-contained under a strict CSP, and in headless Chromium (see `browser.rs` for the driver
//! and `CHILLPROXY_SKIP_BROWSER`) its charts draw the last hour after a short load, with no key
//! in the page.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use chillproxy_tests::client::http;
use chillproxy_tests::stack::*;
use fantoccini::{Client, Locator};
use futures::FutureExt;
use serde_json::json;

use crate::browser::{artifacts_dir, browser_available, save, Driver};

const STATUS_TOKEN: &str = "status-token-6a5b4c3d2e1f";
const STREMIO_UA: &str = "Stremio/4.4.168 (Windows)";
const PLAYER_UA: &str = "mpv/0.38";

fn with_token() -> StackOptions {
    StackOptions { server_settings: format!("metrics_token = \"{STATUS_TOKEN}\""), ..Default::default() }
}

/// Every secret of the stack, and the token.
fn secrets() -> Vec<&'static str> {
    vec![
        STATUS_TOKEN,
        INTERNAL_API_KEY,
        POOL_KEY,
        POOL_KEY_ID,
        TOKEN,
        USER,
        INDEXER_KEY,
        USER_INDEXER_KEY,
        SEARCH_KEY,
        RD_TOKEN,
        AD_KEY,
        PM_KEY,
    ]
}

/// A few stream lists and a playback.
async fn load(stack: &Stack) {
    let config = Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}));
    for id in [MOVIE.to_string(), format!("{SERIES}:1:3")] {
        let kind = if id == MOVIE { "movie" } else { "series" };
        let response =
            http().get(stack.stream_url(&config, kind, &id)).header("user-agent", STREMIO_UA).send().await.unwrap();
        assert_eq!(response.status(), 200);
        if id == MOVIE {
            let list: serde_json::Value = response.json().await.unwrap();
            let streams = list["streams"].as_array().cloned().unwrap_or_default();
            let playable = streams.iter().find_map(|s| s["url"].as_str().filter(|u| u.contains(MOVIE_1080)));
            let playable = playable.unwrap_or_else(|| panic!("{streams:#?}")).to_string();
            let played = http().get(&playable).header("user-agent", PLAYER_UA).send().await.unwrap();
            assert_eq!(played.status(), 302);
        }
    }
}

/// How many samples the page says it has ("… · 2 samples, one every 10 s …").
fn samples(page: &str) -> u32 {
    let before = page.split(" samples, one every").next().unwrap_or_default();
    before.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

async fn status(stack: &Stack) -> String {
    let url = format!("{}/status", stack.host.url());
    let response = http().get(&url).bearer_auth(STATUS_TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn the_status_page_needs_the_token_and_loads_nothing_from_elsewhere() {
    let _alone = super::SCRAPES.lock().await;
    let stack = Stack::start(with_token()).await;
    let url = format!("{}/status", stack.host.url());

    let bare = http().get(&url).send().await.unwrap();
    assert_eq!(bare.status(), 401);
    let challenge = bare.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(challenge.starts_with("Basic realm="), "{challenge}");
    let text = bare.text().await.unwrap();
    assert!(!text.contains(STATUS_TOKEN) && !text.contains("<svg"), "{text}");
    for wrong in [
        http().get(&url).bearer_auth("status-token-6a5b4c3d2e1e").send().await.unwrap(),
        http().get(&url).basic_auth("ops", Some("nope")).send().await.unwrap(),
    ] {
        assert_eq!(wrong.status(), 401);
    }

    load(&stack).await;
    let basic = http().get(&url).basic_auth("ops", Some(STATUS_TOKEN)).send().await.unwrap();
    assert_eq!(basic.status(), 200);
    let bearer = http().get(&url).bearer_auth(STATUS_TOKEN).send().await.unwrap();
    assert_eq!(bearer.status(), 200);
    let headers = bearer.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-store");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"), "{csp}");
    assert!(!csp.contains("unsafe") && !csp.contains("script-src"), "{csp}");
    let page = bearer.text().await.unwrap();
    assert!(!page.contains("<script"), "no script");
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"), "nothing from elsewhere");
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 6, "{page}");
    assert!(page.contains("data-upstream=\"Prowlarr\" data-state=\"ok\""), "{page}");
    assert!(page.contains("Budgets left per key fingerprint"), "{page}");
    for secret in secrets() {
        assert!(!page.contains(secret), "{secret} in the page");
    }
    // The pool key's budgets are listed by a fingerprint prefix only.
    let fingerprint = chillproxy_core::Secret::new(POOL_KEY).fingerprint();
    assert!(page.contains(&format!("<code>{}</code>", &fingerprint[..12])), "{page}");
    assert!(!page.contains(&fingerprint), "never the whole fingerprint");

    // Without a token configured, the page is refused (metrics stay open, as they always were).
    let open = Stack::start(StackOptions::default()).await;
    let refused = http().get(format!("{}/status", open.host.url())).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("metrics_token"));
    let metrics = http().get(format!("{}/metrics", open.host.url())).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
}

async fn drive(client: &Client, stack: &Stack) {
    let base = stack.host.url();
    // Refused without the token: nothing of the page.
    client.goto(&format!("{base}/status")).await.unwrap();
    let refused = client.source().await.unwrap();
    assert!(!refused.contains("<svg") && !refused.contains("Upstreams"), "{refused}");

    // The token as the password of the URL (what the browser's prompt would send).
    let authed = base.replacen("http://", &format!("http://ops:{STATUS_TOKEN}@"), 1);
    client.goto(&format!("{authed}/status")).await.unwrap();
    assert_eq!(client.title().await.unwrap(), "chillproxy · Status");
    let charts = client.find_all(Locator::Css("svg.chart")).await.unwrap();
    assert_eq!(charts.len(), 6);
    // Requests: a line of at least two points, and a rate above zero in its legend.
    let requests = client
        .find(Locator::Css("#charts .card:nth-child(1) polyline[data-series='all']"))
        .await
        .expect("the requests chart has a line");
    let points = requests.attr("points").await.unwrap().unwrap_or_default();
    assert!(points.split_whitespace().count() >= 2, "{points}");
    let legend = client.find(Locator::Css("#charts .card:nth-child(1) .legend")).await.unwrap().text().await.unwrap();
    assert!(legend.contains("all") && !legend.contains("all 0 /min"), "{legend}");
    let polylines = client.find_all(Locator::Css("svg.chart polyline")).await.unwrap();
    assert!(polylines.len() >= 4, "{} lines", polylines.len());
    // The playback made it into its chart's legend; upstreams and breakers are listed.
    let playback = client.find(Locator::Css("#charts .card:nth-child(2) .legend")).await.unwrap().text().await.unwrap();
    assert!(playback.contains("played"), "{playback}");
    let prowlarr = client.find(Locator::Css("#upstreams tr[data-upstream='Prowlarr']")).await.unwrap();
    assert_eq!(prowlarr.attr("data-state").await.unwrap().as_deref(), Some("ok"));
    let breakers = client.find(Locator::Css("#breakers")).await.unwrap().text().await.unwrap();
    assert!(breakers.contains("breaker") && breakers.contains("shared tier (in-process)"), "{breakers}");
    let path = save("status.png", &client.screenshot().await.unwrap());
    eprintln!("screenshot: {}", path.display());

    let source = client.source().await.unwrap();
    for secret in secrets() {
        assert!(!source.contains(secret), "{secret} in the page source");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_in_chromium() {
    let _alone = super::SCRAPES.lock().await;
    if browser_available().is_none() {
        return;
    }
    std::fs::create_dir_all(artifacts_dir()).expect("artifacts folder");
    let stack = Stack::start(with_token()).await;
    // A short load across two samples (one is taken at start, the next 10 s later), so the
    // charts have lines.
    let started = Instant::now();
    loop {
        load(&stack).await;
        if samples(&status(&stack).await) >= 2 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no second sample within 30 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    load(&stack).await;

    let mut driver = Driver::start();
    driver.wait_ready().await;
    let client = driver.connect().await;
    let outcome =
        AssertUnwindSafe(tokio::time::timeout(Duration::from_secs(60), drive(&client, &stack))).catch_unwind().await;
    if !matches!(outcome, Ok(Ok(()))) {
        if let Ok(png) = client.screenshot().await {
            eprintln!("failure screenshot: {}", save("status-failure.png", &png).display());
        }
    }
    let _ = client.close().await;
    drop(driver);
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(_)) => panic!("the browser test took longer than 60 s"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
