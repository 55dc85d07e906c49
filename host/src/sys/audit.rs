//! `sys/audit` (list), `sys/audit/:path` (enable, disable), `sys/audit-hash/:path`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::api::{ApiError, LogicalRequest, LogicalResponse, Operation};
use crate::app::App;
use crate::audit::EnableRequest;
use crate::auth::Caller;

/// Serves the audit device endpoints.
pub async fn handle(app: &App, req: &LogicalRequest, _caller: &Caller) -> LogicalResponse {
    let path = req.path.as_str();
    if let Some(rest) = below(path, "sys/audit-hash") {
        return match req.operation {
            Operation::Update | Operation::Create => hash(app, rest, req),
            _ => ApiError::unsupported_operation().into(),
        };
    }
    let rest = below(path, "sys/audit").unwrap_or("");
    if rest.is_empty() {
        return match req.operation {
            Operation::Read => list(app),
            _ => ApiError::unsupported_operation().into(),
        };
    }
    match req.operation {
        Operation::Update | Operation::Create => enable(app, rest, req),
        Operation::Delete => disable(app, rest),
        _ => ApiError::unsupported_operation().into(),
    }
}

/// The part of `path` after `base/` (`""` for `base` itself).
fn below<'a>(path: &'a str, base: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(base)?;
    if rest.is_empty() {
        return Some("");
    }
    rest.strip_prefix('/')
}

fn list(app: &App) -> LogicalResponse {
    let data: Map<String, Value> = app.audit.list().into_iter().collect();
    LogicalResponse::injected(Value::Object(data))
}

fn enable(app: &App, raw: &str, req: &LogicalRequest) -> LogicalResponse {
    let spec = match enable_request(req) {
        Ok(s) => s,
        Err(e) => return e.into(),
    };
    match app.audit.enable(raw, spec, Some(&req.id)) {
        Ok(()) => {
            tracing::info!(path = %raw, "enabled audit device");
            LogicalResponse::NoContent
        }
        Err(e) => ApiError::from(e).into(),
    }
}

fn enable_request(req: &LogicalRequest) -> Result<EnableRequest, ApiError> {
    let kind = req.str_field("type").unwrap_or_default();
    if kind.trim().is_empty() {
        return Err(ApiError::bad_request(
            "audit device type must be specified as a string",
        ));
    }
    let options = match req.field("options") {
        None => BTreeMap::new(),
        // Vault's options are strings; clients send booleans (log_raw) as JSON too.
        Some(Value::Object(m)) => m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect(),
        Some(_) => return Err(ApiError::bad_request("options must be a map of strings")),
    };
    let local = match req.field("local") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.as_str(), "true" | "1" | "t" | "T" | "TRUE" | "True"),
        Some(_) => return Err(ApiError::bad_request("local must be a boolean")),
    };
    Ok(EnableRequest {
        kind: kind.trim().to_string(),
        description: req.str_field("description").unwrap_or_default(),
        options,
        local,
    })
}

fn disable(app: &App, raw: &str) -> LogicalResponse {
    match app.audit.disable(raw) {
        Ok(existed) => {
            if existed {
                tracing::info!(path = %raw, "disabled audit device");
            }
            LogicalResponse::NoContent
        }
        Err(e) => ApiError::from(e).into(),
    }
}

fn hash(app: &App, raw: &str, req: &LogicalRequest) -> LogicalResponse {
    let input = match req.field("input") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return ApiError::bad_request("the \"input\" parameter is empty").into(),
    };
    match app.audit.hash(raw, &input) {
        Ok(h) => LogicalResponse::injected(json!({ "hash": h })),
        Err(e) => ApiError::from(e).into(),
    }
}
