//! The audit entries: Vault's JSON shape for one request or one response.
//!
//! What is known about a request or response is gathered once per log call
//! ([`RequestFacts`], [`ResponseFacts`]); each device then renders its own [`Entry`]
//! with its own [`Hasher`], because devices have different keys and options.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Map, Value};

use super::hash::Hasher;
use crate::api::{ApiError, Body, LogicalRequest, LogicalResponse, Operation};
use crate::auth::Caller;

/// One line of an audit log.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// RFC 3339 time the entry was made.
    pub time: String,
    /// `request` or `response`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Who made the request.
    pub auth: AuthEntry,
    /// The request (also repeated in response entries, as Vault does).
    pub request: RequestEntry,
    /// The response (response entries only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseEntry>,
    /// Why the request failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The caller's token, as logged.
#[derive(Debug, Default, Serialize)]
pub struct AuthEntry {
    /// The client token (hashed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// The token's accessor (hashed unless `hmac_accessor=false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accessor: Option<String>,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// All policies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<String>>,
    /// Policies attached to the token itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_policies: Option<Vec<String>>,
    /// Token metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// Identity entity (empty, and then omitted, until Coffer has identities).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub entity_id: String,
    /// `service`, `batch` or (no token resolved) `default`.
    pub token_type: &'static str,
    /// When the token was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_issue_time: Option<String>,
}

/// Vault's `namespace` block (Coffer has only the root namespace).
#[derive(Debug, Serialize)]
pub struct NamespaceEntry {
    /// Always `root`.
    pub id: &'static str,
}

/// The request, as logged.
#[derive(Debug, Serialize)]
pub struct RequestEntry {
    /// Request id (the response's `request_id`).
    pub id: String,
    /// `read`, `update`, ...
    pub operation: &'static str,
    /// The mount serving the path, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount_point: Option<String>,
    /// That mount's type, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount_type: Option<String>,
    /// The presented token (hashed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Its accessor (hashed unless `hmac_accessor=false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token_accessor: Option<String>,
    /// Namespace.
    pub namespace: NamespaceEntry,
    /// Path under `/v1/`.
    pub path: String,
    /// The client's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_address: Option<String>,
    /// Parameters, every string hashed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// The response, as logged.
#[derive(Debug, Default, Serialize)]
pub struct ResponseEntry {
    /// The mount that answered, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount_point: Option<String>,
    /// Its type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount_type: Option<String>,
    /// A token issued by the response (its `client_token` and `accessor` hashed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<Value>,
    /// The lease of a leased secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretEntry>,
    /// Response data, every string hashed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// Warnings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `response.secret`.
#[derive(Debug, Serialize)]
pub struct SecretEntry {
    /// The lease id (not hashed: it is needed to correlate with `sys/leases`, as in
    /// Vault).
    pub lease_id: String,
}

/// Everything about a request that does not depend on the device.
pub struct RequestFacts<'a> {
    req: &'a LogicalRequest,
    caller: Option<&'a Caller>,
    mount: Option<(&'static str, &'static str)>,
}

impl<'a> RequestFacts<'a> {
    /// Gathers the facts of `req` made by `caller` (`None` when authentication failed).
    pub fn new(req: &'a LogicalRequest, caller: Option<&'a Caller>) -> Self {
        Self {
            req,
            caller,
            mount: host_mount(&req.path),
        }
    }

    fn auth(&self, h: &Hasher<'_>) -> AuthEntry {
        let Some(c) = self.caller else {
            return AuthEntry {
                token_type: "default",
                ..AuthEntry::default()
            };
        };
        AuthEntry {
            client_token: Some(h.string(&c.token)),
            accessor: Some(h.accessor(&c.accessor)),
            display_name: Some(c.display_name.clone()),
            policies: Some(c.policies.clone()),
            token_policies: Some(c.policies.clone()),
            metadata: None,
            entity_id: c.entity_id.clone(),
            token_type: token_type(&c.token),
            token_issue_time: Some(crate::util::time::rfc3339_nanos(
                c.creation_time.saturating_mul(1_000_000_000),
            )),
        }
    }

    fn request(&self, h: &Hasher<'_>, mount: Option<(&str, &str)>) -> RequestEntry {
        let mount = mount.or(self.mount);
        let (token, accessor) = match self.caller {
            Some(c) => (Some(h.string(&c.token)), Some(h.accessor(&c.accessor))),
            // A presented but unknown token is still recorded, hashed, so failed
            // attempts can be correlated.
            None => (
                self.req
                    .token
                    .as_deref()
                    .filter(|t| !t.is_empty())
                    .map(|t| h.string(t)),
                None,
            ),
        };
        let data = (!self.req.data.is_empty()).then(|| {
            let mut v = Value::Object(self.req.data.clone());
            h.value(&mut v);
            v
        });
        RequestEntry {
            id: self.req.id.clone(),
            operation: operation_name(self.req.operation),
            mount_point: mount.map(|(p, _)| p.to_string()).filter(|p| !p.is_empty()),
            mount_type: mount.map(|(_, t)| t.to_string()).filter(|t| !t.is_empty()),
            client_token: token,
            client_token_accessor: accessor,
            namespace: NamespaceEntry { id: "root" },
            path: self.req.path.clone(),
            remote_address: self.req.remote_address.clone(),
            data,
        }
    }

