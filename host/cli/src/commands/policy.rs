//! `coffer policy …`: write, read, list and delete ACL policies.

use super::Env;
use crate::Io;

const USAGE: &str = "Usage: coffer policy <subcommand> [options] [args]";

/// `coffer policy …`.
pub fn run(io: &mut Io<'_>, _env: Env<'_>, args: &[String]) -> i32 {
    let _ = args;
    io.err(USAGE);
    127
}
