//! `coffer lease lookup|renew|revoke`.

use serde_json::json;

use super::{Command, Ctx, Env};
use crate::Io;
use crate::client::{Method, Request};
use crate::duration::parse_secs;
use crate::flags::{Kind, Spec};
use crate::output::wrap_with_padding;

const USAGE: &str = "\
Usage: coffer lease <subcommand> [options] [args]

  Interacts with leases.

      $ coffer lease lookup aws/creds/my-role/AbCd1234
      $ coffer lease renew -increment=1h aws/creds/my-role/AbCd1234
      $ coffer lease revoke -prefix aws/creds/my-role

Subcommands:
    lookup    Look up a lease
    renew     Renew a lease
    revoke    Revoke a lease or every lease under a prefix";

const LOOKUP: Command = Command {
    flags: &[],
    help: "
Usage: coffer lease lookup [options] ID

  Looks up the lease with the given ID.",
};

const RENEW: Command = Command {
    flags: &[Spec::new("increment", Kind::Str)],
    help: "
Usage: coffer lease renew [options] ID

  Renews the lease with the given ID, optionally asking for a new TTL.

Command Options:

  -increment=<duration>   Requested TTL from now (e.g. 1h, 3600).",
};

const REVOKE: Command = Command {
    flags: &[
        Spec::new("prefix", Kind::Bool),
        Spec::new("force", Kind::Bool),
        Spec::new("f", Kind::Bool),
        Spec::new("sync", Kind::Bool),
    ],
    help: "
Usage: coffer lease revoke [options] ID

  Revokes a lease, or with -prefix every lease under a prefix. Without -sync
  the revocation is queued and happens in the background.

      $ coffer lease revoke -sync aws/creds/my-role/AbCd1234
      $ coffer lease revoke -prefix aws/

Command Options:

  -prefix        Treat ID as a prefix.
  -force (-f)    With -prefix: delete the leases even if the engine fails to
                 revoke them. Use with care.
  -sync          Wait for the revocation to finish.",
};

/// `coffer lease …`.
pub fn run(io: &mut Io<'_>, env: Env<'_>, args: &[String]) -> i32 {
    let Some((sub, rest)) = args.split_first() else {
        io.err(USAGE);
        return 127;
    };
    match sub.as_str() {
        "lookup" => LOOKUP.run(io, env, rest, lookup),
        "renew" => RENEW.run(io, env, rest, renew),
        "revoke" => REVOKE.run(io, env, rest, revoke),
        "-h" | "-help" | "--help" | "help" => {
            io.out(USAGE);
            0
        }
        _ => {
            io.err(USAGE);
            127
        }
    }
}

fn lookup(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(1, Some(1))?;
    let id = ctx.args()[0].trim().to_string();
    let req = Request::new(Method::Put, "sys/leases/lookup").json(json!({"lease_id": id}));
    match ctx.client.write(&req) {
        Err(e) => Ok(ctx.fail(&format!("error looking up lease id {id}"), &e)),
        Ok(None) => Ok(0),
        Ok(Some(secret)) => {
            if ctx.field.is_some() {
                return Ok(ctx.print_secret_field(&secret));
            }
            Ok(ctx.output_secret(&secret))
        }
    }
}

fn renew(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(1, Some(2))?;
    let id = ctx.args()[0].trim().to_string();
    // Vault still accepts the increment as a second argument (deprecated).
    let increment_text = match ctx.args().get(1) {
        Some(second) => second.clone(),
        None => ctx.flags.str("increment").to_string(),
    };
    let Some(increment) = parse_secs(&increment_text) else {
        ctx.io.err(&format!(
            "Invalid increment: time: invalid duration {increment_text:?}"
        ));
        return Ok(1);
    };
    let req = Request::new(Method::Put, "sys/leases/renew")
        .json(json!({"lease_id": id, "increment": increment.max(0)}));
    match ctx.client.write(&req) {
        Err(e) => Ok(ctx.fail(&format!("Error renewing {id}"), &e)),
        Ok(None) => Ok(0),
        Ok(Some(secret)) => {
            if ctx.field.is_some() {
                return Ok(ctx.print_secret_field(&secret));
            }
            Ok(ctx.output_secret(&secret))
        }
    }
}

fn revoke(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(1, Some(1))?;
    let id = ctx.args()[0].trim().to_string();
    let force = ctx.flags.bool("force") || ctx.flags.bool("f");
    let prefix = ctx.flags.bool("prefix");
    let sync = ctx.flags.bool("sync");
    if force && !prefix {
        ctx.io
            .err("Specifying -force requires also specifying -prefix");
        return Ok(1);
    }
    let path = match (force, prefix) {
        (true, _) => format!("sys/leases/revoke-force/{id}"),
        (false, true) => format!("sys/leases/revoke-prefix/{id}"),
        (false, false) => format!("sys/leases/revoke/{id}"),
    };
    let mut req = Request::new(Method::Put, &path);
    if !force {
        req = req.json(json!({"sync": sync}));
    }
    if force {
        ctx.io.err(&wrap_with_padding(
            "Warning! Force-removing leases can cause Coffer to become out of sync with secret engines!",
            0,
        ));
    }
    if let Err(e) = ctx.client.write(&req) {
        let what = match (force, prefix) {
            (true, _) => format!("Error force revoking leases with prefix {id}"),
            (false, true) => format!("Error revoking leases with prefix {id}"),
            (false, false) => format!("Error revoking lease {id}"),
        };
        return Ok(ctx.fail(&what, &e));
    }
    let message = match (force, prefix, sync) {
        (true, _, _) => format!("Success! Force revoked any leases with prefix: {id}"),
        (false, true, true) => format!("Success! Revoked any leases with prefix: {id}"),
        (false, false, true) => format!("Success! Revoked lease: {id}"),
        (false, _, false) => "All revocation operations queued successfully!".to_string(),
    };
    ctx.io.out(&message);
    Ok(0)
}
