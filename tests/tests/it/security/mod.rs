//! Secrets, sealing, hostile input, inbound and outbound limits.

mod hardening;
mod hostile;
mod inbound_limits;
mod outbound_policy;
mod properties;
mod sealed_configs;
mod sealed_lists;
mod secrets_audit;
mod secrets_in_logs;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

/// Every form a secret could take in a URL or body: clear, and base64 (standard and URL-safe)
/// at each of the three alignments it can have inside a longer encoded text.
fn forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_string()];
    for pad in ["", "x", "xy"] {
        let text = format!("{pad}{secret}");
        for encoded in [STANDARD.encode(&text), URL_SAFE_NO_PAD.encode(&text)] {
            // Skip the characters that depend on the padding bytes.
            let skip = pad.len() * 4 / 3 + usize::from(!pad.is_empty());
            forms.push(encoded[skip..encoded.len() - 4].to_string());
        }
    }
    forms
}

/// Fails when `text` holds any of `secrets` in any of its [`forms`] (sealed configs and lists).
pub(super) fn assert_hidden(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        for form in forms(secret) {
            assert!(!text.contains(&form), "{what} holds {secret:?} (as {form:?}):\n{text}");
        }
    }
}
