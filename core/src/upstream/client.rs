//! [`Upstream`]: one pooled HTTP client per plugin, its in-flight permits, the per-call
//! deadline, the capped body read and the upstream metric of every call.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use tokio::sync::Semaphore;

use super::errors::{Failure, Stage, UpstreamBuildError, UpstreamError, UpstreamFailure};
use super::outbound::{OutboundPolicy, PolicyResolver};
use super::settings::{check_proxy_url, UpstreamSettings};
use super::text::{parse_retry_after, scrub, BaseUrl};
use crate::health::{ErrorKind, Tracker, Verdict, Wire};
use crate::metrics::{self, Outcome};
use crate::Secret;

/// Sent with every call.
pub const USER_AGENT: &str = concat!("chillproxy/", env!("CARGO_PKG_VERSION"));

/// How long an idle pooled connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(90);

/// Choices a plugin makes when it builds its [`Upstream`].
#[derive(Debug, Clone, Default)]
pub struct UpstreamOptions {
    /// Follow up to 10 redirects. Off by default: an API reply is never a redirect, and
    /// following one could carry a credential elsewhere. (reqwest drops `Authorization` on a
    /// redirect to another host, but a key in the query string goes wherever `Location` says.)
    pub follow_redirects: bool,
    /// For URLs users supply: every request URL and redirect hop is checked by the policy, and
    /// names resolve through [`PolicyResolver`] (the connection goes to a checked address).
    /// `None` for the operator's own upstreams, which are trusted.
    pub outbound: Option<OutboundPolicy>,
    /// Where every call reports its outcome ([`crate::health`]): the upstream's tracker. `None`
    /// for a client that calls users' URLs (those are not the operator's upstreams), or one that
    /// calls several upstreams and names one per request ([`Request::report_to`]).
    pub health: Option<Tracker>,
}

/// A plugin's HTTP client: built once, shared by every call (cloning shares it too).
#[derive(Clone)]
pub struct Upstream {
    inner: Arc<Inner>,
}

struct Inner {
    /// The plugin's name, the `plugin` label of the upstream metrics.
    plugin: &'static str,
    http: reqwest::Client,
    /// Bounds the calls in flight; waiting for a permit counts against the deadline.
    permits: Semaphore,
    base_url: Option<BaseUrl>,
    timeout: Duration,
    max_body_bytes: usize,
    /// The proxy's password, scrubbed from error text like the call's own secrets.
    proxy_password: Option<String>,
    /// The policy for user-supplied URLs, when this client calls them.
    outbound: Option<OutboundPolicy>,
    /// Where calls report their outcome, unless a request names another.
    health: Option<Tracker>,
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("plugin", &self.inner.plugin)
            .field("base_url", &self.inner.base_url.as_ref().map(BaseUrl::as_str))
            .field("timeout", &self.inner.timeout)
            .field("max_body_bytes", &self.inner.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// One request, built with [`Upstream::request`] or [`Upstream::request_url`] and sent with
/// [`Upstream::call`].
pub struct Request<'a> {
    /// The `operation` label of the metrics: a fixed name, never a URL.
    pub(super) endpoint: &'static str,
    /// For log lines ([`BudgetedUpstream`](super::BudgetedUpstream) names it).
    pub(super) method: Method,
    /// What a log line calls the request instead of `endpoint`, when the plugin logs paths.
    pub(super) logged_as: Option<String>,
    builder: reqwest::RequestBuilder,
    /// Scrubbed from any error text.
    secrets: Vec<&'a str>,
    /// Where this call reports its outcome, instead of the client's tracker.
    health: Option<Tracker>,
}

impl<'a> Request<'a> {
    /// Appends query parameters.
    pub fn query(mut self, pairs: &[(&str, &str)]) -> Self {
        self.builder = self.builder.query(pairs);
        self
    }

    /// Sends `Authorization: Bearer <key>`; the key is scrubbed from any error text.
    pub fn bearer(mut self, key: &'a Secret) -> Self {
        self.builder = self.builder.bearer_auth(key.expose());
        self.secret(key)
    }

    /// Scrubs `secret` from any error text: for a key the URL carries.
    pub fn secret(mut self, secret: &'a Secret) -> Self {
        self.secrets.push(secret.expose());
        self
    }

    /// Sends `Accept: <media_type>`.
    pub fn accept(mut self, media_type: &'static str) -> Self {
        self.builder = self.builder.header(ACCEPT, HeaderValue::from_static(media_type));
        self
    }

    /// A JSON body.
    pub fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Self {
        self.builder = self.builder.json(body);
        self
    }

