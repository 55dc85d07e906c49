//! Turning a request into an engine call and the engine's answer into a response.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::value::RawValue;

use crate::api::{ApiError, Body, LogicalRequest, LogicalResponse, Operation};
use crate::app::App;
use crate::auth::Caller;
use crate::leases::{LeaseEngines, LeaseEntry, NewLease};
use crate::mounts::MountHandle;
use crate::runtime::bindings::{self as wit, EngineError};
use crate::runtime::{CallContext, EngineFault};

/// Calls the engine behind `handle` for `req`, whose path inside the mount is `rest`.
pub async fn call(
    app: &App,
    handle: &Arc<MountHandle>,
    req: &LogicalRequest,
    rest: &str,
    caller: &Caller,
) -> LogicalResponse {
    if req.help {
        return help(handle, rest);
    }
    let mount = wit_mount(handle);
    let request = wit::Request {
        operation: match req.operation {
            Operation::Read => wit::Operation::Read,
            Operation::Create => wit::Operation::Create,
            Operation::Update => wit::Operation::Update,
            Operation::Delete => wit::Operation::Delete,
            Operation::List => wit::Operation::List,
            Operation::Patch => wit::Operation::Patch,
        },
        path: rest.to_string(),
        // Written straight from the map: no copy of it, no pass through `Display`. A map
        // of JSON values always serialises.
        data: if req.data.is_empty() {
            "{}".to_string()
        } else {
            serde_json::to_string(&req.data).unwrap_or_else(|_| "{}".to_string())
        },
        mount,
        caller: wit_caller(caller),
        request_id: req.id.clone(),
    };
    let ctx = call_context(handle);
    let op = req.operation;
    let mutating = !matches!(op, Operation::Read | Operation::List);
    let _write_guard = if mutating {
        Some(handle.lock_write(rest).await)
    } else {
        None
    };
    let result = app
        .runtime
        .call(&handle.engine, ctx, move |e, store| {
            Box::pin(async move {
                let guest = e.coffer_engine_engine();
                match op {
                    Operation::Read => guest.call_read(store, &request).await,
                    Operation::List => guest.call_list(store, &request).await,
                    Operation::Delete => guest.call_delete(store, &request).await,
                    Operation::Create | Operation::Update | Operation::Patch => {
                        guest.call_write(store, &request).await
                    }
                }
            })
        })
        .await;
    match result {
        Err(fault) => fault_response(&handle.entry.path, fault),
        Ok(Err(err)) => engine_error(handle, req, err),
        Ok(Ok(resp)) => success(app, handle, req, caller, resp).await,
    }
}

/// The storage view and mount path an engine call for `handle` runs against.
pub fn call_context(handle: &MountHandle) -> CallContext {
    CallContext {
        storage: handle.storage.clone(),
        mount_path: Arc::from(handle.entry.path.as_str()),
    }
}

/// The caller as the engine sees it.
fn wit_caller(caller: &Caller) -> wit::Caller {
    wit::Caller {
        display_name: caller.display_name.clone(),
        policies: caller.policies.clone(),
        entity_id: String::new(),
    }
}

/// The mount as the engine sees it.
pub fn wit_mount(handle: &MountHandle) -> wit::Mount {
    wit::Mount {
        path: handle.entry.path.clone(),
        accessor: handle.entry.accessor.clone(),
        options: handle
            .entry
            .options
            .as_ref()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        default_lease_ttl: handle.entry.default_ttl(),
        max_lease_ttl: handle.entry.max_ttl(),
    }
}

fn fault_response(mount: &str, fault: EngineFault) -> LogicalResponse {
    tracing::error!(mount, error = %fault, "engine call failed");
    // A call the host turned away for want of capacity may succeed later: 503.
    let status = if fault.is_capacity() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    ApiError::new(status, format!("{fault} (mount {mount})")).into()
}

fn engine_error(handle: &MountHandle, req: &LogicalRequest, err: EngineError) -> LogicalResponse {
    match err {
        EngineError::InvalidRequest(m) => ApiError::bad_request(m).into(),
        EngineError::NotFound(None) => ApiError::not_found().into(),
        EngineError::NotFound(Some(data)) => match checked_object(&handle.engine.name, data) {
            Ok(raw) => envelope(handle, StatusCode::NOT_FOUND, Some(raw), 0, Vec::new()),
            Err(e) => e.into(),
        },
        EngineError::UnsupportedPath => ApiError::unsupported_path().into(),
        EngineError::UnsupportedOperation => ApiError::unsupported_operation().into(),
        EngineError::PermissionDenied(m) => ApiError::new(StatusCode::FORBIDDEN, m).into(),
        EngineError::UpstreamRateLimited(m) => ApiError::new(StatusCode::BAD_GATEWAY, m).into(),
        EngineError::Internal(m) => {
            tracing::warn!(mount = %handle.entry.path, path = %req.path, error = %m, "engine returned an internal error");
            ApiError::internal(m).into()
        }
    }
}

