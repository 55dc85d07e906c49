//! Registering, looking up, renewing and revoking leases.

use std::sync::Arc;

use crate::runtime::Clock;
use crate::storage::{BatchOp, SharedBackend, StorageError};

use super::keys::{
    ID_PREFIX, INDEX, IRREVOCABLE_PREFIX, id_key, index_key, irrevocable_key, token_key,
    token_prefix,
};
use super::{EngineCallError, ExpiryConfig, LeaseEngines, LeaseEntry, TtlInputs, compute_ttl};

const NANOS: u64 = 1_000_000_000;

/// Why a lease operation failed; each maps to Vault's message and status.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// No such lease (`400 invalid lease` on lookup, `lease not found` on renew).
    #[error("lease not found")]
    NotFound,
    /// The lease was issued non-renewable.
    #[error("lease is not renewable")]
    NotRenewable,
    /// The lease already expired.
    #[error("lease expired")]
    Expired,
    /// Revocation failed too often; only `revoke-force` removes it.
    #[error("lease is expired and has failed previous revocation attempts")]
    Irrevocable,
    /// The max TTL has been reached.
    #[error("{0}")]
    PastMax(String),
    /// The engine refused to renew.
    #[error("{0}")]
    RenewRefused(String),
    /// The engine failed to revoke (sync revoke).
    #[error("failed to revoke entry: resp: <nil> err: {0}")]
    RevokeFailed(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored entry could not be decoded.
    #[error("stored lease {0} is corrupt: {1}")]
    Corrupt(String, String),
}

/// What the caller needs to answer a client after registration or renewal.
#[derive(Debug, Clone)]
pub struct LeaseTiming {
    /// Seconds until expiry.
    pub ttl: u64,
    /// A TTL-capped warning, if any.
    pub warning: Option<String>,
}

/// A secret an engine wants leased.
#[derive(Debug, Clone)]
pub struct NewLease<'a> {
    /// Request path, e.g. `aws/creds/r`.
    pub path: &'a str,
    /// Mount path, e.g. `aws/`.
    pub mount_path: &'a str,
    /// Mount uuid.
    pub mount_uuid: &'a str,
    /// Engine TTL (0 = mount default).
    pub ttl: u64,
    /// Engine max TTL (0 = mount max).
    pub max_ttl: u64,
    /// Mount's effective default TTL.
    pub mount_default_ttl: u64,
    /// Mount's effective max TTL.
    pub mount_max_ttl: u64,
    /// Renewable?
    pub renewable: bool,
    /// Engine-private JSON.
    pub internal: &'a str,
    /// Data returned to the client.
    pub data: &'a str,
    /// Caller's display name.
    pub display_name: &'a str,
    /// Salted hash of the caller's token ("" = none): the lease is revoked with it.
    pub token_hash: &'a str,
}

/// The lease manager.
pub struct LeaseManager {
    backend: SharedBackend,
    engines: Arc<dyn LeaseEngines>,
    clock: Arc<dyn Clock>,
    pub(crate) config: ExpiryConfig,
    pub(crate) wake: tokio::sync::Notify,
}

impl LeaseManager {
    /// A manager over `backend`, revoking through `engines`.
    pub fn new(
        backend: SharedBackend,
        engines: Arc<dyn LeaseEngines>,
        clock: Arc<dyn Clock>,
        config: ExpiryConfig,
    ) -> Self {
        Self {
            backend,
            engines,
            clock,
            config,
            wake: tokio::sync::Notify::new(),
        }
    }

    pub(crate) fn now_nanos(&self) -> u64 {
        self.clock.now_nanos()
    }

    /// Now, by the manager's clock, in ns since the epoch.
    pub fn now(&self) -> u64 {
        self.clock.now_nanos()
    }

    /// Records a new lease and returns its id and TTL. The entry and its index slot are
    /// written in one atomic batch, so a crash never leaves a lease that cannot expire.
    pub fn register(&self, new: NewLease<'_>) -> Result<(String, LeaseTiming), LeaseError> {
        self.register_with(new, Vec::new())
    }

