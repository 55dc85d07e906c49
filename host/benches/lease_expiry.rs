//! `cargo bench -p coffer --bench lease_expiry [-- N]`: mass expiry on durable storage.
//!
//! A real `coffer server -dev -dev-storage=DIR` (the release binary) with the Rust
//! example engine `apikey` (`target/test-plugins/apikey.wasm`, built by `scripts/test`)
//! mounted at `apikey/`. A first run of the server initialises the store, mounts the
//! engine, issues one real key (the template) and writes a kv v2 secret; it is stopped,
//! and N (default 100,000) leases plus the engine's key record behind each are written
//! through the library's [`Barrier`] with the dev unseal key, exactly as issuing them
//! through the engine would have stored them, all due within 3 s of the write. The
//! server is started again: its expiry worker revokes them through the engine (each
//! revocation is a wasm call that deletes the key record, then the lease's records are
//! deleted), while a reader thread does kv v2 reads of `secret/bench`.
//!
//! Reported: revocations per second until the lease index is empty (progress from
//! lookups of 20 sample leases, emptiness from `LIST sys/leases/lookup/...` and the
//! engine's own `LIST apikey/keys`), and the reader's p50/p99/max latency and error
//! count during the mass expiry and in the quiet 3 s after it.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use coffer::leases::LeaseEntry;
use coffer::leases::keys::{id_key, index_key, token_key};
use coffer::storage::{Backend, BatchOp};
use common::{Server, Summary, TOKEN};
use serde_json::{Value, json};

const NANOS: u64 = 1_000_000_000;
const CHUNK: usize = 20_000;

fn lease_id(i: usize) -> String {
    format!("apikey/creds/bench/{}", common::base62(i as u64, 24))
}

fn key_id(i: usize) -> String {
    format!("{:016x}", 0xbe00_0000_0000_0000u64 | i as u64)
}

fn call(req: ureq::Request, body: Option<Value>) -> Result<Value, String> {
    let resp = match body {
        Some(b) => req.set("X-Vault-Token", TOKEN).send_string(&b.to_string()),
        None => req.set("X-Vault-Token", TOKEN).call(),
    };
    match resp {
        Ok(r) => {
            let text = r.into_string().map_err(|e| e.to_string())?;
            if text.is_empty() {
                Ok(Value::Null)
            } else {
                serde_json::from_str(&text).map_err(|e| e.to_string())
            }
        }
        Err(ureq::Error::Status(code, r)) => {
            Err(format!("{code}: {}", r.into_string().unwrap_or_default()))
        }
        Err(e) => Err(format!("transport: {e}")),
    }
}

struct Setup {
    uuid: String,
    template_lease: String,
    template_key: String,
}

