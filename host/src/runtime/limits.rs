//! Per-call resource limits (how much memory and time one engine call may use, how many
//! calls of one mount may run at once) and the host-wide engine memory budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wasmtime::ResourceLimiter;

/// Calls of one mount that may hold instances at once, unless its plugin says otherwise:
/// an eighth of the host's instance slots, so one saturated (or hostile) mount leaves
/// the rest of the host to every other mount.
pub const DEFAULT_MAX_CONCURRENT_CALLS: usize = super::MAX_CONCURRENT_INSTANCES as usize / 8;

/// Limits applied to every call of an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory an instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock time one call may take, host imports included. A call also waits at
    /// most this long for its turn when its mount (or the host) is at its concurrency
    /// limit.
    pub timeout: Duration,
    /// Largest response (data plus warnings) an engine may return, in bytes.
    pub max_response_bytes: usize,
    /// Most bytes one mount of the engine may keep in storage (keys and values as
    /// stored, encryption included); `u64::MAX` = unlimited (built-ins).
    pub storage_quota: u64,
    /// Calls of one mount of this engine that may run at once; further calls queue
    /// behind the mount's own (see [`super::Runtime::call`]).
    pub max_concurrent_calls: usize,
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
            max_concurrent_calls: DEFAULT_MAX_CONCURRENT_CALLS,
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

/// The host-wide budget of engine linear memory: every instance's memories, running or
/// parked warm, count against it. Growth past it is refused (the call fails with
/// [`super::EngineFault::MemoryBudget`]) rather than letting many concurrent calls, each
/// within its own limit, together push the machine into swap or the OOM killer.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    used: AtomicUsize,
}

impl MemoryBudget {
    /// A budget of `limit` bytes (`usize::MAX`: unbounded).
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            used: AtomicUsize::new(0),
        }
    }

    /// The budget in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes reserved by live instances now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Reserves `bytes` if they fit.
    fn try_reserve(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&n| n <= self.limit)
            })
            .is_ok()
    }

    fn release(&self, bytes: usize) {
        // Never below zero: a guard only releases what it reserved.
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(bytes))
            });
    }
}

/// The store's resource limiter. Remembers whether it refused a memory grow, so a trap
/// that follows (guests abort when allocation fails) is reported as what it really was.
///
/// The limit applies to each memory's absolute size, so an instance reused from the
/// warm pool (which already has memory) is held to the same limit as a fresh one. The
/// bytes it lets an instance grow by are reserved in the host's [`MemoryBudget`] and
/// given back when the guard (that is, the store) is dropped.
pub(crate) struct MemoryGuard {
    pub(crate) limit: usize,
    /// The per-call limit refused a growth.
    pub(crate) refused: bool,
    /// The host-wide budget refused a growth.
    pub(crate) budget_refused: bool,
    /// Bytes of linear memory the instance holds, all memories together (creation is
    /// reported as growth from 0). Counts permitted growths, so it may overstate after
    /// a growth that failed for another reason; it decides whether an instance is kept
    /// warm, and is what the guard holds of the budget.
    pub(crate) total: usize,
    budget: Arc<MemoryBudget>,
}

impl MemoryGuard {
    /// A guard for a new store.
    pub(crate) fn new(limit: usize, budget: Arc<MemoryBudget>) -> Self {
        Self {
            limit,
            refused: false,
            budget_refused: false,
            total: 0,
            budget,
        }
    }

    /// The host-wide budget this guard reserves from, in bytes.
    pub(crate) fn budget_limit(&self) -> usize {
        self.budget.limit()
    }

    /// Readies the guard of a warm instance for another call: new limit, no refusal
    /// recorded; the memory it holds (and its reservation) carries over.
    pub(crate) fn renew(&mut self, limit: usize) {
        self.limit = limit;
        self.refused = false;
        self.budget_refused = false;
    }
}

impl Drop for MemoryGuard {
    fn drop(&mut self) {
        self.budget.release(self.total);
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
        let growth = desired.saturating_sub(current);
        if !self.budget.try_reserve(growth) {
            self.budget_refused = true;
            return Ok(false);
        }
        self.total = self.total.saturating_add(growth);
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

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    #[test]
    fn growth_past_the_budget_is_refused_and_given_back_on_drop() {
        let budget = Arc::new(MemoryBudget::new(10 * MIB));
        let mut a = MemoryGuard::new(64 * MIB, budget.clone());
        let mut b = MemoryGuard::new(64 * MIB, budget.clone());
        assert!(matches!(a.memory_growing(0, 6 * MIB, None), Ok(true)));
        // Within b's own limit, but not within what the host has left.
        assert!(matches!(b.memory_growing(0, 6 * MIB, None), Ok(false)));
        assert!(b.budget_refused && !b.refused);
        assert!(matches!(b.memory_growing(0, 4 * MIB, None), Ok(true)));
        assert_eq!(budget.used(), 10 * MIB);
        drop(a);
        assert_eq!(budget.used(), 4 * MIB);
        assert!(matches!(
            b.memory_growing(4 * MIB, 10 * MIB, None),
            Ok(true)
        ));
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn the_per_call_limit_is_told_apart_from_the_budget() {
        let budget = Arc::new(MemoryBudget::new(usize::MAX));
        let mut g = MemoryGuard::new(MIB, budget.clone());
        assert!(matches!(g.memory_growing(0, 2 * MIB, None), Ok(false)));
        assert!(g.refused && !g.budget_refused);
        g.renew(4 * MIB);
        assert!(!g.refused);
        assert!(matches!(g.memory_growing(0, 2 * MIB, None), Ok(true)));
        assert_eq!(budget.used(), 2 * MIB);
    }
}
