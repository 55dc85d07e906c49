//! `secrets enable|disable|list|tune`: managing secrets-engine mounts.

use serde_json::{Map, Value, json};

use super::{Command, Ctx, Env};
use crate::Io;
use crate::client::{Method, Request};
use crate::flags::{self, Kind, Spec};
use crate::kvpath::{ensure_trailing_slash, sanitize};
use crate::output::{self, Format};

const USAGE: &str = "\
Usage: coffer secrets <subcommand> [options] [args]

  Manages secrets engines (mounts).

      $ coffer secrets enable -path=aws aws
      $ coffer secrets enable -version=2 kv
      $ coffer secrets list -detailed
      $ coffer secrets tune -default-lease-ttl=1h aws
      $ coffer secrets disable aws

Subcommands:
    disable    Disable a secrets engine
    enable     Enable a secrets engine
    list       List enabled secrets engines
    tune       Tune a secrets engine configuration";

const ENABLE: Command = Command {
    flags: &[
        Spec::new("path", Kind::Str),
        Spec::new("description", Kind::Str),
        Spec::new("version", Kind::Int),
        Spec::new("default-lease-ttl", Kind::Str),
        Spec::new("max-lease-ttl", Kind::Str),
        Spec::new("options", Kind::Multi),
        Spec::new("plugin-version", Kind::Str),
        Spec::new("plugin-name", Kind::Str),
        Spec::new("local", Kind::Bool),
        Spec::new("seal-wrap", Kind::Bool),
        Spec::new("external-entropy-access", Kind::Bool),
        Spec::new("force-no-cache", Kind::Bool),
        Spec::new("listing-visibility", Kind::Str),
    ],
    help: "
Usage: coffer secrets enable [options] TYPE

  Enables a secrets engine at a path (the type name unless -path is given).

      $ coffer secrets enable aws
      $ coffer secrets enable -path=team-kv -version=2 kv

Command Options:

  -path=<string>                 Where to mount the engine (default: TYPE).
  -description=<string>          Human-friendly description.
  -version=<int>                 Sets options.version (KV: 1 or 2).
  -default-lease-ttl=<duration>  Default lease TTL for this engine.
  -max-lease-ttl=<duration>      Maximum lease TTL for this engine.
  -options=<key=value>           Engine option; may be repeated.
  -plugin-version=<string>       Plugin version to run.
  -local, -seal-wrap, -external-entropy-access, -force-no-cache
  -listing-visibility=<string>   \"unauth\" or \"hidden\".",
};

const DISABLE: Command = Command {
    flags: &[],
    help: "
Usage: coffer secrets disable [options] PATH

  Disables the secrets engine at PATH, revoking all of its leases and
  deleting all of its data.

      $ coffer secrets disable aws",
};

const LIST: Command = Command {
    flags: &[Spec::new("detailed", Kind::Bool)],
    help: "
Usage: coffer secrets list [options]

  Lists the enabled secrets engines.

Command Options:

  -detailed    Print TTLs, options, versions and more.",
};

const TUNE: Command = Command {
    flags: &[
        Spec::new("description", Kind::Str),
        Spec::new("default-lease-ttl", Kind::Str),
        Spec::new("max-lease-ttl", Kind::Str),
        Spec::new("options", Kind::Multi),
        Spec::new("version", Kind::Int),
        Spec::new("plugin-version", Kind::Str),
        Spec::new("listing-visibility", Kind::Str),
    ],
    help: "
Usage: coffer secrets tune [options] PATH

  Tunes the configuration of the secrets engine at PATH.

      $ coffer secrets tune -default-lease-ttl=1h -max-lease-ttl=12h aws
      $ coffer secrets tune -options=version=2 secret

Command Options:

  -description=<string>, -default-lease-ttl=<duration>,
  -max-lease-ttl=<duration>, -options=<key=value> (repeatable),
  -version=<int>, -plugin-version=<string>, -listing-visibility=<string>",
};

/// `coffer secrets …`.
pub fn run(io: &mut Io<'_>, env: Env<'_>, args: &[String]) -> i32 {
    let Some((sub, rest)) = args.split_first() else {
        io.err(USAGE);
        return 127;
    };
    match sub.as_str() {
        "enable" => ENABLE.run(io, env, rest, enable),
        "disable" => DISABLE.run(io, env, rest, disable),
        "list" => LIST.run(io, env, rest, list),
        "tune" => TUNE.run(io, env, rest, tune),
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

/// `-options` plus `-version`, as Vault merges them; `Err` prints and exits 1.
fn mount_options(ctx: &mut Ctx<'_, '_>) -> Result<Option<Map<String, Value>>, i32> {
    let mut options = match flags::parse_map(ctx.flags.all("options")) {
        Ok(m) => m,
        Err(e) => {
            ctx.io.err(&format!("invalid value for -options: {e}"));
            return Err(1);
        }
    };
    let version = ctx.flags.int("version", 0);
    if version > 0 {
        options.insert("version".into(), version.to_string());
    }
    if options.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        options
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    ))
}

