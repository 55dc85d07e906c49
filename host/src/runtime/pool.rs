//! Warm instances: the instance strategy for engines whose fresh instantiation is
//! expensive (components built from Python or JavaScript carry a whole interpreter and
//! its initialised heap, and cost milliseconds per fresh instance; a Rust engine costs
//! tens of microseconds).
//!
//! # Strategy
//!
//! [`Runtime::load`](super::Runtime::load) times a few fresh `instantiate + info()`
//! rounds of every engine. An engine whose best round costs at least
//! [`POOL_THRESHOLD`] is [`InstanceStrategy::Pooled`]; anything cheaper stays
//! [`InstanceStrategy::Fresh`] (one instance per call, the strongest isolation). The
//! engines built into the binary (kv, aws) are pooled regardless ([`is_trusted`]): a
//! fresh Rust instance is cheap in absolute terms but still ~5x the cost of the kv
//! read it serves, and their code is audited with the host's. The
//! `COFFER_INSTANCE_POOL` environment variable overrides the choice host-wide:
//! `off` (every engine fresh), `always` (every engine pooled: tests) or `auto` (the
//! default, measured).
//!
//! # Semantics of a pooled engine
//!
//! * **Per mount.** Idle instances are kept per [`PoolKey`]: the mount's storage
//!   prefix (unique per mount, `logical/<uuid>/`) and mount path, inside the
//!   [`LoadedEngine`](super::LoadedEngine) (so per component digest, and a reloaded
//!   plugin starts with an empty pool). An instance never serves another mount: a
//!   guest may keep global state in its linear memory (caches, a Python module dict),
//!   and sharing it across mounts would leak one tenant's data to another.
//! * **Only after a clean call.** An instance is parked again only if the call
//!   returned normally: no trap, no deadline (or AWS wait) expiry, no refused memory
//!   growth, no host error, no cancellation (a dropped call drops its instance), no
//!   host resource handle left open, and its memories total at most
//!   [`MAX_PARKED_MEMORY`]. Anything else drops the instance; the next call
//!   instantiates a fresh one.
//! * **Fresh per-call state.** Every call resets the store's data: storage view, mount
//!   path, log budget, resource table, deadline (and the epoch deadline), memory-limit
//!   refusal flag. The memory limiter checks absolute sizes, so memory an instance
//!   already has counts against the same per-call limit.
//! * **Bounded.** At most [`MAX_IDLE_PER_KEY`] idle instances per mount and
//!   [`MAX_IDLE_TOTAL`] in the whole host (the pooling allocator reserves room for
//!   them on top of the concurrency limit); an instance idle for [`IDLE_TTL`] is
//!   dropped the next time its engine's pool is used (pools look for expired
//!   instances at most once a second).
//!
//! Within one mount, guest globals may or may not survive from one call to the next;
//! `wit/engine.wit` tells authors not to rely on either.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wasmtime::Store;

use super::CallState;
use super::bindings::EngineWorld;

/// Whether the component is one of the engines built into this binary. Their code is
/// ours, so reusing an instance within one mount risks nothing a fresh one would
/// prevent, and a warm kv read costs ~22 µs against ~130 µs fresh: built-ins are pooled
/// under `auto` whatever their measured cost (docs/benchmarks.md, "Instance strategy").
pub fn is_trusted(sha256: &str) -> bool {
    crate::plugins::builtin_by_digest(sha256).is_some()
}

/// Fresh-instance cost (instantiate + `info()`, best of a few) from which an engine is
/// pooled. Rust engines measure ~50–150 µs; Python and JavaScript engines several ms.
pub const POOL_THRESHOLD: Duration = Duration::from_micros(400);
/// Idle instances kept per mount.
pub const MAX_IDLE_PER_KEY: usize = 4;
/// Idle instances kept in the whole host.
pub const MAX_IDLE_TOTAL: usize = 32;
/// An instance idle longer than this is dropped.
pub const IDLE_TTL: Duration = Duration::from_secs(60);
/// An instance whose memories total more than this is not parked.
pub const MAX_PARKED_MEMORY: usize = 64 * 1024 * 1024;
/// Fresh rounds timed at load to choose the strategy.
pub(crate) const MEASURE_ROUNDS: usize = 3;
/// Time the timing rounds may take together (they stop early past it), and the cost of
/// the first `info()` from which an engine is pooled without timing more rounds.
pub(crate) const MEASURE_BUDGET: Duration = Duration::from_millis(250);

