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

/// Whether an engine loaded as `loaded_name` with component `sha256` is the built-in
/// engine `name` (a plugin registered under a built-in's name is not).
pub fn is_builtin(name: &str, loaded_name: &str, sha256: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static DIGESTS: OnceLock<HashMap<&'static str, String>> = OnceLock::new();
    let digests = DIGESTS.get_or_init(|| {
        all()
            .into_iter()
            .map(|(n, b)| (n, crate::runtime::sha256_hex(b.wasm)))
            .collect()
    });
    name == loaded_name && digests.get(name).is_some_and(|d| d == sha256)
}
