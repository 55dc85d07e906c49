//! Storage keys of the token store.
//!
//! Every key holds only a token's salted hash or its accessor, never the token id, so a
//! storage dump (even past the barrier) yields nothing that authenticates.

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
    format!("{EXPIRE_PREFIX}{secs:012}/{hash}")
}

/// The first expiry key due after `secs` (exclusive bound of a scan up to `secs`).
pub fn expire_bound(secs: u64) -> String {
    format!("{EXPIRE_PREFIX}{:012}/", secs.saturating_add(1))
}

/// Splits an expiry key into (seconds, token hash).
pub fn parse_expire_key(key: &str) -> Option<(u64, &str)> {
    let rest = key.strip_prefix(EXPIRE_PREFIX)?;
    let (secs, hash) = rest.split_once('/')?;
    Some((secs.parse().ok()?, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expire_keys_sort_by_time_and_parse_back() {
        let a = expire_key(99, "aa");
        let b = expire_key(1000, "bb");
        assert!(a < expire_bound(99) && expire_bound(99) < b);
        assert_eq!(parse_expire_key(&b), Some((1000, "bb")));
        assert_eq!(parse_expire_key("sys/token/expire/x/y"), None);
    }
}
