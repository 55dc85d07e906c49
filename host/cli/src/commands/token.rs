//! `coffer token …`: create, lookup, renew and revoke tokens.

use serde_json::json;

use super::{Command, Ctx, Env};
use crate::Io;
use crate::client::{Method, Request};
use crate::flags::{Kind, Spec};

const TOKEN_USAGE: &str = "\
Usage: coffer token <subcommand> [options] [args]

Subcommands:
    lookup    Display information about a token (default: the current one)";

const TOKEN_LOOKUP: Command = Command {
    flags: &[Spec::new("accessor", Kind::Bool)],
    help: "
Usage: coffer token lookup [options] [TOKEN | ACCESSOR]

  Displays information about a token; without arguments, the token in use.

Command Options:

  -accessor    Treat the argument as a token accessor.",
};

/// `coffer token …`.
pub fn run(io: &mut Io<'_>, env: Env<'_>, args: &[String]) -> i32 {
    match args.split_first() {
        Some((sub, rest)) if sub == "lookup" => TOKEN_LOOKUP.run(io, env, rest, token_lookup),
        Some((sub, _)) if matches!(sub.as_str(), "-h" | "-help" | "--help" | "help") => {
            io.out(TOKEN_USAGE);
            0
        }
        _ => {
            io.err(TOKEN_USAGE);
            127
        }
    }
}

fn token_lookup(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(0, Some(1))?;
    let arg = ctx.args().first().cloned();
    let accessor = ctx.flags.bool("accessor");
    let req = match (&arg, accessor) {
        (None, false) => Request::new(Method::Get, "auth/token/lookup-self"),
        (Some(t), false) => {
            Request::new(Method::Post, "auth/token/lookup").json(json!({"token": t}))
        }
        (Some(a), true) => {
            Request::new(Method::Post, "auth/token/lookup-accessor").json(json!({"accessor": a}))
        }
        (None, true) => {
            ctx.io.err("Not enough arguments (expected 1, got 0)");
            return Ok(1);
        }
    };
    let result = if req.method == Method::Get {
        ctx.client.read(req.path, Vec::new())
    } else {
        ctx.client.write(&req)
    };
    match result {
        Err(e) => Ok(ctx.fail("Error looking up token", &e)),
        Ok(None) => {
            ctx.io
                .err("Error looking up token: no token information returned");
            Ok(2)
        }
        Ok(Some(secret)) => {
            if ctx.field.is_some() {
                return Ok(ctx.print_secret_field(&secret));
            }
            Ok(ctx.output_secret(&secret))
        }
    }
}
