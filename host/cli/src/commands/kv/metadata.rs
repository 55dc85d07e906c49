//! `kv metadata get|put|patch|delete`.

use serde_json::{Map, Value};

use super::{MOUNT, resolve};
use crate::Io;
use crate::client::{Method, Request};
use crate::commands::{Command, Ctx, Env};
use crate::flags::{self, Kind, Spec};
use crate::output::{self, Format};
use crate::secret::Secret;

const METADATA_USAGE: &str = "\
Usage: coffer kv metadata <subcommand> [options] KEY

  Manages the metadata of keys in a KV version 2 engine.

Subcommands:
    delete    Delete all versions and metadata of a key
    get       Print a key's metadata and versions
    patch     Update some metadata fields
    put       Create or update a key's metadata";

const META_GET: Command = Command {
    flags: &[MOUNT],
    help: "
Usage: coffer kv metadata get [options] KEY

  Prints the metadata of KEY and of each of its versions.",
};

const META_PUT: Command = Command {
    flags: &[
        Spec::new("max-versions", Kind::Int),
        Spec::new("cas-required", Kind::Bool),
        Spec::new("delete-version-after", Kind::Str),
        Spec::new("custom-metadata", Kind::Multi),
        MOUNT,
    ],
    help: "
Usage: coffer kv metadata put [options] KEY

  Creates or updates the metadata of KEY.

      $ coffer kv metadata put -max-versions=5 -cas-required secret/foo
      $ coffer kv metadata put -custom-metadata=owner=ops secret/foo

Command Options:

  -max-versions=<int>, -cas-required, -delete-version-after=<duration>,
  -custom-metadata=<key=value> (repeatable), -mount=<path>",
};

const META_PATCH: Command = Command {
    flags: META_PUT.flags,
    help: "
Usage: coffer kv metadata patch [options] KEY

  Updates only the given metadata fields of KEY (JSON merge patch).",
};

const META_DELETE: Command = Command {
    flags: &[MOUNT],
    help: "
Usage: coffer kv metadata delete [options] KEY

  Deletes all versions and the metadata of KEY.",
};

/// `coffer kv metadata …`.
pub(super) fn run(io: &mut Io<'_>, env: Env<'_>, args: &[String]) -> i32 {
    let Some((sub, rest)) = args.split_first() else {
        io.err(METADATA_USAGE);
        return 127;
    };
    match sub.as_str() {
        "get" => META_GET.run(io, env, rest, metadata_get),
        "put" => META_PUT.run(io, env, rest, |ctx| metadata_write(ctx, Method::Put)),
        "patch" => META_PATCH.run(io, env, rest, |ctx| metadata_write(ctx, Method::Patch)),
        "delete" => META_DELETE.run(io, env, rest, metadata_delete),
        "-h" | "-help" | "--help" | "help" => {
            io.out(METADATA_USAGE);
            0
        }
        _ => {
            io.err(METADATA_USAGE);
            127
        }
    }
}

/// Resolves a metadata command's key, refusing KV v1 mounts like Vault.
fn metadata_target(ctx: &mut Ctx<'_, '_>) -> Result<String, i32> {
    ctx.expect_args(1, Some(1))?;
    let arg = ctx.args()[0].clone();
    let target = resolve(ctx, &arg)?;
    if !target.v2 {
        ctx.io.err("Metadata not supported on KV Version 1");
        return Err(1);
    }
    Ok(target.api_path("metadata"))
}

fn metadata_get(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    let full = metadata_target(ctx)?;
    let secret = match ctx.client.read(&full, Vec::new()) {
        Ok(Some(s)) => s,
        Ok(None) => {
            ctx.io.err(&format!("No value found at {full}"));
            return Ok(2);
        }
        Err(e) => return Ok(ctx.fail(&format!("Error reading {full}"), &e)),
    };
    if ctx.field.is_some() {
        return Ok(ctx.print_secret_field(&secret));
    }
    if ctx.format == Format::Json {
        return Ok(ctx.output_secret(&secret));
    }
    let Some(versions) = secret
        .data()
        .and_then(|d| d.get("versions"))
        .and_then(Value::as_object)
        .cloned()
    else {
        ctx.io.err(&format!("No value found at {full}"));
        ctx.output_secret(&secret);
        return Ok(2);
    };
    let mut raw = secret.raw().clone();
    if let Some(Value::Object(data)) = raw.get_mut("data") {
        data.remove("versions");
    }
    let without_versions = Secret::from_value(Value::Object(raw)).unwrap_or(secret);
    let empty = Map::new();
    ctx.io.out(&output::path_block("Metadata Path", &full));
    ctx.io.out(&output::header_for_map(
        "Metadata",
        without_versions.data().unwrap_or(&empty),
    ));
    ctx.output_secret(&without_versions);
    let mut numbers: Vec<(i64, &String)> = versions
        .keys()
        .filter_map(|k| k.parse::<i64>().ok().map(|n| (n, k)))
        .collect();
    numbers.sort();
    for (n, key) in numbers {
        let version = versions
            .get(key)
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        ctx.io.out(&format!(
            "\n{}",
            output::header_for_map(&format!("Version {n}"), version)
        ));
        if let Some(t) = output::key_value_table(output::map_rows(version)) {
            ctx.io.out(&t);
        }
    }
    Ok(0)
}

/// The body of `kv metadata put|patch`: only the fields that were given.
fn metadata_body(ctx: &mut Ctx<'_, '_>) -> Result<Map<String, Value>, i32> {
    let mut body = Map::new();
    if ctx.flags.is_set("max-versions") {
        body.insert(
            "max_versions".into(),
            Value::from(ctx.flags.int("max-versions", 0)),
        );
    }
    if ctx.flags.is_set("cas-required") {
        body.insert(
            "cas_required".into(),
            Value::Bool(ctx.flags.bool("cas-required")),
        );
    }
    if let Some(d) = ctx.flags.get("delete-version-after") {
        body.insert("delete_version_after".into(), Value::String(d.to_string()));
    }
    let custom = match flags::parse_map(ctx.flags.all("custom-metadata")) {
        Ok(m) => m,
        Err(e) => {
            ctx.io
                .err(&format!("invalid value for -custom-metadata: {e}"));
            return Err(1);
        }
    };
    if !custom.is_empty() {
        let map: Map<String, Value> = custom
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        body.insert("custom_metadata".into(), Value::Object(map));
    }
    Ok(body)
}

fn metadata_write(ctx: &mut Ctx<'_, '_>, method: Method) -> Result<i32, i32> {
    let full = metadata_target(ctx)?;
    let body = metadata_body(ctx)?;
    let mut req = Request::new(method, &full).json(Value::Object(body));
    if method == Method::Patch {
        req.content_type = "application/merge-patch+json";
    }
    match ctx.client.write(&req) {
        Err(e) => Ok(ctx.fail(&format!("Error writing data to {full}"), &e)),
        Ok(None) => {
            if ctx.format == Format::Table {
                ctx.io.out(&format!("Success! Data written to: {full}"));
            }
            Ok(0)
        }
        Ok(Some(secret)) => Ok(ctx.output_secret(&secret)),
    }
}

fn metadata_delete(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    let full = metadata_target(ctx)?;
    if let Err(e) = ctx.client.delete(&full, Vec::new()) {
        return Ok(ctx.fail(&format!("Error deleting {full}"), &e));
    }
    if ctx.format == Format::Table {
        ctx.io
            .out(&format!("Success! Data deleted (if it existed) at: {full}"));
    }
    Ok(0)
}
