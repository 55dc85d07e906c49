//! `sys/audit`, `sys/audit-hash`. (Skeleton.)

use crate::api::{ApiError, LogicalRequest, LogicalResponse};
use crate::app::App;
use crate::auth::Caller;

/// Serves the audit device endpoints.
pub async fn handle(_app: &App, _req: &LogicalRequest, _caller: &Caller) -> LogicalResponse {
    ApiError::unsupported_path().into()
}
