//! Admission across mounts and the host-wide memory budget, against the built-in kv
//! engine. A call's closure may await before calling the guest, while it holds its
//! instance, its host slot and its mount's turn: that is how these tests keep calls
//! in flight.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::bindings::{Operation, Request};
use super::tests::{kv_wasm, request};
use super::*;
use crate::storage::{MemoryBackend, SharedBackend};

fn runtime(memory_budget: Option<usize>) -> Arc<Runtime> {
    Runtime::new(RuntimeConfig {
        memory_budget,
        ..RuntimeConfig::default()
    })
    .map(|rt| rt.with_pool_mode(PoolMode::Auto))
    .unwrap_or_else(|e| panic!("runtime: {e:#}"))
}

fn ctx(backend: &SharedBackend, mount: &str) -> CallContext {
    super::tests::ctx(backend, &format!("logical/{mount}"), mount)
}

fn read_request() -> Request {
    request(Operation::Read, "missing", "{}")
}

/// A kv read that, once admitted and instantiated, waits for `go` before running.
async fn held_read(
    rt: &Runtime,
    kv: &LoadedEngine,
    ctx: CallContext,
    go: oneshot::Receiver<()>,
) -> Result<(), EngineFault> {
    let req = read_request();
    rt.call(kv, ctx, move |e, s| {
        Box::pin(async move {
            let _ = go.await;
            e.coffer_engine_engine().call_read(s, &req).await.map(drop)
        })
    })
    .await
}

async fn plain_read(rt: &Runtime, kv: &LoadedEngine, ctx: CallContext) -> Result<(), EngineFault> {
    let (tx, rx) = oneshot::channel();
    let _ = tx.send(());
    held_read(rt, kv, ctx, rx).await
}

