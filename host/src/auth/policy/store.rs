//! Stored ACL policies (`sys/policy`, `sys/policies/acl`) and the compiled ACL of a
//! token's policy set.
//!
//! Policies live in the (barrier-encrypted) backend under `sys/policy/<name>` as JSON
//! `{"name", "policy"}` holding the raw text, so what a client wrote is what it reads
//! back. Two in-memory caches keep per-request authorisation cheap:
//!
//! * parsed policies by name, and
//! * compiled [`Acl`]s by policy set (sorted, deduplicated names).
//!
//! Any write or delete clears both. A generation counter stops a reader that loaded a
//! policy before a concurrent write from caching the stale result afterwards.
//!
//! Built-ins: `root` is never stored (it is [`Policy::root`]) and can be neither written
//! nor deleted; `default` is served from [`builtin::DEFAULT_POLICY`] until someone
//! writes it, and cannot be deleted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};

use super::builtin::{self, DEFAULT_POLICY_NAME, ROOT_POLICY_NAME};
use super::{Acl, Policy, PolicyError, normalize_name};
use crate::api::ApiError;
use crate::storage::{SharedBackend, StorageError};

/// Storage prefix of policy entries.
const PREFIX: &str = "sys/policy/";

/// Cached ACLs beyond this many policy sets are dropped wholesale: the cache only has
/// to hold the sets of tokens in active use, and clearing is cheaper than tracking use.
const MAX_CACHED_ACLS: usize = 4096;

