//! `cargo bench -p coffer --bench hot_reload [-- --quick] [-- --no-js]`: how long a plugin
//! upgrade takes to reach clients, with and without the compiled-code cache.
//!
//! Uses `target/test-plugins/versioned-v1.wasm` and `versioned-v2.wasm` (one engine built
//! twice by `scripts/test`; every answer says its version) and `passgen.wasm` (12 MB
//! JavaScript engine), against the release binary as a child process. A client thread
//! reads `ver/version` in a loop throughout; "first v2" is the end of the first of its
//! requests that v2 answered.
//!
//! * **register + reload** (a server already serving v1 at `ver/`): register v2 in the
//!   catalog (`PUT sys/plugins/catalog/secret/versioned`, sha256 + command + version; the
//!   server compiles or loads it from the cache and checks it), then
//!   `PUT sys/plugins/reload/backend {"plugin":"versioned"}`. Timed: register call,
//!   register → first v2, reload → first v2. Cold: an empty `-cache-dir`; cached: v2's
//!   compiled code already in it.
//! * **reload loads** (the reload itself brings the code in): a store where v1 and v2
//!   are both registered and `ver/` is pinned to v1 is started again (a new process, so
//!   nothing is in memory), `ver/` is tuned to `plugin_version=v2.0.0`, then reloaded.
//!   Timed: reload → first v2, cold cache vs cached.
//! * **JavaScript (passgen)**: register (compile or cache load) → first answer from a
//!   new mount of it; one cold sample (≈40 s on 2 cores), three cached.

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, Summary, TOKEN};
use serde_json::{Value, json};
use sha2::Digest;

fn sha(path: &Path) -> String {
    hex::encode(sha2::Sha256::digest(
        std::fs::read(path).expect("read plugin"),
    ))
}

fn send(server: &Server, method: &str, path: &str, body: Option<Value>) -> Value {
    let req = common::agent()
        .request(method, &server.url(path))
        .set("X-Vault-Token", TOKEN);
    let resp = match body {
        Some(b) => req.send_string(&b.to_string()),
        None => req.call(),
    };
    match resp {
        Ok(r) => {
            let text = r.into_string().unwrap_or_default();
            serde_json::from_str(&text).unwrap_or(Value::Null)
        }
        Err(ureq::Error::Status(code, r)) => panic!(
            "{method} {path}: {code} {}",
            r.into_string().unwrap_or_default()
        ),
        Err(e) => panic!("{method} {path}: {e}"),
    }
}

