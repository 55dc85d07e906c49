//! `read`, `write`, `delete`, `list` and `path-help`: raw access to any path.

use serde_json::Value;

use super::{Command, Ctx, Env};
use crate::Io;
use crate::client::{Method, Request, RequestError};
use crate::flags::{Kind, Spec};
use crate::kvdata;
use crate::kvpath::{ensure_trailing_slash, sanitize};
use crate::output::{self, Format};
use crate::secret::Secret;

const READ: Command = Command {
    flags: &[],
    help: "
Usage: coffer read [options] PATH [KEY=VALUE ...]

  Reads data from Coffer at the given path. KEY=VALUE pairs are sent as query
  parameters.

      $ coffer read secret/foo
      $ coffer read -field=access_key aws/creds/my-role",
};

const WRITE: Command = Command {
    flags: &[Spec::new("force", Kind::Bool), Spec::new("f", Kind::Bool)],
    help: "
Usage: coffer write [options] PATH [DATA K=V...]

  Writes data to Coffer at the given path. Values may be read from a file
  (k=@file), from stdin (k=-), or the whole body from stdin as JSON (-).

      $ coffer write aws/roles/deploy credential_type=iam_user policy_document=@policy.json
      $ echo '{\"ttl\":\"1h\"}' | coffer write aws/config/lease -

Command Options:

  -force (-f)
      Allow the write with no data.",
};

const DELETE: Command = Command {
    flags: &[],
    help: "
Usage: coffer delete [options] PATH [K=V...]

  Deletes secrets and configuration at the given path.

      $ coffer delete secret/foo",
};

const LIST: Command = Command {
    flags: &[Spec::new("detailed", Kind::Bool)],
    help: "
Usage: coffer list [options] PATH

  Lists data at the given path (folders end with a slash).

      $ coffer list aws/roles",
};

const PATH_HELP: Command = Command {
    flags: &[],
    help: "
Usage: coffer path-help [options] PATH

  Retrieves API help for the given path.

      $ coffer path-help aws/roles/x",
};

/// `coffer read`.
pub fn read(io: &mut Io<'_>, env: Env<'_>, args: &[String]) -> i32 {
    READ.run(io, env, args, read_body)
}

fn read_body(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(1, None)?;
    let path = sanitize(&ctx.args()[0]);
    let rest = ctx.args()[1..].to_vec();
    let data = parse_data(ctx.io, &rest)?;
    let secret = match ctx.client.read(&path, kvdata::to_query(&data)) {
        Ok(Some(s)) => s,
        Ok(None) => {
            ctx.io.err(&format!("No value found at {path}"));
            return Ok(2);
        }
        Err(e) => return Ok(ctx.fail(&format!("Error reading {path}"), &e)),
    };
    if ctx.field.is_some() {
        return Ok(ctx.print_secret_field(&secret));
    }
    Ok(ctx.output_secret(&secret))
}

/// `coffer write`.
pub fn write(io: &mut Io<'_>, env: Env<'_>, args: &[String]) -> i32 {
    WRITE.run(io, env, args, write_body)
}

fn write_body(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(1, None)?;
    let path = sanitize(&ctx.args()[0]);
    let rest = ctx.args()[1..].to_vec();
    let data = parse_data(ctx.io, &rest)?;
    let force = ctx.flags.bool("force") || ctx.flags.bool("f");
    if data.is_empty() && !force {
        ctx.io.err("Must supply data or use -force");
        return Ok(1);
    }
    let req = Request::new(Method::Put, &path).json(Value::Object(data));
    match ctx.client.write(&req) {
        Ok(Some(secret)) => {
            if ctx.field.is_some() {
                return Ok(ctx.print_secret_field(&secret));
            }
            Ok(ctx.output_secret(&secret))
        }
        Ok(None) => {
            if ctx.format == Format::Table {
                ctx.io.out(&format!("Success! Data written to: {path}"));
            }
            Ok(0)
        }
        Err(e) => Ok(ctx.fail(&format!("Error writing data to {path}"), &e)),
    }
}

/// `coffer delete`.
pub fn delete(io: &mut Io<'_>, env: Env<'_>, args: &[String]) -> i32 {
    DELETE.run(io, env, args, delete_body)
}

