//! The one place that talks to the host's imports.
//!
//! In a wasm build every function here is a direct call of a WIT import, so the linker
//! keeps only the imports an engine really calls and the component imports nothing
//! else. On other targets (native unit tests) the same functions run against an
//! in-memory fake host, see [`crate::testing`].

/// Why a storage call failed, as the host reports it.
// The native fake only ever rejects keys; the other failures come from a real host.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StorageFailure {
    InvalidKey(String),
    TooLarge(u64),
    Backend(String),
}

/// Importance of a log message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something looks wrong but the request carries on.
    Warn,
    /// Something failed.
    Error,
}

#[cfg(target_arch = "wasm32")]
mod wasm;
#[cfg(target_arch = "wasm32")]
pub(crate) use wasm::*;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod fake;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use fake::*;
