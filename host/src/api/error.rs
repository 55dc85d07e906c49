//! Errors as clients see them: a status and Vault's `{"errors":[...]}`.

use axum::http::StatusCode;

/// An error answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status}: {}", errors.join("; "))]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Messages; empty for Vault's bare 404 and 405.
    pub errors: Vec<String>,
}

impl ApiError {
    /// An error with one message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            errors: vec![message.into()],
        }
    }

    /// `400` with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// `403 permission denied`.
    pub fn permission_denied() -> Self {
        Self::new(StatusCode::FORBIDDEN, "permission denied")
    }

    /// `404` with an empty error list ("no value").
    pub fn not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            errors: Vec::new(),
        }
    }

    /// `404 unsupported path`.
    pub fn unsupported_path() -> Self {
        Self::new(StatusCode::NOT_FOUND, "unsupported path")
    }

    /// `405 unsupported operation`.
    pub fn unsupported_operation() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "unsupported operation")
    }

    /// `500` with a message.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}