/// Waits until `n` calls of the mount of `ctx` hold a turn.
async fn until_running(rt: &Runtime, ctx: &CallContext, n: usize) {
    for _ in 0..500 {
        if rt.mount_calls(ctx) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("{} calls of {} never started", n, ctx.mount_path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_mount_queues_its_own_calls_and_refuses_them_by_name() {
    let rt = runtime(None);
    let limits = Limits {
        max_concurrent_calls: 2,
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let kv = rt
        .load("kv", kv_wasm(), limits, &[])
        .await
        .unwrap_or_else(|e| panic!("load: {e}"));
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let busy = ctx(&backend, "busy/");
    let quiet = ctx(&backend, "quiet/");

    // Two calls hold busy/'s two turns.
    let (go1, rx1) = oneshot::channel();
    let (go2, rx2) = oneshot::channel();
    let first = held_read(&rt, &kv, ctx(&backend, "busy/"), rx1);
    let second = held_read(&rt, &kv, ctx(&backend, "busy/"), rx2);
    let third = plain_read(&rt, &kv, ctx(&backend, "busy/"));
    let checks = async {
        until_running(&rt, &busy, 2).await;
        // Another mount is served at once.
        assert!(plain_read(&rt, &kv, ctx(&backend, "quiet/")).await.is_ok());
        assert_eq!(rt.mount_calls(&quiet), 0);
    };
    let (a, b, c, ()) = tokio::join!(first, second, third, async {
        checks.await;
        // The third busy/ call has waited its deadline by now (it started with the
        // others); let the first two finish only afterwards.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let _ = go1.send(());
        let _ = go2.send(());
    });
    // Held past their own 300 ms deadline, the first two end as deadline faults; what
    // matters is the third.
    assert!(
        matches!(a, Ok(()) | Err(EngineFault::Deadline { .. }))
            && matches!(b, Ok(()) | Err(EngineFault::Deadline { .. })),
        "{a:?} {b:?}"
    );
    match &c {
        Err(e @ EngineFault::MountBusy { mount, limit, .. }) => {
            assert_eq!((mount.as_str(), *limit), ("busy/", 2));
            let text = e.to_string();
            assert!(e.is_capacity(), "{text}");
            assert!(
                text.contains("busy/") && text.contains("limit of 2"),
                "{text}"
            );
        }
        other => panic!("the call over busy/'s cap was not refused as busy: {other:?}"),
    }
    // Nothing is held once the calls are over, and the gates are forgotten.
    assert_eq!(rt.mount_calls(&busy), 0);
    assert!(rt.lock_gates().is_empty());
}

/// The built-in kv, instantiated fresh for every call (so each call's memory is its own).
async fn fresh_kv(rt: &Arc<Runtime>) -> Arc<LoadedEngine> {
    rt.load_with_strategy(
        "kv",
        kv_wasm(),
        Limits::default(),
        &[],
        Some(InstanceStrategy::Fresh),
    )
    .await
    .unwrap_or_else(|e| panic!("load kv: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn growth_past_the_host_memory_budget_fails_the_call_and_is_given_back() {
    // What one fresh kv instance holds, measured on an unbounded runtime.
    let probe = runtime(None);
    let kv = fresh_kv(&probe).await;
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let (go, rx) = oneshot::channel();
    let (held, one) = tokio::join!(held_read(&probe, &kv, ctx(&backend, "a/"), rx), async {
        until_running(&probe, &ctx(&backend, "a/"), 1).await;
        let one = probe.memory_budget().used();
        let _ = go.send(());
        one
    });
    assert!(held.is_ok() && one > 0, "{held:?} {one}");
    assert_eq!(
        probe.memory_budget().used(),
        0,
        "a fresh instance gives it all back"
    );

    // Room for one instance, not two.
    let rt = runtime(Some(one + one / 2));
    let kv = fresh_kv(&rt).await;
    let (go, rx) = oneshot::channel();
    let (held, second) = tokio::join!(held_read(&rt, &kv, ctx(&backend, "a/"), rx), async {
        until_running(&rt, &ctx(&backend, "a/"), 1).await;
        let second = plain_read(&rt, &kv, ctx(&backend, "b/")).await;
        let _ = go.send(());
        second
    });
    assert!(held.is_ok(), "{held:?}");
    match &second {
        Err(e @ EngineFault::MemoryBudget { budget, .. }) => {
            assert_eq!(*budget, one + one / 2);
            assert!(
                e.is_capacity() && e.to_string().contains("memory budget"),
                "{e}"
            );
        }
        other => panic!("a call past the budget was not refused for it: {other:?}"),
    }
    assert_eq!(rt.memory_budget().used(), 0);
    assert!(plain_read(&rt, &kv, ctx(&backend, "b/")).await.is_ok());
}

#[test]
fn long_running_calls_of_a_crowded_mount_wait_out_their_mounts_turn() {
    let gate = Arc::new(Gate {
        turns: Arc::new(Semaphore::new(32)),
        long_running: AtomicUsize::new(0),
    });
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let long_running = || gate.long_running.load(Ordering::Acquire);
    let mut calls: Vec<CpuShare> = (0..6)
        .map(|_| {
            let mut c = CpuShare::new(gate.clone(), 2);
            c.enter(t0);
            c
        })
        .collect();
    // A tick soon after the start: not long-running yet (a kv read never gets further).
    for c in &mut calls {
        assert_eq!(c.at_tick(at(1)), Duration::ZERO);
    }
    assert_eq!(long_running(), 0);
    // Time in host calls is not guest time: 50 ms awaiting storage or AWS.
    calls[5].leave(at(2));
    calls[5].enter(at(52));
    assert_eq!(calls[5].at_tick(at(53)), Duration::ZERO);
    assert_eq!(long_running(), 0);
    // Two long-running calls on two cores: they only yield.
    assert_eq!(calls[0].at_tick(at(11)), Duration::ZERO);
    assert_eq!(calls[1].at_tick(at(11)), Duration::ZERO);
    // Six on two cores: each waits out the other four's share, 4 ticks ÷ 2 cores, and
    // the wait itself is not guest time.
    for c in &mut calls[2..] {
        c.at_tick(at(61));
    }
    assert_eq!(long_running(), 6);
    assert_eq!(calls[0].at_tick(at(21)), EPOCH_TICK * 2);
    // A call that ends no longer counts.
    calls.truncate(3);
    assert_eq!(long_running(), 3);
    assert_eq!(calls[0].at_tick(at(61)), EPOCH_TICK / 2);
    calls.clear();
    assert_eq!(long_running(), 0);
}
