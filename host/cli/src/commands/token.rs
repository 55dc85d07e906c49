//! `coffer token …`: create, lookup, renew and revoke tokens.

use serde_json::json;

use super::{Command, Ctx, Env};
use crate::Io;
use crate::client::{Method, Request};
use crate::duration::parse_secs;
use crate::flags::{Kind, Spec, parse_map};

const TOKEN_USAGE: &str = "\
Usage: coffer token <subcommand> [options] [args]

  Interacts with tokens.

      $ coffer token create -policy=dev -ttl=1h
      $ coffer token lookup
      $ coffer token renew -increment=30m hvs.AbCd
      $ coffer token revoke hvs.AbCd

Subcommands:
    create    Create a new token
    lookup    Display information about a token (default: the current one)
    renew     Renew a token's lease (default: the current one)
    revoke    Revoke a token and its children";

const TOKEN_CREATE: Command = Command {
    flags: &[
        Spec::new("id", Kind::Str),
        Spec::new("display-name", Kind::Str),
        Spec::new("ttl", Kind::Str),
        Spec::new("explicit-max-ttl", Kind::Str),
        Spec::new("period", Kind::Str),
        Spec::new("renewable", Kind::Bool),
        Spec::new("orphan", Kind::Bool),
        Spec::new("no-default-policy", Kind::Bool),
        Spec::new("use-limit", Kind::Int),
        Spec::new("policy", Kind::Multi),
        Spec::new("metadata", Kind::Multi),
        Spec::new("type", Kind::Str),
    ],
    help: "
Usage: coffer token create [options]

  Creates a new token that can be used for authentication. It is a child of
  the token in use unless -orphan is given; it may only carry a subset of that
  token's policies.

      $ coffer token create -policy=dev -ttl=1h -display-name=alice
      $ coffer token create -field=token -policy=dev

Command Options:

  -display-name=<string>      Name shown for the token (stored as token-<name>).
  -explicit-max-ttl=<dur>     Hard cap on the token's lifetime, renewals included.
  -id=<string>                Token id to use (root only).
  -metadata=<key=value>       Metadata on the token; may be repeated.
  -no-default-policy          Do not attach the \"default\" policy.
  -orphan                     Create the token without a parent.
  -period=<dur>               Make a periodic token (root only).
  -policy=<string>            A policy to attach; may be repeated.
  -renewable                  Whether the token may be renewed (default true).
  -ttl=<dur>                  Initial TTL (default 768h).
  -type=<string>              Token type; only \"service\" is supported.
  -use-limit=<int>            Number of uses before the token is revoked.",
};

const TOKEN_RENEW: Command = Command {
    flags: &[
        Spec::new("increment", Kind::Str),
        Spec::new("i", Kind::Str),
        Spec::new("accessor", Kind::Bool),
    ],
    help: "
Usage: coffer token renew [options] [TOKEN]

  Renews a token's lease, extending how long it can be used. Without TOKEN,
  the token in use is renewed.

Command Options:

  -accessor               Treat the argument as a token accessor.
  -increment=<dur> (-i)   Requested TTL from now; default: the token's own TTL.",
};

const TOKEN_REVOKE: Command = Command {
    flags: &[
        Spec::new("self", Kind::Bool),
        Spec::new("accessor", Kind::Bool),
        Spec::new("mode", Kind::Str),
    ],
    help: "
Usage: coffer token revoke [options] [TOKEN | ACCESSOR]

  Revokes a token and all of its children, and the leases they created.

      $ coffer token revoke hvs.AbCd
      $ coffer token revoke -self
      $ coffer token revoke -mode=orphan hvs.AbCd

Command Options:

  -accessor      Treat the argument as a token accessor.
  -mode=<string> \"orphan\": revoke only this token, its children become orphans.
  -self          Revoke the token in use.",
};

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
        Some((sub, rest)) if sub == "create" => TOKEN_CREATE.run(io, env, rest, token_create),
        Some((sub, rest)) if sub == "lookup" => TOKEN_LOOKUP.run(io, env, rest, token_lookup),
        Some((sub, rest)) if sub == "renew" => TOKEN_RENEW.run(io, env, rest, token_renew),
        Some((sub, rest)) if sub == "revoke" => TOKEN_REVOKE.run(io, env, rest, token_revoke),
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

