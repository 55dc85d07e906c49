//! Durations the way Vault's CLI prints and reads them.

/// Formats whole seconds like Go's `time.Duration.String()`, then drops the
/// trailing zero units the way Vault's `humanDuration` does:
/// `2764800` → `768h`, `3600` → `1h`, `3599` → `59m59s`, `3630` → `1h30s`.
pub fn humanize_secs(secs: i64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let s = go_duration_string(secs);
    // Same two trims as Vault: "…m0s" → "…m", then "…h0m…" → "…h…".
    let s = match s.strip_suffix("m0s") {
        Some(head) => format!("{head}m"),
        None => s,
    };
    match s.find("h0m") {
        Some(idx) if idx > 0 => format!("{}{}", &s[..=idx], &s[idx + 3..]),
        _ => s,
    }
}

/// Go's `Duration.String()` for a whole number of seconds.
fn go_duration_string(secs: i64) -> String {
    let neg = secs < 0;
    let total = secs.unsigned_abs();
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    let body = if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    };
    if neg { format!("-{body}") } else { body }
}

/// Parses a duration as Vault's `parseutil.ParseDurationSecond` does: a bare
/// integer is seconds, otherwise a Go duration (`1h30m`, `1.5h`, `90s`, `500ms`)
/// with `d` (days) also accepted. Returns whole seconds, truncated.
pub fn parse_secs(input: &str) -> Option<i64> {
    let s = input.trim();
    if s.is_empty() {
        return Some(0);
    }
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86400e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        nanos += number * scale;
    }
    let secs = (nanos / 1e9).trunc() as i64;
    Some(if neg { -secs } else { secs })
}

/// Vault's `looksLikeDuration`: keys whose integer values are printed as durations.
pub fn looks_like_duration(key: &str) -> bool {
    matches!(key, "period" | "ttl" | "duration" | "lease_max" | "ttl_max")
        || key.ends_with("_period")
        || key.ends_with("_ttl")
        || key.ends_with("_duration")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_matches_vault() {
        assert_eq!(humanize_secs(0), "0s");
        assert_eq!(humanize_secs(30), "30s");
        assert_eq!(humanize_secs(60), "1m");
        assert_eq!(humanize_secs(90), "1m30s");
        assert_eq!(humanize_secs(3599), "59m59s");
        assert_eq!(humanize_secs(3600), "1h");
        assert_eq!(humanize_secs(3630), "1h30s");
        assert_eq!(humanize_secs(3660), "1h1m");
        assert_eq!(humanize_secs(2_764_800), "768h");
        assert_eq!(humanize_secs(-60), "-1m");
    }

    #[test]
    fn parse_go_and_vault_forms() {
        assert_eq!(parse_secs("3600"), Some(3600));
        assert_eq!(parse_secs("1h"), Some(3600));
        assert_eq!(parse_secs("1h30m"), Some(5400));
        assert_eq!(parse_secs("1.5h"), Some(5400));
        assert_eq!(parse_secs("90s"), Some(90));
        assert_eq!(parse_secs("1500ms"), Some(1));
        assert_eq!(parse_secs("2d"), Some(172_800));
        assert_eq!(parse_secs("-5m"), Some(-300));
        assert_eq!(parse_secs(""), Some(0));
        assert_eq!(parse_secs("abc"), None);
        assert_eq!(parse_secs("5x"), None);
        assert_eq!(parse_secs("h"), None);
    }

    #[test]
    fn duration_keys() {
        for k in [
            "ttl",
            "period",
            "duration",
            "lease_max",
            "ttl_max",
            "creation_ttl",
            "token_period",
            "lease_duration",
        ] {
            assert!(looks_like_duration(k), "{k}");
        }
        for k in ["ttl_x", "max_versions", "durations", "version"] {
            assert!(!looks_like_duration(k), "{k}");
        }
    }
}
