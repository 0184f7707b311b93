//! Auth providers turn one store entry of the user's config into a debrid credential, and the
//! auth chain tries them in the operator's order.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{DeviceId, InfoHash, Secret, StoreEntry};

/// Why a credential is wanted. Providers may treat them differently (Chillstreams receives the
/// hash being played).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthPurpose {
    StreamList,
    Playback { hash: InfoHash },
    Configure,
}

/// Everything a provider may look at.
#[derive(Debug, Clone)]
pub struct AuthRequest<'a> {
    pub entry: &'a StoreEntry,
    pub device: &'a DeviceId,
    pub purpose: AuthPurpose,
}

/// Set on credentials that Chillstreams granted, so playback can report usage for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageTag {
    pub user_id: String,
    pub pool_key_id: String,
}

/// A debrid API key and where it came from. The key is a [`Secret`]; `Debug` redacts it.
#[derive(Debug, Clone)]
pub struct Credential {
    pub key: Secret,
    /// The auth provider that granted it (`token`, `chillstreams`).
    pub provider: &'static str,
    pub usage: Option<UsageTag>,
}

impl Credential {
    pub fn new(key: Secret, provider: &'static str) -> Self {
        Self { key, provider, usage: None }
    }
}

/// Why a provider said no, so the host can word it without knowing who answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenyReason {
    /// Too many devices on the account. The counts are the provider's, when it gave them.
    DeviceLimit { devices: Option<u32> },
    /// The account is not active (no subscription, suspended).
    Inactive,
    /// Anything else (a malformed id, a rule the provider applies).
    Other,
}

/// A provider's answer for one store entry.
#[derive(Debug)]
pub enum AuthOutcome {
    /// The entry carries nothing this provider understands (e.g. no `auth` field).
    NotApplicable,
    Granted(Credential),
    /// A definitive "no", such as a device limit. The message is shown to the user.
    Denied {
        reason: DenyReason,
        message: String,
    },
    /// The provider could not decide (timeout, 5xx, unreadable reply). The message is the cause
    /// alone (the chain names the provider), shown to the user when nothing else in the chain
    /// works, so it must name the cause and no secret.
    Failed {
        message: String,
    },
}

/// What was played with a credential, for providers that account for usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEvent {
    pub hash: InfoHash,
    /// The store had the torrent ready when playback asked for it.
    pub cached: bool,
    /// Size of the file served.
    pub bytes: u64,
}

/// A usage event as the host's spool stores it and a provider delivers it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UsageRecord {
    /// Unique per event, so a receiver can drop a duplicate after a lost reply.
    pub event_id: String,
    /// The auth provider that granted the credential and delivers the record.
    pub provider: String,
    pub user_id: String,
    pub pool_key_id: String,
    pub hash: String,
    pub cached: bool,
    pub bytes: u64,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: u64,
}

/// Why a delivery failed. A retryable failure (timeout, 5xx) is tried again later; any other
/// (the receiver rejected the record) is dropped with an error log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    pub retryable: bool,
    pub message: String,
}

/// How the host presents a provider to users, so it never names one itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthPresentation {
    /// The provider as users know it (`Chillstreams`), used in "… is unavailable" and "your …
    /// account".
    pub display_name: &'static str,
    /// Who vouches for a working credential, for the configure page's check
    /// ("The Chillstreams credential", "Your API token").
    pub credential_label: &'static str,
    /// A store-entry field of the user config this provider reads, which the configure page
    /// offers, if the provider has one of its own.
    pub entry_field: Option<EntryField>,
}

/// A field of a store entry that an auth provider reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryField {
    /// The JSON key in the store entry (`auth`).
    pub key: &'static str,
    /// The form label (`Chillstreams user id`).
    pub label: &'static str,
    /// One sentence for the form's hint.
    pub hint: &'static str,
    /// What the check says when this field was set but another provider granted the credential.
    pub unused_note: &'static str,
}

#[async_trait]
pub trait AuthProvider: Send + Sync {
    /// The registry name (`chillstreams`, `token`).
    fn name(&self) -> &'static str;

    /// How users see this provider. By default, its registry name and nothing to configure.
    fn presentation(&self) -> AuthPresentation {
        AuthPresentation { display_name: self.name(), credential_label: "The credential", entry_field: None }
    }

