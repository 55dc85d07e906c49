//! `coffer:engine/storage`: the engine's mount-scoped key/value space.

use crate::runtime::CallState;
use crate::runtime::bindings::coffer::engine::storage::{Host, StorageError as WitError};
use crate::storage::StorageError;

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
        self.storage.get(&key).map_err(to_wit)
    }

    async fn put(&mut self, key: String, value: Vec<u8>) -> Result<(), WitError> {
        self.storage.put(&key, &value).map_err(to_wit)
    }

    async fn delete(&mut self, key: String) -> Result<(), WitError> {
        self.storage.delete(&key).map_err(to_wit)
    }

    async fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, WitError> {
        self.storage.list(&prefix).map_err(to_wit)
    }
}
