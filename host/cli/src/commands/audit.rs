//! `coffer audit enable|disable|list`: managing audit devices.

use serde_json::{Map, Value, json};

use super::{Command, Ctx, Env};
use crate::Io;
use crate::client::{Method, Request};
use crate::flags::{Kind, Spec};
use crate::kvpath::{ensure_trailing_slash, sanitize};
use crate::output::{self, Format};

const USAGE: &str = "\
Usage: coffer audit <subcommand> [options] [args]

  Manages audit devices: every request and response is written to each enabled
  device, with secret values HMAC'd, before the client gets the response.

      $ coffer audit enable file file_path=/var/log/coffer-audit.log
      $ coffer audit list -detailed
      $ coffer audit disable file

Subcommands:
    disable    Disable an audit device
    enable     Enable an audit device
    list       List enabled audit devices";

const ENABLE: Command = Command {
    flags: &[
        Spec::new("path", Kind::Str),
        Spec::new("description", Kind::Str),
        Spec::new("local", Kind::Bool),
    ],
    help: "
Usage: coffer audit enable [options] TYPE [CONFIG K=V...]

  Enables an audit device of TYPE (\"file\") at a path (TYPE unless -path is
  given). Options follow the type as key=value pairs.

      $ coffer audit enable file file_path=/var/log/coffer-audit.log
      $ coffer audit enable -path=raw file file_path=stdout log_raw=true

File device options: file_path (a path, \"stdout\" or \"discard\"; required),
log_raw, hmac_accessor, mode, format (json), prefix.

Command Options:

  -description=<string>  Human-friendly description.
  -path=<string>         Where to enable the device (default: TYPE).
  -local                 Mark the device local-only (not replicated).",
};

const DISABLE: Command = Command {
    flags: &[],
    help: "
Usage: coffer audit disable [options] PATH

  Disables the audit device at PATH. Its log file is kept.

      $ coffer audit disable file",
};

const LIST: Command = Command {
    flags: &[Spec::new("detailed", Kind::Bool)],
    help: "
Usage: coffer audit list [options]

  Lists the enabled audit devices.

Command Options:

  -detailed    Print replication status and options too.",
};

/// `coffer audit …`.
pub fn run(io: &mut Io<'_>, env: Env<'_>, args: &[String]) -> i32 {
    let Some((sub, rest)) = args.split_first() else {
        io.err(USAGE);
        return 127;
    };
    match sub.as_str() {
        "enable" => ENABLE.run(io, env, rest, enable),
        "disable" => DISABLE.run(io, env, rest, disable),
        "list" => LIST.run(io, env, rest, list),
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

/// `K=V` arguments after the type, as Vault's `parseArgsDataString` reads them.
fn config_args(args: &[String]) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for a in args {
        let Some((k, v)) = a.split_once('=') else {
            return Err(format!(
                "invalid key/value pair {a:?}: format must be key=value"
            ));
        };
        if k.is_empty() {
            return Err(format!("invalid key/value pair {a:?}: empty key"));
        }
        out.insert(k.to_string(), Value::String(v.to_string()));
    }
    Ok(out)
}

fn enable(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    let Some((kind, config)) = ctx.args().split_first() else {
        ctx.io
            .err("Error enabling audit device: audit type missing. Valid types include 'file'.");
        return Err(1);
    };
    let kind = kind.trim().to_string();
    let options = match config_args(config) {
        Ok(o) => o,
        Err(e) => {
            ctx.io
                .err(&format!("Failed to parse K=V configuration: {e}"));
            return Err(1);
        }
    };
    let path = match ctx.flags.get("path").filter(|p| !p.is_empty()) {
        Some(p) => p.to_string(),
        None => kind.clone(),
    };
    let device_path = ensure_trailing_slash(&sanitize(&path));
    let body = json!({
        "type": kind,
        "description": ctx.flags.str("description"),
        "options": options,
        "local": ctx.flags.bool("local"),
    });
    let api_path = format!("sys/audit/{}", device_path.trim_end_matches('/'));
    if let Err(e) = ctx
        .client
        .write(&Request::new(Method::Put, &api_path).json(body))
    {
        return Ok(ctx.fail("Error enabling audit device", &e));
    }
    ctx.io.out(&format!(
        "Success! Enabled the {kind} audit device at: {device_path}"
    ));
    Ok(0)
}

fn disable(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(1, Some(1))?;
    let device_path = ensure_trailing_slash(&sanitize(&ctx.args()[0]));
    let api_path = format!("sys/audit/{}", device_path.trim_end_matches('/'));
    if let Err(e) = ctx.client.delete(&api_path, Vec::new()) {
        return Ok(ctx.fail("Error disabling audit device", &e));
    }
    ctx.io.out(&format!(
        "Success! Disabled audit device (if it was enabled) at: {device_path}"
    ));
    Ok(0)
}

fn list(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(0, Some(0))?;
    let secret = match ctx.client.read("sys/audit", Vec::new()) {
        Ok(s) => s,
        Err(e) => return Ok(ctx.fail("Error listing audits", &e)),
    };
    // Newer servers nest the devices under `data`; older ones only have them at the
    // top level next to the envelope fields.
    let devices: Map<String, Value> = match secret.as_ref().and_then(|s| s.data()) {
        Some(d) if !d.is_empty() => d.clone(),
        _ => secret
            .as_ref()
            .map(|s| {
                s.raw()
                    .iter()
                    .filter(|(k, v)| k.ends_with('/') && v.is_object())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    if ctx.format == Format::Json {
        ctx.io.out(&output::json_pretty(&Value::Object(devices)));
        return Ok(0);
    }
    if devices.is_empty() {
        ctx.io.out("No audit devices are enabled.");
        return Ok(2);
    }
    let detailed = ctx.flags.bool("detailed");
    let (header, rows): (&[&str], _) = if detailed {
        (
            &["Path", "Type", "Description", "Replication", "Options"],
            detailed_rows(&devices),
        )
    } else {
        (
            &["Path", "Type", "Description"],
            output::sorted(&devices)
                .into_iter()
                .map(|(path, d)| vec![path.clone(), text(d, "type"), text(d, "description")])
                .collect(),
        )
    };
    ctx.io.out(&output::table(header, rows));
    Ok(0)
}

/// Rows of `audit list -detailed`, as Vault prints them.
fn detailed_rows(devices: &Map<String, Value>) -> Vec<Vec<String>> {
    output::sorted(devices)
        .into_iter()
        .map(|(path, d)| {
            let local = d.get("local").and_then(Value::as_bool).unwrap_or(false);
            let options = match d.get("options") {
                Some(Value::Object(o)) => output::go_value(&Value::Object(o.clone())),
                _ => "map[]".to_string(),
            };
            vec![
                path.clone(),
                text(d, "type"),
                text(d, "description"),
                if local { "local" } else { "replicated" }.to_string(),
                options,
            ]
        })
        .collect()
}

fn text(m: &Value, key: &str) -> String {
    m.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_config_pairs() {
        let args: Vec<String> = ["file_path=/tmp/a=b", "log_raw=true"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let m = config_args(&args).unwrap();
        assert_eq!(m["file_path"], "/tmp/a=b");
        assert_eq!(m["log_raw"], "true");
        assert!(config_args(&["novalue".to_string()]).is_err());
        assert!(config_args(&["=x".to_string()]).is_err());
    }

    #[test]
    fn detailed_row_values() {
        let devices = json!({
            "file/": {"type": "file", "description": "", "local": false,
                      "options": {"file_path": "/tmp/a", "log_raw": "true"}, "path": "file/"},
            "loc/": {"type": "file", "description": "d", "local": true, "options": null}
        });
        let rows = detailed_rows(devices.as_object().unwrap());
        assert_eq!(
            rows[0],
            vec![
                "file/",
                "file",
                "",
                "replicated",
                "map[file_path:/tmp/a log_raw:true]"
            ]
        );
        assert_eq!(rows[1], vec!["loc/", "file", "d", "local", "map[]"]);
    }
}
