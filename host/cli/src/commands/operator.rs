//! `coffer operator …`: init, unseal, seal, key-status, rotate.

use super::Env;
use crate::Io;

const USAGE: &str = "Usage: coffer operator <subcommand> [options] [args]";

/// `coffer operator …`.
pub fn run(io: &mut Io<'_>, _env: Env<'_>, args: &[String]) -> i32 {
    let _ = args;
    io.err(USAGE);
    127
}
