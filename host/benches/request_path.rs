//! `cargo bench -p coffer`: what one request costs on each layer of the path.
//!
//! 1. Engine call: a kv v2 read through the wasm engine (the built-in kv is pooled, so
//!    this is a warm instance: reset + call + park) against the same read done natively
//!    (the same two storage gets, then the host's native kv reader's decoding and
//!    rendering, `router::native_kv_render`).
//! 2. HTTP: kv v2 reads through a real dev server over loopback, one client, keep-alive.
//!
//! Prints a table; results and their ratios go to docs/benchmarks.md. Timings are
//! medians/percentiles of individually timed iterations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer::runtime::bindings::{Caller, Mount, Operation, Request};
use coffer::runtime::{CallContext, Limits, Runtime, RuntimeConfig};
use coffer::storage::{MemoryBackend, SharedBackend, View};

#[path = "../tests/support/dev_server.rs"]
mod dev_server;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let p50 = percentile(&samples, 0.5);
    println!(
        "{name:<44} p50 {:>9.1} µs   p99 {:>9.1} µs   n={}",
        p50.as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6,
        samples.len()
    );
    p50
}

fn read_request(path: &str) -> Request {
    Request {
        operation: Operation::Read,
        path: path.into(),
        data: "{}".into(),
        mount: Mount {
            path: "secret/".into(),
            accessor: "kv_bench".into(),
            options: vec![("version".into(), "2".into())],
            default_lease_ttl: 2_764_800,
            max_lease_ttl: 2_764_800,
        },
        caller: Caller {
            display_name: "root".into(),
            policies: vec!["root".into()],
            entity_id: String::new(),
        },
        request_id: "bench".into(),
    }
}

async fn engine_call(iters: usize) -> (Duration, Duration) {
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: None,
        limits: Limits::default(),
        memory_budget: None,
    })
    .expect("runtime");
    let wasm = coffer::plugins::builtin_component("kv").expect("kv is built in");
    let kv = runtime
        .load("kv", wasm, Limits::default(), &[])
        .await
        .expect("load kv");
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let view = View::new(backend.clone(), "logical/bench/");

    // Seed one secret through the engine itself.
    let mut write = read_request("data/app");
    write.operation = Operation::Update;
    write.data = r#"{"data":{"username":"app","password":"correct horse battery staple"}}"#.into();
    let ctx = CallContext {
        storage: view.clone(),
        mount_path: Arc::from("secret/"),
    };
    runtime
        .call(&kv, ctx, move |e, s| {
            Box::pin(async move { e.coffer_engine_engine().call_write(s, &write).await })
        })
        .await
        .expect("no fault")
        .expect("write ok");

    let mut wasm_samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let req = read_request("data/app");
        let ctx = CallContext {
            storage: view.clone(),
            mount_path: Arc::from("secret/"),
        };
        let t = Instant::now();
        let resp = runtime
            .call(&kv, ctx, move |e, s| {
                Box::pin(async move { e.coffer_engine_engine().call_read(s, &req).await })
            })
            .await;
        wasm_samples.push(t.elapsed());
        assert!(matches!(resp, Ok(Ok(_))));
    }

    // The fixed cost: an export that does almost no work, in the same (warm) instance.
    let mut empty_samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let ctx = CallContext {
            storage: view.clone(),
            mount_path: Arc::from("secret/"),
        };
        let t = Instant::now();
        let info = runtime
            .call(&kv, ctx, |e, s| {
                Box::pin(async move { e.coffer_engine_engine().call_info(s).await })
            })
            .await;
        empty_samples.push(t.elapsed());
        assert!(info.is_ok());
    }
    report(
        "pooled instance + info() (fixed sandbox cost)",
        empty_samples,
    );

    // Native baseline: the same storage reads and JSON shaping without a sandbox.
    let keys: Vec<String> = backend.scan("logical/bench/", None, 100).expect("scan");
    let meta_key = keys
        .iter()
        .find(|k| k.contains("metadata"))
        .cloned()
        .unwrap_or_default();
    let version_key = keys
        .iter()
        .find(|k| k.contains("versions"))
        .cloned()
        .unwrap_or_default();
    let mut native_samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        let meta = backend.get(&meta_key).ok().flatten().unwrap_or_default();
        let data = backend.get(&version_key).ok().flatten().unwrap_or_default();
        let out = coffer::router::native_kv_render(&meta, &data).expect("the kv record decodes");
        std::hint::black_box(out);
        native_samples.push(t.elapsed());
    }
    (
        report("kv v2 read: wasm (pooled instance)", wasm_samples),
        report("kv v2 read: native baseline", native_samples),
    )
}

fn http_reads(rt: &tokio::runtime::Runtime, iters: usize) -> Duration {
    let base = dev_server::start(rt, "bench", &[]);
    let agent = ureq::AgentBuilder::new().build();
    agent
        .post(&format!("{base}/secret/data/app"))
        .set("X-Vault-Token", "bench")
        .send_string(r#"{"data":{"username":"app","password":"correct horse battery staple"}}"#)
        .expect("write");
    let mut samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        let resp = agent
            .get(&format!("{base}/secret/data/app"))
            .set("X-Vault-Token", "bench")
            .call()
            .expect("read");
        let _ = resp.into_string();
        samples.push(t.elapsed());
    }
    report("kv v2 read over HTTP (1 client, keep-alive)", samples)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let iters = if quick { 500 } else { 20_000 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    println!("Coffer request-path benchmark ({iters} iterations each)\n");
    let (wasm, native) = rt.block_on(engine_call(iters));
    println!(
        "  ratio wasm/native per read: {:.1}x (sandbox overhead {:.1} µs)",
        wasm.as_secs_f64() / native.as_secs_f64().max(1e-9),
        (wasm.as_secs_f64() - native.as_secs_f64()) * 1e6
    );
    http_reads(&rt, iters / 4);
}
