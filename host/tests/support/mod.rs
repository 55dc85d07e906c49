//! Shared helpers for the host's integration tests and benchmarks.

pub mod moto;
