//! `kv patch`: JSON merge patch with Vault's read-then-write fallback.

use serde_json::{Map, Value, json};

use super::data::{expect_key_and_data, output_write_result};
use super::{MOUNT, resolve};
use crate::client::{Method, Request};
use crate::commands::generic::parse_data;
use crate::commands::{Command, Ctx};
use crate::flags::{Kind, Spec};
use crate::output::Format;
use crate::secret::Secret;

pub(super) const PATCH: Command = Command {
    flags: &[
        Spec::new("cas", Kind::Int),
        Spec::new("method", Kind::Str),
        Spec::new("remove-data", Kind::Multi),
        MOUNT,
    ],
    help: "
Usage: coffer kv patch [options] KEY [DATA]

  Updates some keys of an existing secret (KV v2 only) with an HTTP PATCH
  (JSON merge patch), falling back to read-then-write when PATCH is refused.

      $ coffer kv patch secret/foo bar=baz

Command Options:

  -cas=<int>            Check-and-set version.
  -method=<patch|rw>    Force one patch method.
  -remove-data=<key>    Remove a key; may be repeated.
  -mount=<path>         The mount; KEY is then relative to it.",
};

pub(super) fn patch(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    let removing = !ctx.flags.all("remove-data").is_empty();
    expect_key_and_data(ctx, removing)?;
    let rest = ctx.args()[1..].to_vec();
    let mut data = parse_data(ctx.io, &rest)?;
    let arg = ctx.args()[0].clone();
    let target = resolve(ctx, &arg)?;
    if !target.v2 {
        ctx.io
            .err("KV engine mount must be version 2 for patch support");
        return Ok(2);
    }
    let full = target.api_path("data");
    for key in ctx.flags.all("remove-data").to_vec() {
        // A null in a JSON merge patch removes the key.
        data.insert(key, Value::Null);
    }
    let method = ctx.flags.str("method").to_string();
    let result = match method.as_str() {
        "rw" => read_then_write(ctx, &full, data),
        "patch" => merge_patch(ctx, &full, data, false),
        "" => merge_patch(ctx, &full, data, true),
        other => {
            ctx.io.err(&format!(
                "Unsupported method provided to -method flag: {other}"
            ));
            return Ok(2);
        }
    };
    match result {
        Err(code) => Ok(code),
        Ok(None) => Ok(0),
        Ok(Some(secret)) => Ok(output_write_result(ctx, &full, &secret)),
    }
}

/// `Ok(None)` means done (success message already printed).
fn merge_patch(
    ctx: &mut Ctx<'_, '_>,
    full: &str,
    data: Map<String, Value>,
    fallback: bool,
) -> Result<Option<Secret>, i32> {
    let mut options = Map::new();
    let cas = ctx.flags.int("cas", 0);
    if cas > 0 {
        options.insert("cas".into(), Value::from(cas));
    }
    let mut req = Request::new(Method::Patch, full).json(json!({"data": data, "options": options}));
    req.content_type = "application/merge-patch+json";
    match ctx.client.write(&req) {
        Ok(None) => {
            if ctx.format == Format::Table {
                ctx.io.out(&format!("Success! Data written to: {full}"));
            }
            Ok(None)
        }
        Ok(Some(s)) => Ok(Some(s)),
        // Servers without PATCH support: fall back like Vault does.
        Err(e) if fallback && e.status() == Some(405) => read_then_write(ctx, full, data),
        Err(e) if fallback && e.status() == Some(403) => {
            ctx.io.err(&format!(
                "Data was written to {full} but we recommend that you add the \"patch\" capability to your ACL policy in order to use HTTP PATCH in the future."
            ));
            read_then_write(ctx, full, data)
        }
        Err(e) => Err(ctx.fail(&format!("Error writing data to {full}"), &e)),
    }
}

fn read_then_write(
    ctx: &mut Ctx<'_, '_>,
    full: &str,
    new_data: Map<String, Value>,
) -> Result<Option<Secret>, i32> {
    let secret = match ctx.client.read(full, Vec::new()) {
        Ok(Some(s)) if s.data().is_some() => s,
        Ok(_) => {
            ctx.io.err(&format!("No value found at {full}"));
            return Err(2);
        }
        Err(e) => return Err(ctx.fail(&format!("Error doing pre-read at {full}"), &e)),
    };
    let empty = Map::new();
    let current = secret.data().unwrap_or(&empty);
    let meta = match current.get("metadata") {
        None | Some(Value::Null) => {
            ctx.io.err(&format!(
                "No metadata found at {full}; patch only works on existing data"
            ));
            return Err(2);
        }
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            ctx.io.err(&format!(
                "Metadata found at {full} is not the expected type (JSON object)"
            ));
            return Err(2);
        }
    };
    let mut merged = match current.get("data") {
        None | Some(Value::Null) => {
            ctx.io.err(&format!(
                "No data found at {full}; patch only works on existing data"
            ));
            return Err(2);
        }
        Some(Value::Object(d)) => d.clone(),
        Some(_) => {
            ctx.io.err(&format!(
                "Data found at {full} is not the expected type (JSON object)"
            ));
            return Err(2);
        }
    };
    merged.extend(new_data);
    let cas = meta.get("version").cloned().unwrap_or(Value::Null);
    let body = json!({"data": merged, "options": {"cas": cas}});
    match ctx
        .client
        .write(&Request::new(Method::Put, full).json(body))
    {
        Err(e) => Err(ctx.fail(&format!("Error writing data to {full}"), &e)),
        Ok(None) => {
            if ctx.format == Format::Table {
                ctx.io.out(&format!("Success! Data written to: {full}"));
            }
            Ok(None)
        }
        Ok(Some(s)) => Ok(Some(s)),
    }
}
