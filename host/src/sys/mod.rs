//! The `sys/` backend: server status and mount management.

mod health;
mod leases;
mod mounts;

use crate::api::{ApiError, LogicalRequest, LogicalResponse};
use crate::app::App;
use crate::auth::Caller;

/// Unauthenticated sys paths.
pub fn handle_unauthenticated(app: &App, req: &LogicalRequest) -> LogicalResponse {
    health::handle(app, req)
}

/// Authenticated sys paths.
pub async fn handle(app: &App, req: &LogicalRequest, caller: &Caller) -> LogicalResponse {
    let path = req.path.as_str();
    if path == "sys/mounts" || path == "sys/mounts/" || path.starts_with("sys/mounts/") {
        return mounts::handle(app, req).await;
    }
    if let Some(rest) = lease_path(path) {
        return leases::handle(app, req, rest).await;
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
