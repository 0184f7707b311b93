//! Titles for text searches, from a Stremio metadata addon (Cinemeta by default):
//! `GET {url}/meta/{movie|series}/{imdb}.json` → `{"meta": {"name", "year" | "releaseInfo"}}`.
//! One lookup per id in flight, kept a day; a failed lookup is remembered for a minute so a down
//! service costs one timeout per minute, not one per stream list. Lookups are shared with the
//! other replicas through the shared tier (`cp:v1:meta:<kind>:<imdb id>`).

use std::sync::Arc;
use std::time::Duration;

use chillproxy_core::cache::{FlightCache, SharedCache};
use chillproxy_core::source_cache::SourceFailure;
use chillproxy_core::upstream::{Method, Reply, Upstream, UpstreamError};
use chillproxy_core::{MediaKind, MediaQuery, SharedState};
use serde::{Deserialize, Serialize};

/// How long a title is kept.
const TITLE_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a failed lookup is remembered.
const FAILURE_TTL: Duration = Duration::from_secs(60);

/// A title as the metadata addon names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Title {
    pub name: String,
    /// The (first) release year.
    pub year: Option<u32>,
}

type Lookup = Result<Arc<Title>, String>;

/// The lookups, shared by every search of the plugin.
pub struct Titles {
    upstream: Upstream,
    cache: SharedCache<(MediaKind, String), Lookup, ()>,
}

fn shared_part(key: &(MediaKind, String)) -> String {
    let kind = match key.0 {
        MediaKind::Movie => "movie",
        MediaKind::Series => "series",
    };
    format!("{kind}:{}", key.1)
}

#[derive(Deserialize)]
struct MetaReply {
    meta: Option<Meta>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    year: Option<serde_json::Value>,
    #[serde(default, rename = "releaseInfo")]
    release_info: Option<String>,
}

/// The first four-digit run: `"1994"`, `"2008–2013"`, `2008`.
fn first_year(text: &str) -> Option<u32> {
    text.split(|c: char| !c.is_ascii_digit()).find(|run| run.len() == 4).and_then(|run| run.parse().ok())
}

impl Titles {
    /// `upstream` has the metadata addon's URL as its base.
    pub fn new(upstream: Upstream, shared: SharedState) -> Self {
        Self { upstream, cache: SharedCache::new(FlightCache::new(10_000), shared, "meta", shared_part) }
    }

    /// The title of `media`'s movie or series, or why there is none (no URL, no key in it).
    pub async fn lookup(&self, media: &MediaQuery) -> Result<Arc<Title>, String> {
        let key = (media.kind, media.imdb_id.clone());
        let (upstream, kind, id) = (self.upstream.clone(), media.kind, media.imdb_id.clone());
        let loaded = self
            .cache
            .get_or_load(key, move || async move {
                let lookup = fetch(&upstream, kind, &id).await;
                let keep = if lookup.is_ok() { TITLE_TTL } else { FAILURE_TTL };
                Ok((lookup, Some(keep)))
            })
            .await;
        loaded.unwrap_or_else(|()| Err("the title lookup failed".to_string()))
    }
}

async fn fetch(upstream: &Upstream, kind: MediaKind, id: &str) -> Lookup {
    let kind = match kind {
        MediaKind::Movie => "movie",
        MediaKind::Series => "series",
    };
    let request = upstream.request(Method::GET, "meta", &format!("/meta/{kind}/{id}.json"));
    let timeout = upstream.timeout();
    upstream.call(request, |reply| read_meta(reply, timeout)).await.map_err(|failure| failure.message)
}

/// The title in a reply. Failures say "the title lookup" first: they end up in a notice about
/// an indexer, not about this service.
fn read_meta(reply: Result<Reply, UpstreamError>, timeout: Duration) -> Result<Arc<Title>, SourceFailure> {
    let fail = SourceFailure::new;
    let reply = reply.map_err(|e| match e {
        UpstreamError::Timeout => SourceFailure {
            message: format!("the title lookup timed out after {} ms", timeout.as_millis()),
            timed_out: true,
        },
        other => fail(format!("the title lookup failed: {other}")),
    })?;
    if !reply.status.is_success() {
        return Err(fail(format!("the title lookup failed: HTTP {}", reply.status)));
    }
    let parsed: MetaReply = serde_json::from_slice(&reply.body)
        .map_err(|_| fail("the title lookup failed: the reply is not a Stremio meta".to_string()))?;
    let meta = parsed.meta.filter(|m| !m.name.trim().is_empty());
    let meta = meta.ok_or_else(|| fail("the metadata service knows no title for this id".to_string()))?;
    let year = match &meta.year {
        Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|y| u32::try_from(y).ok()),
        Some(serde_json::Value::String(s)) => first_year(s),
        _ => None,
    }
    .or_else(|| meta.release_info.as_deref().and_then(first_year));
    Ok(Arc::new(Title { name: meta.name.trim().to_string(), year }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years() {
        assert_eq!(first_year("1994"), Some(1994));
        assert_eq!(first_year("2008–2013"), Some(2008));
        assert_eq!(first_year("n/a"), None);
    }
}
