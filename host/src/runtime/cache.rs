//! On-disk cache of compiled engine code, keyed by the component's digest and the
//! exact wasmtime build and configuration that compiled it.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components are kept between runs.
pub struct CodeCache {
    dir: Option<PathBuf>,
    engine_tag: String,
}

impl CodeCache {
    /// A cache in `dir`; `None` disables it (every load compiles).
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Self {
            dir,
            engine_tag: format!("{:016x}", h.finish()),
        }
    }

    fn path_for(&self, digest: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{digest}-{}.cwasm", self.engine_tag)))
    }

    /// Loads the compiled form of `wasm` (whose sha256 is `digest`), compiling and
    /// storing it on a miss. A cache entry that fails to load is recompiled.
    pub fn load(
        &self,
        engine: &Engine,
        digest: &str,
        wasm: &[u8],
    ) -> wasmtime::Result<(Component, bool)> {
        if let Some(path) = self.path_for(digest)
            && path.exists()
        {
            // SAFETY: files in the cache directory are written only by `store` below,
            // from this host's own compiler output; the name binds them to the digest
            // and the engine configuration.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => return Ok((c, true)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding unusable compiled-code cache entry")
                }
            }
        }
        let component = Component::new(engine, wasm)?;
        if let Some(path) = self.path_for(digest)
            && let Err(e) = store(&path, &component)
        {
            tracing::warn!(path = %path.display(), error = %e, "could not write compiled-code cache entry");
        }
        Ok((component, false))
    }
}

fn store(path: &Path, component: &Component) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = component.serialize()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Write then rename, so a crash never leaves a truncated artifact under the final name.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
