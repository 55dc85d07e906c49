//! The sandbox: compiles engine components, and runs each engine call in a fresh,
//! limited instance.
//!
//! One process-wide wasmtime [`Engine`] with the pooling allocator and epoch
//! interruption. A loaded engine is held as an `InstancePre` (type-checked and linked
//! once); each call instantiates it into a new `Store` with its own memory cap and
//! deadline and drops it afterwards, so no memory, secret or trap outlives a request.

pub mod bindings;
mod cache;
mod fault;
pub mod imports;
mod limits;

pub use cache::CodeCache;
pub use fault::{EngineFault, LoadError};
pub use imports::{Capability, Clock, OffsetClock, SystemClock};
pub use limits::Limits;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap,
    UpdateDeadline,
};

use bindings::{EngineInfo, EngineWorld, EngineWorldPre};
use limits::MemoryGuard;

use crate::storage::View;

/// How often the epoch advances; the granularity of deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Instances that may run at once. Further calls wait for a slot rather than fail.
const MAX_CONCURRENT_INSTANCES: u32 = 256;
/// The pool's hard ceiling on one linear memory; per-call limits sit below it.
const POOL_MAX_MEMORY: usize = 1024 * 1024 * 1024;

/// Host-wide runtime settings.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Directory for compiled code; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Default per-call limits.
    pub limits: Limits,
}

/// The process-wide sandbox.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    cache: CodeCache,
    slots: Semaphore,
    limits: Limits,
    clock: Arc<dyn Clock>,
}

/// Per-call store data: everything an engine instance can reach.
pub struct CallState {
    pub(crate) storage: View,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) engine_name: Arc<str>,
    pub(crate) mount_path: Arc<str>,
    pub(crate) log_budget: u32,
    /// Host resources (AWS clients) the instance holds handles to.
    pub(crate) table: wasmtime::component::ResourceTable,
    memory: MemoryGuard,
    deadline: Instant,
    deadline_hit: bool,
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
    pre: EngineWorldPre<CallState>,
}

impl std::fmt::Debug for LoadedEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedEngine")
            .field("name", &self.name)
            .field("sha256", &self.sha256)
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
        pool.total_component_instances(MAX_CONCURRENT_INSTANCES)
            .total_core_instances(MAX_CONCURRENT_INSTANCES * 8)
            .total_memories(MAX_CONCURRENT_INSTANCES * 2)
            .total_tables(MAX_CONCURRENT_INSTANCES * 8)
            .total_stacks(MAX_CONCURRENT_INSTANCES)
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
            limits: config.limits,
            clock,
        }))
    }

    /// Default per-call limits.
    pub fn default_limits(&self) -> Limits {
        self.limits
    }

    /// Compiles (or loads from cache), checks imports, links and describes a component.
    /// `capabilities` are what the plugin was granted beyond the basic imports.
    pub async fn load(
        self: &Arc<Self>,
        name: &str,
        wasm: &[u8],
        limits: Limits,
        capabilities: &[Capability],
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
            pre,
        };
        // info() gets an empty storage view: it must not touch storage.
        let ctx = CallContext {
            storage: View::new(Arc::new(crate::storage::MemoryBackend::new()), "info/"),
            mount_path: Arc::from(""),
        };
        let info = self
            .call(&loaded, ctx, |e, store| {
                Box::pin(async move { e.coffer_engine_engine().call_info(store).await })
            })
            .await
            .map_err(|e| LoadError::Info {
                name: name.into(),
                cause: e.to_string(),
            })?;
        loaded.info = info;
        Ok(Arc::new(loaded))
    }

    /// Runs one export call in a fresh instance under the engine's limits.
    pub async fn call<R: Send>(
        &self,
        loaded: &LoadedEngine,
        ctx: CallContext,
        f: impl for<'a> FnOnce(
            &'a EngineWorld,
            &'a mut Store<CallState>,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>,
        >,
    ) -> Result<R, EngineFault> {
        let engine_name = loaded.name.to_string();
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|e| EngineFault::Instantiate {
                engine: engine_name.clone(),
                cause: e.to_string(),
            })?;
        let limits = loaded.limits;
        let state = CallState {
            storage: ctx.storage,
            clock: self.clock.clone(),
            engine_name: loaded.name.clone(),
            mount_path: ctx.mount_path,
            log_budget: imports::log_budget(),
            table: imports::aws::resource_table(),
            memory: MemoryGuard {
                limit: limits.memory_bytes,
                refused: false,
            },
            deadline: Instant::now() + limits.timeout,
            deadline_hit: false,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.memory);
        // Yield to the executor at every tick so a spinning guest never starves other
        // requests, and stop it once its wall-clock deadline has passed.
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            if Instant::now() >= state.deadline {
                state.deadline_hit = true;
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store.set_epoch_deadline(1);

        let outcome = async {
            let instance = loaded.pre.instantiate_async(&mut store).await?;
            f(&instance, &mut store).await
        }
        .await;
        outcome.map_err(|e| classify(&engine_name, &limits, store.data(), e))
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
