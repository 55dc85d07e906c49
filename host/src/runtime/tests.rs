//! The instance strategies against real components: the built-in kv engine (always
//! available) and, when `scripts/test` has built it, the hostile test guest.

use std::sync::Arc;
use std::time::Duration;

use super::bindings::{Caller, EngineError, Mount, Operation, Request, Response};
use super::*;
use crate::storage::{MemoryBackend, SharedBackend, View};

fn runtime() -> Arc<Runtime> {
    Runtime::new(RuntimeConfig::default())
        .map(|rt| rt.with_pool_mode(PoolMode::Auto))
        .unwrap_or_else(|e| panic!("runtime: {e:#}"))
}

pub(super) fn kv_wasm() -> &'static [u8] {
    crate::plugins::builtin_component("kv").unwrap_or_else(|| panic!("kv is built in"))
}

async fn load(rt: &Arc<Runtime>, name: &str, wasm: &[u8], limits: Limits) -> Arc<LoadedEngine> {
    rt.load_with_strategy(name, wasm, limits, &[], Some(InstanceStrategy::Pooled))
        .await
        .unwrap_or_else(|e| panic!("load {name}: {e}"))
}

pub(super) fn ctx(backend: &SharedBackend, prefix: &str, mount: &str) -> CallContext {
    CallContext {
        storage: View::new(backend.clone(), prefix),
        mount_path: Arc::from(mount),
    }
}

pub(super) fn request(op: Operation, path: &str, data: &str) -> Request {
    Request {
        operation: op,
        path: path.into(),
        data: data.into(),
        mount: Mount {
            path: "kv/".into(),
            accessor: "kv_test".into(),
            options: Vec::new(),
            default_lease_ttl: 3600,
            max_lease_ttl: 3600,
        },
        caller: Caller {
            display_name: "root".into(),
            policies: vec!["root".into()],
            entity_id: String::new(),
        },
        request_id: "test".into(),
    }
}

type Outcome = Result<Result<Response, EngineError>, EngineFault>;

async fn read(rt: &Runtime, engine: &LoadedEngine, ctx: CallContext, path: &str) -> Outcome {
    let req = request(Operation::Read, path, "{}");
    rt.call(engine, ctx, move |e, s| {
        Box::pin(async move { e.coffer_engine_engine().call_read(s, &req).await })
    })
    .await
}

async fn write(rt: &Runtime, engine: &LoadedEngine, ctx: CallContext, path: &str, data: &str) {
    let req = request(Operation::Update, path, data);
    let out = rt
        .call(engine, ctx, move |e, s| {
            Box::pin(async move { e.coffer_engine_engine().call_write(s, &req).await })
        })
        .await;
    assert!(matches!(out, Ok(Ok(_))), "write failed: {out:?}");
}

fn stats(engine: &LoadedEngine) -> (u64, u64) {
    let s = engine.pool_stats();
    (s.instantiations, s.reuses)
}

#[tokio::test]
async fn built_ins_are_pooled_and_a_cheap_plugin_is_measured_fresh() {
    let rt = runtime();
    let kv = rt
        .load("kv", kv_wasm(), Limits::default(), &[])
        .await
        .unwrap_or_else(|e| panic!("load: {e}"));
    assert!(kv.fresh_cost > Duration::ZERO);
    assert_eq!(
        kv.strategy,
        InstanceStrategy::Pooled,
        "built-in kv is pooled"
    );
    let wasm = hostile_wasm();
    let plugin = rt
        .load("hostile", &wasm, Limits::default(), &[])
        .await
        .unwrap_or_else(|e| panic!("load: {e}"));
    // Debug builds run wasmtime unoptimised; only a release build's timing means much.
    if !cfg!(debug_assertions) {
        assert_eq!(
            plugin.strategy,
            InstanceStrategy::Fresh,
            "a Rust plugin measured {:?}",
            plugin.fresh_cost
        );
    }
}

