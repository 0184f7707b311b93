//! TorBox error codes and HTTP statuses mapped to [`StoreError`], and the message hygiene every
//! error goes through (length cap, no control characters, never the API key).

use std::time::Duration;

use chillproxy_core::upstream::scrub;
use chillproxy_core::StoreError;

/// The store name shown in errors.
pub(crate) const STORE: &str = crate::IDENTITY.display_name;

/// Longest message kept from TorBox (its `detail`, a text body, a transport error).
const MAX_MESSAGE_CHARS: usize = 200;

/// The kind of failure a TorBox error code stands for (`store/torbox/error.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Unauthorized,
    PaymentRequired,
    LimitExceeded,
    RateLimited,
    NotFound,
    BadRequest,
    Unavailable,
    DownloadFailed,
    Upstream,
}

/// Maps one TorBox `error` code. Codes are compared without regard to case.
pub(crate) fn kind_of_code(code: &str) -> Kind {
    match code.trim().to_ascii_uppercase().as_str() {
        "NO_AUTH" | "BAD_TOKEN" | "AUTH_ERROR" | "OAUTH_VERIFICATION_ERROR" => Kind::Unauthorized,
        "PLAN_RESTRICTED_FEATURE" | "NOT_ALLOWED" => Kind::PaymentRequired,
        "MONTHLY_LIMIT" | "ACTIVE_LIMIT" => Kind::LimitExceeded,
        "COOLDOWN_LIMIT" | "RATE_LIMIT_EXCEEDED" => Kind::RateLimited,
        "ENDPOINT_NOT_FOUND" | "ITEM_NOT_FOUND" => Kind::NotFound,
        "INVALID_OPTION"
        | "BOZO_RSS_FEED"
        | "MISSING_REQUIRED_OPTION"
        | "TOO_MANY_OPTIONS"
        | "BOZO_TORRENT"
        | "BOZO_NZB"
        | "INVALID_INPUT"
        // A link that redirects (TorBox does not follow them): usenet uploads the NZB instead.
        | "REDIRECT_ERROR"
        | "INVALID_DEVICE" => Kind::BadRequest,
        // Server faults at TorBox: they pass, so they read as "unavailable", not as our failure.
        "NO_SERVERS_AVAILABLE_ERROR"
        | "LINK_OFFLINE"
        | "VENDOR_DISABLED"
        | "DOWNLOAD_SERVER_ERROR"
        | "DATABASE_ERROR" => Kind::Unavailable,
        // The torrent itself cannot be downloaded on this account; retrying does not help.
        "DOWNLOAD_TOO_LARGE" | "TOO_MUCH_DATA" => Kind::DownloadFailed,
        // DUPLICATE_ITEM (add_magnet finds the existing torrent), UNKNOWN_ERROR, ...
        _ => Kind::Upstream,
    }
}

/// The start of the message for `DUPLICATE_ITEM`, which `add_magnet` recognises to look for
/// the torrent that is already there.
pub(crate) const DUPLICATE: &str = "the torrent is already in the account";

/// The typed error for a TorBox error code. Codes whose `detail` reads badly on its own
/// (limits, server faults, sizes) get a sentence that says what happened and what still
/// works, followed by TorBox's detail when there is one; the others keep TorBox's detail
/// (`fallback`: the detail, else the code).
pub(crate) fn error_of_code(
    code: &str,
    detail: Option<String>,
    fallback: String,
    retry_after: Option<Duration>,
) -> StoreError {
    let kind = kind_of_code(code);
    let sentence = match code.trim().to_ascii_uppercase().as_str() {
        "ACTIVE_LIMIT" => "the account is already downloading as many torrents as it may; cached streams still play",
        "MONTHLY_LIMIT" => "the account's monthly download limit is reached",
        "COOLDOWN_LIMIT" => "TorBox asks this account to wait before adding more downloads; cached streams still play",
        "DOWNLOAD_TOO_LARGE" => "it is larger than the account's plan allows",
        "TOO_MUCH_DATA" => "it holds more data than TorBox accepts",
        "DOWNLOAD_SERVER_ERROR" => "its download servers had an error; try again in a few minutes",
        "DATABASE_ERROR" => "its database had an error; try again in a few minutes",
        "DUPLICATE_ITEM" => DUPLICATE,
        _ => return error(kind, fallback, retry_after),
    };
    let message = match detail {
        Some(detail) => format!("{sentence} ({})", detail.trim_end_matches(['.', ' '])),
        None => sentence.to_string(),
    };
    error(kind, message, retry_after)
}

