//! The host's clock. Engines have no other; the host can fake it in tests, which makes
//! expiry logic testable without sleeping.

use crate::host;
use crate::time::Timestamp;

/// The current wall-clock time, UTC.
pub fn now() -> Timestamp {
    Timestamp::from_nanos(host::clock_now())
}
