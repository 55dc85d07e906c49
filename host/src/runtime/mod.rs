//! The sandbox: compiles engine components, and runs each engine call in a limited
//! instance.
//!
//! One process-wide wasmtime [`Engine`] with the pooling allocator and epoch
//! interruption. A loaded engine is held as an `InstancePre` (type-checked and linked
//! once). How a call gets its instance is the engine's [`InstanceStrategy`], chosen
//! at load by measuring what a fresh instance costs:
//!
//! * [`InstanceStrategy::Fresh`] (cheap engines, e.g. Rust ones): each call
//!   instantiates into a new `Store` with its own memory cap and deadline and drops it
//!   afterwards, so no memory, secret or trap outlives a request.
//! * [`InstanceStrategy::Pooled`] (engines whose instantiation costs milliseconds,
//!   e.g. Python or JavaScript ones): a call reuses a warm instance of the same mount,
//!   with all per-call state reset, and the instance is kept only if the call ended
//!   cleanly; never after a trap, and never across mounts. See [`pool`].

pub mod bindings;
mod cache;
#[cfg(test)]
mod fairness_tests;
mod fault;
pub mod imports;
mod limits;
pub mod pool;
#[cfg(test)]
mod tests;
mod write_set;

pub use cache::CodeCache;
pub use fault::{EngineFault, LoadError};
pub use imports::{Capability, Clock, OffsetClock, SystemClock};
pub use limits::{DEFAULT_MAX_CONCURRENT_CALLS, DEFAULT_STORAGE_QUOTA, Limits, MemoryBudget};
pub use pool::{InstanceStrategy, PoolMode};

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{
    CallHook, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap,
    UpdateDeadline,
};

use bindings::{EngineInfo, EngineWorld, EngineWorldPre};
use limits::MemoryGuard;
use pool::{IdleBudget, PoolKey, Warm, WarmPool};

use crate::storage::View;
use write_set::WriteSet;

/// How often the epoch advances; the granularity of deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Instances that may run at once. Further calls wait for a slot rather than fail.
pub const MAX_CONCURRENT_INSTANCES: u32 = 256;
/// Deadline of one `info()` call at load, whatever the engine's own call deadline:
/// describing itself is fixed work, and a load (or a start-up) must not wait on it.
pub const INFO_TIMEOUT: Duration = Duration::from_secs(2);
/// Instances the pooling allocator holds room for: running ones plus idle warm ones.
const MAX_LIVE_INSTANCES: u32 = MAX_CONCURRENT_INSTANCES + pool::MAX_IDLE_TOTAL as u32;
/// The pool's hard ceiling on one linear memory; per-call limits sit below it.
const POOL_MAX_MEMORY: usize = 1024 * 1024 * 1024;

/// Host-wide runtime settings.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Directory for compiled code; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Default per-call limits.
    pub limits: Limits,
    /// Host-wide engine memory budget in bytes; `None`: unbounded (tests). The server
    /// derives its default from the machine's memory.
    pub memory_budget: Option<usize>,
}

/// The process-wide sandbox.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    cache: CodeCache,
    slots: Semaphore,
    /// Per-mount admission: a call first takes a permit of its mount's gate, and only
    /// then queues for a host slot (see [`Runtime::call`]).
    gates: std::sync::Mutex<HashMap<GateKey, Arc<Gate>>>,
    /// Cores the guests share (see [`CpuShare`]).
    cores: usize,
    budget: Arc<MemoryBudget>,
    limits: Limits,
    clock: Arc<dyn Clock>,
    pool_mode: PoolMode,
    idle: Arc<IdleBudget>,
}

/// The future of one export call, borrowing the instance and its store.
pub type CallFuture<'a, R> = Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>;

/// Per-call store data: everything an engine instance can reach. A pooled instance's
/// store gets a whole new `CallState` for every call (only the memory accounting of the
/// instance carries over), so nothing of one call's context reaches the next.
pub struct CallState {
    pub(crate) storage: View,
    /// The call's pending writes (see `runtime/write_set.rs`).
    pub(crate) writes: WriteSet,
    /// Most bytes the mount may store (`u64::MAX`: unlimited).
    pub(crate) storage_quota: u64,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) engine_name: Arc<str>,
    pub(crate) mount_path: Arc<str>,
    pub(crate) log_budget: u32,
    /// Host resources (AWS clients) the instance holds handles to.
    pub(crate) table: wasmtime::component::ResourceTable,
    memory: MemoryGuard,
    deadline: Instant,
    deadline_hit: bool,
    /// The call's share of the cores among its mount's calls (`None`: `info()` at load).
    cpu: Option<CpuShare>,
}