    /// Like [`LeaseManager::register`], committing `with` (operations on the manager's
    /// own backend: the issuing engine call's writes) in the same atomic batch as the
    /// lease. Either the lease and those writes are both durable, or neither is: the
    /// aws engine's write-ahead entry for the IAM user is removed by exactly the batch
    /// that records the lease replacing it.
    pub fn register_with(
        &self,
        new: NewLease<'_>,
        with: Vec<BatchOp>,
    ) -> Result<(String, LeaseTiming), LeaseError> {
        let now = self.now_nanos();
        let outcome = compute_ttl(TtlInputs {
            increment: 0,
            engine_ttl: new.ttl,
            engine_max_ttl: new.max_ttl,
            mount_default_ttl: new.mount_default_ttl,
            mount_max_ttl: new.mount_max_ttl,
            issue_secs: now / NANOS,
            now_secs: now / NANOS,
        })
        .map_err(LeaseError::PastMax)?;
        let id = format!(
            "{}/{}",
            new.path.trim_end_matches('/'),
            crate::auth::random_base62(24)
        );
        let expire_time = now + outcome.ttl * NANOS;
        let entry = LeaseEntry {
            id: id.clone(),
            path: new.path.to_string(),
            mount_path: new.mount_path.to_string(),
            mount_uuid: new.mount_uuid.to_string(),
            mount_rel_path: new
                .path
                .strip_prefix(new.mount_path)
                .unwrap_or(new.path)
                .to_string(),
            issue_time: now,
            expire_time,
            last_renewal: None,
            renewable: new.renewable,
            engine_max_ttl: new.max_ttl,
            internal: new.internal.to_string(),
            data: new.data.to_string(),
            index_secs: expire_time / NANOS,
            attempts: 0,
            revoke_error: String::new(),
            display_name: new.display_name.to_string(),
            token_hash: new.token_hash.to_string(),
        };
        self.save_with(None, &entry, with)?;
        self.wake.notify_one();
        Ok((
            id,
            LeaseTiming {
                ttl: outcome.ttl,
                warning: outcome.warning,
            },
        ))
    }

    /// Writes `entry`, moving its index slot from `old_index_secs` if it changed.
    fn save(&self, old_index_secs: Option<u64>, entry: &LeaseEntry) -> Result<(), LeaseError> {
        self.save_with(old_index_secs, entry, Vec::new())
    }

    /// [`LeaseManager::save`], with `ops` (which come first) in the same batch.
    fn save_with(
        &self,
        old_index_secs: Option<u64>,
        entry: &LeaseEntry,
        mut ops: Vec<BatchOp>,
    ) -> Result<(), LeaseError> {
        let bytes = serde_json::to_vec(entry)
            .map_err(|e| LeaseError::Corrupt(entry.id.clone(), e.to_string()))?;
        ops.reserve(4);
        if let Some(old) = old_index_secs
            && old != entry.index_secs
        {
            ops.push(BatchOp::Delete(index_key(old, &entry.id)));
        }
        ops.push(BatchOp::Put(
            index_key(entry.index_secs, &entry.id),
            Vec::new(),
        ));
        ops.push(BatchOp::Put(id_key(&entry.id), bytes));
        // The token index goes in the same batch as the entry, so no lease can exist
        // that its token's revocation would miss.
        if !entry.token_hash.is_empty() {
            ops.push(BatchOp::Put(
                token_key(&entry.token_hash, &entry.id),
                Vec::new(),
            ));
        }
        if entry.is_irrevocable() {
            ops.push(BatchOp::Put(irrevocable_key(&entry.id), Vec::new()));
        }
        self.backend.batch(&ops)?;
        Ok(())
    }

