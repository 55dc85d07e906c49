//! The few primitives the seal is built from: 256-bit secret keys, AES-256-GCM with a
//! random nonce, HMAC-SHA256 and AES-256 in counter mode.
//!
//! Kept in one private module so every other file speaks in terms of "seal this with
//! that key" and no nonce or key schedule is handled anywhere else.

use std::fmt;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::aes::cipher::{BlockEncrypt, generic_array::GenericArray};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Length of every key the seal uses (AES-256, HMAC-SHA256).
pub(crate) const KEY_LEN: usize = 32;
/// AES-GCM nonce length: 96 bits, random per encryption.
pub(crate) const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
pub(crate) const TAG_LEN: usize = 16;

/// 32 secret bytes on the heap, wiped when dropped.
///
/// Boxed so that moving the owner (into a map, an `Arc`, a `Vec` that grows) moves only a
/// pointer: an inline array would be memcpy'd and leave unwiped copies behind.
#[derive(Clone)]
pub(crate) struct KeyBytes(Box<Zeroizing<[u8; KEY_LEN]>>);

impl KeyBytes {
    /// A fresh key from the operating system's CSPRNG.
    pub(crate) fn generate() -> Self {
        let mut key = Box::new(Zeroizing::new([0u8; KEY_LEN]));
        OsRng.fill_bytes(key.as_mut_slice());
        Self(key)
    }

    /// Copies `bytes` into a key; `None` unless exactly [`KEY_LEN`] long.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != KEY_LEN {
            return None;
        }
        let mut key = Box::new(Zeroizing::new([0u8; KEY_LEN]));
        key.copy_from_slice(bytes);
        Some(Self(key))
    }

    /// The key material.
    pub(crate) fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// A sub-key for one purpose: `HMAC-SHA256(self, label)`. Distinct labels give
    /// independent keys, so one stored secret can safely feed several algorithms.
    pub(crate) fn derive(&self, label: &[u8]) -> Self {
        let mut key = Box::new(Zeroizing::new([0u8; KEY_LEN]));
        hmac_sha256_into(self.expose(), &[label], &mut key);
        Self(key)
    }
}

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// An AEAD operation failed: on open, the ciphertext or its associated data is not what
/// was sealed (wrong key, tampered bytes, moved to another path); on seal, the plaintext
/// is beyond AES-GCM's length limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AeadFailure;

/// Appends `nonce || ciphertext || tag` of `plaintext` under `key` to `out`, with a fresh
/// random nonce and `aad` authenticated alongside.
///
/// Appending (rather than returning a new buffer) lets callers put a header in front
/// without copying the ciphertext a second time.
pub(crate) fn seal_into(
    out: &mut Vec<u8>,
    key: &KeyBytes,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(), AeadFailure> {
    let cipher = Aes256Gcm::new(GenericArray::from_slice(key.expose()));
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    out.reserve(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), aad, &mut out[start..])
        .map_err(|_| AeadFailure)?;
    out.extend_from_slice(&tag);
    Ok(())
}

/// Opens `nonce || ciphertext || tag` sealed by [`seal_into`] with the same `aad`.
pub(crate) fn open(key: &KeyBytes, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, AeadFailure> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(AeadFailure);
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let cipher = Aes256Gcm::new(GenericArray::from_slice(key.expose()));
    let mut plaintext = ciphertext.to_vec();
    match cipher.decrypt_in_place_detached(
        Nonce::from_slice(nonce),
        aad,
        &mut plaintext,
        Tag::from_slice(tag),
    ) {
        Ok(()) => Ok(plaintext),
        Err(_) => Err(AeadFailure),
    }
}

/// HMAC-SHA256 (RFC 2104) of the concatenation of `parts`.
///
/// Written out over `sha2` (already a dependency) rather than pulling in `hmac` for
/// twenty lines; the RFC 4231 vectors in the tests pin it down.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut out = [0u8; 32];
    hmac_sha256_into(key, parts, &mut out);
    out
}

/// [`hmac_sha256`] writing into `out`, so a derived key never sits in a stack temporary.
fn hmac_sha256_into(key: &[u8], parts: &[&[u8]], out: &mut [u8; 32]) {
    const BLOCK: usize = 64;
    let mut block_key = Zeroizing::new([0u8; BLOCK]);
    if key.len() > BLOCK {
        block_key[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let mut pad = Zeroizing::new([0u8; BLOCK]);
    for (p, k) in pad.iter_mut().zip(block_key.iter()) {
        *p = k ^ 0x36;
    }
    let mut inner = Sha256::new();
    inner.update(pad.as_slice());
    for part in parts {
        inner.update(part);
    }
    let inner_hash = inner.finalize();
    for (p, k) in pad.iter_mut().zip(block_key.iter()) {
        *p = k ^ 0x5c;
    }
    let mut outer = Sha256::new();
    outer.update(pad.as_slice());
    outer.update(inner_hash);
    outer.finalize_into(GenericArray::from_mut_slice(out));
}

/// XORs `data` with the AES-256-CTR keystream starting at counter block `iv`
/// (128-bit big-endian counter, as in NIST SP 800-38A). Encrypts and decrypts alike.
pub(crate) fn aes256_ctr(key: &KeyBytes, iv: &[u8; 16], data: &mut [u8]) {
    let cipher = Aes256::new(GenericArray::from_slice(key.expose()));
    let mut counter = u128::from_be_bytes(*iv);
    for chunk in data.chunks_mut(16) {
        let mut block = GenericArray::from(counter.to_be_bytes());
        cipher.encrypt_block(&mut block);
        for (byte, pad) in chunk.iter_mut().zip(block.iter()) {
            *byte ^= pad;
        }
        counter = counter.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231() {
        // Test case 1.
        let mac = hmac_sha256(&[0x0b; 20], &[b"Hi ", b"There"]);
        assert_eq!(
            hex::encode(mac),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // Test case 6: a key longer than the block is hashed first.
        let mac = hmac_sha256(
            &[0xaa; 131],
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn ctr_matches_sp800_38a() {
        // F.5.5 CTR-AES256.Encrypt, first two blocks.
        let key = KeyBytes::from_slice(
            &hex::decode("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
                .unwrap(),
        )
        .unwrap();
        let iv: [u8; 16] = hex::decode("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
            .unwrap()
            .try_into()
            .unwrap();
        let mut data =
            hex::decode("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
                .unwrap();
        aes256_ctr(&key, &iv, &mut data);
        assert_eq!(
            hex::encode(&data),
            "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
        );
    }

    #[test]
    fn gcm_round_trips_and_checks_aad() {
        let key = KeyBytes::generate();
        let mut sealed = Vec::new();
        seal_into(&mut sealed, &key, b"path/a", b"secret").unwrap();
        assert_eq!(sealed.len(), NONCE_LEN + 6 + TAG_LEN);
        assert_eq!(open(&key, b"path/a", &sealed).unwrap(), b"secret");
        assert_eq!(open(&key, b"path/b", &sealed), Err(AeadFailure));
        assert_eq!(
            open(&KeyBytes::generate(), b"path/a", &sealed),
            Err(AeadFailure)
        );
        assert_eq!(open(&key, b"path/a", &sealed[..10]), Err(AeadFailure));
    }

    #[test]
    fn key_debug_is_redacted() {
        assert_eq!(format!("{:?}", KeyBytes::generate()), "<redacted>");
    }
}
