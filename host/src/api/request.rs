//! A request after HTTP decoding.

use serde_json::{Map, Value};

/// The logical operation a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `GET`.
    Read,
    /// `POST`/`PUT` when the target does not exist (engines decide; the host sends update).
    Create,
    /// `POST`/`PUT`.
    Update,
    /// `DELETE`.
    Delete,
    /// `LIST` or `GET ?list=true`.
    List,
    /// `PATCH` with a merge-patch body.
    Patch,
}

/// One API request: path under `/v1/`, operation, parameters, token.
#[derive(Debug, Clone)]
pub struct LogicalRequest {
    /// Random UUID, echoed as `request_id`.
    pub id: String,
    /// The operation.
    pub operation: Operation,
    /// The path without `/v1/`; list paths end with `/`.
    pub path: String,
    /// Parameters: the JSON body for writes, the query for reads.
    pub data: Map<String, Value>,
    /// The client token, if any.
    pub token: Option<zeroize::Zeroizing<String>>,
    /// `?help=1` was given.
    pub help: bool,
    /// The client's address (`ip:port`), for the audit log.
    pub remote_address: Option<String>,
    /// The request carried `X-Coffer-Bench-Native: 1` and the server runs with
    /// `-bench-native-kv`: a kv v2 data read is answered natively, as the benchmark's
    /// ceiling for the wasm path. Always `false` otherwise.
    pub bench_native: bool,
}

impl LogicalRequest {
    /// A string parameter (null and absent are both `None`).
    pub fn str_field(&self, key: &str) -> Option<String> {
        match self.data.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// A parameter, treating JSON null as absent.
    pub fn field(&self, key: &str) -> Option<&Value> {
        self.data.get(key).filter(|v| !v.is_null())
    }
}
