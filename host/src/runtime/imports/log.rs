//! `coffer:engine/log`: engine messages in the host's log, tagged with engine and mount.
//!
//! Everything an engine can make the host log goes through one host-wide, per-mount
//! token bucket ([`admit`]): its own `log` calls, and the host's lines about the errors it
//! returns (see `router::engine`). A hostile or chatty engine fills only its own bucket;
//! what it loses is counted and reported in one `suppressed N log lines` line once
//! its bucket refills, so an operator still sees that something was dropped.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

use crate::runtime::CallState;
use crate::runtime::bindings::coffer::engine::log::{Host, Level};

/// Longest message kept, in bytes; a chatty or hostile engine cannot flood the log with
/// one call.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// Messages one call may log before the rest are dropped.
const MAX_MESSAGES_PER_CALL: u32 = 256;
/// Lines a mount may log in a burst, host-wide.
const BURST: f64 = 50.0;
/// Lines per second a mount may log once its burst is spent.
const RATE_PER_SEC: f64 = 10.0;
/// Buckets kept before idle ones are forgotten.
const MAX_BUCKETS: usize = 4096;

impl Host for CallState {
    async fn log(&mut self, level: Level, message: String) {
        if self.log_budget == 0 {
            return;
        }
        self.log_budget -= 1;
        let mount = &*self.mount_path;
        if !admit(mount) {
            return;
        }
        let message = truncate(&message, MAX_MESSAGE_BYTES);
        let engine = &*self.engine_name;
        match level {
            Level::Trace => tracing::trace!(engine, mount, "{message}"),
            Level::Debug => tracing::debug!(engine, mount, "{message}"),
            Level::Info => tracing::info!(engine, mount, "{message}"),
            Level::Warn => tracing::warn!(engine, mount, "{message}"),
            Level::Error => tracing::error!(engine, mount, "{message}"),
        }
    }
}

/// The per-call message budget a fresh call starts with.
pub const fn initial_budget() -> u32 {
    MAX_MESSAGES_PER_CALL
}

/// `text` cut to at most `max` bytes (on a character boundary), with a marker naming
/// the original size when anything was cut.
pub fn truncate(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [truncated: {} bytes in all]", &text[..end], text.len()).into()
}

/// One mount's bucket.
struct Bucket {
    tokens: f64,
    last: Instant,
    suppressed: u64,
}

/// A token bucket per mount: `burst` lines at once, `rate` lines a second after that.
pub struct LogLimiter {
    burst: f64,
    rate: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl LogLimiter {
    /// A limiter allowing `burst` lines at once and `rate` a second per mount.
    pub fn new(burst: f64, rate: f64) -> Self {
        Self {
            burst,
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `mount` may log a line at `now`. `Some(n)`: yes, and `n` lines were
    /// suppressed since its last admitted line; `None`: no (the line is counted).
    pub fn check(&self, mount: &str, now: Instant) -> Option<u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        // Looked up before inserting so the hot path allocates no key.
        if !buckets.contains_key(mount) {
            if buckets.len() >= MAX_BUCKETS {
                // Mounts come and go: forget buckets idle long enough to be full again.
                let full_after = self.burst / self.rate.max(f64::MIN_POSITIVE);
                buckets.retain(|_, b| {
                    b.suppressed > 0
                        || now.saturating_duration_since(b.last).as_secs_f64() < full_after
                });
            }
            buckets.insert(
                mount.to_string(),
                Bucket {
                    tokens: self.burst,
                    last: now,
                    suppressed: 0,
                },
            );
        }
        let bucket = buckets.get_mut(mount)?;
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Some(std::mem::take(&mut bucket.suppressed))
        } else {
            bucket.suppressed += 1;
            None
        }
    }
}

/// The host-wide limiter.
fn limiter() -> &'static LogLimiter {
    static LIMITER: OnceLock<LogLimiter> = OnceLock::new();
    LIMITER.get_or_init(|| LogLimiter::new(BURST, RATE_PER_SEC))
}

/// Whether a line caused by the engine of `mount` may be logged now. Logs the count of
/// lines suppressed before it, if any.
pub fn admit(mount: &str) -> bool {
    match limiter().check(mount, Instant::now()) {
        Some(0) => true,
        Some(suppressed) => {
            tracing::warn!(
                mount,
                suppressed,
                "suppressed {suppressed} log lines from mount {mount} (over its rate limit)"
            );
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_mount_gets_its_burst_then_its_rate_and_others_are_unaffected() {
        let l = LogLimiter::new(3.0, 2.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.check("a/", t0), Some(0));
        }
        for _ in 0..5 {
            assert_eq!(l.check("a/", t0), None);
        }
        // Another mount has its own bucket.
        assert_eq!(l.check("b/", t0), Some(0));
        // Half a second at 2 lines/s buys one line, which reports the 5 dropped.
        assert_eq!(l.check("a/", t0 + Duration::from_millis(500)), Some(5));
        assert_eq!(l.check("a/", t0 + Duration::from_millis(500)), None);
        // Refill stops at the burst.
        let later = t0 + Duration::from_secs(100);
        assert_eq!(l.check("a/", later), Some(1));
        assert_eq!(l.check("a/", later), Some(0));
        assert_eq!(l.check("a/", later), Some(0));
        assert_eq!(l.check("a/", later), None);
    }

    #[test]
    fn truncation_keeps_a_prefix_and_names_the_size() {
        assert_eq!(truncate("short", 10), "short");
        let long = "é".repeat(10); // 20 bytes
        let cut = truncate(&long, 5);
        assert!(cut.starts_with("éé"), "{cut}");
        assert!(cut.contains("truncated: 20 bytes"), "{cut}");
        assert!(cut.len() < 5 + 40);
    }
}
