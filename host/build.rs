//! Builds the built-in engines (`engines/*`) to wasm components and leaves them in
//! `OUT_DIR` for `include_bytes!`, so one `cargo build` yields one self-contained binary.
//!
//! The engines are compiled by a nested cargo for `wasm32-unknown-unknown` (no WASI at
//! all), in their own target directory so this never contends with the outer build's
//! lock, then wrapped into components with `wit-component` (the equivalent of
//! `wasm-tools component new`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// (crate name, output name) of every built-in engine.
const ENGINES: &[(&str, &str)] = &[("coffer-engine-kv", "kv"), ("coffer-engine-aws", "aws")];

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("host/ lives inside the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"))
        .join("engines");

    for watched in ["engines", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    build_core_modules(&root, &target_dir);
    for (krate, name) in ENGINES {
        let core = target_dir
            .join("wasm32-unknown-unknown/engine")
            .join(format!("{}.wasm", krate.replace('-', "_")));
        let component = componentize(&core);
        std::fs::write(out_dir.join(format!("{name}.wasm")), component).expect("write component");
    }
}

fn build_core_modules(root: &Path, target_dir: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--profile",
            "engine",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .arg("--target-dir")
        .arg(target_dir);
    for (krate, _) in ENGINES {
        cmd.args(["-p", krate]);
    }
    // The outer build's flags and wrappers (clippy, coverage, host RUSTFLAGS) are for the
    // host target and must not leak into the wasm build.
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.output().expect("run nested cargo for the engines");
    if !out.status.success() {
        panic!(
            "building the built-in engines for wasm32-unknown-unknown failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn componentize(core: &Path) -> Vec<u8> {
    let bytes = std::fs::read(core).unwrap_or_else(|e| panic!("read {}: {e}", core.display()));
    wit_component::ComponentEncoder::default()
        .module(&bytes)
        .and_then(|enc| enc.validate(true).encode())
        .unwrap_or_else(|e| panic!("turn {} into a component: {e:#}", core.display()))
}
