//! The engines compiled from `engines/` by `build.rs` and embedded in the binary.

use std::collections::BTreeMap;

/// The kv engine component.
static KV: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kv.wasm"));

/// Built-in engines by name.
pub fn all() -> BTreeMap<&'static str, &'static [u8]> {
    BTreeMap::from([("kv", KV)])
}
