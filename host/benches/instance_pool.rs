//! `cargo bench -p coffer --bench instance_pool [-- --quick]`: what one engine call
//! costs with a fresh instance per call (instantiate + call + drop) against a warm
//! pooled instance of the same mount, for the built-in Rust kv engine and, when
//! `scripts/test` has built them, the Python (`target/test-plugins/totp.wasm`) and
//! JavaScript (`target/test-plugins/passgen.wasm`) example engines.
//!
//! Also prints what load-time measurement chose for each engine. Results and ratios
//! go to docs/benchmarks.md ("Instance strategy").

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer::runtime::bindings::{Caller, Mount, Operation, Request};
use coffer::runtime::{
    CallContext, InstanceStrategy, Limits, LoadedEngine, PoolMode, Runtime, RuntimeConfig,
};
use coffer::storage::{MemoryBackend, SharedBackend, View};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let p50 = percentile(&samples, 0.5);
    println!(
        "  {name:<38} p50 {:>9.1} µs   p99 {:>9.1} µs   n={}",
        p50.as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6,
        samples.len()
    );
    p50
}

fn request(op: Operation, path: &str, data: &str, options: &[(&str, &str)]) -> Request {
    Request {
        operation: op,
        path: path.into(),
        data: data.into(),
        mount: Mount {
            path: "bench/".into(),
            accessor: "bench_0".into(),
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            default_lease_ttl: 3600,
            max_lease_ttl: 3600,
        },
        caller: Caller {
            display_name: "root".into(),
            policies: vec!["root".into()],
            entity_id: String::new(),
        },
        request_id: "bench".into(),
    }
}

/// One engine under test: its component, a write that sets up state, the read to time.
struct Case {
    name: &'static str,
    wasm: Vec<u8>,
    options: &'static [(&'static str, &'static str)],
    setup: (&'static str, &'static str),
    read: &'static str,
    iters: usize,
}

fn ctx(view: &View) -> CallContext {
    CallContext {
        storage: view.clone(),
        mount_path: Arc::from("bench/"),
    }
}

async fn timed_reads(rt: &Runtime, engine: &LoadedEngine, case: &Case) -> Vec<Duration> {
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let view = View::new(backend, "logical/bench/");
    let (path, data) = case.setup;
    let write = request(Operation::Update, path, data, case.options);
    let out = rt
        .call(engine, ctx(&view), move |e, s| {
            Box::pin(async move { e.coffer_engine_engine().call_write(s, &write).await })
        })
        .await;
    assert!(
        matches!(out, Ok(Ok(_))),
        "{} setup failed: {out:?}",
        case.name
    );
    let mut samples = Vec::with_capacity(case.iters);
    for _ in 0..case.iters {
        let req = request(Operation::Read, case.read, "{}", case.options);
        let t = Instant::now();
        let out = rt
            .call(engine, ctx(&view), move |e, s| {
                Box::pin(async move { e.coffer_engine_engine().call_read(s, &req).await })
            })
            .await;
        samples.push(t.elapsed());
        assert!(
            matches!(out, Ok(Ok(_))),
            "{} read failed: {out:?}",
            case.name
        );
    }
    samples
}

async fn run(case: &Case) {
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: None,
        limits: Limits::default(),
        memory_budget: None,
    })
    .expect("runtime")
    .with_pool_mode(PoolMode::Auto);
    let auto = rt
        .load(case.name, &case.wasm, Limits::default(), &[])
        .await
        .expect("load");
    println!(
        "{} ({} KiB): load-time fresh instance + info() best of 3 = {:.1} µs -> {:?}",
        case.name,
        case.wasm.len() / 1024,
        auto.fresh_cost.as_secs_f64() * 1e6,
        auto.strategy
    );
    drop(auto);
    let mut p50 = Vec::new();
    for strategy in [InstanceStrategy::Fresh, InstanceStrategy::Pooled] {
        let engine = rt
            .load_with_strategy(
                case.name,
                &case.wasm,
                Limits::default(),
                &[],
                Some(strategy),
            )
            .await
            .expect("load");
        let samples = timed_reads(&rt, &engine, case).await;
        let label = match strategy {
            InstanceStrategy::Fresh => format!("{} read, fresh (inst+call+drop)", case.name),
            InstanceStrategy::Pooled => format!("{} read, pooled (warm call)", case.name),
        };
        p50.push(report(&label, samples));
        if strategy == InstanceStrategy::Pooled {
            let s = engine.pool_stats();
            println!(
                "  pool: {} instantiation(s), {} reuse(s); {} idle holding {:.1} MiB",
                s.instantiations,
                s.reuses,
                s.idle,
                s.idle_memory_bytes as f64 / (1024.0 * 1024.0)
            );
        }
    }
    println!(
        "  ratio fresh/pooled: {:.1}x (saves {:.1} µs per call)\n",
        p50[0].as_secs_f64() / p50[1].as_secs_f64().max(1e-9),
        (p50[0].as_secs_f64() - p50[1].as_secs_f64()) * 1e6
    );
}

fn plugin(name: &str) -> Option<Vec<u8>> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../target/test-plugins/{name}.wasm"));
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(_) => {
            println!(
                "{name}: {} not built (run scripts/test); skipped\n",
                path.display()
            );
            None
        }
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 10 } else { 1 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    println!("Coffer instance-strategy benchmark\n");
    let mut cases = vec![Case {
        name: "kv",
        wasm: coffer::plugins::builtin_component("kv")
            .expect("kv is built in")
            .to_vec(),
        options: &[("version", "2")],
        setup: (
            "data/app",
            r#"{"data":{"username":"app","password":"correct horse battery staple"}}"#,
        ),
        read: "data/app",
        iters: 5_000 / scale,
    }];
    if let Some(wasm) = plugin("totp") {
        cases.push(Case {
            name: "totp (Python)",
            wasm,
            options: &[],
            setup: (
                "keys/bench",
                r#"{"key":"JBSWY3DPEHPK3PXP","issuer":"x","account_name":"y"}"#,
            ),
            read: "code/bench",
            iters: 400 / scale,
        });
    }
    if let Some(wasm) = plugin("passgen") {
        cases.push(Case {
            name: "passgen (JS)",
            wasm,
            options: &[],
            setup: ("roles/bench", "{}"),
            read: "roles/bench",
            iters: 400 / scale,
        });
    }
    for case in &cases {
        rt.block_on(run(case));
    }
}
