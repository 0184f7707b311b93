//! Item dates: `<pubDate>` in RFC 822/2822 form (`Tue, 02 Aug 2016 12:50:06 +0000`, what the
//! Newznab spec asks for) and the forms indexers send instead (`2024-07-05 06:43:15`, WtF[nZb];
//! `2024-07-05T06:43:15Z`).

/// Seconds since 1970 (UTC) of a date in one of the forms above, or `None`.
pub fn parse_date(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() || text.len() > 64 {
        return None;
    }
    if text.as_bytes().first().is_some_and(u8::is_ascii_digit) && text.as_bytes().get(4) == Some(&b'-') {
        return iso(text);
    }
    rfc2822(text)
}

/// `2024-07-05 06:43:15`, `2024-07-05T06:43:15Z`, `2024-07-05T06:43:15+02:00`.
fn iso(text: &str) -> Option<i64> {
    let (date, rest) = text.split_at(text.find([' ', 'T'])?);
    let mut parts = date.split('-');
    let (year, month, day) = (num(parts.next()?)?, num(parts.next()?)?, num(parts.next()?)?);
    let rest = &rest[1..];
    let time_end = rest.find(['Z', '+', '-']).unwrap_or(rest.len());
    let (time, zone) = rest.split_at(time_end);
    let seconds = clock(time)?;
    let offset = match zone {
        "" | "Z" => 0,
        zone => offset(&zone.replace(':', ""))?,
    };
    Some(civil(year, month, day)? + seconds - offset)
}

/// `[Tue, ]02 Aug 2016 12:50:06 +0000` (or a zone name).
fn rfc2822(text: &str) -> Option<i64> {
    let text = text.split_once(',').map_or(text, |(_, rest)| rest);
    let mut words = text.split_whitespace();
    let day = num(words.next()?)?;
    let month = month(words.next()?)?;
    let year = num(words.next()?)?;
    let year = if year < 100 { year + if year < 50 { 2000 } else { 1900 } } else { year };
    let seconds = clock(words.next()?)?;
    let offset = words.next().map_or(Some(0), offset)?;
    Some(civil(year, month, day)? + seconds - offset)
}

fn num(text: &str) -> Option<i64> {
    let text = text.trim();
    (!text.is_empty() && text.len() <= 4 && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok())?
}

/// `HH:MM[:SS[.frac]]` as seconds.
fn clock(text: &str) -> Option<i64> {
    let text = text.split('.').next()?;
    let mut parts = text.split(':');
    let (h, m) = (num(parts.next()?)?, num(parts.next()?)?);
    let s = parts.next().map_or(Some(0), num)?;
    (h < 24 && m < 60 && s <= 60).then_some(h * 3600 + m * 60 + s)
}

/// `+0200`, `-0400`, `GMT`, `UTC`, `UT`, `Z`, US zone names; seconds east of UTC.
fn offset(zone: &str) -> Option<i64> {
    let named = match zone.to_ascii_uppercase().as_str() {
        "GMT" | "UTC" | "UT" | "Z" => Some(0),
        "EST" => Some(-5),
        "EDT" | "CST" => Some(if zone.eq_ignore_ascii_case("EDT") { -4 } else { -6 }),
        "CDT" | "MST" => Some(if zone.eq_ignore_ascii_case("CDT") { -5 } else { -7 }),
        "MDT" | "PST" => Some(if zone.eq_ignore_ascii_case("MDT") { -6 } else { -8 }),
        "PDT" => Some(-7),
        _ => None,
    };
    if let Some(hours) = named {
        return Some(hours * 3600);
    }
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    if digits.len() != 4 {
        return None;
    }
    let (h, m) = (num(&digits[..2])?, num(&digits[2..])?);
    Some(sign * (h * 3600 + m * 60))
}

fn month(name: &str) -> Option<i64> {
    const NAMES: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let name = name.get(..3)?.to_ascii_lowercase();
    NAMES.iter().position(|m| *m == name).map(|i| i as i64 + 1)
}

/// Seconds since 1970 of midnight UTC on a proleptic Gregorian date (Howard Hinnant's
/// days-from-civil).
fn civil(year: i64, month: i64, day: i64) -> Option<i64> {
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || !(1970..=9999).contains(&year) {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_the_forms_indexers_send() {
        assert_eq!(parse_date("Tue, 02 Aug 2016 12:50:06 +0000"), Some(1_470_142_206));
        assert_eq!(parse_date("02 Aug 2016 14:50:06 +0200"), Some(1_470_142_206));
        assert_eq!(parse_date("Tue, 02 Aug 2016 08:50:06 EDT"), Some(1_470_142_206));
        assert_eq!(parse_date("Tue, 02 Aug 2016 12:50:06 GMT"), Some(1_470_142_206));
        assert_eq!(parse_date("2016-08-02 12:50:06"), Some(1_470_142_206));
        assert_eq!(parse_date("2016-08-02T12:50:06Z"), Some(1_470_142_206));
        assert_eq!(parse_date("2016-08-02T14:50:06+02:00"), Some(1_470_142_206));
        assert_eq!(parse_date("1970-01-01 00:00:00"), Some(0));
        for bad in ["", "yesterday", "Tue, 32 Aug 2016 12:50:06 +0000", "2016-13-02 12:50:06", "Tue, 02 Foo 2016 1:2"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
