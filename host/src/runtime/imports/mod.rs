//! Host functions granted to engines, one module per WIT interface.
//!
//! Each module implements its interface on [`CallState`](super::CallState), the
//! per-call store data, so what an engine can touch is exactly what that state holds.

mod clock;
mod log;
mod random;
mod storage;

pub use clock::{Clock, SystemClock};
pub(crate) use log::initial_budget as log_budget;

use super::CallState;
use super::bindings::coffer::engine::types;

impl types::Host for CallState {}

/// The WIT interfaces the host can grant, by the name a component imports them under.
/// `types` carries no functions and is always allowed.
pub const GRANTABLE: &[&str] = &[
    "coffer:engine/types",
    "coffer:engine/storage",
    "coffer:engine/clock",
    "coffer:engine/random",
    "coffer:engine/log",
];