    /// The request entry as `h`'s device writes it.
    pub fn request_entry(&self, time: &str, error: Option<&str>, h: &Hasher<'_>) -> Entry {
        Entry {
            time: time.to_string(),
            kind: "request",
            auth: self.auth(h),
            request: self.request(h, None),
            response: None,
            error: error.map(str::to_string),
        }
    }

    /// The response entry for `resp` as `h`'s device writes it.
    pub fn response_entry(&self, time: &str, resp: &ResponseFacts<'_>, h: &Hasher<'_>) -> Entry {
        let mount = resp
            .mount_type
            .filter(|t| !t.is_empty())
            .map(|t| (self.mount.map(|(p, _)| p).unwrap_or(""), t))
            .or(self.mount);
        let response = resp.error.is_none().then(|| ResponseEntry {
            mount_point: mount.map(|(p, _)| p.to_string()).filter(|p| !p.is_empty()),
            mount_type: mount.map(|(_, t)| t.to_string()),
            auth: resp.auth.map(|a| hash_auth(a, h)),
            secret: resp
                .lease_id
                .filter(|l| !l.is_empty())
                .map(|l| SecretEntry {
                    lease_id: l.to_string(),
                }),
            data: resp.data.as_deref().map(|d| h.hashed(d)),
            warnings: resp.warnings.to_vec(),
        });
        Entry {
            time: time.to_string(),
            kind: "response",
            auth: self.auth(h),
            request: self.request(h, mount),
            response,
            error: resp.error.clone(),
        }
    }
}

/// Everything about a response that does not depend on the device.
pub struct ResponseFacts<'a> {
    data: Option<Cow<'a, Value>>,
    lease_id: Option<&'a str>,
    auth: Option<&'a Value>,
    warnings: &'a [String],
    mount_type: Option<&'a str>,
    error: Option<String>,
}

impl<'a> ResponseFacts<'a> {
    /// Gathers the facts of `resp`; engine JSON text is parsed here, i.e. only when a
    /// device is enabled.
    pub fn new(resp: &'a LogicalResponse) -> Self {
        let mut facts = Self {
            data: None,
            lease_id: None,
            auth: None,
            warnings: &[],
            mount_type: None,
            error: None,
        };
        match resp {
            LogicalResponse::Envelope {
                data,
                lease_id,
                auth,
                warnings,
                mount_type,
                ..
            } => {
                facts.data = data.as_ref().map(|b| match b {
                    Body::Json(v) => Cow::Borrowed(v),
                    // Unparseable text is logged as one (hashed) string rather than
                    // dropped, so nothing the client saw is missing from the log.
                    Body::Raw(s) => Cow::Owned(
                        serde_json::from_str(s.get())
                            .unwrap_or_else(|_| Value::String(s.get().to_string())),
                    ),
                });
                facts.lease_id = Some(lease_id);
                facts.auth = auth.as_ref();
                facts.warnings = warnings;
                facts.mount_type = Some(mount_type);
            }
            LogicalResponse::Raw { body, .. } => facts.data = Some(Cow::Borrowed(body)),
            LogicalResponse::NoContent | LogicalResponse::Accepted => {}
            LogicalResponse::Error(e) => facts.error = Some(error_text(e)),
        }
        facts
    }
}

/// The text of an error as logged (`errors` joined; the status for Vault's bare 404).
pub fn error_text(e: &ApiError) -> String {
    if e.errors.is_empty() {
        e.status.to_string()
    } else {
        e.errors.join("; ")
    }
}

/// A response `auth` block with its token and accessor hashed (the rest, policies and
/// metadata, is kept as Vault keeps it).
fn hash_auth(auth: &Value, h: &Hasher<'_>) -> Value {
    let mut out = auth.clone();
    if let Value::Object(map) = &mut out {
        if let Some(Value::String(t)) = map.get_mut("client_token") {
            *t = h.string(t);
        }
        if let Some(Value::String(a)) = map.get_mut("accessor") {
            *a = h.accessor(a);
        }
    }
    out
}

/// Mount point and type of the paths the host serves itself; engine mounts are only
/// known from the response (`mount_type`).
fn host_mount(path: &str) -> Option<(&'static str, &'static str)> {
    if path == "sys" || path.starts_with("sys/") {
        Some(("sys/", "system"))
    } else if path.starts_with("auth/token/") {
        Some(("auth/token/", "token"))
    } else {
        None
    }
}

/// Vault's token types, from the token's prefix.
fn token_type(token: &str) -> &'static str {
    if token.starts_with("hvb.") {
        "batch"
    } else {
        "service"
    }
}

