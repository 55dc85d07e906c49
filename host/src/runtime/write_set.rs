//! An engine call's storage writes, held until the call returns and then committed as
//! one atomic batch.
//!
//! Why: a kv v2 write stores a version and then its metadata. Written through one by
//! one, that is two commits (two fsyncs on durable storage) per request, and a crash
//! or a trap between them leaves a version without metadata. Held back and committed
//! together, a call's writes cost one commit, shared with other calls' commits, and a
//! call that traps, overruns its deadline or is cancelled leaves storage untouched.
//!
//! Reads inside the call see its own pending writes. A listing first commits what is
//! pending (merging pending keys into a one-level listing is not worth its subtlety).
//! Engines granted capabilities with effects outside Coffer (AWS) write through: their
//! write-ahead records must be durable before the outside call they guard.

use crate::storage::{BatchOp, StorageError, View};

/// Pending bytes after which the set is committed early, so one call cannot hold an
/// unbounded amount of host memory in pending writes.
const FLUSH_BYTES: usize = 8 << 20;

/// Pending writes of one call, in order, last write of a key winning.
#[derive(Default)]
pub(crate) struct WriteSet {
    ops: Vec<BatchOp>,
    bytes: usize,
}

impl WriteSet {
    /// What a pending write says about `key`: `Some(Some(v))` written, `Some(None)`
    /// deleted, `None` untouched by this call.
    pub(crate) fn lookup(&self, key: &str) -> Option<Option<&[u8]>> {
        self.ops.iter().rev().find_map(|op| match op {
            BatchOp::Put(k, v) if k == key => Some(Some(v.as_slice())),
            BatchOp::Delete(k) if k == key => Some(None),
            _ => None,
        })
    }

    /// Records a write; `true` when the set should be committed now.
    pub(crate) fn push(&mut self, op: BatchOp) -> bool {
        self.bytes += match &op {
            BatchOp::Put(k, v) => k.len() + v.len(),
            BatchOp::Delete(k) => k.len(),
        };
        self.ops.push(op);
        self.bytes >= FLUSH_BYTES
    }

    /// Commits everything pending to `view` as one batch.
    pub(crate) fn commit(&mut self, view: &View) -> Result<(), StorageError> {
        if self.ops.is_empty() {
            return Ok(());
        }
        view.batch(&self.take())
    }

    /// Takes everything pending, to be committed by the caller.
    pub(crate) fn take(&mut self) -> Vec<BatchOp> {
        self.bytes = 0;
        std::mem::take(&mut self.ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryBackend;
    use std::sync::Arc;

    #[test]
    fn pending_writes_are_visible_then_committed_together() {
        let view = View::new(Arc::new(MemoryBackend::new()), "m/");
        let mut set = WriteSet::default();
        set.push(BatchOp::Put("a".into(), b"1".to_vec()));
        set.push(BatchOp::Put("a".into(), b"2".to_vec()));
        set.push(BatchOp::Delete("b".into()));
        assert_eq!(set.lookup("a"), Some(Some(&b"2"[..])));
        assert_eq!(set.lookup("b"), Some(None));
        assert_eq!(set.lookup("c"), None);
        assert_eq!(
            view.get("a").unwrap(),
            None,
            "nothing reaches storage before commit"
        );
        set.commit(&view).unwrap();
        assert_eq!(view.get("a").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(set.lookup("a"), None);
    }

    #[test]
    fn taken_writes_leave_the_set_empty() {
        let view = View::new(Arc::new(MemoryBackend::new()), "m/");
        let mut set = WriteSet::default();
        set.push(BatchOp::Put("a".into(), b"1".to_vec()));
        assert_eq!(set.take().len(), 1);
        set.commit(&view).unwrap();
        assert_eq!(view.get("a").unwrap(), None);
    }

    #[test]
    fn large_pending_sets_ask_to_be_committed_early() {
        let mut set = WriteSet::default();
        assert!(!set.push(BatchOp::Put("a".into(), vec![0; 1024])));
        assert!(set.push(BatchOp::Put("b".into(), vec![0; FLUSH_BYTES])));
    }
}
