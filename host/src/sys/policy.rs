//! `sys/policy`, `sys/policies/acl`, `sys/capabilities*`: managing ACL policies and
//! asking what a token may do.
//!
//! Shapes follow Vault (`vault/logical_system.go`):
//! * `sys/policy` (read or list) is injected `{"keys","policies"}` with `root` appended
//!   after the stored names; `sys/policies/acl` (list) is `{"keys"}` without `root`;
//! * `sys/policy/<name>` reads as injected `{"name","rules"}`, `sys/policies/acl/<name>`
//!   as `{"name","policy"}`; a missing policy is `404 {"errors":[]}`;
//! * writes take `policy` (or, on `sys/policy` only, the deprecated `rules`), as HCL or
//!   JSON text, optionally base64-encoded, and answer `204` unless there is a warning;
//! * `sys/capabilities-self` uses the caller's token, `sys/capabilities` a `token`
//!   parameter, `sys/capabilities-accessor` an `accessor` one;
//! * `sys/capabilities*` answer `{"<path>":[caps], …}` plus `capabilities` when exactly
//!   one path was asked about; capability names are sorted, as Vault sorts them.

use serde_json::{Map, Value, json};

use crate::api::{ApiError, LogicalRequest, LogicalResponse, Operation};
use crate::app::App;
use crate::auth::Caller;
use crate::auth::policy::{Acl, ROOT_POLICY_NAME, normalize_name};

/// Which family of endpoints a request came through; they differ only in shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// `sys/policy[/<name>]` (the older API hvac's `sys.*_policy` use).
    Legacy,
    /// `sys/policies/acl[/<name>]`.
    Acl,
}

/// Serves the policy and capabilities endpoints.
pub async fn handle(app: &App, req: &LogicalRequest, caller: &Caller) -> LogicalResponse {
    let path = req.path.as_str();
    let result = if let Some(rest) = under(path, "sys/policy") {
        policies(app, req, Api::Legacy, rest)
    } else if let Some(rest) = under(path, "sys/policies/acl") {
        policies(app, req, Api::Acl, rest)
    } else if under(path, "sys/capabilities-self").is_some_and(str::is_empty) {
        capabilities_self(app, req, caller)
    } else if under(path, "sys/capabilities").is_some_and(str::is_empty) {
        capabilities_of_token(app, req)
    } else if under(path, "sys/capabilities-accessor").is_some_and(str::is_empty) {
        capabilities_of_accessor(app, req)
    } else {
        Err(ApiError::unsupported_path())
    };
    result.unwrap_or_else(LogicalResponse::from)
}

/// The part of `path` below `base` (`""` for `base` or `base/`), if it is under it.
fn under<'a>(path: &'a str, base: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(base)?;
    if rest.is_empty() {
        return Some("");
    }
    rest.strip_prefix('/')
}

fn policies(
    app: &App,
    req: &LogicalRequest,
    api: Api,
    rest: &str,
) -> Result<LogicalResponse, ApiError> {
    let name = rest.trim_end_matches('/');
    if name.is_empty() {
        return match (api, req.operation) {
            (Api::Legacy, Operation::Read | Operation::List) => {
                let mut keys = app.policies.list()?;
                keys.push(ROOT_POLICY_NAME.to_string());
                Ok(LogicalResponse::injected(
                    json!({ "keys": keys, "policies": keys }),
                ))
            }
            (Api::Acl, Operation::List) => Ok(LogicalResponse::data(
                json!({ "keys": app.policies.list()? }),
                "system",
            )),
            _ => Err(ApiError::unsupported_operation()),
        };
    }
    match req.operation {
        Operation::Read => read(app, api, name),
        Operation::Create | Operation::Update => write(app, req, api, name),
        Operation::Delete => {
            app.policies
                .delete(&normalize_name(name).map_err(bad_request)?)?;
            Ok(LogicalResponse::NoContent)
        }
        _ => Err(ApiError::unsupported_operation()),
    }
}

fn read(app: &App, api: Api, name: &str) -> Result<LogicalResponse, ApiError> {
    let Some(policy) = app.policies.get(name)? else {
        return Err(ApiError::not_found());
    };
    Ok(match api {
        Api::Legacy => LogicalResponse::injected(json!({
            "name": policy.name(),
            "rules": policy.raw(),
        })),
        Api::Acl => LogicalResponse::data(
            json!({ "name": policy.name(), "policy": policy.raw() }),
            "system",
        ),
    })
}

fn write(
    app: &App,
    req: &LogicalRequest,
    api: Api,
    name: &str,
) -> Result<LogicalResponse, ApiError> {
    let mut warnings = Vec::new();
    let normalized = normalize_name(name).map_err(bad_request)?;
    if normalized != name {
        warnings.push(format!("policy name was converted to {normalized}"));
    }
    let mut text = req.str_field("policy").unwrap_or_default();
    if text.is_empty() && api == Api::Legacy {
        text = req.str_field("rules").unwrap_or_default();
        if !text.is_empty() {
            warnings.push("'rules' is deprecated, please use 'policy' instead".into());
        }
    }
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(
            "'policy' parameter not supplied or empty",
        ));
    }
    let text = decode_base64(&text).unwrap_or(text);
    app.policies.set(&normalized, &text)?;
    if warnings.is_empty() {
        return Ok(LogicalResponse::NoContent);
    }
    Ok(LogicalResponse::warnings_only(warnings, "system"))
}

