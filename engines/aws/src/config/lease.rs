//! `config/lease`: the lease TTL and maximum for iam_user credentials
//! (vault-spec §4.2). STS credentials take their lifetime from AWS instead.

use coffer_sdk::{Error, Request, Response, Result, storage};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::goduration;

/// Where the lease configuration is stored.
pub const KEY: &str = "config/lease";

/// Fields `config/lease` accepts.
pub const FIELDS: &[&str] = &["lease", "lease_max"];

/// The stored lease configuration: Go `time.Duration`s (nanoseconds) under Vault's
/// untagged field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LeaseConfig {
    /// The lease TTL.
    #[serde(rename = "Lease", default)]
    pub lease: i64,
    /// The maximum TTL.
    #[serde(rename = "LeaseMax", default)]
    pub lease_max: i64,
}

impl LeaseConfig {
    /// (ttl, max-ttl) in whole seconds for a lease grant or renewal; 0 means the
    /// mount's default/maximum, which is also what a negative value ends up as.
    pub fn terms(&self) -> (u64, u64) {
        let secs = |nanos: i64| u64::try_from(goduration::whole_secs(nanos)).unwrap_or(0);
        (secs(self.lease), secs(self.lease_max))
    }
}

/// The stored configuration, if any.
pub fn load() -> Result<Option<LeaseConfig>> {
    storage::get_json(KEY)
}

/// `GET config/lease`: `{"lease":"30m0s","lease_max":"12h0m0s"}`.
pub fn read(_req: &Request) -> Result<Response> {
    let lease = load()?.ok_or_else(Error::not_found)?;
    Ok(Response::data(json!({
        "lease": goduration::format(lease.lease),
        "lease_max": goduration::format(lease.lease_max),
    })))
}

/// `POST config/lease`: both fields required, parsed as Go durations.
pub fn write(req: &Request) -> Result<Response> {
    let lease_raw = req.get::<String>("lease")?.unwrap_or_default();
    let lease_max_raw = req.get::<String>("lease_max")?.unwrap_or_default();
    if lease_raw.is_empty() {
        return Err(Error::invalid("'lease' is a required parameter"));
    }
    if lease_max_raw.is_empty() {
        return Err(Error::invalid("'lease_max' is a required parameter"));
    }
    let lease =
        goduration::parse(&lease_raw).map_err(|e| Error::invalid(format!("Invalid lease: {e}")))?;
    let lease_max = goduration::parse(&lease_max_raw)
        .map_err(|e| Error::invalid(format!("Invalid lease_max: {e}")))?;
    storage::put_json(KEY, &LeaseConfig { lease, lease_max })?;
    Ok(Response::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_whole_non_negative_seconds() {
        let c = LeaseConfig {
            lease: 1_800_000_000_000,
            lease_max: -1,
        };
        assert_eq!(c.terms(), (1800, 0));
        assert_eq!(LeaseConfig::default().terms(), (0, 0));
    }
}
