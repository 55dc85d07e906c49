//! The mount's private key/value storage.
//!
//! Keys are `/`-separated paths; the host scopes them to the mount and encrypts values.
//! One request's [`put`]s and [`delete`]s are committed together, atomically, when the
//! request returns (also when it returns an error), and are dropped if it traps or
//! times out; [`get`] and [`list`] see the request's own writes meanwhile. For engines
//! granted `aws`, the pending writes are also committed before each AWS call (so a
//! write-ahead record is durable before the effect it guards), and the writes after the
//! last AWS call of a request that returns a lease are committed together with the
//! lease. See `wit/imports.wit` (also for the per-call and per-mount size limits).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::host::{self, StorageFailure};

impl From<StorageFailure> for Error {
    fn from(f: StorageFailure) -> Self {
        match f {
            // Keys usually come from the request path, so a rejected key is the
            // client's mistake rather than the engine's.
            // The host's message already names the key and what is wrong with it.
            StorageFailure::InvalidKey(m) => Error::invalid(m),
            StorageFailure::TooLarge(n) => {
                Error::invalid(format!("value is too large to store ({n} bytes)"))
            }
            StorageFailure::Backend(m) => Error::internal(format!("storage failed: {m}")),
        }
    }
}

/// Reads the value at `key`; `None` when nothing is stored there.
pub fn get(key: &str) -> Result<Option<Vec<u8>>> {
    Ok(host::storage_get(key)?)
}

/// Stores `value` at `key`, replacing what was there.
pub fn put(key: &str, value: &[u8]) -> Result<()> {
    Ok(host::storage_put(key, value)?)
}

/// Removes `key`; removing a missing key succeeds.
pub fn delete(key: &str) -> Result<()> {
    Ok(host::storage_delete(key)?)
}

/// Lists one level below `prefix` (empty, or ending with `/`): entry names, and deeper
/// folders as `name/`, sorted and without duplicates.
pub fn list(prefix: &str) -> Result<Vec<String>> {
    Ok(host::storage_list(prefix)?)
}

/// Reads and decodes the JSON value at `key`; `None` when nothing is stored there.
///
/// A value that does not decode is reported as a `500` naming the key (not the value).
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>> {
    get(key)?.map(|bytes| decode(key, &bytes)).transpose()
}

/// Decodes the JSON `bytes` read from `key`, like [`get_json`], for an engine that has
/// already read them: one that looks at the bytes first (a record kept in more than
/// one format), or that borrows from them (`&str` or `&serde_json::value::RawValue`
/// fields).
///
/// A value that does not decode is reported as a `500` naming the key (not the value).
pub fn decode<'a, T: Deserialize<'a>>(key: &str, bytes: &'a [u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::internal(format!("stored entry {key:?} is corrupt: {e}")))
}

/// Encodes `value` as JSON and stores it at `key`.
pub fn put_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value)?;
    put(key, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn json_round_trip_and_errors() {
        testing::reset();
        put_json("a/b", &vec![1, 2]).unwrap();
        assert_eq!(get_json::<Vec<u8>>("a/b").unwrap(), Some(vec![1, 2]));
        assert_eq!(get_json::<Vec<u8>>("a/c").unwrap(), None);
        put("bad", b"{").unwrap();
        assert_eq!(get_json::<Vec<u8>>("bad").unwrap_err().status(), 500);
        assert_eq!(put("/x", b"").unwrap_err().status(), 400);
        delete("a/b").unwrap();
        delete("a/b").unwrap();
        assert_eq!(list("").unwrap(), vec!["bad"]);
    }
}
