//! Logging into the host's log, which tags messages with the engine and mount.
//!
//! Never put secret values (or whole request bodies) into log messages.

use crate::host;
pub use crate::host::Level;

/// Writes one message at `level`.
pub fn log(level: Level, message: &str) {
    host::log_message(level, message);
}

/// Writes a trace message.
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Writes a debug message.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Writes an info message.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Writes a warning.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Writes an error message.
pub fn error(message: &str) {
    log(Level::Error, message);
}
