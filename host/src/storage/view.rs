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

    /// Up to `limit` relative keys below the relative `prefix`, in order, strictly after
    /// the relative `after` when given (a page of a recursive walk).
    pub fn scan(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        let full = format!("{}{prefix}", self.prefix);
        let after = after.map(|a| format!("{}{a}", self.prefix));
        Ok(self
            .backend
            .scan(&full, after.as_deref(), limit)?
            .into_iter()
            .filter_map(|k| k.strip_prefix(&*self.prefix).map(str::to_string))
            .collect())
    }

    /// Bytes stored under the view (keys and values as the backend stores them), when
    /// the backend meters the view's folder (see [`super::Backend::stored_bytes`]).
    pub fn stored_bytes(&self) -> Result<Option<u64>, StorageError> {
        if super::metered_folder(&self.prefix) != Some(&*self.prefix) {
            return Ok(None);
        }
        self.backend.stored_bytes(&self.prefix)
    }

    /// Whether `backend` is the store this view writes to, so that the view's writes
    /// can share an atomic batch with `backend`'s own keys.
    pub fn is_over(&self, backend: &SharedBackend) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.backend), Arc::as_ptr(backend))
    }

    /// Applies relative puts and deletes atomically.
    pub fn batch(&self, ops: &[BatchOp]) -> Result<(), StorageError> {
        self.backend.batch(&self.absolute(ops)?)
    }

    /// Relative operations turned into the backend's own keys (checked as
    /// [`View::batch`] checks them), for a caller that adds them to a batch of its own
    /// on the same backend.
    pub fn absolute(&self, ops: &[BatchOp]) -> Result<Vec<BatchOp>, StorageError> {
        ops.iter()
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
            .collect::<Result<Vec<_>, StorageError>>()
    }

    /// Deletes everything in the view.
    pub fn clear(&self) -> Result<(), StorageError> {
        self.backend.delete_prefix(&self.prefix)
    }
}
