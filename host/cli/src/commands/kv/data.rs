//! `kv get|put|delete|undelete|destroy|list`.

use serde_json::{Map, Value, json};

use super::{MOUNT, parse_versions, resolve};
use crate::client::{Method, Request};
use crate::commands::generic::{output_list, parse_data};
use crate::commands::{Command, Ctx};
use crate::flags::{Kind, Spec};
use crate::output::{self, Format};
use crate::secret::Secret;

pub(super) const GET: Command = Command {
    flags: &[Spec::new("version", Kind::Int), MOUNT],
    help: "
Usage: coffer kv get [options] KEY

  Retrieves the value at KEY; -version selects an older version (v2).

      $ coffer kv get secret/foo
      $ coffer kv get -mount=secret -version=1 foo",
};

pub(super) const PUT: Command = Command {
    flags: &[Spec::new("cas", Kind::Int), MOUNT],
    help: "
Usage: coffer kv put [options] KEY [DATA]

  Writes the data to KEY, replacing what is there (a new version on v2).
  Values accept k=@file and k=-, or the whole object from stdin with -.

      $ coffer kv put secret/foo bar=baz
      $ coffer kv put -cas=1 secret/foo bar=qux

Command Options:

  -cas=<int>      Check-and-set: write only if the current version matches
                  (0 = only if the key does not exist). v2 only.
  -mount=<path>   The mount; KEY is then relative to it.",
};

pub(super) const DELETE: Command = Command {
    flags: &[Spec::new("versions", Kind::Multi), MOUNT],
    help: "
Usage: coffer kv delete [options] KEY

  Soft-deletes the latest version (or -versions) of KEY on v2; deletes the
  key on v1.

      $ coffer kv delete secret/foo
      $ coffer kv delete -versions=1,2 secret/foo",
};

pub(super) const UNDELETE: Command = Command {
    flags: &[Spec::new("versions", Kind::Multi), MOUNT],
    help: "
Usage: coffer kv undelete [options] KEY

  Restores soft-deleted versions of KEY (v2).

      $ coffer kv undelete -versions=3 secret/foo",
};

pub(super) const DESTROY: Command = Command {
    flags: &[Spec::new("versions", Kind::Multi), MOUNT],
    help: "
Usage: coffer kv destroy [options] KEY

  Permanently removes the data of the given versions of KEY (v2).

      $ coffer kv destroy -versions=3 secret/foo",
};

pub(super) const LIST: Command = Command {
    flags: &[MOUNT],
    help: "
Usage: coffer kv list [options] PATH

  Lists the keys under PATH.

      $ coffer kv list secret/my-app/",
};

pub(super) fn get(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(1, Some(1))?;
    let arg = ctx.args()[0].clone();
    let target = resolve(ctx, &arg)?;
    let full = target.api_path("data");
    let version = ctx.flags.int("version", 0);
    let query = if target.v2 && version > 0 {
        vec![("version".to_string(), version.to_string())]
    } else {
        Vec::new()
    };
    let secret = match ctx.client.read(&full, query) {
        Ok(Some(s)) => s,
        Ok(None) => {
            ctx.io.err(&format!("No value found at {full}"));
            return Ok(2);
        }
        Err(e) => return Ok(ctx.fail(&format!("Error reading {full}"), &e)),
    };

    if let Some(field) = ctx.field.clone() {
        if !target.v2 {
            return Ok(ctx.print_secret_field(&secret));
        }
        let Some(data) = secret
            .data()
            .and_then(|d| d.get("data"))
            .filter(|d| !d.is_null())
        else {
            ctx.io.err(&format!("No data found at {full}"));
            return Ok(2);
        };
        let data = data.clone();
        // A literal "data" field means the key named data if there is one,
        // otherwise the whole data block.
        let value = if field == "data" && data.get("data").is_none() {
            secret.field("data")
        } else {
            data.get(&field).filter(|v| !v.is_null()).cloned()
        };
        return Ok(ctx.print_field(&field, value));
    }

    if ctx.format == Format::Json || secret.wrap_info().is_some() {
        return Ok(ctx.output_secret(&secret));
    }
    ctx.print_warnings(&secret);
    if target.v2 {
        ctx.io.out(&output::path_block("Secret Path", &full));
    }
    if let Some(meta) = secret
        .data()
        .and_then(|d| d.get("metadata"))
        .and_then(Value::as_object)
    {
        ctx.io.out(&output::header_for_map("Metadata", meta));
        if let Some(t) = output::key_value_table(output::map_rows(meta)) {
            ctx.io.out(&t);
        }
        ctx.io.out("");
    }
    let data = if target.v2 {
        secret
            .data()
            .and_then(|d| d.get("data"))
            .and_then(Value::as_object)
    } else {
        secret.data()
    };
    if let Some(data) = data {
        ctx.io.out(&output::header_for_map("Data", data));
        if let Some(t) = output::key_value_table(output::map_rows(data)) {
            ctx.io.out(&t);
        }
    }
    Ok(0)
}