/// A compiled, linked engine, ready to instantiate.
pub struct LoadedEngine {
    /// The plugin name it was loaded as (`kv`, or a plugin's name).
    pub name: Arc<str>,
    /// sha256 of the component bytes, hex.
    pub sha256: String,
    /// What the engine said about itself.
    pub info: EngineInfo,
    /// Limits for calls of this engine.
    pub limits: Limits,
    /// Whether the compiled code came from the on-disk cache.
    pub from_cache: bool,
    /// How calls get an instance.
    pub strategy: InstanceStrategy,
    /// What a fresh instance plus `info()` cost at load (best of a few rounds when the
    /// strategy was measured, else the single load-time `info()` call).
    pub fresh_cost: Duration,
    pre: EngineWorldPre<CallState>,
    pool: WarmPool,
}

/// Counters of a pooled engine's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Calls that found no idle instance and instantiated one.
    pub instantiations: u64,
    /// Calls served by an idle instance.
    pub reuses: u64,
    /// Idle instances kept now, over all mounts.
    pub idle: usize,
    /// Bytes of linear memory those idle instances hold.
    pub idle_memory_bytes: usize,
}

impl LoadedEngine {
    /// Counters of pooled calls (zero for a [`InstanceStrategy::Fresh`] engine).
    pub fn pool_stats(&self) -> PoolStats {
        let (instantiations, reuses) = self.pool.stats();
        let (idle, idle_memory_bytes) = self.pool.idle_totals();
        PoolStats {
            instantiations,
            reuses,
            idle,
            idle_memory_bytes,
        }
    }

    /// Idle instances kept for the mount of `ctx`.
    pub fn idle_instances(&self, ctx: &CallContext) -> usize {
        self.pool.idle_for(&PoolKey::of(ctx))
    }
}

impl std::fmt::Debug for LoadedEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedEngine")
            .field("name", &self.name)
            .field("sha256", &self.sha256)
            .field("strategy", &self.strategy)
            .finish_non_exhaustive()
    }
}

/// The context of one call: which storage view and mount it runs against.
pub struct CallContext {
    /// The engine's storage view.
    pub storage: View,
    /// The mount path, for logs.
    pub mount_path: Arc<str>,
}

