//! The stored form of one token, and how Vault shows it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const NANOS: u64 = 1_000_000_000;

/// One token, as persisted at `sys/token/id/<hash>`. The token id itself is not stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenEntry {
    /// Salted hash of the token id (the storage key).
    pub hash: String,
    /// The accessor: a second, non-secret handle on the token.
    pub accessor: String,
    /// The parent's hash; empty for an orphan.
    #[serde(default)]
    pub parent: String,
    /// Sorted, deduplicated policies.
    pub policies: Vec<String>,
    /// Client-chosen metadata.
    #[serde(default)]
    pub meta: Option<BTreeMap<String, String>>,
    /// `token-<name>`, `token`, or `root`.
    pub display_name: String,
    /// Uses left; 0 = unlimited, -1 = used up (revocation pending).
    #[serde(default)]
    pub num_uses: i64,
    /// The path that created it (`auth/token/create`, `auth/token/root`).
    pub path: String,
    /// Creation time, ns since the epoch.
    pub creation_time: u64,
    /// TTL granted at creation, seconds (0 = none).
    #[serde(default)]
    pub ttl: u64,
    /// Hard cap on the lifetime from creation, seconds (0 = none).
    #[serde(default)]
    pub explicit_max_ttl: u64,
    /// Renewal period, seconds (0 = not periodic).
    #[serde(default)]
    pub period: u64,
    /// Whether the token may be renewed.
    #[serde(default)]
    pub renewable: bool,
    /// Expiry, ns since the epoch; 0 = never.
    #[serde(default)]
    pub expire_time: u64,
    /// Last renewal, ns since the epoch.
    #[serde(default)]
    pub last_renewal: Option<u64>,
    /// The second under which the token sits in the expiry index; 0 = not indexed.
    #[serde(default)]
    pub index_secs: u64,
}

impl TokenEntry {
    /// Whether the token has no parent.
    pub fn is_orphan(&self) -> bool {
        self.parent.is_empty()
    }

    /// Whether the token is past its expiry at `now` (ns).
    pub fn is_expired(&self, now: u64) -> bool {
        self.expire_time != 0 && now >= self.expire_time
    }

    /// Whether the token can no longer authenticate at `now` (expired or used up).
    pub fn is_dead(&self, now: u64) -> bool {
        self.num_uses < 0 || self.is_expired(now)
    }

    /// Seconds left at `now`; 0 when the token never expires.
    pub fn remaining_secs(&self, now: u64) -> u64 {
        if self.expire_time == 0 {
            0
        } else {
            self.expire_time.saturating_sub(now).div_ceil(NANOS)
        }
    }

    /// Vault's lookup data. `id` is the token when the caller presented it, `""` when
    /// looked up by accessor (the id is not stored and must not be revealed).
    pub fn lookup_data(&self, id: &str, now: u64) -> Value {
        let rfc = crate::util::time::rfc3339_nanos;
        let mut data = json!({
            "accessor": self.accessor,
            "creation_time": self.creation_time / NANOS,
            "creation_ttl": self.ttl,
            "display_name": self.display_name,
            "entity_id": "",
            "expire_time": (self.expire_time != 0).then(|| rfc(self.expire_time)),
            "explicit_max_ttl": self.explicit_max_ttl,
            "id": id,
            "issue_time": rfc(self.creation_time),
            "meta": self.meta,
            "num_uses": self.num_uses.max(0),
            "orphan": self.is_orphan(),
            "path": self.path,
            "policies": self.policies,
            "renewable": self.renewable,
            "ttl": self.remaining_secs(now),
            "type": "service",
        });
        if let Some(obj) = data.as_object_mut() {
            if let Some(t) = self.last_renewal {
                obj.insert("last_renewal".into(), Value::String(rfc(t)));
                obj.insert("last_renewal_time".into(), Value::from(t / NANOS));
            }
            if self.period > 0 {
                obj.insert("period".into(), Value::from(self.period));
            }
        }
        data
    }

    /// Vault's `auth` block for this token, as returned by create and renew.
    pub fn auth_block(&self, client_token: &str, lease_duration: u64) -> Value {
        json!({
            "client_token": client_token,
            "accessor": self.accessor,
            "policies": self.policies,
            "token_policies": self.policies,
            "metadata": self.meta,
            "lease_duration": lease_duration,
            "renewable": self.renewable,
            "entity_id": "",
            "token_type": "service",
            "orphan": self.is_orphan(),
            "mfa_requirement": null,
            "num_uses": self.num_uses.max(0),
        })
    }
}
