//! The keyring: every data key the barrier has ever written with, by term.
//!
//! Terms start at 1 and only grow. The newest term is the active one: new writes use it,
//! while reads pick the key named by the term in each value's header, so data written
//! before a [`Keyring::rotate`] stays readable without being rewritten.
//!
//! The keyring also holds the *path key*, from which the barrier derives the keys that
//! hide storage-key names. Unlike data keys it never rotates: every stored key name is a
//! function of it, so changing it would mean renaming every key (see [`super::barrier`]).
//!
//! # Stored form (`core/keyring`)
//!
//! `[version 1][nonce 12][AES-256-GCM(root key, plaintext) + tag 16]`, associated data
//! `version || "core/keyring"`. The plaintext is a fixed binary layout (no serde, so no
//! intermediate strings holding key material that nobody wipes):
//!
//! ```text
//! active term u32 BE | path key [32] | count u32 BE | count × (term u32 BE, installed_at u64 BE, key [32])
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use super::crypto::{self, AeadFailure, KEY_LEN, KeyBytes};
use super::{KEYRING_PATH, RootKey, SealError, record_aad};

/// Format version of the stored keyring.
const KEYRING_VERSION: u8 = 1;
/// Bytes of one serialized data key: term, install time, key.
const ENTRY_LEN: usize = 4 + 8 + KEY_LEN;

/// One AES-256-GCM data key and the term it belongs to.
#[derive(Clone)]
pub struct DataKey {
    term: u32,
    installed_at: u64,
    key: KeyBytes,
}

impl DataKey {
    /// The term number written in the header of every value this key encrypted.
    pub fn term(&self) -> u32 {
        self.term
    }

    /// When the key was created, in seconds since the Unix epoch (`sys/key-status`).
    pub fn installed_at(&self) -> u64 {
        self.installed_at
    }

