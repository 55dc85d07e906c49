//! A test engine that stalls where the host must not let it hold anyone else up: its
//! `info()` (when built with `COFFER_TEST_STALL_INFO=spin`) and its `periodic()` (on
//! mounts with the option `periodic=spin`). `scripts/test` builds it twice:
//! `stall.wasm` (a normal `info()`) and `stall-slowinfo.wasm` (an `info()` that never
//! returns).
//!
//! * `periodic` on a mount with `periodic=spin` — spins forever (the deadline stops it);
//!   on any other mount it counts its calls in storage (`periodic-count`);
//! * `read periodic-count` — `{"count": N}`: how many periodic calls of this mount ran;
//! * `read loop` — spins forever;
//! * anything else — `unsupported path`.
//!
//! It uses wit-bindgen directly, like the hostile guest, so the tests do not depend on
//! the SDK behaving.

use core::hint::black_box;

wit_bindgen::generate!({
    world: "secrets-engine",
    path: "../../../wit",
});

use coffer::engine::storage;
use coffer::engine::types::{EngineInfo, Error, Lease, LeaseTerms, Mount, Request, Response};
use exports::coffer::engine::engine::Guest;

/// Whether this build's `info()` spins.
const INFO_SPINS: bool = match option_env!("COFFER_TEST_STALL_INFO") {
    Some(v) => is_spin(v.as_bytes()),
    None => false,
};

const fn is_spin(v: &[u8]) -> bool {
    matches!(v, [b's', b'p', b'i', b'n'])
}

/// Storage key of the periodic-call counter.
const COUNT: &str = "periodic-count";

struct Stall;

impl Guest for Stall {
    fn info() -> EngineInfo {
        if black_box(INFO_SPINS) {
            spin();
        }
        EngineInfo {
            name: "stall".to_string(),
            version: "v0.1.0".to_string(),
            description: "Stalls in info() or periodic() on purpose, for isolation tests"
                .to_string(),
            paths: Vec::new(),
        }
    }

    fn read(req: Request) -> Result<Response, Error> {
        match req.path.as_str() {
            "loop" => spin(),
            "periodic-count" => Ok(answer(format!(r#"{{"count":{}}}"#, count()?))),
            _ => Err(Error::UnsupportedPath),
        }
    }

    fn write(_req: Request) -> Result<Response, Error> {
        Err(Error::UnsupportedOperation)
    }

    fn delete(_req: Request) -> Result<Response, Error> {
        Err(Error::UnsupportedOperation)
    }

    fn list(_req: Request) -> Result<Response, Error> {
        Err(Error::UnsupportedOperation)
    }

    fn renew(_lease: Lease) -> Result<LeaseTerms, Error> {
        Err(Error::UnsupportedOperation)
    }

    fn revoke(_lease: Lease) -> Result<(), Error> {
        Ok(())
    }

    fn periodic(mount: Mount) -> Result<(), Error> {
        if mount
            .options
            .iter()
            .any(|(k, v)| k == "periodic" && v == "spin")
        {
            spin();
        }
        let next = count()? + 1;
        storage::put(COUNT, next.to_string().as_bytes())
            .map_err(|e| Error::Internal(format!("storage failed: {e:?}")))
    }
}

/// Periodic calls counted so far on this mount.
fn count() -> Result<u64, Error> {
    let stored = storage::get(COUNT).map_err(|e| Error::Internal(format!("{e:?}")))?;
    Ok(stored
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0))
}

/// Never returns; `black_box` keeps the optimizer from removing the loop.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

fn answer(data: String) -> Response {
    Response {
        data: Some(data),
        lease: None,
        refresh_interval: None,
        warnings: Vec::new(),
    }
}

export!(Stall);
