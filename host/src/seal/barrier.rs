//! The barrier: a [`Backend`] that encrypts every value, and hides key names below the
//! protected prefixes, before they reach the real store.
//!
//! Storage is untrusted (a stolen disk, a backup, a shared PostgreSQL later): everything
//! the rest of Coffer keeps goes through a `Barrier` wrapped around the real backend, and
//! nothing readable comes out the other side without the keyring, which itself is only
//! readable with the unseal key (see [`super`]).
//!
//! # Values
//!
//! Each value is stored as
//!
//! ```text
//! [version 0x01][term u32 BE][nonce 12][AES-256-GCM ciphertext][tag 16]
//! associated data = version || term || original storage path
//! ```
//!
//! * a fresh random 96-bit nonce per write, so rewriting the same value gives different
//!   bytes. Random nonces bound how much one key may encrypt (NIST SP 800-38D: 2³²
//!   messages); Vault rotates automatically after ~3.86 billion encryptions per term, and
//!   the server should count writes and call [`Barrier::rotate`] likewise;
//! * the term picks the key on read, so values written before [`Barrier::rotate`] stay
//!   readable and nothing is re-encrypted on rotation;
//! * the path is authenticated, so a ciphertext copied or moved to another key (a lease
//!   record swapped in for a token, one mount's secret moved into another) fails to
//!   decrypt instead of being served under the wrong name. Header bytes are
//!   authenticated too, so they cannot be edited to select another key.
//!
//! Overhead: 33 bytes per value (an empty value becomes 33 bytes).
//!
//! # Key names
//!
//! Keys outside the protected prefixes are stored as they are: the host's own layout
//! (`core/mounts`, `core/cluster`, the token store's hashes) is fixed, not user data.
//! Names that carry user-chosen or authenticating text are protected by default: token
//! accessors, and lease ids (`<mount path>/creds/<role>/<random id>`) wherever the lease
//! manager keys by them, including the expiry index, whose time segment stays plain
//! (`sys/expire/index/*/`) so that due leases are still one ordered scan.
//!
//! Keys below a protected prefix (by default [`DEFAULT_PROTECTED_PREFIXES`]: `logical/`,
//! where engines keep user paths such as `logical/<uuid>/v2/metadata/prod-db`, and
//! `sys/policy/`, where policies are kept by name) are stored
//! with every `/`-separated segment after the prefix replaced by its deterministic
//! authenticated encryption (SIV; see the `names` module): `logical/` stays, the mount
//! UUID and every user segment become opaque base64url strings. That satisfies "the raw
//! file contains no plaintext secret, key name or value" for everything engines store.
//!
//! Why this design (and not a hash plus an encrypted "name entry" sidecar per folder):
//!
//! * the stored name *is* the encrypted name, so there is nothing to keep in sync: no
//!   orphaned or missing name entries after a crash, `batch` stays a single atomic write
//!   of exactly the caller's operations, `delete_prefix` on a folder is one inner
//!   `delete_prefix`;
//! * the folder structure is kept (encoded segments contain no `/`), so `get`, `put`,
//!   `delete`, folder `list` and folder `delete_prefix` are one inner call each.
//!
//! What it costs, and what it still leaks:
//!
//! * **Order.** Stored keys sort by ciphertext, not by name. `list` decrypts the names of
//!   one folder and sorts them (O(children) AES/HMAC operations per call). `scan` walks
//!   the folder tree depth-first in name order, pruning subtrees before `after`; each page
//!   re-lists the folders on its path, so a full paged walk of a large flat folder costs
//!   O(children) per page. Fine for engine data; the expiry index (scanned in expiry
//!   order on every tick) keeps its time segment plain, so a tick walks only the seconds
//!   that are due.
//! * **Shape.** The number of keys, the depth of each key, which keys share a folder, and
//!   each name's length rounded up to 16 bytes are visible. Equal names in the *same*
//!   folder are equal on disk (deterministic by design); across folders they are not
//!   (the parent path is part of the encryption).
//! * **Prefixes ending mid-name** (`scan("logical/u/pro")`) work but cannot be pushed down:
//!   the walk lists the parent folder and filters decrypted names.
//! * **Length.** A stored segment is base64url of 16 bytes of SIV plus the name padded
//!   with 1–16 bytes to a multiple of 16: a 10-byte name takes 43 characters, a 20-byte
//!   one 64. Roughly 4/3 × the name plus 22–43 characters per segment.
//! * The path key never rotates (changing it renames every key); data keys do.
//!
//! # Sealed
//!
//! A barrier starts sealed. Until [`Barrier::unseal`] succeeds, and again after
//! [`Barrier::seal`], every [`Backend`] call fails with a [`StorageError::Backend`] whose
//! message is `Vault is sealed` (test with [`super::is_sealed_error`]). Calls already in
//! flight when `seal` runs finish with the keys they started with.