    /// Reports this call's outcome to `tracker` (one of the operator's indexers, say) instead of
    /// the client's.
    pub fn report_to(mut self, tracker: &Tracker) -> Self {
        self.health = Some(tracker.clone());
        self
    }

    /// A body of `content_type` as it is (a `multipart/form-data` upload built by the plugin,
    /// say). A content type that is not a valid header value sends none.
    pub fn body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        if let Ok(value) = HeaderValue::from_str(content_type) {
            self.builder = self.builder.header(CONTENT_TYPE, value);
        }
        self.builder = self.builder.body(body);
        self
    }

    /// A `application/x-www-form-urlencoded` body.
    pub fn form<B: Serialize + ?Sized>(mut self, body: &B) -> Self {
        self.builder = self.builder.form(body);
        self
    }
}

/// A reply as read off the wire, before the plugin looks at it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    /// `Content-Type`, lowercased; empty when absent.
    pub content_type: String,
    /// `Retry-After`, in seconds or as an HTTP date (see [`parse_retry_after`]).
    pub retry_after: Option<Duration>,
    /// `Location`, as sent (only useful to a client that does not follow redirects).
    pub location: Option<String>,
    /// `Cache-Control`, as sent (for a plugin that keeps replies as long as the upstream says).
    pub cache_control: Option<String>,
    /// The whole body, at most `max_body_bytes`.
    pub body: Vec<u8>,
}