    async fn authorize(&self, request: &AuthRequest<'_>) -> AuthOutcome;

    /// Forgets anything cached for this request's credential, because the store rejected it
    /// (e.g. a pooled key was revoked). Returns whether asking again may give another
    /// credential (worth one retry).
    async fn invalidate(&self, _request: &AuthRequest<'_>) -> bool {
        false
    }

    /// Whether its credentials may be spent on downloads nobody asked for yet (the next
    /// episode, prepared in the background). A pooled key's provider says no unless its
    /// operator allows it.
    fn allows_background_adds(&self) -> bool {
        true
    }

    /// Delivers one usage event (the host's durable spool calls this from a background worker,
    /// with retries). `Ok` means the receiver has it and the spool may delete it.
    async fn deliver_usage(&self, _record: &UsageRecord) -> Result<(), UsageError> {
        Ok(())
    }
}

/// Why the chain found no credential, most specific first. `display` is the answering
/// provider's [`AuthPresentation::display_name`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthChainError {
    #[error("{message}")]
    Denied { provider: &'static str, display: &'static str, reason: DenyReason, message: String },
    /// `message` is the cause only ("no answer within 400 ms"); the provider is `display`.
    #[error("{display} unavailable: {message}")]
    Failed { provider: &'static str, display: &'static str, message: String },
    #[error("no usable credentials for store `{store}`: add your own API token (t) to the store entry")]
    NoCredentials { store: String },
}

/// The operator's ordered list of auth providers (disabled ones already left out).
#[derive(Clone, Default)]
pub struct AuthChain {
    providers: Vec<Arc<dyn AuthProvider>>,
}

impl fmt::Debug for AuthChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.providers.iter().map(|p| p.name())).finish()
    }
}

impl AuthChain {
    pub fn new(providers: Vec<Arc<dyn AuthProvider>>) -> Self {
        Self { providers }
    }

    /// Tells the provider that granted `credential` that the store rejected it. `true`: resolving
    /// again may give a different credential.
    pub async fn invalidate(&self, request: &AuthRequest<'_>, credential: &Credential) -> bool {
        match self.provider(credential.provider) {
            Some(provider) => provider.invalidate(request).await,
            None => false,
        }
    }

    /// The provider registered under `name`, if it is in the chain.
    pub fn provider(&self, name: &str) -> Option<&Arc<dyn AuthProvider>> {
        self.providers.iter().find(|p| p.name() == name)
    }

    /// Whether `credential`'s provider lets it be spent on background downloads
    /// ([`AuthProvider::allows_background_adds`]).
    pub fn allows_background_adds(&self, credential: &Credential) -> bool {
        self.provider(credential.provider).is_some_and(|p| p.allows_background_adds())
    }