/// The table `kv put` / `kv patch` print for a v2 write.
pub(super) fn output_write_result(ctx: &mut Ctx<'_, '_>, full: &str, secret: &Secret) -> i32 {
    if ctx.field.is_some() {
        return ctx.print_secret_field(secret);
    }
    if ctx.format == Format::Json {
        return ctx.output_secret(secret);
    }
    let empty = Map::new();
    let meta = secret.data().unwrap_or(&empty);
    ctx.io.out(&output::path_block("Secret Path", full));
    ctx.io.out(&output::header_for_map("Metadata", meta));
    if let Some(t) = output::key_value_table(output::map_rows(meta)) {
        ctx.io.out(&t);
    }
    0
}

/// Vault's check shared by put and patch: a key plus at least some data.
pub(super) fn expect_key_and_data(ctx: &mut Ctx<'_, '_>, data_optional: bool) -> Result<(), i32> {
    let got = ctx.args().len();
    if got < 1 {
        ctx.io
            .err(&format!("Not enough arguments (expected >1, got {got})"));
        return Err(1);
    }
    if got == 1 && !data_optional {
        ctx.io.err("Must supply data");
        return Err(1);
    }
    Ok(())
}

pub(super) fn put(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    expect_key_and_data(ctx, false)?;
    let rest = ctx.args()[1..].to_vec();
    let data = parse_data(ctx.io, &rest)?;
    let arg = ctx.args()[0].clone();
    let target = resolve(ctx, &arg)?;
    let full = target.api_path("data");
    let body = if target.v2 {
        let mut options = Map::new();
        let cas = ctx.flags.int("cas", -1);
        if cas > -1 {
            options.insert("cas".into(), Value::from(cas));
        }
        json!({"data": data, "options": options})
    } else {
        Value::Object(data)
    };
    match ctx
        .client
        .write(&Request::new(Method::Put, &full).json(body))
    {
        Err(e) => Ok(ctx.fail(&format!("Error writing data to {full}"), &e)),
        Ok(None) => {
            if ctx.format == Format::Table {
                ctx.io.out(&format!("Success! Data written to: {full}"));
            }
            Ok(0)
        }
        Ok(Some(secret)) => Ok(output_write_result(ctx, &full, &secret)),
    }
}

pub(super) fn delete(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(1, Some(1))?;
    let arg = ctx.args()[0].clone();
    let target = resolve(ctx, &arg)?;
    let full = target.api_path("data");
    let versions = parse_versions(ctx.flags.all("versions"));
    let result = if target.v2 && !versions.is_empty() {
        let path = target.api_path("delete");
        ctx.client
            .write(&Request::new(Method::Put, &path).json(json!({"versions": versions})))
    } else {
        ctx.client.delete(&full, Vec::new())
    };
    match result {
        Err(e) => Ok(ctx.fail(&format!("Error deleting {full}"), &e)),
        Ok(None) => {
            if ctx.format == Format::Table {
                ctx.io
                    .out(&format!("Success! Data deleted (if it existed) at: {full}"));
            }
            Ok(0)
        }
        Ok(Some(secret)) => {
            if ctx.field.is_some() {
                return Ok(ctx.print_secret_field(&secret));
            }
            Ok(ctx.output_secret(&secret))
        }
    }
}

/// `kv undelete` and `kv destroy`.
pub(super) fn versions_write(ctx: &mut Ctx<'_, '_>, op: &str) -> Result<i32, i32> {
    ctx.expect_args(1, Some(1))?;
    let versions = parse_versions(ctx.flags.all("versions"));
    if versions.is_empty() {
        ctx.io.err(&format!(
            "No versions provided, use the \"-versions\" flag to specify the version to {op}."
        ));
        return Ok(1);
    }
    let arg = ctx.args()[0].clone();
    let target = resolve(ctx, &arg)?;
    if !target.v2 {
        let name = if op == "undelete" {
            "Undelete"
        } else {
            "Destroy"
        };
        ctx.io.err(&format!("{name} not supported on KV Version 1"));
        return Ok(1);
    }
    let path = target.api_path(op);
    let req = Request::new(Method::Put, &path).json(json!({"versions": versions}));
    match ctx.client.write(&req) {
        Err(e) => Ok(ctx.fail(&format!("Error writing data to {path}"), &e)),
        Ok(None) => {
            if ctx.format == Format::Table {
                ctx.io.out(&format!("Success! Data written to: {path}"));
            }
            Ok(0)
        }
        Ok(Some(secret)) => Ok(ctx.output_secret(&secret)),
    }
}

pub(super) fn list(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(1, Some(1))?;
    let arg = ctx.args()[0].clone();
    let target = resolve(ctx, &arg)?;
    let full = target.api_path("metadata");
    let result = ctx.client.list(&full);
    Ok(output_list(ctx, &full, result, false))
}