/// Copies set string flags into a JSON object under the given keys.
fn copy_str_flags(ctx: &Ctx<'_, '_>, target: &mut Map<String, Value>, pairs: &[(&str, &str)]) {
    for (flag, key) in pairs {
        if let Some(v) = ctx.flags.get(flag) {
            target.insert((*key).to_string(), Value::String(v.to_string()));
        }
    }
}

fn enable(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(1, Some(1))?;
    let mut engine = ctx.args()[0].trim().to_string();
    let plugin_name = ctx.flags.str("plugin-name").to_string();
    if engine == "plugin" && !plugin_name.is_empty() {
        engine = plugin_name.clone();
    }
    let path = match ctx.flags.get("path").filter(|p| !p.is_empty()) {
        Some(p) => p.to_string(),
        None => engine.clone(),
    };
    let mount_path = ensure_trailing_slash(&sanitize(&path));
    let options = mount_options(ctx)?;

    let mut config = Map::new();
    copy_str_flags(
        ctx,
        &mut config,
        &[
            ("default-lease-ttl", "default_lease_ttl"),
            ("max-lease-ttl", "max_lease_ttl"),
            ("plugin-version", "plugin_version"),
            ("listing-visibility", "listing_visibility"),
        ],
    );
    if ctx.flags.is_set("force-no-cache") {
        config.insert(
            "force_no_cache".into(),
            Value::Bool(ctx.flags.bool("force-no-cache")),
        );
    }
    let body = json!({
        "type": engine,
        "description": ctx.flags.str("description"),
        "config": config,
        "local": ctx.flags.bool("local"),
        "seal_wrap": ctx.flags.bool("seal-wrap"),
        "external_entropy_access": ctx.flags.bool("external-entropy-access"),
        "options": options,
    });
    let api_path = format!("sys/mounts/{}", mount_path.trim_end_matches('/'));
    if let Err(e) = ctx
        .client
        .write(&Request::new(Method::Post, &api_path).json(body))
    {
        return Ok(ctx.fail("Error enabling", &e));
    }
    let mut thing = format!("{engine} secrets engine");
    if ctx.args()[0].trim() == "plugin" {
        thing = format!("{plugin_name} plugin");
    }
    if let Some(v) = ctx.flags.get("plugin-version").filter(|v| !v.is_empty()) {
        thing.push_str(&format!(" version {v}"));
    }
    ctx.io
        .out(&format!("Success! Enabled the {thing} at: {mount_path}"));
    Ok(0)
}

fn disable(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(1, Some(1))?;
    let mount_path = ensure_trailing_slash(&sanitize(&ctx.args()[0]));
    let api_path = format!("sys/mounts/{}", mount_path.trim_end_matches('/'));
    if let Err(e) = ctx.client.delete(&api_path, Vec::new()) {
        return Ok(ctx.fail(
            &format!("Error disabling secrets engine at {mount_path}"),
            &e,
        ));
    }
    ctx.io.out(&format!(
        "Success! Disabled the secrets engine (if it existed) at: {mount_path}"
    ));
    Ok(0)
}

