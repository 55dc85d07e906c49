//! Live mounts: the persisted table plus, for each mount, its loaded engine.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;

use crate::plugins::{EngineCatalog, PluginError, PluginRegistry, ReloadReport};
use crate::runtime::LoadedEngine;
use crate::storage::{SharedBackend, View};

use super::write_lock::{WriteGuard, WriteLocks, kv_write_key};
use super::{MountEntry, MountError, MountTable};

/// A mount ready to serve requests.
pub struct MountHandle {
    /// The mount's table row.
    pub entry: MountEntry,
    /// The engine serving it.
    pub engine: Arc<LoadedEngine>,
    /// Orders mutating calls on this mount (see [`super::write_lock`]). Shared by every
    /// handle the mount ever has, so a write in flight on the old engine during a reload
    /// still excludes writes on the new one.
    pub writes: Arc<WriteLocks>,
    /// Whether the engine is the built-in kv, whose writes to different secrets may
    /// run side by side.
    keyed_writes: bool,
    /// The mount's storage.
    pub storage: View,
}

impl MountHandle {
    /// Waits until a mutating call on `rest` (the path inside the mount) may run.
    pub async fn lock_write(&self, rest: &str) -> WriteGuard<'_> {
        let key = if self.keyed_writes {
            let version = self.entry.options.as_ref().and_then(|o| o.get("version"));
            kv_write_key(version.map(String::as_str), rest)
        } else {
            None
        };
        self.writes.lock(key.as_deref()).await
    }
}

/// How long a request routed to a mount whose engine is still loading at start-up
/// waits for it before it is answered "still loading".
const LOAD_WAIT: Duration = Duration::from_secs(30);

/// A mount whose engine is being loaded in the background at start-up.
struct Loading {
    /// The mount's uuid (a path may be disabled and re-enabled meanwhile).
    uuid: String,
    /// Turns `true` (or closes) when the load has finished, either way.
    done: watch::Receiver<bool>,
}

#[derive(Default)]
struct State {
    table: MountTable,
    handles: HashMap<String, Arc<MountHandle>>,
    failures: HashMap<String, String>,
    loading: HashMap<String, Loading>,
}

/// Why a mount operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A table-level problem (in use, invalid path, storage).
    #[error(transparent)]
    Table(#[from] MountError),
    /// The engine could not be loaded.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// No mount at the path.
    #[error("No secret engine mount at {0}")]
    NotMounted(String),
    /// The mount's plugin version was tuned while a reload was loading the old choice.
    #[error("the plugin version of {0} changed during the reload; reload it again")]
    Changed(String),
    /// The lock was poisoned by a panic elsewhere.
    #[error("mount table lock poisoned")]
    Poisoned,
}

/// The mount table and the engines behind it.
pub struct Mounts {
    backend: SharedBackend,
    plugins: Arc<PluginRegistry>,
    state: RwLock<State>,
    /// Serialises enable/disable/tune so load-then-insert sequences don't interleave.
    admin: tokio::sync::Mutex<()>,
}

/// What routing a request found.
pub enum Routed<'a> {
    /// A live mount and the path inside it.
    Mount(Arc<MountHandle>, &'a str),
    /// A mount whose engine failed to load.
    Broken(String, String),
    /// Nothing mounted there.
    None,
}

impl Mounts {
    /// Loads the persisted table and starts loading each mount's engine in the
    /// background, all side by side: the server serves (and listens) at once, whatever
    /// a plugin costs to compile or describe itself. A request for a mount still
    /// loading waits for it (up to [`LOAD_WAIT`]; see [`Mounts::route_ready`]). A mount
    /// whose engine fails to load stays in the table (its data is kept) and answers 500
    /// until fixed.
    pub async fn open(
        backend: SharedBackend,
        plugins: Arc<PluginRegistry>,
    ) -> Result<Arc<Self>, RegistryError> {
        let table = MountTable::load(&backend)?;
        let entries: Vec<MountEntry> = table.entries().cloned().collect();
        let mut state = State {
            table,
            ..State::default()
        };
        let mut senders = Vec::new();
        for entry in entries {
            let (tx, rx) = watch::channel(false);
            state.loading.insert(
                entry.path.clone(),
                Loading {
                    uuid: entry.uuid.clone(),
                    done: rx,
                },
            );
            senders.push((entry, tx));
        }
        let mounts = Arc::new(Self {
            backend,
            plugins: plugins.clone(),
            state: RwLock::new(state),
            admin: tokio::sync::Mutex::new(()),
        });
        for (entry, done) in senders {
            let weak = Arc::downgrade(&mounts);
            let plugins = plugins.clone();
            tokio::spawn(async move {
                let loaded = plugins
                    .load_for(&entry.kind, &entry.config.plugin_version)
                    .await;
                if let Some(mounts) = weak.upgrade() {
                    mounts.finish_loading(&entry, loaded);
                }
                // Receivers see the closed channel as "done" too; this is for clarity.
                let _ = done.send(true);
            });
        }
        Ok(mounts)
    }

