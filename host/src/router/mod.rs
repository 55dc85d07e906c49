//! Dispatch of an authenticated request: `sys/`, `auth/token/`, or a mounted engine.

mod engine;
mod lease_bridge;
mod native_kv;
mod periodic;

pub use engine::exists;
pub use lease_bridge::EngineBridge;
pub use native_kv::{render_current as native_kv_render, served as native_kv_served};
pub use periodic::spawn_periodic;

use crate::api::{ApiError, LogicalRequest, LogicalResponse};
use std::sync::Arc;

use axum::http::StatusCode;

use crate::app::App;
use crate::auth::Caller;
use crate::lifecycle::Core;
use crate::mounts::Routed;
use crate::sys;

/// Handles one request below HTTP: the status endpoints that work while sealed, else
/// `503` while sealed, else [`dispatch`] on the unsealed server, within the request
/// deadline.
pub async fn handle(core: &Arc<Core>, req: LogicalRequest) -> LogicalResponse {
    if sys::status::is_unauthenticated(&req.path) {
        return sys::status::handle(core, &req).await;
    }
    let Some(app) = core.app() else {
        return sealed();
    };
    // The request runs in its own task so that the deadline only stops the client
    // waiting: an engine call that already created an IAM user still gets its lease
    // recorded (or the user revoked) instead of being dropped half-way.
    let work = tokio::spawn(async move { dispatch(&app, req).await });
    let deadline = core.settings().flags.max_request_duration;
    let resp = match tokio::time::timeout(deadline, work).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(join)) => ApiError::internal(format!("request handler failed: {join}")).into(),
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "request exceeded the server's max_request_duration ({}s); it may still complete",
                deadline.as_secs_f64()
            ),
        )
        .into(),
    };
    // A request caught by `sys/seal` fails on storage; say why.
    match &resp {
        LogicalResponse::Error(e) if e.status.is_server_error() && core.is_sealed() => sealed(),
        _ => resp,
    }
}

fn sealed() -> LogicalResponse {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Vault is sealed").into()
}

/// Handles one request on the unsealed server: token, audit, ACL, route.
pub async fn dispatch(app: &App, mut req: LogicalRequest) -> LogicalResponse {
    // Before audit and ACL, so both see the path the handler will act on.
    sys::address_by_path(&mut req);
    let caller = match app
        .tokens
        .authenticate(req.token.as_deref().map(String::as_str))
    {
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
    // Disabling an audit device stays possible (for a caller the ACL allows) when no
    // device can write: the one way out of a broken device.
    let mut unaudited = false;
    if let Err(audit_failed) = app.audit.log_request(&req, Some(&caller), None) {
        if !crate::audit::may_bypass_audit_failure(&req) {
            return audit_failed.into();
        }
        unaudited = true;
    }
    let resp = match crate::auth::authorize(app, &caller, &req).await {
        Ok(()) => route(app, &req, &caller).await,
        Err(denied) => denied.into(),
    };
    let logged = app.audit.log_response(&req, Some(&caller), &resp);
    if unaudited {
        tracing::warn!(path = %req.path, display_name = %caller.display_name,
            "no audit device could record this audit-device disable request; served unaudited");
        return resp;
    }
    match logged {
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
        return crate::auth::handle_token_api(app, req, caller);
    }
    match app.mounts.route_ready(&req.path).await {
        Routed::Mount(handle, rest) => {
            // The benchmark's ceiling (`-bench-native-kv` + header only): the same read
            // answered natively, past the same token, audit and ACL steps.
            if req.bench_native
                && let Some(resp) = native_kv::read(app, &handle, req, rest)
            {
                return resp;
            }
            let rest = rest.to_string();
            engine::call(app, &handle, req, &rest, caller).await
        }
        Routed::Broken(path, cause) => ApiError::internal(format!(
            "the engine mounted at {path} is not available: {cause}"
        ))
        .into(),
        Routed::None => ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no handler for route {:?}. route entry not found.",
                req.path
            ),
        )
        .into(),
    }
}
