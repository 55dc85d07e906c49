//! The seal: what keeps storage unreadable without the unseal key.
//!
//! Three keys, each encrypting the next, as in Vault:
//!
//! ```text
//! unseal key ──(Shamir)──▶ n shares held by operators, never stored
//!     │ AES-256-GCM, stored at `core/root-key`
//!     ▼
//! root key
//!     │ AES-256-GCM, stored at `core/keyring`
//!     ▼
//! keyring: data keys by term (AES-256-GCM for values) + the path key (names)
//!     │
//!     ▼
//! every value written through the [`Barrier`]
//! ```
//!
//! Splitting it this way means rotating data keys ([`Barrier::rotate`]) re-encrypts only
//! the keyring, and re-keying the unseal shares (later) re-encrypts only the root key;
//! neither touches the data.
//!
//! # Using it
//!
//! ```ignore
//! let barrier = Barrier::new(inner_backend);
//! if !barrier.is_initialized()? {
//!     let unseal_key = UnsealKey::generate();
//!     barrier.initialize(&unseal_key)?;            // writes core/root-key + core/keyring
//!     let shares = unseal_key.split(5, 3)?;        // hand these out; keep nothing
//! }
//! // Later, once `threshold` shares have been submitted:
//! let key = UnsealKey::from_shares(&submitted)?;
//! barrier.unseal(&key)?;                           // `SealError::InvalidKey` if wrong
//! let storage: SharedBackend = Arc::new(barrier);  // everything above goes through it
//! ```
//!
//! While sealed every [`crate::storage::Backend`] call on the barrier fails with a
//! [`StorageError`] whose message is `Vault is sealed` (see [`is_sealed_error`]).
//!
//! # What the seal needs from its caller
//!
//! * `core/root-key` and `core/keyring` are reserved: the barrier refuses to read or write
//!   them and hides them from `list`/`scan`.
//! * Anything that must be readable while sealed (Vault's `core/seal-config`: `t`, `n` for
//!   `sys/seal-status`) has to be written to the *inner* backend directly.

pub mod barrier;
mod crypto;
pub mod keyring;
mod names;
pub mod shamir;

use std::fmt;

pub use barrier::Barrier;
pub use keyring::{DataKey, Keyring};
pub use shamir::{ShamirError, Share};

use crate::storage::StorageError;
use crypto::{AeadFailure, KeyBytes};

/// Where the root key, encrypted under the unseal key, is stored (raw, in the inner
/// backend).
pub const ROOT_KEY_PATH: &str = "core/root-key";
/// Where the keyring, encrypted under the root key, is stored (raw, in the inner backend).
pub const KEYRING_PATH: &str = "core/keyring";
/// Paths the seal owns in the inner backend; the barrier refuses to touch them.
pub const RESERVED_PATHS: [&str; 2] = [ROOT_KEY_PATH, KEYRING_PATH];

/// Message of the [`StorageError`] every operation on a sealed barrier returns; the same
/// text Vault puts in its `503` body.
pub const SEALED_MESSAGE: &str = "Vault is sealed";
/// `backend` field of [`StorageError::Backend`] errors raised by the barrier itself.
pub const BARRIER_BACKEND: &str = "barrier";

/// Whether `err` is the barrier's "sealed" refusal (so the server can answer `503`).
pub fn is_sealed_error(err: &StorageError) -> bool {
    matches!(err, StorageError::Backend { backend, message }
        if *backend == BARRIER_BACKEND && message == SEALED_MESSAGE)
}

/// Why a seal operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The unseal key does not decrypt the root key (wrong shares, or a wrong length).
    #[error("invalid key")]
    InvalidKey,
    /// The barrier holds no keys.
    #[error("Vault is sealed")]
    Sealed,
    /// Storage has no root key yet: `initialize` first.
    #[error("Vault is not initialized")]
    NotInitialized,
    /// Storage already has a root key; initializing again would orphan all data.
    #[error("Vault is already initialized")]
    AlreadyInitialized,
    /// Seal data in storage does not parse or authenticate even though the key that
    /// protects it is right: tampering or a bug, never a user error.
    #[error("{what} is corrupt: {reason}")]
    Corrupt {
        /// Which record (`root key`, `keyring`).
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Every term number up to `u32::MAX` has been used.
    #[error("the keyring has no key term left to rotate to")]
    TermsExhausted,
    /// AES-GCM refused to encrypt (only for inputs beyond its 64 GiB limit).
    #[error("encryption failed")]
    Encrypt,
    /// A protected prefix given to [`Barrier::with_protected_prefixes`] is unusable.
    #[error("invalid protected prefix {prefix:?}: {reason}")]
    InvalidProtectedPrefix {
        /// The prefix.
        prefix: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Splitting or combining unseal key shares failed.
    #[error(transparent)]
    Shamir(#[from] ShamirError),
    /// The inner backend failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The key that decrypts the root key; reconstructed from Shamir shares and never stored.
#[derive(Clone)]
pub struct UnsealKey(KeyBytes);

/// The key that decrypts the keyring; stored only encrypted under the [`UnsealKey`].
#[derive(Clone)]
pub struct RootKey(KeyBytes);

impl UnsealKey {
    /// Length of an unseal key in bytes.
    pub const LEN: usize = crypto::KEY_LEN;

    /// A fresh random unseal key.
    pub fn generate() -> Self {
        Self(KeyBytes::generate())
    }

    /// An unseal key from its bytes; [`SealError::InvalidKey`] unless 32 bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        KeyBytes::from_slice(bytes)
            .map(Self)
            .ok_or(SealError::InvalidKey)
    }

    /// The key's bytes (to split them into shares, or to show the single `-dev` key).
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.expose()
    }

    /// Splits the key into `shares` Shamir shares of which any `threshold` recover it.
    /// With one share, the share is the key itself (as in Vault).
    pub fn split(&self, shares: usize, threshold: usize) -> Result<Vec<Share>, SealError> {
        Ok(shamir::split(self.as_bytes(), shares, threshold)?)
    }

    /// Rebuilds the key from `threshold` shares. Wrong or corrupted shares give a
    /// *different* key, not an error: [`Barrier::unseal`] is what notices.
    pub fn from_shares<S: AsRef<[u8]>>(shares: &[S]) -> Result<Self, SealError> {
        let secret = shamir::combine(shares)?;
        Self::from_bytes(&secret)
    }
}

impl RootKey {
    /// A fresh random root key.
    pub fn generate() -> Self {
        Self(KeyBytes::generate())
    }

    pub(crate) fn key(&self) -> &KeyBytes {
        &self.0
    }
}

impl fmt::Debug for UnsealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnsealKey(<redacted>)")
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey(<redacted>)")
    }
}

