//! A response before HTTP encoding.

use axum::http::StatusCode;
use serde_json::Value;
use serde_json::value::RawValue;

use super::ApiError;

/// Response `data`: parsed JSON (host handlers) or JSON text passed through from an
/// engine without re-parsing.
#[derive(Debug, Clone)]
pub enum Body {
    /// A JSON value built by the host.
    Json(Value),
    /// A JSON object as text. Validated once, where it is built (engine output at the
    /// engine boundary), so encoding copies it into the envelope without parsing again.
    Raw(Box<RawValue>),
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

    /// A 200 envelope with no data, only `warnings`: a write that worked, with caveats.
    pub fn warnings_only(warnings: Vec<String>, mount_type: &str) -> Self {
        Self::host_envelope(Value::Null, mount_type, false)
            .without_data()
            .with_warnings(warnings)
    }

    /// The same envelope with `warnings` (other responses are returned unchanged).
    pub fn with_warnings(mut self, new: Vec<String>) -> Self {
        if let Self::Envelope { warnings, .. } = &mut self {
            *warnings = new;
        }
        self
    }

    /// The same envelope with an `auth` block (other responses are returned unchanged).
    pub fn with_auth(mut self, block: Value) -> Self {
        if let Self::Envelope { auth, .. } = &mut self {
            *auth = Some(block);
        }
        self
    }

    fn without_data(mut self) -> Self {
        if let Self::Envelope { data, .. } = &mut self {
            *data = None;
        }
        self
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
