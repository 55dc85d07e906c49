//! Shared by the benches that run the real `coffer` binary as a child process
//! (`lease_startup`, `lease_expiry`, `hot_reload`): starting a dev server on a free
//! loopback port, stopping it, reading its RSS, opening its `-dev-storage` directory
//! through the barrier, and summarising timings.

// Each bench uses a different part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer::seal::{Barrier, UnsealKey};
use coffer::storage::RedbBackend;

/// Root token of every bench server.
pub const TOKEN: &str = "bench";

/// The release binary cargo built with this bench, or `$COFFER_BENCH_BIN` (a copy, so a
/// long run is not affected by a rebuild of `target/release/coffer` meanwhile).
pub fn bin() -> PathBuf {
    std::env::var_os("COFFER_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_coffer")))
}

/// A compiled-code cache shared by runs, so start-up is not about Cranelift.
pub fn shared_cache_dir() -> PathBuf {
    std::env::temp_dir().join("coffer-bench-cache")
}

/// `target/test-plugins`, built by `scripts/test`.
pub fn test_plugins() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-plugins")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .build()
}

/// A `coffer server -dev` child process.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>/v1`.
    pub base: String,
    /// When the process was spawned.
    pub spawned: Instant,
}

impl Server {
    /// Spawns a dev server (root token [`TOKEN`]) with `extra` flags; returns at once.
    pub fn spawn(extra: &[String]) -> Self {
        let port = free_port();
        let mut args: Vec<String> = vec![
            "server".into(),
            "-dev".into(),
            format!("-dev-listen-address=127.0.0.1:{port}"),
            format!("-dev-root-token-id={TOKEN}"),
            "-dev-no-store-token".into(),
        ];
        args.extend_from_slice(extra);
        let spawned = Instant::now();
        let child = Command::new(bin())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the coffer binary");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}/v1"),
            spawned,
        }
    }

    /// Spawns and waits until `sys/health` answers.
    pub fn start(extra: &[String]) -> Self {
        let s = Self::spawn(extra);
        s.wait_ready();
        s
    }

    /// Waits until `sys/health` answers.
    pub fn wait_ready(&self) {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(5))
            .build();
        let url = format!("{}/sys/health", self.base);
        while agent.get(&url).call().is_err() {
            assert!(
                self.spawned.elapsed() < Duration::from_secs(300),
                "server did not come up"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// Resident set size of the server process, KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }

    /// SIGTERM (graceful shutdown, storage closed), then SIGKILL after 30 s.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The store of a stopped `-dev-storage=dir` server, opened and unsealed with the dev
/// unseal key the server left in `dir/dev-unseal-key`: writes through it are exactly
/// what the server itself would store (values encrypted, names below `logical/` hidden).
pub fn open_dev_store(dir: &Path) -> Barrier {
    let backend = RedbBackend::open(dir).expect("open redb (is a server still running?)");
    let barrier = Barrier::new(Arc::new(backend));
    let text = std::fs::read_to_string(dir.join("dev-unseal-key")).expect("dev-unseal-key");
    let key = UnsealKey::from_bytes(&hex::decode(text.trim()).expect("hex")).expect("key");
    barrier.unseal(&key).expect("unseal");
    barrier
}

/// Fixed-width base62 of `n` (sorts like `n`), the alphabet of real lease ids.
pub fn base62(mut n: u64, width: usize) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).expect("ascii")
}

/// Sorted samples, in ms.
pub struct Summary(Vec<f64>);

impl Summary {
    pub fn new(mut ms: Vec<f64>) -> Self {
        ms.sort_by(f64::total_cmp);
        Self(ms)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn pct(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let i = ((self.0.len() - 1) as f64 * p).round() as usize;
        self.0[i]
    }
    pub fn median(&self) -> f64 {
        self.pct(0.5)
    }
    pub fn min(&self) -> f64 {
        self.0.first().copied().unwrap_or(f64::NAN)
    }
    pub fn max(&self) -> f64 {
        self.0.last().copied().unwrap_or(f64::NAN)
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