/// Maps an HTTP status when the reply carries no TorBox error code.
pub(crate) fn kind_of_status(status: u16) -> Kind {
    match status {
        401 | 403 => Kind::Unauthorized,
        402 => Kind::PaymentRequired,
        404 | 410 => Kind::NotFound,
        400 | 405 | 409 | 413 | 415 | 422 => Kind::BadRequest,
        429 => Kind::RateLimited,
        502..=599 => Kind::Unavailable,
        _ => Kind::Upstream,
    }
}

/// Builds the error. `message` must already be clean (see [`clean_message`]).
pub(crate) fn error(kind: Kind, message: String, retry_after: Option<Duration>) -> StoreError {
    let store = STORE;
    match kind {
        Kind::Unauthorized => StoreError::Unauthorized { store, message },
        Kind::PaymentRequired => StoreError::PaymentRequired { store, message },
        Kind::LimitExceeded => StoreError::LimitExceeded { store, message },
        Kind::RateLimited => StoreError::RateLimited { store, retry_after, message },
        Kind::NotFound => StoreError::NotFound { store, message },
        Kind::BadRequest => StoreError::BadRequest { store, message },
        Kind::Unavailable => StoreError::Unavailable { store, message },
        Kind::DownloadFailed => StoreError::DownloadFailed { store, message },
        Kind::Upstream => StoreError::Upstream { store, message },
    }
}

