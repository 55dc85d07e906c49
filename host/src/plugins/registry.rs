//! The plugin catalog (`sys/plugins/catalog/secret/NAME`): registered plugins, by name
//! and version, kept in barrier-encrypted storage, and the components they name.
//!
//! A registration names a component either by `command` (a file in the plugin
//! directory) or by uploading it; uploads are stored content-addressed by sha256
//! (`core/plugin-components/<sha256>`). Every load re-reads the bytes and checks them
//! against the registered digest, so a file replaced behind the catalog's back is
//! refused (`checksums did not match`) instead of run.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::version::{canonical_version, compare_versions};
use super::{EngineCatalog, PluginError};
use crate::runtime::{Capability, Limits, LoadedEngine, sha256_hex};
use crate::storage::SharedBackend;

/// Storage prefix of catalog records: `<prefix><name>/<version>`.
const RECORDS: &str = "core/plugin-catalog/secret/";
/// Storage prefix of uploaded components: `<prefix><sha256>`.
const COMPONENTS: &str = "core/plugin-components/";

/// One registered version of a plugin.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PluginRecord {
    /// Plugin name (what `sys/mounts` `type` refers to).
    pub name: String,
    /// Canonical version, `v1.2.3`.
    pub version: String,
    /// Hex sha256 of the component.
    pub sha256: String,
    /// File name in the plugin directory; empty for an uploaded component.
    #[serde(default)]
    pub command: String,
    /// Capabilities granted (`aws`).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Per-call memory limit in bytes; 0 = the server default.
    #[serde(default)]
    pub memory_limit: u64,
    /// Per-call deadline in milliseconds; 0 = the server default.
    #[serde(default)]
    pub timeout_ms: u64,
    /// Most bytes each mount of the plugin may store; 0 = the default
    /// ([`crate::runtime::DEFAULT_STORAGE_QUOTA`]).
    #[serde(default)]
    pub storage_quota: u64,
    /// Calls of one mount that may run at once; 0 = the server default.
    #[serde(default)]
    pub max_concurrent_calls: u64,
    /// The name the component reports in `info()`.
    #[serde(default)]
    pub engine_name: String,
    /// The description the component reports in `info()`.
    #[serde(default)]
    pub description: String,
}

impl PluginRecord {
    /// Whether the component was uploaded (rather than named by `command`).
    pub fn uploaded(&self) -> bool {
        self.command.is_empty()
    }

    /// The limits calls of this plugin run under, given the server defaults.
    pub fn limits(&self, defaults: Limits) -> Limits {
        Limits {
            memory_bytes: match self.memory_limit {
                0 => defaults.memory_bytes,
                n => usize::try_from(n).unwrap_or(usize::MAX),
            },
            timeout: match self.timeout_ms {
                0 => defaults.timeout,
                n => Duration::from_millis(n),
            },
            storage_quota: match self.storage_quota {
                0 => crate::runtime::DEFAULT_STORAGE_QUOTA,
                n => n,
            },
            max_concurrent_calls: match self.max_concurrent_calls {
                0 => defaults.max_concurrent_calls,
                n => usize::try_from(n).unwrap_or(usize::MAX),
            },
            ..defaults
        }
    }

    fn granted(&self) -> Result<Vec<Capability>, PluginError> {
        parse_capabilities(&self.capabilities)
    }
}

/// Parses capability names, refusing unknown ones.
pub fn parse_capabilities(names: &[String]) -> Result<Vec<Capability>, PluginError> {
    names
        .iter()
        .map(|n| {
            Capability::parse(n.trim()).ok_or_else(|| {
                PluginError::Invalid(format!("unknown capability {n:?} (known: aws)"))
            })
        })
        .collect()
}

/// A registration (`PUT sys/plugins/catalog/secret/NAME`).
#[derive(Debug, Clone, Default)]
pub struct RegisterRequest {
    /// Plugin name.
    pub name: String,
    /// Claimed hex sha256 of the component.
    pub sha256: String,
    /// Requested version; empty = whatever the component reports.
    pub version: String,
    /// File name in the plugin directory (when not uploading).
    pub command: String,
    /// The component itself, when uploaded.
    pub component: Option<Vec<u8>>,
    /// Capabilities to grant.
    pub capabilities: Vec<String>,
    /// Per-call memory limit in bytes; 0 = default.
    pub memory_limit: u64,
    /// Per-call deadline; zero = default.
    pub timeout: Duration,
    /// Most bytes each mount may store; 0 = default.
    pub storage_quota: u64,
    /// Calls of one mount that may run at once; 0 = default.
    pub max_concurrent_calls: u64,
}

