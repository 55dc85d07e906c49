//! The stored form of one lease.

use serde::{Deserialize, Serialize};

/// One lease, as persisted at `sys/expire/id/<id>`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LeaseEntry {
    /// `<request path>/<24 base62>`.
    pub id: String,
    /// The request path that created the secret, e.g. `aws/creds/my-role`.
    pub path: String,
    /// Mount path (`aws/`) and uuid: the uuid tells a remounted path from the original.
    pub mount_path: String,
    /// The mount's uuid when the lease was issued.
    pub mount_uuid: String,
    /// Path inside the mount, e.g. `creds/my-role`.
    pub mount_rel_path: String,
    /// Issue time, ns since the epoch.
    pub issue_time: u64,
    /// Expiry, ns since the epoch.
    pub expire_time: u64,
    /// Last renewal, ns since the epoch.
    #[serde(default)]
    pub last_renewal: Option<u64>,
    /// Whether clients may renew.
    pub renewable: bool,
    /// The engine's max TTL (seconds, 0 = mount max) at issue or last renewal.
    #[serde(default)]
    pub engine_max_ttl: u64,
    /// Engine-private JSON.
    pub internal: String,
    /// The data the client got, JSON.
    pub data: String,
    /// The second under which the lease sits in the expiry index: its expiry, or the
    /// time of the next revocation retry.
    #[serde(default)]
    pub index_secs: u64,
    /// Failed revocation attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// Non-empty once the lease is irrevocable: the last revocation error.
    #[serde(default)]
    pub revoke_error: String,
    /// Display name of the token that created it.
    #[serde(default)]
    pub display_name: String,
    /// Salted hash of the token that created it (empty for leases stored before tokens
    /// were tracked, or created without a token): revoking that token revokes the lease.
    #[serde(default)]
    pub token_hash: String,
}

impl LeaseEntry {
    /// Whether the lease has given up on automatic revocation.
    pub fn is_irrevocable(&self) -> bool {
        !self.revoke_error.is_empty()
    }

    /// Expiry in whole seconds.
    pub fn expire_secs(&self) -> u64 {
        self.expire_time / 1_000_000_000
    }
}
