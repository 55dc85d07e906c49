//! The background worker that revokes expired and used-up tokens.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;

/// How often the worker looks for due tokens when nothing wakes it.
const POLL: Duration = Duration::from_secs(1);
/// Due slots handled per scan.
const BATCH: usize = 256;

/// Runs one pass over the due end of the expiry index; returns how many slots were
/// dealt with. Errors are logged and the slot retried on a later pass.
pub(crate) fn sweep(app: &App) -> usize {
    let tokens = &app.tokens;
    let now_secs = tokens.now() / 1_000_000_000;
    let due = match tokens.due(now_secs, BATCH) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the token expiry index");
            return 0;
        }
    };
    let mut handled = 0;
    for (secs, hash) in due {
        match tokens.expire_one(secs, &hash, &app.leases) {
            Ok(true) => handled += 1,
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "token expiry failed; will retry"),
        }
    }
    handled
}

/// The worker loop; see [`crate::auth::spawn_token_expiry`].
pub(crate) async fn run(app: Arc<App>) {
    let wake = app.tokens.wake.clone();
    loop {
        let handled = {
            let app = app.clone();
            // Storage calls block; keep them off the async workers.
            tokio::task::spawn_blocking(move || sweep(&app))
                .await
                .unwrap_or(0)
        };
        if handled < BATCH {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }
}
