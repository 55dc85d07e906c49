//! Storage: the `Backend` trait and its implementations.
//!
//! Everything Coffer keeps (the mount table, engine data) goes through a [`Backend`]:
//! a flat, ordered key/value space with `/`-separated keys. [`View`] scopes a backend to
//! one prefix so an engine sees only its own mount's keys.

mod listing;
mod memory;
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

/// A key/value store with ordered keys.
///
/// Implementations must make `put` and `delete` durable (for the durable backends)
/// before returning, so a crash right after a call loses nothing that call reported.
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
    fn rejects_bad_keys() {
        assert!(validate_key("").is_err());
        assert!(validate_key("/abs").is_err());
        assert!(validate_key("a/../b").is_err());
        assert!(validate_key("a/b/c").is_ok());
    }
}