use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::crypto::{self, AeadFailure};
use super::keyring::Keyring;
use super::names::NameCipher;
use super::{
    BARRIER_BACKEND, KEYRING_PATH, RESERVED_PATHS, ROOT_KEY_PATH, RootKey, SEALED_MESSAGE,
    SealError, UnsealKey, decrypt_root_key, encrypt_root_key,
};
use crate::storage::{Backend, BatchOp, SharedBackend, StorageError};

/// Format version in the first byte of every stored value.
pub const VALUE_VERSION: u8 = 1;
/// Bytes before the nonce: version and term.
const HEADER_LEN: usize = 1 + 4;
/// Bytes a value grows by when stored.
pub const VALUE_OVERHEAD: usize = HEADER_LEN + crypto::NONCE_LEN + crypto::TAG_LEN;

/// Prefixes whose key names [`Barrier::new`] hides: engine storage, ACL policies (whose
/// names say what a deployment protects), token accessors (an accessor is enough to
/// look up and revoke a token), and lease ids (`<mount>/creds/<role>/<id>`) in every
/// place the lease manager keys by them. A prefix ending in `*/` keeps one segment
/// after it plain: the expiry index `sys/expire/index/<secs>/<lease id>` stays ordered
/// by time (one region per second), while the lease ids inside each second are hidden.
///
/// Stores written before a prefix joined this list are converted on unseal
/// ([`Barrier::unseal`]): a key below it whose name does not decode is a plain name,
/// and is renamed to its hidden form.
pub const DEFAULT_PROTECTED_PREFIXES: &[&str] = &[
    "logical/",
    "sys/policy/",
    "sys/token/accessor/",
    "sys/expire/id/",
    "sys/expire/token/",
    "sys/expire/irrevocable/",
    "sys/expire/index/*/",
];

/// The marker ending a protected prefix whose next segment stays plain.
const PLAIN_SEGMENT: &str = "*/";

/// Sorts after every stored key below a protected prefix, whose characters are all
/// base64url or `/` (all below `~`): `region + "~"` is where a plain scan resumes after
/// walking a region.
const REGION_END: char = '~';

/// How many keys a plain-area walk fetches per inner call when it must look at every key.
const PAGE: usize = 1000;

/// The active key's term and age, for `sys/key-status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyStatus {
    /// Term of the key new writes use.
    pub term: u32,
    /// When that key was created, in seconds since the Unix epoch.
    pub installed_at: u64,
}

/// What an unsealed barrier holds. Swapped whole (behind an `Arc`) on unseal, rotate and
/// seal, so an operation works with one consistent snapshot without holding a lock.
struct Unsealed {
    root_key: RootKey,
    keyring: Keyring,
    names: NameCipher,
}

/// An encrypting [`Backend`] over another backend; see the [module docs](self).
pub struct Barrier {
    inner: SharedBackend,
    protected: Vec<String>,
    state: RwLock<Option<Arc<Unsealed>>>,
    /// Serialises initialize/unseal/rotate/seal, so a rotation cannot persist a keyring
    /// while another call replaces the one it was derived from.
    transition: Mutex<()>,
}

impl std::fmt::Debug for Barrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Barrier")
            .field("inner", &self.inner.kind())
            .field("protected", &self.protected)
            .field("sealed", &self.is_sealed())
            .finish()
    }
}

fn barrier_err(message: String) -> StorageError {
    StorageError::Backend {
        backend: BARRIER_BACKEND,
        message,
    }
}

fn sealed_err() -> StorageError {
    barrier_err(SEALED_MESSAGE.to_string())
}

/// A key shortened for error messages, as `validate_key` does.
fn shown(key: &str) -> String {
    key.chars().take(128).collect()
}

