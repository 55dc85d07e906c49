//! Controls for the in-memory fake host that native (non-wasm) builds run against.
//!
//! The fake is per thread, so tests running in parallel do not share storage. Call
//! [`reset`] at the start of each test.
//!
//! ```
//! use coffer_sdk::{clock, storage, testing};
//!
//! testing::reset();
//! storage::put("a", b"1").unwrap();
//! assert_eq!(testing::storage_keys(), vec!["a".to_string()]);
//! let before = clock::now();
//! testing::advance_secs(60);
//! assert_eq!(clock::now().as_secs() - before.as_secs(), 60);
//! ```

use serde_json::{Map, Value};

use crate::engine::{Engine, dispatch};
use crate::error::Result;
use crate::host::{Level, fake};
use crate::request::Request;
use crate::response::Response;
use crate::time::Timestamp;

/// Empties storage and the log and sets the clock back to its fixed start
/// (2023-11-14T22:13:20Z).
pub fn reset() {
    fake::reset();
}

/// Sets the clock.
pub fn set_now(now: Timestamp) {
    fake::with(|h| h.now = now.as_nanos());
}

/// Moves the clock forward by `secs` seconds.
pub fn advance_secs(secs: u64) {
    fake::with(|h| {
        h.now = Timestamp::from_nanos(h.now)
            .add_secs(i64::try_from(secs).unwrap_or(i64::MAX))
            .as_nanos()
    });
}

/// Every stored key, sorted.
pub fn storage_keys() -> Vec<String> {
    fake::with(|h| h.entries.keys().cloned().collect())
}

/// The raw value stored at `key`.
pub fn storage_value(key: &str) -> Option<Vec<u8>> {
    fake::with(|h| h.entries.get(key).cloned())
}

/// The messages logged so far.
pub fn logs() -> Vec<(Level, String)> {
    fake::with(|h| h.logs.clone())
}

/// Runs `req` through `E`'s router, as the exported request functions do.
pub fn call<E: Engine>(req: Request) -> Result<Response> {
    dispatch::<E>(req)
}

/// The object inside `value`; an empty object for anything else. A shorthand for
/// building request data with `serde_json::json!` in tests.
pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