/// Vault accepts base64-encoded policy text; text that does not decode (to UTF-8) is
/// taken as it is. HCL and JSON policies always contain characters outside the base64
/// alphabet (quotes, braces, spaces), so they never decode by accident.
fn decode_base64(text: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    String::from_utf8(bytes).ok()
}

fn bad_request(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(e.to_string())
}

/// The paths asked about: `paths` (list or comma-separated string), else the
/// deprecated `path`.
fn requested_paths(req: &LogicalRequest) -> Result<Vec<String>, ApiError> {
    let from = |key: &str| -> Vec<String> {
        match req.field(key) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.trim().to_string(),
                    other => other.to_string(),
                })
                .filter(|s| !s.is_empty())
                .collect(),
            Some(Value::String(s)) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            Some(other) => vec![other.to_string()],
            None => Vec::new(),
        }
    };
    let mut paths = from("paths");
    if paths.is_empty() {
        paths = from("path");
    }
    if paths.is_empty() {
        return Err(ApiError::bad_request("paths must be supplied"));
    }
    Ok(paths)
}

fn capabilities_self(
    app: &App,
    req: &LogicalRequest,
    caller: &Caller,
) -> Result<LogicalResponse, ApiError> {
    if !matches!(req.operation, Operation::Update | Operation::Create) {
        return Err(ApiError::unsupported_operation());
    }
    let paths = requested_paths(req)?;
    let acl = app.policies.acl_for(&caller.policies)?;
    Ok(capabilities_response(&acl, &paths))
}

fn capabilities_of_token(app: &App, req: &LogicalRequest) -> Result<LogicalResponse, ApiError> {
    if !matches!(req.operation, Operation::Update | Operation::Create) {
        return Err(ApiError::unsupported_operation());
    }
    let Some(token) = req.str_field("token").filter(|t| !t.is_empty()) else {
        return Err(ApiError::bad_request("no token found"));
    };
    let paths = requested_paths(req)?;
    // `peek`: asking about a use-limited token must not use it up.
    let other = app
        .tokens
        .peek(Some(&token))
        .map_err(|_| ApiError::bad_request("invalid token"))?;
    let acl = app.policies.acl_for(&other.policies)?;
    Ok(capabilities_response(&acl, &paths))
}

fn capabilities_of_accessor(app: &App, req: &LogicalRequest) -> Result<LogicalResponse, ApiError> {
    if !matches!(req.operation, Operation::Update | Operation::Create) {
        return Err(ApiError::unsupported_operation());
    }
    let Some(accessor) = req.str_field("accessor").filter(|a| !a.is_empty()) else {
        return Err(ApiError::bad_request("missing accessor"));
    };
    let paths = requested_paths(req)?;
    let entry = app
        .tokens
        .lookup_accessor(&accessor)
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::bad_request("invalid accessor"))?;
    let acl = app.policies.acl_for(&entry.policies)?;
    Ok(capabilities_response(&acl, &paths))
}

/// Vault's `sys/capabilities*` answer for `paths` under `acl`.
fn capabilities_response(acl: &Acl, paths: &[String]) -> LogicalResponse {
    let mut data = Map::new();
    for path in paths {
        let mut caps = acl.capabilities(path);
        caps.sort_unstable();
        data.insert(path.clone(), json!(caps));
    }
    if let [only] = paths
        && let Some(caps) = data.get(only).cloned()
    {
        data.insert("capabilities".into(), caps);
    }
    LogicalResponse::injected(Value::Object(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::policy::Policy;

    #[test]
    fn base64_policies_decode() {
        let hcl = r#"path "a" { capabilities = ["read"] }"#;
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(hcl);
        assert_eq!(decode_base64(&b64).as_deref(), Some(hcl));
        assert_eq!(decode_base64(hcl), None);
        assert_eq!(decode_base64(r#"{"path":{}}"#), None);
    }

    #[test]
    fn capabilities_shape() {
        let p = Policy::parse(
            "p",
            r#"path "secret/*" { capabilities = ["update", "read", "create"] }"#,
        )
        .unwrap();
        let acl = Acl::new([&p]);
        let LogicalResponse::Envelope {
            data: Some(crate::api::Body::Json(data)),
            injected,
            ..
        } = capabilities_response(&acl, &["secret/x".to_string()])
        else {
            panic!("not an envelope");
        };
        assert!(injected);
        assert_eq!(data["secret/x"], json!(["create", "read", "update"]));
        assert_eq!(data["capabilities"], data["secret/x"]);
        let LogicalResponse::Envelope {
            data: Some(crate::api::Body::Json(data)),
            ..
        } = capabilities_response(&acl, &["secret/x".into(), "other".into()])
        else {
            panic!("not an envelope");
        };
        assert_eq!(data["other"], json!(["deny"]));
        assert!(data.get("capabilities").is_none());
    }

    #[test]
    fn paths_under() {
        assert_eq!(under("sys/policy", "sys/policy"), Some(""));
        assert_eq!(under("sys/policy/", "sys/policy"), Some(""));
        assert_eq!(under("sys/policy/x", "sys/policy"), Some("x"));
        assert_eq!(under("sys/policyx", "sys/policy"), None);
        assert_eq!(under("sys/capabilities-self", "sys/capabilities"), None);
    }
}
