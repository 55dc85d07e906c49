//! Per-call resource limits: how much memory and time one engine call may use.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// Limits applied to every call of an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory an instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock time one call may take, host imports included.
    pub timeout: Duration,
    /// Largest response (data plus warnings) an engine may return, in bytes.
    pub max_response_bytes: usize,
    /// Most bytes one mount of the engine may keep in storage (keys and values as
    /// stored, encryption included); `u64::MAX` = unlimited (built-ins).
    pub storage_quota: u64,
}

/// Storage quota of a mount whose plugin was registered without one (and of dev
/// plugins from the plugin directory): enough for any real engine's state, small enough
/// that a runaway plugin cannot fill the disk.
pub const DEFAULT_STORAGE_QUOTA: u64 = 1 << 30;

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 128 * 1024 * 1024,
            timeout: Duration::from_secs(30),
            max_response_bytes: 16 * 1024 * 1024,
            storage_quota: DEFAULT_STORAGE_QUOTA,
        }
    }
}

impl Limits {
    /// Longest per-call deadline a plugin may be registered with. Beyond an hour a call
    /// is not a request any client waits for, and deadline arithmetic stays far from
    /// overflow.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

    /// The largest per-instance memory the runtime can actually give an engine when the
    /// server default is `server_default`: the instance pool reserves that much per
    /// memory and no more, so a limit above it could never be reached.
    pub fn memory_ceiling(server_default: usize) -> usize {
        super::POOL_MAX_MEMORY.max(server_default)
    }
}

/// The store's resource limiter. Remembers whether it refused a memory grow, so a trap
/// that follows (guests abort when allocation fails) is reported as what it really was.
///
/// The limit applies to each memory's absolute size, so an instance reused from the
/// warm pool (which already has memory) is held to the same limit as a fresh one.
pub(crate) struct MemoryGuard {
    pub(crate) limit: usize,
    pub(crate) refused: bool,
    /// Bytes of linear memory the instance holds, all memories together (creation is
    /// reported as growth from 0). Counts permitted growths, so it may overstate after
    /// a growth that failed for another reason; it decides whether an instance is kept
    /// warm.
    pub(crate) total: usize,
}

impl MemoryGuard {
    /// A guard for a new store.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            refused: false,
            total: 0,
        }
    }
}

impl ResourceLimiter for MemoryGuard {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.refused = true;
            return Ok(false);
        }
        self.total = self.total.saturating_add(desired.saturating_sub(current));
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a million is far beyond any real engine.
        Ok(desired <= 1_000_000)
    }
}
