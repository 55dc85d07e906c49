//! Storage: the `Backend` trait and its implementations.
//!
//! Everything Coffer keeps (the mount table, engine data) goes through a [`Backend`]:
//! a flat, ordered key/value space with `/`-separated keys. [`View`] scopes a backend to
//! one prefix so an engine sees only its own mount's keys.

mod listing;
mod memory;
mod meter;
mod redb_backend;
mod time_index;
mod view;

pub use memory::MemoryBackend;
pub use redb_backend::RedbBackend;
pub use time_index::TimeIndex;
pub use view::View;

use std::sync::Arc;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The key cannot be stored (empty, absolute, or otherwise malformed).
    #[error("invalid storage key {key:?}: {reason}")]
    InvalidKey {
        /// The offending key.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The value is larger than one entry may be.
    #[error("value of {size} bytes exceeds the {limit}-byte entry limit")]
    TooLarge {
        /// Size of the rejected value.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// One engine call's pending writes would exceed what a call may hold.
    #[error(
        "this call's writes would hold {size} bytes of keys and values, over the {limit}-byte limit of one call"
    )]
    CallTooLarge {
        /// Pending bytes the refused write would have made.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A write would take the mount's stored bytes past its quota.
    #[error(
        "storage quota exceeded: the mount may store {quota} bytes (the plugin's storage_quota), it stores {used} and this call would add {adding}"
    )]
    QuotaExceeded {
        /// The mount's quota, bytes.
        quota: u64,
        /// Bytes stored now.
        used: u64,
        /// Bytes the call's writes would add.
        adding: u64,
    },
    /// The underlying store failed.
    #[error("storage backend ({backend}) failed: {message}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// The backend's own message.
        message: String,
    },
}

/// Largest value one entry may hold. Bounded so a misbehaving engine cannot write a
/// single record that makes every later read of it expensive.
pub const MAX_VALUE_BYTES: usize = 64 * 1024 * 1024;

/// The folder whose direct sub-folders backends meter: `logical/<mount uuid>/` holds one
/// mount's data, and a backend keeps the bytes stored under each such folder
/// ([`Backend::stored_bytes`]) for the mounts' storage quotas.
pub const METERED_ROOT: &str = "logical/";

/// The metered folder `key` counts towards: `logical/<segment>/` for a key below one.
pub fn metered_folder(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(METERED_ROOT)?;
    let end = rest.find('/')?;
    Some(&key[..METERED_ROOT.len() + end + 1])
}

/// A key/value store with ordered keys.
///
/// Implementations must make `put` and `delete` durable (for the durable backends)
/// before returning, so a crash right after a call loses nothing that call reported.
///
/// Metering: a backend that keeps usage counts updates, in the same atomic write as the
/// data, the bytes (key length plus value length, as stored) under each folder directly
/// below [`METERED_ROOT`], and drops a folder's count when its last key goes.
pub trait Backend: Send + Sync + 'static {
    /// Short name used in errors and `sys/seal-status` (`inmem`, `redb`).
    fn kind(&self) -> &'static str;
    /// Reads one key.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Writes one key.
    fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError>;
    /// Deletes one key; deleting a missing key succeeds.
    fn delete(&self, key: &str) -> Result<(), StorageError>;
    /// Lists one level below `prefix`: direct children, and sub-folders with a trailing
    /// `/`, sorted and deduplicated.
    fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError>;
    /// Deletes every key that starts with `prefix`.
    fn delete_prefix(&self, prefix: &str) -> Result<(), StorageError>;
    /// Up to `limit` keys starting with `prefix`, in order, strictly after `after` when
    /// given: a page of a recursive walk.
    fn scan(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StorageError>;
    /// Applies several puts and deletes atomically: all or none survive a crash.
    fn batch(&self, ops: &[BatchOp]) -> Result<(), StorageError>;
    /// Bytes stored under `folder` (a folder directly below [`METERED_ROOT`], ending
    /// with `/`), exact and durable with the data; `None` when this backend does not
    /// meter.
    fn stored_bytes(&self, folder: &str) -> Result<Option<u64>, StorageError> {
        let _ = folder;
        Ok(None)
    }
}

/// One operation of an atomic [`Backend::batch`].
#[derive(Debug, Clone)]
pub enum BatchOp {
    /// Write a key.
    Put(String, Vec<u8>),
    /// Delete a key.
    Delete(String),
}

/// A shared backend handle.
pub type SharedBackend = Arc<dyn Backend>;

/// Checks a key an engine (or the host) wants to use.
pub fn validate_key(key: &str) -> Result<(), StorageError> {
    let reason = if key.is_empty() {
        "empty"
    } else if key.starts_with('/') {
        "starts with '/'"
    } else if key.len() > 4096 {
        "longer than 4096 bytes"
    } else if key.split('/').any(|seg| seg == ".." || seg == ".") {
        "contains a '.' or '..' segment"
    } else {
        return Ok(());
    };
    Err(StorageError::InvalidKey {
        key: key.chars().take(128).collect(),
        reason,
    })
}

/// Checks a value's size against [`MAX_VALUE_BYTES`].
pub fn validate_value(value: &[u8]) -> Result<(), StorageError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(StorageError::TooLarge {
            size: value.len() as u64,
            limit: MAX_VALUE_BYTES as u64,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metered_folders_are_the_children_of_logical() {
        assert_eq!(metered_folder("logical/u1/a/b"), Some("logical/u1/"));
        assert_eq!(metered_folder("logical/u1/"), Some("logical/u1/"));
        assert_eq!(metered_folder("logical/u1"), None);
        assert_eq!(metered_folder("sys/expire/id/x"), None);
    }

    #[test]
    fn rejects_bad_keys() {
        assert!(validate_key("").is_err());
        assert!(validate_key("/abs").is_err());
        assert!(validate_key("a/../b").is_err());
        assert!(validate_key("a/b/c").is_ok());
    }
}
