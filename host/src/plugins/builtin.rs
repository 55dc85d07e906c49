//! The engines compiled from `engines/` by `build.rs` and embedded in the binary.

use std::collections::BTreeMap;

use crate::runtime::Capability;

/// A built-in engine: its component and what it is granted.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// The component bytes.
    pub wasm: &'static [u8],
    /// Capabilities beyond the basic imports.
    pub capabilities: &'static [Capability],
}

/// The kv engine component.
static KV: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kv.wasm"));

/// The AWS engine component.
static AWS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/aws.wasm"));

/// Built-in engines by name.
pub fn all() -> BTreeMap<&'static str, Builtin> {
    BTreeMap::from([
        (
            "kv",
            Builtin {
                wasm: KV,
                capabilities: &[],
            },
        ),
        (
            "aws",
            Builtin {
                wasm: AWS,
                capabilities: &[Capability::Aws],
            },
        ),
    ])
}

/// The component bytes of a built-in engine (for benchmarks and tools).
pub fn component(name: &str) -> Option<&'static [u8]> {
    all().get(name).map(|b| b.wasm)
}

/// The name of the built-in engine whose component has digest `sha256`, if any (a
/// plugin registered under a built-in's name with other bytes is not one).
pub fn name_by_digest(sha256: &str) -> Option<&'static str> {
    use std::sync::OnceLock;
    static DIGESTS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    DIGESTS
        .get_or_init(|| {
            all()
                .into_iter()
                .map(|(n, b)| (n, crate::runtime::sha256_hex(b.wasm)))
                .collect()
        })
        .iter()
        .find(|(_, d)| d == sha256)
        .map(|(n, _)| *n)
}
