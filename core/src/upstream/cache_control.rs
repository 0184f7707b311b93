//! How long a reply may be kept, from its `Cache-Control` header (RFC 9111, section 5.2): the
//! one reading every plugin that keeps replies uses.
//!
//! - Directive names are case-insensitive; directives are separated by commas.
//! - `max-age=N` and `s-maxage=N` take delta-seconds: digits only. A quoted value (`"60"`, which
//!   RFC 9111 says senders must not generate) or any other spelling is ignored, as if the
//!   directive were absent. A value too large to represent counts as 2^31 seconds (section 1.2.2).
//! - A directive given twice counts once: the first occurrence.
//! - `no-store` and a bare `no-cache` mean "do not keep" (zero). A `no-cache="field"` only
//!   concerns those header fields, not the body.
//! - chillproxy keeps what it derives from a reply for every user, as a shared cache does, so
//!   `s-maxage` wins over `max-age` (section 5.2.2.10). `private` is not read: what is kept is
//!   the public part of a public listing, never a user's own answer.

use std::time::Duration;

/// The greatest delta-seconds value a cache must represent (RFC 9111, section 1.2.2).
const GREATEST_DELTA_SECONDS: u64 = 1 << 31;

/// The directives of one `Cache-Control` value that decide how long to keep a reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheControl {
    pub max_age: Option<Duration>,
    pub s_maxage: Option<Duration>,
    pub no_store: bool,
    /// A bare `no-cache` (not one naming header fields).
    pub no_cache: bool,
}

impl CacheControl {
    /// Reads a `Cache-Control` value; what it does not understand is left out.
    pub fn parse(value: &str) -> Self {
        let mut parsed = Self::default();
        let (mut seen_max_age, mut seen_s_maxage) = (false, false);
        for directive in value.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let (name, argument) = match directive.split_once('=') {
                Some((name, argument)) => (name, Some(argument)),
                None => (directive, None),
            };
            let name = name.to_ascii_lowercase();
            match (name.as_str(), argument) {
                ("no-store", None) => parsed.no_store = true,
                ("no-cache", None) => parsed.no_cache = true,
                ("max-age", Some(argument)) if !seen_max_age => {
                    seen_max_age = true;
                    parsed.max_age = delta_seconds(argument);
                }
                ("s-maxage", Some(argument)) if !seen_s_maxage => {
                    seen_s_maxage = true;
                    parsed.s_maxage = delta_seconds(argument);
                }
                _ => {}
            }
        }
        parsed
    }

    /// How long a shared cache may keep the reply: zero for `no-store` or `no-cache`, else
    /// `s-maxage`, else `max-age`; `None` when the value says nothing about it.
    pub fn lifetime(&self) -> Option<Duration> {
        if self.no_store || self.no_cache {
            return Some(Duration::ZERO);
        }
        self.s_maxage.or(self.max_age)
    }
}

/// `1*DIGIT`, saturating at 2^31.
fn delta_seconds(text: &str) -> Option<Duration> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds = text.parse::<u64>().unwrap_or(GREATEST_DELTA_SECONDS).min(GREATEST_DELTA_SECONDS);
    Some(Duration::from_secs(seconds))
}

/// How long a reply with this `Cache-Control` value may be kept ([`CacheControl::lifetime`]):
/// `Some(ZERO)` for `no-store`/`no-cache`, `None` when it does not say.
pub fn max_age(cache_control: &str) -> Option<Duration> {
    CacheControl::parse(cache_control).lifetime()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Option<Duration> {
        Some(Duration::from_secs(n))
    }

    #[test]
    fn max_age_and_its_absence() {
        assert_eq!(max_age("public, max-age=7200"), secs(7200));
        assert_eq!(max_age("max-age=0"), secs(0));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age(""), None);
        assert_eq!(max_age(" , ,max-age=5,"), secs(5));
    }

    #[test]
    fn names_are_case_insensitive() {
        assert_eq!(max_age("Public, Max-Age=60"), secs(60));
        assert_eq!(max_age("NO-STORE"), secs(0));
        assert_eq!(max_age("No-Cache, max-age=60"), secs(0));
    }

    #[test]
    fn no_store_and_no_cache_mean_zero_wherever_they_stand() {
        assert_eq!(max_age("no-store"), secs(0));
        assert_eq!(max_age("max-age=600, no-store"), secs(0));
        assert_eq!(max_age("no-cache"), secs(0));
        // Only the named header fields are concerned, not the reply.
        assert_eq!(max_age("no-cache=\"Set-Cookie\", max-age=60"), secs(60));
    }

    #[test]
    fn values_must_be_plain_digits() {
        assert_eq!(max_age("max-age=\"60\""), None, "quoted values are rejected");
        assert_eq!(max_age("max-age=-1"), None);
        assert_eq!(max_age("max-age=1.5"), None);
        assert_eq!(max_age("max-age=abc"), None);
        assert_eq!(max_age("max-age="), None);
        assert_eq!(max_age("max-age = 60"), None, "no whitespace around =");
        assert_eq!(max_age("max-age"), None);
        assert_eq!(max_age("max-age=99999999999999999999999"), secs(1 << 31), "too large saturates");
        assert_eq!(max_age("max-age=4294967296"), secs(1 << 31));
    }

    #[test]
    fn the_first_occurrence_counts() {
        assert_eq!(max_age("max-age=60, max-age=7200"), secs(60));
        assert_eq!(max_age("max-age=x, max-age=7200"), None, "an invalid first value is not replaced");
    }

    #[test]
    fn s_maxage_wins_for_a_shared_cache() {
        assert_eq!(max_age("max-age=60, s-maxage=600"), secs(600));
        assert_eq!(max_age("S-MAXAGE=600"), secs(600));
        assert_eq!(max_age("s-maxage=\"600\", max-age=60"), secs(60));
        assert_eq!(max_age("s-maxage=600, no-store"), secs(0));
        let parsed = CacheControl::parse("public, max-age=60, s-maxage=600");
        assert_eq!(parsed, CacheControl { max_age: secs(60), s_maxage: secs(600), no_store: false, no_cache: false });
    }
}
