//! `coffer policy …`: write, read, list and delete ACL policies.
//!
//! Like Vault's CLI these use `sys/policies/acl` (so `list` does not show `root`),
//! and print the same messages.

use serde_json::{Value, json};

use super::{Command, Ctx, Env};
use crate::Io;
use crate::client::{Method, Request};
use crate::output::{Format, json_pretty};

const USAGE: &str = "\
Usage: coffer policy <subcommand> [options] [args]

  Manages ACL policies, which decide what a token may do on which paths.

      $ coffer policy write my-policy ./my-policy.hcl
      $ coffer policy read my-policy
      $ coffer policy list
      $ coffer policy delete my-policy

Subcommands:
    delete    Delete a policy
    list      List the policies
    read      Print the text of a policy
    write     Upload a policy from a file or stdin";

const WRITE: Command = Command {
    flags: &[],
    help: "
Usage: coffer policy write [options] NAME PATH

  Uploads a policy named NAME from the file at PATH, or from stdin when PATH is
  \"-\". The policy is HCL or JSON; an existing policy of that name is replaced.

      $ coffer policy write my-policy ./my-policy.hcl
      $ cat my-policy.hcl | coffer policy write my-policy -",
};

const READ: Command = Command {
    flags: &[],
    help: "
Usage: coffer policy read [options] NAME

  Prints the text of the policy named NAME (with -format=json, a JSON object
  holding it).

      $ coffer policy read my-policy",
};

const LIST: Command = Command {
    flags: &[],
    help: "
Usage: coffer policy list [options]

  Lists the names of the installed policies, one per line.",
};

const DELETE: Command = Command {
    flags: &[],
    help: "
Usage: coffer policy delete [options] NAME

  Deletes the policy named NAME. Tokens that name it lose what it granted at
  once. The built-in root and default policies cannot be deleted.

      $ coffer policy delete my-policy",
};

/// `coffer policy …`.
pub fn run(io: &mut Io<'_>, env: Env<'_>, args: &[String]) -> i32 {
    let Some((sub, rest)) = args.split_first() else {
        io.err(USAGE);
        return 127;
    };
    match sub.as_str() {
        "write" => WRITE.run(io, env, rest, write),
        "read" => READ.run(io, env, rest, read),
        "list" => LIST.run(io, env, rest, list),
        "delete" => DELETE.run(io, env, rest, delete),
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

/// Vault lower-cases and trims names on the client side too, so the success message
/// shows the name the server stored.
fn policy_name(arg: &str) -> String {
    arg.trim().to_lowercase()
}

fn write(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(2, Some(2))?;
    let name = policy_name(&ctx.args()[0]);
    let source = ctx.args()[1].clone();
    let mut text = String::new();
    if source == "-" {
        if let Err(e) = ctx.io.stdin.read_to_string(&mut text) {
            ctx.io.err(&format!("Error reading policy: {e}"));
            return Ok(2);
        }
    } else {
        match std::fs::read_to_string(&source) {
            Ok(t) => text = t,
            Err(e) => {
                ctx.io.err(&format!("Error opening policy file: {e}"));
                return Ok(2);
            }
        }
    }
    let path = format!("sys/policies/acl/{name}");
    let req = Request::new(Method::Put, &path).json(json!({ "policy": text }));
    if let Err(e) = ctx.client.write(&req) {
        return Ok(ctx.fail("Error uploading policy", &e));
    }
    ctx.io.out(&format!("Success! Uploaded policy: {name}"));
    Ok(0)
}

fn read(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(1, Some(1))?;
    let name = policy_name(&ctx.args()[0]);
    let path = format!("sys/policies/acl/{name}");
    let secret = match ctx.client.read(&path, Vec::new()) {
        Ok(s) => s,
        Err(e) => return Ok(ctx.fail(&format!("Error reading policy named {name}"), &e)),
    };
    let rules = secret
        .as_ref()
        .and_then(|s| s.data())
        .and_then(|d| d.get("policy"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    // The API client reports a missing policy and an empty one (root) alike.
    if rules.is_empty() {
        ctx.io.err(&format!("No policy named: {name}"));
        return Ok(2);
    }
    match ctx.format {
        Format::Table => ctx.io.out(rules.trim()),
        Format::Json => ctx.io.out(&json_pretty(&json!({ "policy": rules }))),
    }
    Ok(0)
}

fn list(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(0, Some(0))?;
    let secret = match ctx.client.list("sys/policies/acl") {
        Ok(s) => s,
        Err(e) => return Ok(ctx.fail("Error listing policies", &e)),
    };
    let names: Vec<String> = secret
        .as_ref()
        .and_then(|s| s.data())
        .and_then(|d| d.get("keys"))
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    match ctx.format {
        Format::Table => {
            for n in &names {
                ctx.io.out(n);
            }
        }
        Format::Json => ctx.io.out(&json_pretty(&json!(names))),
    }
    Ok(0)
}

fn delete(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(1, Some(1))?;
    let name = policy_name(&ctx.args()[0]);
    let path = format!("sys/policies/acl/{name}");
    if let Err(e) = ctx.client.delete(&path, Vec::new()) {
        return Ok(ctx.fail(&format!("Error deleting {name}"), &e));
    }
    ctx.io.out(&format!("Success! Deleted policy: {name}"));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_cli(args: &[&str]) -> (i32, String, String) {
        let mut stdin = std::io::empty();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut io = Io {
            stdin: &mut stdin,
            stdout: &mut out,
            stderr: &mut err,
            stdout_is_terminal: false,
        };
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        // No server: only paths that stop before any request are exercised here.
        let env = |k: &str| (k == "COFFER_ADDR").then(|| "http://127.0.0.1:9".to_string());
        let code = run(&mut io, &env, &args);
        (
            code,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    #[test]
    fn usage_and_argument_checks() {
        let (code, _, err) = run_cli(&[]);
        assert_eq!(code, 127);
        assert!(err.contains("coffer policy <subcommand>"));
        let (code, _, err) = run_cli(&["write", "only-name"]);
        assert_eq!(code, 1);
        assert!(
            err.contains("Not enough arguments (expected 2, got 1)"),
            "{err}"
        );
        let (code, _, err) = run_cli(&["list", "extra"]);
        assert_eq!(code, 1);
        assert!(err.contains("Too many arguments"), "{err}");
        let (code, _, err) = run_cli(&["write", "p", "/nonexistent/policy.hcl"]);
        assert_eq!(code, 2);
        assert!(err.contains("Error opening policy file"), "{err}");
        assert_eq!(policy_name(" My-Policy "), "my-policy");
    }
}