fn delete_body(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(1, None)?;
    let path = sanitize(&ctx.args()[0]);
    let rest = ctx.args()[1..].to_vec();
    let data = parse_data(ctx.io, &rest)?;
    match ctx.client.delete(&path, kvdata::to_query(&data)) {
        Ok(Some(secret)) => {
            if ctx.field.is_some() {
                return Ok(ctx.print_secret_field(&secret));
            }
            Ok(ctx.output_secret(&secret))
        }
        Ok(None) => {
            if ctx.format == Format::Table {
                ctx.io
                    .out(&format!("Success! Data deleted (if it existed) at: {path}"));
            }
            Ok(0)
        }
        Err(e) => Ok(ctx.fail(&format!("Error deleting {path}"), &e)),
    }
}

/// `coffer list`.
pub fn list(io: &mut Io<'_>, env: Env<'_>, args: &[String]) -> i32 {
    LIST.run(io, env, args, list_body)
}

fn list_body(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(1, Some(1))?;
    let path = ensure_trailing_slash(&sanitize(&ctx.args()[0]));
    let result = ctx.client.list(&path);
    let detailed = ctx.flags.bool("detailed");
    Ok(output_list(ctx, &path, result, detailed))
}

/// Shared by `list` and `kv list`: Vault's list output and its error cases.
pub fn output_list(
    ctx: &mut Ctx<'_, '_>,
    path: &str,
    result: Result<Option<Secret>, RequestError>,
    detailed: bool,
) -> i32 {
    let secret = match result {
        Ok(s) => s,
        Err(e) => return ctx.fail(&format!("Error listing {path}"), &e),
    };
    let keys = secret
        .as_ref()
        .and_then(|s| s.data())
        .and_then(|d| d.get("keys"))
        .and_then(Value::as_array)
        .cloned();
    if ctx.format == Format::Json {
        return match (&secret, keys) {
            (Some(s), Some(_)) if detailed => {
                ctx.io.out(&s.to_json());
                0
            }
            (_, Some(keys)) => {
                ctx.io.out(&output::json_pretty(&Value::Array(keys)));
                0
            }
            _ => {
                ctx.io.out("{}");
                2
            }
        };
    }
    if secret.as_ref().and_then(|s| s.data()).is_none() {
        ctx.io.err(&format!("No value found at {path}"));
        return 2;
    }
    let Some(keys) = keys else {
        ctx.io.err(&format!("No entries found at {path}"));
        return 2;
    };
    if let Some(s) = &secret {
        ctx.print_warnings(s);
    }
    let mut names: Vec<String> = keys.iter().map(output::go_value).collect();
    names.sort();
    if !names.is_empty() {
        let rows = names.into_iter().map(|k| vec![k]).collect();
        ctx.io.out(&output::table(&["Keys"], rows));
    }
    0
}

/// `coffer path-help`.
pub fn path_help(io: &mut Io<'_>, env: Env<'_>, args: &[String]) -> i32 {
    PATH_HELP.run(io, env, args, path_help_body)
}

fn path_help_body(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(1, Some(1))?;
    let path = sanitize(&ctx.args()[0]);
    let q = vec![("help".to_string(), "1".to_string())];
    let resp = match ctx.client.send(&Request::new(Method::Get, &path).query(q)) {
        Ok(r) => r,
        Err(e) => {
            if e.to_string().contains("is sealed") {
                ctx.io.err("Error: Coffer is sealed.\n\nThe \"path-help\" command requires the server to be unsealed so that the mount points of the secret engines are known.");
            } else {
                ctx.io.err(&format!("Error retrieving help: {e}"));
            }
            return Ok(2);
        }
    };
    let parsed: Option<Value> = serde_json::from_str(&resp.body).ok();
    if ctx.format == Format::Json {
        match &parsed {
            Some(v) => ctx.io.out(&output::json_pretty(v)),
            None => ctx.io.out(&resp.body),
        }
        return Ok(0);
    }
    // Vault puts the text at the top level; some servers nest it in data.
    let text = parsed.as_ref().and_then(|v| {
        v.get("help")
            .or_else(|| v.get("data").and_then(|d| d.get("help")))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    ctx.io.out(text.as_deref().unwrap_or(&resp.body));
    Ok(0)
}

/// Parses `k=v` arguments, printing Vault's error on failure (exit 1).
pub fn parse_data(io: &mut Io<'_>, args: &[String]) -> Result<serde_json::Map<String, Value>, i32> {
    let result = kvdata::parse(args, &mut *io.stdin, &kvdata::read_file_from_disk);
    result.map_err(|e| {
        io.err(&format!("Failed to parse K=V data: {e}"));
        1
    })
}
