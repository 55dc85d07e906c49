//! Go's `time.Duration` text format, which `config/lease` uses instead of Vault's
//! usual duration parsing: input goes through `time.ParseDuration` (units required,
//! no `d`), output is `Duration.String()` (`30m0s`, `1.5s`, `300ms`).
//!
//! Values are nanoseconds, as Vault stores them.

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Go's `time.ParseDuration`, with Go's error messages (`time: invalid duration "x"`,
/// `time: missing unit in duration "10"`, `time: unknown unit "d" in duration "1d"`).
pub fn parse(input: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", go_quote(input));
    let (negative, mut s) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        _ => (false, input),
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    // Accumulated in u128 so that only the final range check can fail.
    let mut total: u128 = 0;
    while !s.is_empty() {
        let first = s.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }
        let whole_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let whole_digits = &s[..whole_len];
        s = &s[whole_len..];
        let mut fraction_digits = "";
        if let Some(rest) = s.strip_prefix('.') {
            let len = rest.bytes().take_while(u8::is_ascii_digit).count();
            fraction_digits = &rest[..len];
            s = &rest[len..];
            if whole_len == 0 && len == 0 {
                return Err(invalid());
            }
        }
        let unit_len = s
            .bytes()
            .take_while(|c| !(*c == b'.' || c.is_ascii_digit()))
            .count();
        if unit_len == 0 {
            return Err(format!(
                "time: missing unit in duration {}",
                go_quote(input)
            ));
        }
        let unit_name = &s[..unit_len];
        s = &s[unit_len..];
        let unit: u128 = match unit_name {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote(unit_name),
                    go_quote(input)
                ));
            }
        };
        let whole: u128 = if whole_digits.is_empty() {
            0
        } else {
            // More than 2^63 ns in any unit is out of range anyway.
            whole_digits.parse().map_err(|_| invalid())?
        };
        let mut value = whole.checked_mul(unit).ok_or_else(invalid)?;
        let fraction_digits = &fraction_digits[..fraction_digits.len().min(30)];
        if !fraction_digits.is_empty() {
            let fraction: u128 = fraction_digits.parse().map_err(|_| invalid())?;
            let scale = 10u128.pow(fraction_digits.len() as u32);
            value += fraction * unit / scale;
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > 1u128 << 63 {
            return Err(invalid());
        }
    }
    if negative {
        // -2^63 is representable, so the whole accumulated range fits.
        Ok((-(total as i128)) as i64)
    } else if total > i64::MAX as u128 {
        Err(invalid())
    } else {
        Ok(total as i64)
    }
}

/// Go's `time.quote`: the string in double quotes (durations are ASCII in practice).
fn go_quote(s: &str) -> String {
    format!("\"{s}\"")
}

/// Go's `Duration.String()`: `0s`, `1.5s`, `2m0s`, `1h0m0s`, `300ms`, `1µs`, `-1s`.
pub fn format(nanos: i64) -> String {
    let negative = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = if u < NANOS_PER_SEC {
        if u == 0 {
            return "0s".to_string();
        }
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "\u{b5}s")
        } else {
            (6, "ms")
        };
        let (fraction, whole) = fraction(u, prec);
        format!("{whole}{fraction}{unit}")
    } else {
        let (fraction, secs) = fraction(u, 9);
        let (hours, minutes, seconds) = (secs / 3600, (secs / 60) % 60, secs % 60);
        if hours > 0 {
            format!("{hours}h{minutes}m{seconds}{fraction}s")
        } else if secs >= 60 {
            format!("{minutes}m{seconds}{fraction}s")
        } else {
            format!("{seconds}{fraction}s")
        }
    };
    if negative {
        out.insert(0, '-');
    }
    out
}

/// Splits `v` into `v / 10^prec` and the fraction `.ddd` (trailing zeros removed;
/// empty when zero), as Go's `fmtFrac` does.
fn fraction(v: u64, prec: u32) -> (String, u64) {
    let scale = 10u64.pow(prec);
    let frac = v % scale;
    if frac == 0 {
        return (String::new(), v / scale);
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    (format!(".{}", digits.trim_end_matches('0')), v / scale)
}

/// Whole seconds of a nanosecond duration (truncated toward zero), as Vault converts
/// a `time.Duration` into a lease TTL.
pub fn whole_secs(nanos: i64) -> i64 {
    nanos / NANOS_PER_SEC as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn parses_like_time_parse_duration() {
        assert_eq!(parse("30m"), Ok(1800 * S));
        assert_eq!(parse("12h"), Ok(43_200 * S));
        assert_eq!(parse("1h30m"), Ok(5400 * S));
        assert_eq!(parse("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse(".5m"), Ok(30 * S));
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("-1s"), Ok(-S));
        assert_eq!(parse("300ms"), Ok(300_000_000));
        assert_eq!(parse("2\u{b5}s"), Ok(2_000));
    }

    #[test]
    fn errors_like_go() {
        assert_eq!(
            parse("3600"),
            Err(r#"time: missing unit in duration "3600""#.into())
        );
        assert_eq!(
            parse("1d"),
            Err(r#"time: unknown unit "d" in duration "1d""#.into())
        );
        assert_eq!(
            parse("soon"),
            Err(r#"time: invalid duration "soon""#.into())
        );
        assert_eq!(parse(""), Err(r#"time: invalid duration """#.into()));
        assert_eq!(parse("."), Err(r#"time: invalid duration ".""#.into()));
        assert!(parse("9999999999999h").is_err());
    }

    #[test]
    fn formats_like_duration_string() {
        assert_eq!(format(0), "0s");
        assert_eq!(format(1800 * S), "30m0s");
        assert_eq!(format(43_200 * S), "12h0m0s");
        assert_eq!(format(90 * S), "1m30s");
        assert_eq!(format(45 * S), "45s");
        assert_eq!(format(1_500_000_000), "1.5s");
        assert_eq!(format(61_500_000_000), "1m1.5s");
        assert_eq!(format(300_000_000), "300ms");
        assert_eq!(format(1_500), "1.5\u{b5}s");
        assert_eq!(format(7), "7ns");
        assert_eq!(format(-S), "-1s");
        assert_eq!(format(2_764_800 * S), "768h0m0s");
    }

    #[test]
    fn converts_to_whole_seconds() {
        assert_eq!(whole_secs(1_500_000_000), 1);
        assert_eq!(whole_secs(-1_500_000_000), -1);
    }
}
