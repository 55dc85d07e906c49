//! In-memory backend, used by `coffer server -dev`.

use std::collections::BTreeMap;
use std::sync::RwLock;

use super::meter::{self, Meter};
use super::{Backend, BatchOp, StorageError, listing::list_one_level};

/// A backend that keeps everything in a sorted map; lost when the process exits.
#[derive(Default)]
pub struct MemoryBackend {
    map: RwLock<Store>,
}

/// The data and the usage counts of its metered folders, under one lock so that both
/// change together.
#[derive(Default)]
struct Store {
    map: BTreeMap<String, Vec<u8>>,
    usage: BTreeMap<String, u64>,
}

impl Store {
    fn insert(&mut self, key: String, value: Vec<u8>, meter: &mut Meter) {
        let new = value.len();
        let old = self.map.insert(key.clone(), value).map(|v| v.len());
        meter.record(&key, old, Some(new));
    }

    fn remove(&mut self, key: &str, meter: &mut Meter) {
        let old = self.map.remove(key).map(|v| v.len());
        meter.record(key, old, None);
    }

    fn settle(&mut self, meter: Meter) {
        for (folder, delta) in meter.into_deltas() {
            let current = self.usage.get(&folder).copied().unwrap_or(0);
            match meter::apply(current, delta) {
                Some(n) => self.usage.insert(folder, n),
                None => self.usage.remove(&folder),
            };
        }
    }
}

impl std::ops::Deref for Store {
    type Target = BTreeMap<String, Vec<u8>>;
    fn deref(&self) -> &Self::Target {
        &self.map
    }
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
        self.batch(&[BatchOp::Put(key.to_string(), value.to_vec())])
    }

    fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.batch(&[BatchOp::Delete(key.to_string())])
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
        let mut store = self.map.write().map_err(|_| Self::poisoned())?;
        let doomed: Vec<String> = store
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        let mut meter = Meter::default();
        for k in doomed {
            store.remove(&k, &mut meter);
        }
        store.settle(meter);
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
        let mut store = self.map.write().map_err(|_| Self::poisoned())?;
        let mut meter = Meter::default();
        for op in ops {
            match op {
                BatchOp::Put(k, v) => store.insert(k.clone(), v.clone(), &mut meter),
                BatchOp::Delete(k) => store.remove(k, &mut meter),
            }
        }
        store.settle(meter);
        Ok(())
    }

    fn stored_bytes(&self, folder: &str) -> Result<Option<u64>, StorageError> {
        let store = self.map.read().map_err(|_| Self::poisoned())?;
        Ok(Some(store.usage.get(folder).copied().unwrap_or(0)))
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

    #[test]
    fn meters_bytes_under_each_mount_folder() {
        let b = MemoryBackend::new();
        b.put("logical/u1/a", &[0; 10]).unwrap();
        b.put("logical/u1/b/c", &[0; 5]).unwrap();
        b.put("logical/u2/a", &[0; 1]).unwrap();
        b.put("sys/x", &[0; 100]).unwrap();
        let used = |f: &str| b.stored_bytes(f).unwrap().unwrap();
        assert_eq!(used("logical/u1/"), (12 + 10) + (14 + 5));
        assert_eq!(used("logical/u2/"), 12 + 1);
        b.batch(&[
            BatchOp::Put("logical/u1/a".into(), vec![0; 2]),
            BatchOp::Delete("logical/u1/missing".into()),
        ])
        .unwrap();
        assert_eq!(used("logical/u1/"), (12 + 2) + (14 + 5));
        b.delete_prefix("logical/u1/").unwrap();
        assert_eq!(used("logical/u1/"), 0);
        assert_eq!(used("logical/u2/"), 13);
    }
}
