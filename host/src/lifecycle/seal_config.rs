//! How the unseal key was split: kept outside the barrier, because `sys/seal-status`
//! must report `t` and `n` while sealed.

use serde::{Deserialize, Serialize};

use super::CoreError;
use crate::storage::SharedBackend;

/// Where the seal config lives in the raw (unencrypted) store.
pub const SEAL_CONFIG_PATH: &str = "core/seal-config";

/// Shamir parameters chosen at init.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealConfig {
    /// `n`: shares handed out.
    #[serde(rename = "secret_shares")]
    pub shares: usize,
    /// `t`: shares needed to unseal.
    #[serde(rename = "secret_threshold")]
    pub threshold: usize,
}

impl SealConfig {
    /// Checks Vault's rules for `secret_shares`/`secret_threshold`.
    pub fn new(shares: usize, threshold: usize) -> Result<Self, CoreError> {
        let invalid = |m: &str| Err(CoreError::Invalid(m.to_string()));
        if shares == 0 {
            return invalid("invalid seal configuration: secret shares must be at least one");
        }
        if threshold == 0 {
            return invalid("invalid seal configuration: secret threshold must be at least one");
        }
        if shares > 255 {
            return invalid("invalid seal configuration: secret shares must be at most 255");
        }
        if threshold > shares {
            return invalid(
                "invalid seal configuration: secret threshold cannot be larger than secret shares",
            );
        }
        if shares > 1 && threshold == 1 {
            return invalid(
                "invalid seal configuration: threshold must be greater than one for multiple shares",
            );
        }
        Ok(Self { shares, threshold })
    }

    /// The stored config, if any.
    pub fn load(inner: &SharedBackend) -> Result<Option<Self>, CoreError> {
        let Some(bytes) = inner.get(SEAL_CONFIG_PATH)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| CoreError::Assemble(format!("the stored seal config is corrupt: {e}")))
    }

    /// Stores the config in the raw store.
    pub fn store(&self, inner: &SharedBackend) -> Result<(), CoreError> {
        let bytes = serde_json::to_vec(self)
            .map_err(|e| CoreError::Assemble(format!("cannot encode the seal config: {e}")))?;
        inner.put(SEAL_CONFIG_PATH, &bytes)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vaults_rules() {
        assert!(SealConfig::new(5, 3).is_ok());
        assert!(SealConfig::new(1, 1).is_ok());
        for (n, t, msg) in [
            (0, 1, "at least one"),
            (3, 0, "at least one"),
            (3, 4, "cannot be larger"),
            (3, 1, "greater than one"),
            (256, 2, "at most 255"),
        ] {
            let e = SealConfig::new(n, t).unwrap_err().to_string();
            assert!(e.contains(msg), "{n}/{t}: {e}");
        }
    }
}
