//! `POST roles/:name`: partial updates, legacy parameters and validation, in the
//! order Vault applies them (its messages depend on it).

use std::collections::BTreeMap;

use coffer_sdk::{Error, Request, Response, Result, Seconds};
use serde_json::Value;

use super::entry::RoleEntry;
use super::{legacy, load, name_param, save};
use crate::gofmt::{multierror, quote};
use crate::policy;

/// Fields `roles/:name` accepts.
pub const FIELDS: &[&str] = &[
    "credential_type",
    "role_arns",
    "policy_arns",
    "policy_document",
    "iam_groups",
    "iam_tags",
    "session_tags",
    "external_id",
    "default_sts_ttl",
    "max_sts_ttl",
    "user_path",
    "permissions_boundary_arn",
    "mfa_serial_number",
    "policy",
    "arn",
];

/// The legacy `policy` or `arn` value, if one was given.
fn legacy_data(req: &Request) -> Result<Option<String>> {
    let policy = req.get::<String>("policy")?.unwrap_or_default();
    let arn = req.get::<String>("arn")?.unwrap_or_default();
    match (policy.is_empty(), arn.is_empty()) {
        (true, true) => Ok(None),
        // Vault returns this as a plain error, hence a 500.
        (false, false) => Err(Error::internal(
            "only one of policy or arn should be provided",
        )),
        (false, true) => Ok(Some(policy)),
        (true, false) => Ok(Some(arn)),
    }
}

/// Key/value pairs given as an object or as `key=value` strings (Vault's
/// `TypeKVPairs`; a lone string counts as a one-element list).
fn kv_pairs(req: &Request, field: &str) -> Result<Option<BTreeMap<String, String>>> {
    let Some(value) = req.get::<Value>(field)? else {
        return Ok(None);
    };
    let bad = |m: String| Error::invalid(format!("invalid value for field \"{field}\": {m}"));
    let items: Vec<Value> = match value {
        Value::Object(map) => {
            let mut out = BTreeMap::new();
            for (k, v) in map {
                let v = match v {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => if b { "1" } else { "0" }.to_string(),
                    _ => return Err(bad(format!("value of key {} is not a string", quote(&k)))),
                };
                out.insert(k, v);
            }
            return Ok(Some(out));
        }
        Value::Array(items) => items,
        Value::String(s) if s.is_empty() => Vec::new(),
        other => vec![other],
    };
    let mut out = BTreeMap::new();
    for item in items {
        let text = match item {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            other => return Err(bad(format!("expected \"key=value\", got {other}"))),
        };
        match text.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                out.insert(k.to_string(), v.to_string());
            }
            _ => return Err(bad(format!("invalid key pair {}", quote(&text)))),
        }
    }
    Ok(Some(out))
}

/// Fails when a new-style field is combined with a legacy parameter.
fn no_legacy(legacy: &Option<String>, what: &str) -> Result<()> {
    if legacy.is_some() {
        return Err(Error::invalid(format!(
            "cannot supply deprecated role or policy parameters with {what}"
        )));
    }
    Ok(())
}

/// `POST roles/:name`.
pub fn write(req: &Request) -> Result<Response> {
    let name = name_param(req)?;
    let mut warnings: Vec<String> = Vec::new();

    let mut role = match load(name)? {
        None => RoleEntry {
            version: 1,
            ..RoleEntry::default()
        },
        Some(mut existing) => {
            if !existing.invalid_data.is_empty() {
                warnings.push(format!(
                    "Invalid data of {} cleared out of role",
                    quote(&existing.invalid_data)
                ));
                existing.invalid_data.clear();
            }
            existing
        }
    };

    let legacy = legacy_data(req)?;

    if let Some(t) = req.get::<String>("credential_type")? {
        no_legacy(&legacy, "an explicit credential_type")?;
        role.credential_types = vec![t];
    }
    if let Some(arns) = req.get::<Vec<String>>("role_arns")? {
        no_legacy(&legacy, "role_arns")?;
        role.role_arns = Some(arns);
    }
    if let Some(arns) = req.get::<Vec<String>>("policy_arns")? {
        no_legacy(&legacy, "policy_arns")?;
        role.policy_arns = Some(arns);
    }
    if let Some(doc) = req.get::<String>("policy_document")? {
        no_legacy(&legacy, "policy_document")?;
        role.policy_document = if doc.is_empty() {
            doc
        } else {
            policy::compact(&doc).ok_or_else(|| {
                Error::invalid(format!("cannot parse policy document: {}", quote(&doc)))
            })?
        };
    }
    let default_ttl = req.get::<Seconds>("default_sts_ttl")?;
    if default_ttl.is_some() {
        no_legacy(&legacy, "default_sts_ttl")?;
    }
    let max_ttl = req.get::<Seconds>("max_sts_ttl")?;
    if max_ttl.is_some() {
        no_legacy(&legacy, "max_sts_ttl")?;
    }
    role.set_sts_ttls(
        default_ttl.map(Seconds::as_secs),
        max_ttl.map(Seconds::as_secs),
    );
    if let Some(path) = req.get::<String>("user_path")? {
        no_legacy(&legacy, "user_path")?;
        role.user_path = path;
    }
    if let Some(arn) = req.get::<String>("permissions_boundary_arn")? {
        no_legacy(&legacy, "permissions_boundary_arn")?;
        role.permissions_boundary_arn = arn;
    }
    if let Some(groups) = req.get::<Vec<String>>("iam_groups")? {
        role.iam_groups = Some(groups);
    }
    if let Some(tags) = kv_pairs(req, "iam_tags")? {
        role.iam_tags = Some(tags);
    }
    if let Some(serial) = req.get::<String>("mfa_serial_number")? {
        role.serial_number = serial;
    }
    if let Some(tags) = kv_pairs(req, "session_tags")? {
        role.session_tags = Some(tags);
    }
    if let Some(id) = req.get::<String>("external_id")? {
        role.external_id = id;
    }

    match legacy {
        Some(data) => {
            // Legacy data replaces the whole role, whatever else was sent.
            role = legacy::upgrade(&data);
            if !role.invalid_data.is_empty() {
                return Err(Error::invalid(format!(
                    "unable to parse supplied data: {}",
                    quote(&role.invalid_data)
                )));
            }
            warnings.push(legacy::WARNING.to_string());
        }
        None => role.prohibit_flexible_cred_path = false,
    }

    if let Err(errors) = role.validate() {
        return Err(Error::invalid(format!(
            "error(s) validating supplied role data: {}",
            quote(&multierror(&errors))
        )));
    }
    save(name, &role)?;

    let mut response = Response::empty();
    for w in warnings {
        response.add_warning(w);
    }
    Ok(response)
}
