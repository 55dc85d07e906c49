//! The background worker that revokes due leases, with retry and backoff.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use tokio::sync::Semaphore;

use super::LeaseManager;

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
pub fn spawn_expiry_worker(manager: Arc<LeaseManager>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(manager.config.concurrency));
        let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
        loop {
            let now_secs = manager.now_nanos() / 1_000_000_000;
            let batch = manager.config.concurrency * 4;
            let due = match manager.due(now_secs, batch) {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the lease expiry index");
                    Vec::new()
                }
            };
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
                let (manager, in_flight) = (manager.clone(), in_flight.clone());
                tokio::spawn(async move {
                    if let Err(e) = manager.expire_one(secs, &id).await {
                        tracing::error!(lease = %id, error = %e, "lease expiry failed");
                    }
                    if let Ok(mut s) = in_flight.lock() {
                        s.remove(&id);
                    }
                    drop(permit);
                });
            }
            if started == 0 {
                tokio::select! {
                    _ = manager.wake.notified() => {}
                    _ = tokio::time::sleep(manager.config.poll) => {}
                }
            } else {
                tokio::task::yield_now().await;
                // Let in-flight work finish before scanning the same due keys again.
                if started < batch {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    })
}
