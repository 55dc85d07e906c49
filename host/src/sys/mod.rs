//! The `sys/` backend: server status and mount management.

mod audit;
mod leases;
mod mounts;
mod plugins;
mod policy;
mod seal;
pub mod status;

use crate::api::{ApiError, LogicalRequest, LogicalResponse};
use crate::app::App;
use crate::auth::Caller;

/// Puts a sys request into the form it is authorised and served in: a target given in
/// the body of an endpoint that Vault addresses by path is moved into the path
/// ([`leases::prefix_into_path`]). Called once per request, before the ACL check.
pub fn address_by_path(req: &mut LogicalRequest) {
    leases::prefix_into_path(req);
}

/// Authenticated sys paths.
pub async fn handle(app: &App, req: &LogicalRequest, caller: &Caller) -> LogicalResponse {
    let path = req.path.as_str();
    if let Some(resp) = seal::handle(app, req).await {
        return resp;
    }
    if path == "sys/mounts" || path == "sys/mounts/" || path.starts_with("sys/mounts/") {
        return mounts::handle(app, req).await;
    }
    if is_under(path, "sys/plugins") {
        return plugins::handle(app, req).await;
    }
    if let Some(rest) = lease_path(path) {
        return leases::handle(app, req, rest).await;
    }
    if is_under(path, "sys/policy")
        || is_under(path, "sys/policies/acl")
        || is_under(path, "sys/capabilities")
        || is_under(path, "sys/capabilities-self")
        || is_under(path, "sys/capabilities-accessor")
    {
        return policy::handle(app, req, caller).await;
    }
    if is_under(path, "sys/audit") || is_under(path, "sys/audit-hash") {
        return audit::handle(app, req, caller).await;
    }
    if let Some(rest) = path.strip_prefix("sys/internal/ui/mounts") {
        return mounts::ui_mount(app, req, rest.trim_start_matches('/'), caller);
    }
    ApiError::unsupported_path().into()
}

/// The part of a lease endpoint's path after `sys/leases/` (or the legacy `sys/`).
fn lease_path(path: &str) -> Option<&str> {
    if path == "sys/leases" || path == "sys/leases/" {
        return Some("");
    }
    if let Some(rest) = path.strip_prefix("sys/leases/") {
        return Some(rest);
    }
    let rest = path.strip_prefix("sys/")?;
    let verb = rest.split('/').next().unwrap_or("");
    matches!(verb, "renew" | "revoke" | "revoke-prefix" | "revoke-force").then_some(rest)
}

/// `path` is `base`, `base/` or below it.
fn is_under(path: &str, base: &str) -> bool {
    path.strip_prefix(base)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}