/// What a reload of one mount did.
#[derive(Debug, Clone)]
pub struct ReloadReport {
    /// The mount path.
    pub mount: String,
    /// Version running before.
    pub from_version: String,
    /// Version running now.
    pub to_version: String,
    /// Digest running now.
    pub to_sha256: String,
    /// Whether the compiled code came from the on-disk cache.
    pub from_cache: bool,
    /// Time from the start of the reload until the new engine served the mount.
    pub elapsed: Duration,
}

/// Registered plugins, in barrier storage, and how to load them.
pub struct PluginRegistry {
    backend: SharedBackend,
    catalog: Arc<EngineCatalog>,
    /// Serialises record writes (never held across a compile).
    writes: tokio::sync::Mutex<()>,
}

impl PluginRegistry {
    /// The catalog over `backend` (the barrier), loading through `catalog`.
    pub fn new(backend: SharedBackend, catalog: Arc<EngineCatalog>) -> Self {
        Self {
            backend,
            catalog,
            writes: tokio::sync::Mutex::new(()),
        }
    }

    /// The process-wide engine catalog (built-ins, compiled-code sharing).
    pub fn catalog(&self) -> &Arc<EngineCatalog> {
        &self.catalog
    }

    /// Registers a plugin version: reads (or takes) the component, verifies its digest,
    /// compiles it, checks its imports against the granted capabilities, asks it for its
    /// version and records it. Returns the record, the loaded engine and warnings.
    pub async fn register(
        &self,
        req: RegisterRequest,
    ) -> Result<(PluginRecord, Arc<LoadedEngine>, Vec<String>), PluginError> {
        check_name(&req.name)?;
        let expected = check_digest(&req.sha256)?;
        let capabilities: Vec<String> = {
            let mut c: Vec<String> = req
                .capabilities
                .iter()
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
            c.sort();
            c.dedup();
            c
        };
        let granted = parse_capabilities(&capabilities)?;
        self.check_limits(&req)?;
        let requested = match req.version.trim() {
            "" => None,
            v => Some(canonical_version(v).ok_or_else(|| {
                PluginError::Invalid(format!(
                    "version {v:?} is not a valid semantic version (e.g. v1.2.0)"
                ))
            })?),
        };
        if requested.as_deref().is_some_and(|v| v.contains("+builtin")) {
            return Err(PluginError::Invalid(
                "version metadata \"+builtin\" is reserved for built-in plugins".into(),
            ));
        }
        let (bytes, command) = match req.component {
            Some(bytes) => (bytes, String::new()),
            None => {
                let command = req
                    .command
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string();
                if command.is_empty() {
                    return Err(PluginError::Invalid("missing command value".into()));
                }
                let path = self.command_path(&req.name, &command)?;
                (read_file(&req.name, path).await?, command)
            }
        };
        let actual = sha256_hex(&bytes);
        if actual != expected {
            return Err(PluginError::ChecksumMismatch {
                name: req.name,
                expected,
                actual,
            });
        }
        let mut record = PluginRecord {
            name: req.name.clone(),
            version: String::new(),
            sha256: actual,
            command,
            capabilities,
            memory_limit: req.memory_limit,
            timeout_ms: u64::try_from(req.timeout.as_millis()).unwrap_or(u64::MAX),
            storage_quota: req.storage_quota,
            max_concurrent_calls: req.max_concurrent_calls,
            engine_name: String::new(),
            description: String::new(),
        };
        let limits = record.limits(self.catalog.default_limits());
        let engine = self
            .catalog
            .load_component(&req.name, &bytes, limits, &granted)
            .await?;
        let reported = canonical_version(&engine.info.version);
        let version = match (requested, reported) {
            (Some(req_v), Some(rep)) if req_v != rep => {
                return Err(PluginError::VersionMismatch {
                    name: req.name,
                    reported: rep,
                    requested: req_v,
                });
            }
            (Some(req_v), None) => {
                return Err(PluginError::VersionMismatch {
                    name: req.name,
                    reported: engine.info.version.clone(),
                    requested: req_v,
                });
            }
            (_, Some(rep)) => rep,
            (None, None) => {
                return Err(PluginError::Invalid(format!(
                    "the component reports version {:?}, which is not a semantic version; it cannot be registered",
                    engine.info.version
                )));
            }
        };
        let mut warnings = Vec::new();
        if engine.info.name != req.name {
            warnings.push(format!(
                "the component calls itself {:?}; it is registered as {:?}",
                engine.info.name, req.name
            ));
        }
        record.version = version;
        record.engine_name = engine.info.name.clone();
        record.description = engine.info.description.clone();
        let _writes = self.writes.lock().await;
        if record.uploaded() {
            let key = format!("{COMPONENTS}{}", record.sha256);
            if self.backend.get(&key)?.is_none() {
                self.backend.put(&key, &bytes)?;
            }
        }
        let text = serde_json::to_vec(&record)
            .map_err(|e| PluginError::Invalid(format!("cannot encode the record: {e}")))?;
        self.backend
            .put(&record_key(&record.name, &record.version), &text)?;
        tracing::info!(plugin = %record.name, version = %record.version, sha256 = %record.sha256, "registered plugin");
        Ok((record, engine, warnings))
    }