async fn success(
    app: &App,
    handle: &MountHandle,
    req: &LogicalRequest,
    caller: &Caller,
    resp: wit::Response,
) -> LogicalResponse {
    let limit = handle.engine.limits.max_response_bytes;
    let size = resp.data.as_ref().map_or(0, String::len)
        + resp.warnings.iter().map(String::len).sum::<usize>();
    if size > limit {
        return fault_response(
            &handle.entry.path,
            EngineFault::ResponseTooLarge {
                engine: handle.engine.name.to_string(),
                size,
                limit,
            },
        );
    }
    let data = match resp
        .data
        .map(|d| checked_object(&handle.engine.name, d))
        .transpose()
    {
        Ok(d) => d,
        Err(e) => return e.into(),
    };
    if req.operation == Operation::List {
        let has_keys = data.as_ref().is_some_and(|d| !list_is_empty(d.get()));
        if !has_keys && resp.warnings.is_empty() {
            return ApiError::not_found().into();
        }
    }
    if data.is_none() && resp.warnings.is_empty() {
        return LogicalResponse::NoContent;
    }
    if let Some(grant) = resp.lease {
        return leased(app, handle, req, caller, grant, data, resp.warnings).await;
    }
    let lease_duration = match resp.refresh_interval {
        Some(0) => handle.entry.default_ttl(),
        Some(n) => n,
        None => 0,
    };
    envelope(handle, StatusCode::OK, data, lease_duration, resp.warnings)
}

/// Records the lease before the client sees the secret; if that fails, the secret is
/// revoked at once so nothing is left that no lease will ever clean up.
async fn leased(
    app: &App,
    handle: &MountHandle,
    req: &LogicalRequest,
    caller: &Caller,
    grant: wit::LeaseGrant,
    data: Option<Box<RawValue>>,
    mut warnings: Vec<String>,
) -> LogicalResponse {
    let data_text = data.as_deref().map_or("{}", RawValue::get).to_string();
    let new = NewLease {
        path: req.path.trim_end_matches('/'),
        mount_path: &handle.entry.path,
        mount_uuid: &handle.entry.uuid,
        ttl: grant.ttl,
        max_ttl: grant.max_ttl,
        mount_default_ttl: handle.entry.default_ttl(),
        mount_max_ttl: handle.entry.max_ttl(),
        renewable: grant.renewable,
        internal: &grant.internal,
        data: &data_text,
        display_name: &caller.display_name,
        token_hash: &caller.token_hash,
    };
    match app.leases.register(new) {
        Ok((lease_id, timing)) => {
            warnings.extend(timing.warning);
            LogicalResponse::Envelope {
                status: StatusCode::OK,
                data: data.map(Body::Raw),
                lease_id,
                renewable: grant.renewable,
                lease_duration: timing.ttl,
                warnings,
                auth: None,
                mount_type: handle.entry.kind.clone(),
                injected: false,
            }
        }
        Err(e) => {
            tracing::error!(mount = %handle.entry.path, error = %e, "could not record a lease; revoking the secret");
            let orphan = LeaseEntry {
                id: format!("{}/unrecorded", req.path.trim_end_matches('/')),
                path: req.path.clone(),
                mount_path: handle.entry.path.clone(),
                mount_uuid: handle.entry.uuid.clone(),
                mount_rel_path: req
                    .path
                    .strip_prefix(handle.entry.path.as_str())
                    .unwrap_or(&req.path)
                    .to_string(),
                issue_time: 0,
                expire_time: 0,
                last_renewal: None,
                renewable: false,
                engine_max_ttl: 0,
                internal: grant.internal.clone(),
                data: data_text.clone(),
                index_secs: 0,
                attempts: 0,
                revoke_error: String::new(),
                display_name: caller.display_name.clone(),
                token_hash: caller.token_hash.clone(),
            };
            if let Err(revoke_err) = app.lease_engines.revoke(&orphan).await {
                tracing::error!(mount = %handle.entry.path, error = %revoke_err, "revoking the unrecorded secret failed too");
            }
            ApiError::internal(format!(
                "failed to register the lease; the secret was revoked: {e}"
            ))
            .into()
        }
    }
}

