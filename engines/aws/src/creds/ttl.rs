//! The lifetime requested for STS credentials (vault-spec §4.5).

/// Vault's `ttl` field default for `creds/` and `sts/`.
pub const DEFAULT_STS_TTL: i64 = 3600;

/// The STS duration in seconds: an explicit `ttl`, else the role's `default_sts_ttl`
/// (when positive), else 3600; then capped at the role's `max_sts_ttl` (when
/// positive) or else the mount's maximum lease TTL (0 = no cap known).
pub fn sts_ttl(
    explicit: Option<i64>,
    default_sts_ttl: i64,
    max_sts_ttl: i64,
    mount_max: u64,
) -> i64 {
    let ttl = match explicit {
        Some(t) => t,
        None if default_sts_ttl > 0 => default_sts_ttl,
        None => DEFAULT_STS_TTL,
    };
    let max = if max_sts_ttl > 0 {
        max_sts_ttl
    } else {
        i64::try_from(mount_max).unwrap_or(i64::MAX)
    };
    if max > 0 && ttl > max { max } else { ttl }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNT_MAX: u64 = 2_764_800;

    #[test]
    fn explicit_then_role_default_then_3600() {
        assert_eq!(sts_ttl(Some(900), 1800, 0, MOUNT_MAX), 900);
        assert_eq!(sts_ttl(None, 1800, 0, MOUNT_MAX), 1800);
        assert_eq!(sts_ttl(None, 0, 0, MOUNT_MAX), 3600);
        // An explicit 0 is passed on (AWS rejects it), as in Vault.
        assert_eq!(sts_ttl(Some(0), 1800, 0, MOUNT_MAX), 0);
    }

    #[test]
    fn capped_by_role_max_else_mount_max() {
        assert_eq!(sts_ttl(Some(7200), 0, 3000, MOUNT_MAX), 3000);
        assert_eq!(sts_ttl(None, 5000, 3000, MOUNT_MAX), 3000);
        assert_eq!(sts_ttl(Some(9_999_999), 0, 0, MOUNT_MAX), 2_764_800);
        assert_eq!(sts_ttl(None, 0, 0, 1200), 1200);
        assert_eq!(sts_ttl(Some(9_999_999), 0, 0, 0), 9_999_999);
    }
}