fn token_create(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(0, Some(0))?;
    let flags = &ctx.flags;
    // Like Vault's string-slice flags, `-policy=a,b` counts as two policies.
    let policies: Vec<String> = flags
        .all("policy")
        .iter()
        .flat_map(|p| p.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    let meta = match parse_map(flags.all("metadata")) {
        Ok(m) => m,
        Err(e) => {
            ctx.io.err(&format!("invalid value for -metadata: {e}"));
            return Ok(1);
        }
    };
    let mut body = serde_json::Map::new();
    if !policies.is_empty() {
        body.insert("policies".into(), json!(policies));
    }
    if !meta.is_empty() {
        body.insert("meta".into(), json!(meta));
    }
    for (flag, key) in [
        ("id", "id"),
        ("display-name", "display_name"),
        ("ttl", "ttl"),
        ("explicit-max-ttl", "explicit_max_ttl"),
        ("period", "period"),
        ("type", "type"),
    ] {
        if let Some(v) = flags.get(flag).filter(|v| !v.is_empty()) {
            body.insert(key.into(), json!(v));
        }
    }
    let renewable = !flags.is_set("renewable") || flags.bool("renewable");
    body.insert("renewable".into(), json!(renewable));
    if flags.bool("no-default-policy") {
        body.insert("no_default_policy".into(), json!(true));
    }
    let uses = flags.int("use-limit", 0);
    if uses != 0 {
        body.insert("num_uses".into(), json!(uses));
    }
    let path = if flags.bool("orphan") {
        "auth/token/create-orphan"
    } else {
        "auth/token/create"
    };
    let req = Request::new(Method::Post, path).json(serde_json::Value::Object(body));
    match ctx.client.write(&req) {
        Err(e) => Ok(ctx.fail("Error creating token", &e)),
        Ok(None) => {
            ctx.io.err("Error creating token: no token returned");
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

fn token_renew(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(0, Some(1))?;
    let arg = ctx.args().first().cloned();
    let text = ctx
        .flags
        .get("increment")
        .or_else(|| ctx.flags.get("i"))
        .unwrap_or("")
        .to_string();
    let Some(increment) = parse_secs(&text) else {
        ctx.io.err(&format!(
            "Invalid increment: time: invalid duration {text:?}"
        ));
        return Ok(1);
    };
    let increment = increment.max(0);
    let req = match (&arg, ctx.flags.bool("accessor")) {
        (None, false) => {
            Request::new(Method::Put, "auth/token/renew-self").json(json!({"increment": increment}))
        }
        (Some(t), false) => Request::new(Method::Put, "auth/token/renew")
            .json(json!({"token": t, "increment": increment})),
        (Some(a), true) => Request::new(Method::Put, "auth/token/renew-accessor")
            .json(json!({"accessor": a, "increment": increment})),
        (None, true) => {
            ctx.io.err("Not enough arguments (expected 1, got 0)");
            return Ok(1);
        }
    };
    match ctx.client.write(&req) {
        Err(e) => Ok(ctx.fail("Error renewing token", &e)),
        Ok(None) => {
            ctx.io
                .err("Error renewing token: no token information returned");
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

fn token_revoke(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    let this = ctx.flags.bool("self");
    let accessor = ctx.flags.bool("accessor");
    let mode = ctx.flags.str("mode").to_string();
    let n = ctx.args().len();
    // Vault's checks, in Vault's order and words.
    let problem = if this && n > 0 {
        Some(format!(
            "Too many arguments with -self (expected 0, got {n})"
        ))
    } else if !this && n > 1 {
        Some(format!("Too many arguments (expected 1, got {n})"))
    } else if !this && n < 1 {
        Some(format!("Not enough arguments (expected 1, got {n})"))
    } else if this && accessor {
        Some("Cannot use -self with -accessor!".into())
    } else if this && !mode.is_empty() {
        Some("Cannot use -self with -mode!".into())
    } else if accessor && mode == "orphan" {
        Some("Cannot use -accessor with -mode=orphan!".into())
    } else if accessor && mode == "path" {
        Some("Cannot use -accessor with -mode=path!".into())
    } else if !matches!(mode.as_str(), "" | "orphan") {
        Some(format!(
            "Unsupported -mode: {mode:?} (only \"orphan\" is supported)"
        ))
    } else {
        None
    };
    if let Some(p) = problem {
        ctx.io.err(&p);
        return Ok(1);
    }
    let arg = ctx.args().first().cloned().unwrap_or_default();
    let req = if this {
        Request::new(Method::Put, "auth/token/revoke-self")
    } else if accessor {
        Request::new(Method::Put, "auth/token/revoke-accessor").json(json!({"accessor": arg}))
    } else if mode == "orphan" {
        Request::new(Method::Put, "auth/token/revoke-orphan").json(json!({"token": arg}))
    } else {
        Request::new(Method::Put, "auth/token/revoke").json(json!({"token": arg}))
    };
    if let Err(e) = ctx.client.write(&req) {
        return Ok(ctx.fail("Error revoking token", &e));
    }
    ctx.io.out("Success! Revoked token (if it existed)");
    Ok(0)
}