/// How a loaded engine's calls get an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceStrategy {
    /// Every call instantiates a new instance and drops it afterwards.
    Fresh,
    /// Calls reuse warm instances of the same mount (see the module docs).
    Pooled,
}

/// The host-wide override of the measured choice (`COFFER_INSTANCE_POOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    /// Measure each engine at load (the default).
    Auto,
    /// Never pool.
    Off,
    /// Pool every engine.
    Always,
}

impl PoolMode {
    /// The environment variable that sets the mode.
    pub const ENV: &'static str = "COFFER_INSTANCE_POOL";

    /// Reads [`PoolMode::ENV`]; unset, empty or unknown values mean [`PoolMode::Auto`]
    /// (an unknown value is logged).
    pub fn from_env() -> Self {
        match std::env::var(Self::ENV) {
            Err(_) => PoolMode::Auto,
            Ok(v) => Self::parse(&v).unwrap_or_else(|| {
                tracing::warn!(value = %v, "unknown {}; using auto", Self::ENV);
                PoolMode::Auto
            }),
        }
    }

    /// Parses `auto`, `off` or `always` (case-insensitive; empty is `auto`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Some(PoolMode::Auto),
            "off" | "never" | "fresh" => Some(PoolMode::Off),
            "always" | "on" => Some(PoolMode::Always),
            _ => None,
        }
    }

    /// The strategy for an engine whose fresh instance costs `fresh_cost`.
    pub fn choose(self, fresh_cost: Duration) -> InstanceStrategy {
        match self {
            PoolMode::Off => InstanceStrategy::Fresh,
            PoolMode::Always => InstanceStrategy::Pooled,
            PoolMode::Auto if fresh_cost >= POOL_THRESHOLD => InstanceStrategy::Pooled,
            PoolMode::Auto => InstanceStrategy::Fresh,
        }
    }
}

/// Which idle instances a call may use: one mount's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    storage_prefix: Arc<str>,
    mount_path: Arc<str>,
}

impl PoolKey {
    /// The key of a call context.
    pub(crate) fn of(ctx: &super::CallContext) -> Self {
        Self {
            storage_prefix: ctx.storage.shared_prefix(),
            mount_path: ctx.mount_path.clone(),
        }
    }
}

/// A host-wide count of idle instances; a [`IdleTicket`] holds one unit of it.
#[derive(Debug, Default)]
pub(crate) struct IdleBudget {
    idle: AtomicUsize,
}

impl IdleBudget {
    /// Takes one unit if fewer than [`MAX_IDLE_TOTAL`] are taken.
    fn try_take(self: &Arc<Self>) -> Option<IdleTicket> {
        self.idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_IDLE_TOTAL).then_some(n + 1)
            })
            .ok()
            .map(|_| IdleTicket(self.clone()))
    }

    /// Idle instances in the host.
    pub(crate) fn count(&self) -> usize {
        self.idle.load(Ordering::Acquire)
    }
}

/// One unit of the [`IdleBudget`], given back when the idle instance leaves the pool.
#[derive(Debug)]
struct IdleTicket(Arc<IdleBudget>);

