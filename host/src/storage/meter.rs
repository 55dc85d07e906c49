//! Per-mount usage deltas, gathered while a backend applies one atomic write.

use std::collections::HashMap;

use super::metered_folder;

/// Change in stored bytes per metered folder, accumulated over one write transaction
/// from the old and new sizes the backend sees as it applies each operation (so it is
/// exact whatever else is being written concurrently).
#[derive(Default)]
pub(crate) struct Meter(HashMap<String, i64>);

impl Meter {
    /// Records that `key` went from a value of `old` bytes to one of `new` bytes
    /// (`None` = absent).
    pub(crate) fn record(&mut self, key: &str, old: Option<usize>, new: Option<usize>) {
        let Some(folder) = metered_folder(key) else {
            return;
        };
        let size = |v: Option<usize>| v.map_or(0, |n| (key.len() + n) as i64);
        let delta = size(new) - size(old);
        if delta != 0 {
            *self.0.entry(folder.to_string()).or_default() += delta;
        }
    }

    /// The folders touched and their deltas.
    pub(crate) fn into_deltas(self) -> impl Iterator<Item = (String, i64)> {
        self.0.into_iter()
    }
}

/// `current` moved by `delta`, never below zero; `None` (drop the count) at zero.
pub(crate) fn apply(current: u64, delta: i64) -> Option<u64> {
    let next = if delta >= 0 {
        current.saturating_add(delta as u64)
    } else {
        current.saturating_sub(delta.unsigned_abs())
    };
    (next > 0).then_some(next)
}
