//! A deliberately misbehaving engine for the host's sandbox tests.
//!
//! `read` on these paths:
//! * `loop`  — spins forever (the host's CPU deadline must stop it);
//! * `bomb`  — allocates 1 MiB chunks until memory runs out (the memory cap must stop it);
//! * `panic` — panics, which traps with `panic = "abort"`;
//! * `huge`  — answers with about 24 MiB of JSON data (the guest needs ~25 MiB of
//!   memory to build it; the host's response limit should refuse it);
//! * `ok`    — writes and reads back one storage entry and answers `{"ok":true}`, to
//!   show the host still serves the engine after the others;
//! * `half`  — answers `{"present": bool}`: whether a `write` to `half` ever landed;
//! * `big-then-trap` — writes 9 MiB (nine 1 MiB entries under `trap/big/`), then panics:
//!   none of it may be stored (the host once committed early at 8 MiB);
//! * `write-list-trap` — writes `trap/listed`, lists `trap/` (which must show it), then
//!   panics: the write may not be stored (a listing once committed pending writes);
//! * `trapped` — answers `{"trap": [...], "big": [...]}`, the listings of `trap/` and
//!   `trap/big/`, to check what the trapping paths left behind;
//! * `fill`  — writes 64 KiB entries under `fill/` until storage refuses one (the mount's
//!   quota), and answers `{"written": n, "refusal": "..."}`; when not even one entry fits
//!   it fails with the refusal as an internal error;
//! * `huge-error` — fails with a 60 MiB internal error message (the host must cut it);
//! * `deep`  — answers with JSON nested 100,000 levels deep;
//! * `forever-lease` — answers with a lease of 2⁶⁴−1 seconds;
//! * `forever-refresh` — answers unleased data with a refresh interval of 2⁶⁴−1 seconds;
//! * `log-flood` — logs as many 64 KiB lines as the host lets one call log;
//! * anything else — `unsupported path`.
//!
//! `write` on `half` stores the `half` entry and then panics: the host must drop that
//! write with the failed call.
//!
//! It uses wit-bindgen directly rather than the SDK, so the tests do not depend on the
//! SDK behaving.

use core::hint::black_box;

wit_bindgen::generate!({
    world: "secrets-engine",
    path: "../../../wit",
});

use coffer::engine::log;
use coffer::engine::storage;
use coffer::engine::types::{
    EngineInfo, Error, Lease, LeaseGrant, LeaseTerms, Mount, Request, Response,
};
use exports::coffer::engine::engine::Guest;

/// Size of the `huge` answer's payload.
const HUGE_BYTES: usize = 24 << 20;
/// Size of the `huge-error` message.
const HUGE_ERROR_BYTES: usize = 60 << 20;
/// Nesting depth of the `deep` answer.
const DEEP_LEVELS: usize = 100_000;

struct Hostile;

impl Guest for Hostile {
    fn info() -> EngineInfo {
        EngineInfo {
            name: "hostile".to_string(),
            version: "v0.1.0".to_string(),
            description: "Misbehaves on purpose, for sandbox tests".to_string(),
            paths: Vec::new(),
        }
    }

