//! Embedded on-disk backend: one redb file under the data directory.
//!
//! Writes are group-committed: every put, delete and batch is handed to one committer
//! thread, which applies whatever has queued up meanwhile in a single write transaction
//! and commits it with one fsync, then answers each caller. A caller still returns only
//! once its write is durable, but 64 concurrent writers share a handful of fsyncs
//! instead of queueing for 64 of them. Nothing waits to fill a group: a lone write is
//! committed at once, and groups grow only while the disk is busy with the previous one.
//!
//! Every write transaction also updates the usage counts of the metered folders
//! ([`Backend::stored_bytes`], table `coffer-usage`) from the old values redb hands back
//! on insert and remove, so the counts are exact and cost no extra reads.
//!
//! Space: deleting data (an unmount deletes the mount's keys and its count) frees
//! pages inside the file for later writes to reuse, but the file does not shrink.
//! redb's `Database::compact` needs exclusive access (no transaction in flight), which
//! a serving process never has; compact offline if the file must shrink.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use redb::{Database, ReadableTable, TableDefinition};

use super::meter::{self, Meter};
use super::{Backend, BatchOp, METERED_ROOT, StorageError, listing::list_one_level};

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("coffer");

/// Bytes stored under each metered folder (see [`Backend::stored_bytes`]), updated in
/// the same write transaction as the data. The empty key marks the counts as complete.
const USAGE: TableDefinition<&str, u64> = TableDefinition::new("coffer-usage");

/// The key of [`USAGE`] whose presence says the counts cover every key (a store
/// created before metering gets its counts from one scan when first opened).
const USAGE_COMPLETE: &str = "";

/// Most callers' writes applied in one transaction; bounds the work lost to a retry
/// when a group fails and is replayed caller by caller.
const MAX_GROUP: usize = 512;

/// A durable backend: every write is committed (fsync'd) before it returns, so data
/// survives a crash or `kill -9`.
pub struct RedbBackend {
    db: Arc<Database>,
    /// Where writes queue for the committer; `None` only while dropping.
    commits: Option<mpsc::Sender<Commit>>,
    committer: Option<JoinHandle<()>>,
    /// Transactions committed so far.
    commits_done: Arc<AtomicU64>,
}

/// One caller's write, waiting for its group to be committed.
struct Commit {
    write: Write,
    done: mpsc::SyncSender<Result<(), StorageError>>,
}

/// The writes a caller can queue.
enum Write {
    Ops(Vec<BatchOp>),
    DeletePrefix(String),
}

fn backend_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend {
        backend: "redb",
        message: e.to_string(),
    }
}

fn committer_gone() -> StorageError {
    backend_err("the commit thread has stopped")
}

impl RedbBackend {
    /// Opens (or creates) `dir/coffer.redb`.
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(backend_err)?;
        let db = Arc::new(Database::create(dir.join("coffer.redb")).map_err(backend_err)?);
        // Create the tables up front so read transactions can always open them.
        let txn = db.begin_write().map_err(backend_err)?;
        txn.open_table(TABLE).map_err(backend_err)?;
        count_usage_once(&txn)?;
        txn.commit().map_err(backend_err)?;
        let (commits, queue) = mpsc::channel();
        let commits_done = Arc::new(AtomicU64::new(0));
        let committer = std::thread::Builder::new()
            .name("coffer-redb-commit".into())
            .spawn({
                let (db, done) = (db.clone(), commits_done.clone());
                move || run_committer(&db, &queue, &done)
            })
            .map_err(backend_err)?;
        Ok(Self {
            db,
            commits: Some(commits),
            committer: Some(committer),
            commits_done,
        })
    }

    /// Write transactions committed (each one fsync) since the store was opened: fewer
    /// than the writes made when concurrent writers shared commits.
    pub fn commits(&self) -> u64 {
        self.commits_done.load(Ordering::Relaxed)
    }

    /// Queues `write` and waits until it is durable (or failed).
    fn submit(&self, write: Write) -> Result<(), StorageError> {
        let (done, outcome) = mpsc::sync_channel(1);
        self.commits
            .as_ref()
            .ok_or_else(committer_gone)?
            .send(Commit { write, done })
            .map_err(|_| committer_gone())?;
        wait_blocking(|| outcome.recv().map_err(|_| committer_gone())?)
    }
}

