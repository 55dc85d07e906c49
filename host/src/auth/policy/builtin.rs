//! Built-in policies (`root`, `default`) and the root-protected (`sudo`) paths.

use super::{Policy, PolicyError};

/// Name of the built-in policy that allows everything. It has no text, cannot be
/// written or deleted, and is attached to root tokens.
pub const ROOT_POLICY_NAME: &str = "root";

/// Name of the policy attached to every non-root token unless `no_default_policy`.
/// It may be rewritten but not deleted.
pub const DEFAULT_POLICY_NAME: &str = "default";

/// Initial text of the `default` policy: what any token may do for itself. Same
/// meaning as Vault's default policy, minus identity/OIDC/control-group paths that
/// Coffer does not serve.
pub const DEFAULT_POLICY: &str = r#"# Every token may see its own properties.
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# ...renew itself...
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# ...and revoke itself.
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Ask which capabilities it has on a path.
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Read the ACL that results from all of its policies (used by UIs).
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# Renew a lease whose id it knows (the old path, then the current one).
path "sys/renew" {
    capabilities = ["update"]
}
path "sys/leases/renew" {
    capabilities = ["update"]
}

# Look up a lease whose id it knows; this reveals nothing secret.
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# Its own cubbyhole.
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# Response wrapping: wrap a value, inspect and unwrap a wrapping token.
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# Hashing helpers.
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}
"#;

/// The `default` policy as first installed.
///
/// Fails only if [`DEFAULT_POLICY`] stopped parsing, which a unit test rules out.
pub fn default_policy() -> Result<Policy, PolicyError> {
    Policy::parse(DEFAULT_POLICY_NAME, DEFAULT_POLICY)
}

/// Paths that need the `sudo` capability in addition to the operation's own
/// capability (Vault's root-protected paths). A trailing `*` makes an entry a
/// prefix; other entries must match the whole request path.
///
/// These are the `sys` and token-store root paths of Vault's code, which §2 of the
/// compatibility spec summarises (`sys/audit*` there means `sys/audit` and
/// `sys/audit/*`, so `sys/audit-hash` stays unprotected; likewise `sys/raw*` and
/// `sys/rotate*`; `sys/config/*` means the three config paths below). `sys/seal` and `sys/step-down` are enforced by Vault
/// in their handlers, which comes to the same thing.
pub const SUDO_PATHS: &[&str] = &[
    "sys/auth/*",
    "sys/remount",
    "sys/audit",
    "sys/audit/*",
    "sys/raw",
    "sys/raw/*",
    "sys/rotate",
    "sys/rotate/*",
    "sys/config/cors",
    "sys/config/auditing/*",
    "sys/config/ui/headers/*",
    "sys/plugins/catalog/*",
    "sys/plugins/reload/backend",
    "sys/plugins/reload/*",
    "sys/plugins/runtimes/catalog/*",
    "sys/revoke-prefix/*",
    "sys/revoke-force/*",
    "sys/leases/revoke-prefix/*",
    "sys/leases/revoke-force/*",
    "sys/leases/lookup/*",
    "sys/leases",
    "sys/internal/inspect/*",
    "sys/seal",
    "sys/step-down",
    "sys/key-status",
    "auth/token/accessors*",
    "auth/token/revoke-orphan/*",
];

/// Whether a request path (without `/v1/`; a leading `/` is ignored) is
/// root-protected, i.e. needs `sudo` on top of the operation's capability.
pub fn requires_sudo(path: &str) -> bool {
    let path = path.trim_start_matches('/');
    SUDO_PATHS
        .iter()
        .any(|entry| match entry.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == *entry,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_parses() {
        let p = default_policy().unwrap();
        assert_eq!(p.name(), "default");
        assert!(p.rules().iter().any(|r| r.path == "auth/token/lookup-self"));
        assert_eq!(p.raw(), DEFAULT_POLICY);
    }

    #[test]
    fn sudo_paths() {
        for p in [
            "sys/auth/userpass",
            "sys/audit",
            "sys/audit/file",
            "sys/plugins/catalog/secret/aws",
            "sys/leases/lookup/aws/creds/",
            "sys/leases/revoke-prefix/aws/",
            "sys/leases/revoke-force/aws",
            "sys/revoke-prefix/aws",
            "sys/leases",
            "sys/seal",
            "sys/remount",
            "sys/rotate",
            "/sys/raw/core",
            "auth/token/accessors/",
            "auth/token/revoke-orphan/x",
        ] {
            assert!(requires_sudo(p), "{p}");
        }
        for p in [
            "sys/auth",
            "sys/mounts/aws",
            "sys/leases/lookup",
            "sys/leases/renew",
            "sys/leases/revoke",
            "sys/audit-hash/file",
            "sys/policy/x",
            "sys/plugins/catalog",
            "secret/data/x",
            "auth/token/lookup-self",
        ] {
            assert!(!requires_sudo(p), "{p}");
        }
    }
}
