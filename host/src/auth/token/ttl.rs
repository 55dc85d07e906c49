//! Vault's token TTL rules (`framework.CalculateTTL` as the token store uses it).

/// The system max TTL and the token mount's default TTL: 768h (32 days).
pub const SYSTEM_MAX_TTL: u64 = 768 * 3600;

/// A decided TTL and any warnings to show the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtlDecision {
    /// Seconds from now.
    pub ttl: u64,
    /// Cap warnings, in Vault's words.
    pub warnings: Vec<String>,
}

/// The inputs of one decision, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlRequest {
    /// Renewal increment (0 = none / creation).
    pub increment: u64,
    /// The token's own TTL (0 = the default).
    pub ttl: u64,
    /// The token's period (0 = not periodic).
    pub period: u64,
    /// Hard cap from `start` (0 = none).
    pub explicit_max_ttl: u64,
    /// Creation time.
    pub start: u64,
    /// Now.
    pub now: u64,
}

fn go(secs: u64) -> String {
    crate::util::duration::format_go(secs)
}

/// Applies the rules. `Err` (Vault's message) once the token is past its max TTL.
pub fn calculate(r: TtlRequest) -> Result<TtlDecision, String> {
    let mut warnings = Vec::new();
    let mut max = SYSTEM_MAX_TTL;
    if r.explicit_max_ttl > 0 && r.explicit_max_ttl < max {
        max = r.explicit_max_ttl;
    }
    if r.period > 0 {
        // Periodic tokens escape the system max (they live as long as they are renewed
        // each period); only an explicit max bounds their total life.
        let mut ttl = r.period;
        if ttl > SYSTEM_MAX_TTL {
            warnings.push(format!(
                "period of {:?} exceeded the effective max_ttl of {:?}; period value is capped accordingly",
                go(ttl),
                go(SYSTEM_MAX_TTL)
            ));
            ttl = SYSTEM_MAX_TTL;
        }
        if r.explicit_max_ttl > 0 {
            let remaining = (r.start + r.explicit_max_ttl).saturating_sub(r.now);
            if remaining == 0 {
                return Err("past the max TTL, cannot renew".into());
            }
            if remaining < ttl {
                warnings.push(capped(ttl, remaining));
                ttl = remaining;
            }
        }
        return Ok(TtlDecision { ttl, warnings });
    }
    let wanted = if r.increment > 0 {
        r.increment
    } else if r.ttl > 0 {
        r.ttl
    } else {
        SYSTEM_MAX_TTL
    };
    let remaining = (r.start + max).saturating_sub(r.now);
    if remaining == 0 {
        return Err("past the max TTL, cannot renew".into());
    }
    let mut ttl = wanted;
    if remaining < wanted {
        warnings.push(capped(wanted, remaining));
        ttl = remaining;
    }
    Ok(TtlDecision { ttl, warnings })
}

fn capped(wanted: u64, max: u64) -> String {
    format!(
        "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
        go(wanted),
        go(max)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> TtlRequest {
        TtlRequest {
            increment: 0,
            ttl: 0,
            period: 0,
            explicit_max_ttl: 0,
            start: 1000,
            now: 1000,
        }
    }

    #[test]
    fn defaults_caps_and_periods() {
        assert_eq!(calculate(req()).unwrap().ttl, SYSTEM_MAX_TTL);
        assert_eq!(calculate(TtlRequest { ttl: 60, ..req() }).unwrap().ttl, 60);
        let capped = calculate(TtlRequest {
            ttl: 600,
            explicit_max_ttl: 100,
            ..req()
        })
        .unwrap();
        assert_eq!(capped.ttl, 100);
        assert_eq!(capped.warnings.len(), 1);
        let renew = TtlRequest {
            increment: 500,
            ttl: 60,
            explicit_max_ttl: 100,
            now: 1050,
            ..req()
        };
        assert_eq!(calculate(renew).unwrap().ttl, 50);
        assert!(calculate(TtlRequest { now: 1100, ..renew }).is_err());
        let periodic = TtlRequest {
            period: 30,
            increment: 999,
            ..req()
        };
        assert_eq!(
            calculate(periodic).unwrap().ttl,
            30,
            "period ignores increment"
        );
        let far = TtlRequest {
            period: 30,
            now: 1000 + 10 * SYSTEM_MAX_TTL,
            ..req()
        };
        assert_eq!(
            calculate(far).unwrap().ttl,
            30,
            "period escapes the system max"
        );
    }
}
