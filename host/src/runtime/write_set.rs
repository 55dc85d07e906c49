//! An engine call's storage writes, held until the call returns and then committed as
//! one atomic batch.
//!
//! Why: a kv v2 write stores a version and then its metadata. Written through one by
//! one, that is two commits (two fsyncs on durable storage) per request, and a crash
//! or a trap between them leaves a version without metadata. Held back and committed
//! together, a call's writes cost one commit, shared with other calls' commits, and a
//! call that traps, overruns its deadline or is cancelled leaves storage untouched.
//!
//! Reads inside the call see its own pending writes, listings included: a listing is
//! the committed one-level listing with the pending puts and deletes merged in, so
//! nothing is committed before the call has succeeded, whatever it calls in between.
//!
//! A call may hold at most [`MAX_CALL_WRITE_BYTES`] of pending keys and values; a write
//! beyond that is refused (the guest gets `too-large`), rather than committed early,
//! because an early commit would apply part of a call that may still fail.
//!
//! Engines granted capabilities with effects outside Coffer (AWS) have their pending
//! writes committed before each outside call (see `imports/aws`): a write-ahead record
//! must be durable before the outside call it guards. What they write after their last
//! outside call stays pending like any engine's, and for a call that returns a lease it
//! is committed in one batch with the lease record (`router/engine.rs`), so the
//! write-ahead entry's removal and the lease that replaces it become durable together.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::storage::{BatchOp, MAX_VALUE_BYTES, StorageError, View};

/// Most bytes of keys and values one call may hold pending: room for one entry of the
/// largest size ([`MAX_VALUE_BYTES`]) and 1 MiB of other writes. Requests are at most
/// 32 MiB by default, so no ordinary request comes near it; it bounds the host memory a
/// call can pin (see `wit/imports.wit`).
pub(crate) const MAX_CALL_WRITE_BYTES: usize = MAX_VALUE_BYTES + (1 << 20);

/// Page size of the scans that decide whether a folder survives pending deletes.
const SCAN_PAGE: usize = 256;

/// Pending writes of one call: the last write of each key, in key order.
#[derive(Default)]
pub(crate) struct WriteSet {
    /// `Some(value)` written, `None` deleted.
    ops: BTreeMap<String, Option<Vec<u8>>>,
    /// Bytes of the pending keys and values.
    bytes: usize,
    /// Sizes (key + value) of committed entries this call has looked up, for the
    /// storage quota's exact accounting; `None` = no such entry.
    committed_sizes: HashMap<String, Option<usize>>,
}

/// What a call had pending for one key: `None` nothing, `Some(None)` a delete,
/// `Some(Some(v))` a put.
pub(crate) type Pending = Option<Option<Vec<u8>>>;

fn op_bytes(key: &str, value: Option<&[u8]>) -> usize {
    key.len() + value.map_or(0, <[u8]>::len)
}

impl WriteSet {
    /// What a pending write says about `key`: `Some(Some(v))` written, `Some(None)`
    /// deleted, `None` untouched by this call.
    pub(crate) fn lookup(&self, key: &str) -> Option<Option<&[u8]>> {
        self.ops.get(key).map(Option::as_deref)
    }

    /// Records a write, or refuses it (leaving the set as it was) when the call's
    /// pending bytes would exceed [`MAX_CALL_WRITE_BYTES`]. Returns what was pending
    /// for the key before (for [`WriteSet::restore`]).
    pub(crate) fn push(&mut self, op: BatchOp) -> Result<Pending, StorageError> {
        let (key, value) = match op {
            BatchOp::Put(k, v) => (k, Some(v)),
            BatchOp::Delete(k) => (k, None),
        };
        let replaced = self
            .ops
            .get(&key)
            .map_or(0, |old| op_bytes(&key, old.as_deref()));
        let after = self.bytes - replaced + op_bytes(&key, value.as_deref());
        if after > MAX_CALL_WRITE_BYTES {
            return Err(StorageError::CallTooLarge {
                size: after as u64,
                limit: MAX_CALL_WRITE_BYTES as u64,
            });
        }
        self.bytes = after;
        Ok(self.ops.insert(key, value))
    }

    /// Puts back what [`WriteSet::push`] returned for `key`, undoing that write.
    pub(crate) fn restore(&mut self, key: &str, previous: Pending) {
        if let Some(current) = self.ops.remove(key) {
            self.bytes -= op_bytes(key, current.as_deref());
        }
        if let Some(previous) = previous {
            self.bytes += op_bytes(key, previous.as_deref());
            self.ops.insert(key.to_string(), previous);
        }
    }