impl Drop for RedbBackend {
    fn drop(&mut self) {
        // Closing the queue lets the committer finish what is queued and exit; joining
        // it releases its handle on the file before anyone reopens it.
        self.commits.take();
        if let Some(committer) = self.committer.take() {
            let _ = committer.join();
        }
    }
}

/// Runs `wait` (which blocks on a commit) without stalling an async runtime: on a
/// multi-threaded tokio worker, the worker's other tasks move to another thread while
/// this one waits, so many requests can wait on commits at once and share them.
fn wait_blocking<T>(wait: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    }
}

/// The committer thread: takes everything queued, commits it as one transaction, and
/// answers every caller in the group.
fn run_committer(db: &Database, queue: &mpsc::Receiver<Commit>, done: &AtomicU64) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let outcome = commit(db, group.iter().map(|c| &c.write));
        done.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Ok(()) => {
                for c in group {
                    let _ = c.done.send(Ok(()));
                }
            }
            // One caller's bad write must not fail the others: replay them one by one
            // so each gets its own outcome.
            Err(e) if group.len() == 1 => {
                let _ = group[0].done.send(Err(e));
            }
            Err(e) => {
                tracing::warn!(error = %e, callers = group.len(), "group commit failed; committing its writes one by one");
                for c in group {
                    let _ = c.done.send(commit(db, std::iter::once(&c.write)));
                }
            }
        }
    }
}

/// Fills [`USAGE`] from one scan of the metered keys, unless it is complete already.
fn count_usage_once(txn: &redb::WriteTransaction) -> Result<(), StorageError> {
    let mut usage = txn.open_table(USAGE).map_err(backend_err)?;
    if usage.get(USAGE_COMPLETE).map_err(backend_err)?.is_some() {
        return Ok(());
    }
    let table = txn.open_table(TABLE).map_err(backend_err)?;
    let mut meter = Meter::default();
    for entry in table.range(METERED_ROOT..).map_err(backend_err)? {
        let (k, v) = entry.map_err(backend_err)?;
        if !k.value().starts_with(METERED_ROOT) {
            break;
        }
        meter.record(k.value(), None, Some(v.value().len()));
    }
    usage.retain(|_, _| false).map_err(backend_err)?;
    for (folder, bytes) in meter.into_deltas() {
        usage
            .insert(folder.as_str(), bytes.max(0) as u64)
            .map_err(backend_err)?;
    }
    usage.insert(USAGE_COMPLETE, 0).map_err(backend_err)?;
    Ok(())
}

/// Applies `writes` in order in one write transaction, with the usage counts they
/// change, and commits it.
fn commit<'a>(db: &Database, writes: impl Iterator<Item = &'a Write>) -> Result<(), StorageError> {
    let txn = db.begin_write().map_err(backend_err)?;
    {
        let mut table = txn.open_table(TABLE).map_err(backend_err)?;
        let mut meter = Meter::default();
        for write in writes {
            apply(&mut table, write, &mut meter).map_err(backend_err)?;
        }
        let mut usage = txn.open_table(USAGE).map_err(backend_err)?;
        settle(&mut usage, meter).map_err(backend_err)?;
    }
    txn.commit().map_err(backend_err)
}

/// Moves the usage counts by what one transaction changed.
fn settle(usage: &mut redb::Table<'_, &str, u64>, meter: Meter) -> Result<(), redb::StorageError> {
    for (folder, delta) in meter.into_deltas() {
        let current = usage.get(folder.as_str())?.map_or(0, |v| v.value());
        match meter::apply(current, delta) {
            Some(n) => {
                usage.insert(folder.as_str(), n)?;
            }
            None => {
                usage.remove(folder.as_str())?;
            }
        }
    }
    Ok(())
}

