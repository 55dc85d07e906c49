//! [`LogicalResponse`] → HTTP response in Vault's shape.

use axum::body::Body as HttpBody;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::api::{Body, LogicalResponse};

#[derive(Serialize)]
struct Envelope<'a> {
    request_id: &'a str,
    lease_id: &'a str,
    renewable: bool,
    lease_duration: u64,
    data: Option<&'a RawValue>,
    wrap_info: Option<()>,
    warnings: Option<&'a [String]>,
    auth: Option<&'a Value>,
    mount_type: &'a str,
}

/// Encodes a response; `request_id` is the id the request was handled under.
pub fn encode(resp: LogicalResponse, request_id: &str) -> Response {
    match resp {
        LogicalResponse::NoContent => empty(StatusCode::NO_CONTENT),
        LogicalResponse::Accepted => empty(StatusCode::ACCEPTED),
        LogicalResponse::Raw { status, body } => json_response(status, body.to_string()),
        LogicalResponse::Error(e) => {
            json_response(e.status, json!({ "errors": e.errors }).to_string())
        }
        LogicalResponse::Envelope {
            status,
            data,
            lease_id,
            renewable,
            lease_duration,
            warnings,
            auth,
            mount_type,
            injected,
        } => {
            // Engine text is already a `RawValue` (validated at the engine boundary);
            // host-built JSON is serialised once here.
            let host_text;
            let raw: Option<&RawValue> = match &data {
                Some(Body::Raw(r)) => Some(r),
                Some(Body::Json(v)) => match serde_json::value::to_raw_value(v) {
                    Ok(r) => {
                        host_text = r;
                        Some(&host_text)
                    }
                    Err(e) => {
                        return json_response(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            json!({ "errors": [format!("response data is not valid JSON: {e}")] })
                                .to_string(),
                        );
                    }
                },
                None => None,
            };
            let env = Envelope {
                request_id,
                lease_id: &lease_id,
                renewable,
                lease_duration,
                data: raw,
                wrap_info: None,
                warnings: if warnings.is_empty() {
                    None
                } else {
                    Some(&warnings)
                },
                auth: auth.as_ref(),
                mount_type: &mount_type,
            };
            let body = if injected {
                // Old clients read the top-level copy, new ones read `data`.
                let mut top = serde_json::to_value(&env).unwrap_or(Value::Null);
                if let (Value::Object(top), Some(Body::Json(Value::Object(d)))) = (&mut top, &data)
                {
                    for (k, v) in d {
                        top.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                top.to_string()
            } else {
                serde_json::to_string(&env).unwrap_or_default()
            };
            json_response(status, body)
        }
    }
}

fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(HttpBody::empty());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(HttpBody::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