    fn read(req: Request) -> Result<Response, Error> {
        match req.path.as_str() {
            "loop" => spin(),
            "bomb" => bomb(),
            "panic" => panic!("hostile engine panics on purpose"),
            "huge" => Ok(answer(huge_json())),
            "ok" => ok(),
            "half" => {
                let present = storage::get("half")
                    .map_err(|e| Error::Internal(format!("{e:?}")))?
                    .is_some();
                Ok(answer(format!(r#"{{"present":{present}}}"#)))
            }
            "big-then-trap" => big_then_trap(),
            "write-list-trap" => write_list_trap(),
            "trapped" => trapped(),
            "fill" => fill(),
            "huge-error" => Err(Error::Internal("e".repeat(HUGE_ERROR_BYTES))),
            "deep" => Ok(answer(deep_json())),
            "forever-lease" => Ok(Response {
                lease: Some(LeaseGrant {
                    ttl: u64::MAX,
                    max_ttl: u64::MAX,
                    renewable: true,
                    internal: "{}".to_string(),
                }),
                ..answer("{\"forever\":true}".to_string())
            }),
            "forever-refresh" => Ok(Response {
                refresh_interval: Some(u64::MAX),
                ..answer("{\"forever\":true}".to_string())
            }),
            "log-flood" => {
                let line = "L".repeat(64 << 10);
                for _ in 0..1000 {
                    log::log(log::Level::Error, &line);
                }
                Ok(answer("{\"flooded\":true}".to_string()))
            }
            _ => Err(Error::UnsupportedPath),
        }
    }

    fn write(req: Request) -> Result<Response, Error> {
        if req.path == "half" {
            storage::put("half", b"1").map_err(|e| Error::Internal(format!("{e:?}")))?;
            panic!("hostile engine panics after a write");
        }
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

    fn periodic(_mount: Mount) -> Result<(), Error> {
        Ok(())
    }
}

/// Never returns. `black_box` hides the counter from the optimizer, so the loop can
/// be neither removed nor proven side-effect free.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// Never returns: keeps every chunk alive and touched until allocation fails, which
/// aborts (a trap) under `panic = "abort"`.
fn bomb() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let chunk = vec![0xA5u8; 1 << 20];
        hoard.push(black_box(chunk));
        black_box(&hoard);
    }
}

/// `{"blob":"xxx…"}` with `HUGE_BYTES` x's, built in place to avoid a second copy.
fn huge_json() -> String {
    let mut s = String::with_capacity(HUGE_BYTES + 16);
    s.push_str("{\"blob\":\"");
    s.extend(core::iter::repeat_n('x', HUGE_BYTES));
    s.push_str("\"}");
    s
}

/// `{"a":[[[…]]]}`, `DEEP_LEVELS` arrays deep.
fn deep_json() -> String {
    let mut s = String::with_capacity(2 * DEEP_LEVELS + 8);
    s.push_str("{\"a\":");
    s.extend(core::iter::repeat_n('[', DEEP_LEVELS));
    s.extend(core::iter::repeat_n(']', DEEP_LEVELS));
    s.push('}');
    s
}

fn ok() -> Result<Response, Error> {
    let stored = storage::put("ok", b"true")
        .and_then(|()| storage::get("ok"))
        .map_err(|e| Error::Internal(format!("storage failed: {e:?}")))?;
    if stored.as_deref() != Some(b"true".as_slice()) {
        return Err(Error::Internal(
            "storage did not return what was written".into(),
        ));
    }
    Ok(answer("{\"ok\":true}".to_string()))
}

fn storage_failure(e: storage::StorageError) -> Error {
    Error::Internal(format!("storage refused: {e:?}"))
}

fn big_then_trap() -> Result<Response, Error> {
    let chunk = vec![0x5Au8; 1 << 20];
    for i in 0..9 {
        storage::put(&format!("trap/big/{i}"), &chunk).map_err(storage_failure)?;
    }
    panic!("hostile engine panics after writing 9 MiB");
}

fn write_list_trap() -> Result<Response, Error> {
    storage::put("trap/listed", b"1").map_err(storage_failure)?;
    let listed = storage::list_keys("trap/").map_err(storage_failure)?;
    if !listed.iter().any(|k| k == "listed") {
        return Err(Error::Internal(format!(
            "the call's own write is missing from its listing: {listed:?}"
        )));
    }
    panic!("hostile engine panics after a write and a listing");
}

fn trapped() -> Result<Response, Error> {
    let trap = storage::list_keys("trap/").map_err(storage_failure)?;
    let big = storage::list_keys("trap/big/").map_err(storage_failure)?;
    let quote = |keys: Vec<String>| {
        keys.iter()
            .map(|k| format!("\"{k}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    Ok(answer(format!(
        r#"{{"trap":[{}],"big":[{}]}}"#,
        quote(trap),
        quote(big)
    )))
}

fn fill() -> Result<Response, Error> {
    let chunk = vec![0xC3u8; 64 << 10];
    let start = storage::list_keys("fill/").map_err(storage_failure)?.len();
    let mut written = 0usize;
    loop {
        match storage::put(&format!("fill/{}", start + written), &chunk) {
            Ok(()) => written += 1,
            Err(e) if written == 0 => return Err(storage_failure(e)),
            Err(e) => {
                let refusal = format!("{e:?}").replace('\\', "\\\\").replace('"', "\\\"");
                return Ok(answer(format!(
                    r#"{{"written":{written},"refusal":"{refusal}"}}"#
                )));
            }
        }
        if written > 100_000 {
            return Err(Error::Internal("storage never refused a write".into()));
        }
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

export!(Hostile);
