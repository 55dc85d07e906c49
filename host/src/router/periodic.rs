//! Calls every mounted engine's `periodic` export on a fixed interval (WAL rollback,
//! tidying). Mounts run side by side, each at most one periodic call at a time: a mount
//! whose previous call is still running (a slow or spinning engine) is skipped this
//! tick, so it delays nobody's housekeeping but its own. The calls go through the same
//! per-mount admission as requests ([`crate::runtime::Runtime::call`]), so housekeeping
//! never takes more of the host than a mount's share.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::app::App;
use crate::mounts::MountHandle;

use super::engine::{call_context, wit_mount};

/// Starts the periodic task. Aborting it aborts the periodic calls in flight.
pub fn spawn_periodic(app: Arc<App>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        // Mounts (by storage prefix, unique per mount) whose periodic call is running,
        // and which call is whose.
        let mut running: HashSet<String> = HashSet::new();
        let mut owners: HashMap<tokio::task::Id, String> = HashMap::new();
        let mut calls: JoinSet<()> = JoinSet::new();
        loop {
            ticker.tick().await;
            while let Some(done) = calls.try_join_next_with_id() {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(e) => {
                        tracing::error!(error = %e, "periodic call ended abnormally");
                        e.id()
                    }
                };
                if let Some(key) = owners.remove(&id) {
                    running.remove(&key);
                }
            }
            for handle in app.mounts.handles() {
                let key = handle.entry.storage_prefix();
                if !running.insert(key.clone()) {
                    tracing::debug!(mount = %handle.entry.path, "previous periodic call still running; skipped");
                    continue;
                }
                let app = app.clone();
                let task = calls.spawn(async move { periodic(&app, &handle).await });
                owners.insert(task.id(), key);
            }
        }
    })
}

/// One periodic call of one mount, its outcome logged.
async fn periodic(app: &App, handle: &MountHandle) {
    let mount = wit_mount(handle);
    let ctx = call_context(handle);
    let result = app
        .runtime
        .call(&handle.engine, ctx, move |e, store| {
            Box::pin(async move { e.coffer_engine_engine().call_periodic(store, &mount).await })
        })
        .await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(mount = %handle.entry.path, error = ?e, "engine periodic task reported an error")
        }
        Err(fault) => {
            tracing::warn!(mount = %handle.entry.path, error = %fault, "engine periodic task failed")
        }
    }
}