/// The envelope of an engine-served response with `data` as the engine gave it.
pub(super) fn envelope(
    handle: &MountHandle,
    status: StatusCode,
    data: Option<Box<RawValue>>,
    lease_duration: u64,
    warnings: Vec<String>,
) -> LogicalResponse {
    LogicalResponse::Envelope {
        status,
        data: data.map(Body::Raw),
        lease_id: String::new(),
        renewable: false,
        lease_duration,
        warnings,
        auth: None,
        mount_type: handle.entry.kind.clone(),
        injected: false,
    }
}

/// Verifies engine output is a JSON object without building a tree of it. The one
/// validation the text gets: the result is passed to the client as it is.
fn checked_object(engine: &str, data: String) -> Result<Box<RawValue>, ApiError> {
    let bad = |reason: String| {
        ApiError::internal(
            EngineFault::BadOutput {
                engine: engine.to_string(),
                reason,
            }
            .to_string(),
        )
    };
    // Takes the string over instead of copying it (unless it has surrounding blanks).
    let raw = RawValue::from_string(data).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    if !raw.get().trim_start().starts_with('{') {
        return Err(bad("data is not a JSON object".into()));
    }
    Ok(raw)
}

fn list_is_empty(data: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Keys {
        #[serde(default)]
        keys: Option<Vec<serde::de::IgnoredAny>>,
    }
    serde_json::from_str::<Keys>(data)
        .ok()
        .and_then(|k| k.keys)
        .is_none_or(|k| k.is_empty())
}

/// `?help=1` (`coffer path-help`), answered from the engine's `info()` in Vault's shape
/// `{"help": text, "openapi": document, "see_also": null}` (also under `data`): the
/// description and every path pattern with its help, preceded, for a path inside the
/// mount, by the route it matches and that route's help.
fn help(handle: &MountHandle, rest: &str) -> LogicalResponse {
    let info = &handle.engine.info;
    let rest = rest.trim_matches('/');
    let matched = (!rest.is_empty())
        .then(|| {
            info.paths
                .iter()
                .find(|(pattern, _)| pattern_matches(pattern, rest))
        })
        .flatten();
    let mut text = match matched {
        Some((pattern, help)) => format!(
            "Request:        {rest}\nMatching Route: {}\n\n{}\n\n",
            pattern_regex(pattern),
            help.trim()
        ),
        None => String::new(),
    };
    text.push_str(&format!(
        "## DESCRIPTION\n\n{}\n\nEngine: {} {} (sha256 {})\n\n## PATHS\n\n\
         The following paths are supported by this backend. To view help for\n\
         any of the paths below, use the help command with any route matching\n\
         the path pattern. Note that depending on the policy of your auth token,\n\
         you may or may not be able to access certain paths.\n",
        info.description.trim(),
        info.name,
        info.version,
        handle.engine.sha256,
    ));
    for (pattern, help) in &info.paths {
        text.push_str(&format!(
            "\n    {}\n{}\n",
            pattern_regex(pattern),
            indent(help.trim(), 8)
        ));
    }
    let mut paths = serde_json::Map::new();
    for (pattern, help) in &info.paths {
        let params: Vec<serde_json::Value> = pattern
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|p| {
                serde_json::json!({
                    "name": p.trim_end_matches('+'),
                    "in": "path",
                    "required": true,
                    "schema": {"type": "string"},
                })
            })
            .collect();
        let mut item = serde_json::json!({ "description": help.trim() });
        if !params.is_empty() {
            item["parameters"] = serde_json::Value::Array(params);
        }
        paths.insert(
            format!("/{}{}", handle.entry.path, pattern.replace("+}", "}")),
            item,
        );
    }
    let openapi = serde_json::json!({
        "openapi": "3.0.2",
        "info": {
            "title": format!("{} ({})", info.name, handle.entry.path),
            "description": info.description,
            "version": info.version,
            "license": {"name": "Mozilla Public License 2.0", "url": "https://www.mozilla.org/en-US/MPL/2.0"},
        },
        "paths": paths,
        "components": {"schemas": {}},
    });
    // Vault answers help with the bare object; the envelope's `data` carries the same
    // for clients that look there.
    LogicalResponse::Envelope {
        status: StatusCode::OK,
        data: Some(Body::Json(serde_json::json!({
            "help": text,
            "openapi": openapi,
            "see_also": null,
        }))),
        lease_id: String::new(),
        renewable: false,
        lease_duration: 0,
        warnings: Vec::new(),
        auth: None,
        mount_type: handle.entry.kind.clone(),
        injected: true,
    }
}

