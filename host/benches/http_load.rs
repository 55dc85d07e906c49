//! `cargo bench -p coffer --bench http_load [-- --quick]`: kv v2 read and write
//! throughput and latency over loopback HTTP, with a token limited by an ACL policy, at 1,
//! 16 and 64 concurrent clients, on in-memory and on durable (redb, fsync per commit)
//! storage. Prints one table; the load generator shares the machine with the server.
//!
//! The server is the real one (`coffer::server::run` in dev mode, so the barrier, token
//! store, ACL and audit hooks are all on the path), started in this process on its own
//! runtime; clients are blocking keep-alive HTTP agents on their own threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[path = "../tests/support/dev_server.rs"]
mod dev_server;

const CLIENTS: [usize; 3] = [1, 16, 64];

struct Server {
    base: String,
    _rt: tokio::runtime::Runtime,
    _dir: Option<tempfile::TempDir>,
}

fn start(durable: bool) -> Server {
    let dir = durable.then(|| tempfile::tempdir().expect("tempdir"));
    let extra: Vec<String> = dir
        .iter()
        .map(|d| format!("-dev-storage={}", d.path().display()))
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let base = dev_server::start(&rt, "bench-root", &extra);
    Server {
        base,
        _rt: rt,
        _dir: dir,
    }
}

/// A token whose only policy allows the benchmark's paths.
fn limited_token(s: &Server) -> String {
    let agent = ureq::AgentBuilder::new().build();
    let post = |path: &str, body: serde_json::Value| -> serde_json::Value {
        let resp = agent
            .post(&format!("{}/{path}", s.base))
            .set("X-Vault-Token", "bench-root")
            .send_string(&body.to_string())
            .expect(path);
        serde_json::from_str(&resp.into_string().unwrap_or_default()).unwrap_or_default()
    };
    post(
        "sys/policy/bench",
        serde_json::json!({"policy": "path \"secret/data/bench/*\" { capabilities = [\"create\", \"read\", \"update\"] }"}),
    );
    let created = post(
        "auth/token/create",
        serde_json::json!({"policies": ["bench"], "ttl": "1h"}),
    );
    created["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string()
}

struct Outcome {
    ops_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    errors: usize,
}

fn run(s: &Server, token: &str, clients: usize, write: bool, secs: f64) -> Outcome {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (base, token, stop) = (s.base.clone(), token.to_string(), stop.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().build();
                let (mut lat, mut errors, mut i) = (Vec::new(), 0usize, 0u64);
                let url = format!("{base}/secret/data/bench/c{c}");
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let t = Instant::now();
                    let r = if write {
                        agent
                            .post(&url)
                            .set("X-Vault-Token", &token)
                            .send_string(&format!(r#"{{"data":{{"n":"{i}"}}}}"#))
                    } else {
                        agent.get(&url).set("X-Vault-Token", &token).call()
                    };
                    match r {
                        Ok(resp) => {
                            let _ = resp.into_string();
                            lat.push(t.elapsed());
                        }
                        Err(_) => errors += 1,
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (lat, e) = h.join().expect("client thread");
        all.extend(lat);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    Outcome {
        ops_per_sec: all.len() as f64 / elapsed,
        p50_us: pct(0.5),
        p99_us: pct(0.99),
        errors,
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let secs = if quick { 1.0 } else { 3.0 };
    println!(
        "{:<8} {:<6} {:>7} {:>10} {:>9} {:>9} {:>6}",
        "storage", "op", "clients", "ops/s", "p50 µs", "p99 µs", "errors"
    );
    for durable in [false, true] {
        let server = start(durable);
        let token = limited_token(&server);
        // Seed every client's key, then warm the path.
        let _ = run(&server, &token, 64, true, 0.3);
        for write in [false, true] {
            for clients in CLIENTS {
                let o = run(&server, &token, clients, write, secs);
                println!(
                    "{:<8} {:<6} {:>7} {:>10.0} {:>9.0} {:>9.0} {:>6}",
                    if durable { "redb" } else { "memory" },
                    if write { "write" } else { "read" },
                    clients,
                    o.ops_per_sec,
                    o.p50_us,
                    o.p99_us,
                    o.errors
                );
            }
        }
    }
}
