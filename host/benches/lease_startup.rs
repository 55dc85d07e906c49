//! `cargo bench -p coffer --bench lease_startup [-- N...]`: start-up time and resident
//! memory of a real `coffer server -dev -dev-storage=DIR` whose store already holds N
//! leases (default 100k and 1M; a 0-lease baseline is always measured first).
//!
//! The store is made by the server itself: a first run initialises it (seal, keyring,
//! `dev-unseal-key`) and mounts `aws/`; it is stopped, and the leases are written through
//! the library's own [`Barrier`] unsealed with the dev key, in large batches, with the
//! lease manager's key layout (entry, expiry index slot and token index slot per lease,
//! as `LeaseManager::save` writes them). So the bytes on disk are what a server that had
//! issued them would hold: values AES-GCM encrypted, `sys/expire/` names plain.
//!
//! Then the binary is started again and timed from spawn until an authenticated
//! `sys/leases/lookup` of one of the leases answers 200 (the first lease, a middle one
//! and the last one are then checked too); RSS is read from /proc at that moment and
//! again 2.5 s later, after the expiry worker has scanned the index at least twice.

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use coffer::leases::LeaseEntry;
use coffer::leases::keys::{id_key, index_key, token_key};
use coffer::seal::Barrier;
use coffer::storage::{Backend, BatchOp};
use common::{Server, TOKEN};
use sha2::Digest;

const NANOS: u64 = 1_000_000_000;
/// Leases per write transaction.
const CHUNK: usize = 50_000;
/// Distinct tokens the leases are spread over (each lease sits in its token's index).
const TOKENS: usize = 1000;

fn lease_id(i: usize) -> String {
    format!("aws/creds/bench/{}", common::base62(i as u64, 24))
}

