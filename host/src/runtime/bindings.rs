//! Host-side bindings generated from the WIT package in `wit/`.
//!
//! Imports and exports are async: storage and (later) AWS calls do I/O, and async calls
//! let a long-running guest yield to the executor at every epoch tick.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "secrets-engine",
    imports: { default: async },
    exports: { default: async },
});

pub use coffer::engine::types::{
    Caller, EngineInfo, Error as EngineError, Lease, LeaseGrant, LeaseTerms, Mount, Operation,
    Request, Response,
};
