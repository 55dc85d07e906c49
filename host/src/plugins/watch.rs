//! The watched plugin directory (opt-in: `plugin_directory_watch = true` /
//! `-plugin-dir-watch`): a `NAME.wasm` that appears or changes there is registered as a
//! new version of plugin `NAME` (the version its `info()` reports) and every mount of
//! `NAME` that does not pin a `plugin_version` is reloaded onto it.
//!
//! The directory is polled (about once a second; no platform notification API). A file
//! is acted on once its size and modification time have stayed the same for two polls,
//! so a copy in progress is not picked up half-written. The component is registered by
//! upload (content-addressed in storage), so the version it replaces stays loadable
//! after the file is overwritten. Capabilities and limits are inherited from the
//! plugin's newest registered version; a new plugin gets none. Files already in the
//! directory when the server unseals are the baseline: only later changes register.
//! A file named like a built-in (`kv.wasm`) is ignored with a warning.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::registry::plugin_file_name;
use super::{PluginRegistry, RegisterRequest};
use crate::mounts::Mounts;
use crate::runtime::sha256_hex;

/// What a file looked like at one poll.
type Stamp = (SystemTime, u64);

/// Starts polling the plugin directory every `interval`; `None` when no directory is
/// configured. The task runs until aborted (the server seals).
pub fn spawn_watcher(
    plugins: Arc<PluginRegistry>,
    mounts: Arc<Mounts>,
    interval: Duration,
) -> Option<tokio::task::JoinHandle<()>> {
    let dir = plugins.catalog().plugin_dir()?.to_path_buf();
    tracing::info!(dir = %dir.display(), "watching the plugin directory for new versions");
    Some(tokio::spawn(async move {
        let mut seen = scan(&dir);
        let mut pending: HashMap<PathBuf, Stamp> = HashMap::new();
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            for (path, stamp) in scan(&dir) {
                if seen.get(&path) == Some(&stamp) {
                    pending.remove(&path);
                    continue;
                }
                if pending.get(&path) != Some(&stamp) {
                    // Changed since the last poll: wait for it to settle.
                    pending.insert(path, stamp);
                    continue;
                }
                pending.remove(&path);
                seen.insert(path.clone(), stamp);
                if let Some(name) = plugin_file_name(&path) {
                    changed(&plugins, &mounts, &name, &path).await;
                }
            }
        }
    }))
}

/// Every `*.wasm` file directly in `dir`, with its stamp.
fn scan(dir: &Path) -> HashMap<PathBuf, Stamp> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return HashMap::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            plugin_file_name(&path)?;
            let meta = e.metadata().ok()?;
            meta.is_file().then(|| {
                (
                    path,
                    (
                        meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                        meta.len(),
                    ),
                )
            })
        })
        .collect()
}

/// Registers the new content of `path` as plugin `name` and reloads its mounts.
async fn changed(plugins: &PluginRegistry, mounts: &Mounts, name: &str, path: &Path) {
    // A file named like a built-in would otherwise become the newest registered version
    // of it and take over its mounts on reload: built-ins are never replaced by a file.
    if plugins.catalog().is_builtin(name) {
        tracing::warn!(
            plugin = name,
            path = %path.display(),
            "ignoring a plugin file named like the built-in {name:?} engine: built-ins cannot be replaced by a file in the plugin directory"
        );
        return;
    }
    let owned = path.to_path_buf();
    let bytes = match tokio::task::spawn_blocking(move || std::fs::read(owned)).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read changed plugin file");
            return;
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read changed plugin file");
            return;
        }
    };
    let sha256 = sha256_hex(&bytes);
    let previous = match plugins.versions(name) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(plugin = name, error = %e, "cannot read the plugin catalog");
            return;
        }
    };
    if previous.iter().any(|r| r.sha256 == sha256) {
        return;
    }
    let newest = previous.last();
    let request = RegisterRequest {
        name: name.to_string(),
        sha256,
        version: String::new(),
        command: String::new(),
        component: Some(bytes),
        capabilities: newest.map(|r| r.capabilities.clone()).unwrap_or_default(),
        memory_limit: newest.map_or(0, |r| r.memory_limit),
        timeout: Duration::from_millis(newest.map_or(0, |r| r.timeout_ms)),
        storage_quota: newest.map_or(0, |r| r.storage_quota),
        max_concurrent_calls: newest.map_or(0, |r| r.max_concurrent_calls),
    };
    let record = match plugins.register(request).await {
        Ok((record, _, _)) => record,
        Err(e) => {
            tracing::error!(plugin = name, path = %path.display(), error = %e, "plugin file changed but cannot be registered");
            return;
        }
    };
    tracing::info!(plugin = name, version = %record.version, "registered a new version from the plugin directory");
    for mount in mounts.paths_of(name) {
        let pinned = mounts
            .get(&mount)
            .is_some_and(|e| !e.config.plugin_version.is_empty());
        if pinned {
            continue;
        }
        if let Err(e) = mounts.reload(&mount).await {
            tracing::error!(mount = %mount, plugin = name, error = %e, "reloading after a plugin file change failed");
        }
    }
    plugins.catalog().prune();
}
