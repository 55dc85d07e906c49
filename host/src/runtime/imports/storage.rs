//! `coffer:engine/storage`: the engine's mount-scoped key/value space.
//!
//! Every write is held in the call's [`WriteSet`](crate::runtime::write_set) and applied
//! when the call returns (see there, and `wit/imports.wit`). The mount's storage quota
//! is enforced here, on each `put`, against the bytes the backend meters for the mount
//! plus what the call's pending writes would add.

use crate::runtime::CallState;
use crate::runtime::bindings::coffer::engine::storage::{Host, StorageError as WitError};
use crate::storage::{BatchOp, StorageError, validate_key, validate_value};

fn to_wit(e: StorageError) -> WitError {
    match e {
        StorageError::InvalidKey { .. } => WitError::InvalidKey(e.to_string()),
        StorageError::TooLarge { size, .. } | StorageError::CallTooLarge { size, .. } => {
            WitError::TooLarge(size)
        }
        // The message names the quota; guests report it (the SDK as an internal error
        // whose text reaches the client).
        StorageError::QuotaExceeded { .. } => WitError::Backend(e.to_string()),
        StorageError::Backend { .. } => {
            tracing::error!(error = %e, "storage failed during an engine call");
            WitError::Backend(e.to_string())
        }
    }
}

impl Host for CallState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, WitError> {
        if let Some(pending) = self.writes.lookup(&key) {
            return Ok(pending.map(<[u8]>::to_vec));
        }
        self.storage.get(&key).map_err(to_wit)
    }

    async fn put(&mut self, key: String, value: Vec<u8>) -> Result<(), WitError> {
        validate_key(&key).map_err(to_wit)?;
        validate_value(&value).map_err(to_wit)?;
        let previous = self
            .writes
            .push(BatchOp::Put(key.clone(), value))
            .map_err(to_wit)?;
        if let Err(e) = self.check_quota() {
            // Refused: the call's pending writes go back to what they were.
            self.writes.restore(&key, previous);
            return Err(to_wit(e));
        }
        Ok(())
    }

    async fn delete(&mut self, key: String) -> Result<(), WitError> {
        validate_key(&key).map_err(to_wit)?;
        self.writes
            .push(BatchOp::Delete(key))
            .map(drop)
            .map_err(to_wit)
    }

    async fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, WitError> {
        self.writes.list(&self.storage, &prefix).map_err(to_wit)
    }
}

impl CallState {
    /// Refuses the call's pending writes if committing them would take the mount past
    /// its storage quota. Cheap unless the mount is near its quota: the stored bytes
    /// are one counter read, and only when the pending writes' upper bound (each put
    /// counted whole) does not fit are their exact sizes worked out.
    ///
    /// Concurrent calls of one mount are each checked against the committed count, so
    /// together they may overshoot the quota by at most their pending writes (each
    /// bounded by the per-call limit); the count itself stays exact.
    fn check_quota(&mut self) -> Result<(), StorageError> {
        let quota = self.storage_quota;
        if quota == u64::MAX {
            return Ok(());
        }
        let Some(used) = self.storage.stored_bytes()? else {
            return Ok(());
        };
        if used.saturating_add(self.writes.growth_bound()) <= quota {
            return Ok(());
        }
        let growth = self.writes.growth(&self.storage)?;
        let after = i128::from(used) + i128::from(growth);
        if growth > 0 && after > i128::from(quota) {
            return Err(StorageError::QuotaExceeded {
                quota,
                used,
                adding: growth.unsigned_abs(),
            });
        }
        Ok(())
    }

    /// Commits the call's pending writes now, before an outside call (AWS) they may
    /// guard: a write-ahead record must be durable before the effect it records.
    pub(crate) fn commit_before_outside_call(&mut self) -> Result<(), StorageError> {
        self.writes.commit(&self.storage)
    }
}
