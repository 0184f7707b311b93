//! The configure page's credential check: per store entry, whether the auth chain grants a
//! credential and what the store says about the account behind it (its subscription status
//! only). It never returns a token, a pool key, an account id or an email address.

use chillproxy_core::{AuthPresentation, AuthPurpose, AuthRequest, Credential, DeviceId, StoreEntry, StoreError};
use serde::Serialize;

use crate::plugins::Plugins;
use crate::problems::{auth_problem, store_problem};

/// The check's answer for one store entry, in config order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct StoreCheck {
    /// The store code from the config.
    pub c: String,
    /// The store's display name.
    pub name: String,
    /// A credential was granted and the store accepted it.
    pub ok: bool,
    /// The auth provider that granted the credential (its registry name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<&'static str>,
    /// What the store says about the account. Only the subscription status: the account id and
    /// email are personal data and are left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountStatus>,
    /// What happened, for the user (the stream list's wording on failures).
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AccountStatus {
    /// `premium`, `trial` or `expired`.
    pub subscription: String,
}

#[derive(Debug, Serialize)]
pub(super) struct CheckAnswer {
    pub stores: Vec<StoreCheck>,
}

/// Asks the auth chain for a credential for `entry` (as the configure purpose, for this
/// device) and the store for the account behind it. A credential the store rejects is
/// forgotten and asked for again, once, as the stream list does.
pub(super) async fn check_store(plugins: &Plugins, entry: &StoreEntry, device: &DeviceId) -> StoreCheck {
    let mut answer = StoreCheck {
        c: entry.c.clone(),
        name: entry.c.clone(),
        ok: false,
        auth: None,
        account: None,
        message: String::new(),
    };
    let Some(store) = plugins.store_by_code(&entry.c) else {
        answer.message = "This server does not offer this store.".into();
        return answer;
    };
    let name = store.display_name();
    answer.name = name.to_string();
    let request = AuthRequest { entry, device, purpose: AuthPurpose::Configure };
    let credential = match plugins.auth.resolve(&request).await {
        Ok(credential) => credential,
        Err(error) => {
            answer.message = auth_problem(name, &error).description;
            return answer;
        }
    };
    let rejected = |e: &StoreError| matches!(e, StoreError::Unauthorized { .. });
    let account = |credential: Credential| {
        let store = store.clone();
        async move { store.account(&credential).await }
    };
    let (result, credential) = plugins.auth.retry_if_rejected(&request, credential, rejected, account).await;
    answer.auth = Some(credential.provider);
    match result {
        Ok(account) => {
            let subscription: String = account.subscription.chars().take(32).collect();
            answer.ok = true;
            let presentations = plugins.auth.presentations();
            answer.message = granted_message(entry, &presentations, credential.provider, name, &subscription);
            answer.account = Some(AccountStatus { subscription });
        }
        Err(error) => answer.message = store_problem(name, &error, &plugins.available_stores).description,
    }
    answer
}

/// "… works: the X account is premium", naming who vouched for the credential, and noting a
/// user id (an auth provider's own entry field) that was set but not what worked.
pub(super) fn granted_message(
    entry: &StoreEntry,
    presentations: &[(&'static str, AuthPresentation)],
    provider: &str,
    store: &str,
    subscription: &str,
) -> String {
    let presentation = presentations.iter().find(|(name, _)| *name == provider).map(|(_, p)| *p);
    let who = match presentation {
        Some(p) => p.credential_label.to_string(),
        None => format!("The {provider} credential"),
    };
    let mut message = format!("{who} works: the {store} account is {subscription}.");
    // A field of another provider that the user filled in, and that did not give this credential.
    let unused = presentations
        .iter()
        .filter(|(name, _)| *name != provider)
        .filter_map(|(_, p)| p.entry_field)
        .find(|field| field.key == "auth" && entry.auth().is_some());
    if let Some(field) = unused {
        message.push(' ');
        message.push_str(field.unused_note);
    }
    if subscription == "expired" {
        message.push_str(" The account has no active plan, so streams may not play.");
    }
    message
}
