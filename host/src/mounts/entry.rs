//! One mount: its path, engine type and configuration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{SYSTEM_DEFAULT_TTL, SYSTEM_MAX_TTL};

/// Tunable settings of a mount (`config` in `sys/mounts`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MountConfig {
    /// Default lease TTL in seconds; 0 = the system default.
    #[serde(default)]
    pub default_lease_ttl: u64,
    /// Maximum lease TTL in seconds; 0 = the system maximum.
    #[serde(default)]
    pub max_lease_ttl: u64,
    /// Accepted and reported for compatibility; Coffer does not cache responses.
    #[serde(default)]
    pub force_no_cache: bool,
    /// `unauth` or `hidden` (empty = hidden).
    #[serde(default)]
    pub listing_visibility: String,
    /// Requested plugin version (empty = whatever is current).
    #[serde(default)]
    pub plugin_version: String,
}

/// A row of the mount table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MountEntry {
    /// Path with trailing slash, e.g. `secret/`.
    pub path: String,
    /// The engine type as given at enable time, normalised (`kv`, not `kv-v2`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Free-form description.
    #[serde(default)]
    pub description: String,
    /// Stable accessor, `<type>_<8 hex>`.
    pub accessor: String,
    /// Stable id; the mount's storage lives under `logical/<uuid>/`.
    pub uuid: String,
    /// Tunables.
    #[serde(default)]
    pub config: MountConfig,
    /// Engine options (kv's `version`).
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
    /// Accepted and reported for compatibility.
    #[serde(default)]
    pub local: bool,
    /// Accepted and reported for compatibility.
    #[serde(default)]
    pub seal_wrap: bool,
    /// Accepted and reported for compatibility.
    #[serde(default)]
    pub external_entropy_access: bool,
    /// The sha256 of the component serving this mount when it was last loaded.
    #[serde(default)]
    pub running_sha256: String,
    /// The version the component reports.
    #[serde(default)]
    pub running_version: String,
}

impl MountEntry {
    /// Storage prefix of the mount's engine data.
    pub fn storage_prefix(&self) -> String {
        format!("logical/{}/", self.uuid)
    }

    /// Effective default lease TTL.
    pub fn default_ttl(&self) -> u64 {
        match self.config.default_lease_ttl {
            0 => SYSTEM_DEFAULT_TTL.min(self.max_ttl()),
            n => n,
        }
    }

    /// Effective maximum lease TTL.
    pub fn max_ttl(&self) -> u64 {
        match self.config.max_lease_ttl {
            0 => SYSTEM_MAX_TTL,
            n => n,
        }
    }

    /// The mount info object of `sys/mounts` (TTLs 0 when not overridden).
    pub fn info_json(&self) -> Value {
        let mut config = json!({
            "default_lease_ttl": self.config.default_lease_ttl,
            "max_lease_ttl": self.config.max_lease_ttl,
            "force_no_cache": self.config.force_no_cache,
        });
        if !self.config.listing_visibility.is_empty() {
            config["listing_visibility"] = json!(self.config.listing_visibility);
        }
        json!({
            "accessor": self.accessor,
            "config": config,
            "description": self.description,
            "external_entropy_access": self.external_entropy_access,
            "local": self.local,
            "options": self.options,
            "plugin_version": self.config.plugin_version,
            "running_plugin_version": self.running_version,
            "running_sha256": self.running_sha256,
            "seal_wrap": self.seal_wrap,
            "type": self.kind,
            "uuid": self.uuid,
            "deprecation_status": "supported",
        })
    }

    /// The `sys/mounts/:path/tune` object (effective TTLs).
    pub fn tune_json(&self) -> Value {
        let mut v = json!({
            "description": self.description,
            "default_lease_ttl": self.default_ttl(),
            "max_lease_ttl": self.max_ttl(),
            "force_no_cache": self.config.force_no_cache,
        });
        if let Some(options) = &self.options {
            v["options"] = json!(options);
        }
        if !self.config.plugin_version.is_empty() {
            v["plugin_version"] = json!(self.config.plugin_version);
        }
        if !self.config.listing_visibility.is_empty() {
            v["listing_visibility"] = json!(self.config.listing_visibility);
        }
        v
    }
}
