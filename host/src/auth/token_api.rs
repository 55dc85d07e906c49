//! Vault's `auth/token/…` endpoints: create, lookup, renew, revoke, accessors.
//!
//! Parameter handling and Vault's policy rules live here; the store below decides
//! TTLs and owns persistence.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::{Caller, NewToken, TokenEntry};
use crate::api::{ApiError, LogicalRequest, LogicalResponse, Operation};
use crate::app::App;

/// Serves `auth/token/...` for an authenticated, authorised caller.
pub fn handle(app: &App, req: &LogicalRequest, caller: &Caller) -> LogicalResponse {
    match route(app, req, caller) {
        Ok(resp) => resp,
        Err(e) => e.into(),
    }
}

fn is_write(op: Operation) -> bool {
    matches!(op, Operation::Update | Operation::Create)
}

fn route(app: &App, req: &LogicalRequest, caller: &Caller) -> Result<LogicalResponse, ApiError> {
    let rest = req.path.strip_prefix("auth/token/").unwrap_or("");
    let (head, tail) = match rest.split_once('/') {
        Some((h, t)) => (h, Some(t).filter(|t| !t.is_empty())),
        None => (rest, None),
    };
    let op = req.operation;
    match (head, tail) {
        ("create" | "create-orphan", None) if is_write(op) => create(app, req, caller, head),
        ("create", Some(_)) if is_write(op) => Err(ApiError::bad_request("unknown role")),
        ("lookup-self", None) if is_write(op) || op == Operation::Read => lookup_self(app, caller),
        ("lookup", None) if is_write(op) => {
            lookup_token(app, caller, req.str_field("token").unwrap_or_default())
        }
        // Deprecated URL form, still used by old clients.
        ("lookup", Some(t)) if op == Operation::Read => lookup_token(app, caller, t.to_string()),
        ("lookup-accessor", None) if is_write(op) => {
            lookup_accessor(app, &req.str_field("accessor").unwrap_or_default())
        }
        ("lookup-accessor", Some(a)) if is_write(op) => lookup_accessor(app, a),
        ("renew-self", None) if is_write(op) => renew(app, req, &caller.token_hash, &caller.token),
        ("renew", t) if is_write(op) => {
            let token = param_or_path(req, "token", t);
            if token.is_empty() {
                return Err(ApiError::bad_request("missing token"));
            }
            let hash = app.tokens.hash(&token);
            renew(app, req, &hash, &token)
        }
        ("renew-accessor", a) if is_write(op) => {
            let accessor = param_or_path(req, "accessor", a);
            let entry = app
                .tokens
                .lookup_accessor(&accessor)?
                .ok_or_else(|| ApiError::bad_request("invalid accessor"))?;
            renew(app, req, &entry.hash, "")
        }
        ("revoke-self", None) if is_write(op) => {
            app.tokens.revoke_tree(&caller.token_hash, &app.leases)?;
            Ok(LogicalResponse::NoContent)
        }
        ("revoke", t) if is_write(op) => {
            let token = param_or_path(req, "token", t);
            if token.is_empty() {
                return Err(ApiError::bad_request("missing token"));
            }
            app.tokens
                .revoke_tree(&app.tokens.hash(&token), &app.leases)?;
            Ok(LogicalResponse::NoContent)
        }
        ("revoke-orphan", t) if is_write(op) => {
            // A sudo path in Vault; without an ACL sudo check here, root only.
            if !caller.is_root() {
                return Err(ApiError::permission_denied());
            }
            let token = param_or_path(req, "token", t);
            if token.is_empty() {
                return Err(ApiError::bad_request("missing token"));
            }
            app.tokens
                .revoke_orphan(&app.tokens.hash(&token), &app.leases)?;
            Ok(LogicalResponse::NoContent)
        }
        ("revoke-accessor", a) if is_write(op) => {
            let accessor = param_or_path(req, "accessor", a);
            let entry = app
                .tokens
                .lookup_accessor(&accessor)?
                .ok_or_else(|| ApiError::bad_request("invalid accessor"))?;
            app.tokens.revoke_tree(&entry.hash, &app.leases)?;
            Ok(LogicalResponse::NoContent)
        }
        ("accessors", None) if op == Operation::List => {
            if !caller.is_root() {
                return Err(ApiError::permission_denied());
            }
            let keys = app.tokens.accessors()?;
            if keys.is_empty() {
                return Err(ApiError::not_found());
            }
            Ok(LogicalResponse::data(json!({ "keys": keys }), "token"))
        }
        (
            "create" | "create-orphan" | "lookup-self" | "lookup" | "lookup-accessor"
            | "renew-self" | "renew" | "renew-accessor" | "revoke-self" | "revoke"
            | "revoke-orphan" | "revoke-accessor" | "accessors",
            _,
        ) => Err(ApiError::unsupported_operation()),
        _ => Err(ApiError::unsupported_path()),
    }
}