fn is_reserved(key: &str) -> bool {
    RESERVED_PATHS.contains(&key)
}

/// Whether some reserved key lies below `prefix` (so a plain operation on it could see
/// or destroy the seal's records).
/// `(region, rest)` if `key` lies below the protected prefix `p`: for `base/*/`, the
/// region is `base/<segment>/` and a key with no `/` after that segment is in none.
fn split_at_region<'k>(p: &str, key: &'k str) -> Option<(&'k str, &'k str)> {
    match p.strip_suffix(PLAIN_SEGMENT) {
        None => key.strip_prefix(p).map(|rest| (&key[..p.len()], rest)),
        Some(base) => {
            let after = key.strip_prefix(base)?;
            let (segment, rest) = after.split_once('/')?;
            if segment.is_empty() {
                return None;
            }
            let end = base.len() + segment.len() + 1;
            Some((&key[..end], rest))
        }
    }
}

fn covers_reserved(prefix: &str) -> bool {
    RESERVED_PATHS.iter().any(|r| r.starts_with(prefix))
}

fn check_not_reserved(key: &str) -> Result<(), StorageError> {
    if is_reserved(key) {
        return Err(StorageError::InvalidKey {
            key: shown(key),
            reason: "reserved for the seal's own records",
        });
    }
    Ok(())
}

/// Splits a path relative to a region into its folder (empty or ending with `/`) and the
/// partial name after it.
fn split_dir(rest: &str) -> (&str, &str) {
    match rest.rfind('/') {
        Some(i) => (&rest[..=i], &rest[i + 1..]),
        None => ("", rest),
    }
}

/// Keys a walk collects: those strictly after `after`, until there are `limit`.
struct Collect<'a> {
    after: Option<&'a str>,
    limit: usize,
    keys: Vec<String>,
}

impl<'a> Collect<'a> {
    fn new(after: Option<&'a str>, limit: usize) -> Self {
        Self {
            after,
            limit,
            keys: Vec::new(),
        }
    }

    fn is_full(&self) -> bool {
        self.keys.len() >= self.limit
    }
}

/// One entry of a decoded folder listing.
struct Child {
    /// The name as `list` shows it: with a trailing `/` for a sub-folder.
    list_form: String,
    folder: bool,
}

impl Barrier {
    /// A sealed barrier over `inner` that hides names below
    /// [`DEFAULT_PROTECTED_PREFIXES`].
    pub fn new(inner: SharedBackend) -> Self {
        Self {
            inner,
            protected: DEFAULT_PROTECTED_PREFIXES
                .iter()
                .map(|p| p.to_string())
                .collect(),
            state: RwLock::new(None),
            transition: Mutex::new(()),
        }
    }

