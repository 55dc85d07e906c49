//! The token store: creating, authenticating, renewing and revoking tokens.
//!
//! Every entry lives in the (barrier-encrypted) backend under its salted hash, with an
//! accessor index, a parent → children index and a time-ordered expiry index, so
//! start-up reads nothing but the salt and the expiry worker walks only the due end of
//! the index. Entries read recently are kept in a bounded in-memory cache, which every
//! write of an entry invalidates (`COFFER_AUTH_CACHE=off` turns it off for
//! benchmarking).

use std::collections::HashMap;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::entry::TokenEntry;
use super::keys::{
    ACCESSOR_PREFIX, EXPIRE_INDEX, SALT_KEY, accessor_key, children_prefix, expire_key, id_key,
    parent_key,
};
use super::ttl::{SYSTEM_MAX_TTL, TtlRequest, calculate};
use crate::api::ApiError;
use crate::auth::{Caller, generate_token, random_base62};
use crate::leases::{LeaseError, LeaseManager};
use crate::runtime::{Clock, SystemClock};
use crate::storage::{BatchOp, MemoryBackend, SharedBackend, StorageError};

const NANOS: u64 = 1_000_000_000;
/// Page size of index walks.
const PAGE: usize = 1000;

/// Why a token-store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The request cannot be honoured (a `400` with Vault's message).
    #[error("{0}")]
    Invalid(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored entry could not be decoded or encoded.
    #[error("stored token entry is corrupt: {0}")]
    Corrupt(String),
    /// Revoking the token's leases failed; the token is kept so revocation can be retried.
    #[error("failed to revoke the token's leases: {0}")]
    Leases(#[from] LeaseError),
    /// A lock was poisoned by a panic elsewhere.
    #[error("token store lock poisoned")]
    Poisoned,
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Invalid(m) => ApiError::bad_request(m),
            other => {
                tracing::error!(error = %other, "token store failure");
                ApiError::internal(other.to_string())
            }
        }
    }
}

/// A token to create; policies, display name and parent are already decided and
/// authorised by the caller of [`TokenStore::create`].
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    /// A client-chosen id (root only), or `None` for a fresh `hvs.` id.
    pub id: Option<Zeroizing<String>>,
    /// Final, sorted policies.
    pub policies: Vec<String>,
    /// Metadata.
    pub meta: Option<BTreeMap<String, String>>,
    /// Final display name (`token-…`).
    pub display_name: String,
    /// Use limit; 0 = unlimited.
    pub num_uses: i64,
    /// Requested TTL, seconds (0 = default).
    pub ttl: u64,
    /// Hard lifetime cap, seconds (0 = none).
    pub explicit_max_ttl: u64,
    /// Period, seconds (0 = none).
    pub period: u64,
    /// Renewable?
    pub renewable: bool,
    /// Parent's hash; empty for an orphan.
    pub parent: String,
    /// Creating path (`auth/token/create`).
    pub path: String,
}

/// A freshly created token.
#[derive(Debug)]
pub struct Created {
    /// The token id; shown to the client once and never stored.
    pub token: Zeroizing<String>,
    /// Its entry.
    pub entry: TokenEntry,
    /// TTL in seconds (0 = never expires).
    pub lease_duration: u64,
    /// Cap warnings.
    pub warnings: Vec<String>,
}

/// Marks a token on its last permitted use. The expiry worker leaves the (already
/// used-up) token alone while a request holding this guard is in flight, so leases the
/// request registers are still tied to a live token and revoked with it.
pub struct LastUse {
    hash: String,
    pending: Arc<Mutex<HashSet<String>>>,
    wake: Arc<tokio::sync::Notify>,
}

impl Drop for LastUse {
    fn drop(&mut self) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&self.hash);
        }
        self.wake.notify_one();
    }
}

