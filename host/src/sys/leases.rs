//! `sys/leases/*` and the legacy un-prefixed aliases (`sys/renew`, `sys/revoke`, ...).

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::api::{ApiError, LogicalRequest, LogicalResponse, Operation};
use crate::app::App;
use crate::leases::{LeaseEntry, LeaseError};
use crate::util::{duration, time::rfc3339_nanos};

/// Routes a lease endpoint; `rest` is the path after `sys/` with any `leases/` removed.
pub async fn handle(app: &App, req: &LogicalRequest, rest: &str) -> LogicalResponse {
    let (verb, tail) = match rest.split_once('/') {
        Some((v, t)) => (v, t),
        None => (rest, ""),
    };
    let write = matches!(req.operation, Operation::Update | Operation::Create);
    match verb {
        "lookup" if req.operation == Operation::List => list_lookup(app, tail),
        "lookup" if write => lookup(app, req),
        "renew" if write => renew(app, req, tail).await,
        "revoke" if write => revoke(app, req, tail).await,
        "revoke-prefix" if write => revoke_prefix(app, req, tail, false).await,
        "revoke-force" if write => revoke_prefix(app, req, tail, true).await,
        "count" if req.operation == Operation::Read => count(app, req),
        "" if req.operation == Operation::Read => irrevocable(app, req),
        "tidy" if write => LogicalResponse::Accepted,
        "lookup" | "renew" | "revoke" | "revoke-prefix" | "revoke-force" | "count" | "tidy" => {
            ApiError::unsupported_operation().into()
        }
        _ => ApiError::unsupported_path().into(),
    }
}

/// The endpoints whose target is a lease prefix.
const PREFIX_ENDPOINTS: &[&str] = &[
    "sys/leases/revoke-prefix",
    "sys/leases/revoke-force",
    "sys/revoke-prefix",
    "sys/revoke-force",
];

/// Moves a prefix revocation's `prefix` body parameter into the path, before the ACL
/// sees the request.
///
/// Vault addresses these endpoints by path (`sys/leases/revoke-prefix/<prefix>`) and
/// its ACL, `sudo` included, applies to that path. Coffer also takes the prefix from
/// the body; such a request is the same revocation, so it is rewritten to the path
/// form and authorised, audited and served exactly as that. (The lease-id endpoints,
/// `renew`/`revoke`/`lookup` with `lease_id` in the body, are Vault's own form and are
/// authorised on their bare path, as in Vault: `default` grants `sys/leases/renew`.)
pub fn prefix_into_path(req: &mut LogicalRequest) {
    if !matches!(req.operation, Operation::Update | Operation::Create)
        || !PREFIX_ENDPOINTS.contains(&req.path.as_str())
    {
        return;
    }
    let Some(prefix) = req.str_field("prefix") else {
        return;
    };
    // Spelled as the path form would be after HTTP decoding: no empty segments, the
    // trailing `/` kept (it is part of a prefix).
    let segments: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
    if segments.is_empty() {
        return;
    }
    let trailing = if prefix.ends_with('/') { "/" } else { "" };
    req.path = format!("{}/{}{trailing}", req.path, segments.join("/"));
    req.data.remove("prefix");
}

fn lease_error(e: LeaseError) -> LogicalResponse {
    match e {
        LeaseError::Storage(_) | LeaseError::Corrupt(..) => {
            tracing::error!(error = %e, "lease storage failure");
            ApiError::internal(e.to_string()).into()
        }
        other => ApiError::bad_request(other.to_string()).into(),
    }
}

fn lease_id(req: &LogicalRequest, tail: &str) -> Option<String> {
    req.str_field("lease_id")
        .filter(|s| !s.is_empty())
        .or_else(|| (!tail.is_empty()).then(|| tail.to_string()))
}

