//! Vault duration parameters: parsing client input and formatting Go-style output.
//!
//! Vault parses duration fields with `parseutil.ParseDurationSecond`: a JSON number or
//! a numeric string is seconds, `"<n>d"` is days, and anything else is a Go duration
//! (`"90s"`, `"30m"`, `"1h30m"`, `"1.5h"`, `"-1s"`). Vault truncates to whole seconds.
//! Responses show durations as Go's `time.Duration.String()` does: `"0s"`, `"1m30s"`,
//! `"1h0m0s"`.

use serde_json::Value;

/// A duration parameter in whole seconds, as a client gave it.
///
/// Signed, because Vault gives negative durations meaning (kv's `delete_version_after`
/// uses `-1s` for "disabled"). Use [`std::time::Duration`] as the field type instead
/// when negative values make no sense; the SDK then refuses them with a `400`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Seconds(pub i64);

impl Seconds {
    /// The value in seconds.
    pub fn as_secs(self) -> i64 {
        self.0
    }

    /// The value formatted like Go's `time.Duration.String()`, e.g. `"1h0m0s"`.
    pub fn to_go_string(self) -> String {
        format_go_duration(self.0)
    }
}

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// The largest duration Go can represent (about 292 years); Vault rejects larger ones,
/// and the bound keeps every later computation far from overflow.
const MAX_NANOS: i128 = i64::MAX as i128;

/// Parses a JSON duration value into whole seconds (truncated toward zero).
///
/// Numbers are seconds; strings go through [`parse_duration`].
pub fn parse_duration_value(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i)
            } else if let Some(f) = n.as_f64() {
                // Large u64s land here too; anything beyond i64 is out of range.
                if f.is_finite() && f.abs() < i64::MAX as f64 {
                    Ok(f.trunc() as i64)
                } else {
                    Err(format!("duration {n} is out of range"))
                }
            } else {
                Err(format!("duration {n} is out of range"))
            }
        }
        Value::String(s) => parse_duration(s),
        _ => Err("expected a duration such as \"30m\" or a number of seconds".to_string()),
    }
}

/// Parses a Vault duration string into whole seconds (truncated toward zero).
///
/// Accepts `""` (zero), plain integers (seconds), `"<n>d"` (days) and Go durations with
/// the units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h` and, as an extension, `d`, optionally
/// signed and compound (`"1h30m"`, `"-1.5h"`).
pub fn parse_duration(input: &str) -> Result<i64, String> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(0);
    }
    if let Ok(secs) = s.parse::<i64>() {
        return Ok(secs);
    }
    let nanos = parse_go_duration(s).ok_or_else(|| format!("invalid duration \"{input}\""))?;
    // Integer division truncates toward zero, as Go's Duration/time.Second does.
    Ok((nanos / NANOS_PER_SEC) as i64)
}

/// Parses a Go-style duration into nanoseconds; `None` when malformed or out of range.
fn parse_go_duration(s: &str) -> Option<i128> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    // Go accepts a bare "0" without a unit.
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let (number, after_number) = split_number(rest)?;
        let (unit_nanos, after_unit) = split_unit(after_number)?;
        total = total.checked_add(number.scaled(unit_nanos)?)?;
        if total > MAX_NANOS {
            return None;
        }
        rest = after_unit;
    }
    Some(if negative { -total } else { total })
}

/// A decimal number as written: integer part and fraction digits.
struct Decimal<'a> {
    whole: &'a str,
    fraction: &'a str,
}

impl Decimal<'_> {
    /// The number multiplied by `unit` nanoseconds, truncated to whole nanoseconds.
    fn scaled(&self, unit: i128) -> Option<i128> {
        let whole: i128 = if self.whole.is_empty() {
            0
        } else {
            self.whole.parse().ok()?
        };
        let mut value = whole.checked_mul(unit)?;
        // Digits beyond nanosecond precision cannot change the result for any unit.
        let digits = &self.fraction[..self.fraction.len().min(18)];
        if !digits.is_empty() {
            let fraction: i128 = digits.parse().ok()?;
            let scale = 10i128.checked_pow(u32::try_from(digits.len()).ok()?)?;
            value = value.checked_add(fraction.checked_mul(unit)? / scale)?;
        }
        Some(value)
    }
}

