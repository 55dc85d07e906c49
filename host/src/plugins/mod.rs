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
    /// The built-ins, plus the `*.wasm` files of `plugin_dir` that may be mounted
    /// without registration ([`plugin_dir_files`]).
    pub fn new(
        runtime: Arc<Runtime>,
        plugin_dir: Option<&Path>,
        dev_mode: bool,
    ) -> std::io::Result<Self> {
        let builtins = builtin::all();
        let dev_plugins = match plugin_dir {
            Some(dir) => plugin_dir_files(dir, dev_mode, |n| builtins.contains_key(n))?,
            None => BTreeMap::new(),
        };
        Ok(Self {
            runtime,
            builtins,
            plugin_dir: plugin_dir.map(Path::to_path_buf),
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

    /// Names of the `NAME.wasm` files of the plugin directory mountable without
    /// registration (dev mode only; never a built-in's name).
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
        // Built-ins first: a file in the plugin directory never stands in for one.
        let bytes: std::borrow::Cow<'_, [u8]> = if let Some(builtin) = self.builtins.get(name) {
            capabilities = builtin.capabilities;
            builtin.wasm.into()
        } else if let Some(path) = self.dev_plugins.get(name) {
            std::fs::read(path)
                .map_err(|e| PluginError::Read {
                    name: name.into(),
                    path: path.display().to_string(),
                    cause: e.to_string(),
                })?
                .into()
        } else {
            return Err(PluginError::Unknown(name.into()));
        };
        let mut limits = self.runtime.default_limits();
        if self.builtins.contains_key(name) && !self.dev_plugins.contains_key(name) {
            // Built-ins are ours: their mounts are not capped.
            limits.storage_quota = u64::MAX;
        }
        self.load_component(name, &bytes, limits, capabilities)
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
            "{digest}|{name}|{}|{}|{}|{}|{}|{}",
            grants.join(","),
            limits.memory_bytes,
            limits.timeout.as_millis(),
            limits.max_response_bytes,
            limits.storage_quota,
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

/// The `NAME.wasm` files of `dir` that can be mounted as engine `NAME` without being
/// registered in the catalog.
///
/// * A file named like a built-in (`kv.wasm`) is never one: the built-in would be
///   silently replaced for every mount of it, with nothing checking the bytes. It is
///   ignored with a warning (registering it, with its sha256, under another name works).
/// * Outside dev mode (`plugin_directory` in the configuration) none is: as in Vault, a
///   file runs only once registered in the catalog with its sha256
///   (`sys/plugins/catalog/secret/NAME` with `command` and `sha256`), and every load
///   re-checks that digest. Dev mode (`-dev -dev-plugin-dir`) keeps the convenience of
///   every other file being mountable by name.
pub fn plugin_dir_files(
    dir: &Path,
    dev_mode: bool,
    is_builtin: impl Fn(&str) -> bool,
) -> std::io::Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(stem) = registry::plugin_file_name(&path) else {
            continue;
        };
        if is_builtin(&stem) {
            tracing::warn!(
                plugin = %stem,
                path = %path.display(),
                "ignoring a plugin file named like the built-in {stem:?} engine: built-ins cannot be replaced by a file in the plugin directory"
            );
        } else if !dev_mode {
            tracing::info!(
                plugin = %stem,
                path = %path.display(),
                "plugin file found; register it in the catalog with its sha256 to mount it"
            );
        } else {
            tracing::info!(plugin = %stem, path = %path.display(), "registered dev plugin");
            out.insert(stem, path);
        }
    }
    Ok(out)
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
        let Ok(catalog) = EngineCatalog::new(runtime, None, true) else {
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

    #[test]
    fn plugin_dir_files_never_shadow_built_ins_and_need_registration_outside_dev() {
        let dir = std::env::temp_dir().join(format!(
            "coffer-plugin-dir-{}-{}",
            std::process::id(),
            crate::auth::random_base62(8)
        ));
        let Ok(()) = std::fs::create_dir_all(&dir) else {
            panic!("temp dir");
        };
        for f in ["kv.wasm", "aws.wasm", "mine.wasm", "notes.txt"] {
            let Ok(()) = std::fs::write(dir.join(f), b"\0asm") else {
                panic!("write {f}");
            };
        }
        let builtins = builtin::all();
        let is_builtin = |n: &str| builtins.contains_key(n);
        let Ok(dev) = plugin_dir_files(&dir, true, is_builtin) else {
            panic!("scan");
        };
        assert_eq!(dev.keys().collect::<Vec<_>>(), ["mine"]);
        let Ok(prod) = plugin_dir_files(&dir, false, is_builtin) else {
            panic!("scan");
        };
        assert!(prod.is_empty(), "{prod:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
