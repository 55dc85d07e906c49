//! # coffer-engine-aws: Vault's AWS secrets engine
//!
//! Issues AWS credentials for roles: IAM users with access keys (`iam_user`), and
//! STS credentials (`assumed_role`, `federation_token`, `session_token`), following
//! Vault's behaviour, messages and storage format (docs/vault-spec.md §4). AWS is
//! reached only through the host's `aws-iam` and `aws-sts` imports ([`aws`]).
//!
//! ## Paths
//!
//! | path | operations |
//! |---|---|
//! | `config/root` | read, write ([`config::root`]) |
//! | `config/lease` | read, write ([`config::lease`]) |
//! | `config/rotate-root` | write ([`config::rotate`]) |
//! | `roles/` | list ([`roles`]) |
//! | `roles/:name` | read, write, delete |
//! | `creds/:name`, `sts/:name` | read, write ([`creds`]) |
//!
//! ## Storage
//!
//! ```text
//! config/root      RootConfig (Vault's JSON keys, secret_key included)
//! config/lease     {"Lease": ns, "LeaseMax": ns}
//! role/<name>      RoleEntry (Vault's awsRoleEntry JSON)
//! policy/<name>    legacy role data (raw text), upgraded to role/<name> on read
//! wal/<uuid>       {"type":"user","data":{"UserName":…},"created_at":<unix>}
//! ```
//!
//! ## Leases
//!
//! See [`lease`]: iam_user leases are renewable and revoked by deleting the user
//! ([`rollback`]); STS leases are not renewable and revoking them is a no-op.
//! [`Engine::periodic`] rolls back users whose issue failed half-way.
//!
//! ## Differences from Vault
//!
//! * No environment or instance credentials in the sandbox: the region falls back
//!   from `region` straight to `us-east-1`, and empty keys are passed to the host
//!   as they are.
//! * `username_template` runs on a Go-template subset ([`template`]); templates
//!   outside it (and Vault's `timestamp`) are refused by `config/root` with a `400`.
//! * `sts_fallback_endpoints`/`sts_fallback_regions` and `role_arn` are validated,
//!   stored and returned, but STS calls use only the primary endpoint.
//! * `config/rotate-root` without any stored config answers `400` (Vault: `500`).
//! * AWS errors are rendered `Code: message` (Vault's Go SDK adds the HTTP status
//!   and request id).
//! * Static roles (`static-roles/`, `static-creds/`) are not implemented.

pub mod arn;
pub mod aws;
pub mod config;
pub mod creds;
pub mod goduration;
pub mod gofmt;
pub mod lease;
pub mod policy;
pub mod roles;
pub mod rollback;
pub mod template;
pub mod username;
pub mod wal;

use coffer_sdk::{Engine, Info, Lease, LeaseTerms, Mount, Result, Router};

/// The AWS engine.
pub struct Aws;

impl Engine for Aws {
    fn info() -> Info {
        Info::new(
            "aws",
            concat!("v", env!("CARGO_PKG_VERSION")),
            "Dynamic AWS credentials: IAM users and STS tokens per role",
        )
        .path(
            "config/root",
            "Configure the credentials, region, endpoints, retries and username_template \
             the engine uses to manage IAM and call STS. Reads never return secret_key.",
        )
        .path(
            "config/lease",
            "Configure the lease TTL (lease) and maximum (lease_max) of iam_user \
             credentials, as Go durations such as 30m or 12h.",
        )
        .path(
            "config/rotate-root",
            "Replace the configured access key with a new one for the same IAM user and \
             delete the old key; returns the new access_key.",
        )
        .path("roles/", "List the roles.")
        .path(
            "roles/<name>",
            "Read, write or delete a role: credential_type (iam_user, assumed_role, \
             federation_token or session_token), policy_document, policy_arns, role_arns, \
             iam_groups, iam_tags, session_tags, external_id, default_sts_ttl, max_sts_ttl, \
             user_path, permissions_boundary_arn, mfa_serial_number.",
        )
        .path(
            "creds/<name>",
            "Generate credentials for a role: an IAM user with an access key (iam_user, \
             revoked with its lease) or STS credentials (ttl, role_arn, role_session_name, \
             mfa_code).",
        )
        .path(
            "sts/<name>",
            "Generate credentials for a role, as creds/<name>; legacy roles only issue \
             STS credentials here.",
        )
    }

    fn router(_mount: &Mount) -> Result<Router> {
        let mut router = Router::new();
        router
            .path("config/root")
            .read(config::root::read)
            .write(config::root::write)
            .fields(config::root::FIELDS);
        router
            .path("config/lease")
            .read(config::lease::read)
            .write(config::lease::write)
            .fields(config::lease::FIELDS);
        router
            .path("config/rotate-root")
            .write(config::rotate::write)
            .fields(&[]);
        router.path("roles").list(roles::list);
        router
            .path("roles/{name}")
            .read(roles::read)
            .write(roles::write)
            .delete(roles::delete)
            .fields(roles::FIELDS);
        router
            .path("creds/{name}")
            .read(creds::issue)
            .write(creds::issue)
            .fields(creds::FIELDS);
        router
            .path("sts/{name}")
            .read(creds::issue)
            .write(creds::issue)
            .fields(creds::FIELDS);
        Ok(router)
    }

    fn renew(lease: &Lease) -> Result<LeaseTerms> {
        lease::renew(lease)
    }

    fn revoke(lease: &Lease) -> Result<()> {
        lease::revoke(lease)
    }

    fn periodic(mount: &Mount) -> Result<()> {
        rollback::periodic(mount)
    }
}

coffer_sdk::export_engine!(Aws);

#[cfg(test)]
mod tests;
