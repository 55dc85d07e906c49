//! The persisted device table (`core/audit`): configurations with their HMAC keys.
//!
//! It lives in the backend the broker is given, which is the encrypting barrier, so
//! the keys are encrypted at rest. The serialised bytes are wiped after use; serde's
//! own intermediate copies cannot be, so this is best effort.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::AuditError;
use super::device::{Device, DeviceConfig};
use super::hash::HmacKey;
use crate::storage::SharedBackend;

/// Storage key of the table (Vault's name).
pub const TABLE_KEY: &str = "core/audit";

#[derive(Serialize, Deserialize)]
struct StoredTable {
    entries: Vec<StoredDevice>,
}

#[derive(Serialize, Deserialize)]
struct StoredDevice {
    path: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    options: BTreeMap<String, String>,
    #[serde(default)]
    local: bool,
    /// Hex of the 32-byte HMAC key.
    hmac_key: String,
}

impl Drop for StoredDevice {
    fn drop(&mut self) {
        self.hmac_key.zeroize();
    }
}

/// A device as loaded: configuration and key.
pub struct LoadedDevice {
    /// Configuration.
    pub config: DeviceConfig,
    /// Key.
    pub key: HmacKey,
}

/// Reads the table (empty when never written).
pub fn load(backend: &SharedBackend) -> Result<Vec<LoadedDevice>, AuditError> {
    let Some(bytes) = backend.get(TABLE_KEY)? else {
        return Ok(Vec::new());
    };
    let bytes = Zeroizing::new(bytes);
    let table: StoredTable =
        serde_json::from_slice(&bytes).map_err(|e| AuditError::Corrupt(e.to_string()))?;
    table
        .entries
        .iter()
        .map(|d| {
            let raw =
                Zeroizing::new(hex::decode(&d.hmac_key).map_err(|_| {
                    AuditError::Corrupt(format!("device {}: key is not hex", d.path))
                })?);
            let key = HmacKey::from_bytes(&raw).ok_or_else(|| {
                AuditError::Corrupt(format!("device {}: key has the wrong length", d.path))
            })?;
            Ok(LoadedDevice {
                config: DeviceConfig {
                    path: d.path.clone(),
                    kind: d.kind.clone(),
                    description: d.description.clone(),
                    options: d.options.clone(),
                    local: d.local,
                },
                key,
            })
        })
        .collect()
}

/// Writes the table for `devices`.
pub fn save<'a>(
    backend: &SharedBackend,
    devices: impl Iterator<Item = &'a Device>,
) -> Result<(), AuditError> {
    let table = StoredTable {
        entries: devices
            .map(|d| StoredDevice {
                path: d.config.path.clone(),
                kind: d.config.kind.clone(),
                description: d.config.description.clone(),
                options: d.config.options.clone(),
                local: d.config.local,
                hmac_key: hex::encode(d.key.as_bytes()),
            })
            .collect(),
    };
    // Sized up front so the buffer holding the keys is not reallocated (which would
    // leave unwiped copies behind) for any realistic table.
    let mut bytes = Zeroizing::new(Vec::with_capacity(4096 + 1024 * table.entries.len()));
    serde_json::to_writer(&mut *bytes, &table).map_err(|e| AuditError::Corrupt(e.to_string()))?;
    backend.put(TABLE_KEY, &bytes)?;
    Ok(())
}