impl Drop for IdleTicket {
    fn drop(&mut self) {
        self.0.idle.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An instantiated engine with its store, ready for another call of the same mount.
pub(crate) struct Warm {
    pub(crate) store: Store<CallState>,
    pub(crate) instance: EngineWorld,
}

struct Parked {
    warm: Warm,
    since: Instant,
    _ticket: IdleTicket,
}

/// How often, at most, a pool looks for expired instances across all its mounts.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Idle instances per mount, and when they were last swept for expiry.
#[derive(Default)]
struct Idle {
    by_key: HashMap<PoolKey, Vec<Parked>>,
    swept: Option<Instant>,
}

/// One engine's idle instances, per mount, plus counters for tests and metrics.
#[derive(Default)]
pub(crate) struct WarmPool {
    idle: Mutex<Idle>,
    instantiations: AtomicU64,
    reuses: AtomicU64,
}

impl WarmPool {
    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        // Nothing panics while holding the lock; if something ever did, the map is
        // still consistent (every operation is a single insert or remove).
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the most recently parked live instance of `key`, dropping expired ones.
    pub(crate) fn take(&self, key: &PoolKey) -> Option<Warm> {
        let mut expired = Vec::new();
        let warm = {
            let mut idle = self.lock();
            sweep(&mut idle, &mut expired);
            // An emptied list stays until the next sweep finds it still empty: a mount
            // served by one instance would otherwise remove and re-insert its entry on
            // every call.
            idle.by_key.get_mut(key)?.pop().map(|p| p.warm)
        };
        // Instances are dropped (their memory returned to the allocator) outside the lock.
        drop(expired);
        if warm.is_some() {
            self.reuses.fetch_add(1, Ordering::Relaxed);
        }
        warm
    }

    /// Parks an instance after a clean call, unless `key` or the host is at its cap
    /// (then it is dropped).
    pub(crate) fn park(&self, key: PoolKey, warm: Warm, budget: &Arc<IdleBudget>) {
        let mut expired = Vec::new();
        let mut refused = None;
        {
            let mut idle = self.lock();
            sweep(&mut idle, &mut expired);
            let list = idle.by_key.entry(key).or_default();
            match (list.len() < MAX_IDLE_PER_KEY)
                .then(|| budget.try_take())
                .flatten()
            {
                Some(ticket) => list.push(Parked {
                    warm,
                    since: Instant::now(),
                    _ticket: ticket,
                }),
                None => refused = Some(warm),
            }
        }
        drop(expired);
        drop(refused);
    }

    /// Counts a fresh instantiation.
    pub(crate) fn count_instantiation(&self) {
        self.instantiations.fetch_add(1, Ordering::Relaxed);
    }

    /// Idle instances kept for `key`.
    pub(crate) fn idle_for(&self, key: &PoolKey) -> usize {
        self.lock().by_key.get(key).map_or(0, Vec::len)
    }

    /// `(fresh instantiations, reuses)` of pooled calls so far.
    pub(crate) fn stats(&self) -> (u64, u64) {
        (
            self.instantiations.load(Ordering::Relaxed),
            self.reuses.load(Ordering::Relaxed),
        )
    }

    /// `(idle instances, bytes of linear memory they hold)` over all mounts.
    pub(crate) fn idle_totals(&self) -> (usize, usize) {
        let idle = self.lock();
        idle.by_key
            .values()
            .flatten()
            .fold((0, 0), |(n, bytes), p| {
                (n + 1, bytes + p.warm.store.data().memory.total)
            })
    }
}

/// Moves instances idle for longer than [`IDLE_TTL`] into `expired`, looking at most
/// once per [`SWEEP_EVERY`]: walking every mount's list on every call cost a few
/// allocations per request. An idle instance may so outlive [`IDLE_TTL`] by up to
/// [`SWEEP_EVERY`].
fn sweep(idle: &mut Idle, expired: &mut Vec<Parked>) {
    let now = Instant::now();
    if idle
        .swept
        .is_some_and(|at| now.duration_since(at) < SWEEP_EVERY)
    {
        return;
    }
    idle.swept = Some(now);
    idle.by_key.retain(|_, list| {
        let (old, live): (Vec<Parked>, Vec<Parked>) = std::mem::take(list)
            .into_iter()
            .partition(|p| p.since.elapsed() >= IDLE_TTL);
        expired.extend(old);
        *list = live;
        !list.is_empty()
    });
}

/// Whether a store that just finished a call without error may serve another call.
pub(crate) fn reusable(state: &CallState) -> bool {
    !state.deadline_hit
        && !state.memory.refused
        && !state.memory.budget_refused
        && state.memory.total <= MAX_PARKED_MEMORY
        && state.table.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_parses_and_chooses() {
        assert_eq!(PoolMode::parse("Always"), Some(PoolMode::Always));
        assert_eq!(PoolMode::parse(""), Some(PoolMode::Auto));
        assert_eq!(PoolMode::parse("off"), Some(PoolMode::Off));
        assert_eq!(PoolMode::parse("sometimes"), None);
        let cheap = Duration::from_micros(60);
        let dear = Duration::from_millis(3);
        assert_eq!(PoolMode::Auto.choose(cheap), InstanceStrategy::Fresh);
        assert_eq!(PoolMode::Auto.choose(dear), InstanceStrategy::Pooled);
        assert_eq!(PoolMode::Off.choose(dear), InstanceStrategy::Fresh);
        assert_eq!(PoolMode::Always.choose(cheap), InstanceStrategy::Pooled);
    }

    #[test]
    fn idle_budget_is_capped_and_returned() {
        let budget = Arc::new(IdleBudget::default());
        let tickets: Vec<_> = (0..MAX_IDLE_TOTAL)
            .filter_map(|_| budget.try_take())
            .collect();
        assert_eq!(tickets.len(), MAX_IDLE_TOTAL);
        assert!(budget.try_take().is_none());
        drop(tickets);
        assert_eq!(budget.count(), 0);
        assert!(budget.try_take().is_some());
    }
}