/// The set of valid tokens.
pub struct TokenStore {
    backend: SharedBackend,
    clock: Arc<dyn Clock>,
    salt: Zeroizing<Vec<u8>>,
    /// Serialises every read-modify-write of entries (use counts, renewals, revocation)
    /// so a concurrent update cannot resurrect a token being revoked.
    write: Mutex<()>,
    /// Used-up tokens whose last request is still running.
    pending_last_use: Arc<Mutex<HashSet<String>>>,
    /// Wakes the expiry worker.
    pub(crate) wake: Arc<tokio::sync::Notify>,
    /// Entries read recently, by hash. Every request authenticates, and decrypting and
    /// parsing the entry from storage each time costs more than the rest of the check.
    /// Every write of an entry goes through this store and drops the cached copy.
    cache: RwLock<HashMap<String, Arc<TokenEntry>>>,
    /// Bumped after every entry write, so a read that raced with a write never caches
    /// what it read.
    generation: AtomicU64,
    /// `false` under `COFFER_AUTH_CACHE=off` ([`crate::auth::AUTH_CACHE_ENV`]): every
    /// lookup reads storage, to measure what the cache saves.
    cache_enabled: bool,
}

/// Most entries kept in [`TokenStore`]'s cache; it is emptied when full (simple, and
/// refilling costs one storage read per token).
const CACHE_ENTRIES: usize = 16_384;

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("backend", &self.backend.kind())
            .finish_non_exhaustive()
    }
}

impl Default for TokenStore {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenStore {
    /// An empty in-memory store on the system clock (tests, tools).
    pub fn new() -> Self {
        let backend: SharedBackend = Arc::new(MemoryBackend::new());
        Self::with_salt(backend, Arc::new(SystemClock), random_salt())
    }

    /// The store kept in `backend` (barrier-encrypted storage), timed by `clock`.
    /// Reads only the hashing salt (creating it on first use).
    pub fn open(backend: SharedBackend, clock: Arc<dyn Clock>) -> Result<Self, StorageError> {
        let salt = match backend.get(SALT_KEY)? {
            Some(s) if s.len() >= 16 => Zeroizing::new(s),
            _ => {
                let s = random_salt();
                backend.put(SALT_KEY, &s)?;
                s
            }
        };
        Ok(Self::with_salt(backend, clock, salt))
    }

    fn with_salt(backend: SharedBackend, clock: Arc<dyn Clock>, salt: Zeroizing<Vec<u8>>) -> Self {
        Self {
            backend,
            clock,
            salt,
            write: Mutex::new(()),
            pending_last_use: Arc::default(),
            wake: Arc::new(tokio::sync::Notify::new()),
            cache: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            cache_enabled: crate::auth::auth_caches_enabled(),
        }
    }