/// A body parameter, or the URL suffix (Vault's deprecated `…/revoke/<token>` form).
fn param_or_path(req: &LogicalRequest, key: &str, tail: Option<&str>) -> String {
    req.str_field(key)
        .filter(|s| !s.is_empty())
        .or_else(|| tail.map(str::to_string))
        .unwrap_or_default()
}

fn token_envelope(auth: Value, warnings: Vec<String>) -> LogicalResponse {
    LogicalResponse::warnings_only(warnings, "token").with_auth(auth)
}

fn create(
    app: &App,
    req: &LogicalRequest,
    caller: &Caller,
    endpoint: &str,
) -> Result<LogicalResponse, ApiError> {
    may_have_children(caller)?;
    let is_root = caller.is_root();
    let requested = list_param(req, "policies")?;
    let no_default = bool_param(req, "no_default_policy", false)?;
    let no_parent = bool_param(req, "no_parent", false)?;
    let renewable = bool_param(req, "renewable", true)?;
    let ttl = match req.field("ttl") {
        Some(_) => duration_param(req, "ttl")?,
        None => duration_param(req, "lease")?,
    };
    let explicit_max_ttl = duration_param(req, "explicit_max_ttl")?;
    let period = duration_param(req, "period")?;
    let num_uses = int_param(req, "num_uses")?;
    let meta = meta_param(req)?;
    let id = req.str_field("id").filter(|s| !s.is_empty());
    match req.str_field("type").as_deref() {
        None | Some("" | "service" | "default") => {}
        Some("batch") => {
            return Err(ApiError::bad_request(
                "batch tokens are not supported by this server",
            ));
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid 'token_type' value {other:?}"
            )));
        }
    }
    if num_uses < 0 {
        return Err(ApiError::bad_request("number of uses cannot be negative"));
    }
    if id.is_some() && !is_root {
        return Err(ApiError::bad_request(
            "root or sudo privileges required to specify token id",
        ));
    }
    if no_parent && endpoint == "create" && !is_root {
        return Err(ApiError::bad_request(
            "root or sudo privileges required to create orphan token",
        ));
    }
    if period > 0 && !is_root {
        return Err(ApiError::bad_request(
            "root or sudo privileges required to create periodic token",
        ));
    }
    let policies = child_policies(&caller.policies, requested, no_default, is_root)?;
    let orphan = endpoint == "create-orphan" || no_parent;
    let created = app.tokens.create(NewToken {
        id: id.map(Zeroizing::new),
        policies,
        meta,
        display_name: display_name(&req.str_field("display_name").unwrap_or_default()),
        num_uses,
        ttl,
        explicit_max_ttl,
        period,
        renewable,
        parent: if orphan {
            String::new()
        } else {
            caller.token_hash.clone()
        },
        path: format!("auth/token/{endpoint}"),
    })?;
    Ok(token_envelope(
        created
            .entry
            .auth_block(&created.token, created.lease_duration),
        created.warnings,
    ))
}

/// A use-limited token would escape its limit through children with uses of their own,
/// so it may not create any; Vault refuses the same way, whatever the token's policies.
/// On the token's last use `num_uses` already reads 0: the pending revocation
/// (`last_use`) counts as limited too.
fn may_have_children(caller: &Caller) -> Result<(), ApiError> {
    if caller.num_uses > 0 || caller.last_use.is_some() {
        return Err(ApiError::bad_request(
            "restricted use token cannot generate child tokens",
        ));
    }
    Ok(())
}

