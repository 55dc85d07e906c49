//! Audit devices: every request and response written to each enabled device before the
//! client sees the response.
//!
//! Failure semantics are Vault's: an entry is recorded when at least one enabled device
//! writes it (a failing device only logs a warning); when every device fails, the
//! request is refused (request entry) or its response replaced by a 500 (response
//! entry), so nothing happens unaudited. With no device enabled, logging costs one
//! atomic load.
//!
//! Modules: [`hash`] (HMAC keys, hashing of values), [`entry`] (the JSON entries),
//! [`device`] (options, one device), [`file`] (where lines go), [`table`] (persistence).

pub mod device;
pub mod entry;
pub mod file;
pub mod hash;
mod table;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::http::StatusCode;

use crate::api::{ApiError, LogicalRequest, LogicalResponse};
use crate::auth::Caller;
use crate::storage::{SharedBackend, StorageError};

use device::{Device, DeviceConfig};
use entry::{Entry, RequestFacts, ResponseFacts};
use hash::HmacKey;

/// Why an audit-device operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// No such device type.
    #[error("unknown backend type: {0:?}")]
    UnknownType(String),
    /// `file_path` was not given.
    #[error("file_path is required")]
    MissingFilePath,
    /// An option has a bad value.
    #[error("{0}")]
    InvalidOption(String),
    /// The device path is malformed.
    #[error("{0}")]
    InvalidPath(String),
    /// The path (or one nested with it) already has a device.
    #[error("path already in use")]
    PathInUse,
    /// The log file cannot be opened.
    #[error("failed to open audit file {path:?}: {source}")]
    Open {
        /// `file_path`.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The new device could not write its test entry (Vault's "failed test message").
    #[error("audit device failed test message: cannot write to {path:?}: {source}")]
    TestFailed {
        /// `file_path`.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// `sys/audit-hash` on a path without a device.
    #[error("unknown audit backend {0}")]
    UnknownDevice(String),
    /// Persisting the table failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The stored table cannot be decoded.
    #[error("stored audit table is corrupt: {0}")]
    Corrupt(String),
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        let status = match e {
            AuditError::Storage(_) | AuditError::Corrupt(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.to_string())
    }
}

/// Message of the 500 a request gets when no device could record it.
pub const AUDIT_FAILED: &str = "audit logging failed: no enabled audit device could write";

/// What a new device is enabled with (the body of `PUT sys/audit/<path>`).
#[derive(Debug, Clone, Default)]
pub struct EnableRequest {
    /// Device type (`file`).
    pub kind: String,
    /// Free text.
    pub description: String,
    /// Device options.
    pub options: BTreeMap<String, String>,
    /// Vault's `local` flag.
    pub local: bool,
}

type DeviceList = Arc<Vec<Arc<Device>>>;

/// The enabled audit devices.
pub struct AuditBroker {
    backend: SharedBackend,
    /// `devices` is non-empty: the one thing checked on the hot path.
    any: AtomicBool,
    /// Copy-on-write, so a log call holds the lock only to clone an `Arc`.
    devices: RwLock<DeviceList>,
    /// Serialises enable/disable (validate, persist, swap).
    changes: Mutex<()>,
}

impl AuditBroker {
    /// Loads the enabled devices from (barrier-encrypted) storage and opens their
    /// files.
    pub fn open(backend: SharedBackend) -> Result<Self, StorageError> {
        let loaded = table::load(&backend).map_err(into_storage_error)?;
        let mut devices = Vec::with_capacity(loaded.len());
        for d in loaded {
            let path = d.config.path.clone();
            match Device::restore(d.config, d.key) {
                Ok(dev) => devices.push(Arc::new(dev)),
                // Only possible if the stored options stopped parsing (a newer server
                // wrote them): refusing to start is safer than running unaudited.
                Err(e) => {
                    return Err(StorageError::Backend {
                        backend: "audit",
                        message: format!("cannot restore audit device {path}: {e}"),
                    });
                }
            }
        }
        if !devices.is_empty() {
            tracing::info!(count = devices.len(), "restored audit devices");
        }
        Ok(Self {
            backend,
            any: AtomicBool::new(!devices.is_empty()),
            devices: RwLock::new(Arc::new(devices)),
            changes: Mutex::new(()),
        })
    }

    fn snapshot(&self) -> DeviceList {
        match self.devices.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn replace(&self, list: Vec<Arc<Device>>) {
        let any = !list.is_empty();
        match self.devices.write() {
            Ok(mut g) => *g = Arc::new(list),
            Err(p) => *p.into_inner() = Arc::new(list),
        }
        self.any.store(any, Ordering::Release);
    }

    /// Enables a device at `raw_path`; `request_id` is the enabling request's id.
    pub fn enable(
        &self,
        raw_path: &str,
        spec: EnableRequest,
        request_id: Option<&str>,
    ) -> Result<(), AuditError> {
        let path = normalize_path(raw_path)?;
        let _changing = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.snapshot();
        if current
            .iter()
            .any(|d| d.config.path.starts_with(&path) || path.starts_with(&d.config.path))
        {
            return Err(AuditError::PathInUse);
        }
        let device = Device::create(
            DeviceConfig {
                path,
                kind: spec.kind,
                description: spec.description,
                options: spec.options,
                local: spec.local,
            },
            HmacKey::generate(),
            request_id.map(str::to_string),
        )?;
        // Opening is not enough (`/dev/full` opens): as Vault does, the device must
        // write a test entry before it is enabled, or every request after it would fail.
        device
            .write(&test_entry(&device))
            .map_err(|source| AuditError::TestFailed {
                path: device.options.file_path.clone(),
                source,
            })?;
        let mut next: Vec<Arc<Device>> = current.iter().cloned().collect();
        next.push(Arc::new(device));
        next.sort_by(|a, b| a.config.path.cmp(&b.config.path));
        // Persist first: a device that would vanish at restart must not be enabled.
        table::save(&self.backend, next.iter().map(|d| d.as_ref()))?;
        self.replace(next);
        Ok(())
    }

    /// Disables the device at `raw_path`; `false` if there was none.
    pub fn disable(&self, raw_path: &str) -> Result<bool, AuditError> {
        let path = normalize_path(raw_path)?;
        let _changing = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.snapshot();
        if !current.iter().any(|d| d.config.path == path) {
            return Ok(false);
        }
        let next: Vec<Arc<Device>> = current
            .iter()
            .filter(|d| d.config.path != path)
            .cloned()
            .collect();
        table::save(&self.backend, next.iter().map(|d| d.as_ref()))?;
        self.replace(next);
        Ok(true)
    }

    /// `(path, listing)` of every device, sorted by path.
    pub fn list(&self) -> Vec<(String, serde_json::Value)> {
        self.snapshot()
            .iter()
            .map(|d| (d.config.path.clone(), d.info_json()))
            .collect()
    }

    /// `hmac-sha256:<hex>` of `input` with the key of the device at `raw_path`.
    pub fn hash(&self, raw_path: &str, input: &str) -> Result<String, AuditError> {
        let path = normalize_path(raw_path)?;
        self.snapshot()
            .iter()
            .find(|d| d.config.path == path)
            .map(|d| d.key.hash(input))
            .ok_or(AuditError::UnknownDevice(path))
    }

    /// Writes the request entry; an error means no enabled device could write it and the
    /// request must fail.
    pub fn log_request(
        &self,
        req: &LogicalRequest,
        caller: Option<&Caller>,
        auth_error: Option<&ApiError>,
    ) -> Result<(), ApiError> {
        if !self.any.load(Ordering::Acquire) {
            return Ok(());
        }
        let devices = self.snapshot();
        let time = now();
        let facts = RequestFacts::new(req, caller);
        let error = auth_error.map(entry::error_text);
        write_all(
            &devices,
            "request",
            |_| true,
            |d| facts.request_entry(&time, error.as_deref(), &d.hasher()),
        )
    }

    /// Writes the response entry before the response is sent; an error means no enabled
    /// device could write it and the client must get that error instead.
    pub fn log_response(
        &self,
        req: &LogicalRequest,
        caller: Option<&Caller>,
        resp: &LogicalResponse,
    ) -> Result<(), ApiError> {
        if !self.any.load(Ordering::Acquire) {
            return Ok(());
        }
        let devices = self.snapshot();
        let time = now();
        let facts = RequestFacts::new(req, caller);
        let resp_facts = ResponseFacts::new(resp);
        write_all(
            &devices,
            "response",
            |d| d.enabled_by.as_deref() != Some(req.id.as_str()),
            |d| facts.response_entry(&time, &resp_facts, &d.hasher()),
        )
    }
}

/// The entry a device writes when enabled: a request entry for `sys/audit/test`, as
/// Vault's test message.
fn test_entry(device: &Device) -> Entry {
    let probe = LogicalRequest {
        id: uuid::Uuid::new_v4().to_string(),
        operation: crate::api::Operation::Update,
        path: "sys/audit/test".to_string(),
        data: serde_json::Map::new(),
        token: None,
        help: false,
        remote_address: None,
        bench_native: false,
    };
    RequestFacts::new(&probe, None).request_entry(&now(), None, &device.hasher())
}

/// Whether `req` may proceed although no audit device could record it: disabling an
/// audit device (`DELETE sys/audit/<path>`). Without this, one broken device (a full
/// disk) would lock every operator out of the one call that repairs it, across
/// restarts. The caller still needs `sudo` on the path (the ACL runs as usual); the
/// server log records that the request went unaudited.
pub fn may_bypass_audit_failure(req: &LogicalRequest) -> bool {
    req.operation == crate::api::Operation::Delete
        && req
            .path
            .strip_prefix("sys/audit/")
            .is_some_and(|rest| !rest.trim_matches('/').is_empty())
}

/// Writes one entry to every device `wanted`; fails only if some device was tried and
/// none succeeded.
fn write_all(
    devices: &[Arc<Device>],
    kind: &'static str,
    wanted: impl Fn(&Device) -> bool,
    build: impl Fn(&Device) -> Entry,
) -> Result<(), ApiError> {
    let mut tried = 0usize;
    let mut written = 0usize;
    for d in devices.iter().filter(|d| wanted(d)) {
        tried += 1;
        match d.write(&build(d)) {
            Ok(()) => written += 1,
            // Only the device path and the OS error: never entry contents.
            Err(e) => tracing::warn!(device = %d.config.path, error = %e,
                "audit device failed to write a {kind} entry"),
        }
    }
    if tried > 0 && written == 0 {
        tracing::error!("no audit device could write the {kind} entry; refusing the request");
        return Err(ApiError::internal(format!("{AUDIT_FAILED} the {kind}")));
    }
    Ok(())
}

fn now() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    crate::util::time::rfc3339_nanos(nanos)
}

/// Normalises a device path to `a/b/` as Vault stores it.
pub fn normalize_path(raw: &str) -> Result<String, AuditError> {
    let trimmed = raw.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Err(AuditError::InvalidPath(
            "audit device path cannot be empty".into(),
        ));
    }
    if trimmed
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(AuditError::InvalidPath(format!(
            "invalid audit device path {raw:?}"
        )));
    }
    Ok(format!("{trimmed}/"))
}

fn into_storage_error(e: AuditError) -> StorageError {
    match e {
        AuditError::Storage(s) => s,
        other => StorageError::Backend {
            backend: "audit",
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests;