fn lookup(app: &App, req: &LogicalRequest) -> LogicalResponse {
    let Some(id) = req.str_field("lease_id").filter(|s| !s.is_empty()) else {
        return ApiError::bad_request("lease_id must be specified").into();
    };
    match app.leases.lookup(&id) {
        Ok(Some(entry)) => LogicalResponse::data(lookup_json(app, &entry), "system"),
        Ok(None) => ApiError::bad_request("invalid lease").into(),
        Err(e) => lease_error(e),
    }
}

fn lookup_json(app: &App, e: &LeaseEntry) -> Value {
    let now = app.leases_now();
    json!({
        "id": e.id,
        "issue_time": rfc3339_nanos(e.issue_time),
        "expire_time": rfc3339_nanos(e.expire_time),
        "last_renewal": e.last_renewal.map(rfc3339_nanos),
        "renewable": e.renewable && !e.is_irrevocable(),
        "ttl": e.expire_time.saturating_sub(now) / 1_000_000_000,
        "path": e.path,
        "revoke_error": e.revoke_error,
    })
}

fn list_lookup(app: &App, prefix: &str) -> LogicalResponse {
    match app.leases.list_level(prefix) {
        Ok(keys) if keys.is_empty() => ApiError::not_found().into(),
        Ok(keys) => LogicalResponse::data(json!({ "keys": keys }), "system"),
        Err(e) => lease_error(e),
    }
}

async fn renew(app: &App, req: &LogicalRequest, tail: &str) -> LogicalResponse {
    let Some(id) = lease_id(req, tail) else {
        return ApiError::bad_request("lease_id must be specified").into();
    };
    let increment = match req.field("increment") {
        None => 0,
        Some(v) => match duration::parse_value(v) {
            Ok(s) => s,
            Err(e) => return ApiError::bad_request(format!("invalid increment: {e}")).into(),
        },
    };
    match app.leases.renew(&id, increment).await {
        Ok((entry, timing)) => LogicalResponse::Envelope {
            status: StatusCode::OK,
            data: None,
            lease_id: entry.id,
            renewable: entry.renewable,
            lease_duration: timing.ttl,
            warnings: timing.warning.into_iter().collect(),
            auth: None,
            mount_type: "system".into(),
            injected: false,
        },
        Err(e) => lease_error(e),
    }
}

fn sync_flag(req: &LogicalRequest) -> bool {
    match req.field("sync") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => {
            !matches!(s.as_str(), "false" | "0" | "f" | "F" | "FALSE" | "False")
        }
        _ => true,
    }
}

async fn revoke(app: &App, req: &LogicalRequest, tail: &str) -> LogicalResponse {
    let Some(id) = lease_id(req, tail) else {
        return ApiError::bad_request("lease_id must be specified").into();
    };
    if !sync_flag(req) {
        return match app.leases.revoke_later(&id) {
            Ok(()) => LogicalResponse::Accepted,
            Err(e) => lease_error(e),
        };
    }
    match app.leases.revoke(&id).await {
        Ok(()) => LogicalResponse::NoContent,
        Err(e) => lease_error(e),
    }
}

/// `revoke-prefix/<prefix>`, `revoke-force/<prefix>`. The prefix comes from the path
/// only: a body `prefix` was moved there by [`prefix_into_path`] before authorisation.
async fn revoke_prefix(
    app: &App,
    req: &LogicalRequest,
    prefix: &str,
    force: bool,
) -> LogicalResponse {
    if prefix.is_empty() {
        return ApiError::bad_request("prefix must be specified").into();
    }
    if !force && !sync_flag(req) {
        return match app.leases.revoke_prefix_later(prefix) {
            Ok(()) => LogicalResponse::Accepted,
            Err(e) => lease_error(e),
        };
    }
    match app.leases.revoke_prefix(prefix, force).await {
        Ok(()) => LogicalResponse::NoContent,
        Err(e) => lease_error(e),
    }
}

fn wants_irrevocable(req: &LogicalRequest) -> Result<(), ApiError> {
    match req.str_field("type").as_deref() {
        Some("irrevocable") => Ok(()),
        _ => Err(ApiError::bad_request(
            "invalid or missing type parameter: only type=irrevocable is supported",
        )),
    }
}