/// Vault's operation names.
fn operation_name(op: Operation) -> &'static str {
    match op {
        Operation::Read => "read",
        Operation::Create => "create",
        Operation::Update => "update",
        Operation::Delete => "delete",
        Operation::List => "list",
        Operation::Patch => "patch",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::hash::HmacKey;
    use axum::http::StatusCode;
    use serde_json::json;

    fn request(data: Value, token: Option<&str>) -> LogicalRequest {
        LogicalRequest {
            id: "11111111-2222-3333-4444-555555555555".into(),
            operation: Operation::Update,
            path: "secret/data/app".into(),
            data: data.as_object().cloned().unwrap_or_default(),
            token: token.map(|t| t.to_string().into()),
            help: false,
            remote_address: None,
            bench_native: false,
        }
    }

    fn key() -> HmacKey {
        HmacKey::from_bytes(&[1u8; 32]).unwrap()
    }

    #[test]
    fn request_entry_shape_and_hashing() {
        let k = key();
        let h = Hasher::new(&k, false, true);
        let req = request(
            json!({"data": {"password": "s3cret", "n": 3}, "options": {"cas": 1}}),
            Some("hvs.presented"),
        );
        let facts = RequestFacts::new(&req, None);
        let e =
            serde_json::to_value(facts.request_entry("T", Some("permission denied"), &h)).unwrap();
        assert_eq!(e["type"], "request");
        assert_eq!(e["time"], "T");
        assert_eq!(e["error"], "permission denied");
        assert_eq!(e["auth"], json!({"token_type": "default"}));
        let r = &e["request"];
        assert_eq!(r["id"], "11111111-2222-3333-4444-555555555555");
        assert_eq!(r["operation"], "update");
        assert_eq!(r["path"], "secret/data/app");
        assert_eq!(r["namespace"], json!({"id": "root"}));
        assert_eq!(r["client_token"], json!(k.hash("hvs.presented")));
        assert_eq!(r["data"]["data"]["password"], json!(k.hash("s3cret")));
        assert_eq!(r["data"]["data"]["n"], 3);
        assert_eq!(r["data"]["options"]["cas"], 1);
        assert!(r.get("mount_type").is_none());
        assert!(e.get("response").is_none());
        let text = e.to_string();
        assert!(!text.contains("s3cret") && !text.contains("hvs.presented"));
    }

    #[test]
    fn response_entry_hashes_engine_text_and_auth() {
        let k = key();
        let h = Hasher::new(&k, false, false);
        let req = request(json!({}), Some("hvs.x"));
        let resp = LogicalResponse::Envelope {
            status: StatusCode::OK,
            data: Some(Body::Raw(
                serde_json::value::RawValue::from_string(
                    r#"{"data":{"password":"s3cret"},"v":2}"#.into(),
                )
                .unwrap(),
            )),
            lease_id: "kv/creds/abc".into(),
            renewable: false,
            lease_duration: 0,
            warnings: vec!["careful".into()],
            auth: Some(json!({"client_token": "hvs.new", "accessor": "acc", "policies": ["p"]})),
            mount_type: "kv".into(),
            injected: false,
        };
        let facts = RequestFacts::new(&req, None);
        let e = serde_json::to_value(facts.response_entry("T", &ResponseFacts::new(&resp), &h))
            .unwrap();
        assert_eq!(e["type"], "response");
        assert!(e["request"].get("data").is_none(), "empty data is omitted");
        assert_eq!(e["request"]["mount_type"], "kv");
        let r = &e["response"];
        assert_eq!(r["mount_type"], "kv");
        assert_eq!(r["data"]["data"]["password"], json!(k.hash("s3cret")));
        assert_eq!(r["data"]["v"], 2);
        assert_eq!(r["secret"], json!({"lease_id": "kv/creds/abc"}));
        assert_eq!(r["auth"]["client_token"], json!(k.hash("hvs.new")));
        assert_eq!(r["auth"]["accessor"], "acc", "hmac_accessor=false");
        assert_eq!(r["auth"]["policies"], json!(["p"]));
        assert_eq!(r["warnings"], json!(["careful"]));
        assert!(!e.to_string().contains("s3cret"));
    }

    #[test]
    fn error_and_empty_responses() {
        let k = key();
        let h = Hasher::new(&k, false, true);
        let mut req = request(json!({}), None);
        req.path = "sys/mounts".into();
        req.operation = Operation::Read;
        let facts = RequestFacts::new(&req, None);
        let err = LogicalResponse::Error(ApiError::bad_request("nope"));
        let e =
            serde_json::to_value(facts.response_entry("T", &ResponseFacts::new(&err), &h)).unwrap();
        assert_eq!(e["error"], "nope");
        assert!(e.get("response").is_none());
        assert_eq!(e["request"]["mount_type"], "system");
        assert_eq!(e["request"]["mount_point"], "sys/");
        assert_eq!(e["request"]["operation"], "read");
        let none = LogicalResponse::NoContent;
        let e = serde_json::to_value(facts.response_entry("T", &ResponseFacts::new(&none), &h))
            .unwrap();
        assert_eq!(
            e["response"],
            json!({"mount_point": "sys/", "mount_type": "system"})
        );
        assert_eq!(error_text(&ApiError::not_found()), "404 Not Found");
    }
}
