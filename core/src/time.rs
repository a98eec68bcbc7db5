//! Timestamps as entries carry them: RFC 3339 UTC with microseconds,
//! `2026-11-21T10:00:00.123456Z`. Pure arithmetic, no clock: the caller supplies the time.

use std::fmt;

use crate::Error;

/// The length of every [`Timestamp`] as text (years 0000–9999).
pub const TIMESTAMP_LEN: usize = 27;

/// Microseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

const US_PER_DAY: i64 = 86_400_000_000;

// Howard Hinnant's days_from_civil / civil_from_days.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Timestamp {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z` (UTC only; digits past microseconds are
    /// truncated) or a bare date `YYYY-MM-DD` (midnight UTC).
    ///
    /// # Errors
    /// [`Error::InvalidTime`].
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidTime(s.chars().take(40).collect());
        let b = s.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Result<i64, Error> {
            let part = s.get(r).ok_or_else(bad)?;
            if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse().map_err(|_| bad())
        };
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo as u32) {
            return Err(bad());
        }
        let days = days_from_civil(y, mo as u32, d as u32);
        if b.len() == 10 {
            return Ok(Timestamp(days * US_PER_DAY));
        }
        if b.len() < 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[b.len() - 1] != b'Z'
        {
            return Err(bad());
        }
        let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if h > 23 || mi > 59 || sec > 59 {
            return Err(bad());
        }
        let mut micros = 0i64;
        let frac = &s[19..s.len() - 1];
        if !frac.is_empty() {
            let digits = frac.strip_prefix('.').ok_or_else(bad)?;
            if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|c| c.is_ascii_digit())
            {
                return Err(bad());
            }
            let six: String = digits
                .chars()
                .chain(std::iter::repeat('0'))
                .take(6)
                .collect();
            micros = six.parse().map_err(|_| bad())?;
        }
        Ok(Timestamp(
            days * US_PER_DAY + ((h * 60 + mi) * 60 + sec) * 1_000_000 + micros,
        ))
    }
}

fn days_in_month(y: i64, m: u32) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(US_PER_DAY);
        let rem = self.0.rem_euclid(US_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let secs = rem / 1_000_000;
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            rem % 1_000_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let t = Timestamp::parse("2026-11-21T10:00:00.123456Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-21T10:00:00.123456Z");
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            Timestamp::parse("2000-02-29").unwrap().to_string(),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            Timestamp::parse("2024-01-01T00:00:00Z").unwrap().0,
            1_704_067_200_000_000
        );
        for bad in [
            "",
            "2026-13-01",
            "2026-02-30",
            "2026-11-21T25:00:00Z",
            "2026-11-21T10:00:00",
            "x",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }
}
