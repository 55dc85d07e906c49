//! Storage keys of the token store.
//!
//! Every key holds only a token's salted hash or its accessor, never the token id, so a
//! storage dump (even past the barrier) yields nothing that authenticates.

use crate::storage::TimeIndex;

/// The per-store HMAC key tokens are hashed with.
pub const SALT_KEY: &str = "sys/token/salt";
/// Prefix of token entries, by hash.
pub const ID_PREFIX: &str = "sys/token/id/";
/// Prefix of the accessor index: accessor → token hash.
pub const ACCESSOR_PREFIX: &str = "sys/token/accessor/";
/// Prefix of the parent → children index: `<parent hash>/<child hash>`.
pub const PARENT_PREFIX: &str = "sys/token/parent/";
/// Prefix of the expiry index: `<unix secs>/<hash>`, time-ordered.
pub const EXPIRE_PREFIX: &str = "sys/token/expire/";
/// The expiry index.
pub const EXPIRE_INDEX: TimeIndex = TimeIndex(EXPIRE_PREFIX);

/// Key of a token entry.
pub fn id_key(hash: &str) -> String {
    format!("{ID_PREFIX}{hash}")
}

/// Key of an accessor index entry.
pub fn accessor_key(accessor: &str) -> String {
    format!("{ACCESSOR_PREFIX}{accessor}")
}

/// Prefix under which a token's children are listed.
pub fn children_prefix(parent_hash: &str) -> String {
    format!("{PARENT_PREFIX}{parent_hash}/")
}

/// Key linking `child_hash` to its parent.
pub fn parent_key(parent_hash: &str, child_hash: &str) -> String {
    format!("{PARENT_PREFIX}{parent_hash}/{child_hash}")
}

/// Key of a token's expiry index slot. Seconds are zero-padded so keys sort by time.
pub fn expire_key(secs: u64, hash: &str) -> String {
    EXPIRE_INDEX.key(secs, hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expire_keys_sort_by_time_and_parse_back() {
        let a = expire_key(99, "aa");
        let b = expire_key(1000, "bb");
        assert!(a < EXPIRE_INDEX.bound(99) && EXPIRE_INDEX.bound(99) < b);
        assert_eq!(EXPIRE_INDEX.parse(&b), Some((1000, "bb")));
        assert_eq!(EXPIRE_INDEX.parse("sys/token/expire/x/y"), None);
    }
}