    /// Everything pending, as batch operations (the set keeps them).
    pub(crate) fn ops(&self) -> Vec<BatchOp> {
        self.ops
            .iter()
            .map(|(k, v)| match v {
                Some(v) => BatchOp::Put(k.clone(), v.clone()),
                None => BatchOp::Delete(k.clone()),
            })
            .collect()
    }

    /// Commits everything pending to `view` as one batch; on failure nothing is
    /// pending any more either (the writes are lost with the failed commit, which the
    /// caller reports).
    pub(crate) fn commit(&mut self, view: &View) -> Result<(), StorageError> {
        if self.ops.is_empty() {
            return Ok(());
        }
        let ops = self.take();
        view.batch(&ops)
    }

    /// Takes everything pending, to be committed by the caller.
    pub(crate) fn take(&mut self) -> Vec<BatchOp> {
        let ops = self.ops();
        self.ops.clear();
        self.bytes = 0;
        // What is committed changes with the caller's commit.
        self.committed_sizes.clear();
        ops
    }

    /// Upper bound of what committing the set adds to the mount's stored bytes: every
    /// pending put counted whole, as if it replaced nothing.
    pub(crate) fn growth_bound(&self) -> u64 {
        self.ops
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.len() + v.len()) as u64))
            .sum()
    }

    /// What committing the set adds to the mount's stored bytes (negative when it
    /// frees more than it adds), looking up the committed size of each pending key
    /// once per call.
    pub(crate) fn growth(&mut self, view: &View) -> Result<i64, StorageError> {
        let mut growth: i64 = 0;
        for (key, value) in &self.ops {
            let old = match self.committed_sizes.get(key) {
                Some(size) => *size,
                None => {
                    let size = view.get(key)?.map(|v| key.len() + v.len());
                    self.committed_sizes.insert(key.clone(), size);
                    size
                }
            };
            let new = value.as_ref().map(|v| key.len() + v.len());
            growth += new.unwrap_or(0) as i64 - old.unwrap_or(0) as i64;
        }
        Ok(growth)
    }

    /// The one-level listing of `prefix` (empty or ending with `/`) as it will be once
    /// the set is committed: the committed listing with pending puts added and pending
    /// deletes removed. A folder stays listed while any key below it survives.
    pub(crate) fn list(&self, view: &View, prefix: &str) -> Result<Vec<String>, StorageError> {
        let committed = view.list(prefix)?;
        if self.ops.is_empty() {
            return Ok(committed);
        }
        let mut names: BTreeSet<String> = committed.into_iter().collect();
        // Folders some pending delete reaches into: they may have lost their last key.
        let mut thinned: BTreeSet<String> = BTreeSet::new();
        let below = self
            .ops
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(k, _)| k.starts_with(prefix));
        for (key, value) in below {
            let rest = &key[prefix.len()..];
            if rest.is_empty() {
                continue;
            }
            match (rest.find('/'), value) {
                (Some(i), Some(_)) => {
                    names.insert(rest[..=i].to_string());
                }
                (Some(i), None) => {
                    thinned.insert(rest[..=i].to_string());
                }
                (None, Some(_)) => {
                    names.insert(rest.to_string());
                }
                (None, None) => {
                    names.remove(rest);
                }
            }
        }
        for folder in thinned {
            if names.contains(&folder)
                && !self.folder_survives(view, &format!("{prefix}{folder}"))?
            {
                names.remove(&folder);
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Whether any key below `folder` exists once the set is committed.
    fn folder_survives(&self, view: &View, folder: &str) -> Result<bool, StorageError> {
        let pending_put = self
            .ops
            .range::<str, _>((
                std::ops::Bound::Included(folder),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(k, _)| k.starts_with(folder))
            .any(|(_, v)| v.is_some());
        if pending_put {
            return Ok(true);
        }
        let mut after: Option<String> = None;
        loop {
            let page = view.scan(folder, after.as_deref(), SCAN_PAGE)?;
            let Some(last) = page.last().cloned() else {
                return Ok(false);
            };
            if page.iter().any(|k| self.lookup(k).is_none()) {
                return Ok(true);
            }
            after = Some(last);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryBackend;
    use std::sync::Arc;

    fn view() -> View {
        View::new(Arc::new(MemoryBackend::new()), "m/")
    }

    #[test]
    fn pending_writes_are_visible_then_committed_together() {
        let view = view();
        let mut set = WriteSet::default();
        set.push(BatchOp::Put("a".into(), b"1".to_vec())).unwrap();
        set.push(BatchOp::Put("a".into(), b"2".to_vec())).unwrap();
        set.push(BatchOp::Delete("b".into())).unwrap();
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
        let view = view();
        let mut set = WriteSet::default();
        set.push(BatchOp::Put("a".into(), b"1".to_vec())).unwrap();
        assert_eq!(set.take().len(), 1);
        set.commit(&view).unwrap();
        assert_eq!(view.get("a").unwrap(), None);
    }

    #[test]
    fn writes_beyond_the_call_limit_are_refused_not_committed() {
        let view = view();
        let mut set = WriteSet::default();
        set.push(BatchOp::Put("a".into(), vec![0; 8 << 20]))
            .unwrap();
        // 9 MiB in 1 MiB writes: all held, none committed (the old set flushed at 8).
        for i in 0..9 {
            set.push(BatchOp::Put(format!("b/{i}"), vec![0; 1 << 20]))
                .unwrap();
        }
        assert!(view.list("").unwrap().is_empty(), "nothing committed early");
        let big = BatchOp::Put("c".into(), vec![0; MAX_VALUE_BYTES]);
        let Err(StorageError::CallTooLarge { size, limit }) = set.push(big) else {
            panic!("a write past the per-call limit was accepted");
        };
        assert!(size > limit && limit == MAX_CALL_WRITE_BYTES as u64);
        assert_eq!(set.lookup("c"), None, "the refused write is not pending");
        // An undone write leaves the set as it was.
        let before = set.bytes;
        let previous = set.push(BatchOp::Put("a".into(), vec![2; 3])).unwrap();
        set.restore("a", previous);
        assert_eq!(
            (set.bytes, set.lookup("a").map(|v| v.map(<[u8]>::len))),
            (before, Some(Some(8 << 20)))
        );
        let previous = set.push(BatchOp::Put("fresh".into(), vec![2; 3])).unwrap();
        set.restore("fresh", previous);
        assert_eq!((set.bytes, set.lookup("fresh")), (before, None));
        // Rewriting a key replaces its pending bytes rather than adding to them.
        for _ in 0..100 {
            set.push(BatchOp::Put("a".into(), vec![1; 8 << 20]))
                .unwrap();
        }
        assert!(view.list("").unwrap().is_empty());
    }

    #[test]
    fn listings_merge_pending_writes_without_committing_them() {
        let view = view();
        for k in ["a/b", "a/c/d", "a/c/e", "a/f", "a/g/h", "z"] {
            view.put(k, b"x").unwrap();
        }
        let mut set = WriteSet::default();
        set.push(BatchOp::Put("a/new".into(), b"1".to_vec()))
            .unwrap();
        set.push(BatchOp::Put("a/dir/x".into(), b"1".to_vec()))
            .unwrap();
        set.push(BatchOp::Delete("a/b".into())).unwrap();
        // One of two keys of c/ deleted: c/ stays; g/ loses its only key: gone.
        set.push(BatchOp::Delete("a/c/d".into())).unwrap();
        set.push(BatchOp::Delete("a/g/h".into())).unwrap();
        // Deleting a missing key, or a key under a missing folder, changes nothing.
        set.push(BatchOp::Delete("a/nope".into())).unwrap();
        set.push(BatchOp::Delete("a/q/r".into())).unwrap();
        assert_eq!(
            set.list(&view, "a/").unwrap(),
            vec!["c/", "dir/", "f", "new"]
        );
        assert_eq!(set.list(&view, "").unwrap(), vec!["a/", "z"]);
        assert_eq!(set.list(&view, "a/dir/").unwrap(), vec!["x"]);
        assert!(set.list(&view, "a/g/").unwrap().is_empty());
        // A folder emptied and refilled in the same call is listed.
        set.push(BatchOp::Put("a/g/i".into(), b"1".to_vec()))
            .unwrap();
        assert!(set.list(&view, "a/").unwrap().contains(&"g/".to_string()));
        assert_eq!(
            view.list("a/").unwrap(),
            vec!["b", "c/", "f", "g/"],
            "listing committed nothing"
        );
        set.commit(&view).unwrap();
        assert_eq!(
            view.list("a/").unwrap(),
            vec!["c/", "dir/", "f", "g/", "new"]
        );
    }

    #[test]
    fn growth_counts_replacements_and_deletes_exactly() {
        let view = view();
        view.put("old", &[0; 100]).unwrap();
        let mut set = WriteSet::default();
        set.push(BatchOp::Put("old".into(), vec![0; 40])).unwrap();
        set.push(BatchOp::Put("new".into(), vec![0; 10])).unwrap();
        assert_eq!(set.growth_bound(), 3 + 40 + 3 + 10);
        assert_eq!(set.growth(&view).unwrap(), (40 - 100) + (3 + 10));
        set.push(BatchOp::Delete("old".into())).unwrap();
        assert_eq!(set.growth(&view).unwrap(), -(3 + 100) + (3 + 10));
    }
}