/// Format version of the `core/root-key` record.
const ROOT_KEY_VERSION: u8 = 1;

/// Associated data of a seal record: its version and the path it lives at, so a record
/// copied to another path (a keyring written over the root key) fails to open.
fn record_aad(version: u8, path: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + path.len());
    aad.push(version);
    aad.extend_from_slice(path.as_bytes());
    aad
}

/// Encrypts the root key under the unseal key: the record stored at [`ROOT_KEY_PATH`],
/// `[version 1][nonce 12][ciphertext 32 + tag 16]`.
pub fn encrypt_root_key(unseal_key: &UnsealKey, root_key: &RootKey) -> Result<Vec<u8>, SealError> {
    let mut out = vec![ROOT_KEY_VERSION];
    crypto::seal_into(
        &mut out,
        &unseal_key.0,
        &record_aad(ROOT_KEY_VERSION, ROOT_KEY_PATH),
        root_key.0.expose(),
    )
    .map_err(|AeadFailure| SealError::Encrypt)?;
    Ok(out)
}

/// Decrypts the record made by [`encrypt_root_key`]; [`SealError::InvalidKey`] when
/// `unseal_key` is not the one it was encrypted under.
pub fn decrypt_root_key(unseal_key: &UnsealKey, record: &[u8]) -> Result<RootKey, SealError> {
    let Some((&version, sealed)) = record.split_first() else {
        return Err(corrupt_root_key("empty record"));
    };
    if version != ROOT_KEY_VERSION {
        return Err(corrupt_root_key(format!("unknown version {version}")));
    }
    // A tag mismatch is indistinguishable from tampering, but a wrong key is by far the
    // likelier cause and the one the operator can fix, so that is what we report.
    let plaintext = zeroize::Zeroizing::new(
        crypto::open(
            &unseal_key.0,
            &record_aad(ROOT_KEY_VERSION, ROOT_KEY_PATH),
            sealed,
        )
        .map_err(|AeadFailure| SealError::InvalidKey)?,
    );
    KeyBytes::from_slice(&plaintext)
        .map(RootKey)
        .ok_or_else(|| corrupt_root_key(format!("{} bytes, not 32", plaintext.len())))
}

fn corrupt_root_key(reason: impl Into<String>) -> SealError {
    SealError::Corrupt {
        what: "root key",
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_key_round_trips_only_under_its_unseal_key() {
        let unseal = UnsealKey::generate();
        let root = RootKey::generate();
        let record = encrypt_root_key(&unseal, &root).unwrap();
        assert_eq!(record.len(), 1 + 12 + 32 + 16);
        let back = decrypt_root_key(&unseal, &record).unwrap();
        assert_eq!(back.0.expose(), root.0.expose());

        let err = decrypt_root_key(&UnsealKey::generate(), &record).unwrap_err();
        assert!(matches!(err, SealError::InvalidKey));
        assert_eq!(err.to_string(), "invalid key");

        let mut tampered = record.clone();
        tampered[20] ^= 1;
        assert!(matches!(
            decrypt_root_key(&unseal, &tampered),
            Err(SealError::InvalidKey)
        ));
        assert!(matches!(
            decrypt_root_key(&unseal, &[]),
            Err(SealError::Corrupt { .. })
        ));
    }

    #[test]
    fn unseal_key_survives_a_share_round_trip() {
        let key = UnsealKey::generate();
        let shares = key.split(5, 3).unwrap();
        let back = UnsealKey::from_shares(&shares[1..4]).unwrap();
        assert_eq!(back.as_bytes(), key.as_bytes());
        // One share: the share is the key.
        let single = key.split(1, 1).unwrap();
        assert_eq!(single[0].as_bytes(), key.as_bytes());
        assert_eq!(
            UnsealKey::from_shares(&single).unwrap().as_bytes(),
            key.as_bytes()
        );
        assert!(matches!(
            UnsealKey::from_bytes(&[0; 31]),
            Err(SealError::InvalidKey)
        ));
    }

    #[test]
    fn debug_never_prints_key_bytes() {
        let key = UnsealKey::from_bytes(&[0xab; 32]).unwrap();
        let root = RootKey(KeyBytes::from_slice(&[0xcd; 32]).unwrap());
        let shown = format!("{key:?} {root:?} {:?}", key.clone());
        assert!(!shown.contains("171") && !shown.contains("ab"), "{shown}");
        assert!(!format!("{root:?}").contains("205"));
    }

    #[test]
    fn sealed_error_is_recognisable() {
        let e = StorageError::Backend {
            backend: BARRIER_BACKEND,
            message: SEALED_MESSAGE.into(),
        };
        assert!(is_sealed_error(&e));
        assert!(e.to_string().contains("Vault is sealed"));
    }
}
