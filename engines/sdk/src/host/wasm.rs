//! Host calls through the WIT imports (wasm builds).

use super::{Level, StorageFailure};
use crate::bindings::coffer::engine::{clock, log, random, storage};

fn failure(e: storage::StorageError) -> StorageFailure {
    match e {
        storage::StorageError::InvalidKey(m) => StorageFailure::InvalidKey(m),
        storage::StorageError::TooLarge(n) => StorageFailure::TooLarge(n),
        storage::StorageError::Backend(m) => StorageFailure::Backend(m),
    }
}

pub(crate) fn storage_get(key: &str) -> Result<Option<Vec<u8>>, StorageFailure> {
    storage::get(key).map_err(failure)
}

pub(crate) fn storage_put(key: &str, value: &[u8]) -> Result<(), StorageFailure> {
    storage::put(key, value).map_err(failure)
}

pub(crate) fn storage_delete(key: &str) -> Result<(), StorageFailure> {
    storage::delete(key).map_err(failure)
}

pub(crate) fn storage_list(prefix: &str) -> Result<Vec<String>, StorageFailure> {
    storage::list_keys(prefix).map_err(failure)
}

pub(crate) fn clock_now() -> u64 {
    clock::now()
}

pub(crate) fn random_bytes(len: u32) -> Vec<u8> {
    random::get_random_bytes(len)
}

pub(crate) fn log_message(level: Level, message: &str) {
    let level = match level {
        Level::Trace => log::Level::Trace,
        Level::Debug => log::Level::Debug,
        Level::Info => log::Level::Info,
        Level::Warn => log::Level::Warn,
        Level::Error => log::Level::Error,
    };
    log::log(level, message);
}
