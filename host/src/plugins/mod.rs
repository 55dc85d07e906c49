//! Where engine components come from: the built-ins embedded in this binary, the
//! `NAME.wasm` files of the plugin directory, and the plugins registered in the catalog
//! (`sys/plugins/catalog`, [`PluginRegistry`]). Loaded components are shared by digest,
//! so two mounts of one engine compile it once, and a compile in progress is joined by
//! every other caller that needs the same component without blocking anyone else.

mod builtin;
mod registry;
mod version;
mod watch;

pub use builtin::{component as builtin_component, name_by_digest as builtin_by_digest};
pub use registry::{PluginRecord, PluginRegistry, RegisterRequest, ReloadReport};
pub use version::{canonical_version, compare_versions};
pub use watch::spawn_watcher;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::runtime::{Capability, Limits, LoadError, LoadedEngine, Runtime, sha256_hex};

/// Why an engine type could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// No built-in or registered plugin has this name.
    #[error("plugin not found in the catalog: {0}")]
    Unknown(String),
    /// Reading the plugin file failed.
    #[error("cannot read plugin {name:?} from {path}: {cause}")]
    Read {
        /// Plugin name.
        name: String,
        /// File.
        path: String,
        /// OS error.
        cause: String,
    },
    /// Compiling, checking or linking failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A catalog entry or request is invalid (bad digest, name, version, capability).
    #[error("{0}")]
    Invalid(String),
    /// The component's bytes do not have the registered digest.
    #[error(
        "checksums did not match for plugin {name:?}: expected sha256 {expected}, the component has {actual}"
    )]
    ChecksumMismatch {
        /// Plugin name.
        name: String,
        /// The registered (or claimed) digest.
        expected: String,
        /// The digest of the bytes found.
        actual: String,
    },
    /// The component reports another version than the one being registered.
    #[error(
        "plugin version mismatch: {name} reported version ({reported}) did not match requested version ({requested})"
    )]
    VersionMismatch {
        /// Plugin name.
        name: String,
        /// What `info()` says.
        reported: String,
        /// What the registration asked for.
        requested: String,
    },
    /// The requested version of a plugin is not registered.
    #[error("plugin {name} version {version} not found in the catalog")]
    UnknownVersion {
        /// Plugin name.
        name: String,
        /// The version asked for.
        version: String,
    },
    /// The plugin is still serving mounts.
    #[error(
        "cannot deregister plugin {name} version {version}: it is running at {mounts}; disable those mounts or reload them onto another version first"
    )]
    InUse {
        /// Plugin name.
        name: String,
        /// Version.
        version: String,
        /// The mounts running it, comma-separated.
        mounts: String,
    },
    /// Catalog storage failed.
    #[error("plugin catalog storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
}

/// One compile, shared by everyone who needs the same component with the same grants.
type Slot = Arc<OnceCell<Arc<LoadedEngine>>>;

/// The engines this server can mount.
pub struct EngineCatalog {
    runtime: Arc<Runtime>,
    builtins: BTreeMap<&'static str, builtin::Builtin>,
    plugin_dir: Option<PathBuf>,
    dev_plugins: BTreeMap<String, PathBuf>,
    /// Loaded (or loading) components by digest, name, grants and limits. The lock is
    /// only held to find or insert a slot, never across a compile.
    loaded: std::sync::Mutex<HashMap<String, Slot>>,
}

impl EngineCatalog {
    /// The built-ins, plus every `*.wasm` in `dev_plugin_dir` under its file stem.
    pub fn new(runtime: Arc<Runtime>, dev_plugin_dir: Option<&Path>) -> std::io::Result<Self> {
        let mut dev_plugins = BTreeMap::new();
        if let Some(dir) = dev_plugin_dir {
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                if path.extension().and_then(|e| e.to_str()) == Some("wasm")
                    && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
                {
                    tracing::info!(plugin = stem, path = %path.display(), "registered dev plugin");
                    dev_plugins.insert(stem.to_string(), path);
                }
            }
        }
        Ok(Self {
            runtime,
            builtins: builtin::all(),
            plugin_dir: dev_plugin_dir.map(Path::to_path_buf),
            dev_plugins,
            loaded: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The configured plugin directory (`plugin_directory` / `-dev-plugin-dir`).
    pub fn plugin_dir(&self) -> Option<&Path> {
        self.plugin_dir.as_deref()
    }

    /// Names of the built-in engines.
    pub fn builtin_names(&self) -> Vec<&'static str> {
        self.builtins.keys().copied().collect()
    }

    /// Names of the `NAME.wasm` files found in the plugin directory at start-up.
    pub fn dev_plugin_names(&self) -> Vec<String> {
        self.dev_plugins.keys().cloned().collect()
    }

    /// The runtime's default per-call limits.
    pub fn default_limits(&self) -> Limits {
        self.runtime.default_limits()
    }

    /// Whether `name` is a built-in engine.
    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtins.contains_key(name)
    }