/// Why a policy operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PolicyStoreError {
    /// The text does not parse, or the name is empty.
    #[error(transparent)]
    Invalid(#[from] PolicyError),
    /// `root` is built in and immutable.
    #[error("cannot update {0:?} policy")]
    Immutable(String),
    /// `root` and `default` cannot be deleted.
    #[error("cannot delete {0}")]
    Undeletable(&'static str),
    /// Storage failed.
    #[error("failed to access policy storage: {0}")]
    Storage(#[from] StorageError),
    /// A stored entry is not what this module writes.
    #[error("stored policy {name:?} is corrupt: {reason}")]
    Corrupt {
        /// The policy.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

impl From<PolicyStoreError> for ApiError {
    fn from(e: PolicyStoreError) -> Self {
        match e {
            // Vault answers caller mistakes with 400 and its own faults with 500.
            PolicyStoreError::Invalid(_)
            | PolicyStoreError::Immutable(_)
            | PolicyStoreError::Undeletable(_) => ApiError::bad_request(e.to_string()),
            PolicyStoreError::Storage(_) | PolicyStoreError::Corrupt { .. } => {
                tracing::error!(error = %e, "policy store failure");
                ApiError::internal(e.to_string())
            }
        }
    }
}

/// The stored form of a policy.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    name: String,
    policy: String,
}

#[derive(Default)]
struct Caches {
    parsed: HashMap<String, Arc<Policy>>,
    acls: HashMap<Vec<String>, Arc<Acl>>,
}

/// Named policies in storage, parsed and cached.
pub struct PolicyStore {
    backend: SharedBackend,
    caches: RwLock<Caches>,
    /// Bumped (under the `caches` write lock) by every write and delete.
    generation: AtomicU64,
    /// Serialises writes and deletes so a storage write and its cache invalidation are
    /// not interleaved with another's.
    writes: Mutex<()>,
    /// `false` under `COFFER_AUTH_CACHE=off` ([`crate::auth::AUTH_CACHE_ENV`]): every
    /// check reads, parses and compiles the policies again, to measure what the caches
    /// save.
    cache_enabled: bool,
}

impl PolicyStore {
    /// A store over (barrier-encrypted) storage.
    pub fn new(backend: SharedBackend) -> Self {
        Self {
            backend,
            caches: RwLock::new(Caches::default()),
            generation: AtomicU64::new(0),
            writes: Mutex::new(()),
            cache_enabled: crate::auth::auth_caches_enabled(),
        }
    }

    /// The ACL of a set of policy names. Names that do not exist are ignored (as in
    /// Vault: a token may outlive a policy it names); `root` anywhere gives the root
    /// ACL.
    pub fn acl_for(&self, policies: &[String]) -> Result<Arc<Acl>, ApiError> {
        self.compiled(policies).map_err(ApiError::from)
    }

    /// [`PolicyStore::acl_for`] with the typed error.
    pub fn compiled(&self, policies: &[String]) -> Result<Arc<Acl>, PolicyStoreError> {
        let mut key: Vec<String> = policies
            .iter()
            .filter_map(|p| normalize_name(p).ok())
            .collect();
        key.sort();
        key.dedup();
        if key.iter().any(|p| p == ROOT_POLICY_NAME) {
            return Ok(Arc::new(Acl::root()));
        }
        let generation = self.generation.load(Ordering::Acquire);
        if self.cache_enabled
            && let Some(acl) = self.read_caches()?.acls.get(&key)
        {
            return Ok(acl.clone());
        }
        let mut loaded = Vec::with_capacity(key.len());
        for name in &key {
            if let Some(p) = self.get(name)? {
                loaded.push(p);
            }
        }
        let acl = Arc::new(Acl::new(loaded.iter().map(|p| p.as_ref())));
        if !self.cache_enabled {
            return Ok(acl);
        }
        let mut caches = self.write_caches()?;
        if self.generation.load(Ordering::Acquire) == generation {
            if caches.acls.len() >= MAX_CACHED_ACLS {
                caches.acls.clear();
            }
            caches.acls.insert(key, acl.clone());
        }
        Ok(acl)
    }

    /// The policy called `name` (normalised), `None` if there is none. `root` is the
    /// built-in root policy; `default` falls back to the built-in text until written.
    pub fn get(&self, name: &str) -> Result<Option<Arc<Policy>>, PolicyStoreError> {
        let name = normalize_name(name)?;
        if name == ROOT_POLICY_NAME {
            return Ok(Some(Arc::new(Policy::root())));
        }
        let generation = self.generation.load(Ordering::Acquire);
        if self.cache_enabled
            && let Some(p) = self.read_caches()?.parsed.get(&name)
        {
            return Ok(Some(p.clone()));
        }
        let policy = match self.backend.get(&key(&name))? {
            Some(bytes) => {
                let entry: Entry =
                    serde_json::from_slice(&bytes).map_err(|e| PolicyStoreError::Corrupt {
                        name: name.clone(),
                        reason: e.to_string(),
                    })?;
                // It parsed when written; failing now means the parser got stricter.
                Policy::parse(&name, &entry.policy).map_err(|e| PolicyStoreError::Corrupt {
                    name: name.clone(),
                    reason: e.to_string(),
                })?
            }
            None if name == DEFAULT_POLICY_NAME => builtin::default_policy()?,
            None => return Ok(None),
        };
        let policy = Arc::new(policy);
        if !self.cache_enabled {
            return Ok(Some(policy));
        }
        let mut caches = self.write_caches()?;
        if self.generation.load(Ordering::Acquire) == generation {
            caches.parsed.insert(name, policy.clone());
        }
        Ok(Some(policy))
    }

    /// Whether a policy called `name` exists (built-ins always do).
    pub fn exists(&self, name: &str) -> Result<bool, PolicyStoreError> {
        Ok(self.get(name)?.is_some())
    }

    /// Parses and stores `text` as policy `name`, replacing any previous version.
    /// Returns the stored policy (its name normalised).
    pub fn set(&self, name: &str, text: &str) -> Result<Arc<Policy>, PolicyStoreError> {
        let name = normalize_name(name)?;
        if name == ROOT_POLICY_NAME {
            return Err(PolicyStoreError::Immutable(name));
        }
        let policy = Policy::parse(&name, text)?;
        let entry = Entry {
            name: name.clone(),
            policy: text.to_string(),
        };
        let bytes = serde_json::to_vec(&entry).map_err(|e| PolicyStoreError::Corrupt {
            name: name.clone(),
            reason: e.to_string(),
        })?;
        let _serial = self.lock_writes()?;
        self.backend.put(&key(&name), &bytes)?;
        self.invalidate()?;
        Ok(Arc::new(policy))
    }

    /// Deletes policy `name`; deleting one that does not exist succeeds.
    pub fn delete(&self, name: &str) -> Result<(), PolicyStoreError> {
        let name = normalize_name(name)?;
        match name.as_str() {
            ROOT_POLICY_NAME => return Err(PolicyStoreError::Undeletable("\"root\" policy")),
            DEFAULT_POLICY_NAME => return Err(PolicyStoreError::Undeletable("default policy")),
            _ => {}
        }
        let _serial = self.lock_writes()?;
        self.backend.delete(&key(&name))?;
        self.invalidate()?;
        Ok(())
    }

    /// Names of the stored policies, sorted, always including `default` and never
    /// `root` (`sys/policy` adds `root` itself, as Vault does).
    pub fn list(&self) -> Result<Vec<String>, PolicyStoreError> {
        let mut names: Vec<String> = self
            .backend
            .list(PREFIX)?
            .into_iter()
            // Names never hold `/` (the router would not reach them), so sub-folders
            // can only come from something else writing under the prefix.
            .filter(|k| !k.ends_with('/'))
            .collect();
        if !names.iter().any(|n| n == DEFAULT_POLICY_NAME) {
            names.push(DEFAULT_POLICY_NAME.to_string());
        }
        names.sort();
        Ok(names)
    }

    fn invalidate(&self) -> Result<(), PolicyStoreError> {
        let mut caches = self.write_caches()?;
        self.generation.fetch_add(1, Ordering::AcqRel);
        caches.parsed.clear();
        caches.acls.clear();
        Ok(())
    }

    fn read_caches(&self) -> Result<std::sync::RwLockReadGuard<'_, Caches>, PolicyStoreError> {
        self.caches.read().map_err(|_| poisoned())
    }

    fn write_caches(&self) -> Result<std::sync::RwLockWriteGuard<'_, Caches>, PolicyStoreError> {
        self.caches.write().map_err(|_| poisoned())
    }

    fn lock_writes(&self) -> Result<std::sync::MutexGuard<'_, ()>, PolicyStoreError> {
        self.writes.lock().map_err(|_| poisoned())
    }
}

