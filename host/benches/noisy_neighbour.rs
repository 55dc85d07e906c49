//! `cargo bench -p coffer --bench noisy_neighbour [-- --quick]`: what a saturated mount
//! costs the others (issue 13, item 8).
//!
//! A dev server (the release binary as a child process) mounts the hostile test guest
//! (`target/test-plugins/hostile.wasm`, built by `scripts/test`) at `noisy/`; 300 client
//! threads keep calling `noisy/loop`, which spins until its deadline (or is turned away
//! by the mount's concurrency cap). Meanwhile kv v2 reads of one secret on `secret/`, and
//! the server's own `sys/health` floor, are timed one at a time, and compared with the
//! same reads on the quiet server. Reported as ratios within the run.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Server, Summary, TOKEN, ms};

const LOOPERS: usize = 300;

/// Times `n` sequential GETs of `path`, pausing `gap` between them.
fn timed_reads(server: &Server, path: &str, n: usize, gap: Duration) -> Summary {
    let agent = common::agent();
    let url = server.url(path);
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let status = match agent.get(&url).set("X-Vault-Token", TOKEN).call() {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(e) => panic!("GET {path}: {e}"),
        };
        samples.push(ms(t.elapsed()));
        assert_eq!(status, 200, "GET {path}");
        std::thread::sleep(gap);
    }
    Summary::new(samples)
}

fn row(name: &str, s: &Summary, base: &Summary) {
    println!(
        "| {name} | {} | {:.2} | {:.2} | {:.2} | {:.1}× |",
        s.len(),
        s.median(),
        s.pct(0.99),
        s.max(),
        s.median() / base.median()
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let reads = if quick { 20 } else { 200 };
    let hostile = common::test_plugins().join("hostile.wasm");
    assert!(
        hostile.exists(),
        "{} is missing: scripts/test builds it",
        hostile.display()
    );
    let server = Server::start(&[
        format!("-dev-plugin-dir={}", common::test_plugins().display()),
        "-engine-timeout=10s".into(),
    ]);
    let agent = common::agent();
    let put = |path: &str, body: &str| {
        agent
            .put(&server.url(path))
            .set("X-Vault-Token", TOKEN)
            .send_string(body)
            .unwrap_or_else(|e| panic!("PUT {path}: {e}"));
    };
    put("sys/mounts/noisy", r#"{"type":"hostile"}"#);
    put("secret/data/probe", r#"{"data":{"v":"1"}}"#);

    let gap = Duration::from_millis(20);
    let idle_kv = timed_reads(&server, "secret/data/probe", reads, gap);
    let idle_health = timed_reads(&server, "sys/health", reads, gap);

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let loopers: Vec<_> = (0..LOOPERS)
        .map(|_| {
            let (stop, calls, url) = (stop.clone(), calls.clone(), server.url("noisy/loop"));
            std::thread::spawn(move || {
                let agent = common::agent();
                while !stop.load(Ordering::Relaxed) {
                    // 500 (deadline) or 503 (over the mount's cap): either way, again.
                    let _ = agent.get(&url).set("X-Vault-Token", TOKEN).call();
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2)); // every looper has a call in flight
    let busy_kv = timed_reads(&server, "secret/data/probe", reads, gap);
    let busy_health = timed_reads(&server, "sys/health", reads, gap);
    stop.store(true, Ordering::Relaxed);
    for t in loopers {
        let _ = t.join();
    }

    println!(
        "\nNoisy neighbour: {LOOPERS} clients looping on noisy/ ({} calls answered), reads one at a time\n",
        calls.load(Ordering::Relaxed)
    );
    println!("| request | n | p50 ms | p99 ms | max ms | p50 ÷ quiet kv read |");
    println!("|---|---:|---:|---:|---:|---:|");
    row("kv read, quiet", &idle_kv, &idle_kv);
    row("sys/health, quiet", &idle_health, &idle_kv);
    row("kv read, noisy/ saturated", &busy_kv, &idle_kv);
    row("sys/health, noisy/ saturated", &busy_health, &idle_kv);
    println!(
        "\nsaturated kv read ÷ saturated sys/health floor (p50): {:.2}",
        busy_kv.median() / busy_health.median()
    );
    server.stop();
}
