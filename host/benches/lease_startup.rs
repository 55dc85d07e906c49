//! `cargo bench -p coffer --bench lease_startup [-- N...]`: start-up time and resident
//! memory of a real `coffer server -dev -dev-storage=DIR` whose store already holds N
//! leases (default 100k and 1M).
//!
//! The leases are written straight into the redb file in large batches (the server's own
//! key layout), then the release binary is started and timed until `sys/health`
//! answers; RSS is read from /proc once it does and again after a first expiry scan.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use coffer::leases::LeaseEntry;
use coffer::leases::keys::{id_key, index_key};
use coffer::storage::{Backend, BatchOp, RedbBackend};

const NANOS: u64 = 1_000_000_000;

fn populate(dir: &Path, n: usize) {
    let backend = RedbBackend::open(dir).expect("open redb");
    let now = coffer::util::time::unix_now();
    let chunk = 20_000;
    let mut written = 0;
    while written < n {
        let mut ops = Vec::with_capacity(chunk * 2);
        for i in written..(written + chunk).min(n) {
            let id = format!("aws/creds/bench/{i:024}");
            // Spread expiries over the next 30 days so none is due during the run.
            let expire = now + 3600 + (i as u64 % (30 * 86_400));
            let entry = LeaseEntry {
                id: id.clone(),
                path: "aws/creds/bench".into(),
                mount_path: "aws/".into(),
                mount_uuid: "bench".into(),
                mount_rel_path: "creds/bench".into(),
                issue_time: now * NANOS,
                expire_time: expire * NANOS,
                last_renewal: None,
                renewable: true,
                engine_max_ttl: 0,
                internal:
                    r#"{"secret_type":"access_keys","username":"vault-bench-user","is_sts":false}"#
                        .into(),
                data: r#"{"access_key":"AKIAEXAMPLE"}"#.into(),
                index_secs: expire,
                token_hash: String::new(),
                attempts: 0,
                revoke_error: String::new(),
                display_name: "root".into(),
            };
            ops.push(BatchOp::Put(index_key(expire, &id), Vec::new()));
            ops.push(BatchOp::Put(
                id_key(&id),
                serde_json::to_vec(&entry).expect("json"),
            ));
        }
        backend.batch(&ops).expect("batch");
        written = (written + chunk).min(n);
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_string)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn measure(n: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = Instant::now();
    populate(dir.path(), n);
    let populate_s = t.elapsed().as_secs_f64();
    let size_mb = std::fs::metadata(dir.path().join("coffer.redb"))
        .map(|m| m.len())
        .unwrap_or(0) as f64
        / 1e6;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/coffer");
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args([
            "server",
            "-dev",
            &format!("-dev-listen-address=127.0.0.1:{port}"),
            &format!("-dev-storage={}", dir.path().display()),
            "-dev-root-token-id=bench",
            "-dev-no-store-token",
            // A shared compiled-code cache, so start-up time is about leases, not Cranelift.
            &format!(
                "-cache-dir={}",
                std::env::temp_dir().join("coffer-bench-cache").display()
            ),
        ])
        .env("HOME", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start coffer (run `cargo build --release` first)");
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(2))
        .build();
    let url = format!("http://127.0.0.1:{port}/v1/sys/health");
    while agent.get(&url).call().is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "server did not come up"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let ready_ms = started.elapsed().as_secs_f64() * 1e3;
    let rss_ready = rss_kib(child.id());
    std::thread::sleep(Duration::from_secs(2));
    let rss_later = rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "{n:>9} leases: store {size_mb:>7.1} MB (written in {populate_s:.1} s) | ready in {ready_ms:>7.1} ms | RSS {:>6.1} MiB at ready, {:>6.1} MiB after 2 s",
        rss_ready as f64 / 1024.0,
        rss_later as f64 / 1024.0
    );
}

fn main() {
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let counts = if counts.is_empty() {
        vec![0, 100_000, 1_000_000]
    } else {
        counts
    };
    println!("Coffer lease start-up benchmark");
    for n in counts {
        measure(n);
    }
}
