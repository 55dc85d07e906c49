//! An in-memory stand-in for the host, used when the SDK is compiled for a non-wasm
//! target. Engines' native unit tests run their handlers against it; see
//! [`crate::testing`] for the controls.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use super::{Level, StorageFailure};

/// 2023-11-14T22:13:20Z: a fixed start so tests are deterministic.
pub(crate) const DEFAULT_NOW: u64 = 1_700_000_000_000_000_000;

/// The fake host's state; one per thread, so parallel tests do not see each other.
pub(crate) struct FakeHost {
    pub(crate) entries: BTreeMap<String, Vec<u8>>,
    pub(crate) now: u64,
    rng: u64,
    pub(crate) logs: Vec<(Level, String)>,
}

impl FakeHost {
    fn new() -> Self {
        FakeHost {
            entries: BTreeMap::new(),
            now: DEFAULT_NOW,
            rng: 0x9E37_79B9_7F4A_7C15,
            logs: Vec::new(),
        }
    }
}

thread_local! {
    static HOST: RefCell<FakeHost> = RefCell::new(FakeHost::new());
}

/// Runs `f` on this thread's fake host.
pub(crate) fn with<R>(f: impl FnOnce(&mut FakeHost) -> R) -> R {
    HOST.with(|h| f(&mut h.borrow_mut()))
}

/// Forgets all state: storage, clock, log.
pub(crate) fn reset() {
    with(|h| *h = FakeHost::new());
}

/// The rules the real host applies to keys, so engines hit the same errors in tests.
fn check_key(key: &str) -> Result<(), StorageFailure> {
    let reason = if key.is_empty() {
        "empty"
    } else {
        match check_prefix(key) {
            Ok(()) => return Ok(()),
            Err(reason) => reason,
        }
    };
    Err(StorageFailure::InvalidKey(format!(
        "invalid storage key {key:?}: {reason}"
    )))
}

/// The key rules that also apply to list prefixes (which may be empty).
fn check_prefix(prefix: &str) -> Result<(), &'static str> {
    if prefix.starts_with('/') {
        Err("starts with '/'")
    } else if prefix.len() > 4096 {
        Err("longer than 4096 bytes")
    } else if prefix.split('/').any(|seg| seg == "." || seg == "..") {
        Err("contains a '.' or '..' segment")
    } else {
        Ok(())
    }
}

pub(crate) fn storage_get(key: &str) -> Result<Option<Vec<u8>>, StorageFailure> {
    check_key(key)?;
    Ok(with(|h| h.entries.get(key).cloned()))
}

pub(crate) fn storage_put(key: &str, value: &[u8]) -> Result<(), StorageFailure> {
    check_key(key)?;
    with(|h| h.entries.insert(key.to_string(), value.to_vec()));
    Ok(())
}

pub(crate) fn storage_delete(key: &str) -> Result<(), StorageFailure> {
    check_key(key)?;
    with(|h| h.entries.remove(key));
    Ok(())
}

/// One level below `prefix`, with deeper folders as `name/`, sorted and unique, as the
/// WIT `list-keys` specifies.
pub(crate) fn storage_list(prefix: &str) -> Result<Vec<String>, StorageFailure> {
    check_prefix(prefix).map_err(|reason| {
        StorageFailure::InvalidKey(format!("invalid prefix {prefix:?}: {reason}"))
    })?;
    if !(prefix.is_empty() || prefix.ends_with('/')) {
        return Err(StorageFailure::InvalidKey(format!(
            "invalid prefix {prefix:?}: must be empty or end with '/'"
        )));
    }
    Ok(with(|h| {
        let names: BTreeSet<String> = h
            .entries
            .range(prefix.to_string()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(prefix))
            .filter_map(|k| {
                let rest = &k[prefix.len()..];
                match rest.find('/') {
                    Some(i) => Some(rest[..=i].to_string()),
                    None if rest.is_empty() => None,
                    None => Some(rest.to_string()),
                }
            })
            .collect();
        names.into_iter().collect()
    }))
}

pub(crate) fn clock_now() -> u64 {
    with(|h| h.now)
}

/// Deterministic (xorshift64*) bytes: fine for tests, never for secrets, which is why
/// this exists only in native builds.
pub(crate) fn random_bytes(len: u32) -> Vec<u8> {
    with(|h| {
        (0..len.min(65_536))
            .map(|_| {
                h.rng ^= h.rng >> 12;
                h.rng ^= h.rng << 25;
                h.rng ^= h.rng >> 27;
                (h.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect()
    })
}

pub(crate) fn log_message(level: Level, message: &str) {
    with(|h| h.logs.push((level, message.to_string())));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_one_level_with_folders() {
        reset();
        for k in ["a/b", "a/c/d", "a/c/e", "ab", "b"] {
            storage_put(k, b"x").unwrap();
        }
        assert_eq!(storage_list("a/").unwrap(), vec!["b", "c/"]);
        assert_eq!(storage_list("").unwrap(), vec!["a/", "ab", "b"]);
        assert!(storage_list("a/x/").unwrap().is_empty());
        assert!(storage_list("a").is_err());
        assert!(storage_list("../").is_err());
    }

    #[test]
    fn keys_follow_the_host_rules() {
        reset();
        for bad in ["", "/a", "a/../b", "./a", "a/.", &"k".repeat(4097)] {
            assert!(storage_put(bad, b"").is_err(), "{bad}");
        }
        assert!(storage_put("a/.b/..c", b"").is_ok());
    }
}
