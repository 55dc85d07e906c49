//! Whether a caller may make a request: its policies' ACL, plus `sudo` on sudo paths.
//! (Skeleton; filled in by the policy work.)

use crate::api::{ApiError, LogicalRequest};
use crate::app::App;

use super::Caller;

/// `Ok` when `caller`'s policies allow `req`, else `403 permission denied`.
pub fn authorize(app: &App, caller: &Caller, req: &LogicalRequest) -> Result<(), ApiError> {
    let _acl = app.policies.acl_for(&caller.policies)?;
    let _ = req;
    Ok(())
}
