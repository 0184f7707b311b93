//! What the user reads when something goes wrong, in one place: a [`Problem`] has a short title
//! (the ⚠️ stream's name) and a description that names the cause and what to do. Streams,
//! playback and the configure check all word problems here, from typed errors; nothing here
//! knows which plugin answered: names come from the plugins themselves.

use chillproxy_core::{AuthChainError, DenyReason, StoreError};

/// A problem, phrased for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub title: String,
    pub description: String,
}

impl Problem {
    fn new(title: impl Into<String>, description: impl Into<String>) -> Self {
        Self { title: title.into(), description: description.into() }
    }
}

/// Why the auth chain gave no credential for `store` (its display name).
pub(crate) fn auth_problem(store: &str, error: &AuthChainError) -> Problem {
    match error {
        AuthChainError::Denied { reason: DenyReason::DeviceLimit { .. }, display, message, .. } => Problem::new(
            "Device limit reached",
            format!(
                "Device limit reached: {message}. Remove a device from your {display} account, or add your own {store} \
                 API token."
            ),
        ),
        AuthChainError::Denied { reason: DenyReason::Inactive, display, message, .. } => Problem::new(
            "Account not active",
            format!("{display}: your account is not active: {message}. Renew it, or add your own {store} API token."),
        ),
        AuthChainError::Denied { message, .. } => {
            Problem::new("Access denied", format!("{store}: access denied: {message}."))
        }
        AuthChainError::Failed { display, message: cause, .. } => Problem::new(
            format!("{} is unavailable", capitalised(display)),
            format!(
                "{} is unavailable ({cause}). Try again in a minute, or add your own {store} API token.",
                capitalised(display)
            ),
        ),
        AuthChainError::NoCredentials { .. } => Problem::new("No credentials", format!("{store}: {error}.")),
    }
}

/// What a store's error means for the user. `available` names the stores of this server that
/// work (not stubs), for the advice on a store that is not written yet.
pub(crate) fn store_problem(store: &str, error: &StoreError, available: &[&str]) -> Problem {
    match error {
        StoreError::Unauthorized { .. } => Problem::new(
            format!("{store} rejected the key"),
            format!("{store} rejected the API key. Check the token in your config, or ask your provider."),
        ),
        StoreError::NotImplemented { .. } => Problem::new(
            format!("{store} not available"),
            match use_instead(available) {
                advice if advice.is_empty() => {
                    format!("{store} support is not available yet; your other stores still work.")
                }
                advice => format!("{store} support is not available yet.{advice}; your other stores still work."),
            },
        ),
        StoreError::RateLimited { retry_after, .. } => Problem::new(
            format!("{store} is busy"),
            match retry_after {
                Some(after) => format!("{store} is rate limiting requests; try again in {} s.", after.as_secs().max(1)),
                None => format!("{store} is rate limiting requests; try again in a minute."),
            },
        ),
        StoreError::BudgetExhausted { message, retry_after, .. } => Problem::new(
            format!("{store} limit reached"),
            match retry_after {
                Some(after) => format!("{message}. Try again in {}.", wait_text(*after)),
                None => format!("{message}."),
            },
        ),
        StoreError::Refused { .. } => {
            Problem::new(format!("{store} refuses this release"), format!("{error}. Pick another stream."))
        }
        StoreError::DownloadFailed { .. } => {
            Problem::new(format!("{store} could not download it"), format!("{error}. Pick another stream."))
        }
        other => Problem::new(format!("{store} failed"), format!("{other}.")),
    }
}

/// `42 s`, `3 min`: how long to wait, rounded up, in the unit a person would use.
fn wait_text(after: std::time::Duration) -> String {
    let secs = after.as_secs().max(1);
    if secs < 120 {
        format!("{secs} s")
    } else {
        format!("{} min", secs.div_ceil(60))
    }
}

/// " Use A or B for now" (with a leading space), or nothing when no store works.
pub(crate) fn use_instead(available: &[&str]) -> String {
    match available {
        [] => String::new(),
        [one] => format!(" Use {one} for now"),
        [first @ .., last] => format!(" Use {} or {last} for now", first.join(", ")),
    }
}

/// `your API token` → `Your API token`: display names may start a sentence.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_the_provider_that_failed() {
        let failed = |display| AuthChainError::Failed { provider: "x", display, message: "timed out".into() };
        let problem = auth_problem("Swift Store", &failed("Member Pool"));
        assert_eq!(problem.title, "Member Pool is unavailable");
        assert!(problem.description.starts_with("Member Pool is unavailable (timed out)."));
        let problem = auth_problem("Slow Store", &failed("Acme vault"));
        assert_eq!(problem.title, "Acme vault is unavailable");
        assert!(!problem.description.contains("Member Pool"), "{problem:?}");
    }

    #[test]
    fn budgets_and_failed_downloads_read_as_sentences() {
        let over = StoreError::BudgetExhausted {
            store: "Acme",
            retry_after: Some(std::time::Duration::from_secs(1500)),
            message: "Acme's hourly limit for new downloads is reached; cached streams still play".into(),
        };
        assert_eq!(
            store_problem("Acme", &over, &[]).description,
            "Acme's hourly limit for new downloads is reached; cached streams still play. Try again in 25 min."
        );
        assert_eq!(wait_text(std::time::Duration::from_millis(300)), "1 s");
        assert_eq!(wait_text(std::time::Duration::from_secs(119)), "119 s");
        let failed = StoreError::DownloadFailed { store: "Acme", message: "no one is seeding it".into() };
        let problem = store_problem("Acme", &failed, &[]);
        assert_eq!(
            problem.description,
            "Acme could not download this torrent: no one is seeding it. Pick another stream."
        );
    }

    #[test]
    fn a_stub_store_points_at_the_stores_that_work() {
        let stub = StoreError::NotImplemented { store: "Slow Store", operation: "add_magnet" };
        assert_eq!(
            store_problem("Slow Store", &stub, &["Swift Store"]).description,
            "Slow Store support is not available yet. Use Swift Store for now; your other stores still work."
        );
        assert_eq!(
            store_problem("Slow Store", &stub, &[]).description,
            "Slow Store support is not available yet; your other stores still work."
        );
        assert_eq!(use_instead(&["A", "B", "C"]), " Use A, B or C for now");
    }
}
