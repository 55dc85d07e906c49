//! `coffer operator …`: init, unseal, seal, key-status, rotate.

use serde_json::{Value, json};

use super::{Command, Ctx, Env};
use crate::Io;
use crate::client::{Method, Request};
use crate::flags::{Kind, Spec};
use crate::output::{self, Format};

const USAGE: &str = "\
Usage: coffer operator <subcommand> [options] [args]

Subcommands:
    init          Initializes a server: creates the unseal key shares and a root token
    key-status    Provides information about the active encryption key
    rotate        Rotates the underlying encryption key
    seal          Seals the server
    unseal        Unseals the server";

const INIT: Command = Command {
    flags: &[
        Spec::new("key-shares", Kind::Str),
        Spec::new("key-threshold", Kind::Str),
        Spec::new("status", Kind::Bool),
    ],
    help: "
Usage: coffer operator init [options]

  Initializes a server. The unseal key is split into -key-shares shares, any
  -key-threshold of which unseal the server; they and the initial root token
  are printed once and stored nowhere.

Command Options:

  -key-shares=<int>       Number of key shares (default 5).
  -key-threshold=<int>    Shares needed to unseal (default 3).
  -status                 Print whether the server is initialized; exit 0 if it
                          is, 2 if not.",
};

const UNSEAL: Command = Command {
    flags: &[Spec::new("reset", Kind::Bool)],
    help: "
Usage: coffer operator unseal [options] [KEY]

  Provides one unseal key share. Without KEY, the share is read from stdin.
  Repeat with different shares until the threshold is reached.

Command Options:

  -reset    Discard the shares provided so far.",
};

const SEAL: Command = Command {
    flags: &[],
    help: "
Usage: coffer operator seal [options]

  Seals the server: it forgets its keys and answers 503 until unsealed again.
  Requires a token with sudo on sys/seal.",
};

const KEY_STATUS: Command = Command {
    flags: &[],
    help: "
Usage: coffer operator key-status [options]

  Shows the term and install time of the active encryption key.",
};

const ROTATE: Command = Command {
    flags: &[],
    help: "
Usage: coffer operator rotate [options]

  Installs a new encryption key for new writes; older terms stay readable.",
};

/// `coffer operator …`.
pub fn run(io: &mut Io<'_>, env: Env<'_>, args: &[String]) -> i32 {
    match args.split_first() {
        Some((sub, rest)) => match sub.as_str() {
            "init" => INIT.run(io, env, rest, init),
            "unseal" => UNSEAL.run(io, env, rest, unseal),
            "seal" => SEAL.run(io, env, rest, seal),
            "key-status" => KEY_STATUS.run(io, env, rest, key_status),
            "rotate" => ROTATE.run(io, env, rest, rotate),
            "-h" | "-help" | "--help" | "help" => {
                io.out(USAGE);
                0
            }
            _ => {
                io.err(USAGE);
                127
            }
        },
        None => {
            io.err(USAGE);
            127
        }
    }
}

fn number_flag(ctx: &mut Ctx<'_, '_>, name: &str, default: u64) -> Result<u64, i32> {
    match ctx.flags.get(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| {
            ctx.io.err(&format!(
                "invalid value {v:?} for flag -{name}: parse error"
            ));
            1
        }),
    }
}

