//! Hiding storage-key names: deterministic, authenticated encryption of path segments.
//!
//! Each segment of a key below a protected prefix is replaced by
//!
//! ```text
//! base64url( siv[16] || AES-256-CTR(enc key, iv = siv, pad16(segment)) )
//! siv = HMAC-SHA256(mac key, len(parent) u32 BE || parent || segment)[..16]
//! ```
//!
//! where `parent` is the segment's *original* parent path (`logical/<uuid>/v2/`). This is
//! SIV (RFC 5297's construction, with HMAC-SHA256 as the PRF):
//!
//! * deterministic, so `get`/`put`/`delete` find the same stored key for the same name
//!   without any lookup table;
//! * reversible with the key, so `list` recovers names from the stored keys themselves:
//!   no sidecar "name entries" to keep consistent, and `batch` stays one atomic write;
//! * authenticated: decoding recomputes the SIV from the decrypted name and compares in
//!   constant time, so an altered or transplanted segment is rejected, not misread;
//! * bound to its parent, so the same name in two folders (`config` in every mount) is
//!   stored as two unrelated strings and equal names cannot be matched across folders.
//!
//! Padding to 16-byte blocks (ISO/IEC 7816-4: `0x80` then zeros) means only a name's
//! length bucket leaks, not its exact length. base64url has no `/`, so stored keys keep
//! the original folder structure: prefix operations map one-to-one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use super::crypto::{self, KeyBytes};

/// Bytes of the synthetic IV at the front of every encoded segment.
const SIV_LEN: usize = 16;
/// Names are padded to a multiple of this before encryption.
const PAD_BLOCK: usize = 16;

/// Why a stored segment could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NameError {
    /// Not base64url, or not a whole number of blocks.
    #[error("malformed encoded name")]
    Malformed,
    /// Does not authenticate under the path key for this parent.
    #[error("encoded name does not authenticate (tampered, moved, or from another keyring)")]
    Unauthentic,
}

/// The two keys derived from the keyring's path key.
#[derive(Clone, Debug)]
pub(crate) struct NameCipher {
    mac_key: KeyBytes,
    enc_key: KeyBytes,
}

impl NameCipher {
    /// Derives the MAC and encryption keys from `path_key`, domain-separated so neither
    /// is ever used for the other's job.
    pub(crate) fn new(path_key: &KeyBytes) -> Self {
        Self {
            mac_key: path_key.derive(b"coffer/barrier/names/mac/v1"),
            enc_key: path_key.derive(b"coffer/barrier/names/enc/v1"),
        }
    }

    fn siv(&self, parent: &str, segment: &[u8]) -> [u8; SIV_LEN] {
        // The length prefix makes (parent, segment) unambiguous even though parent always
        // ends with '/' and segments never contain one.
        let parent_len = u32::try_from(parent.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes();
        let mac = crypto::hmac_sha256(
            self.mac_key.expose(),
            &[&parent_len, parent.as_bytes(), segment],
        );
        let mut siv = [0u8; SIV_LEN];
        siv.copy_from_slice(&mac[..SIV_LEN]);
        siv
    }

    /// The stored form of `segment` under the original folder `parent`.
    pub(crate) fn encode_segment(&self, parent: &str, segment: &str) -> String {
        let siv = self.siv(parent, segment.as_bytes());
        let padded_len = (segment.len() / PAD_BLOCK + 1) * PAD_BLOCK;
        let mut buf = Vec::with_capacity(SIV_LEN + padded_len);
        buf.extend_from_slice(&siv);
        buf.extend_from_slice(segment.as_bytes());
        buf.push(0x80);
        buf.resize(SIV_LEN + padded_len, 0);
        crypto::aes256_ctr(&self.enc_key, &siv, &mut buf[SIV_LEN..]);
        URL_SAFE_NO_PAD.encode(&buf)
    }

    /// The original name of the stored segment `encoded` under the original folder
    /// `parent`.
    pub(crate) fn decode_segment(&self, parent: &str, encoded: &str) -> Result<String, NameError> {
        let mut buf = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| NameError::Malformed)?;
        if buf.len() < SIV_LEN + PAD_BLOCK || !(buf.len() - SIV_LEN).is_multiple_of(PAD_BLOCK) {
            return Err(NameError::Malformed);
        }
        let mut siv = [0u8; SIV_LEN];
        siv.copy_from_slice(&buf[..SIV_LEN]);
        let padded = &mut buf[SIV_LEN..];
        crypto::aes256_ctr(&self.enc_key, &siv, padded);
        // Strip the padding without trusting it: whatever comes out is checked by the SIV.
        let end = padded
            .iter()
            .rposition(|&b| b != 0)
            .filter(|&i| padded[i] == 0x80)
            .ok_or(NameError::Unauthentic)?;
        let name = &padded[..end];
        if !bool::from(self.siv(parent, name).ct_eq(&siv)) {
            return Err(NameError::Unauthentic);
        }
        String::from_utf8(name.to_vec()).map_err(|_| NameError::Unauthentic)
    }

