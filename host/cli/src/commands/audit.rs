//! `coffer audit …`: enable, list and disable audit devices.

use super::Env;
use crate::Io;

const USAGE: &str = "Usage: coffer audit <subcommand> [options] [args]";

/// `coffer audit …`.
pub fn run(io: &mut Io<'_>, _env: Env<'_>, args: &[String]) -> i32 {
    let _ = args;
    io.err(USAGE);
    127
}
