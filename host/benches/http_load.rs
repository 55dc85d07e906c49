//! `cargo bench -p coffer --bench http_load [-- OPTIONS]`: kv v2 read and write
//! throughput and latency over loopback HTTP, with a token limited by an ACL policy, at 1,
//! 16 and 64 concurrent clients, on in-memory and on durable (redb, fsync per commit)
//! storage. Prints one table; the load generator shares the machine with the server.
//!
//! Reads run twice per client count: "read (wasm)" through the kv engine, and "read
//! (native)", the same request with `X-Coffer-Bench-Native: 1` on a server started with
//! `-bench-native-kv`, answered by the host's native kv v2 reader after the same token,
//! audit and ACL steps (the ceiling for the wasm path). The native row shows the ratio
//! of wasm to native throughput. The two rows of a client count are measured in
//! alternating slices (see `read_pair`), so machine noise hits both alike.
//!
//! The server is the real one (`coffer::server::run` in dev mode, so the barrier, token
//! store, ACL and audit hooks are all on the path), started in this process on its own
//! runtime; clients are blocking keep-alive HTTP agents on their own threads.
//!
//! Options:
//! * `--quick`: 1 s per row instead of 3 s; `--secs=N`: N s per row.
//! * `--auth-cache=off`: sets `COFFER_AUTH_CACHE=off` (no token-entry, policy or ACL
//!   caches) for the servers this run starts.
//! * `--pool=auto|off|always`: sets `COFFER_INSTANCE_POOL` likewise.
//! * `--storage=memory|redb`, `--clients=1,16,64`, `--ops=wasm,native,write`: run only
//!   those rows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[path = "../tests/support/dev_server.rs"]
mod dev_server;

const CLIENTS: [usize; 3] = [1, 16, 64];
/// Slices each read row's time is cut into, alternating with its twin (see [`read_pair`]).
const READ_SLICES: usize = 6;

struct Server {
    base: String,
    _rt: tokio::runtime::Runtime,
    _dir: Option<tempfile::TempDir>,
}

fn start(durable: bool) -> Server {
    let dir = durable.then(|| tempfile::tempdir().expect("tempdir"));
    // Only lets the "read (native)" rows' header through; other rows do not send it.
    let mut extra = vec!["-bench-native-kv".to_string()];
    extra.extend(
        dir.iter()
            .map(|d| format!("-dev-storage={}", d.path().display())),
    );
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

/// What clients saw during one or more timed slices of the same row.
#[derive(Default)]
struct Samples {
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: f64,
}

impl Samples {
    fn add(&mut self, mut other: Samples) {
        self.latencies.append(&mut other.latencies);
        self.errors += other.errors;
        self.elapsed += other.elapsed;
    }

    fn outcome(mut self) -> Outcome {
        self.latencies.sort();
        let all = &self.latencies;
        let pct = |p: f64| {
            all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1e6)
        };
        Outcome {
            ops_per_sec: all.len() as f64 / self.elapsed.max(1e-9),
            p50_us: pct(0.5),
            p99_us: pct(0.99),
            errors: self.errors,
        }
    }
}

struct Outcome {
    ops_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    errors: usize,
}

/// What one row measures.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    /// GET `secret/data/bench/c<n>` through the kv engine.
    Wasm,
    /// The same GET answered by the native reader.
    Native,
    /// POST a new version of `secret/data/bench/c<n>`.
    Write,
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Op::Wasm => "read (wasm)",
            Op::Native => "read (native)",
            Op::Write => "write",
        }
    }

    fn option(self) -> &'static str {
        match self {
            Op::Wasm => "wasm",
            Op::Native => "native",
            Op::Write => "write",
        }
    }
}

