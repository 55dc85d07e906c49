//! In-memory backend, used by `coffer server -dev`.

use std::collections::BTreeMap;
use std::sync::RwLock;

use super::{Backend, BatchOp, StorageError, listing::list_one_level};

/// A backend that keeps everything in a sorted map; lost when the process exits.
#[derive(Default)]
pub struct MemoryBackend {
    map: RwLock<BTreeMap<String, Vec<u8>>>,
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn poisoned() -> StorageError {
        StorageError::Backend {
            backend: "inmem",
            message: "lock poisoned".into(),
        }
    }
}

impl Backend for MemoryBackend {
    fn kind(&self) -> &'static str {
        "inmem"
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let map = self.map.read().map_err(|_| Self::poisoned())?;
        Ok(map.get(key).cloned())
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        let mut map = self.map.write().map_err(|_| Self::poisoned())?;
        map.insert(key.to_string(), value.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), StorageError> {
        let mut map = self.map.write().map_err(|_| Self::poisoned())?;
        map.remove(key);
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let map = self.map.read().map_err(|_| Self::poisoned())?;
        list_one_level(prefix, |start| {
            Ok(map
                .range::<str, _>((std::ops::Bound::Included(start), std::ops::Bound::Unbounded))
                .next()
                .map(|(k, _)| k.clone()))
        })
    }

    fn delete_prefix(&self, prefix: &str) -> Result<(), StorageError> {
        let mut map = self.map.write().map_err(|_| Self::poisoned())?;
        map.retain(|k, _| !k.starts_with(prefix));
        Ok(())
    }

    fn scan(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        use std::ops::Bound;
        let map = self.map.read().map_err(|_| Self::poisoned())?;
        let start = match after {
            // A cursor before the prefix means "from the start of the prefix".
            Some(a) if a >= prefix => Bound::Excluded(a),
            _ => Bound::Included(prefix),
        };
        Ok(map
            .range::<str, _>((start, Bound::Unbounded))
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(prefix))
            .take(limit)
            .cloned()
            .collect())
    }

    fn batch(&self, ops: &[BatchOp]) -> Result<(), StorageError> {
        let mut map = self.map.write().map_err(|_| Self::poisoned())?;
        for op in ops {
            match op {
                BatchOp::Put(k, v) => {
                    map.insert(k.clone(), v.clone());
                }
                BatchOp::Delete(k) => {
                    map.remove(k);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_one_level_with_folders() {
        let b = MemoryBackend::new();
        for k in ["a/b", "a/c/d", "a/c/e", "a/f", "ab", "b"] {
            b.put(k, b"x").unwrap();
        }
        assert_eq!(b.list("a/").unwrap(), vec!["b", "c/", "f"]);
        assert_eq!(b.list("").unwrap(), vec!["a/", "ab", "b"]);
        assert!(b.list("zz/").unwrap().is_empty());
        assert_eq!(
            b.scan("a/", None, 10).unwrap(),
            vec!["a/b", "a/c/d", "a/c/e", "a/f"]
        );
        assert_eq!(
            b.scan("a/", Some("a/c/d"), 2).unwrap(),
            vec!["a/c/e", "a/f"]
        );
        b.delete_prefix("a/").unwrap();
        assert_eq!(b.list("").unwrap(), vec!["ab", "b"]);
        b.batch(&[
            BatchOp::Put("x".into(), b"1".to_vec()),
            BatchOp::Delete("b".into()),
        ])
        .unwrap();
        assert_eq!(b.list("").unwrap(), vec!["ab", "x"]);
    }
}
