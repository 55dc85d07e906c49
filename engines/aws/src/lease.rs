//! The leases this engine grants, and renewing and revoking them (vault-spec §4.7).
//!
//! Every credential response carries a lease whose internal data is Vault's:
//! `{"secret_type":"access_keys","username":…,"policy":…,"is_sts":…}`. For iam_user
//! credentials `username` is the IAM user and `policy` the role record; for
//! assumed_role the session name and the role ARN; for federation_token the
//! federation name and the session policy; for session_token both are empty.

use coffer_sdk::{Error, Lease, LeaseGrant, LeaseTerms, Result, clock};
use serde::Serialize;
use serde_json::Value;

use crate::config::{lease as lease_config, root};
use crate::rollback;

/// Vault's secret type for every credential this engine issues.
pub const SECRET_TYPE: &str = "access_keys";

/// The internal data of a lease.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Internal {
    /// Always [`SECRET_TYPE`].
    pub secret_type: &'static str,
    /// The IAM user (iam_user) or STS name.
    pub username: String,
    /// The role record (iam_user), role ARN or session policy (STS).
    pub policy: Value,
    /// Whether the credentials came from STS (and so cannot be renewed or revoked).
    pub is_sts: bool,
}

impl Internal {
    /// Internal data for STS credentials.
    pub fn sts(username: impl Into<String>, policy: impl Into<Value>) -> Self {
        Internal {
            secret_type: SECRET_TYPE,
            username: username.into(),
            policy: policy.into(),
            is_sts: true,
        }
    }
}

/// The lease for STS credentials expiring at `expiration` (Unix seconds): not
/// renewable, lasting until AWS's expiry.
pub fn sts_grant(expiration: u64, internal: &Internal) -> Result<LeaseGrant> {
    LeaseGrant::new(sts_ttl(expiration))
        .renewable(false)
        .internal(internal)
}

/// Seconds from now until `expiration`, at least 1 (0 would mean "the mount's
/// default" to the host, which would outlive the credentials).
pub fn sts_ttl(expiration: u64) -> u64 {
    expiration.saturating_sub(clock::now().as_secs()).max(1)
}

/// Whether the lease holds STS credentials. Leases without `is_sts` predate it and
/// are IAM users, as in Vault.
fn is_sts(lease: &Lease) -> Result<bool> {
    match lease.internal.get("is_sts") {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(Error::internal(
            "secret has is_sts but value could not be understood",
        )),
    }
}

/// Renews an iam_user lease with the current `config/lease` (0s mean the mount's
/// defaults); STS leases are refused.
pub fn renew(lease: &Lease) -> Result<LeaseTerms> {
    if is_sts(lease).unwrap_or(false) {
        return Err(Error::invalid("lease is not renewable"));
    }
    let (ttl, max_ttl) = lease_config::load()?.unwrap_or_default().terms();
    Ok(LeaseTerms { ttl, max_ttl })
}

/// Revokes a lease: deletes the IAM user of an iam_user lease (a no-op for STS).
/// Safe to repeat: a user that is already gone counts as deleted once the lease is
/// old enough for IAM to be consistent.
pub fn revoke(lease: &Lease) -> Result<()> {
    if is_sts(lease)? {
        return Ok(());
    }
    let username = match lease.internal.get("username") {
        Some(Value::String(u)) => u.clone(),
        _ => return Err(Error::internal("secret is missing username internal data")),
    };
    let iam = root::iam()?;
    rollback::delete_user(
        iam.as_ref(),
        &username,
        Some(lease.issue_time),
        clock::now().as_nanos(),
    )
    .map_err(|e| {
        // Never invalid-request: the host gives up at once on those, and a failed
        // revoke must be retried.
        if e.is_throttled() {
            Error::rate_limited(e.to_string())
        } else {
            Error::internal(e.to_string())
        }
    })
}