    /// Forgets cached copies of `hashes`; called after their entries were written.
    fn written(&self, hashes: &[&str]) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut cache) = self.cache.write() {
            for h in hashes {
                cache.remove(*h);
            }
        }
    }

    /// Now, ns since the epoch.
    pub fn now(&self) -> u64 {
        self.clock.now_nanos()
    }

    /// The salted hash (HMAC-SHA256, hex) a token is stored under.
    pub fn hash(&self, token: &str) -> String {
        hex::encode(hmac_sha256(&self.salt, token.as_bytes()))
    }

    fn lock(&self) -> Result<MutexGuard<'_, ()>, TokenError> {
        self.write.lock().map_err(|_| TokenError::Poisoned)
    }

    /// Reads an entry by hash, dead or alive.
    pub fn get(&self, hash: &str) -> Result<Option<TokenEntry>, TokenError> {
        if self.cache_enabled
            && let Some(hit) = self.cache.read().ok().and_then(|c| c.get(hash).cloned())
        {
            return Ok(Some((*hit).clone()));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let Some(bytes) = self.backend.get(&id_key(hash))? else {
            return Ok(None);
        };
        let entry: TokenEntry =
            serde_json::from_slice(&bytes).map_err(|e| TokenError::Corrupt(e.to_string()))?;
        if self.cache_enabled
            && self.generation.load(Ordering::Acquire) == generation
            && let Ok(mut cache) = self.cache.write()
        {
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(hash.to_string(), Arc::new(entry.clone()));
        }
        Ok(Some(entry))
    }

    /// The live entry of a presented token (`None` if unknown, expired or used up).
    pub fn lookup(&self, token: &str) -> Result<Option<TokenEntry>, TokenError> {
        self.lookup_hash(&self.hash(token))
    }

    /// The live entry under `hash`.
    pub fn lookup_hash(&self, hash: &str) -> Result<Option<TokenEntry>, TokenError> {
        let now = self.now();
        Ok(self.get(hash)?.filter(|e| !e.is_dead(now)))
    }

    /// The live entry behind an accessor.
    pub fn lookup_accessor(&self, accessor: &str) -> Result<Option<TokenEntry>, TokenError> {
        if accessor.is_empty() || accessor.contains('/') {
            return Ok(None);
        }
        let Some(hash) = self.backend.get(&accessor_key(accessor))? else {
            return Ok(None);
        };
        let hash = String::from_utf8(hash).map_err(|e| TokenError::Corrupt(e.to_string()))?;
        self.lookup_hash(&hash)
    }

    /// Every accessor (for `LIST auth/token/accessors`).
    pub fn accessors(&self) -> Result<Vec<String>, TokenError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.backend.scan(ACCESSOR_PREFIX, after.as_deref(), PAGE)?;
            let Some(last) = page.last().cloned() else {
                break;
            };
            out.extend(
                page.iter()
                    .filter_map(|k| k.strip_prefix(ACCESSOR_PREFIX).map(str::to_string)),
            );
            after = Some(last);
        }
        Ok(out)
    }

    /// Writes `entry` and moves its expiry slot from `old_index` if it changed.
    fn save(&self, old_index: u64, entry: &TokenEntry) -> Result<(), TokenError> {
        let bytes = serde_json::to_vec(entry).map_err(|e| TokenError::Corrupt(e.to_string()))?;
        let mut ops = Vec::with_capacity(3);
        if old_index != 0 && old_index != entry.index_secs {
            ops.push(BatchOp::Delete(expire_key(old_index, &entry.hash)));
        }
        if entry.index_secs != 0 {
            ops.push(BatchOp::Put(
                expire_key(entry.index_secs, &entry.hash),
                Vec::new(),
            ));
        }
        ops.push(BatchOp::Put(id_key(&entry.hash), bytes));
        let written = self.backend.batch(&ops);
        self.written(&[&entry.hash]);
        written?;
        Ok(())
    }

    /// Creates a token. Entry, accessor, parent link and expiry slot are written in one
    /// atomic batch, so a crash leaves either a complete token or none.
    pub fn create(&self, new: NewToken) -> Result<Created, TokenError> {
        if new.num_uses < 0 {
            return Err(TokenError::Invalid(
                "number of uses cannot be negative".into(),
            ));
        }
        let now = self.now();
        let now_secs = now / NANOS;
        let mut warnings = Vec::new();
        let mut explicit_max = new.explicit_max_ttl;
        if explicit_max > SYSTEM_MAX_TTL {
            warnings.push(format!(
                "Explicit max TTL of {:?} is greater than system/mount allowed value; value is being capped to {:?}",
                crate::util::duration::format_go(explicit_max),
                crate::util::duration::format_go(SYSTEM_MAX_TTL)
            ));
            explicit_max = SYSTEM_MAX_TTL;
        }
        let root_only = new.policies.len() == 1 && new.policies[0] == "root";
        // Vault: only root tokens may live without a TTL, and then only when none was
        // asked for; an explicit max still bounds them.
        let ttl = if root_only && new.ttl == 0 && new.period == 0 {
            explicit_max
        } else {
            let d = calculate(TtlRequest {
                increment: 0,
                ttl: new.ttl,
                period: new.period,
                explicit_max_ttl: explicit_max,
                start: now_secs,
                now: now_secs,
            })
            .map_err(TokenError::Invalid)?;
            warnings.extend(d.warnings);
            d.ttl
        };
        // A root token that never expires cannot be renewed; Vault does not advertise it.
        let renewable = new.renewable && ttl != 0;

        let token = match new.id {
            Some(id) if !id.is_empty() => id,
            _ => Zeroizing::new(generate_token()),
        };
        let hash = self.hash(&token);
        let _guard = self.lock()?;
        if self.backend.get(&id_key(&hash))?.is_some() {
            return Err(TokenError::Invalid(
                "cannot create a token with a duplicate ID".into(),
            ));
        }
        if !new.parent.is_empty() && self.get(&new.parent)?.is_none() {
            return Err(TokenError::Invalid("parent token lookup failed".into()));
        }
        let accessor = self.fresh_accessor()?;
        let expire_time = if ttl == 0 { 0 } else { now + ttl * NANOS };
        let entry = TokenEntry {
            hash: hash.clone(),
            accessor: accessor.clone(),
            parent: new.parent.clone(),
            policies: new.policies,
            meta: new.meta,
            display_name: new.display_name,
            num_uses: new.num_uses,
            path: new.path,
            creation_time: now,
            ttl,
            explicit_max_ttl: explicit_max,
            period: new.period,
            renewable,
            expire_time,
            last_renewal: None,
            index_secs: expire_time.div_ceil(NANOS),
        };
        let bytes = serde_json::to_vec(&entry).map_err(|e| TokenError::Corrupt(e.to_string()))?;
        let mut ops = vec![
            BatchOp::Put(id_key(&hash), bytes),
            BatchOp::Put(accessor_key(&accessor), hash.clone().into_bytes()),
        ];
        if !entry.parent.is_empty() {
            ops.push(BatchOp::Put(parent_key(&entry.parent, &hash), Vec::new()));
        }
        if entry.index_secs != 0 {
            ops.push(BatchOp::Put(
                expire_key(entry.index_secs, &hash),
                Vec::new(),
            ));
        }
        let written = self.backend.batch(&ops);
        self.written(&[&hash]);
        written?;
        self.wake.notify_one();
        Ok(Created {
            token,
            entry,
            lease_duration: ttl,
            warnings,
        })
    }

    fn fresh_accessor(&self) -> Result<String, TokenError> {
        loop {
            let a = random_base62(24);
            if self.backend.get(&accessor_key(&a))?.is_none() {
                return Ok(a);
            }
        }
    }

    fn root_spec(id: Option<&str>) -> NewToken {
        NewToken {
            id: id.map(|s| Zeroizing::new(s.to_string())),
            policies: vec!["root".into()],
            display_name: "root".into(),
            path: "auth/token/root".into(),
            ..NewToken::default()
        }
    }

    /// Registers `id` as a root token; idempotent (dev mode calls it on every start
    /// with `-dev-root-token-id`).
    pub fn try_add_root(&self, id: &str) -> Result<(), TokenError> {
        if id.is_empty() {
            return Err(TokenError::Invalid("empty root token id".into()));
        }
        let hash = self.hash(id);
        if let Some(existing) = self.get(&hash)? {
            if existing.policies == ["root"] && !existing.is_dead(self.now()) {
                return Ok(());
            }
            // A dead or non-root token under this id: replace it with a root token.
            self.revoke_one_locked(&self.lock()?, &hash, None, true)?;
        }
        self.create(Self::root_spec(Some(id))).map(|_| ())
    }

    /// Like [`TokenStore::try_add_root`], logging (never the id) instead of failing, so
    /// the server keeps starting when storage hiccups.
    pub fn add_root(&self, id: &str) {
        if let Err(e) = self.try_add_root(id) {
            tracing::error!(error = %e, "could not store the root token");
        }
    }

    /// Mints a new root token (`sys/init`, `operator generate-root`).
    pub fn create_root(&self) -> Result<Zeroizing<String>, TokenError> {
        Ok(self.create(Self::root_spec(None))?.token)
    }

    /// Resolves a presented token, or `403 permission denied`. Counts one use of a
    /// use-limited token; the use that exhausts it still succeeds, and the token is
    /// revoked once that request is over.
    pub fn authenticate(&self, token: Option<&str>) -> Result<Caller, ApiError> {
        self.resolve(token, true)
    }

    /// Like [`TokenStore::authenticate`] but without counting a use: for looking at
    /// another token (e.g. `sys/capabilities` with a `token` parameter).
    pub fn peek(&self, token: Option<&str>) -> Result<Caller, ApiError> {
        self.resolve(token, false)
    }

    fn resolve(&self, token: Option<&str>, count_use: bool) -> Result<Caller, ApiError> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::permission_denied)?;
        let hash = self.hash(token);
        let now = self.now();
        let mut entry = self
            .get(&hash)
            .map_err(ApiError::from)?
            .ok_or_else(ApiError::permission_denied)?;
        if entry.is_dead(now) {
            self.wake.notify_one();
            return Err(ApiError::permission_denied());
        }
        let mut last_use = None;
        if count_use && entry.num_uses > 0 {
            let _guard = self.lock().map_err(ApiError::from)?;
            // Re-read under the lock so concurrent uses each count exactly once.
            entry = self
                .lookup_hash(&hash)
                .map_err(ApiError::from)?
                .ok_or_else(ApiError::permission_denied)?;
            if entry.num_uses > 0 {
                let old = entry.index_secs;
                entry.num_uses -= 1;
                if entry.num_uses == 0 {
                    entry.num_uses = -1;
                    entry.index_secs = now / NANOS;
                    if let Ok(mut p) = self.pending_last_use.lock() {
                        p.insert(hash.clone());
                    }
                    last_use = Some(Arc::new(LastUse {
                        hash: hash.clone(),
                        pending: self.pending_last_use.clone(),
                        wake: self.wake.clone(),
                    }));
                }
                self.save(old, &entry).map_err(ApiError::from)?;
            }
        }
        Ok(Caller {
            token: token.to_string().into(),
            accessor: entry.accessor.clone(),
            display_name: entry.display_name.clone(),
            policies: entry.policies.clone(),
            creation_time: entry.creation_time / NANOS,
            token_hash: hash,
            entity_id: String::new(),
            num_uses: entry.num_uses.max(0),
            orphan: entry.is_orphan(),
            last_use,
        })
    }

    /// Renews the token under `hash` by `increment` seconds (0 = its original TTL).
    /// Returns the entry and its new TTL and warnings.
    pub fn renew(
        &self,
        hash: &str,
        increment: u64,
    ) -> Result<(TokenEntry, u64, Vec<String>), TokenError> {
        let _guard = self.lock()?;
        let now = self.now();
        let mut entry = self
            .lookup_hash(hash)?
            .ok_or_else(|| TokenError::Invalid("token not found".into()))?;
        if !entry.renewable || entry.expire_time == 0 {
            return Err(TokenError::Invalid("lease is not renewable".into()));
        }
        let d = calculate(TtlRequest {
            increment,
            ttl: entry.ttl,
            period: entry.period,
            explicit_max_ttl: entry.explicit_max_ttl,
            start: entry.creation_time / NANOS,
            now: now / NANOS,
        })
        .map_err(TokenError::Invalid)?;
        let old = entry.index_secs;
        entry.expire_time = now + d.ttl * NANOS;
        entry.index_secs = entry.expire_time.div_ceil(NANOS);
        entry.last_renewal = Some(now);
        self.save(old, &entry)?;
        self.wake.notify_one();
        Ok((entry, d.ttl, d.warnings))
    }

    /// The hashes of a token's direct children.
    fn children(&self, hash: &str) -> Result<Vec<String>, TokenError> {
        let prefix = children_prefix(hash);
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.backend.scan(&prefix, after.as_deref(), PAGE)?;
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

    /// Revokes the token under `hash`, every descendant, and (through the expiry worker)
    /// every lease any of them created. Unknown hashes succeed, as in Vault.
    ///
    /// Descendants go first, so a crash part-way leaves the token itself still in place
    /// and the revocation can be repeated.
    pub fn revoke_tree(&self, hash: &str, leases: &LeaseManager) -> Result<(), TokenError> {
        let guard = self.lock()?;
        let mut order = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![hash.to_string()];
        while let Some(h) = stack.pop() {
            if !seen.insert(h.clone()) {
                continue;
            }
            stack.extend(self.children(&h)?);
            order.push(h);
        }
        for h in order.iter().rev() {
            self.revoke_one_locked(&guard, h, Some(leases), false)?;
        }
        Ok(())
    }

    /// Revokes only the token under `hash`; its children become orphans.
    pub fn revoke_orphan(&self, hash: &str, leases: &LeaseManager) -> Result<(), TokenError> {
        let guard = self.lock()?;
        self.revoke_one_locked(&guard, hash, Some(leases), true)
    }

    /// Revokes one token (the caller holds the write lock). Its leases are queued for
    /// revocation before its records go; with `orphan_children` its children are
    /// detached first, otherwise they must already be gone.
    fn revoke_one_locked(
        &self,
        _guard: &MutexGuard<'_, ()>,
        hash: &str,
        leases: Option<&LeaseManager>,
        orphan_children: bool,
    ) -> Result<(), TokenError> {
        if orphan_children {
            for child in self.children(hash)? {
                if let Some(mut e) = self.get(&child)? {
                    e.parent.clear();
                    let bytes =
                        serde_json::to_vec(&e).map_err(|e| TokenError::Corrupt(e.to_string()))?;
                    let written = self.backend.batch(&[
                        BatchOp::Put(id_key(&child), bytes),
                        BatchOp::Delete(parent_key(hash, &child)),
                    ]);
                    self.written(&[&child]);
                    written?;
                } else {
                    self.backend.delete(&parent_key(hash, &child))?;
                }
            }
        }
        if let Some(leases) = leases {
            leases.revoke_by_token(hash)?;
        }
        let Some(entry) = self.get(hash)? else {
            // Already gone: clear any dangling child links left by a crash.
            self.backend.delete_prefix(&children_prefix(hash))?;
            return Ok(());
        };
        let mut ops = vec![
            BatchOp::Delete(id_key(hash)),
            BatchOp::Delete(accessor_key(&entry.accessor)),
        ];
        if entry.index_secs != 0 {
            ops.push(BatchOp::Delete(expire_key(entry.index_secs, hash)));
        }
        if !entry.parent.is_empty() {
            ops.push(BatchOp::Delete(parent_key(&entry.parent, hash)));
        }
        let written = self.backend.batch(&ops);
        self.written(&[hash]);
        written?;
        tracing::info!(accessor = %entry.accessor, "revoked token");
        Ok(())
    }

    /// Expiry slots due at or before `now_secs`, at most `limit`.
    pub(crate) fn due(
        &self,
        now_secs: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, TokenError> {
        Ok(EXPIRE_INDEX.due(&*self.backend, now_secs, limit)?)
    }

    /// Handles one due slot: revokes the token (with its children and leases) if it is
    /// expired or used up. Returns whether the slot was dealt with; `false` means it is
    /// waiting for an in-flight last use and must be looked at again later.
    pub(crate) fn expire_one(
        &self,
        secs: u64,
        hash: &str,
        leases: &LeaseManager,
    ) -> Result<bool, TokenError> {
        let now = self.now();
        let Some(entry) = self.get(hash)? else {
            self.backend.delete(&expire_key(secs, hash))?;
            return Ok(true);
        };
        if entry.index_secs != secs {
            // A stale slot left by a renewal.
            self.backend.delete(&expire_key(secs, hash))?;
            return Ok(true);
        }
        if entry.num_uses < 0
            && self
                .pending_last_use
                .lock()
                .map(|p| p.contains(hash))
                .unwrap_or(false)
        {
            return Ok(false);
        }
        if !entry.is_dead(now) {
            // Indexed early (clock moved back): leave it for later.
            return Ok(false);
        }
        self.revoke_tree(hash, leases)?;
        Ok(true)
    }
}

fn random_salt() -> Zeroizing<Vec<u8>> {
    use rand::RngCore;
    let mut s = Zeroizing::new(vec![0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut s);
    s
}

/// HMAC-SHA256 (RFC 2104), so a short client-chosen token id cannot be brute-forced
/// from a storage dump without the salt.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut block = Zeroizing::new([0u8; 64]);
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(msg);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231() {
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
