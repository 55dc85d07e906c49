//! Unseal key shares submitted so far (`sys/unseal`).

use zeroize::Zeroizing;

/// What a submitted share achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareOutcome {
    /// More shares are needed.
    Pending,
    /// The threshold was reached and the server is unsealed.
    Unsealed,
}

/// Shares collected for the current attempt, kept zeroized.
#[derive(Default)]
pub(super) struct UnsealProgress {
    shares: Vec<Zeroizing<Vec<u8>>>,
    nonce: String,
}

impl UnsealProgress {
    /// Number of distinct shares so far.
    pub fn len(&self) -> usize {
        self.shares.len()
    }

    /// The attempt's nonce (`""` when none is in progress).
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// Adds a share (a repeated share counts once, as in Vault). Returns all shares and
    /// clears the attempt once `threshold` are in.
    pub fn add(&mut self, share: Vec<u8>, threshold: usize) -> Option<Vec<Zeroizing<Vec<u8>>>> {
        let share = Zeroizing::new(share);
        if self.nonce.is_empty() {
            self.nonce = uuid::Uuid::new_v4().to_string();
        }
        if !self.shares.iter().any(|s| **s == *share) {
            self.shares.push(share);
        }
        if self.shares.len() < threshold {
            return None;
        }
        self.nonce.clear();
        Some(std::mem::take(&mut self.shares))
    }

    /// Abandons the attempt.
    pub fn reset(&mut self) {
        self.shares.clear();
        self.nonce.clear();
    }
}

/// A share as clients send it: hex (Vault's `keys`) or base64 (`keys_base64`).
pub fn decode_share(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.len().is_multiple_of(2)
        && let Ok(bytes) = hex::decode(text)
    {
        return Some(bytes);
    }
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()
        .filter(|b| !b.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_counts_distinct_shares() {
        let mut p = UnsealProgress::default();
        assert!(p.add(vec![1], 2).is_none());
        let nonce = p.nonce().to_string();
        assert!(!nonce.is_empty());
        assert!(p.add(vec![1], 2).is_none(), "a repeated share counts once");
        assert_eq!(p.len(), 1);
        assert_eq!(p.nonce(), nonce);
        let all = p.add(vec![2], 2).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!((p.len(), p.nonce()), (0, ""));
    }

    #[test]
    fn shares_decode_from_hex_or_base64() {
        assert_eq!(decode_share("0aff"), Some(vec![0x0a, 0xff]));
        assert_eq!(decode_share("Cv8="), Some(vec![0x0a, 0xff]));
        assert_eq!(decode_share("not a key!"), None);
        assert_eq!(decode_share(""), None);
    }
}
