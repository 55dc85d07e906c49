//! `coffer kv …`: the KV helpers. Like Vault's, every command first asks
//! `sys/internal/ui/mounts/<path>` for the mount and its KV version, then
//! rewrites `secret/foo` to `secret/data/foo` (or `metadata/`, `delete/`, …)
//! on version 2 mounts.

mod data;
mod metadata;
mod patch;

use serde_json::Value;

use super::{Ctx, Env};
use crate::Io;
use crate::client::{Method, Request, RequestError};
use crate::flags::{Kind, Spec};
use crate::kvpath::{add_kv_prefix, join, sanitize};
use crate::secret::Secret;

const USAGE: &str = "\
Usage: coffer kv <subcommand> [options] [args]

  Interacts with the key/value secrets engine (versions 1 and 2).

      $ coffer kv put secret/creds passcode=my-long-passcode
      $ coffer kv get secret/creds
      $ coffer kv get -version=1 secret/creds

Subcommands:
    delete      Delete versions (v2) or the secret (v1)
    destroy     Permanently remove versions (v2)
    get         Read a secret
    list        List secrets under a path
    metadata    Get, put, patch or delete key metadata (v2)
    patch       Update some keys of a secret without overwriting (v2)
    put         Write a secret
    undelete    Restore deleted versions (v2)";

const MOUNT: Spec = Spec::new("mount", Kind::Str);

/// `coffer kv …`.
pub fn run(io: &mut Io<'_>, env: Env<'_>, args: &[String]) -> i32 {
    let Some((sub, rest)) = args.split_first() else {
        io.err(USAGE);
        return 127;
    };
    match sub.as_str() {
        "get" => data::GET.run(io, env, rest, data::get),
        "put" => data::PUT.run(io, env, rest, data::put),
        "patch" => patch::PATCH.run(io, env, rest, patch::patch),
        "delete" => data::DELETE.run(io, env, rest, data::delete),
        "undelete" => {
            data::UNDELETE.run(io, env, rest, |ctx| data::versions_write(ctx, "undelete"))
        }
        "destroy" => data::DESTROY.run(io, env, rest, |ctx| data::versions_write(ctx, "destroy")),
        "list" => data::LIST.run(io, env, rest, data::list),
        "metadata" => metadata::run(io, env, rest),
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

/// Where a KV command's key lives, learned from the preflight request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The mount path as the server reports it (`secret/`), or `""`.
    pub mount: String,
    /// Whether the mount is KV version 2.
    pub v2: bool,
    /// The key path including the mount (`secret/foo`).
    pub partial: String,
    /// Whether `-mount` was used (changes how v1 paths are built).
    pub mount_flag: bool,
}

impl Target {
    /// The API path for an operation: `<mount>/<prefix>/<key>` on v2, the
    /// plain path on v1.
    pub fn api_path(&self, prefix: &str) -> String {
        if self.v2 {
            add_kv_prefix(&self.partial, &self.mount, prefix)
        } else if self.mount_flag {
            join(&[&self.mount, &self.partial])
        } else {
            self.partial.clone()
        }
    }
}

/// Parses `sys/internal/ui/mounts/…` output into (mount path, is v2).
pub fn preflight_result(secret: &Secret) -> (String, bool) {
    let data = secret.data();
    let mount = data
        .and_then(|d| d.get("path"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let version = data
        .and_then(|d| d.get("options"))
        .and_then(|o| o.get("version"))
        .and_then(Value::as_str)
        .unwrap_or("");
    (mount, version == "2")
}

/// Vault's `kvPreflightVersionRequest` plus the `-mount` handling.
pub(super) fn resolve(ctx: &mut Ctx<'_, '_>, key_arg: &str) -> Result<Target, i32> {
    let mount_flag = ctx
        .flags
        .get("mount")
        .filter(|m| !m.is_empty())
        .map(sanitize);
    let key = sanitize(key_arg);
    let probe = mount_flag.clone().unwrap_or_else(|| key.clone());
    let path = format!("sys/internal/ui/mounts/{probe}");
    let (mount, v2) = match ctx.client.send(&Request::new(Method::Get, &path)) {
        Ok(resp) => match Secret::parse(&resp.body) {
            Ok(Some(secret)) => preflight_result(&secret),
            Ok(None) => {
                ctx.io.err("nil response from pre-flight request");
                return Err(2);
            }
            Err(e) => {
                ctx.io.err(&e.to_string());
                return Err(2);
            }
        },
        // An old server without the endpoint: assume KV v1, like Vault.
        Err(RequestError::Api(e)) if e.status == 404 => (String::new(), false),
        Err(e) => {
            ctx.io.err(&e.to_string());
            return Err(2);
        }
    };
    let partial = if mount_flag.is_some() && v2 {
        join(&[&mount, &key])
    } else {
        key
    };
    Ok(Target {
        mount,
        v2,
        partial,
        mount_flag: mount_flag.is_some(),
    })
}

/// `-versions=1,2 -versions=3` → `[1, 2, 3]` (numbers when they parse).
pub fn parse_versions(values: &[String]) -> Vec<Value> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| match v.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::String(v.to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target(mount: &str, v2: bool, partial: &str, mount_flag: bool) -> Target {
        Target {
            mount: mount.into(),
            v2,
            partial: partial.into(),
            mount_flag,
        }
    }

    #[test]
    fn api_paths_v2_and_v1() {
        let t = target("secret/", true, "secret/app/db", false);
        assert_eq!(t.api_path("data"), "secret/data/app/db");
        assert_eq!(t.api_path("metadata"), "secret/metadata/app/db");
        assert_eq!(t.api_path("undelete"), "secret/undelete/app/db");
        assert_eq!(
            target("secret/", true, "secret", false).api_path("metadata"),
            "secret/metadata"
        );
        assert_eq!(
            target("kv/", false, "kv/app", false).api_path("data"),
            "kv/app"
        );
        assert_eq!(target("kv/", false, "app", true).api_path("data"), "kv/app");
    }

    #[test]
    fn preflight_parsing() {
        let s = Secret::from_value(
            json!({"data": {"path": "secret/", "options": {"version": "2"}, "type": "kv"}}),
        )
        .unwrap();
        assert_eq!(preflight_result(&s), ("secret/".to_string(), true));
        let s = Secret::from_value(json!({"data": {"path": "kv/", "options": null}})).unwrap();
        assert_eq!(preflight_result(&s), ("kv/".to_string(), false));
        let s = Secret::from_value(json!({"data": {"path": "kv/", "options": {"version": "1"}}}))
            .unwrap();
        assert_eq!(preflight_result(&s), ("kv/".to_string(), false));
    }

    #[test]
    fn versions_flag() {
        let v = parse_versions(&["1,2".to_string(), " 3 ".to_string(), "x".to_string()]);
        assert_eq!(v, vec![json!(1), json!(2), json!(3), json!("x")]);
        assert!(parse_versions(&[]).is_empty());
    }
}
