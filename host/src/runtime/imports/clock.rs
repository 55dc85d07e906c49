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

/// A clock tests set and move by hand, so expiry needs no sleeping.
#[cfg(test)]
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicU64);

#[cfg(test)]
impl ManualClock {
    /// A clock reading `secs` seconds after the epoch.
    pub fn at_secs(secs: u64) -> Self {
        Self(std::sync::atomic::AtomicU64::new(secs * 1_000_000_000))
    }

    /// Moves the clock forward by `secs` seconds.
    pub fn advance_secs(&self, secs: u64) {
        self.0
            .fetch_add(secs * 1_000_000_000, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
impl Clock for ManualClock {
    fn now_nanos(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The system clock shifted by a fixed offset: `coffer server -dev -dev-clock-offset=10m`
/// lets tests (and curious operators) see what engines and leases do in the future
/// without waiting or faking the process's time.
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock {
    /// Nanoseconds added to the system time.
    pub offset_nanos: u64,
}

impl Clock for OffsetClock {
    fn now_nanos(&self) -> u64 {
        SystemClock.now_nanos().saturating_add(self.offset_nanos)
    }
}

impl Host for CallState {
    async fn now(&mut self) -> u64 {
        self.clock.now_nanos()
    }
}
