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
use crate::runtime::imports::log::{admit as admit_log_line, truncate};
use crate::runtime::{CallContext, EngineFault, PendingWrites};

/// Longest error text from an engine passed on to the client or the log, in bytes;
/// longer text is cut and marked. An error is a sentence, not a payload.
pub const MAX_ERROR_BYTES: usize = 4096;
/// Deepest nesting of arrays and objects accepted in engine output. serde_json's own
/// recursion limit: deeper documents are refused by serde_json-based clients, and
/// recursive parsers elsewhere can be exhausted by them.
pub const MAX_JSON_DEPTH: usize = 128;

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
        .call_holding_writes(&handle.engine, ctx, move |e, store| {
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
    let (result, writes) = match result {
        Err(fault) => return fault_response(&handle.entry.path, fault),
        Ok(done) => done,
    };
    // A lease's writes wait for the lease record (see `leased`); any other answer's
    // are committed now, before the client sees it.
    let held = match &result {
        Ok(resp) if resp.lease.is_some() && resp.data.is_some() => Some(writes),
        _ => {
            if let Err(fault) = writes.commit().await {
                return fault_response(&handle.entry.path, fault);
            }
            None
        }
    };
    match result {
        Err(err) => engine_error(handle, req, err),
        Ok(resp) => success(app, handle, req, caller, resp, held).await,
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
    // The fault text can carry engine-chosen text (a trap message): cut it like an
    // engine error, and log it under the mount's rate limit.
    let text = fault.to_string();
    let text = truncate(&text, MAX_ERROR_BYTES);
    if admit_log_line(mount) {
        tracing::error!(mount, error = %text, "engine call failed");
    }
    // A call the host turned away for want of capacity may succeed later: 503.
    let status = if fault.is_capacity() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    ApiError::new(status, format!("{text} (mount {mount})")).into()
}

/// An engine's error message as the client and the log see it: at most
/// [`MAX_ERROR_BYTES`], marked when cut.
fn error_text(m: &str) -> String {
    truncate(m, MAX_ERROR_BYTES).into_owned()
}

fn engine_error(handle: &MountHandle, req: &LogicalRequest, err: EngineError) -> LogicalResponse {
    match err {
        EngineError::InvalidRequest(m) => ApiError::bad_request(error_text(&m)).into(),
        EngineError::NotFound(None) => ApiError::not_found().into(),
        EngineError::NotFound(Some(data)) => {
            let limit = handle.engine.limits.max_response_bytes;
            if data.len() > limit {
                return fault_response(
                    &handle.entry.path,
                    EngineFault::ResponseTooLarge {
                        engine: handle.engine.name.to_string(),
                        size: data.len(),
                        limit,
                    },
                );
            }
            match checked_object(&handle.engine.name, data) {
                Ok(raw) => envelope(handle, StatusCode::NOT_FOUND, Some(raw), 0, Vec::new()),
                Err(e) => e.into(),
            }
        }
        EngineError::UnsupportedPath => ApiError::unsupported_path().into(),
        EngineError::UnsupportedOperation => ApiError::unsupported_operation().into(),
        EngineError::PermissionDenied(m) => {
            ApiError::new(StatusCode::FORBIDDEN, error_text(&m)).into()
        }
        EngineError::UpstreamRateLimited(m) => {
            ApiError::new(StatusCode::BAD_GATEWAY, error_text(&m)).into()
        }
        EngineError::Internal(m) => {
            let m = error_text(&m);
            if admit_log_line(&handle.entry.path) {
                tracing::warn!(mount = %handle.entry.path, path = %req.path, error = %m, "engine returned an internal error");
            }
            ApiError::internal(m).into()
        }
    }
}

/// `held`: the call's writes, still uncommitted when the answer carries a lease.
async fn success(
    app: &App,
    handle: &MountHandle,
    req: &LogicalRequest,
    caller: &Caller,
    resp: wit::Response,
    held: Option<PendingWrites>,
) -> LogicalResponse {
    let limit = handle.engine.limits.max_response_bytes;
    // Everything the engine hands over counts: the lease's private data is stored with
    // the lease, and each warning costs its framing even when empty.
    let size = resp.data.as_ref().map_or(0, String::len)
        + resp.warnings.iter().map(|w| w.len() + 4).sum::<usize>()
        + resp.lease.as_ref().map_or(0, |l| l.internal.len());
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
    // A warning is a sentence like an error message, and cut the same way.
    let mut warnings: Vec<String> = resp
        .warnings
        .into_iter()
        .map(|w| {
            if w.len() > MAX_ERROR_BYTES {
                error_text(&w)
            } else {
                w
            }
        })
        .collect();
    if req.operation == Operation::List {
        let has_keys = data.as_ref().is_some_and(|d| !list_is_empty(d.get()));
        if !has_keys && warnings.is_empty() {
            return ApiError::not_found().into();
        }
    }
    if data.is_none() && warnings.is_empty() {
        return LogicalResponse::NoContent;
    }
    if let Some(grant) = resp.lease {
        return leased(app, handle, req, caller, grant, data, warnings, held).await;
    }
    // Vault caps every secret's TTL at the mount's max TTL, leased or not; an engine
    // cannot hand clients a refresh interval beyond it.
    let max_ttl = handle.entry.max_ttl();
    let lease_duration = match resp.refresh_interval {
        Some(0) => handle.entry.default_ttl(),
        Some(n) if n > max_ttl => {
            warnings.push(format!(
                "TTL of {n}s exceeded the effective max_ttl of {max_ttl}s; TTL value is capped accordingly"
            ));
            max_ttl
        }
        Some(n) => n,
        None => 0,
    };
    envelope(handle, StatusCode::OK, data, lease_duration, warnings)
}

/// Records the lease before the client sees the secret; if that fails, the secret is
/// revoked at once so nothing is left that no lease will ever clean up.
///
/// The engine call's writes (`held`) are committed in the same atomic batch as the
/// lease record. Invariant, for an engine whose secret has an outside effect (the aws
/// engine's IAM user): at every instant the user is covered by a durable write-ahead
/// entry or by a durable lease. The entry is durable before `CreateUser` (pending
/// writes are committed before every AWS call); its deletion is one of the call's last
/// writes, held until here, so it becomes durable only together with the lease. A
/// crash before this batch leaves the entry (the engine's rollback deletes the user);
/// after it, the lease (revocation deletes the user). If the batch fails, neither is
/// applied, and the secret is revoked at once; should that fail too, the entry remains.
/// Answers whose validation fails before this point drop the held writes the same way.
#[allow(clippy::too_many_arguments)]
async fn leased(
    app: &App,
    handle: &MountHandle,
    req: &LogicalRequest,
    caller: &Caller,
    grant: wit::LeaseGrant,
    data: Option<Box<RawValue>>,
    mut warnings: Vec<String>,
    held: Option<PendingWrites>,
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
    let with = match held {
        Some(writes) if !writes.is_empty() => {
            if !writes.storage().is_over(&app.backend) {
                // Not one store (never so in a server): commit first, the old way.
                if let Err(fault) = writes.commit().await {
                    return fault_response(&handle.entry.path, fault);
                }
                Vec::new()
            } else {
                match writes.absolute_ops() {
                    Ok(ops) => ops,
                    Err(e) => {
                        return fault_response(
                            &handle.entry.path,
                            writes.commit_fault(e.to_string()),
                        );
                    }
                }
            }
        }
        _ => Vec::new(),
    };
    match app.leases.register_with(new, with) {
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
    // RawValue skips over nested values without a depth limit, so the depth is checked
    // here, before any client (or recursive parser) sees the text.
    if let Some(depth) = nesting_exceeds(raw.get(), MAX_JSON_DEPTH) {
        return Err(bad(format!(
            "JSON nested more than {MAX_JSON_DEPTH} levels deep (at least {depth})"
        )));
    }
    Ok(raw)
}

/// The depth reached, if the arrays and objects of the (valid) JSON `text` nest deeper
/// than `max`. One pass, no recursion: brackets inside strings are skipped.
fn nesting_exceeds(text: &str, max: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return Some(depth);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
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
/// * `404` carrying data (`not-found(some(..))`): `Some(true)`. The engine says the
///   path holds a record it will not show as data, such as kv v2's deleted or
///   destroyed version, whose metadata is the payload. A new version written there is
///   an update of that secret (Vault's kv v2 existence check is "metadata exists"), so
///   a create-only policy must not reach it;
/// * a bare `404` (`not-found(none)`): `Some(false)`;
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
        Ok(Ok(_)) | Ok(Err(EngineError::NotFound(Some(_)))) => Some(true),
        Ok(Err(EngineError::NotFound(None))) => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod validation_tests {
    use super::{MAX_JSON_DEPTH, checked_object, nesting_exceeds};

    #[test]
    fn nesting_is_measured_outside_strings_only() {
        assert_eq!(nesting_exceeds(r#"{"a":[1,{"b":2}]}"#, 3), None);
        assert_eq!(nesting_exceeds(r#"{"a":[1,{"b":2}]}"#, 2), Some(3));
        assert_eq!(nesting_exceeds(r#"{"a":"[[[[[[\"[[[["}"#, 1), None);
        let at_limit = format!(
            "{}{}",
            "{\"a\":".repeat(MAX_JSON_DEPTH),
            "1".to_string() + &"}".repeat(MAX_JSON_DEPTH)
        );
        assert!(checked_object("e", at_limit).is_ok());
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let Err(e) = checked_object("e", deep) else {
            panic!("100,000-deep JSON accepted");
        };
        assert!(format!("{e:?}").contains("nested more than 128"), "{e:?}");
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
