//! `coffer:engine/clock`: wall-clock time, injectable so expiry logic is testable
//! without sleeping.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::runtime::CallState;
use crate::runtime::bindings::coffer::engine::clock::Host;

/// A source of wall-clock time.
pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since the Unix epoch.
    fn now_nanos(&self) -> u64;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_nanos(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    }
}

impl Host for CallState {
    async fn now(&mut self) -> u64 {
        self.clock.now_nanos()
    }
}
