//! The background worker that revokes due leases, with retry and backoff.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use tokio::sync::{Notify, Semaphore};

use super::LeaseManager;

const NANOS: u64 = 1_000_000_000;

/// Tunables of expiry and retry.
#[derive(Debug, Clone, Copy)]
pub struct ExpiryConfig {
    /// First retry delay; doubles per attempt, ±50% jitter (Vault: 10 s).
    pub retry_base: Duration,
    /// Failed attempts before a lease becomes irrevocable (Vault: 6).
    pub max_attempts: u32,
    /// How often irrevocable leases are tried again (Vault: 24 h).
    pub irrevocable_retry: Duration,
    /// Revocations running at once.
    pub concurrency: usize,
    /// How often the worker looks for due leases when nothing wakes it.
    pub poll: Duration,
}

impl Default for ExpiryConfig {
    fn default() -> Self {
        Self {
            retry_base: Duration::from_secs(10),
            max_attempts: 6,
            irrevocable_retry: Duration::from_secs(24 * 3600),
            concurrency: 32,
            poll: Duration::from_secs(1),
        }
    }
}

impl ExpiryConfig {
    /// Delay before retry number `attempt` (1-based): base × 2^attempt, ±50% jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let base = self.retry_base.as_secs_f64() * 2f64.powi(attempt.min(20) as i32);
        let jitter = rand::thread_rng().gen_range(0.5..1.5);
        Duration::from_secs_f64(base * jitter)
    }
}

/// Starts the worker; it runs until the runtime shuts down.
///
/// Each round scans the due end of the index, past the leases still being revoked, and
/// hands every lease not already in flight to a task (at most `concurrency` run at
/// once; handing out waits for a free slot). A round that filled its page may have left
/// more due leases behind, so the next round starts as soon as it has handed its page
/// out (or, if everything it found was still in flight, as soon as one finishes).
/// Once everything due is handed out the worker sleeps until a lease is registered or
/// queued for revocation (`wake`), or the next second starts (index slots are whole
/// seconds), and at most `poll`. So a backlog drains at the speed of the revocations
/// themselves, with `concurrency` of them sharing storage commits.
pub fn spawn_expiry_worker(manager: Arc<LeaseManager>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let concurrency = manager.config.concurrency.max(1);
        let slots = Arc::new(Semaphore::new(concurrency));
        let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
        let finished = Arc::new(Notify::new());
        loop {
            let now_secs = manager.now_nanos() / NANOS;
            let busy = in_flight.lock().map(|s| s.len()).unwrap_or(0);
            // Leases being revoked still sit at the front of the due range: look past them.
            let limit = concurrency * 4 + busy;
            let due = match manager.due(now_secs, limit) {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the lease expiry index");
                    Vec::new()
                }
            };
            let page_full = due.len() >= limit;
            let mut started = 0;
            for (secs, id) in due {
                let fresh = in_flight
                    .lock()
                    .map(|mut s| s.insert(id.clone()))
                    .unwrap_or(false);
                if !fresh {
                    continue;
                }
                started += 1;
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                let (manager, in_flight, finished) =
                    (manager.clone(), in_flight.clone(), finished.clone());
                tokio::spawn(async move {
                    if let Err(e) = manager.expire_one(secs, &id).await {
                        tracing::error!(lease = %id, error = %e, "lease expiry failed");
                    }
                    if let Ok(mut s) = in_flight.lock() {
                        s.remove(&id);
                    }
                    drop(permit);
                    finished.notify_one();
                });
            }
            if page_full {
                if started == 0 {
                    // All of the page is still in flight: wait for a slot to come back.
                    tokio::select! {
                        _ = finished.notified() => {}
                        _ = tokio::time::sleep(manager.config.poll) => {}
                    }
                } else {
                    tokio::task::yield_now().await;
                }
                continue;
            }
            let next_second = Duration::from_nanos(NANOS - manager.now_nanos() % NANOS);
            tokio::select! {
                _ = manager.wake.notified() => {}
                _ = tokio::time::sleep(manager.config.poll.min(next_second)) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leases::NewLease;
    use crate::leases::manager::tests::FakeEngines;
    use crate::runtime::imports::ManualClock;
    use crate::storage::MemoryBackend;

    #[tokio::test]
    async fn a_backlog_drains_without_pausing_between_pages() {
        let clock = Arc::new(ManualClock::at_secs(1_000));
        let engines = Arc::new(FakeEngines::default());
        let manager = Arc::new(LeaseManager::new(
            Arc::new(MemoryBackend::new()),
            engines.clone(),
            clock.clone(),
            ExpiryConfig {
                concurrency: 4,
                poll: Duration::from_secs(3600),
                ..ExpiryConfig::default()
            },
        ));
        let n = 2000;
        for _ in 0..n {
            manager
                .register(NewLease {
                    path: "x/creds/r",
                    mount_path: "x/",
                    mount_uuid: "u",
                    ttl: 10,
                    max_ttl: 0,
                    mount_default_ttl: 60,
                    mount_max_ttl: 60,
                    renewable: false,
                    internal: "{}",
                    data: "{}",
                    display_name: "t",
                    token_hash: "",
                })
                .unwrap();
        }
        clock.advance_secs(20);
        let worker = spawn_expiry_worker(manager.clone());
        // 500 pages of 4, with the clock standing still and nothing registered meanwhile:
        // the worker must go from page to page by itself. One that went idle between
        // pages would wait for its hour-long poll and never finish here. The minute is
        // only a guard against hanging the suite, not a speed limit: how fast a backlog
        // drains is measured by `benches/lease_expiry.rs`.
        let drained = tokio::time::timeout(Duration::from_secs(60), async {
            while engines.revocations() < n {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        worker.abort();
        assert!(
            drained.is_ok(),
            "only {} of {n} revoked: the worker stopped between pages",
            engines.revocations()
        );
        assert!(manager.due(2_000, 10).unwrap().is_empty());
    }
}
