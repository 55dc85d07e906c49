//! Storage keys of the lease manager.

use crate::storage::TimeIndex;

/// Prefix of lease entries.
pub const ID_PREFIX: &str = "sys/expire/id/";
/// Prefix of the expiry index.
pub const INDEX_PREFIX: &str = "sys/expire/index/";
/// The expiry index: `<unix secs>/<lease id>`, time-ordered.
pub const INDEX: TimeIndex = TimeIndex(INDEX_PREFIX);
/// Prefix of irrevocable-lease markers.
pub const IRREVOCABLE_PREFIX: &str = "sys/expire/irrevocable/";

/// Prefix of the token index: `<token hash>/<lease id>` for every lease a token created.
pub const TOKEN_PREFIX: &str = "sys/expire/token/";

/// Prefix of the leases `token_hash` created.
pub fn token_prefix(token_hash: &str) -> String {
    format!("{TOKEN_PREFIX}{token_hash}/")
}

/// Key tying `lease_id` to the token that created it.
pub fn token_key(token_hash: &str, lease_id: &str) -> String {
    format!("{TOKEN_PREFIX}{token_hash}/{lease_id}")
}

/// Key of a lease entry.
pub fn id_key(lease_id: &str) -> String {
    format!("{ID_PREFIX}{lease_id}")
}

/// Key of a lease's expiry index slot. Seconds are zero-padded so keys sort by time.
pub fn index_key(expire_secs: u64, lease_id: &str) -> String {
    INDEX.key(expire_secs, lease_id)
}

/// Key of an irrevocable marker.
pub fn irrevocable_key(lease_id: &str) -> String {
    format!("{IRREVOCABLE_PREFIX}{lease_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_keys_sort_by_time_and_parse_back() {
        let a = index_key(99, "aws/creds/r/x");
        let b = index_key(1000, "a/b");
        assert!(a < b);
        assert!(a < INDEX.bound(99) && INDEX.bound(99) < b);
        assert_eq!(INDEX.parse(&a), Some((99, "aws/creds/r/x")));
    }
}