    /// A sealed barrier that hides names below each of `prefixes` (which replace the
    /// defaults). Each must end with `/`, none may contain another or the seal's
    /// reserved paths. The set must stay the same for the life of the data: a key
    /// written under one set is not found under another.
    pub fn with_protected_prefixes<I, S>(
        inner: SharedBackend,
        prefixes: I,
    ) -> Result<Self, SealError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let protected: Vec<String> = prefixes.into_iter().map(Into::into).collect();
        for (i, p) in protected.iter().enumerate() {
            let reason =
                if p.is_empty() || !p.ends_with('/') || p.starts_with('/') {
                    Some("must be non-empty, relative and end with '/'")
                } else if covers_reserved(p) {
                    Some("would cover the seal's own records under core/")
                } else if p.contains(REGION_END) {
                    Some("must not contain '~'")
                } else if protected.iter().enumerate().any(|(j, q)| {
                    i != j && (q.starts_with(p.as_str()) || p.starts_with(q.as_str()))
                }) {
                    Some("overlaps another protected prefix")
                } else {
                    None
                };
            if let Some(reason) = reason {
                return Err(SealError::InvalidProtectedPrefix {
                    prefix: p.clone(),
                    reason,
                });
            }
        }
        Ok(Self {
            inner,
            protected,
            state: RwLock::new(None),
            transition: Mutex::new(()),
        })
    }

    /// The prefixes whose key names are hidden.
    pub fn protected_prefixes(&self) -> &[String] {
        &self.protected
    }

    /// Whether storage holds a root key (`sys/init`, `sys/health`). Works while sealed.
    pub fn is_initialized(&self) -> Result<bool, SealError> {
        Ok(self.inner.get(ROOT_KEY_PATH)?.is_some())
    }

    /// Creates a root key and a keyring (term 1) and stores them, the root key encrypted
    /// under `unseal_key`, in one atomic write. Leaves the barrier sealed; splitting
    /// `unseal_key` into shares is the caller's job ([`UnsealKey::split`]).
    pub fn initialize(&self, unseal_key: &UnsealKey) -> Result<(), SealError> {
        let _transition = self
            .transition
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.is_initialized()? || self.inner.get(KEYRING_PATH)?.is_some() {
            return Err(SealError::AlreadyInitialized);
        }
        let root_key = RootKey::generate();
        let keyring = Keyring::new();
        self.inner.batch(&[
            BatchOp::Put(
                ROOT_KEY_PATH.to_string(),
                encrypt_root_key(unseal_key, &root_key)?,
            ),
            BatchOp::Put(KEYRING_PATH.to_string(), keyring.encrypt(&root_key)?),
        ])?;
        Ok(())
    }

    /// Decrypts the root key with `unseal_key`, loads the keyring with it, and opens the
    /// barrier. [`SealError::InvalidKey`] (`invalid key`) if the key is wrong; the
    /// barrier's state is unchanged then. Unsealing an unsealed barrier reloads the
    /// keyring (and still checks the key).
    pub fn unseal(&self, unseal_key: &UnsealKey) -> Result<(), SealError> {
        let _transition = self
            .transition
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let record = self
            .inner
            .get(ROOT_KEY_PATH)?
            .ok_or(SealError::NotInitialized)?;
        let root_key = decrypt_root_key(unseal_key, &record)?;
        let keyring_record = self
            .inner
            .get(KEYRING_PATH)?
            .ok_or_else(|| SealError::Corrupt {
                what: "keyring",
                reason: "missing while a root key exists".into(),
            })?;
        let keyring = Keyring::decrypt(&root_key, &keyring_record)?;
        let names = NameCipher::new(keyring.path_key());
        let moved = self.hide_plain_names(&names)?;
        if moved > 0 {
            tracing::info!(
                keys = moved,
                "hid the plain key names of an older store layout"
            );
        }
        self.set_state(Some(Arc::new(Unsealed {
            root_key,
            keyring,
            names,
        })));
        Ok(())
    }

    /// Drops every key from memory; from now on every operation fails with
    /// `Vault is sealed` until the next [`Barrier::unseal`].
    pub fn seal(&self) {
        let _transition = self
            .transition
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.set_state(None);
    }

    /// Whether the barrier holds no keys.
    pub fn is_sealed(&self) -> bool {
        self.snapshot().is_none()
    }

    /// Adds a new data key (the next term), stores the keyring, and makes new writes use
    /// it; returns the new term. Existing values keep their term and stay readable.
    pub fn rotate(&self) -> Result<u32, SealError> {
        let _transition = self
            .transition
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.snapshot().ok_or(SealError::Sealed)?;
        let mut keyring = current.keyring.clone();
        let term = keyring.rotate()?;
        // Persist first: if the write fails, memory still matches storage.
        self.inner
            .put(KEYRING_PATH, &keyring.encrypt(&current.root_key)?)?;
        self.set_state(Some(Arc::new(Unsealed {
            root_key: current.root_key.clone(),
            keyring,
            names: current.names.clone(),
        })));
        Ok(term)
    }

    /// The active key's term and install time.
    pub fn key_status(&self) -> Result<KeyStatus, SealError> {
        let state = self.snapshot().ok_or(SealError::Sealed)?;
        let key = state.keyring.active_key();
        Ok(KeyStatus {
            term: key.term(),
            installed_at: key.installed_at(),
        })
    }

    fn snapshot(&self) -> Option<Arc<Unsealed>> {
        // A panic elsewhere cannot leave the Option half-written, so a poisoned lock
        // still guards a consistent value.
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_state(&self, state: Option<Arc<Unsealed>>) {
        *self.state.write().unwrap_or_else(PoisonError::into_inner) = state;
    }

    fn unsealed(&self) -> Result<Arc<Unsealed>, StorageError> {
        self.snapshot().ok_or_else(sealed_err)
    }

    /// The region `key` lies in, if any, and the rest of `key` after it. A region is a
    /// protected prefix, or for a prefix `base/*/`, `base/<segment>/`.
    fn split_region<'k>(&self, key: &'k str) -> Option<(&'k str, &'k str)> {
        self.protected.iter().find_map(|p| split_at_region(p, key))
    }

    /// Renames keys of a store written before some of the protected prefixes were:
    /// every stored key below a region whose first hidden segment does not decode is a
    /// plain name, moved (value unchanged: its authenticated path is the original key)
    /// to its hidden form. Each key moves in the same batch as its old name's removal,
    /// so an interrupted run is finished by the next unseal. Returns how many moved.
    fn hide_plain_names(&self, names: &NameCipher) -> Result<usize, StorageError> {
        let mut moved = 0;
        for p in &self.protected {
            let base = p.strip_suffix(PLAIN_SEGMENT).unwrap_or(p);
            let mut cursor: Option<String> = None;
            loop {
                let page = self.inner.scan(base, cursor.as_deref(), PAGE)?;
                let Some(last) = page.last().cloned() else {
                    break;
                };
                let mut ops = Vec::new();
                for stored in &page {
                    let Some((region, rest)) = split_at_region(p, stored) else {
                        continue;
                    };
                    let first = rest.split('/').next().unwrap_or("");
                    if names.decode_segment(region, first).is_ok() {
                        continue;
                    }
                    let Some(value) = self.inner.get(stored)? else {
                        continue;
                    };
                    ops.push(BatchOp::Put(names.encode_key(region, rest), value));
                    ops.push(BatchOp::Delete(stored.clone()));
                    moved += 1;
                }
                if !ops.is_empty() {
                    self.inner.batch(&ops)?;
                }
                if page.len() < PAGE {
                    break;
                }
                cursor = Some(last);
            }
        }
        Ok(moved)
    }

    /// Where `key` is stored in the inner backend.
    fn stored_key(&self, s: &Unsealed, key: &str) -> String {
        match self.split_region(key) {
            Some((region, rest)) => s.names.encode_key(region, rest),
            None => key.to_string(),
        }
    }

    fn aad(header: &[u8; HEADER_LEN], key: &str) -> Vec<u8> {
        let mut aad = Vec::with_capacity(HEADER_LEN + key.len());
        aad.extend_from_slice(header);
        aad.extend_from_slice(key.as_bytes());
        aad
    }

    fn seal_value(&self, s: &Unsealed, key: &str, value: &[u8]) -> Result<Vec<u8>, StorageError> {
        let data_key = s.keyring.active_key();
        let mut header = [0u8; HEADER_LEN];
        header[0] = VALUE_VERSION;
        header[1..].copy_from_slice(&data_key.term().to_be_bytes());
        let mut out = Vec::with_capacity(VALUE_OVERHEAD + value.len());
        out.extend_from_slice(&header);
        crypto::seal_into(&mut out, data_key.key(), &Self::aad(&header, key), value).map_err(
            |AeadFailure| barrier_err(format!("cannot encrypt the value for {:?}", shown(key))),
        )?;
        Ok(out)
    }

    fn open_value(&self, s: &Unsealed, key: &str, stored: &[u8]) -> Result<Vec<u8>, StorageError> {
        let Some((header, sealed)) = stored
            .split_first_chunk::<HEADER_LEN>()
            .filter(|_| stored.len() >= VALUE_OVERHEAD)
        else {
            return Err(barrier_err(format!(
                "value at {:?} is too short ({} bytes) to be barrier-encrypted",
                shown(key),
                stored.len()
            )));
        };
        if header[0] != VALUE_VERSION {
            return Err(barrier_err(format!(
                "value at {:?} has unknown barrier format version {}",
                shown(key),
                header[0]
            )));
        }
        let term = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let Some(data_key) = s.keyring.key(term) else {
            return Err(barrier_err(format!(
                "value at {:?} is encrypted with key term {term}, which the keyring does not have",
                shown(key)
            )));
        };
        crypto::open(data_key.key(), &Self::aad(header, key), sealed).map_err(|AeadFailure| {
            barrier_err(format!(
                "value at {:?} failed authentication: tampered with, or moved from another key",
                shown(key)
            ))
        })
    }

    /// The decoded entries of the folder `region + dir`, in `list` order (byte order of
    /// the names as listed, which is also the byte order of the keys below them).
    fn children(&self, s: &Unsealed, region: &str, dir: &str) -> Result<Vec<Child>, StorageError> {
        let parent = format!("{region}{dir}");
        let entries = self.inner.list(&s.names.encode_dir(region, dir))?;
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let (segment, folder) = match entry.strip_suffix('/') {
                Some(segment) => (segment, true),
                None => (entry.as_str(), false),
            };
            let mut list_form = s.names.decode_segment(&parent, segment).map_err(|e| {
                barrier_err(format!(
                    "a stored key name under {:?} cannot be decoded: {e}",
                    shown(&parent)
                ))
            })?;
            if folder {
                list_form.push('/');
            }
            out.push(Child { list_form, folder });
        }
        out.sort_unstable_by(|a, b| a.list_form.cmp(&b.list_form));
        Ok(out)
    }

    /// Collects into `into`, in key order, the original keys below `region + dir` whose
    /// name at this level starts with `partial`.
    fn walk(
        &self,
        s: &Unsealed,
        region: &str,
        dir: &str,
        partial: &str,
        into: &mut Collect<'_>,
    ) -> Result<(), StorageError> {
        for child in self.children(s, region, dir)? {
            if into.is_full() {
                break;
            }
            if !child.list_form.starts_with(partial) {
                continue;
            }
            let full = format!("{region}{dir}{}", child.list_form);
            if child.folder {
                // Every key below `full` starts with it; if `after` is past `full` without
                // being inside it, the whole subtree is already behind the cursor.
                if let Some(a) = into.after
                    && a > full.as_str()
                    && !a.starts_with(full.as_str())
                {
                    continue;
                }
                let sub = format!("{dir}{}", child.list_form);
                self.walk(s, region, &sub, "", into)?;
            } else if into.after.is_none_or(|a| full.as_str() > a) {
                into.keys.push(full);
            }
        }
        Ok(())
    }

    /// Drops the seal's records from a plain listing of `prefix`, including a folder that
    /// holds nothing else.
    fn hide_reserved(&self, prefix: &str, names: Vec<String>) -> Result<Vec<String>, StorageError> {
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let full = format!("{prefix}{name}");
            let visible = if name.ends_with('/') {
                !covers_reserved(&full)
                    || self
                        .inner
                        .scan(&full, None, RESERVED_PATHS.len() + 1)?
                        .iter()
                        .any(|k| !is_reserved(k))
            } else {
                !is_reserved(&full)
            };
            if visible {
                out.push(name);
            }
        }
        Ok(out)
    }

    /// `scan` for a prefix outside every region: inner keys in order, with each region
    /// met on the way replaced by a walk of its decoded keys.
    fn scan_plain(
        &self,
        s: &Unsealed,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        let mut out = Collect::new(after, limit);
        let mut cursor = after.map(str::to_string);
        // Stored keys inside a region do not compare meaningfully with an original key,
        // so an `after` inside one is served by finishing that region's walk first.
        if let Some(a) = after
            && let Some((region, _)) = self.split_region(a)
            && region.starts_with(prefix)
        {
            self.walk(s, region, "", "", &mut out)?;
            cursor = Some(format!("{region}{REGION_END}"));
        }
        while !out.is_full() {
            let want = limit - out.keys.len();
            let page = self.inner.scan(prefix, cursor.as_deref(), want)?;
            let exhausted = page.len() < want;
            let mut jumped = false;
            for stored in page {
                if let Some((region, _)) = self.split_region(&stored) {
                    self.walk(s, region, "", "", &mut out)?;
                    cursor = Some(format!("{region}{REGION_END}"));
                    jumped = true;
                    break;
                }
                if !is_reserved(&stored) {
                    out.keys.push(stored.clone());
                    if out.is_full() {
                        break;
                    }
                }
                cursor = Some(stored);
            }
            if exhausted && !jumped {
                break;
            }
        }
        Ok(out.keys)
    }
}

