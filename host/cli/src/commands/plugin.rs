//! `plugin register|deregister|list|info|reload`: the plugin catalog and hot reload.

use serde_json::{Map, Value, json};

use super::{Command, Ctx, Env};
use crate::Io;
use crate::client::{Method, Request};
use crate::flags::{Kind, Spec};
use crate::output::{self, Format};

const USAGE: &str = "\
Usage: coffer plugin <subcommand> [options] [args]

  Manages the plugin catalog: secrets engine components, their versions, the
  capabilities they are granted, and reloading mounts onto new versions.

      $ coffer plugin register -sha256=<hex> -version=v1.2.0 -file=engine.wasm secret my-engine
      $ coffer plugin list secret
      $ coffer plugin info secret my-engine
      $ coffer plugin reload -plugin=my-engine

Subcommands:
    deregister    Deregister an existing plugin in the catalog
    info          Read information about a plugin in the catalog
    list          Lists available plugins
    register      Registers a new plugin in the catalog
    reload        Reload mounted plugin backends";

const REGISTER: Command = Command {
    flags: &[
        Spec::new("sha256", Kind::Str),
        Spec::new("version", Kind::Str),
        Spec::new("command", Kind::Str),
        Spec::new("file", Kind::Str),
        Spec::new("capability", Kind::Multi),
        Spec::new("memory-limit", Kind::Str),
        Spec::new("timeout", Kind::Str),
        Spec::new("args", Kind::Multi),
    ],
    help: "
Usage: coffer plugin register [options] [TYPE] NAME

  Registers a new plugin in the catalog. TYPE must be \"secret\" (the default).
  The component is either a file in the server's plugin directory (-command)
  or uploaded from here (-file); its sha256 is verified either way, and its
  info() must report the requested -version.

      $ coffer plugin register -sha256=d3f0a8b... -version=v1.2.0 secret my-engine
      $ coffer plugin register -file=engine.wasm -capability=aws secret my-aws

Command Options:

  -sha256=<string>        SHA256 of the component, hex. Computed from -file
                          when not given.
  -version=<string>       Semantic version of the plugin; must match what the
                          component reports. Default: the reported version.
  -command=<string>       File name in the plugin directory. Default NAME.wasm
                          unless -file is given.
  -file=<path>            Upload this component (stored content-addressed).
  -capability=<name>      Grant a capability (\"aws\"). May be repeated.
  -memory-limit=<size>    Per-call memory limit (e.g. 64MiB). Default: server's.
  -timeout=<duration>     Per-call deadline (e.g. 5s, 500ms). Default: server's.",
};

const DEREGISTER: Command = Command {
    flags: &[Spec::new("version", Kind::Str)],
    help: "
Usage: coffer plugin deregister [options] [TYPE] NAME

  Deregisters a plugin version (every version when -version is not given).
  Versions still running on a mount are refused.

      $ coffer plugin deregister -version=v1.0.0 secret my-engine

Command Options:

  -version=<string>    The version to deregister.",
};

const INFO: Command = Command {
    flags: &[Spec::new("version", Kind::Str)],
    help: "
Usage: coffer plugin info [options] [TYPE] NAME

  Displays information about a plugin in the catalog (its newest version
  unless -version is given).

      $ coffer plugin info secret my-engine

Command Options:

  -version=<string>    The version to show.",
};

const LIST: Command = Command {
    flags: &[Spec::new("detailed", Kind::Bool)],
    help: "
Usage: coffer plugin list [options] [TYPE]

  Lists available plugins registered in the catalog, built-ins included.

      $ coffer plugin list
      $ coffer plugin list secret

Command Options:

  -detailed    Print the sha256 and whether each plugin is built in.",
};

const RELOAD: Command = Command {
    flags: &[
        Spec::new("plugin", Kind::Str),
        Spec::new("mounts", Kind::Multi),
        Spec::new("scope", Kind::Str),
    ],
    help: "
Usage: coffer plugin reload [options]

  Reloads mounted plugins onto the version the catalog now resolves them to.
  Either -plugin or -mounts must be given. Requests in flight finish on the
  old version; new ones are served by the new version.

      $ coffer plugin reload -plugin=my-engine
      $ coffer plugin reload -mounts=team-a/,team-b/

Command Options:

  -plugin=<string>    Reload every mount of this plugin.
  -mounts=<string>    Mounts to reload (comma-separated, may be repeated).",
};

/// `coffer plugin …`.
pub fn run(io: &mut Io<'_>, env: Env<'_>, args: &[String]) -> i32 {
    let Some((sub, rest)) = args.split_first() else {
        io.err(USAGE);
        return 127;
    };
    match sub.as_str() {
        "register" => REGISTER.run(io, env, rest, register),
        "deregister" => DEREGISTER.run(io, env, rest, deregister),
        "info" => INFO.run(io, env, rest, info),
        "list" => LIST.run(io, env, rest, list),
        "reload" => RELOAD.run(io, env, rest, reload),
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

/// `[TYPE] NAME` → the name; `Err` on a type other than `secret`.
fn type_and_name(ctx: &mut Ctx<'_, '_>) -> Result<String, i32> {
    ctx.expect_args(1, Some(2))?;
    let args = ctx.args().to_vec();
    let (kind, name) = match args.as_slice() {
        [name] => ("secret".to_string(), name.clone()),
        [kind, name] => (kind.clone(), name.clone()),
        _ => return Err(1),
    };
    if kind != "secret" {
        ctx.io.err(&format!(
            "Error: unsupported plugin type {kind:?}: Coffer only has \"secret\" plugins"
        ));
        return Err(1);
    }
    Ok(name)
}

fn register(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    let name = type_and_name(ctx)?;
    let mut body = Map::new();
    let mut sha256 = ctx.flags.str("sha256").to_string();
    if let Some(file) = ctx
        .flags
        .get("file")
        .filter(|f| !f.is_empty())
        .map(str::to_string)
    {
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) => {
                ctx.io.err(&format!("Error reading {file}: {e}"));
                return Ok(1);
            }
        };
        if sha256.is_empty() {
            sha256 = sha256_hex(&bytes);
        }
        body.insert("component".into(), json!(base64(&bytes)));
    } else {
        let command = match ctx.flags.get("command").filter(|c| !c.is_empty()) {
            Some(c) => c.to_string(),
            None => format!("{name}.wasm"),
        };
        body.insert("command".into(), json!(command));
    }
    body.insert("sha256".into(), json!(sha256));
    for (flag, key) in [
        ("version", "version"),
        ("memory-limit", "memory_limit"),
        ("timeout", "timeout"),
    ] {
        if let Some(v) = ctx.flags.get(flag).filter(|v| !v.is_empty()) {
            body.insert(key.into(), json!(v));
        }
    }
    let capabilities: Vec<String> = ctx
        .flags
        .all("capability")
        .iter()
        .flat_map(|c| c.split(','))
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    if !capabilities.is_empty() {
        body.insert("capabilities".into(), json!(capabilities));
    }
    let path = format!("sys/plugins/catalog/secret/{name}");
    match ctx
        .client
        .write(&Request::new(Method::Put, &path).json(Value::Object(body)))
    {
        Ok(secret) => {
            if let Some(s) = &secret {
                ctx.print_warnings(s);
            }
            ctx.io.out(&format!("Success! Registered plugin: {name}"));
            Ok(0)
        }
        Err(e) => Ok(ctx.fail("Error registering plugin", &e)),
    }
}

fn version_query(ctx: &Ctx<'_, '_>) -> Vec<(String, String)> {
    ctx.flags
        .get("version")
        .filter(|v| !v.is_empty())
        .map(|v| vec![("version".to_string(), v.to_string())])
        .unwrap_or_default()
}

fn deregister(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    let name = type_and_name(ctx)?;
    let path = format!("sys/plugins/catalog/secret/{name}");
    let query = version_query(ctx);
    match ctx.client.delete(&path, query) {
        Ok(_) => {
            ctx.io.out(&format!(
                "Success! Deregistered plugin (if it was registered): {name}"
            ));
            Ok(0)
        }
        Err(e) => Ok(ctx.fail("Error deregistering plugin", &e)),
    }
}

fn info(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    let name = type_and_name(ctx)?;
    let path = format!("sys/plugins/catalog/secret/{name}");
    let query = version_query(ctx);
    let secret = match ctx.client.read(&path, query) {
        Ok(Some(s)) => s,
        Ok(None) => {
            ctx.io
                .err(&format!("Error reading plugin named {name}: not found"));
            return Ok(2);
        }
        Err(e) => return Ok(ctx.fail(&format!("Error reading plugin named {name}"), &e)),
    };
    if ctx.field.is_some() {
        return Ok(ctx.print_secret_field(&secret));
    }
    if ctx.format == Format::Json {
        ctx.io.out(&secret.to_json());
        return Ok(0);
    }
    let rows = secret.data().map(output::map_rows).unwrap_or_default();
    if let Some(table) = output::key_value_table(rows) {
        ctx.io.out(&table);
    }
    Ok(0)
}

fn list(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(0, Some(1))?;
    if let Some(kind) = ctx.args().first().cloned()
        && kind != "secret"
    {
        ctx.io.err(&format!(
            "Error: unsupported plugin type {kind:?}: Coffer only has \"secret\" plugins"
        ));
        return Ok(1);
    }
    let secret = match ctx.client.read("sys/plugins/catalog", Vec::new()) {
        Ok(Some(s)) => s,
        Ok(None) => {
            ctx.io
                .err("Error listing available plugins: no data returned");
            return Ok(2);
        }
        Err(e) => return Ok(ctx.fail("Error listing available plugins", &e)),
    };
    let detailed: Vec<Value> = secret
        .data()
        .and_then(|d| d.get("detailed"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if ctx.format == Format::Json {
        ctx.io.out(&output::json_pretty(&Value::Array(detailed)));
        return Ok(0);
    }
    let text = |v: &Value, k: &str| v.get(k).map(output::go_value).unwrap_or_default();
    let mut rows: Vec<Vec<String>> = detailed
        .iter()
        .map(|p| {
            let mut row = vec![text(p, "name"), text(p, "type"), text(p, "version")];
            if ctx.flags.bool("detailed") {
                row.push(text(p, "builtin"));
                row.push(text(p, "sha256"));
            }
            row
        })
        .collect();
    rows.sort();
    let header: &[&str] = if ctx.flags.bool("detailed") {
        &["Name", "Type", "Version", "Builtin", "SHA256"]
    } else {
        &["Name", "Type", "Version"]
    };
    ctx.io.out(&output::table(header, rows));
    Ok(0)
}

fn reload(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(0, Some(0))?;
    let plugin = ctx.flags.str("plugin").to_string();
    let mounts: Vec<String> = ctx
        .flags
        .all("mounts")
        .iter()
        .flat_map(|m| m.split(','))
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    match (plugin.is_empty(), mounts.is_empty()) {
        (false, false) => {
            ctx.io.err("Error: cannot specify both -plugin and -mounts");
            return Ok(1);
        }
        (true, true) => {
            ctx.io
                .err("Error: one of -plugin or -mounts must be specified");
            return Ok(1);
        }
        _ => {}
    }
    let mut body = Map::new();
    if plugin.is_empty() {
        body.insert("mounts".into(), json!(mounts));
    } else {
        body.insert("plugin".into(), json!(plugin));
    }
    if let Some(scope) = ctx.flags.get("scope").filter(|s| !s.is_empty()) {
        body.insert("scope".into(), json!(scope));
    }
    match ctx
        .client
        .write(&Request::new(Method::Put, "sys/plugins/reload/backend").json(Value::Object(body)))
    {
        Ok(secret) => {
            if let Some(s) = &secret {
                ctx.print_warnings(s);
            }
            if plugin.is_empty() {
                ctx.io
                    .out(&format!("Success! Reloaded mounts: [{}]", mounts.join(" ")));
            } else {
                ctx.io.out(&format!("Success! Reloaded plugin: {plugin}"));
            }
            Ok(0)
        }
        Err(e) => Ok(ctx.fail("Error reloading plugin/mounts", &e)),
    }
}

/// Standard base64 with padding: how the component travels in the register request.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// SHA-256 of `data`, hex: the digest the server checks the upload against.
fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_known_vectors() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let long = vec![b'a'; 1000];
        assert_eq!(
            sha256_hex(&long),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        );
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