    /// The stored form of the key `region + rest`, where `region` is the protected prefix
    /// (kept as is) and every `/`-separated segment of `rest` is encoded, empty ones too.
    pub(crate) fn encode_key(&self, region: &str, rest: &str) -> String {
        let mut out = String::with_capacity(region.len() + rest.len() * 2 + 32);
        out.push_str(region);
        let mut parent = String::with_capacity(region.len() + rest.len());
        parent.push_str(region);
        for (i, segment) in rest.split('/').enumerate() {
            if i > 0 {
                out.push('/');
            }
            out.push_str(&self.encode_segment(&parent, segment));
            parent.push_str(segment);
            parent.push('/');
        }
        out
    }

    /// The stored form of the folder `region + dir`, where `dir` is empty (the region
    /// itself) or ends with `/`.
    pub(crate) fn encode_dir(&self, region: &str, dir: &str) -> String {
        match dir.strip_suffix('/') {
            None => region.to_string(),
            Some(inner) => {
                let mut out = self.encode_key(region, inner);
                out.push('/');
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> NameCipher {
        NameCipher::new(&KeyBytes::generate())
    }

    #[test]
    fn segments_round_trip_and_hide_the_name() {
        let c = cipher();
        for name in [
            "prod-db-password",
            "",
            "a",
            "ключ",
            &"x".repeat(15),
            &"y".repeat(16),
        ] {
            let enc = c.encode_segment("logical/u/", name);
            assert!(!enc.contains('/'));
            if name.len() > 2 {
                assert!(!enc.contains(name));
            }
            assert!(
                enc.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert_eq!(c.encode_segment("logical/u/", name), enc, "deterministic");
            assert_eq!(c.decode_segment("logical/u/", &enc).unwrap(), name);
        }
        // Lengths leak only by 16-byte bucket.
        assert_eq!(
            c.encode_segment("p/", "a").len(),
            c.encode_segment("p/", &"b".repeat(15)).len()
        );
    }

    #[test]
    fn same_name_differs_across_folders_and_keys() {
        let c = cipher();
        let a = c.encode_segment("logical/one/", "config");
        assert_ne!(a, c.encode_segment("logical/two/", "config"));
        assert_ne!(a, cipher().encode_segment("logical/one/", "config"));
        // Moved to another folder, or decoded with another keyring: rejected.
        assert_eq!(
            c.decode_segment("logical/two/", &a),
            Err(NameError::Unauthentic)
        );
        assert_eq!(
            cipher().decode_segment("logical/one/", &a),
            Err(NameError::Unauthentic)
        );
    }

    #[test]
    fn tampered_segments_are_rejected() {
        let c = cipher();
        let enc = c.encode_segment("p/", "secret-name");
        let mut raw = URL_SAFE_NO_PAD.decode(&enc).unwrap();
        for i in [0, SIV_LEN, raw.len() - 1] {
            raw[i] ^= 0x01;
            let bad = URL_SAFE_NO_PAD.encode(&raw);
            assert_eq!(c.decode_segment("p/", &bad), Err(NameError::Unauthentic));
            raw[i] ^= 0x01;
        }
        assert_eq!(c.decode_segment("p/", "!!"), Err(NameError::Malformed));
        assert_eq!(c.decode_segment("p/", "abcd"), Err(NameError::Malformed));
        assert_eq!(c.decode_segment("p/", ""), Err(NameError::Malformed));
    }

    #[test]
    fn keys_and_dirs_share_a_structure() {
        let c = cipher();
        let key = c.encode_key("logical/", "uuid/v2/metadata/prod-db");
        let dir = c.encode_dir("logical/", "uuid/v2/");
        assert!(key.starts_with(&dir), "{key} / {dir}");
        assert_eq!(key.matches('/').count(), 4);
        assert_eq!(c.encode_dir("logical/", ""), "logical/");
        // Empty segments are encoded too, so "a//b" and "a/b" stay distinct.
        assert_ne!(c.encode_key("r/", "a//b"), c.encode_key("r/", "a/b"));
        assert_eq!(c.encode_key("r/", "a//b").matches('/').count(), 3);
    }
}