impl Backend for Barrier {
    /// The inner backend's kind: `sys/seal-status` reports where data lives, not the
    /// wrapper.
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    /// The inner backend's count for the folder's stored (encrypted) name: stored
    /// bytes, encryption overhead included.
    fn stored_bytes(&self, folder: &str) -> Result<Option<u64>, StorageError> {
        let s = self.unsealed()?;
        let stored = match self.split_region(folder) {
            Some((region, rest)) => s.names.encode_dir(region, rest),
            None => folder.to_string(),
        };
        self.inner.stored_bytes(&stored)
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let s = self.unsealed()?;
        check_not_reserved(key)?;
        match self.inner.get(&self.stored_key(&s, key))? {
            Some(stored) => self.open_value(&s, key, &stored).map(Some),
            None => Ok(None),
        }
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        let s = self.unsealed()?;
        check_not_reserved(key)?;
        let stored = self.seal_value(&s, key, value)?;
        self.inner.put(&self.stored_key(&s, key), &stored)
    }

    fn delete(&self, key: &str) -> Result<(), StorageError> {
        let s = self.unsealed()?;
        check_not_reserved(key)?;
        self.inner.delete(&self.stored_key(&s, key))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let s = self.unsealed()?;
        if let Some((region, rest)) = self.split_region(prefix) {
            let (dir, partial) = split_dir(rest);
            return Ok(self
                .children(&s, region, dir)?
                .into_iter()
                .filter_map(|c| {
                    c.list_form
                        .strip_prefix(partial)
                        .filter(|rest| !rest.is_empty())
                        .map(str::to_string)
                })
                .collect());
        }
        // Above a region the inner listing is already plain: the region shows up as its
        // own first segment (`logical/`), which is not secret.
        let names = self.inner.list(prefix)?;
        if covers_reserved(prefix) {
            return self.hide_reserved(prefix, names);
        }
        Ok(names)
    }