/// A client reading `path` in a loop and noting which version answered, and when.
struct Load {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<(Instant, String)>>>,
    errors: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(server: &Server, path: &str) -> Self {
        let (stop, samples, errors) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(AtomicUsize::new(0)),
        );
        let thread = std::thread::spawn({
            let url = server.url(path);
            let (stop, samples, errors) = (stop.clone(), samples.clone(), errors.clone());
            move || {
                let agent = common::agent();
                while !stop.load(Ordering::Relaxed) {
                    match agent.get(&url).set("X-Vault-Token", TOKEN).call() {
                        Ok(r) => {
                            let end = Instant::now();
                            let body: Value = r
                                .into_string()
                                .ok()
                                .and_then(|s| serde_json::from_str(&s).ok())
                                .unwrap_or(Value::Null);
                            let v = body["data"]["version"].as_str().unwrap_or("?").to_string();
                            if let Ok(mut s) = samples.lock() {
                                s.push((end, v));
                            }
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        });
        Self {
            stop,
            samples,
            errors,
            thread: Some(thread),
        }
    }

    /// When the first answer from `version` arrived (waits up to 30 s for one).
    fn first(&self, version: &str) -> Instant {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self.samples.lock().ok().and_then(|s| {
                s.iter()
                    .filter(|(_, v)| v == version)
                    .map(|(end, _)| *end)
                    .min()
            });
            if let Some(t) = found {
                return t;
            }
            assert!(Instant::now() < deadline, "no answer from {version}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Stops the client; returns how many of its requests failed.
    fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.errors.load(Ordering::Relaxed)
    }
}

struct Plugins {
    dir: PathBuf,
    v1: String,
    v2: String,
}

impl Plugins {
    fn register(&self, server: &Server, v: u8) {
        let (sha, version) = if v == 1 {
            (&self.v1, "v1.0.0")
        } else {
            (&self.v2, "v2.0.0")
        };
        send(
            server,
            "PUT",
            "sys/plugins/catalog/secret/versioned",
            Some(json!({
                "sha256": sha,
                "command": format!("versioned-v{v}.wasm"),
                "version": version,
            })),
        );
    }

    fn flags(&self, cache: &Path) -> Vec<String> {
        vec![
            format!("-dev-plugin-dir={}", self.dir.display()),
            format!("-cache-dir={}", cache.display()),
        ]
    }
}

fn reload(server: &Server) -> bool {
    let body = send(
        server,
        "PUT",
        "sys/plugins/reload/backend",
        Some(json!({"plugin": "versioned"})),
    );
    body["data"]["reloaded"][0]["from_cache"]
        .as_bool()
        .unwrap_or(false)
}

#[derive(Default)]
struct Samples {
    register: Vec<f64>,
    register_to_v2: Vec<f64>,
    reload_to_v2: Vec<f64>,
    from_cache: Vec<bool>,
    errors: usize,
}

/// register v2 + reload on a server serving v1; `cache` is the compiled-code cache dir.
fn register_and_reload(p: &Plugins, cache: &Path, out: &mut Samples) {
    let server = Server::start(&p.flags(cache));
    p.register(&server, 1);
    send(
        &server,
        "POST",
        "sys/mounts/ver",
        Some(json!({"type": "versioned"})),
    );
    let load = Load::start(&server, "ver/version");
    load.first("v1.0.0");
    let t_register = Instant::now();
    p.register(&server, 2);
    let registered = t_register.elapsed();
    let t_reload = Instant::now();
    let from_cache = reload(&server);
    let first = load.first("v2.0.0");
    out.errors += load.finish();
    server.stop();
    out.register.push(common::ms(registered));
    out.register_to_v2.push(common::ms(first - t_register));
    out.reload_to_v2.push(common::ms(first - t_reload));
    out.from_cache.push(from_cache);
}

/// A store with v1 and v2 registered and `ver/` pinned to v1.
fn pinned_store(p: &Plugins, warm_cache: &Path) -> tempfile::TempDir {
    let data = tempfile::tempdir().expect("tempdir");
    let mut flags = p.flags(warm_cache);
    flags.push(format!("-dev-storage={}", data.path().display()));
    let server = Server::start(&flags);
    p.register(&server, 1);
    p.register(&server, 2);
    send(
        &server,
        "POST",
        "sys/mounts/ver",
        Some(json!({"type": "versioned", "config": {"plugin_version": "v1.0.0"}})),
    );
    server.stop();
    data
}

/// A fresh process over a pinned store: tune to v2 and reload; the reload loads v2.
fn reload_loads(p: &Plugins, data: &Path, cache: &Path, out: &mut Samples) {
    let mut flags = p.flags(cache);
    flags.push(format!("-dev-storage={}", data.display()));
    let server = Server::start(&flags);
    let load = Load::start(&server, "ver/version");
    load.first("v1.0.0");
    send(
        &server,
        "POST",
        "sys/mounts/ver/tune",
        Some(json!({"plugin_version": "v2.0.0"})),
    );
    let t_reload = Instant::now();
    let from_cache = reload(&server);
    let first = load.first("v2.0.0");
    out.errors += load.finish();
    server.stop();
    out.reload_to_v2.push(common::ms(first - t_reload));
    out.from_cache.push(from_cache);
}

/// Registers passgen and mounts it; returns (register ms, register → first answer ms).
fn passgen(dir: &Path, cache: &Path) -> (f64, f64) {
    let server = Server::start(&[
        format!("-dev-plugin-dir={}", dir.display()),
        format!("-cache-dir={}", cache.display()),
    ]);
    let t = Instant::now();
    send(
        &server,
        "PUT",
        "sys/plugins/catalog/secret/passgen",
        Some(json!({"sha256": sha(&dir.join("passgen.wasm")), "command": "passgen.wasm"})),
    );
    let registered = t.elapsed();
    send(
        &server,
        "POST",
        "sys/mounts/pg",
        Some(json!({"type": "passgen"})),
    );
    // Any answer from the engine will do (a role that does not exist is a 4xx).
    let agent = common::agent();
    loop {
        match agent
            .get(&server.url("pg/roles/bench"))
            .set("X-Vault-Token", TOKEN)
            .call()
        {
            Ok(_) => break,
            Err(ureq::Error::Status(code, _)) if code < 500 => break,
            _ => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    let answered = t.elapsed();
    server.stop();
    (common::ms(registered), common::ms(answered))
}

fn cell(v: &[f64]) -> String {
    if v.is_empty() {
        return "–".into();
    }
    let s = Summary::new(v.to_vec());
    format!("{:.1} ms [{:.1}–{:.1}]", s.median(), s.min(), s.max())
}

fn row(case: &str, s: &Samples) {
    let cached = s.from_cache.iter().filter(|c| **c).count();
    println!(
        "| {case} | {} | {} | {} | {} | {cached}/{} | {} |",
        s.from_cache.len(),
        cell(&s.register),
        cell(&s.register_to_v2),
        cell(&s.reload_to_v2),
        s.from_cache.len(),
        s.errors
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let js = !std::env::args().any(|a| a == "--no-js");
    let n = if quick { 2 } else { 7 };
    let src = common::test_plugins();
    for f in ["versioned-v1.wasm", "versioned-v2.wasm"] {
        if !src.join(f).exists() {
            println!(
                "{} is missing; run scripts/test once first",
                src.join(f).display()
            );
            return;
        }
    }
    // A plugin directory of its own (the watcher is off; nothing else is picked up).
    let dir = tempfile::tempdir().expect("tempdir");
    for f in ["versioned-v1.wasm", "versioned-v2.wasm", "passgen.wasm"] {
        if src.join(f).exists() {
            std::fs::copy(src.join(f), dir.path().join(f)).expect("copy plugin");
        }
    }
    let p = Plugins {
        dir: dir.path().to_path_buf(),
        v1: sha(&dir.path().join("versioned-v1.wasm")),
        v2: sha(&dir.path().join("versioned-v2.wasm")),
    };
    println!("Coffer hot reload benchmark ({n} samples per row; median [min–max])");

    // Cold samples each get an empty cache; the first one's cache (now holding v1, v2 and
    // kv) is the warm cache of the cached rows.
    let warm = tempfile::tempdir().expect("tempdir");
    let mut cold = Samples::default();
    register_and_reload(&p, warm.path(), &mut cold);
    for _ in 1..n {
        let empty = tempfile::tempdir().expect("tempdir");
        register_and_reload(&p, empty.path(), &mut cold);
    }
    let mut cached = Samples::default();
    for _ in 0..n {
        register_and_reload(&p, warm.path(), &mut cached);
    }
    let mut loads_cold = Samples::default();
    let mut loads_cached = Samples::default();
    for _ in 0..n {
        let data = pinned_store(&p, warm.path());
        let empty = tempfile::tempdir().expect("tempdir");
        reload_loads(&p, data.path(), empty.path(), &mut loads_cold);
        let data = pinned_store(&p, warm.path());
        reload_loads(&p, data.path(), warm.path(), &mut loads_cached);
    }
    println!(
        "| case | n | register call | register → first v2 | reload call → first v2 | from_cache | client errors |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    row("register v2 + reload, cold cache", &cold);
    row("register v2 + reload, cached", &cached);
    row("reload loads v2 (new process), cold cache", &loads_cold);
    row("reload loads v2 (new process), cached", &loads_cached);

    if js && dir.path().join("passgen.wasm").exists() && !quick {
        let js_cache = tempfile::tempdir().expect("tempdir");
        let (reg, first) = passgen(dir.path(), js_cache.path());
        println!(
            "passgen (JS, {:.1} MB) cold: register {reg:.0} ms, register → first answer {first:.0} ms",
            std::fs::metadata(dir.path().join("passgen.wasm"))
                .map(|m| m.len())
                .unwrap_or(0) as f64
                / 1e6
        );
        let (mut regs, mut firsts) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let (r, f) = passgen(dir.path(), js_cache.path());
            regs.push(r);
            firsts.push(f);
        }
        println!(
            "passgen cached (3): register {}, register → first answer {}",
            cell(&regs),
            cell(&firsts)
        );
    }
}