/// First run: store initialised, `apikey/` mounted, one real key issued, a kv secret.
fn init_store(flags: &[String]) -> Setup {
    let server = Server::start(flags);
    let a = common::agent();
    let post = |path: &str, body: Value| {
        call(a.post(&server.url(path)), Some(body)).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    post("sys/mounts/apikey", json!({"type": "apikey"}));
    post("apikey/roles/bench", json!({"ttl": "1h"}));
    post(
        "secret/data/bench",
        json!({"data": {"password": "correct horse"}}),
    );
    let issued = call(a.get(&server.url("apikey/creds/bench")), None).expect("creds");
    let mounts = call(a.get(&server.url("sys/mounts")), None).expect("mounts");
    server.stop();
    Setup {
        uuid: mounts["data"]["apikey/"]["uuid"]
            .as_str()
            .expect("uuid")
            .into(),
        template_lease: issued["lease_id"].as_str().expect("lease id").into(),
        template_key: issued["data"]["key_id"].as_str().expect("key id").into(),
    }
}

/// Writes `n` leases and their key records like the template's, due over the next 3 s;
/// removes the template. Returns leases/s.
fn populate(dir: &std::path::Path, setup: &Setup, n: usize) -> f64 {
    let barrier = common::open_dev_store(dir);
    let entry_bytes = barrier
        .get(&id_key(&setup.template_lease))
        .expect("get")
        .expect("template lease stored");
    let template: LeaseEntry = serde_json::from_slice(&entry_bytes).expect("lease json");
    let key_path = |id: &str| format!("logical/{}/key/{id}", setup.uuid);
    let record = barrier
        .get(&key_path(&setup.template_key))
        .expect("get")
        .expect("template key record stored");
    let mut forget = vec![
        BatchOp::Delete(index_key(template.index_secs, &template.id)),
        BatchOp::Delete(id_key(&template.id)),
        BatchOp::Delete(key_path(&setup.template_key)),
    ];
    if !template.token_hash.is_empty() {
        forget.push(BatchOp::Delete(token_key(
            &template.token_hash,
            &template.id,
        )));
    }
    barrier.batch(&forget).expect("drop template");

    let started = Instant::now();
    let base = coffer::util::time::unix_now() * NANOS;
    let mut written = 0;
    while written < n {
        let end = (written + CHUNK).min(n);
        let mut ops = Vec::with_capacity((end - written) * 4);
        for i in written..end {
            let mut e = template.clone();
            e.id = lease_id(i);
            e.expire_time = base + (i as u64 * 3 * NANOS) / n as u64;
            e.index_secs = e.expire_time / NANOS;
            e.issue_time = base - 3600 * NANOS;
            e.internal = json!({ "id": key_id(i) }).to_string();
            ops.push(BatchOp::Put(key_path(&key_id(i)), record.clone()));
            ops.push(BatchOp::Put(index_key(e.index_secs, &e.id), Vec::new()));
            if !e.token_hash.is_empty() {
                ops.push(BatchOp::Put(token_key(&e.token_hash, &e.id), Vec::new()));
            }
            ops.push(BatchOp::Put(
                id_key(&e.id),
                serde_json::to_vec(&e).expect("json"),
            ));
        }
        barrier.batch(&ops).expect("batch");
        written = end;
    }
    n as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

#[derive(Default)]
struct Reads {
    ms: Vec<f64>,
    errors: usize,
    first_error: Option<String>,
}

fn reader(base: String, stop: Arc<AtomicBool>, phase: Arc<AtomicBool>) -> (Reads, Reads) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let url = format!("{base}/secret/data/bench");
    let (mut during, mut after) = (Reads::default(), Reads::default());
    while !stop.load(Ordering::Relaxed) {
        let quiet = phase.load(Ordering::Relaxed);
        let t = Instant::now();
        let r = agent.get(&url).set("X-Vault-Token", TOKEN).call();
        let took = common::ms(t.elapsed());
        let into = if quiet { &mut after } else { &mut during };
        match r {
            Ok(resp) if resp.status() == 200 => {
                let _ = resp.into_string();
                into.ms.push(took);
            }
            Ok(resp) => {
                into.errors += 1;
                into.first_error
                    .get_or_insert(format!("status {}", resp.status()));
            }
            Err(e) => {
                into.errors += 1;
                into.first_error.get_or_insert(e.to_string());
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    (during, after)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let plugins = common::test_plugins();
    if !plugins.join("apikey.wasm").exists() {
        println!(
            "{} is missing; run scripts/test once first",
            plugins.display()
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let flags = vec![
        format!("-dev-storage={}", dir.path().display()),
        format!("-dev-plugin-dir={}", plugins.display()),
        format!("-cache-dir={}", common::shared_cache_dir().display()),
    ];
    println!("Coffer mass lease expiry benchmark: {n} leases, apikey engine, redb storage");
    let setup = init_store(&flags);
    let rate = populate(dir.path(), &setup, n);
    println!("populated {n} leases + key records at {rate:.0}/s");

    let server = Server::spawn(&flags);
    let a = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    while call(a.get(&server.url("secret/data/bench")), None).is_err() {
        assert!(
            server.spawned.elapsed() < Duration::from_secs(120),
            "no start"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let ready = Instant::now();
    println!(
        "server ready in {:.1} ms",
        common::ms(server.spawned.elapsed())
    );
    let (stop, quiet) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let reads = std::thread::spawn({
        let (base, stop, quiet) = (server.base.clone(), stop.clone(), quiet.clone());
        move || reader(base, stop, quiet)
    });

    // Progress: which of 20 leases spread over the expiry order are still there.
    let samples: Vec<usize> = (0..20).map(|k| k * (n - 1) / 19).collect();
    let mut marks: Vec<(f64, f64)> = Vec::new(); // (seconds since ready, fraction revoked)
    let mut rss_peak = 0;
    let lookup_exists = |i: usize| match call(
        a.put(&server.url("sys/leases/lookup")),
        Some(json!({ "lease_id": lease_id(i) })),
    ) {
        Ok(_) => true,
        Err(e) if e.starts_with("400") => false,
        Err(e) => panic!("lookup: {e}"),
    };
    let deadline = ready + Duration::from_secs(1800);
    let emptied = loop {
        rss_peak = rss_peak.max(server.rss_kib());
        let left = samples.iter().filter(|&&i| lookup_exists(i)).count();
        let t = ready.elapsed().as_secs_f64();
        let done = 1.0 - left as f64 / samples.len() as f64;
        if marks.last().is_none_or(|m| m.1 != done) {
            marks.push((t, done));
        }
        if left == 0 {
            let listing = call(
                a.request("LIST", &server.url("sys/leases/lookup/apikey/creds/bench/")),
                None,
            );
            let keys = call(a.request("LIST", &server.url("apikey/keys")), None);
            // An empty listing is a 404 (as in Vault) or no keys.
            let count = |v: Result<Value, String>| match v {
                Ok(v) => v["data"]["keys"].as_array().map_or(0, Vec::len),
                Err(e) if e.starts_with("404") => 0,
                Err(e) => panic!("list: {e}"),
            };
            let (leases_left, keys_left) = (count(listing), count(keys));
            if leases_left == 0 && keys_left == 0 {
                break ready.elapsed();
            }
            eprintln!("  samples gone; {leases_left} leases, {keys_left} key records left");
        }
        assert!(Instant::now() < deadline, "leases not revoked in 30 min");
        std::thread::sleep(Duration::from_millis(250));
    };
    let irrevocable = call(
        a.get(&server.url("sys/leases/count?type=irrevocable")),
        None,
    )
    .map(|v| v["data"]["lease_count"].clone())
    .unwrap_or(Value::Null);
    quiet.store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let (during, after) = reads.join().expect("reader");
    server.stop();

    let secs = emptied.as_secs_f64();
    println!(
        "{n} leases revoked in {secs:.1} s from ready: {:.0} revocations/s; irrevocable left: {irrevocable}; server RSS peak {:.1} MiB",
        n as f64 / secs,
        rss_peak as f64 / 1024.0
    );
    let progress: Vec<String> = marks
        .iter()
        .map(|(t, f)| format!("{:.0}%@{t:.1}s", f * 100.0))
        .collect();
    println!("progress (sampled leases revoked): {}", progress.join(" "));
    println!("| kv v2 reads | n | p50 | p99 | max | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (what, r) in [("during mass expiry", during), ("quiet, after", after)] {
        let s = Summary::new(r.ms);
        println!(
            "| {what} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {}{} |",
            s.len(),
            s.median(),
            s.pct(0.99),
            s.max(),
            r.errors,
            r.first_error.map(|e| format!(" ({e})")).unwrap_or_default()
        );
    }
}
