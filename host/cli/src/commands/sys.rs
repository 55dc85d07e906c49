//! `status` and `version`.

use serde_json::Value;

use super::{Command, Ctx, Env};
use crate::Io;
use crate::client::{Method, Request};
use crate::output::{self, Format};

const STATUS: Command = Command {
    flags: &[],
    help: "
Usage: coffer status [options]

  Prints the seal status of the server. Exit code 0 means unsealed, 2 means
  sealed, 1 means an error.",
};

/// `coffer version`.
pub fn version(io: &mut Io<'_>) -> i32 {
    io.out(&format!("Coffer v{}", env!("CARGO_PKG_VERSION")));
    0
}

/// `coffer status`.
pub fn status(io: &mut Io<'_>, env: Env<'_>, args: &[String]) -> i32 {
    STATUS.run(io, env, args, status_body)
}

fn status_body(ctx: &mut Ctx<'_, '_>) -> Result<i32, i32> {
    ctx.expect_args(0, Some(0))?;
    let resp = match ctx
        .client
        .send(&Request::new(Method::Get, "sys/seal-status"))
    {
        Ok(r) => r,
        Err(e) => {
            // Vault reserves exit code 2 for "sealed" here, so errors are 1.
            ctx.io.err(&format!("Error checking seal status: {e}"));
            return Ok(1);
        }
    };
    let Ok(Value::Object(mut status)) = serde_json::from_str::<Value>(&resp.body) else {
        ctx.io
            .err("Error checking seal status: invalid response from server");
        return Ok(1);
    };
    // HA information comes from sys/leader; a server without HA (or without
    // the endpoint) simply reports it disabled.
    let ha_enabled = ctx
        .client
        .send(&Request::new(Method::Get, "sys/leader"))
        .ok()
        .and_then(|r| serde_json::from_str::<Value>(&r.body).ok())
        .and_then(|v| v.get("ha_enabled").and_then(Value::as_bool))
        .unwrap_or(false);
    status.insert("ha_enabled".into(), Value::Bool(ha_enabled));
    let sealed = status
        .get("sealed")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match ctx.format {
        Format::Json => ctx.io.out(&status_json(&status)),
        Format::Table => ctx.io.out(&status_table(&status)),
    }
    Ok(if sealed { 2 } else { 0 })
}

/// The rows of Vault's seal-status table.
pub fn status_table(s: &serde_json::Map<String, Value>) -> String {
    let text = |k: &str| s.get(k).map(output::go_value).unwrap_or_default();
    let str_field = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let flag = |k: &str| s.get(k).and_then(Value::as_bool).unwrap_or(false);
    let prefix = if flag("recovery_seal") {
        "Recovery "
    } else {
        ""
    };
    let mut rows: Vec<Vec<String>> = vec![
        vec![format!("{prefix}Seal Type"), str_field("type")],
        vec!["Initialized".into(), flag("initialized").to_string()],
        vec!["Sealed".into(), flag("sealed").to_string()],
        vec![format!("Total {prefix}Shares"), text("n")],
        vec!["Threshold".into(), text("t")],
    ];
    if flag("sealed") {
        rows.push(vec![
            "Unseal Progress".into(),
            format!("{}/{}", text("progress"), text("t")),
        ]);
        rows.push(vec!["Unseal Nonce".into(), str_field("nonce")]);
    }
    if flag("migration") {
        rows.push(vec!["Seal Migration in Progress".into(), "true".into()]);
    }
    rows.push(vec!["Version".into(), str_field("version")]);
    rows.push(vec!["Build Date".into(), str_field("build_date")]);
    rows.push(vec!["Storage Type".into(), str_field("storage_type")]);
    let (name, id) = (str_field("cluster_name"), str_field("cluster_id"));
    if !name.is_empty() && !id.is_empty() {
        rows.push(vec!["Cluster Name".into(), name]);
        rows.push(vec!["Cluster ID".into(), id]);
    }
    rows.push(vec!["HA Enabled".into(), flag("ha_enabled").to_string()]);
    output::table(&["Key", "Value"], rows)
}

/// Seal status as JSON in the field order of Vault's `SealStatusOutput`.
fn status_json(s: &serde_json::Map<String, Value>) -> String {
    const ORDER: [&str; 15] = [
        "type",
        "initialized",
        "sealed",
        "t",
        "n",
        "progress",
        "nonce",
        "version",
        "build_date",
        "migration",
        "cluster_name",
        "cluster_id",
        "recovery_seal",
        "storage_type",
        "ha_enabled",
    ];
    let mut fields: Vec<(&str, &Value)> = ORDER
        .iter()
        .filter_map(|k| s.get(*k).map(|v| (*k, v)))
        .collect();
    for (k, v) in output::sorted(s) {
        if !ORDER.contains(&k.as_str()) {
            fields.push((k.as_str(), v));
        }
    }
    output::json_pretty_ordered(&fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unsealed_status_table() {
        let s = json!({
            "type": "shamir", "initialized": true, "sealed": false, "t": 1, "n": 1,
            "progress": 0, "nonce": "", "version": "0.1.0", "build_date": "",
            "migration": false, "cluster_name": "coffer-cluster", "cluster_id": "abc",
            "recovery_seal": false, "storage_type": "inmem", "ha_enabled": false
        });
        let expected = "\
Key             Value
---             -----
Seal Type       shamir
Initialized     true
Sealed          false
Total Shares    1
Threshold       1
Version         0.1.0
Build Date      n/a
Storage Type    inmem
Cluster Name    coffer-cluster
Cluster ID      abc
HA Enabled      false";
        assert_eq!(status_table(s.as_object().unwrap()), expected);
    }

    #[test]
    fn sealed_status_table_shows_progress() {
        let s = json!({"type": "shamir", "initialized": true, "sealed": true, "t": 3, "n": 5, "progress": 1, "nonce": "n1"});
        let t = status_table(s.as_object().unwrap());
        assert!(t.contains("Unseal Progress    1/3"), "{t}");
        assert!(t.contains("Unseal Nonce       n1"), "{t}");
        assert!(!t.contains("Cluster Name"));
    }
}