/// Vault's policy rules for a child token: inherit the parent's when none are asked
/// for; a non-root parent may grant only a subset of its own (`default` is always
/// allowed); `root` swallows everything else; `default` is added unless refused.
fn child_policies(
    parent: &[String],
    requested: Vec<String>,
    no_default: bool,
    parent_is_root: bool,
) -> Result<Vec<String>, ApiError> {
    let inherit = requested.is_empty();
    let mut wanted = if inherit { parent.to_vec() } else { requested };
    if inherit && no_default {
        wanted.retain(|p| p != "default");
    }
    if !parent_is_root {
        let have = sanitize(parent.to_vec(), false);
        let asked = sanitize(wanted.clone(), false);
        if asked.iter().any(|p| p != "default" && !have.contains(p)) {
            return Err(ApiError::bad_request(
                "child policies must be subset of parent",
            ));
        }
    }
    Ok(sanitize(wanted, !no_default))
}

/// Vault's `SanitizePolicies`: trimmed, lower-cased, deduplicated, sorted; `root`
/// alone if present; `default` added when asked.
fn sanitize(policies: Vec<String>, add_default: bool) -> Vec<String> {
    let mut out: Vec<String> = policies
        .into_iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    if out.iter().any(|p| p == "root") {
        return vec!["root".into()];
    }
    if add_default && !out.iter().any(|p| p == "default") {
        out.push("default".into());
    }
    out.sort();
    out.dedup();
    out
}

/// Vault's display name: `token`, or `token-<name>` with anything but `[A-Za-z0-9-]`
/// replaced by `-` and one trailing `-` removed.
fn display_name(name: &str) -> String {
    if name.is_empty() {
        return "token".into();
    }
    let mut full = String::from("token-");
    let mut in_run = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '-' {
            full.push(c);
            in_run = false;
        } else if !in_run {
            full.push('-');
            in_run = true;
        }
    }
    if let Some(stripped) = full.strip_suffix('-') {
        full = stripped.to_string();
    }
    full
}

fn lookup_response(entry: &TokenEntry, id: &str, now: u64) -> LogicalResponse {
    LogicalResponse::data(entry.lookup_data(id, now), "token")
}

fn lookup_self(app: &App, caller: &Caller) -> Result<LogicalResponse, ApiError> {
    // `get`, not `lookup_hash`: a use-limited token on its last use is still this
    // request's caller and must be able to see itself.
    let entry = app
        .tokens
        .get(&caller.token_hash)?
        .ok_or_else(ApiError::permission_denied)?;
    Ok(lookup_response(&entry, &caller.token, app.tokens.now()))
}

fn lookup_token(app: &App, caller: &Caller, token: String) -> Result<LogicalResponse, ApiError> {
    let token = Zeroizing::new(token);
    if token.is_empty() {
        return lookup_self(app, caller);
    }
    let entry = app
        .tokens
        .lookup(&token)?
        .ok_or_else(|| ApiError::new(StatusCode::FORBIDDEN, "bad token"))?;
    Ok(lookup_response(&entry, &token, app.tokens.now()))
}

fn lookup_accessor(app: &App, accessor: &str) -> Result<LogicalResponse, ApiError> {
    if accessor.is_empty() {
        return Err(ApiError::bad_request("missing accessor"));
    }
    let entry = app
        .tokens
        .lookup_accessor(accessor)?
        .ok_or_else(|| ApiError::bad_request("invalid accessor"))?;
    // The id is not stored, and an accessor must not reveal it anyway.
    Ok(lookup_response(&entry, "", app.tokens.now()))
}

fn renew(
    app: &App,
    req: &LogicalRequest,
    hash: &str,
    client_token: &str,
) -> Result<LogicalResponse, ApiError> {
    let increment = duration_param(req, "increment")?;
    let (entry, ttl, warnings) = app.tokens.renew(hash, increment)?;
    Ok(token_envelope(
        entry.auth_block(client_token, ttl),
        warnings,
    ))
}

// --- parameters ------------------------------------------------------------------

fn convert_error(key: &str, v: &Value, why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!(
        "error converting input {v} for field {key:?}: {why}"
    ))
}