/// sha256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Runtime {
    /// Builds the engine and linker and starts the epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Arc<Self>, wasmtime::Error> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// Like [`Runtime::new`] with an injected clock (tests).
    pub fn with_clock(
        config: RuntimeConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, wasmtime::Error> {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(MAX_LIVE_INSTANCES)
            .total_core_instances(MAX_LIVE_INSTANCES * 8)
            .total_memories(MAX_LIVE_INSTANCES * 2)
            .total_tables(MAX_LIVE_INSTANCES * 8)
            .total_stacks(MAX_LIVE_INSTANCES)
            .max_core_instances_per_component(64)
            .max_memories_per_component(8)
            .max_tables_per_component(64)
            .max_memory_size(POOL_MAX_MEMORY.max(config.limits.memory_bytes))
            .table_elements(100_000)
            .linear_memory_keep_resident(64 * 1024);
        let mut wt = Config::new();
        wt.epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wt)?;

        let mut linker = Linker::<CallState>::new(&engine);
        EngineWorld::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;

        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("coffer-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| wasmtime::format_err!("cannot start the epoch ticker: {e}"))?;

        let cache = CodeCache::new(&engine, config.cache_dir.clone());
        Ok(Arc::new(Self {
            engine,
            linker,
            cache,
            slots: Semaphore::new(MAX_CONCURRENT_INSTANCES as usize),
            gates: std::sync::Mutex::new(HashMap::new()),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            budget: Arc::new(MemoryBudget::new(
                config.memory_budget.unwrap_or(usize::MAX),
            )),
            limits: config.limits,
            clock,
            pool_mode: PoolMode::from_env(),
            idle: Arc::new(IdleBudget::default()),
        }))
    }

    /// Overrides the host-wide instance strategy mode (default: [`PoolMode::from_env`]).
    /// Affects engines loaded afterwards.
    pub fn with_pool_mode(self: Arc<Self>, mode: PoolMode) -> Arc<Self> {
        match Arc::try_unwrap(self) {
            Ok(mut rt) => {
                rt.pool_mode = mode;
                Arc::new(rt)
            }
            Err(shared) => {
                tracing::warn!("runtime already shared; instance pool mode unchanged");
                shared
            }
        }
    }

    /// Idle warm instances in the whole host.
    pub fn idle_instances(&self) -> usize {
        self.idle.count()
    }

    /// Default per-call limits.
    pub fn default_limits(&self) -> Limits {
        self.limits
    }

    /// The host-wide engine memory budget.
    pub fn memory_budget(&self) -> &MemoryBudget {
        &self.budget
    }

    /// Compiles (or loads from cache), checks imports, links and describes a component.
    /// `capabilities` are what the plugin was granted beyond the basic imports. The
    /// instance strategy is measured (see [`pool`]) unless the runtime's
    /// [`PoolMode`] fixes it.
    pub async fn load(
        self: &Arc<Self>,
        name: &str,
        wasm: &[u8],
        limits: Limits,
        capabilities: &[Capability],
    ) -> Result<Arc<LoadedEngine>, LoadError> {
        self.load_with_strategy(name, wasm, limits, capabilities, None)
            .await
    }

    /// Like [`Runtime::load`], with the instance strategy given (`Some`) rather than
    /// chosen by the runtime's [`PoolMode`] (`None`).
    pub async fn load_with_strategy(
        self: &Arc<Self>,
        name: &str,
        wasm: &[u8],
        limits: Limits,
        capabilities: &[Capability],
        strategy: Option<InstanceStrategy>,
    ) -> Result<Arc<LoadedEngine>, LoadError> {
        let sha256 = sha256_hex(wasm);
        let rt = self.clone();
        let (digest, bytes) = (sha256.clone(), wasm.to_vec());
        // Compiling can take seconds for large components; keep it off the async workers.
        let compiled =
            tokio::task::spawn_blocking(move || rt.cache.load(&rt.engine, &digest, &bytes))
                .await
                .map_err(|e| LoadError::Compile {
                    name: name.into(),
                    cause: e.to_string(),
                })?;
        let (component, from_cache) = compiled.map_err(|e| LoadError::Compile {
            name: name.into(),
            cause: format!("{e:#}"),
        })?;

        check_imports(
            &self.engine,
            name,
            &component,
            &imports::granted(capabilities),
        )?;
        let instance_pre =
            self.linker
                .instantiate_pre(&component)
                .map_err(|e| LoadError::Link {
                    name: name.into(),
                    cause: format!("{e:#}"),
                })?;
        let pre = EngineWorldPre::new(instance_pre).map_err(|e| LoadError::Link {
            name: name.into(),
            cause: format!("{e:#}"),
        })?;

        let mut loaded = LoadedEngine {
            name: Arc::from(name),
            sha256,
            info: EngineInfo {
                name: name.into(),
                version: String::new(),
                description: String::new(),
                paths: Vec::new(),
            },
            limits,
            from_cache,
            strategy: InstanceStrategy::Fresh,
            fresh_cost: Duration::ZERO,
            pre,
            pool: WarmPool::default(),
        };
        let started = Instant::now();
        let info = self
            .fresh_info(&loaded)
            .await
            .map_err(|e| LoadError::Info {
                name: name.into(),
                cause: e.to_string(),
            })?;
        loaded.fresh_cost = started.elapsed();
        loaded.info = info;
        loaded.strategy = match (strategy, self.pool_mode) {
            (Some(fixed), _) => fixed,
            (None, PoolMode::Auto) if pool::is_trusted(&loaded.sha256) => InstanceStrategy::Pooled,
            // So dear that no one-off cost explains it: pooled without more rounds.
            (None, PoolMode::Auto) if loaded.fresh_cost >= pool::MEASURE_BUDGET => {
                InstanceStrategy::Pooled
            }
            (None, PoolMode::Auto) => {
                // The first instance pays one-off costs (page faults, lazy init in the
                // allocator); the best of a few more rounds is the steady-state cost.
                // The rounds together get a small budget, so a slow `info()` cannot
                // multiply the time a load takes.
                let measuring = Instant::now();
                let mut best = Duration::MAX;
                for _ in 0..pool::MEASURE_ROUNDS {
                    let t = Instant::now();
                    if let Err(e) = self.fresh_info(&loaded).await {
                        return Err(LoadError::Info {
                            name: name.into(),
                            cause: e.to_string(),
                        });
                    }
                    best = best.min(t.elapsed());
                    if measuring.elapsed() >= pool::MEASURE_BUDGET {
                        break;
                    }
                }
                loaded.fresh_cost = best;
                PoolMode::Auto.choose(best)
            }
            (None, mode) => mode.choose(loaded.fresh_cost),
        };
        tracing::info!(
            engine = name,
            strategy = ?loaded.strategy,
            fresh_cost_us = loaded.fresh_cost.as_micros() as u64,
            "engine loaded"
        );
        Ok(Arc::new(loaded))
    }

    /// `info()` in a fresh instance with an empty storage view (it must not touch
    /// storage), whatever the engine's strategy, under [`INFO_TIMEOUT`]. It takes a host
    /// slot but no mount's turn: no mount is involved yet.
    async fn fresh_info(&self, loaded: &LoadedEngine) -> Result<EngineInfo, EngineFault> {
        let ctx = CallContext {
            storage: View::new(Arc::new(crate::storage::MemoryBackend::new()), "info/"),
            mount_path: Arc::from(""),
        };
        // `info()` must not touch storage; whatever it wrote is dropped.
        let timeout = INFO_TIMEOUT.min(loaded.limits.timeout);
        let admission = Admission {
            _host: self.host_slot(loaded, Instant::now(), timeout).await?,
            _mount: None,
        };
        self.call_fresh(loaded, ctx, timeout, admission, |e, store| {
            Box::pin(async move { e.coffer_engine_engine().call_info(store).await })
        })
        .await
        .map(|(info, _dropped)| info)
    }

    /// Runs one export call under the engine's limits, in a fresh or a warm instance
    /// according to its [`InstanceStrategy`].
    ///
    /// Admission is fair across mounts: a call first waits for a turn of its own mount
    /// (at most [`Limits::max_concurrent_calls`] calls of one mount hold instances at
    /// once) and only then queues for one of the host's slots. The excess callers of a
    /// saturated mount so queue behind that mount alone, never ahead of a quiet mount's
    /// call in the host's queue. A call that gets no turn within its deadline fails
    /// with [`EngineFault::MountBusy`] or [`EngineFault::HostBusy`].
    pub async fn call<R: Send>(
        &self,
        loaded: &LoadedEngine,
        ctx: CallContext,
        f: impl for<'a> FnOnce(&'a EngineWorld, &'a mut Store<CallState>) -> CallFuture<'a, R>,
    ) -> Result<R, EngineFault> {
        let (out, writes) = self.call_holding_writes(loaded, ctx, f).await?;
        writes.commit().await?;
        Ok(out)
    }

    /// Like [`Runtime::call`], but hands back the writes of a call that returned
    /// instead of committing them, for a caller that commits them in one batch with
    /// records of its own (a lease: see `router/engine.rs`). Dropping them applies
    /// nothing.
    pub async fn call_holding_writes<R: Send>(
        &self,
        loaded: &LoadedEngine,
        ctx: CallContext,
        f: impl for<'a> FnOnce(&'a EngineWorld, &'a mut Store<CallState>) -> CallFuture<'a, R>,
    ) -> Result<(R, PendingWrites), EngineFault> {
        let admission = self.admit(loaded, &ctx).await?;
        let timeout = loaded.limits.timeout;
        match loaded.strategy {
            InstanceStrategy::Fresh => self.call_fresh(loaded, ctx, timeout, admission, f).await,
            InstanceStrategy::Pooled => self.call_pooled(loaded, ctx, timeout, admission, f).await,
        }
    }

    /// Waits for a turn of the call's mount, then for a host slot, within the call's
    /// deadline.
    async fn admit(
        &self,
        loaded: &LoadedEngine,
        ctx: &CallContext,
    ) -> Result<Admission<'_>, EngineFault> {
        let started = Instant::now();
        let limit = loaded.limits.max_concurrent_calls.max(1);
        let key = GateKey {
            pool: PoolKey::of(ctx),
            limit,
        };
        let gate = {
            let mut gates = self.lock_gates();
            gates
                .entry(key.clone())
                .or_insert_with(|| {
                    Arc::new(Gate {
                        turns: Arc::new(Semaphore::new(limit)),
                        long_running: AtomicUsize::new(0),
                    })
                })
                .clone()
        };
        let deadline = tokio::time::Instant::from_std(started + loaded.limits.timeout);
        let permit =
            match tokio::time::timeout_at(deadline, gate.turns.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                Ok(Err(e)) => {
                    self.forget_gate(&key, &gate);
                    return Err(EngineFault::Instantiate {
                        engine: loaded.name.to_string(),
                        cause: e.to_string(),
                    });
                }
                Err(_) => {
                    self.forget_gate(&key, &gate);
                    return Err(EngineFault::MountBusy {
                        engine: loaded.name.to_string(),
                        mount: ctx.mount_path.to_string(),
                        limit,
                        waited: started.elapsed(),
                    });
                }
            };
        let mount = MountTurn {
            runtime: self,
            key,
            gate,
            permit: Some(permit),
        };
        let host = self
            .host_slot(loaded, started, loaded.limits.timeout)
            .await?;
        Ok(Admission {
            _host: host,
            _mount: Some(mount),
        })
    }

    /// The core share of a call admitted with `admission` (none for `info()` at load,
    /// which runs outside any mount).
    fn cpu_share(&self, admission: &Admission<'_>) -> Option<CpuShare> {
        admission
            ._mount
            .as_ref()
            .map(|turn| CpuShare::new(turn.gate.clone(), self.cores))
    }

    /// Waits for one of the host's instance slots until `started + timeout`.
    async fn host_slot(
        &self,
        loaded: &LoadedEngine,
        started: Instant,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, EngineFault> {
        let deadline = tokio::time::Instant::from_std(started + timeout);
        match tokio::time::timeout_at(deadline, self.slots.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(e)) => Err(EngineFault::Instantiate {
                engine: loaded.name.to_string(),
                cause: e.to_string(),
            }),
            Err(_) => Err(EngineFault::HostBusy {
                engine: loaded.name.to_string(),
                limit: MAX_CONCURRENT_INSTANCES as usize,
                waited: started.elapsed(),
            }),
        }
    }

    fn lock_gates(&self) -> std::sync::MutexGuard<'_, HashMap<GateKey, Arc<Gate>>> {
        // Every operation under the lock is a single insert, lookup or remove.
        self.gates.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops a mount's gate once nobody holds or waits for it, so the map only holds
    /// gates of mounts with calls in flight. Clones are only made under the lock, so
    /// two references (the map's and `gate`) mean there is no one else.
    fn forget_gate(&self, key: &GateKey, gate: &Arc<Gate>) {
        let mut gates = self.lock_gates();
        if Arc::strong_count(gate) == 2 {
            gates.remove(key);
        }
    }

    /// Calls of the mount of `ctx` holding a turn now.
    pub fn mount_calls(&self, ctx: &CallContext) -> usize {
        let pool = PoolKey::of(ctx);
        self.lock_gates()
            .iter()
            .filter(|(k, _)| k.pool == pool)
            .map(|(k, gate)| k.limit - gate.turns.available_permits().min(k.limit))
            .sum()
    }

    /// The store data for one call of `loaded` in `ctx`, with deadline `timeout`.
    fn call_state(
        &self,
        loaded: &LoadedEngine,
        ctx: CallContext,
        timeout: Duration,
        memory: MemoryGuard,
        cpu: Option<CpuShare>,
    ) -> CallState {
        CallState {
            storage: ctx.storage,
            writes: WriteSet::default(),
            storage_quota: loaded.limits.storage_quota,
            clock: self.clock.clone(),
            engine_name: loaded.name.clone(),
            mount_path: ctx.mount_path,
            log_budget: imports::log_budget(),
            table: imports::aws::resource_table(),
            memory,
            deadline: Instant::now() + timeout,
            deadline_hit: false,
            cpu,
        }
    }

    /// A new store for one call, with the memory limiter and the deadline armed.
    fn new_store(
        &self,
        loaded: &LoadedEngine,
        ctx: CallContext,
        timeout: Duration,
        cpu: Option<CpuShare>,
    ) -> Store<CallState> {
        let memory = MemoryGuard::new(loaded.limits.memory_bytes, self.budget.clone());
        let mut store = Store::new(
            &self.engine,
            self.call_state(loaded, ctx, timeout, memory, cpu),
        );
        store.limiter(|s| &mut s.memory);
        // Yield to the executor at every tick so a spinning guest never starves other
        // requests, and stop it once its wall-clock deadline has passed. The yield is
        // tokio's own: it puts the call behind every task already waiting and lets the
        // worker poll the I/O driver first. A plain wake-and-return-pending yield lands
        // in the worker's LIFO slot and runs again at once, and with a run queue full of
        // spinning guests the driver (so a new request on another mount) was only looked
        // at every few dozen polls.
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            if Instant::now() >= state.deadline {
                state.deadline_hit = true;
                return Ok(UpdateDeadline::Interrupt);
            }
            let wait = state
                .cpu
                .as_mut()
                .map_or(Duration::ZERO, |c| c.at_tick(Instant::now()));
            Ok(UpdateDeadline::YieldCustom(
                1,
                if wait.is_zero() {
                    Box::pin(tokio::task::yield_now())
                } else {
                    Box::pin(tokio::time::sleep(wait))
                },
            ))
        });
        store.call_hook(|mut ctx, hook| {
            if let Some(cpu) = ctx.data_mut().cpu.as_mut() {
                match hook {
                    CallHook::CallingWasm | CallHook::ReturningFromHost => {
                        cpu.enter(Instant::now())
                    }
                    CallHook::CallingHost | CallHook::ReturningFromWasm => {
                        cpu.leave(Instant::now())
                    }
                }
            }
            Ok(())
        });
        store.set_epoch_deadline(1);
        store
    }

    /// Gives a warm store a whole new per-call state (storage view, mount, log budget,
    /// resource table, deadline, memory flags) and re-arms the epoch deadline. Only the
    /// instance's memory size carries over, for the limiter's accounting.
    fn reset(
        &self,
        store: &mut Store<CallState>,
        loaded: &LoadedEngine,
        ctx: CallContext,
        timeout: Duration,
        cpu: Option<CpuShare>,
    ) {
        // The guard moves to the new state with the memory (and budget) it holds; the
        // empty one left behind holds nothing.
        let placeholder = MemoryGuard::new(0, self.budget.clone());
        let mut memory = std::mem::replace(&mut store.data_mut().memory, placeholder);
        memory.renew(loaded.limits.memory_bytes);
        *store.data_mut() = self.call_state(loaded, ctx, timeout, memory, cpu);
        store.set_epoch_deadline(1);
    }

    /// One call in a new instance, dropped afterwards.
    async fn call_fresh<R, F>(
        &self,
        loaded: &LoadedEngine,
        ctx: CallContext,
        timeout: Duration,
        admission: Admission<'_>,
        f: F,
    ) -> Result<(R, PendingWrites), EngineFault>
    where
        F: for<'a> FnOnce(&'a EngineWorld, &'a mut Store<CallState>) -> CallFuture<'a, R>,
    {
        // Faults name the deadline this call ran under (`info()`'s is shorter).
        let limits = Limits {
            timeout,
            ..loaded.limits
        };
        let mut store = self.new_store(loaded, ctx, timeout, self.cpu_share(&admission));
        let outcome = async {
            let instance = loaded.pre.instantiate_async(&mut store).await?;
            f(&instance, &mut store).await
        }
        .await;
        let out = outcome.map_err(|e| classify(&loaded.name, &limits, store.data(), e))?;
        let writes = store.data_mut().take_writes();
        // The instance's memory goes back to the allocator, and its slot and mount turn
        // to the next call, before the commit wait.
        drop(store);
        drop(admission);
        Ok((out, writes))
    }

    /// One call in a warm instance of the mount (or a new one), parked again only if
    /// the call ended cleanly. A cancelled call drops its instance with the future.
    async fn call_pooled<R, F>(
        &self,
        loaded: &LoadedEngine,
        ctx: CallContext,
        timeout: Duration,
        admission: Admission<'_>,
        f: F,
    ) -> Result<(R, PendingWrites), EngineFault>
    where
        F: for<'a> FnOnce(&'a EngineWorld, &'a mut Store<CallState>) -> CallFuture<'a, R>,
    {
        let limits = Limits {
            timeout,
            ..loaded.limits
        };
        let key = PoolKey::of(&ctx);
        let (mut store, instance) = match loaded.pool.take(&key) {
            Some(Warm {
                mut store,
                instance,
            }) => {
                self.reset(&mut store, loaded, ctx, timeout, self.cpu_share(&admission));
                (store, instance)
            }
            None => {
                loaded.pool.count_instantiation();
                let mut store = self.new_store(loaded, ctx, timeout, self.cpu_share(&admission));
                match loaded.pre.instantiate_async(&mut store).await {
                    Ok(instance) => (store, instance),
                    Err(e) => return Err(classify(&loaded.name, &limits, store.data(), e)),
                }
            }
        };
        match f(&instance, &mut store).await {
            Ok(out) => {
                // Parked before its writes are committed: the call is over, and an
                // instance held through a commit wait is one the next call would have
                // to instantiate afresh (with 64 writers, most of them).
                let writes = store.data_mut().take_writes();
                // A parked instance runs nothing: it no longer counts for its mount.
                store.data_mut().cpu = None;
                if pool::reusable(store.data()) {
                    loaded.pool.park(key, Warm { store, instance }, &self.idle);
                }
                drop(admission);
                Ok((out, writes))
            }
            // The instance (possibly mid-trap, its memory in any state) is dropped here.
            Err(e) => Err(classify(&loaded.name, &limits, store.data(), e)),
        }
    }
}