/// Makes upstream text safe to show: the API key (if it appears) is replaced, control
/// characters and runs of whitespace become one space, and the result is capped at about 200
/// characters.
pub(crate) fn clean_message(raw: &str, key: &str) -> String {
    let scrubbed = scrub(raw, key);
    let mut out = String::with_capacity(scrubbed.len().min(MAX_MESSAGE_CHARS + 4));
    let mut chars = 0;
    let mut pending_space = false;
    for c in scrubbed.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            continue;
        }
        if chars >= MAX_MESSAGE_CHARS {
            out.push('…');
            return out;
        }
        if pending_space {
            out.push(' ');
            chars += 1;
            pending_space = false;
        }
        out.push(c);
        chars += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_documented_code() {
        for code in ["NO_AUTH", "BAD_TOKEN", "AUTH_ERROR", "OAUTH_VERIFICATION_ERROR", "bad_token"] {
            assert_eq!(kind_of_code(code), Kind::Unauthorized, "{code}");
        }
        assert_eq!(kind_of_code("PLAN_RESTRICTED_FEATURE"), Kind::PaymentRequired);
        // AIOStreams' additions (usenet): a feature the plan lacks, a rate limit, bad input.
        assert_eq!(kind_of_code("NOT_ALLOWED"), Kind::PaymentRequired);
        assert_eq!(kind_of_code("RATE_LIMIT_EXCEEDED"), Kind::RateLimited);
        assert_eq!(kind_of_code("INVALID_INPUT"), Kind::BadRequest);
        // A usenet link that redirects: TorBox does not follow it, the NZB is uploaded instead.
        assert_eq!(kind_of_code("REDIRECT_ERROR"), Kind::BadRequest);
        assert_eq!(kind_of_code("MONTHLY_LIMIT"), Kind::LimitExceeded);
        assert_eq!(kind_of_code("ACTIVE_LIMIT"), Kind::LimitExceeded);
        assert_eq!(kind_of_code("COOLDOWN_LIMIT"), Kind::RateLimited);
        assert_eq!(kind_of_code("ENDPOINT_NOT_FOUND"), Kind::NotFound);
        assert_eq!(kind_of_code("ITEM_NOT_FOUND"), Kind::NotFound);
        for code in [
            "INVALID_OPTION",
            "BOZO_RSS_FEED",
            "MISSING_REQUIRED_OPTION",
            "TOO_MANY_OPTIONS",
            "BOZO_TORRENT",
            "BOZO_NZB",
            "INVALID_DEVICE",
        ] {
            assert_eq!(kind_of_code(code), Kind::BadRequest, "{code}");
        }
        for code in
            ["NO_SERVERS_AVAILABLE_ERROR", "LINK_OFFLINE", "VENDOR_DISABLED", "DOWNLOAD_SERVER_ERROR", "DATABASE_ERROR"]
        {
            assert_eq!(kind_of_code(code), Kind::Unavailable, "{code}");
        }
        for code in ["DOWNLOAD_TOO_LARGE", "TOO_MUCH_DATA"] {
            assert_eq!(kind_of_code(code), Kind::DownloadFailed, "{code}");
        }
        for code in ["UNKNOWN_ERROR", "DIFF_ISSUE", "DUPLICATE_ITEM", "SOMETHING_NEW", ""] {
            assert_eq!(kind_of_code(code), Kind::Upstream, "{code}");
        }
    }

    #[test]
    fn unclear_codes_get_a_sentence_and_keep_torboxs_detail() {
        let e = error_of_code("DOWNLOAD_TOO_LARGE", Some("Too big for your plan..".into()), String::new(), None);
        assert_eq!(
            e.to_string(),
            "TorBox could not download this torrent: it is larger than the account's plan allows (Too big for your plan)"
        );
        let e = error_of_code("MONTHLY_LIMIT", None, "MONTHLY_LIMIT".into(), None);
        assert_eq!(e.to_string(), "TorBox account limit reached: the account's monthly download limit is reached");
        let e = error_of_code("BAD_TOKEN", Some("Invalid API token.".into()), "Invalid API token.".into(), None);
        assert_eq!(e, StoreError::Unauthorized { store: "TorBox", message: "Invalid API token.".into() });
    }

    #[test]
    fn maps_statuses() {
        assert_eq!(kind_of_status(401), Kind::Unauthorized);
        assert_eq!(kind_of_status(403), Kind::Unauthorized);
        assert_eq!(kind_of_status(404), Kind::NotFound);
        assert_eq!(kind_of_status(429), Kind::RateLimited);
        assert_eq!(kind_of_status(502), Kind::Unavailable);
        assert_eq!(kind_of_status(503), Kind::Unavailable);
        assert_eq!(kind_of_status(522), Kind::Unavailable);
        assert_eq!(kind_of_status(500), Kind::Upstream);
        assert_eq!(kind_of_status(200), Kind::Upstream);
    }

    #[test]
    fn builds_typed_errors() {
        let e = error(Kind::RateLimited, "slow down".into(), Some(Duration::from_secs(7)));
        assert_eq!(
            e,
            StoreError::RateLimited {
                store: "TorBox",
                retry_after: Some(Duration::from_secs(7)),
                message: "slow down".into()
            }
        );
        let e = error(Kind::Unauthorized, "bad".into(), None);
        assert_eq!(e.to_string(), "TorBox rejected the API key: bad");
    }

    #[test]
    fn messages_are_short_single_line_and_keyless() {
        assert_eq!(clean_message("  a\n\tb  c \r\n", "k3y"), "a b c");
        assert_eq!(clean_message("token tb-secret-123 is bad", "tb-secret-123"), "token [redacted] is bad");
        let long = "x".repeat(5000);
        let cleaned = clean_message(&long, "");
        assert_eq!(cleaned.chars().count(), 201);
        assert!(cleaned.ends_with('…'));
        let multibyte = "é".repeat(300);
        assert_eq!(clean_message(&multibyte, "").chars().count(), 201);
    }
}
