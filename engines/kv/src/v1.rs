//! kv v1: unversioned secrets at arbitrary paths (vault-spec §7.1).

use coffer_sdk::{Error, Request, Response, Result, Router, storage};
use serde_json::{Map, Value};

use crate::layout;

/// The v1 routes: every path is a secret, every folder a list.
pub fn router() -> Router {
    let mut router = Router::new();
    router
        .path("{path*}")
        .read(read)
        .write(write)
        .delete(delete)
        .list(list);
    router
}

fn path(req: &Request) -> &str {
    req.param("path").unwrap_or_default()
}

fn read(req: &Request) -> Result<Response> {
    let path = path(req);
    if path.is_empty() {
        return Err(Error::not_found());
    }
    let secret: Map<String, Value> =
        storage::get_json(&layout::v1_secret(path))?.ok_or_else(Error::not_found)?;
    let refresh = refresh_interval(&secret);
    Ok(Response::object(secret).refresh_interval(refresh))
}

/// The `lease_duration` Vault reports for a v1 secret: its `ttl` (or, without one, its
/// `lease`) field as a duration, else 0, which the host turns into the mount's default
/// TTL. An unparsable value also falls back to the default, as in Vault.
fn refresh_interval(secret: &Map<String, Value>) -> u64 {
    let Some(value) = secret.get("ttl").or_else(|| secret.get("lease")) else {
        return 0;
    };
    coffer_sdk::duration::parse_duration_value(value)
        .ok()
        .and_then(|secs| u64::try_from(secs).ok())
        .unwrap_or(0)
}

fn write(req: &Request) -> Result<Response> {
    let path = path(req);
    if path.is_empty() {
        return Err(Error::invalid("missing path"));
    }
    if req.data().is_empty() {
        return Err(Error::invalid("missing data fields"));
    }
    // Stored verbatim, nulls included: a v1 secret is whatever object the client sent.
    storage::put_json(&layout::v1_secret(path), req.data())?;
    Ok(Response::empty())
}

fn delete(req: &Request) -> Result<Response> {
    let path = path(req);
    if !path.is_empty() {
        storage::delete(&layout::v1_secret(path))?;
    }
    Ok(Response::empty())
}

fn list(req: &Request) -> Result<Response> {
    let keys = storage::list(&layout::v1_folder(path(req)))?;
    Ok(Response::keys(keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refresh_interval_follows_ttl_then_lease() {
        let obj = |v: Value| coffer_sdk::testing::object(v);
        assert_eq!(refresh_interval(&obj(json!({"a": 1}))), 0);
        assert_eq!(refresh_interval(&obj(json!({"ttl": "1h"}))), 3600);
        assert_eq!(refresh_interval(&obj(json!({"ttl": 30}))), 30);
        assert_eq!(refresh_interval(&obj(json!({"lease": "2m"}))), 120);
        assert_eq!(
            refresh_interval(&obj(json!({"ttl": "5s", "lease": "2m"}))),
            5
        );
        // A ttl that does not parse wins over lease and falls back to the default.
        assert_eq!(
            refresh_interval(&obj(json!({"ttl": "soon", "lease": "2m"}))),
            0
        );
        assert_eq!(refresh_interval(&obj(json!({"ttl": "-5s"}))), 0);
    }
}