    /// Names of every registered plugin, sorted.
    pub fn names(&self) -> Result<Vec<String>, PluginError> {
        Ok(self
            .backend
            .list(RECORDS)?
            .into_iter()
            .filter_map(|k| k.strip_suffix('/').map(str::to_string))
            .collect())
    }

    /// Every registered version of `name`, oldest first.
    pub fn versions(&self, name: &str) -> Result<Vec<PluginRecord>, PluginError> {
        if check_name(name).is_err() {
            return Ok(Vec::new());
        }
        let prefix = format!("{RECORDS}{name}/");
        let mut out = Vec::new();
        for version in self.backend.list(&prefix)? {
            if version.ends_with('/') {
                continue;
            }
            if let Some(bytes) = self.backend.get(&format!("{prefix}{version}"))? {
                match serde_json::from_slice::<PluginRecord>(&bytes) {
                    Ok(r) => out.push(r),
                    Err(e) => {
                        tracing::error!(plugin = name, version, error = %e, "corrupt plugin catalog record")
                    }
                }
            }
        }
        out.sort_by(|a, b| compare_versions(&a.version, &b.version));
        Ok(out)
    }

    /// The record of `name` at `version`, or its newest version when `version` is empty.
    pub fn get(&self, name: &str, version: &str) -> Result<Option<PluginRecord>, PluginError> {
        let versions = self.versions(name)?;
        if version.trim().is_empty() {
            return Ok(versions.into_iter().next_back());
        }
        let Some(wanted) = canonical_version(version) else {
            return Ok(None);
        };
        Ok(versions.into_iter().find(|r| r.version == wanted))
    }

    /// Removes `name` at `version` (every version when empty), refusing versions that
    /// `in_use` says are running somewhere. Returns what was removed.
    pub async fn delete(
        &self,
        name: &str,
        version: &str,
        in_use: impl Fn(&PluginRecord) -> Vec<String>,
    ) -> Result<Vec<PluginRecord>, PluginError> {
        let _writes = self.writes.lock().await;
        let all = self.versions(name)?;
        let doomed: Vec<PluginRecord> = if version.trim().is_empty() {
            all.clone()
        } else {
            let wanted = canonical_version(version).unwrap_or_default();
            all.iter()
                .filter(|r| r.version == wanted)
                .cloned()
                .collect()
        };
        for record in &doomed {
            let mounts = in_use(record);
            if !mounts.is_empty() {
                return Err(PluginError::InUse {
                    name: record.name.clone(),
                    version: record.version.clone(),
                    mounts: mounts.join(", "),
                });
            }
        }
        for record in &doomed {
            self.backend
                .delete(&record_key(&record.name, &record.version))?;
        }
        // Drop uploaded components no record refers to any more.
        let remaining: Vec<String> = self
            .names()?
            .iter()
            .flat_map(|n| self.versions(n).unwrap_or_default())
            .map(|r| r.sha256)
            .collect();
        for record in &doomed {
            if record.uploaded() && !remaining.contains(&record.sha256) {
                self.backend
                    .delete(&format!("{COMPONENTS}{}", record.sha256))?;
            }
        }
        Ok(doomed)
    }

    /// Loads a registered version, verifying the component's digest first.
    pub async fn load_record(
        &self,
        record: &PluginRecord,
    ) -> Result<Arc<LoadedEngine>, PluginError> {
        let bytes = if record.uploaded() {
            self.backend
                .get(&format!("{COMPONENTS}{}", record.sha256))?
                .ok_or_else(|| {
                    PluginError::Invalid(format!(
                        "the uploaded component of plugin {} {} (sha256 {}) is missing from storage",
                        record.name, record.version, record.sha256
                    ))
                })?
        } else {
            let path = self.command_path(&record.name, &record.command)?;
            read_file(&record.name, path).await?
        };
        let actual = sha256_hex(&bytes);
        if actual != record.sha256 {
            return Err(PluginError::ChecksumMismatch {
                name: record.name.clone(),
                expected: record.sha256.clone(),
                actual,
            });
        }
        let limits = record.limits(self.catalog.default_limits());
        self.catalog
            .load_component(&record.name, &bytes, limits, &record.granted()?)
            .await
    }