#[tokio::test]
async fn one_warm_instance_serves_consecutive_calls_of_a_mount() {
    let rt = runtime();
    let kv = load(&rt, "kv", kv_wasm(), Limits::default()).await;
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let a = || ctx(&backend, "logical/a/", "a/");
    write(&rt, &kv, a(), "app", r#"{"user":"alice"}"#).await;
    for _ in 0..3 {
        let out = read(&rt, &kv, a(), "app").await;
        assert!(matches!(out, Ok(Ok(_))), "{out:?}");
    }
    assert_eq!(stats(&kv), (1, 3));
    assert_eq!(kv.idle_instances(&a()), 1);
    assert_eq!(rt.idle_instances(), 1);
}

#[tokio::test]
async fn two_mounts_never_share_an_instance() {
    let rt = runtime();
    let kv = load(&rt, "kv", kv_wasm(), Limits::default()).await;
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let a = || ctx(&backend, "logical/a/", "a/");
    let b = || ctx(&backend, "logical/b/", "b/");
    write(&rt, &kv, a(), "app", r#"{"tenant":"a"}"#).await;
    // B's first call cannot take A's idle instance: it instantiates its own.
    let out = read(&rt, &kv, b(), "app").await;
    assert!(matches!(out, Ok(Err(EngineError::NotFound(_)))), "{out:?}");
    assert_eq!(stats(&kv), (2, 0));
    assert_eq!((kv.idle_instances(&a()), kv.idle_instances(&b())), (1, 1));
    // The same storage prefix under another mount path is another key too.
    let moved = ctx(&backend, "logical/a/", "moved/");
    assert!(matches!(read(&rt, &kv, moved, "app").await, Ok(Ok(_))));
    assert_eq!(stats(&kv), (3, 0));
    // Each mount then reuses its own.
    assert!(matches!(read(&rt, &kv, a(), "app").await, Ok(Ok(_))));
    assert!(matches!(read(&rt, &kv, b(), "app").await, Ok(Err(_))));
    assert_eq!(stats(&kv), (3, 2));
}

#[tokio::test]
async fn a_reused_instance_gets_the_new_calls_storage() {
    let rt = runtime();
    let kv = load(&rt, "kv", kv_wasm(), Limits::default()).await;
    let first: SharedBackend = Arc::new(MemoryBackend::new());
    let second: SharedBackend = Arc::new(MemoryBackend::new());
    write(
        &rt,
        &kv,
        ctx(&first, "logical/a/", "a/"),
        "app",
        r#"{"x":"1"}"#,
    )
    .await;
    let out = read(&rt, &kv, ctx(&second, "logical/a/", "a/"), "app").await;
    assert!(matches!(out, Ok(Err(EngineError::NotFound(_)))), "{out:?}");
    assert_eq!(stats(&kv), (1, 1), "the second call reused the instance");
}

#[tokio::test]
async fn a_host_error_discards_the_instance() {
    let rt = runtime();
    let kv = load(&rt, "kv", kv_wasm(), Limits::default()).await;
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let a = || ctx(&backend, "logical/a/", "a/");
    write(&rt, &kv, a(), "app", r#"{"x":"1"}"#).await;
    let req = request(Operation::Read, "app", "{}");
    let out = rt
        .call(&kv, a(), move |e, s| {
            Box::pin(async move {
                let _ = e.coffer_engine_engine().call_read(s, &req).await?;
                Err::<(), _>(wasmtime::format_err!("host failure after the call"))
            })
        })
        .await;
    assert!(matches!(out, Err(EngineFault::Trap { .. })), "{out:?}");
    assert_eq!(kv.idle_instances(&a()), 0);
    assert!(matches!(read(&rt, &kv, a(), "app").await, Ok(Ok(_))));
    assert_eq!(
        stats(&kv),
        (2, 1),
        "the call after the error instantiated anew"
    );
}

#[tokio::test]
async fn a_memory_limit_trap_is_not_reused_and_the_limit_holds_for_warm_instances() {
    let rt = runtime();
    let limits = Limits {
        memory_bytes: 8 << 20,
        ..Limits::default()
    };
    let kv = load(&rt, "kv", kv_wasm(), limits).await;
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let a = || ctx(&backend, "logical/a/", "a/");
    write(&rt, &kv, a(), "small", r#"{"x":"1"}"#).await;
    // A value the guest cannot hold twice within 8 MiB, put past the engine.
    let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(6 << 20));
    backend
        .put("logical/a/v1/big", big.as_bytes())
        .unwrap_or_else(|e| panic!("put: {e}"));
    // The warm instance (which already has memory) is held to the same limit.
    let out = read(&rt, &kv, a(), "big").await;
    assert!(matches!(out, Err(EngineFault::Memory { .. })), "{out:?}");
    assert_eq!(stats(&kv), (1, 1));
    assert_eq!(
        kv.idle_instances(&a()),
        0,
        "the trapped instance was dropped"
    );
    assert!(matches!(read(&rt, &kv, a(), "small").await, Ok(Ok(_))));
    assert_eq!(stats(&kv), (2, 1));
    assert_eq!(kv.idle_instances(&a()), 1);
}

#[tokio::test]
async fn the_deadline_is_reset_for_every_call() {
    let rt = runtime();
    let limits = Limits {
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let kv = load(&rt, "kv", kv_wasm(), limits).await;
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let a = || ctx(&backend, "logical/a/", "a/");
    write(&rt, &kv, a(), "app", r#"{"x":"1"}"#).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(matches!(read(&rt, &kv, a(), "app").await, Ok(Ok(_))));
    assert_eq!(stats(&kv), (1, 1));
}

#[tokio::test]
async fn idle_instances_are_bounded_per_mount() {
    let rt = runtime();
    let kv = load(&rt, "kv", kv_wasm(), Limits::default()).await;
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let a = || ctx(&backend, "logical/a/", "a/");
    let calls = (0..pool::MAX_IDLE_PER_KEY + 3).map(|_| read(&rt, &kv, a(), "none"));
    for out in futures_join(calls).await {
        assert!(matches!(out, Ok(Err(EngineError::NotFound(_)))), "{out:?}");
    }
    assert!(kv.idle_instances(&a()) <= pool::MAX_IDLE_PER_KEY);
    drop(kv);
    assert_eq!(
        rt.idle_instances(),
        0,
        "dropping the engine frees its idle instances"
    );
}

/// Runs futures concurrently on the current task.
async fn futures_join<F: Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// The hostile guest, built by `scripts/test` before it runs the unit tests. Missing, it
/// fails the test that needs it: a test that silently returned early would count as
/// passed while checking nothing.
fn hostile_wasm() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-plugins/hostile.wasm");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; scripts/test builds the test guests before the unit tests",
            path.display()
        )
    })
}

#[tokio::test]
async fn a_trapping_call_does_not_poison_the_pool() {
    let wasm = hostile_wasm();
    let rt = runtime();
    let limits = Limits {
        timeout: Duration::from_millis(300),
        memory_bytes: 32 << 20,
        ..Limits::default()
    };
    let hostile = load(&rt, "hostile", &wasm, limits).await;
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let a = || ctx(&backend, "logical/h/", "h/");
    let ok = |out: &Outcome| matches!(out, Ok(Ok(_)));
    assert!(ok(&read(&rt, &hostile, a(), "ok").await));
    assert_eq!((stats(&hostile), hostile.idle_instances(&a())), ((1, 0), 1));

    let out = read(&rt, &hostile, a(), "panic").await;
    assert!(matches!(out, Err(EngineFault::Trap { .. })), "{out:?}");
    assert_eq!(
        hostile.idle_instances(&a()),
        0,
        "a trapped instance is never parked"
    );
    assert!(ok(&read(&rt, &hostile, a(), "ok").await));
    assert_eq!(stats(&hostile), (2, 1));

    let out = read(&rt, &hostile, a(), "loop").await;
    assert!(matches!(out, Err(EngineFault::Deadline { .. })), "{out:?}");
    assert_eq!(hostile.idle_instances(&a()), 0);
    let out = read(&rt, &hostile, a(), "bomb").await;
    assert!(matches!(out, Err(EngineFault::Memory { .. })), "{out:?}");
    assert_eq!(hostile.idle_instances(&a()), 0);

    assert!(ok(&read(&rt, &hostile, a(), "ok").await));
    assert!(ok(&read(&rt, &hostile, a(), "ok").await));
    assert_eq!(stats(&hostile), (4, 3));
    assert_eq!(hostile.idle_instances(&a()), 1);
}

#[tokio::test]
async fn a_failed_call_applies_none_of_its_writes() {
    let rt = runtime();
    let hostile = load(&rt, "hostile", &hostile_wasm(), Limits::default()).await;
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let a = || ctx(&backend, "logical/h/", "h/");
    // 9 MiB, past the old early-commit threshold, then a trap.
    let out = read(&rt, &hostile, a(), "big-then-trap").await;
    assert!(matches!(out, Err(EngineFault::Trap { .. })), "{out:?}");
    // A write, a listing that must show it, then a trap.
    let out = read(&rt, &hostile, a(), "write-list-trap").await;
    assert!(
        matches!(&out, Err(EngineFault::Trap { cause, .. }) if cause.contains("panicked")),
        "{out:?}"
    );
    assert_eq!(
        backend.scan("", None, 10).unwrap(),
        Vec::<String>::new(),
        "a failed call stored something"
    );
    assert_eq!(backend.stored_bytes("logical/h/").unwrap(), Some(0));
}

#[tokio::test]
async fn writes_past_the_mounts_storage_quota_are_refused() {
    let rt = runtime();
    let limits = Limits {
        storage_quota: 300 << 10,
        ..Limits::default()
    };
    let hostile = load(&rt, "hostile", &hostile_wasm(), limits).await;
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let a = || ctx(&backend, "logical/h/", "h/");
    let Ok(Ok(filled)) = read(&rt, &hostile, a(), "fill").await else {
        panic!("fill failed");
    };
    let data = filled.data.unwrap_or_default();
    // Four 64 KiB entries fit in 300 KiB, the fifth does not.
    assert!(data.contains(r#""written":4"#), "{data}");
    assert!(data.contains("storage quota exceeded"), "{data}");
    let used = backend.stored_bytes("logical/h/").unwrap().unwrap_or(0);
    assert_eq!(used, 4 * ("logical/h/fill/0".len() as u64 + (64 << 10)));
    let out = read(&rt, &hostile, a(), "fill").await;
    assert!(
        matches!(&out, Ok(Err(EngineError::Internal(m))) if m.contains("storage quota exceeded")),
        "{out:?}"
    );
    assert_eq!(backend.stored_bytes("logical/h/").unwrap(), Some(used));
}