    /// Installs what a start-up load produced, unless the mount was disabled, replaced
    /// or reloaded meanwhile (then the newer state stands).
    fn finish_loading(&self, entry: &MountEntry, loaded: Result<Arc<LoadedEngine>, PluginError>) {
        let Ok(mut state) = self.state.write() else {
            return;
        };
        if state
            .loading
            .get(&entry.path)
            .is_some_and(|l| l.uuid == entry.uuid)
        {
            state.loading.remove(&entry.path);
        }
        // The row as it is now: it may have been tuned while the engine loaded.
        let Some(current) = state
            .table
            .entries()
            .find(|e| e.path == entry.path && e.uuid == entry.uuid)
            .cloned()
        else {
            return;
        };
        if state.handles.contains_key(&entry.path) {
            return;
        }
        match loaded {
            Ok(engine) => {
                let handle = Self::handle(&self.backend, current, engine, None);
                state.handles.insert(entry.path.clone(), handle);
                state.failures.remove(&entry.path);
            }
            Err(e) => {
                tracing::error!(mount = %entry.path, engine = %entry.kind, error = %e, "mount's engine failed to load");
                state.failures.insert(entry.path.clone(), e.to_string());
            }
        }
    }

    /// Like [`Mounts::route`], but first waits (up to [`LOAD_WAIT`]) for the engine of
    /// the mount serving `path` if it is still loading at start-up.
    pub async fn route_ready<'a>(&self, path: &'a str) -> Routed<'a> {
        let pending = self.state.read().ok().and_then(|state| {
            let (entry, _) = state.table.route(path)?;
            if state.handles.contains_key(&entry.path) {
                return None;
            }
            state.loading.get(&entry.path).map(|l| l.done.clone())
        });
        if let Some(mut done) = pending {
            // A closed channel (the loader is gone) also means the wait is over.
            let _ = tokio::time::timeout(LOAD_WAIT, done.wait_for(|d| *d)).await;
        }
        self.route(path)
    }

    fn handle(
        backend: &SharedBackend,
        mut entry: MountEntry,
        engine: Arc<LoadedEngine>,
        writes: Option<Arc<WriteLocks>>,
    ) -> Arc<MountHandle> {
        entry.running_sha256 = engine.sha256.clone();
        entry.running_version = engine.info.version.clone();
        let storage = View::new(backend.clone(), entry.storage_prefix());
        let keyed_writes = crate::plugins::builtin_by_digest(&engine.sha256) == Some("kv");
        Arc::new(MountHandle {
            entry,
            engine,
            writes: writes.unwrap_or_default(),
            keyed_writes,
            storage,
        })
    }

    /// The catalog engines come from.
    pub fn catalog(&self) -> &EngineCatalog {
        self.plugins.catalog()
    }

    /// The registered plugins engines are resolved through.
    pub fn plugins(&self) -> &Arc<PluginRegistry> {
        &self.plugins
    }

    /// Finds the mount serving `path`.
    pub fn route<'a>(&self, path: &'a str) -> Routed<'a> {
        let Ok(state) = self.state.read() else {
            return Routed::None;
        };
        let Some((entry, rest)) = state.table.route(path) else {
            return Routed::None;
        };
        match state.handles.get(&entry.path) {
            Some(h) => Routed::Mount(h.clone(), rest),
            None => Routed::Broken(
                entry.path.clone(),
                match state.failures.get(&entry.path) {
                    Some(cause) => cause.clone(),
                    None if state.loading.contains_key(&entry.path) => {
                        "its engine is still loading; retry shortly".into()
                    }
                    None => "engine not loaded".into(),
                },
            ),
        }
    }

    /// Every live mount.
    pub fn handles(&self) -> Vec<Arc<MountHandle>> {
        self.state
            .read()
            .map(|s| s.handles.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Every mount's current row (with running version and digest).
    pub fn list(&self) -> Vec<MountEntry> {
        let Ok(state) = self.state.read() else {
            return Vec::new();
        };
        state
            .table
            .entries()
            .map(|e| {
                state
                    .handles
                    .get(&e.path)
                    .map(|h| h.entry.clone())
                    .unwrap_or_else(|| e.clone())
            })
            .collect()
    }

    /// The row of the mount at exactly `path`.
    pub fn get(&self, path: &str) -> Option<MountEntry> {
        self.list().into_iter().find(|e| e.path == path)
    }

    /// Mounts a new engine. The engine is loaded (compiled, checked) before anything is
    /// recorded, so a bad component leaves no trace. The compile runs without holding
    /// the admin lock, so a slow one does not hold up other mount changes.
    pub async fn enable(&self, entry: MountEntry) -> Result<(), RegistryError> {
        {
            // Fail fast on a taken path before paying for a compile.
            let state = self.state.read().map_err(|_| RegistryError::Poisoned)?;
            state.table.clone().insert(entry.clone())?;
        }
        let engine = self
            .plugins
            .load_for(&entry.kind, &entry.config.plugin_version)
            .await?;
        let _admin = self.admin.lock().await;
        let mut state = self.state.write().map_err(|_| RegistryError::Poisoned)?;
        let mut table = state.table.clone();
        table.insert(entry.clone())?;
        table.save(&self.backend)?;
        state.table = table;
        let handle = Self::handle(&self.backend, entry.clone(), engine, None);
        state.handles.insert(entry.path.clone(), handle);
        Ok(())
    }

    /// Reloads the mount at `path`: loads the engine its type and `plugin_version` now
    /// resolve to (compiled, import-checked, linked and described before anything
    /// changes), then swaps it in. Requests already running hold the old handle and
    /// finish on the old engine; every request routed after the swap gets the new one.
    /// Nothing is swapped if the load fails. The mount keeps its storage, and its leases
    /// are renewed and revoked by whatever engine serves it.
    pub async fn reload(&self, path: &str) -> Result<ReloadReport, RegistryError> {
        let started = std::time::Instant::now();
        let before = {
            let state = self.state.read().map_err(|_| RegistryError::Poisoned)?;
            let entry = state
                .table
                .entries()
                .find(|e| e.path == path)
                .cloned()
                .ok_or_else(|| RegistryError::NotMounted(path.to_string()))?;
            let running = state.handles.get(path).map(|h| h.engine.clone());
            (entry, running)
        };
        let (entry, running) = before;
        let engine = self
            .plugins
            .load_for(&entry.kind, &entry.config.plugin_version)
            .await?;
        let _admin = self.admin.lock().await;
        {
            let mut state = self.state.write().map_err(|_| RegistryError::Poisoned)?;
            // The mount may have been disabled, re-enabled or tuned while we compiled.
            let current = match state.table.entries().find(|e| e.path == path) {
                Some(e) if e.uuid == entry.uuid => e.clone(),
                _ => return Err(RegistryError::NotMounted(path.to_string())),
            };
            if current.kind != entry.kind
                || current.config.plugin_version != entry.config.plugin_version
            {
                return Err(RegistryError::Changed(path.to_string()));
            }
            let writes = state.handles.get(path).map(|h| h.writes.clone());
            let handle = Self::handle(&self.backend, current, engine.clone(), writes);
            state.handles.insert(path.to_string(), handle);
            state.failures.remove(path);
            state.loading.remove(path);
        }
        let report = ReloadReport {
            mount: path.to_string(),
            from_version: running
                .as_ref()
                .map(|e| e.info.version.clone())
                .unwrap_or_default(),
            to_version: engine.info.version.clone(),
            to_sha256: engine.sha256.clone(),
            from_cache: engine.from_cache,
            elapsed: started.elapsed(),
        };
        drop(running);
        self.plugins.catalog().prune();
        tracing::info!(
            mount = %report.mount,
            from = %report.from_version,
            to = %report.to_version,
            elapsed_ms = report.elapsed.as_millis() as u64,
            "reloaded mount"
        );
        Ok(report)
    }

    /// Paths of the mounts whose engine type is `kind`.
    pub fn paths_of(&self, kind: &str) -> Vec<String> {
        self.state
            .read()
            .map(|s| {
                s.table
                    .entries()
                    .filter(|e| e.kind == kind)
                    .map(|e| e.path.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Unmounts `path` and deletes its data. Returns false if nothing was mounted there.
    pub async fn disable(&self, path: &str) -> Result<bool, RegistryError> {
        let _admin = self.admin.lock().await;
        let removed = {
            let mut state = self.state.write().map_err(|_| RegistryError::Poisoned)?;
            let mut table = state.table.clone();
            let Some(entry) = table.remove(path) else {
                return Ok(false);
            };
            table.save(&self.backend)?;
            state.table = table;
            state.handles.remove(path);
            state.failures.remove(path);
            state.loading.remove(path);
            entry
        };
        self.plugins.catalog().prune();
        // The table no longer points at the data, so a crash here only leaves unreachable
        // bytes behind; the next disable-free start could sweep them.
        View::new(self.backend.clone(), removed.storage_prefix())
            .clear()
            .map_err(MountError::from)?;
        Ok(true)
    }

    /// Applies `change` to the mount at `path` and persists it.
    pub async fn update(
        &self,
        path: &str,
        change: impl FnOnce(&mut MountEntry) -> Result<(), String>,
    ) -> Result<Result<(), String>, RegistryError> {
        let _admin = self.admin.lock().await;
        let mut state = self.state.write().map_err(|_| RegistryError::Poisoned)?;
        let mut table = state.table.clone();
        let Some(entry) = table.get_mut(path) else {
            return Err(RegistryError::NotMounted(path.to_string()));
        };
        if let Err(msg) = change(entry) {
            return Ok(Err(msg));
        }
        let entry = entry.clone();
        table.save(&self.backend)?;
        state.table = table;
        if let Some(old) = state.handles.get(path).cloned() {
            let handle = Self::handle(
                &self.backend,
                entry,
                old.engine.clone(),
                Some(old.writes.clone()),
            );
            state.handles.insert(path.to_string(), handle);
        }
        Ok(Ok(()))
    }
}
