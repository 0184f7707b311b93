//! `cargo run -p chillproxy-tests --bin devstack [-- --port 8080]`: starts the fake
//! Chillstreams, TorBox and Torznab indexer (and a Newznab one, for TorBox usenet) with a few
//! real-looking titles, and chillproxy against them, so the whole flow can be tried with curl or
//! Stremio without any account.

use std::net::SocketAddr;

use chillproxy_tests::stack::*;
use chillproxy_tests::usenet::{seed_torbox_usenet, with_newznab, CACHED_TITLE, UNCACHED_TITLE};
use serde_json::json;

#[tokio::main]
async fn main() {
    let port =
        std::env::args().skip_while(|a| a != "--port").nth(1).and_then(|p| p.parse::<u16>().ok()).unwrap_or(7000);
    let listen = SocketAddr::from(([127, 0, 0, 1], port));
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let mut options = StackOptions { listen: Some(listen), uncached_polls: 3, ..Default::default() };
    let newznab = with_newznab(&mut options, "").await;
    let stack = Stack::start(options.clone()).await;
    seed_torbox_usenet(&stack, &newznab, 3);
    let base = stack.host.url();
    let auth = Stack::config(&json!({"stores": [{"c": "tb", "auth": USER}]}));
    let token = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN}]}));
    let both = Stack::config(&json!({"stores": [{"c": "tb", "t": TOKEN, "auth": USER}]}));
    let four = Stack::config(&json!({"stores": [
        {"c": "tb", "t": TOKEN}, {"c": "rd", "t": RD_TOKEN}, {"c": "ad", "t": AD_KEY}, {"c": "pm", "t": PM_KEY}
    ]}));
    let env: Vec<String> =
        Stack::env_pairs(&options, &stack.chillstreams.url()).into_iter().map(|(k, v)| format!("{k}={v}")).collect();

    println!(
        r#"
chillproxy devstack — everything below is fake and local.

  chillproxy     {base}
  Chillstreams   {chill}   (user {USER}: pool key id {POOL_KEY_ID}, 3 devices max)
  TorBox         {torbox}   (keys: the pool key, and the token {TOKEN})
  RealDebrid     {realdebrid}   (token {RD_TOKEN}; its content filter refuses the 1080p BluRay.x264 release)
  AllDebrid      {alldebrid}   (key {AD_KEY}; uploads need a proxy: NO_SERVER without one)
  Premiumize     {premiumize}   (key {PM_KEY})
  Torznab        {torznab}
  Newznab        {newznab}   (usenet, for TorBox Pro keys: every key here is Pro)

Install in Stremio (or open with curl):
  Chillstreams user:  {base}/stremio/torz/{auth}/manifest.json
  Own TorBox token:   {base}/stremio/torz/{token}/manifest.json
  Both (fallback):    {base}/stremio/torz/{both}/manifest.json
  All four stores:    {base}/stremio/torz/{four}/manifest.json

Try:
  curl -s {base}/stremio/torz/{auth}/stream/movie/{MOVIE}.json
  curl -s {base}/stremio/torz/{auth}/stream/series/{SERIES}:1:3.json
  curl -si <a "url" from the list>      # 302 to the fake TorBox CDN

Titles: The Shawshank Redemption ({MOVIE}: 2160p and 1080p cached, 720p downloads in 3 polls,
480p never finishes; on usenet, marked 📰: {CACHED_TITLE} cached, {UNCACHED_TITLE}
downloading in 3 polls) and Breaking Bad S01E03 ({SERIES}:1:3: single episode and a season pack).

To run the real binary against these fakes instead, save this as devstack.toml:
----------------------------------------------------------------
{toml}----------------------------------------------------------------
and run:  {env} CHILLPROXY_LISTEN=127.0.0.1:{next} cargo run -p chillproxy-host -- --config devstack.toml

Ctrl-C stops everything."#,
        chill = stack.chillstreams.url(),
        torbox = stack.torbox.state().base_url,
        realdebrid = stack.realdebrid.state().common.base_url,
        alldebrid = stack.alldebrid.state().common.base_url,
        premiumize = stack.premiumize.state().common.base_url,
        torznab = stack.torznab.torznab_url(),
        newznab = newznab.url(),
        toml = stack.plugins_toml,
        env = env.join(" "),
        next = port + 1,
    );
    let _ = tokio::signal::ctrl_c().await;
}
