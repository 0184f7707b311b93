//! Small pieces of text handling every HTTP plugin needs: base URLs checked at build time,
//! secrets scrubbed from upstream text, `Retry-After` read, body limits named.

use std::time::{Duration, SystemTime};

use crate::secret::REDACTED;
use crate::settings::ConfigError;

/// A base URL that passed [`check_base_url`]: `http` or `https`, without a trailing `/`, so a
/// path starting with `/` can be appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks the base URL a plugin reads from `[section] key`: it must parse and be `http` or
/// `https`. Surrounding spaces and trailing slashes are dropped.
pub fn check_base_url(section: &str, key: &str, url: &str) -> Result<BaseUrl, ConfigError> {
    let url = url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| ConfigError::new(format!("[{section}] {key} {url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::new(format!("[{section}] {key} must be http or https, got {url:?}")));
    }
    Ok(BaseUrl(url.to_string()))
}

/// `text` with every occurrence of `secret` replaced by `[redacted]`. A blank secret changes
/// nothing (it would match everywhere).
pub fn scrub(text: &str, secret: &str) -> String {
    if secret.trim().is_empty() {
        text.to_string()
    } else {
        text.replace(secret, REDACTED)
    }
}

/// Upstream text made safe to show in an error: `secret` scrubbed, control characters and runs
/// of whitespace turned into one space, capped at 200 characters (with `…`).
pub fn clean_text(raw: &str, secret: &str) -> String {
    const MAX_CHARS: usize = 200;
    let scrubbed = scrub(raw, secret);
    let words: Vec<&str> =
        scrubbed.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).collect();
    let joined = words.join(" ");
    if joined.chars().count() > MAX_CHARS {
        let mut cut: String = joined.chars().take(MAX_CHARS).collect();
        cut.push('…');
        cut
    } else {
        joined
    }
}

/// A `Retry-After` value: seconds (`17`, also `1.5`) or an HTTP date. A date that is not in the
/// future gives `None`: there is nothing to wait for, and the caller keeps its own pause.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    parse_retry_after_at(value, SystemTime::now())
}

fn parse_retry_after_at(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        return Some(seconds).filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9).map(Duration::from_secs_f64);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    date.duration_since(now).ok().filter(|wait| !wait.is_zero())
}

/// A byte count as a limit is written in messages: `2 MiB`, `64 KiB` or `1500 bytes`.
pub fn size_text(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds() {
        assert_eq!(parse_retry_after("17"), Some(Duration::from_secs(17)));
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-3"), None);
    }

    #[test]
    fn retry_after_reads_http_dates_in_all_three_formats() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        for later in ["Wed, 21 Oct 2015 07:28:30 GMT", "Wednesday, 21-Oct-15 07:28:30 GMT", "Wed Oct 21 07:28:30 2015"]
        {
            assert_eq!(parse_retry_after_at(later, now), Some(Duration::from_secs(30)), "{later}");
        }
        assert_eq!(parse_retry_after_at("Wed, 21 Oct 2015 07:28:00 GMT", now), None, "now: no wait");
        assert_eq!(parse_retry_after_at("Tue, 20 Oct 2015 07:28:00 GMT", now), None, "past: no wait");
        assert_eq!(parse_retry_after_at("soon", now), None);
        assert_eq!(parse_retry_after_at("", now), None);
    }

    #[test]
    fn scrub_removes_every_copy_and_ignores_a_blank_secret() {
        assert_eq!(scrub("token tb-1 and tb-1 again", "tb-1"), "token [redacted] and [redacted] again");
        assert_eq!(scrub("nothing here", "  "), "nothing here");
        assert_eq!(scrub("nothing here", ""), "nothing here");
    }

    #[test]
    fn sizes_are_written_in_the_largest_exact_unit() {
        assert_eq!(size_text(2 * 1024 * 1024), "2 MiB");
        assert_eq!(size_text(64 * 1024), "64 KiB");
        assert_eq!(size_text(1500), "1500 bytes");
        assert_eq!(size_text(1024 * 1024 + 1024), "1025 KiB");
    }

    #[test]
    fn base_urls_are_http_or_https_and_lose_trailing_slashes() {
        assert_eq!(
            check_base_url("store.x", "api_url", " https://api.example/ ").unwrap().as_str(),
            "https://api.example"
        );
        assert_eq!(check_base_url("store.x", "api_url", "http://h:3000//").unwrap().as_str(), "http://h:3000");
        let err = check_base_url("store.x", "api_url", "not a url").unwrap_err();
        assert!(err.0.starts_with("[store.x] api_url \"not a url\" is not a URL: "), "{err}");
        let err = check_base_url("auth.x", "api_url", "ftp://h").unwrap_err();
        assert_eq!(err.0, "[auth.x] api_url must be http or https, got \"ftp://h\"");
    }
}