fn run(s: &Server, token: &str, clients: usize, op: Op, secs: f64) -> Samples {
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
                    let r = match op {
                        Op::Write => agent
                            .post(&url)
                            .set("X-Vault-Token", &token)
                            .send_string(&format!(r#"{{"data":{{"n":"{i}"}}}}"#)),
                        Op::Wasm => agent.get(&url).set("X-Vault-Token", &token).call(),
                        Op::Native => agent
                            .get(&url)
                            .set("X-Vault-Token", &token)
                            .set("X-Coffer-Bench-Native", "1")
                            .call(),
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
    let mut samples = Samples::default();
    for h in handles {
        let (mut lat, e) = h.join().expect("client thread");
        samples.latencies.append(&mut lat);
        samples.errors += e;
    }
    samples.elapsed = started.elapsed().as_secs_f64();
    samples
}

/// The wasm and native read rows of one client count, measured in alternating slices
/// (wasm, native, native, wasm, ...) so that both see the same machine: on a shared
/// 2-core machine, load from elsewhere comes and goes within seconds, and two rows
/// measured one after the other can differ by 20 % for that alone.
fn read_pair(s: &Server, token: &str, clients: usize, secs: f64) -> (Outcome, Outcome) {
    let (mut wasm, mut native) = (Samples::default(), Samples::default());
    for slice in 0..READ_SLICES {
        let order = if slice % 2 == 0 {
            [Op::Wasm, Op::Native]
        } else {
            [Op::Native, Op::Wasm]
        };
        for op in order {
            let got = run(s, token, clients, op, secs / READ_SLICES as f64);
            match op {
                Op::Wasm => wasm.add(got),
                _ => native.add(got),
            }
        }
    }
    (wasm.outcome(), native.outcome())
}

/// Command-line options (see the module documentation).
struct Options {
    secs: f64,
    storages: Vec<bool>,
    clients: Vec<usize>,
    ops: Vec<Op>,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(&format!("--{name}=")).map(str::to_string))
    };
    let list = |name: &str| -> Option<Vec<String>> {
        value(name).map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
    };
    for (option, env) in [
        ("auth-cache", "COFFER_AUTH_CACHE"),
        ("pool", "COFFER_INSTANCE_POOL"),
    ] {
        if let Some(v) = value(option) {
            // SAFETY: called first thing in `main`, before this process starts any other
            // thread, so nothing reads the environment concurrently.
            unsafe { std::env::set_var(env, v) };
        }
    }
    Options {
        secs: match value("secs") {
            Some(v) => v.parse().expect("--secs"),
            None if args.iter().any(|a| a == "--quick") => 1.0,
            None => 3.0,
        },
        storages: match list("storage") {
            Some(l) => [false, true]
                .into_iter()
                .filter(|d| l.iter().any(|s| s == if *d { "redb" } else { "memory" }))
                .collect(),
            None => vec![false, true],
        },
        clients: match list("clients") {
            Some(l) => l.iter().map(|c| c.parse().expect("--clients")).collect(),
            None => CLIENTS.to_vec(),
        },
        ops: match list("ops") {
            Some(l) => [Op::Wasm, Op::Native, Op::Write]
                .into_iter()
                .filter(|op| l.iter().any(|s| s == op.option()))
                .collect(),
            None => vec![Op::Wasm, Op::Native, Op::Write],
        },
    }
}

fn main() {
    let opts = options();
    println!(
        "COFFER_AUTH_CACHE={} COFFER_INSTANCE_POOL={}, {} s per row",
        std::env::var("COFFER_AUTH_CACHE").unwrap_or_else(|_| "(on)".into()),
        std::env::var("COFFER_INSTANCE_POOL").unwrap_or_else(|_| "(auto)".into()),
        opts.secs
    );
    println!(
        "{:<8} {:<13} {:>7} {:>10} {:>9} {:>9} {:>6}  wasm/native",
        "storage", "op", "clients", "ops/s", "p50 µs", "p99 µs", "errors"
    );
    for &durable in &opts.storages {
        let server = start(durable);
        let token = limited_token(&server);
        // Seed every client's key, then warm the path.
        let _ = run(&server, &token, 64, Op::Write, 0.3);
        let _ = run(&server, &token, 4, Op::Wasm, 0.2);
        // Reads first, wasm and native interleaved per client count so that the pair
        // sees the same machine load; then writes.
        let both = opts.ops.contains(&Op::Wasm) && opts.ops.contains(&Op::Native);
        for &clients in &opts.clients {
            if both {
                let (wasm, native) = read_pair(&server, &token, clients, opts.secs);
                let ratio = format!(
                    "{:.0} %",
                    100.0 * wasm.ops_per_sec / native.ops_per_sec.max(1e-9)
                );
                print_row(durable, Op::Wasm, clients, &wasm, "");
                print_row(durable, Op::Native, clients, &native, &ratio);
                continue;
            }
            for op in [Op::Wasm, Op::Native] {
                if opts.ops.contains(&op) {
                    let o = run(&server, &token, clients, op, opts.secs).outcome();
                    print_row(durable, op, clients, &o, "");
                }
            }
        }
        if opts.ops.contains(&Op::Write) {
            for &clients in &opts.clients {
                let o = run(&server, &token, clients, Op::Write, opts.secs).outcome();
                print_row(durable, Op::Write, clients, &o, "");
            }
        }
    }
}

fn print_row(durable: bool, op: Op, clients: usize, o: &Outcome, ratio: &str) {
    println!(
        "{:<8} {:<13} {:>7} {:>10.0} {:>9.0} {:>9.0} {:>6}  {}",
        if durable { "redb" } else { "memory" },
        op.label(),
        clients,
        o.ops_per_sec,
        o.p50_us,
        o.p99_us,
        o.errors,
        ratio
    );
}