    /// Loads the engine called `name`, reusing an already compiled copy of the same bytes.
    pub async fn load(&self, name: &str) -> Result<Arc<LoadedEngine>, PluginError> {
        let mut capabilities: &[Capability] = &[];
        let bytes: std::borrow::Cow<'_, [u8]> = if let Some(path) = self.dev_plugins.get(name) {
            std::fs::read(path)
                .map_err(|e| PluginError::Read {
                    name: name.into(),
                    path: path.display().to_string(),
                    cause: e.to_string(),
                })?
                .into()
        } else if let Some(builtin) = self.builtins.get(name) {
            capabilities = builtin.capabilities;
            builtin.wasm.into()
        } else {
            return Err(PluginError::Unknown(name.into()));
        };
        self.load_component(name, &bytes, self.runtime.default_limits(), capabilities)
            .await
    }

    /// Loads a component under `name` with the given limits and grants. Concurrent calls
    /// for the same component share one compile; calls for other components proceed in
    /// parallel (nothing global is held while compiling). A failed load is not cached.
    pub async fn load_component(
        &self,
        name: &str,
        bytes: &[u8],
        limits: Limits,
        capabilities: &[Capability],
    ) -> Result<Arc<LoadedEngine>, PluginError> {
        let digest = sha256_hex(bytes);
        let grants: Vec<&str> = capabilities.iter().map(|c| c.name()).collect();
        let key = format!(
            "{digest}|{name}|{}|{}|{}|{}|{}",
            grants.join(","),
            limits.memory_bytes,
            limits.timeout.as_millis(),
            limits.max_response_bytes,
            limits.max_concurrent_calls
        );
        let slot: Slot = {
            let mut loaded = self
                .loaded
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            loaded.entry(key).or_default().clone()
        };
        let engine = slot
            .get_or_try_init(|| async {
                let started = std::time::Instant::now();
                let engine = self.runtime.load(name, bytes, limits, capabilities).await?;
                tracing::info!(
                    engine = name,
                    sha256 = %digest,
                    version = %engine.info.version,
                    cached = engine.from_cache,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "loaded engine component"
                );
                Ok::<_, PluginError>(engine)
            })
            .await?;
        Ok(engine.clone())
    }

    /// Forgets loaded components no mount uses any more (after a reload or unmount), so
    /// their compiled code is freed. Slots still compiling are kept.
    pub fn prune(&self) {
        let mut loaded = self
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loaded.retain(|_, slot| match slot.get() {
            Some(engine) => Arc::strong_count(engine) > 1,
            None => Arc::strong_count(slot) > 1,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::RuntimeConfig;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_loads_share_one_compile_and_unused_ones_are_pruned() {
        let Ok(runtime) = Runtime::new(RuntimeConfig::default()) else {
            panic!("runtime");
        };
        let Ok(catalog) = EngineCatalog::new(runtime, None) else {
            panic!("catalog");
        };
        // kv and aws compile in parallel; the two kv loads share one compile.
        let (a, b, c) = tokio::join!(catalog.load("kv"), catalog.load("kv"), catalog.load("aws"));
        let (Ok(a), Ok(b), Ok(c)) = (a, b, c) else {
            panic!("loads failed");
        };
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(c.info.name, "aws");
        // The same bytes under other limits are another engine.
        let limits = Limits {
            memory_bytes: 16 << 20,
            ..catalog.default_limits()
        };
        let Some(kv) = builtin_component("kv") else {
            panic!("no kv");
        };
        let Ok(d) = catalog.load_component("kv", kv, limits, &[]).await else {
            panic!("load with limits");
        };
        assert!(!Arc::ptr_eq(&a, &d));
        assert_eq!(d.limits.memory_bytes, 16 << 20);
        // An ungranted import names the import.
        let Err(PluginError::Load(LoadError::UngrantedImport { import, .. })) = catalog
            .load_component(
                "aws2",
                builtin_component("aws").unwrap_or_default(),
                limits,
                &[],
            )
            .await
        else {
            panic!("aws without the aws capability loaded");
        };
        assert!(import.starts_with("coffer:engine/aws-"), "{import}");
        drop((b, c, d));
        catalog.prune();
        let left = catalog.loaded.lock().map(|l| l.len()).unwrap_or(usize::MAX);
        assert_eq!(left, 1, "only the kv engine still held by `a` stays");
        drop(a);
        catalog.prune();
        let left = catalog.loaded.lock().map(|l| l.len()).unwrap_or(usize::MAX);
        assert_eq!(left, 0);
    }
}
