//! Stored timestamps shown as RFC 3339 UTC (`2024-01-15T10:30:00Z`).
//!
//! SQLite keeps `CURRENT_TIMESTAMP` as `2024-01-15 10:30:00` (UTC); the Go
//! server's driver writes `2024-01-15 12:30:00.123456789+02:00`. Both become
//! `2024-01-15T10:30:00Z` here, in Rust: SQLite's `strftime` cost a third of
//! a `show`. Text in no known form is shown as it is.

/// Formats a stored timestamp as RFC 3339 UTC, whole seconds.
///
/// ```
/// # use runqy_vault::timestamp::to_rfc3339;
/// assert_eq!(to_rfc3339("2024-01-15 10:30:00"), "2024-01-15T10:30:00Z");
/// assert_eq!(to_rfc3339("2024-01-01 01:30:00.5+02:00"), "2023-12-31T23:30:00Z");
/// assert_eq!(to_rfc3339("yesterday"), "yesterday");
/// ```
pub fn to_rfc3339(stored: &str) -> String {
    parse(stored).map_or_else(|| stored.to_owned(), format_utc)
}

/// A stored timestamp as seconds since the Unix epoch, `None` in no known form.
pub(crate) fn to_unix(stored: &str) -> Option<i64> {
    parse(stored)
}

/// Seconds since the Unix epoch, shown as RFC 3339 UTC.
pub fn from_unix(seconds: i64) -> String {
    format_utc(seconds)
}

fn format_utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return format!(
            "{y}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
    }
    // Written digit by digit: `format!` was most of a `show`'s cost per entry.
    let mut out = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, secs / 3600);
    put(14, 2, secs / 60 % 60);
    put(17, 2, secs % 60);
    String::from_utf8(out.to_vec()).expect("ASCII digits")
}

/// `YYYY-MM-DD[ T]HH:MM:SS[.fraction][Z|±HH:MM]` as seconds since the epoch.
fn parse(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    // ASCII digits only, folded by hand: `str::parse` was most of a show's per-entry cost.
    let num = |from: usize, to: usize| -> Option<i64> {
        b[from..to].iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest.as_bytes() {
        [] | [b'Z'] => 0,
        [sign @ (b'+' | b'-'), ..] if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let digits = |p: &str| {
                p.bytes()
                    .all(|c| c.is_ascii_digit())
                    .then(|| p.parse::<i64>().ok())?
            };
            let (oh, om) = (digits(&rest[1..3])?, digits(&rest[4..6])?);
            let off = oh * 3600 + om * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_current_timestamp_passes_through_as_utc() {
        assert_eq!(to_rfc3339("2024-01-15 10:30:00"), "2024-01-15T10:30:00Z");
        assert_eq!(to_rfc3339("2024-02-29T23:59:59Z"), "2024-02-29T23:59:59Z");
    }

    #[test]
    fn go_driver_timestamps_with_offsets_become_utc() {
        assert_eq!(
            to_rfc3339("2024-01-15 12:30:00.123456789+02:00"),
            "2024-01-15T10:30:00Z"
        );
        assert_eq!(
            to_rfc3339("2024-12-31 22:00:00-03:00"),
            "2025-01-01T01:00:00Z"
        );
        assert_eq!(
            to_rfc3339("2024-03-01 00:10:00+01:00"),
            "2024-02-29T23:10:00Z"
        );
    }

    #[test]
    fn unknown_text_is_shown_as_it_is() {
        for s in [
            "",
            "yesterday",
            "2024-13-01 00:00:00",
            "2024-01-15 10:30",
            "2024-01-15 10:30:00+0200",
        ] {
            assert_eq!(to_rfc3339(s), s);
        }
    }

    #[test]
    fn day_arithmetic_round_trips() {
        for days in [-800_000, -1, 0, 1, 59, 10_956, 19_737, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(from_unix(1_705_314_600), "2024-01-15T10:30:00Z");
    }
}