    /// The engine a mount of type `kind` should run: the requested version when one is
    /// given (registered, or the built-in's own version), otherwise the newest
    /// registered version, otherwise the built-in or plugin-directory engine.
    pub async fn load_for(
        &self,
        kind: &str,
        requested: &str,
    ) -> Result<Arc<LoadedEngine>, PluginError> {
        let requested = requested.trim();
        if requested.is_empty() {
            return match self.get(kind, "")? {
                Some(record) => self.load_record(&record).await,
                None => self.catalog.load(kind).await,
            };
        }
        let wanted = canonical_version(requested).ok_or_else(|| {
            PluginError::Invalid(format!(
                "plugin_version {requested:?} is not a valid semantic version"
            ))
        })?;
        if let Some(record) = self.get(kind, &wanted)? {
            return self.load_record(&record).await;
        }
        let unknown = || PluginError::UnknownVersion {
            name: kind.to_string(),
            version: wanted.clone(),
        };
        match self.catalog.load(kind).await {
            Ok(engine) if canonical_version(&engine.info.version).as_deref() == Some(&wanted) => {
                Ok(engine)
            }
            Ok(_) | Err(PluginError::Unknown(_)) => Err(unknown()),
            Err(e) => Err(e),
        }
    }

    /// Refuses limits the runtime cannot honour, naming the limit and its cap, rather
    /// than recording a promise that is silently not kept.
    fn check_limits(&self, req: &RegisterRequest) -> Result<(), PluginError> {
        let ceiling = Limits::memory_ceiling(self.catalog.default_limits().memory_bytes);
        let ceiling_u64 = u64::try_from(ceiling).unwrap_or(u64::MAX);
        if req.memory_limit > ceiling_u64 {
            return Err(PluginError::Invalid(format!(
                "memory_limit {} exceeds the cap of {} ({ceiling_u64} bytes) for one engine instance",
                show_bytes(req.memory_limit),
                show_bytes(ceiling_u64),
            )));
        }
        if req.timeout > Limits::MAX_TIMEOUT {
            return Err(PluginError::Invalid(format!(
                "timeout {}s exceeds the cap of {}s for one engine call",
                req.timeout.as_secs(),
                Limits::MAX_TIMEOUT.as_secs()
            )));
        }
        Ok(())
    }

    /// `command` resolved inside the plugin directory; refuses names that would leave it.
    fn command_path(&self, name: &str, command: &str) -> Result<PathBuf, PluginError> {
        let dir = self.catalog.plugin_dir().ok_or_else(|| {
            PluginError::Invalid(
                "no plugin directory is configured (plugin_directory / -dev-plugin-dir); upload the component instead".into(),
            )
        })?;
        if command.contains('/') || command.contains('\\') || command == ".." || command == "." {
            return Err(PluginError::Invalid(format!(
                "command {command:?} must be a file name in the plugin directory"
            )));
        }
        let path = dir.join(command);
        let resolved = path.canonicalize().map_err(|e| PluginError::Read {
            name: name.to_string(),
            path: path.display().to_string(),
            cause: e.to_string(),
        })?;
        let root = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        if !resolved.starts_with(&root) {
            return Err(PluginError::Invalid(format!(
                "command {command:?} resolves outside the plugin directory"
            )));
        }
        Ok(resolved)
    }
}

/// Bytes for a message: `64 GiB`, `1 MiB`, or plain bytes.
fn show_bytes(n: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= size && n.is_multiple_of(size) {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} bytes")
}

fn record_key(name: &str, version: &str) -> String {
    format!("{RECORDS}{name}/{version}")
}

/// Plugin names: letters, digits, `-`, `_`, `.`; not starting with `.`.
fn check_name(name: &str) -> Result<(), PluginError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(PluginError::Invalid(format!(
            "invalid plugin name {name:?}: use letters, digits, '-', '_' and '.'"
        )))
    }
}