/// Which calls share a mount's turns: one mount (its [`PoolKey`]) under one limit (a
/// reload onto a plugin with another limit starts a new gate).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct GateKey {
    pool: PoolKey,
    limit: usize,
}

/// A mount's turns, and how many of its calls have run guest code for more than one
/// epoch tick (see [`CpuShare`]).
struct Gate {
    turns: Arc<Semaphore>,
    long_running: AtomicUsize,
}

/// A call's share of the cores, counted per mount. The executor runs its tasks round
/// robin, so with `k` spinning calls of one mount in its queue every other request waits
/// behind `k` epoch slices. A call that has run guest code for more than one tick in
/// all (time in host calls, such as storage or AWS requests, does not count: the call
/// hook tells guest time from host time) is long-running for its mount. While a mount
/// has more long-running calls than there are cores, each of them, at every tick, waits
/// out the time its mount's other calls take (`tick × (k − cores) / cores`) instead of
/// only yielding. The mount's calls together still keep every core busy when nothing
/// else wants them, and never hold more than about `cores` places in the executor's
/// queue, so another mount's request waits for a few slices, not for `k`. Short calls
/// (a kv read runs tens of µs of guest code) are never slowed.
pub(crate) struct CpuShare {
    gate: Arc<Gate>,
    cores: usize,
    /// Guest time before the current stretch.
    used: Duration,
    /// Start of the current stretch in guest code (`None`: in the host, or not started).
    since: Option<Instant>,
    counted: bool,
}

