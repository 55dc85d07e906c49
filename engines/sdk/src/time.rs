//! Points in time and their Vault/Go wire format.

use core::fmt;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A point in time: nanoseconds since the Unix epoch, UTC, as the host clock reports.
///
/// Displays in the format Vault uses for times in responses (Go's `time.RFC3339Nano`
/// in UTC): `2018-03-22T02:24:06.945319214Z`, with trailing zeros of the fraction
/// trimmed and no fraction at all on whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp from nanoseconds since the Unix epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Timestamp(nanos)
    }

    /// A timestamp from whole seconds since the Unix epoch (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        Timestamp(secs.saturating_mul(NANOS_PER_SEC))
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole seconds since the Unix epoch.
    pub const fn as_secs(self) -> u64 {
        self.0 / NANOS_PER_SEC
    }

    /// This time moved by `secs` seconds (negative moves back), saturating at the ends
    /// of the representable range rather than wrapping.
    pub fn add_secs(self, secs: i64) -> Self {
        let delta = secs.unsigned_abs().saturating_mul(NANOS_PER_SEC);
        if secs >= 0 {
            Timestamp(self.0.saturating_add(delta))
        } else {
            Timestamp(self.0.saturating_sub(delta))
        }
    }

    /// The time in Go's RFC3339Nano format, UTC (see the type docs).
    pub fn to_rfc3339(self) -> String {
        self.to_string()
    }

    /// Writes the RFC3339Nano text into `buf` and returns its length. Done by hand:
    /// every kv read formats timestamps, and `write!` costs several times as much.
    fn write_rfc3339(self, buf: &mut [u8; 40]) -> usize {
        let secs = self.0 / NANOS_PER_SEC;
        let nanos = self.0 % NANOS_PER_SEC;
        // u64 nanoseconds end in the year 2554, so the day count always fits in i64
        // and the year in four digits.
        let days = (secs / 86_400) as i64;
        let in_day = secs % 86_400;
        let (year, month, day) = civil_from_days(days);
        let mut at = 0;
        put_digits(buf, &mut at, year as u64, 4, b"-");
        put_digits(buf, &mut at, u64::from(month), 2, b"-");
        put_digits(buf, &mut at, u64::from(day), 2, b"T");
        put_digits(buf, &mut at, in_day / 3600, 2, b":");
        put_digits(buf, &mut at, (in_day % 3600) / 60, 2, b":");
        put_digits(buf, &mut at, in_day % 60, 2, b"");
        if nanos != 0 {
            let (mut frac, mut width) = (nanos, 9);
            while frac % 10 == 0 {
                frac /= 10;
                width -= 1;
            }
            buf[at] = b'.';
            at += 1;
            put_digits(buf, &mut at, frac, width, b"");
        }
        buf[at] = b'Z';
        at + 1
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 40];
        let len = self.write_rfc3339(&mut buf);
        f.write_str(core::str::from_utf8(&buf[..len]).map_err(|_| fmt::Error)?)
    }
}

/// Writes `value` as exactly `width` zero-padded digits at `*at`, then `sep`.
fn put_digits(buf: &mut [u8], at: &mut usize, value: u64, width: usize, sep: &[u8]) {
    let mut v = value;
    for slot in buf[*at..*at + width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    *at += width;
    buf[*at..*at + sep.len()].copy_from_slice(sep);
    *at += sep.len();
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
///
/// Works in 400-year eras (146097 days each) counted from 0000-03-01, so that the leap
/// day falls at the end of the shifted year and months have a regular pattern.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // 0 = March
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_nano_like_go() {
        let cases: &[(u64, &str)] = &[
            (0, "1970-01-01T00:00:00Z"),
            (1_521_685_446_945_319_214, "2018-03-22T02:24:06.945319214Z"),
            (1_521_685_446_900_000_000, "2018-03-22T02:24:06.9Z"),
            (1_521_685_446_000_000_001, "2018-03-22T02:24:06.000000001Z"),
            (1_521_685_446_000_000_000, "2018-03-22T02:24:06Z"),
            // Leap day and the turn of a century/leap-century.
            (951_782_400_000_000_000, "2000-02-29T00:00:00Z"),
            (4_107_542_399_000_000_000, "2100-02-28T23:59:59Z"),
            (4_107_542_400_000_000_000, "2100-03-01T00:00:00Z"),
            (1_704_067_199_999_999_999, "2023-12-31T23:59:59.999999999Z"),
            (u64::MAX, "2554-07-21T23:34:33.709551615Z"),
        ];
        for (nanos, want) in cases {
            assert_eq!(Timestamp::from_nanos(*nanos).to_rfc3339(), *want);
        }
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_secs(10);
        assert_eq!(t.add_secs(5).as_secs(), 15);
        assert_eq!(t.add_secs(-20), Timestamp::EPOCH);
        assert_eq!(
            Timestamp::from_nanos(u64::MAX).add_secs(1).as_nanos(),
            u64::MAX
        );
        assert_eq!(Timestamp::from_secs(u64::MAX).as_nanos(), u64::MAX);
    }
}
