//! Vault's TTL rules (framework `CalculateTTL`), as a pure function.

/// Inputs to a TTL decision, all in seconds except the times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlInputs {
    /// What the client asked for (renew increment); 0 = nothing.
    pub increment: u64,
    /// What the engine asked for; 0 = mount default.
    pub engine_ttl: u64,
    /// The engine's cap; 0 = none.
    pub engine_max_ttl: u64,
    /// The mount's effective default TTL.
    pub mount_default_ttl: u64,
    /// The mount's effective max TTL.
    pub mount_max_ttl: u64,
    /// Lease issue time, seconds.
    pub issue_secs: u64,
    /// Now, seconds.
    pub now_secs: u64,
}

/// The decided TTL and any warning to show the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtlOutcome {
    /// Seconds from now.
    pub ttl: u64,
    /// Set when the TTL was cut to the max.
    pub warning: Option<String>,
}

/// Applies the rules; `Err` when the lease is already past its max TTL.
pub fn compute_ttl(i: TtlInputs) -> Result<TtlOutcome, String> {
    let mut max = i.mount_max_ttl;
    if i.engine_max_ttl > 0 && i.engine_max_ttl < max {
        max = i.engine_max_ttl;
    }
    let wanted = if i.increment > 0 {
        i.increment
    } else if i.engine_ttl > 0 {
        i.engine_ttl
    } else {
        i.mount_default_ttl
    };
    let limit_at = i.issue_secs.saturating_add(max);
    let remaining = limit_at.saturating_sub(i.now_secs);
    if remaining == 0 {
        return Err("past the max TTL, cannot renew".into());
    }
    if wanted > remaining {
        return Ok(TtlOutcome {
            ttl: remaining,
            warning: Some(format!(
                "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
                go_duration(wanted),
                go_duration(remaining)
            )),
        });
    }
    Ok(TtlOutcome {
        ttl: wanted,
        warning: None,
    })
}

fn go_duration(secs: u64) -> String {
    crate::util::duration::format_go(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> TtlInputs {
        TtlInputs {
            increment: 0,
            engine_ttl: 0,
            engine_max_ttl: 0,
            mount_default_ttl: 2_764_800,
            mount_max_ttl: 2_764_800,
            issue_secs: 1000,
            now_secs: 1000,
        }
    }

    #[test]
    fn defaults_and_caps() {
        assert_eq!(compute_ttl(base()).unwrap().ttl, 2_764_800);
        let eng = TtlInputs {
            engine_ttl: 60,
            engine_max_ttl: 120,
            ..base()
        };
        assert_eq!(
            compute_ttl(eng).unwrap(),
            TtlOutcome {
                ttl: 60,
                warning: None
            }
        );
        let renew = TtlInputs {
            increment: 600,
            engine_ttl: 60,
            engine_max_ttl: 120,
            now_secs: 1030,
            ..base()
        };
        let out = compute_ttl(renew).unwrap();
        assert_eq!(out.ttl, 90);
        assert!(out.warning.unwrap().contains("capped"));
        let past = TtlInputs {
            engine_max_ttl: 120,
            now_secs: 1120,
            ..base()
        };
        assert!(compute_ttl(past).is_err());
    }
}
