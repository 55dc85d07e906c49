//! Audit devices: every request and response written to each enabled device before the
//! client sees the response. (Skeleton; filled in by the audit work.)

use crate::api::{ApiError, LogicalRequest, LogicalResponse};
use crate::auth::Caller;
use crate::storage::SharedBackend;

/// The enabled audit devices.
pub struct AuditBroker {
    #[allow(dead_code)]
    backend: SharedBackend,
}

impl AuditBroker {
    /// Loads the enabled devices from (barrier-encrypted) storage.
    pub fn open(backend: SharedBackend) -> Result<Self, crate::storage::StorageError> {
        Ok(Self { backend })
    }

    /// Writes the request entry; an error means no enabled device could write it and the
    /// request must fail.
    pub fn log_request(
        &self,
        _req: &LogicalRequest,
        _caller: Option<&Caller>,
        _auth_error: Option<&ApiError>,
    ) -> Result<(), ApiError> {
        Ok(())
    }

    /// Writes the response entry before the response is sent.
    pub fn log_response(
        &self,
        _req: &LogicalRequest,
        _caller: Option<&Caller>,
        _resp: &LogicalResponse,
    ) -> Result<(), ApiError> {
        Ok(())
    }
}
