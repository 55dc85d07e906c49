//! Embedded on-disk backend: one redb file under the data directory.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};

use super::{Backend, BatchOp, StorageError, listing::list_one_level};

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("coffer");

/// A durable backend: every write is committed (fsync'd) before it returns, so data
/// survives a crash or `kill -9`.
pub struct RedbBackend {
    db: Database,
}

fn backend_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend {
        backend: "redb",
        message: e.to_string(),
    }
}

impl RedbBackend {
    /// Opens (or creates) `dir/coffer.redb`.
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(backend_err)?;
        let db = Database::create(dir.join("coffer.redb")).map_err(backend_err)?;
        // Create the table up front so read transactions can always open it.
        let txn = db.begin_write().map_err(backend_err)?;
        txn.open_table(TABLE).map_err(backend_err)?;
        txn.commit().map_err(backend_err)?;
        Ok(Self { db })
    }

    fn write(
        &self,
        f: impl FnOnce(&mut redb::Table<'_, &str, &[u8]>) -> Result<(), redb::StorageError>,
    ) -> Result<(), StorageError> {
        let txn = self.db.begin_write().map_err(backend_err)?;
        {
            let mut table = txn.open_table(TABLE).map_err(backend_err)?;
            f(&mut table).map_err(backend_err)?;
        }
        txn.commit().map_err(backend_err)
    }
}

impl Backend for RedbBackend {
    fn kind(&self) -> &'static str {
        "redb"
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let txn = self.db.begin_read().map_err(backend_err)?;
        let table = txn.open_table(TABLE).map_err(backend_err)?;
        Ok(table
            .get(key)
            .map_err(backend_err)?
            .map(|v| v.value().to_vec()))
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.write(|t| t.insert(key, value).map(|_| ()))
    }

    fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.write(|t| t.remove(key).map(|_| ()))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let txn = self.db.begin_read().map_err(backend_err)?;
        let table = txn.open_table(TABLE).map_err(backend_err)?;
        list_one_level(prefix, |start| {
            let mut range = table.range(start..).map_err(backend_err)?;
            match range.next() {
                Some(entry) => {
                    let (k, _) = entry.map_err(backend_err)?;
                    Ok(Some(k.value().to_string()))
                }
                None => Ok(None),
            }
        })
    }

    fn delete_prefix(&self, prefix: &str) -> Result<(), StorageError> {
        self.write(|t| {
            let doomed: Vec<String> = t
                .range(prefix..)?
                .map(|e| e.map(|(k, _)| k.value().to_string()))
                .take_while(|k| k.as_ref().map(|k| k.starts_with(prefix)).unwrap_or(true))
                .collect::<Result<_, _>>()?;
            for k in doomed {
                t.remove(k.as_str())?;
            }
            Ok(())
        })
    }

    fn scan(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        use std::ops::Bound;
        let txn = self.db.begin_read().map_err(backend_err)?;
        let table = txn.open_table(TABLE).map_err(backend_err)?;
        let start = match after {
            // A cursor before the prefix means "from the start of the prefix".
            Some(a) if a >= prefix => Bound::Excluded(a),
            _ => Bound::Included(prefix),
        };
        let mut out = Vec::new();
        for entry in table
            .range::<&str>((start, Bound::Unbounded))
            .map_err(backend_err)?
        {
            let (k, _) = entry.map_err(backend_err)?;
            let k = k.value();
            if !k.starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push(k.to_string());
        }
        Ok(out)
    }

    fn batch(&self, ops: &[BatchOp]) -> Result<(), StorageError> {
        self.write(|t| {
            for op in ops {
                match op {
                    BatchOp::Put(k, v) => {
                        t.insert(k.as_str(), v.as_slice())?;
                    }
                    BatchOp::Delete(k) => {
                        t.remove(k.as_str())?;
                    }
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let b = RedbBackend::open(dir.path()).unwrap();
            b.put("x/y", b"1").unwrap();
            b.put("x/z/w", b"2").unwrap();
            b.put("q", b"3").unwrap();
        }
        let b = RedbBackend::open(dir.path()).unwrap();
        assert_eq!(b.get("x/y").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(b.list("x/").unwrap(), vec!["y", "z/"]);
        assert_eq!(b.scan("x/", None, 10).unwrap(), vec!["x/y", "x/z/w"]);
        assert_eq!(b.scan("x/", Some("x/y"), 10).unwrap(), vec!["x/z/w"]);
        b.delete_prefix("x/").unwrap();
        assert_eq!(b.list("").unwrap(), vec!["q"]);
        b.batch(&[
            BatchOp::Put("r".into(), b"4".to_vec()),
            BatchOp::Delete("q".into()),
        ])
        .unwrap();
        assert_eq!(b.list("").unwrap(), vec!["r"]);
    }
}
