//! A native (non-wasm) kv v2 `data/<path>` reader. It exists only as the benchmark
//! ceiling for the wasm path (`benches/http_load.rs`, "read (native)"): the same read,
//! after the same token, audit and ACL steps, from the same barrier-encrypted mount
//! storage, answered by host code instead of the kv engine.
//!
//! It is reachable only when the server runs with the hidden `-bench-native-kv` flag
//! and the request carries `X-Coffer-Bench-Native: 1` (see
//! [`crate::api::LogicalRequest::bench_native`]). It serves just the plain case and
//! leaves everything else (another engine, kv v1, `?help`, parameters other than
//! `version`, odd paths) to the engine, so it never has to copy the engine's edge
//! cases.
//!
//! It reads the engine's storage layout (`engines/kv/src/layout.rs`) with its own
//! minimal serde types rather than depending on the kv crate, whose model is private and
//! built for the wasm SDK. The answer matches `engines/kv/src/v2/data.rs::read`: `data`
//! plus `metadata {created_time, custom_metadata, deletion_time, destroyed, version}`;
//! a deleted or destroyed version is a `404` carrying the metadata and `"data": null`; a
//! missing secret or version is a bare `404` (`tests/bench_native_kv.rs` checks the
//! bodies are identical). The version's data is passed through as stored JSON text,
//! which is what a native handler would do; the engine parses and re-serialises it,
//! which for the compact, key-sorted JSON it writes gives the same bytes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::api::{ApiError, LogicalRequest, LogicalResponse, Operation};
use crate::app::App;
use crate::mounts::MountHandle;
use crate::util::time::rfc3339_nanos;

/// Reads answered here since the process started: lets the test prove which handler
/// answered, since the bodies are (by design) identical.
static SERVED: AtomicU64 = AtomicU64::new(0);

/// How many reads the native kv reader has answered in this process (tests).
pub fn served() -> u64 {
    SERVED.load(Ordering::Relaxed)
}

/// The first byte of the engine's binary metadata record
/// (`engines/kv/src/layout.rs`, `METADATA_RECORD_V1`); a JSON record starts with `{`.
const METADATA_RECORD_V1: u8 = 1;

/// What the kv engine keeps per secret at `v2/metadata/<path>`. The binary form is
/// postcard, which has no field names: every field of the engine's `KeyMetadata` is
/// here, in its order, though a data read uses only three (the `_` ones are read past).
#[derive(Deserialize, Default)]
#[serde(default)]
struct KeyMetadata {
    versions: BTreeMap<u64, VersionMeta>,
    current_version: u64,
    _oldest_version: u64,
    _created_time: Option<u64>,
    _updated_time: Option<u64>,
    _max_versions: u32,
    _cas_required: bool,
    _delete_version_after: i64,
    custom_metadata: BTreeMap<String, String>,
}

impl KeyMetadata {
    fn decode(key: &str, bytes: &[u8]) -> Result<Self, ApiError> {
        let corrupt = |e: &dyn std::fmt::Display| {
            ApiError::internal(format!("stored entry {key:?} is corrupt: {e}"))
        };
        match bytes.split_first() {
            Some((&METADATA_RECORD_V1, record)) => {
                postcard::from_bytes(record).map_err(|e| corrupt(&e))
            }
            _ => serde_json::from_slice(bytes).map_err(|e| corrupt(&e)),
        }
    }
}

/// One version's record inside [`KeyMetadata`].
#[derive(Deserialize, Default)]
#[serde(default)]
struct VersionMeta {
    created_time: u64,
    deletion_time: Option<u64>,
    destroyed: bool,
}

/// The answer's `data`; fields in the engine's (sorted) order.
#[derive(Serialize)]
struct Shown<'a> {
    data: Option<&'a RawValue>,
    metadata: ShownVersion<'a>,
}

#[derive(Serialize)]
struct ShownVersion<'a> {
    created_time: String,
    /// Vault shows no custom metadata as `null`, not `{}`.
    custom_metadata: Option<&'a BTreeMap<String, String>>,
    deletion_time: String,
    destroyed: bool,
    version: u64,
}

