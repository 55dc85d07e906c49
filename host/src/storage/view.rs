//! A backend scoped to one key prefix.

use std::sync::Arc;

use super::{BatchOp, SharedBackend, StorageError, validate_key, validate_value};

/// A window onto a backend under `prefix`: keys given to it are relative, so whoever
/// holds a view (an engine instance) cannot name a key outside it.
#[derive(Clone)]
pub struct View {
    backend: SharedBackend,
    /// Shared, so that cloning a view (once per engine call) does not copy it.
    prefix: Arc<str>,
}

impl View {
    /// A view of `backend` under `prefix`, which must end with `/`.
    pub fn new(backend: SharedBackend, prefix: impl Into<String>) -> Self {
        Self {
            backend,
            prefix: Arc::from(prefix.into()),
        }
    }

    /// The prefix this view covers.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The prefix, shared.
    pub fn shared_prefix(&self) -> Arc<str> {
        self.prefix.clone()
    }

    /// Reads a relative key.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        validate_key(key)?;
        self.backend.get(&format!("{}{key}", self.prefix))
    }

    /// Writes a relative key.
    pub fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        validate_key(key)?;
        validate_value(value)?;
        self.backend.put(&format!("{}{key}", self.prefix), value)
    }

    /// Deletes a relative key.
    pub fn delete(&self, key: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        self.backend.delete(&format!("{}{key}", self.prefix))
    }

    /// Lists one level under a relative prefix (empty or ending with `/`).
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        if !prefix.is_empty() {
            if !prefix.ends_with('/') {
                return Err(StorageError::InvalidKey {
                    key: prefix.chars().take(128).collect(),
                    reason: "list prefix must be empty or end with '/'",
                });
            }
            validate_key(prefix.trim_end_matches('/'))?;
        }
        self.backend.list(&format!("{}{prefix}", self.prefix))
    }

    /// Applies relative puts and deletes atomically.
    pub fn batch(&self, ops: &[BatchOp]) -> Result<(), StorageError> {
        let ops = ops
            .iter()
            .map(|op| {
                Ok(match op {
                    BatchOp::Put(k, v) => {
                        validate_key(k)?;
                        validate_value(v)?;
                        BatchOp::Put(format!("{}{k}", self.prefix), v.clone())
                    }
                    BatchOp::Delete(k) => {
                        validate_key(k)?;
                        BatchOp::Delete(format!("{}{k}", self.prefix))
                    }
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        self.backend.batch(&ops)
    }

    /// Deletes everything in the view.
    pub fn clear(&self) -> Result<(), StorageError> {
        self.backend.delete_prefix(&self.prefix)
    }
}