fn init(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(0, Some(0))?;
    if ctx.flags.bool("status") {
        let resp = ctx.client.send(&Request::new(Method::Get, "sys/init"));
        return Ok(match resp {
            Err(e) => ctx.fail("Error checking init status", &e),
            Ok(r) => {
                let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
                if v["initialized"].as_bool().unwrap_or(false) {
                    ctx.io.out("Vault is initialized");
                    0
                } else {
                    ctx.io.out("Vault is not initialized");
                    2
                }
            }
        });
    }
    let shares = number_flag(ctx, "key-shares", 5)?;
    let threshold = number_flag(ctx, "key-threshold", 3)?;
    let req = Request::new(Method::Put, "sys/init")
        .json(json!({"secret_shares": shares, "secret_threshold": threshold}));
    let body = match ctx.client.send(&req) {
        Err(e) => return Ok(ctx.fail("Error initializing", &e)),
        Ok(r) => serde_json::from_str::<Value>(&r.body).unwrap_or(Value::Null),
    };
    let strings = |k: &str| -> Vec<String> {
        body[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let b64 = strings("keys_base64");
    let hex = strings("keys");
    let root = body["root_token"].as_str().unwrap_or("").to_string();
    match ctx.format {
        Format::Json => {
            let out = json!({
                "unseal_keys_b64": b64,
                "unseal_keys_hex": hex,
                "unseal_shares": shares,
                "unseal_threshold": threshold,
                "recovery_keys_b64": [],
                "recovery_keys_hex": [],
                "recovery_keys_shares": 0,
                "recovery_keys_threshold": 0,
                "root_token": root,
            });
            ctx.io.out(&output::json_pretty(&out));
        }
        Format::Table => {
            for (i, k) in b64.iter().enumerate() {
                ctx.io.out(&format!("Unseal Key {}: {k}", i + 1));
            }
            ctx.io.out("");
            ctx.io.out(&format!("Initial Root Token: {root}"));
            ctx.io.out("");
            ctx.io.out(&format!(
                "Vault initialized with {shares} key shares and a key threshold of {threshold}. Please securely\n\
                 distribute the key shares printed above. When the server is re-sealed,\n\
                 restarted, or stopped, you must supply at least {threshold} of these keys to unseal it\n\
                 before it can start servicing requests.\n\n\
                 Coffer does not store the generated root key. Without at least {threshold} keys to\n\
                 reconstruct the root key, the server will remain permanently sealed!"
            ));
        }
    }
    Ok(0)
}

fn unseal(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(0, Some(1))?;
    let body = if ctx.flags.bool("reset") {
        json!({"reset": true})
    } else {
        let key = match ctx.args().first() {
            Some(k) => k.clone(),
            None => {
                let mut text = String::new();
                if ctx.io.stdin.read_to_string(&mut text).is_err() || text.trim().is_empty() {
                    ctx.io
                        .err("Error unsealing: no unseal key given (argument or stdin)");
                    return Ok(1);
                }
                text.trim().to_string()
            }
        };
        json!({ "key": key })
    };
    let resp = ctx
        .client
        .send(&Request::new(Method::Put, "sys/unseal").json(body));
    let status = match resp {
        Err(e) => return Ok(ctx.fail("Error unsealing", &e)),
        Ok(r) => serde_json::from_str::<Value>(&r.body).unwrap_or(Value::Null),
    };
    let Some(map) = status.as_object() else {
        ctx.io.err("Error unsealing: invalid response from server");
        return Ok(2);
    };
    match ctx.format {
        Format::Json => ctx.io.out(&output::json_pretty(&status)),
        Format::Table => ctx.io.out(&super::sys::status_table(map)),
    }
    Ok(0)
}

fn seal(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(0, Some(0))?;
    match ctx.client.send(&Request::new(Method::Put, "sys/seal")) {
        Err(e) => Ok(ctx.fail("Error sealing", &e)),
        Ok(_) => {
            ctx.io.out("Success! Vault is sealed.");
            Ok(0)
        }
    }
}

fn key_status(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(0, Some(0))?;
    match ctx
        .client
        .send(&Request::new(Method::Get, "sys/key-status"))
    {
        Err(e) => Ok(ctx.fail("Error reading key status", &e)),
        Ok(r) => {
            let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
            print_key_status(ctx, &v);
            Ok(0)
        }
    }
}

fn rotate(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(0, Some(0))?;
    if let Err(e) = ctx.client.send(&Request::new(Method::Put, "sys/rotate")) {
        return Ok(ctx.fail("Error rotating key", &e));
    }
    let status = match ctx
        .client
        .send(&Request::new(Method::Get, "sys/key-status"))
    {
        Err(e) => return Ok(ctx.fail("Error reading key status", &e)),
        Ok(r) => serde_json::from_str::<Value>(&r.body).unwrap_or(Value::Null),
    };
    if ctx.format == Format::Table {
        ctx.io.out("Success! Rotated key\n");
    }
    print_key_status(ctx, &status);
    Ok(0)
}

fn print_key_status(ctx: &mut Ctx<'_, '_>, v: &Value) {
    let data = if v["data"].is_object() { &v["data"] } else { v };
    match ctx.format {
        Format::Json => ctx.io.out(&output::json_pretty(data)),
        Format::Table => {
            let rows = vec![
                ("Key Term".to_string(), output::go_value(&data["term"])),
                (
                    "Install Time".to_string(),
                    data["install_time"].as_str().unwrap_or("").to_string(),
                ),
            ];
            if let Some(t) = output::key_value_table(rows) {
                ctx.io.out(&t);
            }
        }
    }
}
