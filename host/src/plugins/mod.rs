//! Where engine components come from: the built-ins embedded in this binary and, in dev
//! mode, `NAME.wasm` files in `-dev-plugin-dir`. Loaded components are shared by digest,
//! so two mounts of one engine compile it once.

mod builtin;

pub use builtin::component as builtin_component;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::runtime::{Capability, LoadError, LoadedEngine, Runtime, sha256_hex};

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
}

/// The engines this server can mount.
pub struct EngineCatalog {
    runtime: Arc<Runtime>,
    builtins: BTreeMap<&'static str, builtin::Builtin>,
    dev_plugins: BTreeMap<String, PathBuf>,
    loaded: tokio::sync::Mutex<HashMap<String, Arc<LoadedEngine>>>,
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
            dev_plugins,
            loaded: tokio::sync::Mutex::new(HashMap::new()),
        })
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
        let digest = sha256_hex(&bytes);
        let mut loaded = self.loaded.lock().await;
        if let Some(engine) = loaded.get(&digest) {
            return Ok(engine.clone());
        }
        let started = std::time::Instant::now();
        let engine = self
            .runtime
            .load(name, &bytes, self.runtime.default_limits(), capabilities)
            .await?;
        tracing::info!(
            engine = name,
            sha256 = %digest,
            version = %engine.info.version,
            cached = engine.from_cache,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "loaded engine component"
        );
        loaded.insert(digest, engine.clone());
        Ok(engine)
    }
}