impl Upstream {
    /// The client for `plugin` (its name in metrics), calling paths under `base_url` (none when
    /// every request names a whole URL), with `settings`' budgets.
    pub fn new(
        plugin: &'static str,
        base_url: Option<BaseUrl>,
        settings: &UpstreamSettings,
        options: UpstreamOptions,
    ) -> Result<Self, UpstreamBuildError> {
        let redirects = match (&options.follow_redirects, &options.outbound) {
            (false, _) => reqwest::redirect::Policy::none(),
            (true, None) => reqwest::redirect::Policy::default(),
            (true, Some(policy)) => {
                let policy = policy.clone();
                reqwest::redirect::Policy::custom(move |attempt| {
                    if attempt.previous().len() >= 10 {
                        return attempt.error("too many redirects");
                    }
                    match policy.check_url(attempt.url()) {
                        Ok(()) => attempt.follow(),
                        Err(refused) => attempt.error(refused),
                    }
                })
            }
        };
        let mut builder = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout())
            .timeout(settings.timeout())
            .pool_idle_timeout(POOL_IDLE)
            .redirect(redirects)
            .user_agent(USER_AGENT);
        if let Some(policy) = &options.outbound {
            builder = builder.dns_resolver(Arc::new(PolicyResolver::new(policy.clone())));
        }
        let mut proxy_password = None;
        if let Some(proxy) = settings.proxy() {
            let url = check_proxy_url(proxy).map_err(UpstreamBuildError)?;
            proxy_password = url.password().map(str::to_string);
            let proxy = reqwest::Proxy::all(url)
                .map_err(|_| UpstreamBuildError("proxy_url is not a usable proxy URL".to_string()))?;
            // Replaces the proxies from the environment.
            builder = builder.proxy(proxy);
        }
        let http = builder.build().map_err(|e| {
            let text = e.without_url().to_string();
            UpstreamBuildError(scrub(&text, proxy_password.as_deref().unwrap_or_default()))
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                plugin,
                http,
                permits: Semaphore::new(settings.max_in_flight.clamp(1, Semaphore::MAX_PERMITS)),
                base_url,
                timeout: settings.timeout(),
                max_body_bytes: settings.max_body_bytes,
                proxy_password,
                outbound: options.outbound,
                health: options.health,
            }),
        })
    }

    /// A request to `path` under the base URL (`/v1/api/user/me`), counted in the metrics as
    /// `endpoint`.
    pub fn request(&self, method: Method, endpoint: &'static str, path: &str) -> Request<'_> {
        let url = match &self.inner.base_url {
            Some(base) => format!("{}{path}", base.as_str()),
            // Fails when sent: a relative URL without a base.
            None => path.to_string(),
        };
        self.new_request(method, endpoint, url)
    }

    /// A request to a whole URL (a user's indexer), counted in the metrics as `endpoint`.
    pub fn request_url(&self, method: Method, endpoint: &'static str, url: Url) -> Request<'_> {
        self.new_request(method, endpoint, url)
    }

    fn new_request(&self, method: Method, endpoint: &'static str, url: impl reqwest::IntoUrl) -> Request<'_> {
        Request {
            endpoint,
            builder: self.inner.http.request(method.clone(), url),
            method,
            logged_as: None,
            secrets: Vec::new(),
            health: None,
        }
    }

    /// The budget of one call.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Sends `request` and reads the reply within the budget (waiting for a permit included),
    /// then hands the reply, or why there is none, to `interpret`, which turns it into the
    /// plugin's own result. Records `chillproxy_upstream_requests_total{plugin, operation =
    /// endpoint, outcome}` once: `ok` for an `Ok`, else `timeout` or `error` as the error says;
    /// and reports to the upstream's health tracker, when there is one: answered for an `Ok`,
    /// else what the error says of the upstream ([`UpstreamFailure::verdict`]).
    pub async fn call<T, E: UpstreamFailure>(
        &self,
        mut request: Request<'_>,
        interpret: impl FnOnce(Result<Reply, UpstreamError>) -> Result<T, E>,
    ) -> Result<T, E> {
        let started = Instant::now();
        let endpoint = request.endpoint;
        let own_tracker = request.health.take();
        let tracker = own_tracker.as_ref().or(self.inner.health.as_ref());
        let exchanged = self.exchange(request).await;
        let wire = tracker.and_then(|_| wire_of(&exchanged));
        let result = interpret(exchanged);
        let outcome = match &result {
            Ok(_) => Outcome::Ok,
            Err(e) if e.is_timeout() => Outcome::Timeout,
            Err(_) => Outcome::Error,
        };
        metrics::record_upstream(self.inner.plugin, endpoint, outcome, started.elapsed());
        if let Some(tracker) = tracker {
            tracker.record(match (&result, wire) {
                (Ok(_), _) => Verdict::Answered,
                (Err(error), Some(wire)) => error.verdict(wire),
                (Err(_), None) => Verdict::Silent,
            });
        }
        result
    }

    async fn exchange(&self, request: Request<'_>) -> Result<Reply, UpstreamError> {
        let Request { builder, secrets, .. } = request;
        if let Some(policy) = &self.inner.outbound {
            let (client, built) = builder.build_split();
            let built = built.map_err(|e| UpstreamError::from_reqwest(e, &secrets))?;
            policy.check_url(built.url()).map_err(UpstreamError::refused)?;
            return self.exchange_built(client.execute(built), secrets).await;
        }
        self.exchange_built(builder.send(), secrets).await
    }

    async fn exchange_built(
        &self,
        sending: impl std::future::Future<Output = Result<reqwest::Response, reqwest::Error>>,
        mut secrets: Vec<&str>,
    ) -> Result<Reply, UpstreamError> {
        secrets.extend(self.inner.proxy_password.as_deref());
        let fail = |e: reqwest::Error| UpstreamError::from_reqwest(e, &secrets);
        let bounded = async {
            let _permit = self.inner.permits.acquire().await.map_err(|_| UpstreamError::Other {
                stage: Stage::Request,
                failure: Failure { text: "the client is shutting down".to_string(), cause: None, refused: None },
            })?;
            let mut response = sending.await.map_err(fail)?;
            let status = response.status();
            let headers = response.headers();
            let retry_after = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
            let location = headers.get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);
            let cache_control = headers.get(CACHE_CONTROL).and_then(|v| v.to_str().ok()).map(str::to_string);
            let content_type =
                headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
            let limit = self.inner.max_body_bytes;
            let too_large = || UpstreamError::BodyTooLarge { status: status.as_u16(), limit };
            let announced = response.content_length();
            if announced.is_some_and(|n| n > limit as u64) {
                return Err(too_large());
            }
            // Never more than the limit in memory: a chunk that would pass it ends the read.
            let mut body = Vec::with_capacity(announced.map_or(0, |n| n as usize));
            while let Some(chunk) = response.chunk().await.map_err(fail)? {
                if body.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Reply { status, content_type, retry_after, location, cache_control, body })
        };
        match tokio::time::timeout(self.inner.timeout, bounded).await {
            Ok(result) => result,
            Err(_) => Err(UpstreamError::Timeout),
        }
    }
}

/// What the wire said of a call; `None` when the outbound policy refused it (no call was made).
fn wire_of(exchanged: &Result<Reply, UpstreamError>) -> Option<Wire> {
    Some(match exchanged {
        Ok(reply) => Wire::Status(reply.status.as_u16()),
        Err(UpstreamError::Timeout) => Wire::NoReply(ErrorKind::Timeout),
        Err(error @ UpstreamError::Connect(_)) if error.refusal().is_some() => return None,
        Err(UpstreamError::Connect(_)) => Wire::NoReply(ErrorKind::Connect),
        Err(UpstreamError::BodyTooLarge { status, .. }) if *status >= 400 => Wire::Status(*status),
        Err(UpstreamError::BodyTooLarge { .. }) => Wire::NoReply(ErrorKind::BadReply),
        Err(UpstreamError::Other { .. }) => Wire::NoReply(ErrorKind::Transport),
    })
}
