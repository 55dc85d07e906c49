//! A response before HTTP encoding.

use axum::http::StatusCode;
use serde_json::Value;

use super::ApiError;

/// Response `data`: parsed JSON (host handlers) or JSON text passed through from an
/// engine without re-parsing.
#[derive(Debug, Clone)]
pub enum Body {
    /// A JSON value built by the host.
    Json(Value),
    /// A JSON object as text, already validated.
    Raw(String),
}

/// What a handler answers.
#[derive(Debug)]
pub enum LogicalResponse {
    /// Vault's envelope.
    Envelope {
        /// Status (200 unless an engine asked for 404 with data).
        status: StatusCode,
        /// The `data` field.
        data: Option<Body>,
        /// `lease_id` ("" when none).
        lease_id: String,
        /// `renewable`.
        renewable: bool,
        /// `lease_duration` in seconds.
        lease_duration: u64,
        /// `warnings` (null when empty).
        warnings: Vec<String>,
        /// `auth` block.
        auth: Option<Value>,
        /// `mount_type`.
        mount_type: String,
        /// Copy `data`'s keys to the top level too (Vault's "injected" sys routes).
        injected: bool,
    },
    /// A bare JSON object (sys/health, sys/seal-status...).
    Raw {
        /// Status.
        status: StatusCode,
        /// Body.
        body: Value,
    },
    /// `204 No Content`.
    NoContent,
    /// `202 Accepted`.
    Accepted,
    /// An error.
    Error(ApiError),
}

impl LogicalResponse {
    /// A 200 envelope with host-built data.
    pub fn data(data: Value, mount_type: &str) -> Self {
        Self::host_envelope(data, mount_type, false)
    }

    /// A 200 envelope whose data keys are also copied to the top level.
    pub fn injected(data: Value) -> Self {
        Self::host_envelope(data, "system", true)
    }

    fn host_envelope(data: Value, mount_type: &str, injected: bool) -> Self {
        Self::Envelope {
            status: StatusCode::OK,
            data: Some(Body::Json(data)),
            lease_id: String::new(),
            renewable: false,
            lease_duration: 0,
            warnings: Vec::new(),
            auth: None,
            mount_type: mount_type.to_string(),
            injected,
        }
    }
}

impl From<ApiError> for LogicalResponse {
    fn from(e: ApiError) -> Self {
        Self::Error(e)
    }
}