/// Whether `path` matches an SDK router pattern: literal segments, `{name}` (one
/// segment) and a final `{name+}` (one or more segments).
fn pattern_matches(pattern: &str, path: &str) -> bool {
    let mut want = pattern.split('/').peekable();
    let mut got = path.split('/');
    while let Some(seg) = want.next() {
        if seg.starts_with('{') && seg.ends_with("+}") && want.peek().is_none() {
            return got.next().is_some_and(|s| !s.is_empty());
        }
        match got.next() {
            Some(g) if seg.starts_with('{') && seg.ends_with('}') => {
                if g.is_empty() {
                    return false;
                }
            }
            Some(g) if g == seg => {}
            _ => return false,
        }
    }
    got.next().is_none()
}

/// An SDK pattern in Vault's regular-expression form (`roles/{name}` →
/// `^roles/(?P<name>[^/]+)$`).
fn pattern_regex(pattern: &str) -> String {
    let segs: Vec<String> = pattern
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => match name.strip_suffix('+') {
                    Some(name) => format!("(?P<{name}>.+)"),
                    None => format!("(?P<{name}>[^/]+)"),
                },
                None => seg.to_string(),
            },
        )
        .collect();
    format!("^{}$", segs.join("/"))
}

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether the target of a write exists, for the ACL's create-versus-update decision
/// ([`crate::auth::authorize`]): the engine's `read` of the same path, with no
/// parameters. The answer is never shown to the caller.
///
/// * a successful read: `Some(true)`;
/// * `404` (the engine's not-found, with or without data): `Some(false)`;
/// * anything else (no mount, `405`, unsupported path, a failing engine): `None`, i.e.
///   the path has no existence check and the write counts as an update, as Vault does
///   for paths without one. This keeps policies such as Vault's documented
///   `path "secret/delete/*" { capabilities = ["update"] }` working, whose paths cannot
///   be read.
///
/// Only engines whose reads are free of side effects are asked: kv. Any other engine's
/// read may do something (an AWS `creds/` read creates an IAM user), and an
/// authorisation check must never do that, so for them every write is an update, as
/// for a Vault path without an existence check.
pub async fn exists(app: &App, req: &LogicalRequest, caller: &Caller) -> Option<bool> {
    let (handle, rest) = match app.mounts.route(&req.path) {
        crate::mounts::Routed::Mount(handle, rest) => (handle, rest.to_string()),
        _ => return None,
    };
    if !matches!(handle.entry.kind.as_str(), "kv" | "generic") {
        return None;
    }
    let request = wit::Request {
        operation: wit::Operation::Read,
        path: rest.clone(),
        data: "{}".to_string(),
        mount: wit_mount(&handle),
        caller: wit_caller(caller),
        request_id: req.id.clone(),
    };
    let ctx = call_context(&handle);
    let result = app
        .runtime
        .call(&handle.engine, ctx, move |e, store| {
            Box::pin(async move { e.coffer_engine_engine().call_read(store, &request).await })
        })
        .await;
    match result {
        Ok(Ok(_)) => Some(true),
        Ok(Err(EngineError::NotFound(_))) => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod help_tests {
    use super::{pattern_matches, pattern_regex};

    #[test]
    fn patterns_match_like_the_sdk_router() {
        assert!(pattern_matches("roles/{name}", "roles/web"));
        assert!(!pattern_matches("roles/{name}", "roles/web/x"));
        assert!(!pattern_matches("roles/{name}", "roles/"));
        assert!(pattern_matches("data/{path+}", "data/a/b/c"));
        assert!(!pattern_matches("data/{path+}", "data"));
        assert!(pattern_matches("config", "config"));
        assert!(!pattern_matches("config", "config/root"));
        assert_eq!(pattern_regex("creds/{name}"), "^creds/(?P<name>[^/]+)$");
        assert_eq!(pattern_regex("{path+}"), "^(?P<path>.+)$");
    }
}