fn apply(
    table: &mut redb::Table<'_, &str, &[u8]>,
    write: &Write,
    meter: &mut Meter,
) -> Result<(), redb::StorageError> {
    match write {
        Write::Ops(ops) => {
            for op in ops {
                // redb hands back the value each insert or remove replaces: the usage
                // delta costs no extra read.
                match op {
                    BatchOp::Put(k, v) => {
                        let old = table
                            .insert(k.as_str(), v.as_slice())?
                            .map(|old| old.value().len());
                        meter.record(k, old, Some(v.len()));
                    }
                    BatchOp::Delete(k) => {
                        let old = table.remove(k.as_str())?.map(|old| old.value().len());
                        meter.record(k, old, None);
                    }
                }
            }
        }
        Write::DeletePrefix(prefix) => {
            let doomed: Vec<String> = table
                .range(prefix.as_str()..)?
                .map(|e| e.map(|(k, _)| k.value().to_string()))
                .take_while(|k| {
                    k.as_ref()
                        .map(|k| k.starts_with(prefix.as_str()))
                        .unwrap_or(true)
                })
                .collect::<Result<_, _>>()?;
            for k in doomed {
                let old = table.remove(k.as_str())?.map(|old| old.value().len());
                meter.record(&k, old, None);
            }
        }
    }
    Ok(())
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
        self.submit(Write::Ops(vec![BatchOp::Put(key.into(), value.to_vec())]))
    }

    fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.submit(Write::Ops(vec![BatchOp::Delete(key.into())]))
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
        self.submit(Write::DeletePrefix(prefix.into()))
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
        self.submit(Write::Ops(ops.to_vec()))
    }

    fn stored_bytes(&self, folder: &str) -> Result<Option<u64>, StorageError> {
        let txn = self.db.begin_read().map_err(backend_err)?;
        let usage = txn.open_table(USAGE).map_err(backend_err)?;
        Ok(Some(
            usage
                .get(folder)
                .map_err(backend_err)?
                .map_or(0, |v| v.value()),
        ))
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

    #[test]
    fn usage_is_metered_durably_and_counted_once_for_an_old_store() {
        let dir = tempfile::tempdir().unwrap();
        {
            let b = RedbBackend::open(dir.path()).unwrap();
            b.put("logical/u1/a", &[0; 10]).unwrap();
            b.batch(&[
                BatchOp::Put("logical/u1/b/c".into(), vec![0; 5]),
                BatchOp::Put("logical/u1/a".into(), vec![0; 20]),
                BatchOp::Put("core/x".into(), vec![0; 50]),
            ])
            .unwrap();
            assert_eq!(b.stored_bytes("logical/u1/").unwrap(), Some(32 + 19));
        }
        let b = RedbBackend::open(dir.path()).unwrap();
        assert_eq!(b.stored_bytes("logical/u1/").unwrap(), Some(32 + 19));
        b.put("logical/u2/z", &[0; 3]).unwrap();
        // A store from before metering: the counts are rebuilt from its keys.
        let txn = b.db.begin_write().unwrap();
        txn.delete_table(USAGE).unwrap();
        txn.commit().unwrap();
        drop(b);
        let b = RedbBackend::open(dir.path()).unwrap();
        assert_eq!(b.stored_bytes("logical/u1/").unwrap(), Some(32 + 19));
        assert_eq!(b.stored_bytes("logical/u2/").unwrap(), Some(12 + 3));
        b.delete_prefix("logical/u1/").unwrap();
        assert_eq!(b.stored_bytes("logical/u1/").unwrap(), Some(0));
    }

    #[test]
    fn concurrent_writers_share_commits_and_every_write_survives() {
        let dir = tempfile::tempdir().unwrap();
        let (threads, per_thread) = (32, 10);
        {
            let b = Arc::new(RedbBackend::open(dir.path()).unwrap());
            let before = b.commits();
            let start = Arc::new(std::sync::Barrier::new(threads));
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (b, start) = (b.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        for i in 0..per_thread {
                            b.put(&format!("k/{t}/{i}"), format!("{t}-{i}").as_bytes())
                                .unwrap();
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            let commits = b.commits() - before;
            assert!(
                commits < (threads * per_thread) as u64,
                "{commits} commits for {} writes: no write shared a commit",
                threads * per_thread
            );
        }
        let b = RedbBackend::open(dir.path()).unwrap();
        for t in 0..threads {
            for i in 0..per_thread {
                assert_eq!(
                    b.get(&format!("k/{t}/{i}")).unwrap(),
                    Some(format!("{t}-{i}").into_bytes())
                );
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_on_runtime_workers_do_not_block_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let b = Arc::new(RedbBackend::open(dir.path()).unwrap());
        // More concurrent writers than workers: each waits for its commit without
        // holding a worker, so all of them complete.
        let tasks: Vec<_> = (0..16)
            .map(|t| {
                let b = b.clone();
                tokio::spawn(async move { b.put(&format!("w/{t}"), b"x") })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(b.list("w/").unwrap().len(), 16);
    }
}