    pub(crate) fn key(&self) -> &KeyBytes {
        &self.key
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("term", &self.term)
            .field("installed_at", &self.installed_at)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Data keys by term, the active (newest) one, and the path key. Key material is wiped on
/// drop.
#[derive(Clone)]
pub struct Keyring {
    /// The newest key. Held apart from the older ones so "the active key" is a field
    /// access, not a lookup that could miss.
    active: DataKey,
    /// Every older key, by term.
    older: BTreeMap<u32, DataKey>,
    path_key: KeyBytes,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Keyring {
    /// A new keyring with one fresh key at term 1 and a fresh path key.
    pub fn new() -> Self {
        Self {
            active: DataKey {
                term: 1,
                installed_at: now_secs(),
                key: KeyBytes::generate(),
            },
            older: BTreeMap::new(),
            path_key: KeyBytes::generate(),
        }
    }

    /// The term new writes are encrypted under.
    pub fn active_term(&self) -> u32 {
        self.active.term
    }

    /// The key new writes are encrypted under.
    pub fn active_key(&self) -> &DataKey {
        &self.active
    }

    /// The key of `term`, if this keyring has it.
    pub fn key(&self, term: u32) -> Option<&DataKey> {
        if term == self.active.term {
            Some(&self.active)
        } else {
            self.older.get(&term)
        }
    }

    /// Every key, oldest first (the active one last).
    pub fn keys(&self) -> impl Iterator<Item = &DataKey> + '_ {
        self.older.values().chain(std::iter::once(&self.active))
    }

    /// Every term, oldest first.
    pub fn terms(&self) -> impl Iterator<Item = u32> + '_ {
        self.keys().map(DataKey::term)
    }

    pub(crate) fn path_key(&self) -> &KeyBytes {
        &self.path_key
    }

    /// Adds a fresh key with the next term and makes it active; returns that term.
    /// Older keys stay, so everything they encrypted stays readable.
    pub fn rotate(&mut self) -> Result<u32, SealError> {
        let term = self
            .active
            .term
            .checked_add(1)
            .ok_or(SealError::TermsExhausted)?;
        let previous = std::mem::replace(
            &mut self.active,
            DataKey {
                term,
                installed_at: now_secs(),
                key: KeyBytes::generate(),
            },
        );
        self.older.insert(previous.term, previous);
        Ok(term)
    }

    /// The record stored at [`KEYRING_PATH`]: this keyring encrypted under `root_key`.
    pub fn encrypt(&self, root_key: &RootKey) -> Result<Vec<u8>, SealError> {
        // Sized up front so the buffer never reallocates and leaves key copies behind.
        let len = self.older.len() + 1;
        let mut plain = Zeroizing::new(Vec::with_capacity(4 + KEY_LEN + 4 + len * ENTRY_LEN));
        plain.extend_from_slice(&self.active.term.to_be_bytes());
        plain.extend_from_slice(self.path_key.expose());
        let count = u32::try_from(len).map_err(|_| SealError::TermsExhausted)?;
        plain.extend_from_slice(&count.to_be_bytes());
        for key in self.keys() {
            plain.extend_from_slice(&key.term.to_be_bytes());
            plain.extend_from_slice(&key.installed_at.to_be_bytes());
            plain.extend_from_slice(key.key.expose());
        }
        let mut out = vec![KEYRING_VERSION];
        crypto::seal_into(
            &mut out,
            root_key.key(),
            &record_aad(KEYRING_VERSION, KEYRING_PATH),
            &plain,
        )
        .map_err(|AeadFailure| SealError::Encrypt)?;
        Ok(out)
    }

    /// Decrypts and parses a record made by [`Keyring::encrypt`].
    ///
    /// The root key has already authenticated against the unseal key by the time this
    /// runs, so any failure here is corruption, reported as [`SealError::Corrupt`].
    pub fn decrypt(root_key: &RootKey, record: &[u8]) -> Result<Self, SealError> {
        let Some((&version, sealed)) = record.split_first() else {
            return Err(corrupt("empty record"));
        };
        if version != KEYRING_VERSION {
            return Err(corrupt(format!("unknown version {version}")));
        }
        let plain = Zeroizing::new(
            crypto::open(
                root_key.key(),
                &record_aad(KEYRING_VERSION, KEYRING_PATH),
                sealed,
            )
            .map_err(|AeadFailure| corrupt("does not authenticate under the root key"))?,
        );
        Self::parse(&plain)
    }

    fn parse(plain: &[u8]) -> Result<Self, SealError> {
        let mut r = Reader(plain);
        let active = r.u32()?;
        let path_key = r.key()?;
        let count = r.u32()? as usize;
        if count == 0 {
            return Err(corrupt("no keys"));
        }
        if r.0.len() != count.saturating_mul(ENTRY_LEN) {
            return Err(corrupt(format!(
                "{} trailing bytes for {count} keys",
                r.0.len()
            )));
        }
        let mut keys = BTreeMap::new();
        for _ in 0..count {
            let term = r.u32()?;
            let installed_at = r.u64()?;
            let key = r.key()?;
            if term == 0 {
                return Err(corrupt("term 0"));
            }
            let entry = DataKey {
                term,
                installed_at,
                key,
            };
            if keys.insert(term, entry).is_some() {
                return Err(corrupt(format!("term {term} appears twice")));
            }
        }
        // The active term is always the newest: rotation only ever adds a higher one.
        let newest = keys.keys().next_back().copied();
        if newest != Some(active) {
            return Err(corrupt(format!(
                "active term {active} is not the newest key"
            )));
        }
        let Some(active) = keys.remove(&active) else {
            return Err(corrupt(format!("active term {active} has no key")));
        };
        Ok(Self {
            active,
            older: keys,
            path_key,
        })
    }
}

impl Default for Keyring {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("active_term", &self.active.term)
            .field("keys", &self.keys().collect::<Vec<_>>())
            .field("path_key", &"<redacted>")
            .finish()
    }
}

fn corrupt(reason: impl Into<String>) -> SealError {
    SealError::Corrupt {
        what: "keyring",
        reason: reason.into(),
    }
}

