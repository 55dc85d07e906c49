//! Dispatch of an authenticated request: `sys/`, `auth/token/`, or a mounted engine.

mod engine;
mod lease_bridge;
mod periodic;

pub use lease_bridge::EngineBridge;
pub use periodic::spawn_periodic;

use crate::api::{ApiError, LogicalRequest, LogicalResponse};
use crate::app::App;
use crate::auth::Caller;
use crate::mounts::Routed;
use crate::sys;

/// sys paths answered without a token (Vault's unauthenticated paths).
fn is_unauthenticated(path: &str) -> bool {
    matches!(
        path.trim_end_matches('/'),
        "sys/health" | "sys/seal-status" | "sys/init" | "sys/leader"
    )
}

/// Handles one request end to end below HTTP.
pub async fn dispatch(app: &App, req: LogicalRequest) -> LogicalResponse {
    if is_unauthenticated(&req.path) {
        return sys::handle_unauthenticated(app, &req);
    }
    let caller = match app.tokens.authenticate(req.token.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            if let Err(audit_failed) = app.audit.log_request(&req, None, Some(&e)) {
                return audit_failed.into();
            }
            let resp = LogicalResponse::from(e);
            return match app.audit.log_response(&req, None, &resp) {
                Ok(()) => resp,
                Err(audit_failed) => audit_failed.into(),
            };
        }
    };
    if let Err(audit_failed) = app.audit.log_request(&req, Some(&caller), None) {
        return audit_failed.into();
    }
    let resp = match crate::auth::authorize(app, &caller, &req) {
        Ok(()) => route(app, &req, &caller).await,
        Err(denied) => denied.into(),
    };
    match app.audit.log_response(&req, Some(&caller), &resp) {
        Ok(()) => resp,
        Err(audit_failed) => audit_failed.into(),
    }
}

/// Hands an authenticated, authorised request to `sys/`, the token store or a mount.
async fn route(app: &App, req: &LogicalRequest, caller: &Caller) -> LogicalResponse {
    if req.path == "sys" || req.path.starts_with("sys/") {
        return sys::handle(app, req, caller).await;
    }
    if req.path.starts_with("auth/token/") {
        return crate::auth::handle_token_api(req, caller);
    }
    match app.mounts.route(&req.path) {
        Routed::Mount(handle, rest) => {
            let rest = rest.to_string();
            engine::call(app, &handle, req, &rest, caller).await
        }
        Routed::Broken(path, cause) => ApiError::internal(format!(
            "the engine mounted at {path} is not available: {cause}"
        ))
        .into(),
        Routed::None => ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!(
                "no handler for route {:?}. route entry not found.",
                req.path
            ),
        )
        .into(),
    }
}