impl CpuShare {
    fn new(gate: Arc<Gate>, cores: usize) -> Self {
        Self {
            gate,
            cores,
            used: Duration::ZERO,
            since: None,
            counted: false,
        }
    }

    /// The call runs guest code from `now` on.
    fn enter(&mut self, now: Instant) {
        self.since = Some(now);
    }

    /// The call leaves guest code (for the host, or returning) at `now`.
    fn leave(&mut self, now: Instant) {
        if let Some(since) = self.since.take() {
            self.used += now.saturating_duration_since(since);
        }
    }

    /// At an epoch tick in guest code: how long the call waits before it runs on.
    fn at_tick(&mut self, now: Instant) -> Duration {
        let used = self.used
            + self
                .since
                .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
        if used >= EPOCH_TICK && !self.counted {
            self.counted = true;
            self.gate.long_running.fetch_add(1, Ordering::AcqRel);
        }
        let k = self.gate.long_running.load(Ordering::Acquire);
        let wait = if !self.counted || k <= self.cores {
            Duration::ZERO
        } else {
            let extra = u32::try_from(k - self.cores).unwrap_or(u32::MAX);
            let cores = u32::try_from(self.cores).unwrap_or(u32::MAX).max(1);
            EPOCH_TICK.saturating_mul(extra) / cores
        };
        // The wait is not guest time.
        self.used = used;
        self.since = Some(now + wait);
        wait
    }
}