fn list(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(0, Some(0))?;
    let secret = match ctx.client.read("sys/mounts", Vec::new()) {
        Ok(Some(s)) => s,
        Ok(None) => {
            ctx.io
                .err("Error listing secrets engines: no mounts returned");
            return Ok(2);
        }
        Err(e) => return Ok(ctx.fail("Error listing secrets engines", &e)),
    };
    // Newer servers nest the mounts under `data`; older ones only have them
    // at the top level next to the envelope fields.
    let mounts: Map<String, Value> = match secret.data() {
        Some(d) if !d.is_empty() => d.clone(),
        _ => secret
            .raw()
            .iter()
            .filter(|(k, v)| k.ends_with('/') && v.is_object())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    if ctx.format == Format::Json {
        ctx.io.out(&output::json_pretty(&Value::Object(mounts)));
        return Ok(0);
    }
    let rows = if ctx.flags.bool("detailed") {
        detailed_rows(&mounts)
    } else {
        output::sorted(&mounts)
            .into_iter()
            .map(|(path, m)| {
                vec![
                    path.clone(),
                    text(m, "type"),
                    text(m, "accessor"),
                    text(m, "description"),
                ]
            })
            .collect()
    };
    let header: &[&str] = if ctx.flags.bool("detailed") {
        &DETAILED_HEADER
    } else {
        &["Path", "Type", "Accessor", "Description"]
    };
    ctx.io.out(&output::table(header, rows));
    Ok(0)
}

const DETAILED_HEADER: [&str; 16] = [
    "Path",
    "Plugin",
    "Accessor",
    "Default TTL",
    "Max TTL",
    "Force No Cache",
    "Replication",
    "Seal Wrap",
    "External Entropy Access",
    "Options",
    "Description",
    "UUID",
    "Version",
    "Running Version",
    "Running SHA256",
    "Deprecation Status",
];

/// Rows of `secrets list -detailed`, as Vault prints them.
fn detailed_rows(mounts: &Map<String, Value>) -> Vec<Vec<String>> {
    output::sorted(mounts)
        .into_iter()
        .map(|(path, m)| {
            let typ = text(m, "type");
            let config = m.get("config").cloned().unwrap_or(Value::Null);
            let ttl = |key: &str| {
                let secs = config.get(key).and_then(Value::as_i64).unwrap_or(0);
                match (typ.as_str(), secs) {
                    ("system" | "cubbyhole", _) => String::new(),
                    (_, 0) => "system".to_string(),
                    (_, n) => n.to_string(),
                }
            };
            let flag = |v: Option<&Value>| v.and_then(Value::as_bool).unwrap_or(false).to_string();
            let plugin = if typ == "plugin" {
                config
                    .get("plugin_name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            } else {
                typ.clone()
            };
            let local = m.get("local").and_then(Value::as_bool).unwrap_or(false);
            let options = match m.get("options") {
                Some(Value::Object(o)) => output::go_value(&Value::Object(o.clone())),
                _ => "map[]".to_string(),
            };
            vec![
                path.clone(),
                plugin,
                text(m, "accessor"),
                ttl("default_lease_ttl"),
                ttl("max_lease_ttl"),
                flag(config.get("force_no_cache")),
                if local { "local" } else { "replicated" }.to_string(),
                flag(m.get("seal_wrap")),
                flag(m.get("external_entropy_access")),
                options,
                text(m, "description"),
                text(m, "uuid"),
                text(m, "plugin_version"),
                text(m, "running_plugin_version"),
                text(m, "running_sha256"),
                text(m, "deprecation_status"),
            ]
        })
        .collect()
}

fn text(m: &Value, key: &str) -> String {
    m.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn tune(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(1, Some(1))?;
    let mount_path = ensure_trailing_slash(&sanitize(&ctx.args()[0]));
    let mut body = Map::new();
    copy_str_flags(
        ctx,
        &mut body,
        &[
            ("default-lease-ttl", "default_lease_ttl"),
            ("max-lease-ttl", "max_lease_ttl"),
            ("description", "description"),
            ("plugin-version", "plugin_version"),
            ("listing-visibility", "listing_visibility"),
        ],
    );
    if let Some(options) = mount_options(ctx)? {
        body.insert("options".into(), Value::Object(options));
    }
    let api_path = format!("sys/mounts/{mount_path}tune");
    let req = Request::new(Method::Post, &api_path).json(Value::Object(body));
    if let Err(e) = ctx.client.write(&req) {
        return Ok(ctx.fail(&format!("Error tuning secrets engine {mount_path}"), &e));
    }
    ctx.io.out(&format!(
        "Success! Tuned the secrets engine at: {mount_path}"
    ));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn detailed_row_values() {
        let mounts = json!({
            "secret/": {"type": "kv", "accessor": "kv_1", "description": "", "local": false,
                        "seal_wrap": false, "options": {"version": "2"},
                        "config": {"default_lease_ttl": 0, "max_lease_ttl": 3600, "force_no_cache": false},
                        "uuid": "u", "plugin_version": "", "running_plugin_version": "v1+builtin",
                        "running_sha256": "", "deprecation_status": "supported"},
            "sys/": {"type": "system", "config": {}, "local": true}
        });
        let rows = detailed_rows(mounts.as_object().unwrap());
        assert_eq!(rows[0][0], "secret/");
        assert_eq!(rows[0][3], "system");
        assert_eq!(rows[0][4], "3600");
        assert_eq!(rows[0][6], "replicated");
        assert_eq!(rows[0][9], "map[version:2]");
        assert_eq!(rows[1][3], "");
        assert_eq!(rows[1][6], "local");
        assert_eq!(rows[1][9], "map[]");
        assert_eq!(rows[0].len(), DETAILED_HEADER.len());
    }
}