fn bool_param(req: &LogicalRequest, key: &str, default: bool) -> Result<bool, ApiError> {
    let Some(v) = req.field(key) else {
        return Ok(default);
    };
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => Ok(n.as_f64().is_some_and(|f| f != 0.0)),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(default),
            "1" | "t" | "true" => Ok(true),
            "0" | "f" | "false" => Ok(false),
            _ => Err(convert_error(key, v, "cannot parse as bool")),
        },
        _ => Err(convert_error(key, v, "expected a bool")),
    }
}

fn int_param(req: &LogicalRequest, key: &str) -> Result<i64, ApiError> {
    let Some(v) = req.field(key) else {
        return Ok(0);
    };
    match v {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| convert_error(key, v, "expected an integer")),
        Value::String(s) if s.trim().is_empty() => Ok(0),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| convert_error(key, v, "expected an integer")),
        _ => Err(convert_error(key, v, "expected an integer")),
    }
}

fn duration_param(req: &LogicalRequest, key: &str) -> Result<u64, ApiError> {
    match req.field(key) {
        None => Ok(0),
        Some(v) => crate::util::duration::parse_value(v).map_err(|e| convert_error(key, v, e)),
    }
}

/// A list given as a JSON array or a comma-separated string.
fn list_param(req: &LogicalRequest, key: &str) -> Result<Vec<String>, ApiError> {
    let Some(v) = req.field(key) else {
        return Ok(Vec::new());
    };
    let items: Vec<String> = match v {
        Value::String(s) => s.split(',').map(str::to_string).collect(),
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                other => Err(convert_error(key, other, "expected a string")),
            })
            .collect::<Result<_, _>>()?,
        other => return Err(convert_error(key, other, "expected a list")),
    };
    Ok(items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect())
}

/// `meta`: a map of strings (Vault's `map[string]string`), or a `k=v,…` string.
fn meta_param(req: &LogicalRequest) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    let Some(v) = req.field("meta") else {
        return Ok(None);
    };
    let mut out = BTreeMap::new();
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                let s = match val {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    Value::Bool(_) | Value::Number(_) => val.to_string(),
                    other => return Err(convert_error("meta", other, "expected a string")),
                };
                out.insert(k.clone(), s);
            }
        }
        Value::String(s) => {
            for pair in s.split(',').filter(|p| !p.trim().is_empty()) {
                let (k, val) = pair
                    .split_once('=')
                    .ok_or_else(|| convert_error("meta", v, "expected key=value pairs"))?;
                out.insert(k.trim().to_string(), val.trim().to_string());
            }
        }
        other => return Err(convert_error("meta", other, "expected a map")),
    }
    Ok((!out.is_empty()).then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn policies_follow_vault_rules() {
        let root = s(&["root"]);
        assert_eq!(child_policies(&root, vec![], false, true).unwrap(), root);
        assert_eq!(
            child_policies(&root, s(&["B", "a", "a"]), false, true).unwrap(),
            s(&["a", "b", "default"])
        );
        assert_eq!(
            child_policies(&root, s(&["a"]), true, true).unwrap(),
            s(&["a"])
        );
        let parent = s(&["default", "dev"]);
        assert_eq!(
            child_policies(&parent, s(&["dev"]), false, false).unwrap(),
            s(&["default", "dev"])
        );
        assert_eq!(
            child_policies(&parent, vec![], true, false).unwrap(),
            s(&["dev"])
        );
        let err = child_policies(&parent, s(&["admin"]), false, false).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.errors, vec!["child policies must be subset of parent"]);
        assert!(child_policies(&parent, s(&["root"]), false, false).is_err());
    }

    #[test]
    fn use_limited_tokens_have_no_children() {
        let unlimited = Caller::default();
        assert!(may_have_children(&unlimited).is_ok());
        let limited = Caller {
            num_uses: 1,
            policies: s(&["root"]),
            ..Caller::default()
        };
        let err = may_have_children(&limited).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            err.errors,
            vec!["restricted use token cannot generate child tokens"]
        );
    }

    #[test]
    fn display_names_are_prefixed_and_sanitized() {
        assert_eq!(display_name(""), "token");
        assert_eq!(display_name("alice"), "token-alice");
        assert_eq!(display_name("a b@c!"), "token-a-b-c");
    }
}