/// The lease manager's records for lease `i` of `n`, as `LeaseManager::save` writes them.
/// Expiries are spread evenly over 1 h .. 30 days from now, in id order.
fn lease_ops(i: usize, n: usize, now: u64, uuid: &str, tokens: &[String], ops: &mut Vec<BatchOp>) {
    let id = lease_id(i);
    let expire = now + 3600 + (i as u64 * 30 * 86_400) / n.max(1) as u64;
    let user = format!("vault-root-bench-{now}-{}", common::base62(i as u64, 20));
    let entry = LeaseEntry {
        id: id.clone(),
        path: "aws/creds/bench".into(),
        mount_path: "aws/".into(),
        mount_uuid: uuid.into(),
        mount_rel_path: "creds/bench".into(),
        issue_time: now * NANOS,
        expire_time: expire * NANOS,
        last_renewal: None,
        renewable: true,
        engine_max_ttl: 0,
        internal: serde_json::json!({
            "secret_type": "access_keys",
            "username": user,
            "policy": {"credential_type": "iam_user", "policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]},
            "is_sts": false,
        })
        .to_string(),
        data: serde_json::json!({
            "access_key": format!("AKIA{}", common::base62(i as u64, 16).to_uppercase()),
            "secret_key": common::base62(i as u64 * 7919, 40),
            "security_token": null,
        })
        .to_string(),
        index_secs: expire,
        attempts: 0,
        revoke_error: String::new(),
        display_name: "token-bench".into(),
        token_hash: tokens[i % tokens.len()].clone(),
    };
    ops.push(BatchOp::Put(index_key(expire, &id), Vec::new()));
    ops.push(BatchOp::Put(token_key(&entry.token_hash, &id), Vec::new()));
    ops.push(BatchOp::Put(
        id_key(&id),
        serde_json::to_vec(&entry).expect("json"),
    ));
}

/// Writes `n` leases of the `aws/` mount `uuid` through `barrier`; returns leases/s.
fn populate(barrier: &Barrier, n: usize, uuid: &str) -> f64 {
    let now = coffer::util::time::unix_now();
    let tokens: Vec<String> = (0..TOKENS)
        .map(|t| hex::encode(sha2::Sha256::digest(format!("bench-token-{t}"))))
        .collect();
    let started = Instant::now();
    let mut written = 0;
    let mut ops = Vec::with_capacity(CHUNK * 3);
    while written < n {
        ops.clear();
        let end = (written + CHUNK).min(n);
        for i in written..end {
            lease_ops(i, n, now, uuid, &tokens, &mut ops);
        }
        barrier.batch(&ops).expect("batch");
        written = end;
        if n >= 1_000_000 && written % 1_000_000 == 0 {
            eprintln!(
                "  {written} leases written ({:.0}/s)",
                written as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    n as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

/// Makes a fresh dev store in `dir` (the server initialises it and mounts `aws/`);
/// returns the mount's uuid.
fn init_store(dir: &Path, cache: &[String]) -> String {
    let mut flags = vec![format!("-dev-storage={}", dir.display())];
    flags.extend_from_slice(cache);
    let server = Server::start(&flags);
    let agent = common::agent();
    agent
        .post(&server.url("sys/mounts/aws"))
        .set("X-Vault-Token", TOKEN)
        .send_string(r#"{"type":"aws"}"#)
        .expect("mount aws/");
    let mounts: serde_json::Value = agent
        .get(&server.url("sys/mounts"))
        .set("X-Vault-Token", TOKEN)
        .call()
        .expect("sys/mounts")
        .into_string()
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .expect("json");
    let uuid = mounts["data"]["aws/"]["uuid"]
        .as_str()
        .expect("aws/ uuid")
        .to_string();
    server.stop();
    uuid
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

struct Row {
    n: usize,
    store_mb: f64,
    rate: f64,
    ready_ms: f64,
    rss_ready: u64,
    rss_later: u64,
}

fn lookup(agent: &ureq::Agent, server: &Server, id: &str) -> Result<serde_json::Value, String> {
    match agent
        .put(&server.url("sys/leases/lookup"))
        .set("X-Vault-Token", TOKEN)
        .send_string(&serde_json::json!({ "lease_id": id }).to_string())
    {
        Ok(r) => r
            .into_string()
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string())),
        Err(ureq::Error::Status(code, r)) => {
            Err(format!("{code}: {}", r.into_string().unwrap_or_default()))
        }
        Err(e) => Err(format!("transport: {e}")),
    }
}

fn measure(n: usize) -> Row {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = vec![format!(
        "-cache-dir={}",
        common::shared_cache_dir().display()
    )];
    let uuid = init_store(dir.path(), &cache);
    let rate = {
        let barrier = common::open_dev_store(dir.path());
        let rate = populate(&barrier, n, &uuid);
        // The lease the readiness probe asks for must be there (and readable).
        if n > 0 {
            assert!(barrier.get(&id_key(&lease_id(0))).expect("get").is_some());
        }
        rate
    };
    let store_mb = dir_bytes(dir.path()) as f64 / 1e6;

    let mut flags = vec![format!("-dev-storage={}", dir.path().display())];
    flags.extend_from_slice(&cache);
    let server = Server::spawn(&flags);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(5))
        .build();
    // Probe: a lease when there are some, else the (missing) lease 0: 400 "invalid
    // lease" is then the authenticated answer.
    let probe = lease_id(0);
    let ready_ms = loop {
        match lookup(&agent, &server, &probe) {
            Ok(_) => break common::ms(server.spawned.elapsed()),
            Err(e) if n == 0 && e.starts_with("400") => {
                break common::ms(server.spawned.elapsed());
            }
            Err(e) if e.starts_with("transport") => {}
            Err(e) => panic!("lookup during start-up: {e}"),
        }
        assert!(
            server.spawned.elapsed() < Duration::from_secs(300),
            "server did not come up"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    let rss_ready = server.rss_kib();
    if n > 0 {
        for i in [0, n / 2, n - 1] {
            let body = lookup(&agent, &server, &lease_id(i))
                .unwrap_or_else(|e| panic!("lookup of lease {i}: {e}"));
            assert_eq!(body["data"]["id"], lease_id(i), "{body}");
            assert!(body["data"]["ttl"].as_u64().unwrap_or(0) > 0, "{body}");
        }
    }
    std::thread::sleep(Duration::from_millis(2500));
    let rss_later = server.rss_kib();
    server.stop();
    Row {
        n,
        store_mb,
        rate,
        ready_ms,
        rss_ready,
        rss_later,
    }
}

fn main() {
    let mut counts: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if counts.is_empty() {
        counts = vec![100_000, 1_000_000];
    }
    if counts.first() != Some(&0) {
        counts.insert(0, 0);
    }
    println!(
        "Coffer lease start-up benchmark (binary {})",
        common::bin().display()
    );
    // Warm the shared compiled-code cache (kv, aws) so no row pays for Cranelift.
    let _ = measure(0);
    let mut base: Option<u64> = None;
    println!(
        "| leases in store | store size | written at | ready in | RSS at ready | RSS 2.5 s later | RAM per lease |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for n in counts {
        let row = measure(n);
        let per_lease = match base {
            Some(b) if row.n > 0 => format!(
                "{:.1} B",
                (row.rss_later as f64 - b as f64) * 1024.0 / row.n as f64
            ),
            _ => "–".into(),
        };
        if row.n == 0 {
            base = Some(row.rss_later);
        }
        let written = if row.n == 0 {
            "–".to_string()
        } else {
            format!("{:.0}/s", row.rate)
        };
        println!(
            "| {} | {:.1} MB | {written} | {:.1} ms | {:.1} MiB | {:.1} MiB | {per_lease} |",
            row.n,
            row.store_mb,
            row.ready_ms,
            row.rss_ready as f64 / 1024.0,
            row.rss_later as f64 / 1024.0,
        );
    }
}