impl Drop for CpuShare {
    fn drop(&mut self) {
        if self.counted {
            self.gate.long_running.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// A call's turn of its mount; given back (and the gate forgotten when idle) on drop.
struct MountTurn<'r> {
    runtime: &'r Runtime,
    key: GateKey,
    gate: Arc<Gate>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for MountTurn<'_> {
    fn drop(&mut self) {
        // The permit holds a reference to the gate; it goes first.
        drop(self.permit.take());
        self.runtime.forget_gate(&self.key, &self.gate);
    }
}

/// What a running call holds: a host slot and (except `info()` at load) its mount's turn.
struct Admission<'r> {
    _host: SemaphorePermit<'r>,
    _mount: Option<MountTurn<'r>>,
}

impl CallState {
    /// The writes the call buffered, leaving none behind.
    fn take_writes(&mut self) -> PendingWrites {
        PendingWrites {
            engine: self.engine_name.clone(),
            ops: self.writes.take(),
            storage: self.storage.clone(),
        }
    }
}

/// A finished call's buffered writes and the view they go to. Committed by
/// [`PendingWrites::commit`] (or with other records, from [`PendingWrites::absolute_ops`]);
/// dropped, they apply nothing.
pub struct PendingWrites {
    engine: Arc<str>,
    ops: Vec<crate::storage::BatchOp>,
    storage: View,
}

impl PendingWrites {
    /// Whether the call wrote nothing.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The storage view the writes go to.
    pub fn storage(&self) -> &View {
        &self.storage
    }

