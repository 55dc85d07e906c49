//! The parts of `auth/token/` clients call to check themselves.

use serde_json::json;

use super::Caller;
use crate::api::{ApiError, LogicalRequest, LogicalResponse, Operation};

/// Serves `auth/token/...` for an authenticated caller.
pub fn handle(req: &LogicalRequest, caller: &Caller) -> LogicalResponse {
    let rest = req.path.strip_prefix("auth/token/").unwrap_or("");
    match (rest, req.operation) {
        ("lookup-self", Operation::Read | Operation::Update | Operation::Create) => {
            lookup_self(caller)
        }
        ("lookup-self", _) => ApiError::unsupported_operation().into(),
        _ => ApiError::unsupported_path().into(),
    }
}

fn lookup_self(caller: &Caller) -> LogicalResponse {
    let accessor = crate::runtime::sha256_hex(format!("accessor:{}", caller.token).as_bytes());
    LogicalResponse::data(
        json!({
            "accessor": &accessor[..24],
            "creation_time": caller.creation_time,
            "creation_ttl": 0,
            "display_name": caller.display_name,
            "entity_id": "",
            "expire_time": null,
            "explicit_max_ttl": 0,
            "id": caller.token,
            "meta": null,
            "num_uses": 0,
            "orphan": true,
            "path": "auth/token/root",
            "policies": caller.policies,
            "renewable": false,
            "ttl": 0,
            "type": "service",
        }),
        "token",
    )
}
