//! `sys/policy`, `sys/policies/acl`, `sys/capabilities*`. (Skeleton.)

use crate::api::{ApiError, LogicalRequest, LogicalResponse};
use crate::app::App;
use crate::auth::Caller;

/// Serves the policy and capabilities endpoints.
pub async fn handle(_app: &App, _req: &LogicalRequest, _caller: &Caller) -> LogicalResponse {
    ApiError::unsupported_path().into()
}