/// A cursor over the keyring plaintext.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], SealError> {
        let Some((head, rest)) = self.0.split_first_chunk::<N>() else {
            return Err(corrupt("truncated"));
        };
        self.0 = rest;
        Ok(*head)
    }

    fn u32(&mut self) -> Result<u32, SealError> {
        self.take().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, SealError> {
        self.take().map(u64::from_be_bytes)
    }

    fn key(&mut self) -> Result<KeyBytes, SealError> {
        // Sliced straight out of the (zeroizing) plaintext, not via a stack array copy.
        let Some((head, rest)) = self.0.split_at_checked(KEY_LEN) else {
            return Err(corrupt("truncated"));
        };
        self.0 = rest;
        KeyBytes::from_slice(head).ok_or_else(|| corrupt("truncated"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_term_one_and_rotates_upwards() {
        let mut ring = Keyring::new();
        assert_eq!(ring.active_term(), 1);
        assert_eq!(ring.active_key().term(), 1);
        let first = ring.active_key().key().expose().to_owned();
        assert_eq!(ring.rotate().unwrap(), 2);
        assert_eq!(ring.rotate().unwrap(), 3);
        assert_eq!(ring.active_term(), 3);
        assert_eq!(ring.terms().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(ring.key(1).unwrap().key().expose(), &first);
        assert_ne!(ring.key(3).unwrap().key().expose(), &first);
        assert!(ring.key(4).is_none());
    }

    #[test]
    fn round_trips_under_the_root_key_only() {
        let root = RootKey::generate();
        let mut ring = Keyring::new();
        ring.rotate().unwrap();
        let record = ring.encrypt(&root).unwrap();
        let back = Keyring::decrypt(&root, &record).unwrap();
        assert_eq!(back.active_term(), 2);
        assert_eq!(back.terms().collect::<Vec<_>>(), vec![1, 2]);
        for term in [1, 2] {
            assert_eq!(
                back.key(term).unwrap().key().expose(),
                ring.key(term).unwrap().key().expose()
            );
            assert_eq!(
                back.key(term).unwrap().installed_at(),
                ring.key(term).unwrap().installed_at()
            );
        }
        assert_eq!(back.path_key().expose(), ring.path_key().expose());

        let err = Keyring::decrypt(&RootKey::generate(), &record).unwrap_err();
        assert!(
            matches!(
                err,
                SealError::Corrupt {
                    what: "keyring",
                    ..
                }
            ),
            "{err}"
        );
        let mut tampered = record.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(Keyring::decrypt(&root, &tampered).is_err());
    }

    #[test]
    fn parse_rejects_inconsistent_plaintext() {
        let ok = {
            let mut p = Vec::new();
            p.extend_from_slice(&1u32.to_be_bytes());
            p.extend_from_slice(&[7; 32]);
            p.extend_from_slice(&1u32.to_be_bytes());
            p.extend_from_slice(&1u32.to_be_bytes());
            p.extend_from_slice(&0u64.to_be_bytes());
            p.extend_from_slice(&[9; 32]);
            p
        };
        assert!(Keyring::parse(&ok).is_ok());
        assert!(Keyring::parse(&ok[..ok.len() - 1]).is_err());
        let mut wrong_active = ok.clone();
        wrong_active[3] = 2;
        assert!(Keyring::parse(&wrong_active).is_err());
        let mut zero_count = ok[..40].to_vec();
        zero_count[39] = 0;
        assert!(Keyring::parse(&zero_count).is_err());
    }

    #[test]
    fn debug_shows_terms_but_no_key_bytes() {
        let ring = Keyring::new();
        let shown = format!("{ring:?}");
        assert!(
            shown.contains("term: 1") && shown.contains("<redacted>"),
            "{shown}"
        );
        let key_as_debug = format!("{:?}", ring.active_key().key().expose());
        assert!(!shown.contains(&key_as_debug[1..20]));
        assert!(!shown.contains(&hex::encode(ring.active_key().key().expose())));
    }
}