fn split_number(s: &str) -> Option<(Decimal<'_>, &str)> {
    let whole_len = s.bytes().take_while(u8::is_ascii_digit).count();
    let (whole, rest) = s.split_at(whole_len);
    let (fraction, rest) = match rest.strip_prefix('.') {
        Some(after_dot) => {
            let len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            after_dot.split_at(len)
        }
        None => ("", rest),
    };
    // Go requires at least one digit on either side of the dot.
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    Some((Decimal { whole, fraction }, rest))
}

fn split_unit(s: &str) -> Option<(i128, &str)> {
    // Longer spellings first, so "ms" is not read as "m" followed by garbage.
    const UNITS: &[(&str, i128)] = &[
        ("ns", 1),
        ("us", 1_000),
        ("\u{b5}s", 1_000),
        ("\u{3bc}s", 1_000),
        ("ms", 1_000_000),
        ("s", NANOS_PER_SEC),
        ("m", 60 * NANOS_PER_SEC),
        ("h", 3_600 * NANOS_PER_SEC),
        ("d", 86_400 * NANOS_PER_SEC),
    ];
    UNITS
        .iter()
        .find_map(|(name, nanos)| s.strip_prefix(name).map(|rest| (*nanos, rest)))
}

/// Formats whole seconds like Go's `time.Duration.String()`: `"0s"`, `"45s"`,
/// `"1m30s"`, `"1h0m0s"`, `"-1s"`.
pub fn format_go_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let sign = if secs < 0 { "-" } else { "" };
    let total = secs.unsigned_abs();
    let (hours, minutes, seconds) = (total / 3600, (total % 3600) / 60, total % 60);
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{seconds}s")
    } else {
        format!("{sign}{seconds}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_vault_duration_strings() {
        let cases: &[(&str, i64)] = &[
            ("", 0),
            ("0", 0),
            ("90", 90),
            ("-1", -1),
            ("90s", 90),
            ("30m", 1800),
            ("1h", 3600),
            ("768h", 2_764_800),
            ("1d", 86_400),
            ("7d", 604_800),
            ("1h30m", 5400),
            ("1h30m15s", 5415),
            ("1.5h", 5400),
            (".5m", 30),
            ("1500ms", 1),
            ("999ms", 0),
            ("-1s", -1),
            ("-1.5s", -1),
            ("+10s", 10),
            ("1d12h", 129_600),
            ("  10m ", 600),
            ("2000000us", 2),
            ("3\u{b5}s", 0),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration(input), Ok(*want), "input {input:?}");
        }
    }

    #[test]
    fn rejects_malformed_durations() {
        for input in [
            "abc",
            "1x",
            "h",
            "1h30",
            "--1s",
            "1.s.",
            ".s",
            "-",
            "1 h",
            "10000000000h",
        ] {
            assert!(parse_duration(input).is_err(), "input {input:?}");
        }
    }

    #[test]
    fn parses_json_numbers_as_seconds() {
        assert_eq!(parse_duration_value(&json!(60)), Ok(60));
        assert_eq!(parse_duration_value(&json!(-5)), Ok(-5));
        assert_eq!(parse_duration_value(&json!(1.9)), Ok(1));
        assert_eq!(parse_duration_value(&json!("2m")), Ok(120));
        assert!(parse_duration_value(&json!(u64::MAX)).is_err());
        assert!(parse_duration_value(&json!(true)).is_err());
        assert!(parse_duration_value(&json!([1])).is_err());
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go_duration(0), "0s");
        assert_eq!(format_go_duration(45), "45s");
        assert_eq!(format_go_duration(90), "1m30s");
        assert_eq!(format_go_duration(3600), "1h0m0s");
        assert_eq!(format_go_duration(2_764_800), "768h0m0s");
        assert_eq!(format_go_duration(3661), "1h1m1s");
        assert_eq!(format_go_duration(-1), "-1s");
        assert_eq!(format_go_duration(i64::MIN), "-2562047788015215h30m8s");
        assert_eq!(Seconds(5400).to_go_string(), "1h30m0s");
    }
}
