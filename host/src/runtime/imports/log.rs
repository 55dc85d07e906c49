//! `coffer:engine/log`: engine messages in the host's log, tagged with engine and mount.

use crate::runtime::CallState;
use crate::runtime::bindings::coffer::engine::log::{Host, Level};

/// Longest message kept; a chatty or hostile engine cannot flood the log with one call.
const MAX_MESSAGE_CHARS: usize = 4096;
/// Messages one call may log before the rest are dropped.
const MAX_MESSAGES_PER_CALL: u32 = 256;

impl Host for CallState {
    async fn log(&mut self, level: Level, message: String) {
        if self.log_budget == 0 {
            return;
        }
        self.log_budget -= 1;
        let message: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
        let engine = &*self.engine_name;
        let mount = &*self.mount_path;
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