fn poisoned() -> PolicyStoreError {
    PolicyStoreError::Storage(StorageError::Backend {
        backend: "policy-cache",
        message: "lock poisoned by a panicking thread".into(),
    })
}

fn key(name: &str) -> String {
    format!("{PREFIX}{name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Operation;
    use crate::storage::MemoryBackend;

    fn store() -> (PolicyStore, SharedBackend) {
        let backend: SharedBackend = Arc::new(MemoryBackend::new());
        (PolicyStore::new(backend.clone()), backend)
    }

    const APP: &str = r#"path "secret/data/app/*" { capabilities = ["read"] }"#;

    #[test]
    fn write_read_list_delete() {
        let (s, backend) = store();
        assert_eq!(s.list().unwrap(), ["default"]);
        let p = s.set(" App-Reader ", APP).unwrap();
        assert_eq!(p.name(), "app-reader");
        assert_eq!(s.get("APP-READER").unwrap().unwrap().raw(), APP);
        assert_eq!(s.list().unwrap(), ["app-reader", "default"]);
        // Persisted as JSON with the raw text.
        let stored: serde_json::Value =
            serde_json::from_slice(&backend.get("sys/policy/app-reader").unwrap().unwrap())
                .unwrap();
        assert_eq!(stored["policy"], APP);
        // A second store over the same backend sees it.
        let again = PolicyStore::new(backend);
        assert!(again.exists("app-reader").unwrap());
        s.delete("app-reader").unwrap();
        assert!(s.get("app-reader").unwrap().is_none());
        s.delete("app-reader").unwrap();
        assert!(s.get("nope").unwrap().is_none());
    }

    #[test]
    fn builtins_are_protected() {
        let (s, _) = store();
        assert!(s.get("root").unwrap().unwrap().is_root());
        assert!(
            s.get("default")
                .unwrap()
                .unwrap()
                .rules()
                .iter()
                .any(|r| r.path == "auth/token/lookup-self")
        );
        let e = s.set("Root", APP).unwrap_err();
        assert_eq!(e.to_string(), "cannot update \"root\" policy");
        assert_eq!(ApiError::from(e).status, 400);
        assert_eq!(
            s.delete("default").unwrap_err().to_string(),
            "cannot delete default policy"
        );
        assert_eq!(
            s.delete("root").unwrap_err().to_string(),
            "cannot delete \"root\" policy"
        );
        // default may be rewritten.
        s.set("default", APP).unwrap();
        assert_eq!(s.get("default").unwrap().unwrap().raw(), APP);
        assert_eq!(s.list().unwrap(), ["default"]);
    }

    #[test]
    fn parse_errors_are_bad_requests_with_the_line() {
        let (s, _) = store();
        let e = s
            .set("bad", "path \"a\" {\n  capabilities = [\"write\"]\n}")
            .unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert_eq!(ApiError::from(e).status, 400);
        assert!(s.get("bad").unwrap().is_none());
    }

    #[test]
    fn acls_are_cached_and_invalidated() {
        let (s, _) = store();
        let names = vec!["app".to_string(), "default".to_string()];
        let a = s.compiled(&names).unwrap();
        assert!(!a.allowed_operation("secret/data/app/x", Operation::Read));
        assert!(a.allowed_operation("auth/token/lookup-self", Operation::Read));
        s.set("app", APP).unwrap();
        let b = s.compiled(&names).unwrap();
        assert!(b.allowed_operation("secret/data/app/x", Operation::Read));
        // Same set in another order and case hits the same cache entry.
        let c = s
            .compiled(&["DEFAULT".to_string(), "app".to_string(), "app".to_string()])
            .unwrap();
        assert!(Arc::ptr_eq(&b, &c));
        s.delete("app").unwrap();
        let d = s.compiled(&names).unwrap();
        assert!(!d.allowed_operation("secret/data/app/x", Operation::Read));
        assert!(s.compiled(&["root".to_string()]).unwrap().is_root());
        assert!(s.acl_for(&[]).unwrap().capabilities("x") == ["deny"]);
    }

    #[test]
    fn corrupt_entries_are_internal_errors() {
        let (s, backend) = store();
        backend.put("sys/policy/broken", b"not json").unwrap();
        let e = s.get("broken").unwrap_err();
        assert!(matches!(e, PolicyStoreError::Corrupt { .. }));
        assert_eq!(ApiError::from(e).status, 500);
    }
}
