//! Calls every mounted engine's `periodic` export on a fixed interval (WAL rollback,
//! tidying), one mount at a time so housekeeping never crowds out requests.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;

use super::engine::{call_context, wit_mount};

/// Starts the periodic task.
pub fn spawn_periodic(app: Arc<App>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            for handle in app.mounts.handles() {
                let mount = wit_mount(&handle);
                let ctx = call_context(&handle);
                let result = app
                    .runtime
                    .call(&handle.engine, ctx, move |e, store| {
                        Box::pin(async move {
                            e.coffer_engine_engine().call_periodic(store, &mount).await
                        })
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
        }
    })
}