    /// The writes with the backend's own keys, to be committed in one batch with other
    /// records on the same backend ([`View::is_over`]).
    pub fn absolute_ops(
        &self,
    ) -> Result<Vec<crate::storage::BatchOp>, crate::storage::StorageError> {
        self.storage.absolute(&self.ops)
    }

    /// The fault reported when committing these writes failed.
    pub fn commit_fault(&self, cause: String) -> EngineFault {
        tracing::error!(engine = %self.engine, error = %cause, "storage failed committing an engine call's writes");
        EngineFault::Commit {
            engine: self.engine.to_string(),
            cause,
        }
    }

    /// Commits what a call that returned normally wrote (a failed call's store, with
    /// its pending writes, is simply dropped). The commit may wait for an fsync shared
    /// with other calls; it waits on a blocking thread, so async workers keep serving
    /// requests.
    pub async fn commit(self) -> Result<(), EngineFault> {
        if self.ops.is_empty() {
            return Ok(());
        }
        let PendingWrites {
            engine,
            ops,
            storage,
        } = self;
        let fault = |cause: String| {
            tracing::error!(engine = %engine, error = %cause, "storage failed committing an engine call's writes");
            EngineFault::Commit {
                engine: engine.to_string(),
                cause,
            }
        };
        tokio::task::spawn_blocking(move || storage.batch(&ops))
            .await
            .map_err(|e| fault(e.to_string()))?
            .map_err(|e| fault(e.to_string()))
    }
}

fn classify(engine: &str, limits: &Limits, state: &CallState, err: wasmtime::Error) -> EngineFault {
    let engine = engine.to_string();
    if state.deadline_hit {
        return EngineFault::Deadline {
            engine,
            timeout: limits.timeout,
        };
    }
    if state.memory.budget_refused {
        return EngineFault::MemoryBudget {
            engine,
            budget: state.memory.budget_limit(),
        };
    }
    if state.memory.refused {
        return EngineFault::Memory {
            engine,
            limit: limits.memory_bytes,
        };
    }
    let cause = match err.downcast_ref::<Trap>() {
        Some(Trap::UnreachableCodeReached) => {
            "it panicked or aborted (wasm trap: unreachable)".to_string()
        }
        Some(trap) => format!("wasm trap: {trap}"),
        None => format!("{err:#}"),
    };
    tracing::warn!(engine = %engine, cause = %cause, "engine call failed");
    EngineFault::Trap { engine, cause }
}

/// Refuses a component that imports anything the host does not grant.
fn check_imports(
    engine: &Engine,
    name: &str,
    component: &wasmtime::component::Component,
    granted: &[&str],
) -> Result<(), LoadError> {
    let ty = component.component_type();
    for (import, _) in ty.imports(engine) {
        let unversioned = import.split('@').next().unwrap_or(import);
        if !granted.contains(&unversioned) {
            return Err(LoadError::UngrantedImport {
                name: name.into(),
                import: import.to_string(),
                granted: granted.join(", "),
            });
        }
    }
    Ok(())
}
