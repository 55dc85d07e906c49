//! Vault-style durations: integer seconds or Go duration strings (`90s`, `1h30m`, `2d`).

use serde_json::Value;

/// Parses a duration given as a JSON value (number of seconds or string) into seconds.
pub fn parse_value(v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .ok_or_else(|| format!("invalid duration {n}")),
        Value::String(s) => parse_str(s),
        other => Err(format!("invalid duration {other}")),
    }
}

/// Parses `"3600"`, `"90s"`, `"1h30m"`, `"768h"`, `"2d"`, `"1.5h"` into whole seconds.
pub fn parse_str(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(0);
    }
    if let Ok(n) = s.parse::<u64>() {
        return Ok(n);
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("invalid duration {s:?}"));
        }
        let value: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(format!("invalid duration {s:?}")),
        };
        total += value * factor;
        rest = &rest[unit_len..];
    }
    Ok(total as u64)
}

/// Formats seconds the way Go's `time.Duration.String()` does: `1h0m0s`, `30m0s`, `0s`.
pub fn format_go(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vault_durations() {
        assert_eq!(parse_str("3600").unwrap(), 3600);
        assert_eq!(parse_str("90s").unwrap(), 90);
        assert_eq!(parse_str("1h30m").unwrap(), 5400);
        assert_eq!(parse_str("768h").unwrap(), 2_764_800);
        assert_eq!(parse_str("2d").unwrap(), 172_800);
        assert_eq!(parse_str("1.5h").unwrap(), 5400);
        assert!(parse_str("soon").is_err());
        assert!(parse_str("5x").is_err());
        assert_eq!(format_go(3600), "1h0m0s");
        assert_eq!(format_go(0), "0s");
    }
}