    fn delete_prefix(&self, prefix: &str) -> Result<(), StorageError> {
        let s = self.unsealed()?;
        if let Some((region, rest)) = self.split_region(prefix) {
            if rest.is_empty() || rest.ends_with('/') {
                return self.inner.delete_prefix(&s.names.encode_dir(region, rest));
            }
            // Ends mid-name: which stored keys match is known only after decoding.
            let (dir, partial) = split_dir(rest);
            let mut found = Collect::new(None, usize::MAX);
            self.walk(&s, region, dir, partial, &mut found)?;
            let ops: Vec<BatchOp> = found
                .keys
                .iter()
                .map(|k| BatchOp::Delete(self.stored_key(&s, k)))
                .collect();
            return self.inner.batch(&ops);
        }
        if covers_reserved(prefix) {
            // Everything but the seal's records, still in one atomic batch. Stored keys
            // are deleted as found: no decoding needed, whatever region they are in.
            let mut ops = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let page = self.inner.scan(prefix, cursor.as_deref(), PAGE)?;
                let Some(last) = page.last().cloned() else {
                    break;
                };
                ops.extend(
                    page.into_iter()
                        .filter(|k| !is_reserved(k))
                        .map(BatchOp::Delete),
                );
                cursor = Some(last);
            }
            return self.inner.batch(&ops);
        }
        // Any region below `prefix` is deleted with it: its stored keys start with the
        // region, which starts with `prefix`.
        self.inner.delete_prefix(prefix)
    }

    fn scan(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        let s = self.unsealed()?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Every key under `prefix` is after a cursor that sorts before `prefix`; dropping
        // such a cursor keeps the inner backends' range scans from starting outside it.
        let after = after.filter(|a| *a >= prefix);
        if let Some((region, rest)) = self.split_region(prefix) {
            let (dir, partial) = split_dir(rest);
            let mut out = Collect::new(after, limit);
            self.walk(&s, region, dir, partial, &mut out)?;
            return Ok(out.keys);
        }
        self.scan_plain(&s, prefix, after, limit)
    }

    fn batch(&self, ops: &[BatchOp]) -> Result<(), StorageError> {
        let s = self.unsealed()?;
        let mut stored = Vec::with_capacity(ops.len());
        for op in ops {
            stored.push(match op {
                BatchOp::Put(key, value) => {
                    check_not_reserved(key)?;
                    BatchOp::Put(self.stored_key(&s, key), self.seal_value(&s, key, value)?)
                }
                BatchOp::Delete(key) => {
                    check_not_reserved(key)?;
                    BatchOp::Delete(self.stored_key(&s, key))
                }
            });
        }
        self.inner.batch(&stored)
    }
}

#[cfg(test)]
mod tests;
