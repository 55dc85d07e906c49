//! `coffer:engine/storage`: the engine's mount-scoped key/value space.

use crate::runtime::CallState;
use crate::runtime::bindings::coffer::engine::storage::{Host, StorageError as WitError};
use crate::storage::{BatchOp, StorageError, validate_key, validate_value};

fn to_wit(e: StorageError) -> WitError {
    match e {
        StorageError::InvalidKey { .. } => WitError::InvalidKey(e.to_string()),
        StorageError::TooLarge { size, .. } => WitError::TooLarge(size),
        StorageError::Backend { .. } => {
            tracing::error!(error = %e, "storage failed during an engine call");
            WitError::Backend(e.to_string())
        }
    }
}

impl Host for CallState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, WitError> {
        if let Some(pending) = self.writes.as_ref().and_then(|w| w.lookup(&key)) {
            return Ok(pending.map(<[u8]>::to_vec));
        }
        self.storage.get(&key).map_err(to_wit)
    }

    async fn put(&mut self, key: String, value: Vec<u8>) -> Result<(), WitError> {
        if self.writes.is_none() {
            return self.storage.put(&key, &value).map_err(to_wit);
        }
        validate_key(&key).map_err(to_wit)?;
        validate_value(&value).map_err(to_wit)?;
        self.pend(BatchOp::Put(key, value))
    }

    async fn delete(&mut self, key: String) -> Result<(), WitError> {
        if self.writes.is_none() {
            return self.storage.delete(&key).map_err(to_wit);
        }
        validate_key(&key).map_err(to_wit)?;
        self.pend(BatchOp::Delete(key))
    }

    async fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, WitError> {
        if let Some(writes) = self.writes.as_mut() {
            writes.commit(&self.storage).map_err(to_wit)?;
        }
        self.storage.list(&prefix).map_err(to_wit)
    }
}

impl CallState {
    /// Adds a write to the call's pending set, committing early when it grows large.
    fn pend(&mut self, op: BatchOp) -> Result<(), WitError> {
        let Some(writes) = self.writes.as_mut() else {
            return Ok(());
        };
        if writes.push(op) {
            writes.commit(&self.storage).map_err(to_wit)?;
        }
        Ok(())
    }
}