/// Answers `req` natively if it is a kv v2 `data/<path>` read this module serves;
/// `None` hands it to the engine as usual. `rest` is the path inside the mount.
pub fn read(
    app: &App,
    handle: &MountHandle,
    req: &LogicalRequest,
    rest: &str,
) -> Option<LogicalResponse> {
    if !req.bench_native || req.help || req.operation != Operation::Read {
        return None;
    }
    let entry = &handle.entry;
    let is_kv_v2 = entry.kind == "kv"
        && entry
            .options
            .as_ref()
            .and_then(|o| o.get("version"))
            .is_some_and(|v| v == "2");
    if !is_kv_v2 {
        return None;
    }
    // `data/a/` is the engine's unsupported path, `data/` not a secret.
    let path = rest
        .strip_prefix("data/")
        .filter(|p| !p.is_empty() && !p.ends_with('/'))?;
    let asked = match req.data.len() {
        0 => 0,
        1 => requested_version(req.field("version")?)?,
        _ => return None,
    };
    SERVED.fetch_add(1, Ordering::Relaxed);
    Some(answer(app, handle, path, asked).unwrap_or_else(LogicalResponse::from))
}

/// `?version=`: an integer (as text from the query, or a JSON number); anything else
/// is the engine's to reject.
fn requested_version(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn answer(
    app: &App,
    handle: &MountHandle,
    path: &str,
    asked: i64,
) -> Result<LogicalResponse, ApiError> {
    let storage_failed = |e: crate::storage::StorageError| ApiError::internal(e.to_string());
    let meta_key = format!("v2/metadata/{path}");
    let Some(bytes) = handle.storage.get(&meta_key).map_err(storage_failed)? else {
        return Err(ApiError::not_found());
    };
    let meta = KeyMetadata::decode(&meta_key, &bytes)?;
    // As the engine: a positive `version` picks it, anything else means the current.
    let version = u64::try_from(asked)
        .ok()
        .filter(|v| *v > 0)
        .unwrap_or(meta.current_version);
    let Some(vm) = meta.versions.get(&version) else {
        return Err(ApiError::not_found());
    };
    let now = app.leases_now();
    // A deletion time equal to now counts as deleted, as in the engine.
    let live = !vm.destroyed && vm.deletion_time.is_none_or(|t| t > now);
    let data = if live {
        let version_key = format!("v2/versions/{path}/{version}");
        let stored = handle
            .storage
            .get(&version_key)
            .map_err(storage_failed)?
            .ok_or_else(|| ApiError::internal("could not find version data"))?;
        Some((version_key, stored))
    } else {
        None
    };
    let text = render(
        &meta,
        version,
        vm,
        data.as_ref().map(|(k, v)| (k.as_str(), &v[..])),
    )?;
    let status = if live {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok(super::engine::envelope(
        handle,
        status,
        Some(text),
        0,
        Vec::new(),
    ))
}

/// The answer's `data` for version `version` (`vm`) of the record `meta`, with the
/// version's stored JSON `(key, bytes)` when it is live.
fn render(
    meta: &KeyMetadata,
    version: u64,
    vm: &VersionMeta,
    stored: Option<(&str, &[u8])>,
) -> Result<Box<RawValue>, ApiError> {
    let data: Option<&RawValue> = stored
        .map(|(key, bytes)| {
            serde_json::from_slice(bytes)
                .map_err(|e| ApiError::internal(format!("stored entry {key:?} is corrupt: {e}")))
        })
        .transpose()?;
    // Serialised straight into a `RawValue`: no parse of our own output.
    serde_json::value::to_raw_value(&Shown {
        data,
        metadata: ShownVersion {
            created_time: rfc3339_nanos(vm.created_time),
            custom_metadata: (!meta.custom_metadata.is_empty()).then_some(&meta.custom_metadata),
            deletion_time: vm.deletion_time.map(rfc3339_nanos).unwrap_or_default(),
            destroyed: vm.destroyed,
            version,
        },
    })
    .map_err(|e| ApiError::internal(e.to_string()))
}

/// The answer's `data` for the current version of the stored record `record`, whose
/// data is `stored`: what this reader does between its two storage reads, without a
/// server around it. The in-process native baseline of `benches/request_path.rs`.
pub fn render_current(record: &[u8], stored: &[u8]) -> Result<Box<RawValue>, ApiError> {
    let meta = KeyMetadata::decode("record", record)?;
    let vm = meta
        .versions
        .get(&meta.current_version)
        .ok_or_else(ApiError::not_found)?;
    render(&meta, meta.current_version, vm, Some(("data", stored)))
}
