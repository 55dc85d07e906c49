//! `coffer:engine/random`: randomness from the operating system's CSPRNG.

use rand::RngCore;

use crate::runtime::CallState;
use crate::runtime::bindings::coffer::engine::random::Host;

/// Most bytes one call returns; bounds the host memory a guest can make us allocate.
const MAX_RANDOM_BYTES: u32 = 65536;

impl Host for CallState {
    async fn get_random_bytes(&mut self, len: u32) -> Vec<u8> {
        let mut buf = vec![0u8; len.min(MAX_RANDOM_BYTES) as usize];
        rand::rngs::OsRng.fill_bytes(&mut buf);
        buf
    }
}