    /// Reads one lease.
    pub fn lookup(&self, id: &str) -> Result<Option<LeaseEntry>, LeaseError> {
        let Some(bytes) = self.backend.get(&id_key(id))? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| LeaseError::Corrupt(id.to_string(), e.to_string()))
    }

    /// Renews a lease by `increment` seconds (0 = the engine's choice).
    pub async fn renew(
        &self,
        id: &str,
        increment: u64,
    ) -> Result<(LeaseEntry, LeaseTiming), LeaseError> {
        let mut entry = self.lookup(id)?.ok_or(LeaseError::NotFound)?;
        if entry.is_irrevocable() {
            return Err(LeaseError::Irrevocable);
        }
        if !entry.renewable {
            return Err(LeaseError::NotRenewable);
        }
        let now = self.now_nanos();
        if entry.expire_time <= now {
            return Err(LeaseError::Expired);
        }
        let terms = self
            .engines
            .renew(&entry, increment)
            .await
            .map_err(|e| LeaseError::RenewRefused(e.to_string()))?;
        let outcome = compute_ttl(TtlInputs {
            increment,
            engine_ttl: terms.ttl,
            engine_max_ttl: terms.max_ttl,
            mount_default_ttl: terms.mount_default_ttl,
            mount_max_ttl: terms.mount_max_ttl,
            issue_secs: entry.issue_time / NANOS,
            now_secs: now / NANOS,
        })
        .map_err(LeaseError::PastMax)?;
        let old_index = entry.index_secs;
        entry.expire_time = now + outcome.ttl * NANOS;
        entry.index_secs = entry.expire_time / NANOS;
        entry.last_renewal = Some(now);
        entry.engine_max_ttl = terms.max_ttl;
        self.save(Some(old_index), &entry)?;
        Ok((
            entry,
            LeaseTiming {
                ttl: outcome.ttl,
                warning: outcome.warning,
            },
        ))
    }

    /// Revokes one lease now through its engine; unknown ids succeed (as in Vault).
    pub async fn revoke(&self, id: &str) -> Result<(), LeaseError> {
        let Some(entry) = self.lookup(id)? else {
            return Ok(());
        };
        self.engines
            .revoke(&entry)
            .await
            .map_err(|e| LeaseError::RevokeFailed(e.to_string()))?;
        self.forget(&entry)
    }

    /// Marks a lease to be revoked by the expiry worker as soon as possible.
    pub fn revoke_later(&self, id: &str) -> Result<(), LeaseError> {
        let Some(mut entry) = self.lookup(id)? else {
            return Ok(());
        };
        let now = self.now_nanos();
        let old = entry.index_secs;
        entry.expire_time = entry.expire_time.min(now);
        entry.index_secs = now / NANOS;
        self.save(Some(old), &entry)?;
        self.wake.notify_one();
        Ok(())
    }

    /// Deletes a lease's records.
    pub(crate) fn forget(&self, entry: &LeaseEntry) -> Result<(), LeaseError> {
        let mut ops = vec![
            BatchOp::Delete(index_key(entry.index_secs, &entry.id)),
            BatchOp::Delete(irrevocable_key(&entry.id)),
            BatchOp::Delete(id_key(&entry.id)),
        ];
        if !entry.token_hash.is_empty() {
            ops.push(BatchOp::Delete(token_key(&entry.token_hash, &entry.id)));
        }
        self.backend.batch(&ops)?;
        Ok(())
    }

    /// Ids of the leases the token with salted hash `token_hash` created.
    pub fn ids_by_token(&self, token_hash: &str) -> Result<Vec<String>, LeaseError> {
        let prefix = token_prefix(token_hash);
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.backend.scan(&prefix, after.as_deref(), 1000)?;
            let Some(last) = page.last().cloned() else {
                break;
            };
            out.extend(
                page.iter()
                    .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string)),
            );
            after = Some(last);
        }
        Ok(out)
    }

    /// Queues every lease the token `token_hash` created for revocation by the expiry
    /// worker (Vault revokes a token's leases lazily, with the usual retries), and drops
    /// index slots whose lease is already gone.
    pub fn revoke_by_token(&self, token_hash: &str) -> Result<(), LeaseError> {
        if token_hash.is_empty() {
            return Ok(());
        }
        for id in self.ids_by_token(token_hash)? {
            if self.lookup(&id)?.is_some() {
                self.revoke_later(&id)?;
            } else {
                self.backend.delete(&token_key(token_hash, &id))?;
            }
        }
        Ok(())
    }

    /// Ids of every lease under `prefix`; an exact lease id (no trailing slash) selects only
    /// itself, as in Vault.
    pub fn ids_under(&self, prefix: &str) -> Result<Vec<String>, LeaseError> {
        if !prefix.ends_with('/') && self.lookup(prefix)?.is_some() {
            return Ok(vec![prefix.to_string()]);
        }
        let dir = if prefix.is_empty() || prefix.ends_with('/') {
            prefix.to_string()
        } else {
            format!("{prefix}/")
        };
        let full = format!("{ID_PREFIX}{dir}");
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.backend.scan(&full, after.as_deref(), 1000)?;
            let Some(last) = page.last().cloned() else {
                break;
            };
            out.extend(
                page.iter()
                    .filter_map(|k| k.strip_prefix(ID_PREFIX).map(str::to_string)),
            );
            after = Some(last);
        }
        Ok(out)
    }

    /// Revokes every lease under `prefix`. `force` ignores engine errors and deletes the
    /// records anyway; otherwise the first failure stops the walk.
    pub async fn revoke_prefix(&self, prefix: &str, force: bool) -> Result<(), LeaseError> {
        for id in self.ids_under(prefix)? {
            let Some(entry) = self.lookup(&id)? else {
                continue;
            };
            match self.engines.revoke(&entry).await {
                Ok(()) => self.forget(&entry)?,
                Err(e) if force => {
                    tracing::warn!(lease = %id, error = %e, "force-revoked lease despite engine error");
                    self.forget(&entry)?;
                }
                Err(e) => return Err(LeaseError::RevokeFailed(e.to_string())),
            }
        }
        Ok(())
    }

    /// Queues every lease under `prefix` for the expiry worker.
    pub fn revoke_prefix_later(&self, prefix: &str) -> Result<(), LeaseError> {
        for id in self.ids_under(prefix)? {
            self.revoke_later(&id)?;
        }
        Ok(())
    }

    /// One level of the lease-id tree under `prefix` (for `LIST sys/leases/lookup`).
    pub fn list_level(&self, prefix: &str) -> Result<Vec<String>, LeaseError> {
        Ok(self.backend.list(&format!("{ID_PREFIX}{prefix}"))?)
    }

    /// Every irrevocable lease (up to `limit`).
    pub fn irrevocable(&self, limit: usize) -> Result<Vec<LeaseEntry>, LeaseError> {
        let keys = self.backend.scan(IRREVOCABLE_PREFIX, None, limit)?;
        let mut out = Vec::new();
        for k in keys {
            if let Some(id) = k.strip_prefix(IRREVOCABLE_PREFIX)
                && let Some(e) = self.lookup(id)?
            {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Index keys due at or before `now_secs`, at most `limit`.
    pub(crate) fn due(
        &self,
        now_secs: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, LeaseError> {
        Ok(INDEX.due(&*self.backend, now_secs, limit)?)
    }

    /// Handles one due lease: revoke it, or schedule a retry, or give up.
    pub(crate) async fn expire_one(&self, index_secs: u64, id: &str) -> Result<(), LeaseError> {
        let Some(mut entry) = self.lookup(id)? else {
            // An index slot whose entry is gone: the lease was revoked meanwhile.
            self.backend.delete(&index_key(index_secs, id))?;
            return Ok(());
        };
        if entry.index_secs != index_secs {
            // Stale slot left by a renewal racing the worker.
            self.backend.delete(&index_key(index_secs, id))?;
            return Ok(());
        }
        match self.engines.revoke(&entry).await {
            Ok(()) => {
                tracing::info!(lease = %id, "revoked expired lease");
                self.forget(&entry)
            }
            Err(err) => {
                entry.attempts += 1;
                let now_secs = self.now_nanos() / NANOS;
                let permanent = matches!(err, EngineCallError::Permanent(_));
                let old = entry.index_secs;
                if permanent || entry.attempts >= self.config.max_attempts {
                    let msg = if permanent {
                        err.to_string()
                    } else {
                        format!("out of retries: {err}")
                    };
                    entry.revoke_error = msg.chars().take(240).collect();
                    entry.index_secs = now_secs + self.config.irrevocable_retry.as_secs();
                    tracing::error!(lease = %id, attempts = entry.attempts, error = %err, "lease is now irrevocable");
                } else {
                    let delay = self.config.backoff(entry.attempts);
                    entry.index_secs = now_secs + delay.as_secs().max(1);
                    tracing::warn!(lease = %id, attempts = entry.attempts, retry_in_s = delay.as_secs(), error = %err, "lease revocation failed; will retry");
                }
                self.save(Some(old), &entry)
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::leases::RenewTerms;
    use crate::runtime::imports::ManualClock;
    use crate::storage::MemoryBackend;

    /// Engines that record what they revoke, or fail while `failing` is set.
    #[derive(Default)]
    pub(in crate::leases) struct FakeEngines {
        pub(in crate::leases) revoked: Mutex<Vec<String>>,
        failing: AtomicBool,
    }

    impl FakeEngines {
        /// How many leases were revoked.
        pub(in crate::leases) fn revocations(&self) -> usize {
            self.revoked.lock().unwrap().len()
        }
    }
    impl LeaseEngines for FakeEngines {
        fn revoke<'a>(
            &'a self,
            entry: &'a LeaseEntry,
        ) -> Pin<Box<dyn Future<Output = Result<(), EngineCallError>> + Send + 'a>> {
            Box::pin(async move {
                // Suspend once, as a real engine call does.
                tokio::task::yield_now().await;
                if self.failing.load(Ordering::SeqCst) {
                    return Err(EngineCallError::Transient("upstream down".into()));
                }
                self.revoked.lock().unwrap().push(entry.id.clone());
                Ok(())
            })
        }
        fn renew<'a>(
            &'a self,
            _: &'a LeaseEntry,
            _: u64,
        ) -> Pin<Box<dyn Future<Output = Result<RenewTerms, EngineCallError>> + Send + 'a>>
        {
            Box::pin(async move {
                Ok(RenewTerms {
                    ttl: 60,
                    max_ttl: 120,
                    mount_default_ttl: 3600,
                    mount_max_ttl: 7200,
                })
            })
        }
    }

    fn setup() -> (LeaseManager, Arc<ManualClock>, Arc<FakeEngines>) {
        let clock = Arc::new(ManualClock::at_secs(1_000));
        let engines = Arc::new(FakeEngines::default());
        let mgr = LeaseManager::new(
            Arc::new(MemoryBackend::new()),
            engines.clone(),
            clock.clone(),
            ExpiryConfig::default(),
        );
        (mgr, clock, engines)
    }

    fn new_lease(ttl: u64, max_ttl: u64) -> NewLease<'static> {
        NewLease {
            path: "aws/creds/r",
            mount_path: "aws/",
            mount_uuid: "u",
            ttl,
            max_ttl,
            mount_default_ttl: 3600,
            mount_max_ttl: 7200,
            renewable: true,
            internal: "{}",
            data: "{}",
            display_name: "root",
            token_hash: "",
        }
    }

    async fn run_due(mgr: &LeaseManager) {
        for (secs, id) in mgr.due(mgr.now() / NANOS, 100).unwrap() {
            mgr.expire_one(secs, &id).await.unwrap();
        }
    }

    #[tokio::test]
    async fn expiry_revokes_and_failures_retry_then_become_irrevocable() {
        let (mgr, clock, engines) = setup();
        let (id, timing) = mgr.register(new_lease(30, 0)).unwrap();
        assert!(id.starts_with("aws/creds/r/") && id.len() == "aws/creds/r/".len() + 24);
        assert_eq!(timing.ttl, 30);
        run_due(&mgr).await;
        assert!(engines.revoked.lock().unwrap().is_empty(), "not due yet");
        clock.advance_secs(31);
        run_due(&mgr).await;
        assert_eq!(*engines.revoked.lock().unwrap(), vec![id.clone()]);
        assert!(mgr.lookup(&id).unwrap().is_none());

        engines.failing.store(true, Ordering::SeqCst);
        let (id2, _) = mgr.register(new_lease(5, 0)).unwrap();
        for _ in 0..6 {
            clock.advance_secs(100_000);
            run_due(&mgr).await;
        }
        let entry = mgr.lookup(&id2).unwrap().unwrap();
        assert!(entry.is_irrevocable(), "gave up after 6 attempts");
        assert!(entry.revoke_error.starts_with("out of retries"));
        assert_eq!(mgr.irrevocable(10).unwrap().len(), 1);
        assert!(matches!(
            mgr.renew(&id2, 0).await,
            Err(LeaseError::Irrevocable)
        ));
        mgr.revoke_prefix("aws/", true).await.unwrap();
        assert!(mgr.lookup(&id2).unwrap().is_none());
        assert!(mgr.irrevocable(10).unwrap().is_empty());
    }

    #[tokio::test]
    async fn leases_are_indexed_by_token_and_revoked_with_it() {
        let (mgr, _clock, engines) = setup();
        let mut tied = new_lease(3600, 0);
        tied.token_hash = "abc";
        let (id, _) = mgr.register(tied).unwrap();
        let (other, _) = mgr.register(new_lease(3600, 0)).unwrap();
        assert_eq!(mgr.ids_by_token("abc").unwrap(), vec![id.clone()]);
        mgr.revoke_by_token("abc").unwrap();
        run_due(&mgr).await;
        assert_eq!(*engines.revoked.lock().unwrap(), vec![id.clone()]);
        assert!(mgr.ids_by_token("abc").unwrap().is_empty(), "index cleaned");
        assert!(mgr.lookup(&other).unwrap().is_some(), "untied lease kept");
        // Entries written before leases were tied to tokens still load.
        let mut old = serde_json::to_value(mgr.lookup(&other).unwrap().unwrap()).unwrap();
        old.as_object_mut().unwrap().remove("token_hash");
        let back: LeaseEntry = serde_json::from_value(old).unwrap();
        assert!(back.token_hash.is_empty());
    }

    #[tokio::test]
    async fn a_lease_and_the_calls_writes_are_one_batch() {
        let (mgr, _clock, _) = setup();
        let (id, _) = mgr
            .register_with(
                new_lease(60, 0),
                vec![BatchOp::Delete("logical/u/wal/1".into())],
            )
            .unwrap();
        assert!(mgr.lookup(&id).unwrap().is_some());
        // A batch that cannot be applied records no lease either.
        let bad = vec![BatchOp::Put(String::new(), Vec::new())];
        let failing = LeaseManager::new(
            Arc::new(RefusingBackend(MemoryBackend::new())),
            Arc::new(FakeEngines::default()),
            Arc::new(ManualClock::at_secs(1_000)),
            ExpiryConfig::default(),
        );
        assert!(failing.register_with(new_lease(60, 0), bad).is_err());
        assert!(failing.ids_under("aws/").unwrap().is_empty());
    }

    /// A backend whose batches fail when they hold an empty key, as a full disk would.
    struct RefusingBackend(MemoryBackend);

    impl crate::storage::Backend for RefusingBackend {
        fn kind(&self) -> &'static str {
            "refusing"
        }
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
            self.0.get(key)
        }
        fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
            self.0.put(key, value)
        }
        fn delete(&self, key: &str) -> Result<(), StorageError> {
            self.0.delete(key)
        }
        fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
            self.0.list(prefix)
        }
        fn delete_prefix(&self, prefix: &str) -> Result<(), StorageError> {
            self.0.delete_prefix(prefix)
        }
        fn scan(
            &self,
            prefix: &str,
            after: Option<&str>,
            limit: usize,
        ) -> Result<Vec<String>, StorageError> {
            self.0.scan(prefix, after, limit)
        }
        fn batch(&self, ops: &[BatchOp]) -> Result<(), StorageError> {
            let empty_key = ops.iter().any(|op| match op {
                BatchOp::Put(k, _) | BatchOp::Delete(k) => k.is_empty(),
            });
            if empty_key {
                return Err(StorageError::Backend {
                    backend: "refusing",
                    message: "no space".into(),
                });
            }
            self.0.batch(ops)
        }
    }

    #[tokio::test]
    async fn renewal_moves_expiry_up_to_the_max() {
        let (mgr, clock, _) = setup();
        let (id, _) = mgr.register(new_lease(60, 120)).unwrap();
        clock.advance_secs(50);
        let (entry, timing) = mgr.renew(&id, 0).await.unwrap();
        assert_eq!(timing.ttl, 60);
        assert_eq!(entry.expire_time, 1_110 * NANOS);
        clock.advance_secs(50);
        let (_, timing) = mgr.renew(&id, 600).await.unwrap();
        assert_eq!(timing.ttl, 20, "capped at issue + max_ttl");
        assert!(timing.warning.is_some());
        // The old index slot is gone: only one due entry at the new expiry.
        clock.advance_secs(21);
        assert_eq!(mgr.due(mgr.now() / NANOS, 10).unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_failed_revocation_is_retried_after_a_doubling_backoff() {
        let (mgr, clock, engines) = setup();
        let base = ExpiryConfig::default().retry_base.as_secs();
        engines.failing.store(true, Ordering::SeqCst);
        let (id, _) = mgr.register(new_lease(5, 0)).unwrap();
        clock.advance_secs(6);
        let mut expected_tries = 0;
        for attempt in 1..=3u32 {
            run_due(&mgr).await;
            expected_tries += 1;
            let entry = mgr.lookup(&id).unwrap().unwrap();
            assert_eq!(entry.attempts, attempt);
            // Retry `attempt` waits base × 2^attempt, ±50 %.
            let now = mgr.now() / NANOS;
            let delay = entry.index_secs - now;
            let nominal = base << attempt;
            assert!(
                (nominal / 2..=nominal * 3 / 2).contains(&delay),
                "attempt {attempt}: retry in {delay} s, nominal {nominal} s"
            );
            // Not tried again before its time...
            clock.advance_secs(delay - 1);
            run_due(&mgr).await;
            assert_eq!(mgr.lookup(&id).unwrap().unwrap().attempts, attempt);
            // ...and tried once it is due.
            clock.advance_secs(1);
        }
        assert_eq!(engines.revocations(), 0);
        engines.failing.store(false, Ordering::SeqCst);
        run_due(&mgr).await;
        assert_eq!(*engines.revoked.lock().unwrap(), vec![id.clone()]);
        assert!(
            mgr.lookup(&id).unwrap().is_none(),
            "revoked on the retry: {expected_tries} failed tries"
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let config = ExpiryConfig::default();
        let base = config.retry_base.as_secs_f64();
        for attempt in 1..=8 {
            let nominal = base * f64::from(1u32 << attempt);
            for _ in 0..50 {
                let d = config.backoff(attempt).as_secs_f64();
                assert!(
                    (nominal * 0.5..=nominal * 1.5).contains(&d),
                    "attempt {attempt}: {d}"
                );
            }
        }
        // Past 20 doublings the delay stops growing (no overflow to infinity).
        let cap = base * f64::from(1u32 << 20) * 1.5;
        assert!(config.backoff(u32::MAX).as_secs_f64() <= cap);
    }
}
