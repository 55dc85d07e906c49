//! The SDK's error type and its mapping onto the WIT `error` variant.

use core::fmt;

use serde_json::Value;

use crate::bindings::coffer::engine::types as wit;

/// Shorthand for results whose error is the SDK [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Why a request, or a lease call, failed.
///
/// Each variant is one case of the WIT `error` variant and so one HTTP status; the host
/// turns it into Vault's error body `{"errors":[message]}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The request is malformed or breaks the engine's rules: `400`.
    InvalidRequest(String),
    /// Nothing at this path: `404`. With `None` the body is `{"errors":[]}`; with a JSON
    /// object the host answers `404` with the normal response envelope carrying that
    /// object as `data` (kv v2 does this for deleted versions).
    NotFound(Option<Value>),
    /// No route of the engine matches the path: `404 unsupported path`.
    UnsupportedPath,
    /// A route matches but has no handler for the operation: `405 unsupported operation`.
    UnsupportedOperation,
    /// The engine refuses the caller: `403`.
    PermissionDenied(String),
    /// An upstream service kept throttling the engine: `502`.
    UpstreamRateLimited(String),
    /// Anything else that went wrong inside the engine: `500`.
    Internal(String),
}

impl Error {
    /// A `400` with the given message, e.g. `Error::invalid("missing data fields")`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidRequest(message.into())
    }

    /// A plain `404` with an empty error list, as Vault answers a read of nothing.
    pub fn not_found() -> Self {
        Error::NotFound(None)
    }

    /// A `404` whose body is the full response envelope with `data` set to `data`
    /// (which should be a JSON object).
    pub fn not_found_with(data: Value) -> Self {
        Error::NotFound(Some(data))
    }

    /// A `403` with the given message.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Error::PermissionDenied(message.into())
    }

    /// A `502`: an upstream service throttled the engine and retries did not help.
    pub fn rate_limited(message: impl Into<String>) -> Self {
        Error::UpstreamRateLimited(message.into())
    }

    /// A `500` with the given message. Never put secret values into it.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    /// The HTTP status the host answers with for this error.
    pub fn status(&self) -> u16 {
        match self {
            Error::InvalidRequest(_) => 400,
            Error::NotFound(_) | Error::UnsupportedPath => 404,
            Error::UnsupportedOperation => 405,
            Error::PermissionDenied(_) => 403,
            Error::UpstreamRateLimited(_) => 502,
            Error::Internal(_) => 500,
        }
    }

    /// Converts to the WIT error handed to the host.
    pub(crate) fn into_wit(self) -> wit::Error {
        match self {
            Error::InvalidRequest(m) => wit::Error::InvalidRequest(m),
            // Serialising a `Value` cannot fail (its map keys are strings).
            Error::NotFound(data) => {
                wit::Error::NotFound(data.map(|d| serde_json::to_string(&d).unwrap_or_default()))
            }
            Error::UnsupportedPath => wit::Error::UnsupportedPath,
            Error::UnsupportedOperation => wit::Error::UnsupportedOperation,
            Error::PermissionDenied(m) => wit::Error::PermissionDenied(m),
            Error::UpstreamRateLimited(m) => wit::Error::UpstreamRateLimited(m),
            Error::Internal(m) => wit::Error::Internal(m),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidRequest(m)
            | Error::PermissionDenied(m)
            | Error::UpstreamRateLimited(m)
            | Error::Internal(m) => f.write_str(m),
            Error::NotFound(_) => f.write_str("not found"),
            Error::UnsupportedPath => f.write_str("unsupported path"),
            Error::UnsupportedOperation => f.write_str("unsupported operation"),
        }
    }
}

impl std::error::Error for Error {}

/// JSON (de)serialisation failures inside an engine are its own bugs or corrupt
/// storage, never the client's fault, so they become `500`s.
impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(format!("JSON error: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_follow_vault() {
        assert_eq!(Error::invalid("x").status(), 400);
        assert_eq!(Error::not_found().status(), 404);
        assert_eq!(Error::UnsupportedPath.status(), 404);
        assert_eq!(Error::UnsupportedOperation.status(), 405);
        assert_eq!(Error::permission_denied("x").status(), 403);
        assert_eq!(Error::rate_limited("x").status(), 502);
        assert_eq!(Error::internal("x").status(), 500);
    }

    #[test]
    fn not_found_payload_travels_as_json_text() {
        let e = Error::not_found_with(json!({"data": null})).into_wit();
        match e {
            wit::Error::NotFound(Some(text)) => assert_eq!(text, r#"{"data":null}"#),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            Error::not_found().into_wit(),
            wit::Error::NotFound(None)
        ));
    }
}