/// Vault's digest checks: present, hex, 32 bytes. Returns it lowercased.
fn check_digest(sha256: &str) -> Result<String, PluginError> {
    let sha256 = sha256.trim();
    if sha256.is_empty() {
        return Err(PluginError::Invalid("missing SHA-256 value".into()));
    }
    match hex::decode(sha256) {
        Ok(b) if b.len() == 32 => Ok(sha256.to_ascii_lowercase()),
        Ok(_) => Err(PluginError::Invalid(
            "SHA-256 value must be 64 hex digits (32 bytes)".into(),
        )),
        Err(_) => Err(PluginError::Invalid(
            "Could not decode SHA-256 value from Hex".into(),
        )),
    }
}

/// Reads a component file off the async workers.
async fn read_file(name: &str, path: PathBuf) -> Result<Vec<u8>, PluginError> {
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || std::fs::read(&path))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
        .map_err(|cause| PluginError::Read {
            name: name.to_string(),
            path: shown,
            cause,
        })
}

/// Whether `path` is a `NAME.wasm` file directly in a plugin directory, and its name.
pub(super) fn plugin_file_name(path: &Path) -> Option<String> {
    if path.extension().and_then(|e| e.to_str()) != Some("wasm") {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    check_name(stem).ok()?;
    Some(stem.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked_like_vault() {
        assert!(
            matches!(check_digest(""), Err(PluginError::Invalid(m)) if m == "missing SHA-256 value")
        );
        assert!(
            matches!(check_digest("zz"), Err(PluginError::Invalid(m)) if m.contains("from Hex"))
        );
        assert!(check_digest("abcd").is_err());
        let d = "A".repeat(64);
        assert_eq!(check_digest(&d).ok(), Some("a".repeat(64)));
    }

    #[test]
    fn names_cannot_escape() {
        assert!(check_name("my-engine_1.2").is_ok());
        assert!(check_name("../x").is_err());
        assert!(check_name(".hidden").is_err());
        assert!(check_name("").is_err());
    }

    #[tokio::test]
    async fn impossible_limits_are_refused_naming_the_limit_and_the_cap() {
        let Ok(runtime) = crate::runtime::Runtime::new(crate::runtime::RuntimeConfig::default())
        else {
            panic!("runtime");
        };
        let Ok(catalog) = EngineCatalog::new(runtime, None, true) else {
            panic!("catalog");
        };
        let registry = PluginRegistry::new(
            Arc::new(crate::storage::MemoryBackend::new()),
            Arc::new(catalog),
        );
        let base = RegisterRequest {
            name: "greedy".into(),
            sha256: "a".repeat(64),
            component: Some(vec![0]),
            ..RegisterRequest::default()
        };
        let Err(PluginError::Invalid(m)) = registry
            .register(RegisterRequest {
                memory_limit: 64 << 30,
                ..base.clone()
            })
            .await
        else {
            panic!("64 GiB accepted");
        };
        assert!(
            m.contains("memory_limit 64 GiB") && m.contains("cap of 1 GiB"),
            "{m}"
        );
        let Err(PluginError::Invalid(m)) = registry
            .register(RegisterRequest {
                timeout: Duration::from_secs(1000 * 3600),
                ..base.clone()
            })
            .await
        else {
            panic!("1000h accepted");
        };
        assert!(m.contains("timeout") && m.contains("cap of 3600s"), "{m}");
        // Within the caps the request gets as far as the digest check.
        let within = registry
            .register(RegisterRequest {
                memory_limit: 1 << 30,
                ..base
            })
            .await;
        match within {
            Err(PluginError::ChecksumMismatch { .. }) => {}
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a bogus component registered"),
        }
    }

    #[test]
    fn show_bytes_names_units() {
        assert_eq!(show_bytes(64 << 30), "64 GiB");
        assert_eq!(show_bytes(3 << 20), "3 MiB");
        assert_eq!(show_bytes(1000), "1000 bytes");
    }

    #[test]
    fn limits_default_when_zero() {
        let defaults = Limits::default();
        let mut r = PluginRecord {
            name: "x".into(),
            version: "v1.0.0".into(),
            sha256: String::new(),
            command: String::new(),
            capabilities: vec![],
            memory_limit: 0,
            timeout_ms: 0,
            storage_quota: 0,
            max_concurrent_calls: 0,
            engine_name: String::new(),
            description: String::new(),
        };
        assert_eq!(r.limits(defaults), defaults);
        r.memory_limit = 1 << 20;
        r.timeout_ms = 250;
        r.max_concurrent_calls = 3;
        let l = r.limits(defaults);
        assert_eq!(l.memory_bytes, 1 << 20);
        assert_eq!(l.timeout, Duration::from_millis(250));
        assert_eq!(l.max_concurrent_calls, 3);
    }
}
