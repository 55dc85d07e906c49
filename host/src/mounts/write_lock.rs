//! Which mutating calls on a mount may run side by side.
//!
//! Engines read-modify-write several keys per request (kv's check-and-set reads the
//! version, then writes it) and storage has no transactions spanning an engine call, so
//! two writes touching the same records must not overlap. By default a mount's writes are
//! therefore serialised. That also serialises their commits, though, and on durable
//! storage one commit is one fsync: a mount could never write faster than the disk
//! syncs, however many clients wait. For engines whose writes are known to touch only
//! the records of the secret they name (the built-in kv), writes to *different* secrets
//! run concurrently and their commits share fsyncs (see the redb backend's group commit).
//!
//! A keyed write holds the mount lock shared plus the lock of its key; a write with no
//! key (kv's `config`, any other engine's writes, a reload swapping the engine) holds
//! the mount lock exclusively, so it excludes every keyed write too.
//!
//! Key locks are exact (one per key being written, dropped with its last holder), not
//! hashed stripes: a write holds its lock through its commit, which is milliseconds on
//! durable storage, so two secrets that merely shared a stripe used to queue behind each
//! other (with 64 writers on 256 stripes, about one write in five did).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Key-map size from which unused entries are swept before adding another.
const PRUNE_AT: usize = 1024;

/// The write locks of one mount, shared by every handle the mount ever has, so a write
/// in flight on an engine being replaced still excludes writes on its successor.
#[derive(Default)]
pub struct WriteLocks {
    mount: RwLock<()>,
    /// The locks of keys being written (or waited for) now.
    keys: std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

/// A held write lock; released on drop.
pub enum WriteGuard<'a> {
    /// One secret's writes, beside other secrets' writes.
    Keyed(RwLockReadGuard<'a, ()>, KeyGuard<'a>),
    /// Every write of the mount.
    Exclusive(RwLockWriteGuard<'a, ()>),
}

/// The lock of one key; forgets the key when its last holder or waiter lets go.
pub struct KeyGuard<'a> {
    locks: &'a WriteLocks,
    key: String,
    held: Option<OwnedMutexGuard<()>>,
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        // Release first, so the count below no longer includes this guard's handle.
        self.held.take();
        let mut keys = self.locks.keys_map();
        if keys
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            keys.remove(&self.key);
        }
    }
}

impl WriteLocks {
    /// The key map. Nothing panics while it is held, and each use is one lookup,
    /// insert or remove, so a poisoned map is still consistent.
    fn keys_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Mutex<()>>>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for the right to write `key` (`None`: the whole mount).
    pub async fn lock(&self, key: Option<&str>) -> WriteGuard<'_> {
        match key {
            None => WriteGuard::Exclusive(self.mount.write().await),
            Some(key) => {
                let shared = self.mount.read().await;
                let lock = {
                    let mut keys = self.keys_map();
                    // A wait cancelled just as it was granted can leave an unused entry
                    // behind; such leftovers are swept before they add up.
                    if keys.len() >= PRUNE_AT {
                        keys.retain(|_, lock| Arc::strong_count(lock) > 1);
                    }
                    keys.entry(key.to_string()).or_default().clone()
                };
                // The guard exists before the wait, so a cancelled wait cleans up too.
                let mut guard = KeyGuard {
                    locks: self,
                    key: key.to_string(),
                    held: None,
                };
                guard.held = Some(lock.lock_owned().await);
                WriteGuard::Keyed(shared, guard)
            }
        }
    }

    /// Keys with a lock held or awaited (tests).
    #[cfg(test)]
    fn live_keys(&self) -> usize {
        self.keys_map().len()
    }
}

/// The key a mutating request on a built-in kv mount is confined to, or `None` when
/// it may touch records shared with other requests.
///
/// kv v1 stores the secret at `path` in one record. kv v2 keeps, per secret, one
/// metadata record and its versions; `data/`, `metadata/`, `delete/`, `undelete/` and
/// `destroy/` of the same secret all touch them, so they share the key. `config` (read
/// by every data write) is mount-wide. Empty segments are dropped, so spellings that
/// the engine may treat alike (`a//b`, a trailing `/`) share a key; merging keys only
/// ever serialises more.
pub fn kv_write_key(version: Option<&str>, rest: &str) -> Option<String> {
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let secret: &[&str] = match version {
        None | Some("") | Some("1") => &segments,
        Some("2") => match segments.split_first() {
            Some((&("data" | "metadata" | "delete" | "undelete" | "destroy"), secret)) => secret,
            _ => return None,
        },
        Some(_) => return None,
    };
    (!secret.is_empty()).then(|| secret.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn kv_keys() {
        assert_eq!(kv_write_key(Some("2"), "data/a/b").as_deref(), Some("a/b"));
        assert_eq!(
            kv_write_key(Some("2"), "metadata/a/b/").as_deref(),
            Some("a/b")
        );
        assert_eq!(
            kv_write_key(Some("2"), "destroy//a/b").as_deref(),
            Some("a/b")
        );
        assert_eq!(kv_write_key(Some("2"), "config"), None);
        assert_eq!(kv_write_key(Some("2"), "metadata/"), None);
        assert_eq!(kv_write_key(Some("2"), "other/x"), None);
        assert_eq!(kv_write_key(None, "a/b").as_deref(), Some("a/b"));
        assert_eq!(kv_write_key(Some("1"), "").as_deref(), None);
        assert_eq!(kv_write_key(Some("3"), "a"), None);
    }

    #[tokio::test]
    async fn keyed_writes_overlap_but_exclusive_ones_do_not() {
        let locks = Arc::new(WriteLocks::default());
        let a = locks.lock(Some("a")).await;
        // Another secret: granted while `a` is held.
        let b = tokio::time::timeout(Duration::from_secs(1), locks.lock(Some("b"))).await;
        assert!(b.is_ok());
        drop(b);
        // The same secret and the whole mount must wait for `a`.
        let same = tokio::time::timeout(Duration::from_millis(50), locks.lock(Some("a"))).await;
        assert!(same.is_err());
        let all = tokio::time::timeout(Duration::from_millis(50), locks.lock(None)).await;
        assert!(all.is_err());
        drop(a);
        let all = locks.lock(None).await;
        let keyed = tokio::time::timeout(Duration::from_millis(50), locks.lock(Some("c"))).await;
        assert!(keyed.is_err(), "an exclusive write excludes keyed ones");
        drop(all);
        assert_eq!(
            locks.live_keys(),
            0,
            "released and abandoned keys are forgotten"
        );
    }

    #[tokio::test]
    async fn a_key_lock_lives_while_anyone_holds_or_awaits_it() {
        let locks = Arc::new(WriteLocks::default());
        let first = locks.lock(Some("k")).await;
        let waiter = tokio::spawn({
            let locks = locks.clone();
            async move {
                let _second = locks.lock(Some("k")).await;
            }
        });
        tokio::task::yield_now().await;
        assert_eq!(locks.live_keys(), 1);
        drop(first);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("the waiter got the lock")
            .expect("no panic");
        assert_eq!(locks.live_keys(), 0);
    }
}