    pub fn provider_names(&self) -> Vec<&'static str> {
        self.providers.iter().map(|p| p.name()).collect()
    }

    /// The presentation of every provider in the chain, in order.
    pub fn presentations(&self) -> Vec<(&'static str, AuthPresentation)> {
        self.providers.iter().map(|p| (p.name(), p.presentation())).collect()
    }

    /// Runs `op` with `credential`; when the store rejects it (`is_rejected`) and its provider
    /// says asking again may give another one (a revoked pool key), resolves once more and runs
    /// `op` again. Returns the last result and the credential it used. If the second resolve
    /// fails, the store's rejection stands: it says more than "no credential".
    pub async fn retry_if_rejected<T, E, F, Fut>(
        &self,
        request: &AuthRequest<'_>,
        credential: Credential,
        is_rejected: impl Fn(&E) -> bool,
        op: F,
    ) -> (Result<T, E>, Credential)
    where
        F: Fn(Credential) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let result = op(credential.clone()).await;
        match &result {
            Err(error) if is_rejected(error) && self.invalidate(request, &credential).await => {
                match self.resolve(request).await {
                    Ok(again) => (op(again.clone()).await, again),
                    Err(_) => (result, credential),
                }
            }
            _ => (result, credential),
        }
    }

    /// Tries each provider in order. The first grant wins; denials and failures fall through to
    /// the next provider, and when nothing grants, the most specific reason is returned: a
    /// denial before a failure before "no credentials". Each answer is counted in
    /// `chillproxy_auth_outcomes_total{provider,outcome}`.
    pub async fn resolve(&self, request: &AuthRequest<'_>) -> Result<Credential, AuthChainError> {
        let mut denied = None;
        let mut failed = None;
        for provider in &self.providers {
            let name = provider.name();
            let display = provider.presentation().display_name;
            match provider.authorize(request).await {
                AuthOutcome::NotApplicable => {
                    crate::metrics::record_auth_outcome(name, "not_applicable");
                    tracing::trace!(provider = name, store = %request.entry.c, "auth provider not applicable");
                }
                AuthOutcome::Granted(credential) => {
                    crate::metrics::record_auth_outcome(name, "granted");
                    tracing::debug!(provider = name, store = %request.entry.c, "credential granted");
                    return Ok(credential);
                }
                AuthOutcome::Denied { reason, message } => {
                    crate::metrics::record_auth_outcome(name, "denied");
                    tracing::info!(provider = name, store = %request.entry.c, reason = %message, "auth denied; trying next provider");
                    denied.get_or_insert(AuthChainError::Denied { provider: name, display, reason, message });
                }
                AuthOutcome::Failed { message } => {
                    crate::metrics::record_auth_outcome(name, "failed");
                    tracing::warn!(provider = name, store = %request.entry.c, reason = %message, "auth provider failed; trying next provider");
                    failed.get_or_insert(AuthChainError::Failed { provider: name, display, message });
                }
            }
        }
        Err(denied.or(failed).unwrap_or_else(|| AuthChainError::NoCredentials { store: request.entry.c.clone() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str, fn() -> AuthOutcome);

    #[async_trait]
    impl AuthProvider for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        async fn authorize(&self, _: &AuthRequest<'_>) -> AuthOutcome {
            (self.1)()
        }
    }

    type Scripted = (&'static str, fn() -> AuthOutcome);

    fn chain(outcomes: &[Scripted]) -> AuthChain {
        AuthChain::new(outcomes.iter().map(|(n, f)| Arc::new(Fixed(n, *f)) as Arc<dyn AuthProvider>).collect())
    }

    async fn run(chain: &AuthChain) -> Result<Credential, AuthChainError> {
        let entry = StoreEntry { c: "tb".into(), ..Default::default() };
        let device = DeviceId::from_client([127, 0, 0, 1].into(), "ua");
        chain.resolve(&AuthRequest { entry: &entry, device: &device, purpose: AuthPurpose::StreamList }).await
    }

    fn granted() -> AuthOutcome {
        AuthOutcome::Granted(Credential::new(Secret::new("k"), "b"))
    }
    fn denied() -> AuthOutcome {
        AuthOutcome::Denied { reason: DenyReason::Other, message: "no".into() }
    }
    fn failed() -> AuthOutcome {
        AuthOutcome::Failed { message: "down".into() }
    }
    fn skip() -> AuthOutcome {
        AuthOutcome::NotApplicable
    }

    #[tokio::test]
    async fn first_grant_wins_after_denials_and_failures() {
        let c = run(&chain(&[("a", denied), ("c", failed), ("b", granted)])).await.unwrap();
        assert_eq!(c.provider, "b");
        assert_eq!(c.key.expose(), "k");
    }

    #[tokio::test]
    async fn denial_beats_failure_beats_nothing() {
        let e = run(&chain(&[("a", failed), ("b", denied)])).await.unwrap_err();
        assert_eq!(
            e,
            AuthChainError::Denied { provider: "b", display: "b", reason: DenyReason::Other, message: "no".into() }
        );
        let e = run(&chain(&[("a", failed), ("b", skip)])).await.unwrap_err();
        assert_eq!(e, AuthChainError::Failed { provider: "a", display: "a", message: "down".into() });
        let e = run(&chain(&[("a", skip)])).await.unwrap_err();
        assert!(e.to_string().contains("no usable credentials"), "{e}");
        let e = run(&chain(&[])).await.unwrap_err();
        assert!(matches!(e, AuthChainError::NoCredentials { .. }));
    }
}
