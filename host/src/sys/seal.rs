//! `sys/seal`, `sys/rotate`, `sys/key-status`: the authenticated seal operations
//! (all `sudo` paths in Vault's default ACL rules).

use axum::http::StatusCode;
use serde_json::json;

use crate::api::{ApiError, LogicalRequest, LogicalResponse, Operation};
use crate::app::App;

/// Serves `sys/seal`, `sys/rotate` and `sys/key-status`; `None` for other paths.
pub async fn handle(app: &App, req: &LogicalRequest) -> Option<LogicalResponse> {
    let path = req.path.trim_end_matches('/');
    let write = matches!(req.operation, Operation::Update | Operation::Create);
    let read = req.operation == Operation::Read;
    let result = match path {
        "sys/seal" if write => seal(app).await,
        "sys/rotate" if write => rotate(app),
        "sys/key-status" if read => key_status(app),
        "sys/seal" | "sys/rotate" | "sys/key-status" => Err(ApiError::unsupported_operation()),
        _ => return None,
    };
    Some(result.unwrap_or_else(LogicalResponse::from))
}

fn core(app: &App) -> Result<std::sync::Arc<crate::lifecycle::Core>, ApiError> {
    app.core
        .upgrade()
        .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Vault is sealed"))
}

async fn seal(app: &App) -> Result<LogicalResponse, ApiError> {
    core(app)?.seal().await;
    Ok(LogicalResponse::NoContent)
}

fn rotate(app: &App) -> Result<LogicalResponse, ApiError> {
    let term = core(app)?
        .barrier()
        .rotate()
        .map_err(|e| ApiError::internal(format!("failed to rotate the encryption key: {e}")))?;
    tracing::info!(term, "barrier key rotated");
    Ok(LogicalResponse::NoContent)
}

fn key_status(app: &App) -> Result<LogicalResponse, ApiError> {
    let status = core(app)?
        .barrier()
        .key_status()
        .map_err(|e| ApiError::internal(format!("failed to read the key status: {e}")))?;
    Ok(LogicalResponse::injected(json!({
        "term": status.term,
        "install_time": crate::util::time::rfc3339_nanos(status.installed_at.saturating_mul(1_000_000_000)),
    })))
}