fn count(app: &App, req: &LogicalRequest) -> LogicalResponse {
    if let Err(e) = wants_irrevocable(req) {
        return e.into();
    }
    match app.leases.irrevocable(usize::MAX) {
        Ok(list) => {
            let mut counts = serde_json::Map::new();
            for e in &list {
                let n = counts
                    .get(&e.mount_path)
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                counts.insert(e.mount_path.clone(), json!(n + 1));
            }
            LogicalResponse::data(
                json!({ "lease_count": list.len(), "counts": counts }),
                "system",
            )
        }
        Err(e) => lease_error(e),
    }
}

fn irrevocable(app: &App, req: &LogicalRequest) -> LogicalResponse {
    if let Err(e) = wants_irrevocable(req) {
        return e.into();
    }
    let limit = match req.str_field("limit").as_deref() {
        Some("none") => usize::MAX,
        Some(n) => n.parse().unwrap_or(10_000),
        None => 10_000,
    };
    match app.leases.irrevocable(limit) {
        Ok(list) => {
            let leases: Vec<Value> = list
                .iter()
                .map(|e| {
                    json!({
                        "lease_id": e.id,
                        "mount_id": e.mount_uuid,
                        "mount_path": e.mount_path,
                        "expire_time": rfc3339_nanos(e.expire_time),
                        "error": e.revoke_error,
                    })
                })
                .collect();
            LogicalResponse::data(
                json!({ "lease_count": leases.len(), "leases": leases }),
                "system",
            )
        }
        Err(e) => lease_error(e),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;

    fn req(op: Operation, path: &str, body: Value) -> LogicalRequest {
        let data: Map<String, Value> = match body {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        LogicalRequest {
            id: "id".into(),
            operation: op,
            path: path.into(),
            data,
            token: None,
            help: false,
            remote_address: None,
            bench_native: false,
        }
    }

    fn rewritten(op: Operation, path: &str, body: Value) -> (String, bool) {
        let mut r = req(op, path, body);
        prefix_into_path(&mut r);
        let still_in_body = r.data.contains_key("prefix");
        (r.path, still_in_body)
    }

    #[test]
    fn a_body_prefix_becomes_the_path_the_acl_checks() {
        for base in PREFIX_ENDPOINTS {
            let (path, in_body) = rewritten(
                Operation::Update,
                base,
                json!({"prefix": "evil/", "sync": true}),
            );
            assert_eq!(path, format!("{base}/evil/"));
            assert!(!in_body);
            assert!(
                crate::auth::policy::requires_sudo(&path),
                "{path} must need sudo"
            );
        }
        // Spelled as the path form would be.
        assert_eq!(
            rewritten(
                Operation::Update,
                "sys/leases/revoke-prefix",
                json!({"prefix": "//aws//creds"})
            )
            .0,
            "sys/leases/revoke-prefix/aws/creds"
        );
    }

    #[test]
    fn other_requests_are_left_alone() {
        // A prefix in the path wins; the body is not consulted.
        assert_eq!(
            rewritten(
                Operation::Update,
                "sys/leases/revoke-prefix/aws/",
                json!({"prefix": "evil/"})
            ),
            ("sys/leases/revoke-prefix/aws/".to_string(), true)
        );
        // Nothing usable: the handler answers 400.
        for body in [json!({}), json!({"prefix": ""}), json!({"prefix": "/"})] {
            assert_eq!(
                rewritten(Operation::Update, "sys/revoke-force", body).0,
                "sys/revoke-force"
            );
        }
        // Not a write, or not a prefix endpoint.
        assert_eq!(
            rewritten(
                Operation::Read,
                "sys/leases/revoke-prefix",
                json!({"prefix": "a/"})
            )
            .0,
            "sys/leases/revoke-prefix"
        );
        assert_eq!(
            rewritten(
                Operation::Update,
                "sys/leases/revoke",
                json!({"prefix": "a/"})
            )
            .0,
            "sys/leases/revoke"
        );
    }
}
