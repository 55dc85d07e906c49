//! Host functions granted to engines, one module per WIT interface.
//!
//! Each module implements its interface on [`CallState`](super::CallState), the
//! per-call store data, so what an engine can touch is exactly what that state holds.

pub mod aws;
mod clock;
pub mod log;
mod random;
mod storage;

#[cfg(test)]
pub use clock::ManualClock;
pub use clock::{Clock, OffsetClock, SystemClock};
pub(crate) use log::initial_budget as log_budget;

use super::CallState;
use super::bindings::coffer::engine::types;

impl types::Host for CallState {}

/// Interfaces every engine may import: its own storage, time, randomness, logging.
/// `types` carries no functions.
pub const BASIC: &[&str] = &[
    "coffer:engine/types",
    "coffer:engine/storage",
    "coffer:engine/clock",
    "coffer:engine/random",
    "coffer:engine/log",
];

/// A capability beyond [`BASIC`] that a plugin can be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// AWS IAM and STS through the host's SDK.
    Aws,
}

impl Capability {
    /// The capability's name as given at registration (`aws`).
    pub fn name(self) -> &'static str {
        match self {
            Capability::Aws => "aws",
        }
    }

    /// Parses a capability name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "aws" => Some(Capability::Aws),
            _ => None,
        }
    }

    /// The interfaces this capability grants.
    pub fn interfaces(self) -> &'static [&'static str] {
        match self {
            Capability::Aws => &["coffer:engine/aws-iam", "coffer:engine/aws-sts"],
        }
    }
}

/// Every interface a plugin with `capabilities` may import.
pub fn granted(capabilities: &[Capability]) -> Vec<&'static str> {
    let mut all = BASIC.to_vec();
    for c in capabilities {
        all.extend_from_slice(c.interfaces());
    }
    all
}
