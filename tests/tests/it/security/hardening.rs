//! Device binding across the player, and graceful shutdown, over real sockets.

use std::time::{Duration, Instant};

use chillproxy_core::Env;
use chillproxy_host::{server, AppState, Config, Plugins};
use chillproxy_tests::client::http;
use chillproxy_tests::fakes::chillstreams::Mode as ChillMode;
use chillproxy_tests::stack::*;
use serde_json::{json, Value};

async fn get(url: &str, user_agent: &str, client_ip: &str) -> reqwest::Response {
    // 127.0.0.1 is a trusted proxy in the test config, so X-Forwarded-For names the client.
    http().get(url).header("user-agent", user_agent).header("x-forwarded-for", client_ip).send().await.unwrap()
}

async fn playback_url(stack: &Stack, user_agent: &str, client_ip: &str) -> String {
    let config = Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}));
    let body: Value =
        get(&stack.stream_url(&config, "movie", MOVIE), user_agent, client_ip).await.json().await.unwrap();
    body["streams"][0]["url"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_player_counts_as_the_device_that_listed_the_streams() {
    let stack = Stack::start(StackOptions::default()).await;
    let home = "198.51.100.10";
    let url = playback_url(&stack, "Stremio/4.4 (Android TV)", home).await;
    let binding = url.split("?b=").nth(1).unwrap().to_string();
    assert!(!binding.contains(home) && binding.len() > 40);
    assert_eq!(stack.chillstreams.devices(USER).len(), 1);

    // The player (another User-Agent) from the same IP: the same device.
    let response = get(&url, "ExoPlayer/2.19", home).await;
    assert_eq!(response.status(), 302);
    assert_eq!(stack.chillstreams.devices(USER).len(), 1, "the player reused the app's device");
    let calls = stack.chillstreams.get_key_calls();
    assert!(calls.iter().all(|c| c.body["deviceId"] == calls[0].body["deviceId"]));

    // The same URL from another IP: the binding does not apply; another device.
    let response = get(&url, "ExoPlayer/2.19", "203.0.113.99").await;
    assert_eq!(response.status(), 302);
    assert_eq!(stack.chillstreams.devices(USER).len(), 2);

    // A tampered binding is ignored: the device comes from the request (a third one).
    let mut chars: Vec<char> = binding.chars().collect();
    chars[20] = if chars[20] == 'A' { 'B' } else { 'A' };
    let tampered = url.replace(&binding, &chars.into_iter().collect::<String>());
    let response = get(&tampered, "VLC/3.0", home).await;
    assert_eq!(response.status(), 302);
    assert_eq!(stack.chillstreams.devices(USER).len(), 3);

    // An old URL without a binding still plays.
    let bare = url.split('?').next().unwrap();
    assert_eq!(get(bare, "Stremio/4.4 (Android TV)", home).await.status(), 302);
    assert_eq!(stack.chillstreams.devices(USER).len(), 3);
}

fn uuid_like() -> String {
    format!("{}-{:?}", std::process::id(), Instant::now()).chars().filter(char::is_ascii_alphanumeric).collect()
}

/// Starts a host on its own shutdown switch, with Chillstreams answering slowly.
async fn host_with_switch(
    stack: &Stack,
    grace_ms: u64,
) -> (String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<(std::io::Result<()>, Instant)>) {
    let spool = std::env::temp_dir().join(format!("chillproxy-hardening-{}.db", uuid_like()));
    let toml = stack.plugins_toml.replace("[server]\n", &format!("[server]\nshutdown_grace_ms = {grace_ms}\n"))
        + &format!("\n[usage]\nspool_path = {:?}\n", spool.display().to_string());
    let env = Env::from_pairs(Stack::env_pairs(&StackOptions::default(), &stack.chillstreams.url()));
    let config = Config::from_toml(&toml, &env).unwrap();
    let plugins = Plugins::build(&config).unwrap();
    let state = AppState::new(config, plugins).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let result = server::serve(listener, state, async {
            let _ = stopped.await;
        })
        .await;
        (result, Instant::now())
    });
    (url, stop, task)
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_and_refuses_new_ones() {
    let stack =
        Stack::start(StackOptions { chillstreams_settings: "timeout_ms = 5000".into(), ..Default::default() }).await;
    stack.chillstreams.set_mode(ChillMode::Slow(Duration::from_millis(1200)));
    let (url, stop, task) = host_with_switch(&stack, 10_000).await;
    let config = Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}));
    let list_url = format!("{url}/stremio/torz/{config}/stream/movie/{MOVIE}.json");
    let in_flight = tokio::spawn(async move { get(&list_url, "Stremio", "198.51.100.20").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = Instant::now();
    stop.send(()).unwrap();

    let response = in_flight.await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["streams"].as_array().unwrap().len(), 4, "the in-flight request was served in full");
    let (result, stopped_at) = task.await.unwrap();
    assert!(result.is_ok());
    assert!(stopped_at.duration_since(stopping) < Duration::from_secs(5));
    assert!(http().get(format!("{url}/health")).send().await.is_err(), "no new connections after shutdown");
}

#[tokio::test]
async fn shutdown_is_bounded_by_the_grace_period() {
    let stack =
        Stack::start(StackOptions { chillstreams_settings: "timeout_ms = 20000".into(), ..Default::default() }).await;
    stack.chillstreams.set_mode(ChillMode::Slow(Duration::from_secs(15)));
    let (url, stop, task) = host_with_switch(&stack, 300).await;
    let config = Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}));
    let list_url = format!("{url}/stremio/torz/{config}/stream/movie/{MOVIE}.json");
    let _stuck = tokio::spawn(async move { get(&list_url, "Stremio", "198.51.100.21").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = Instant::now();
    stop.send(()).unwrap();
    let (result, stopped_at) = task.await.unwrap();
    assert!(result.is_ok());
    let took = stopped_at.duration_since(stopping);
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3), "stopped after {took:?}");
}
