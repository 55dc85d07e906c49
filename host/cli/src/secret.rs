//! The response envelope (`api.Secret` in Vault's Go client).

use serde_json::{Map, Value};

/// A parsed Vault response envelope. Kept as raw JSON so that fields this
/// client does not know about survive into `-format=json` output.
#[derive(Debug, Clone, PartialEq)]
pub struct Secret {
    raw: Map<String, Value>,
}

impl Secret {
    /// Parses a response body. An empty body (204, or 202 without content)
    /// is no secret at all, exactly like Go's `api.ParseSecret`.
    pub fn parse(body: &str) -> Result<Option<Secret>, serde_json::Error> {
        if body.trim().is_empty() {
            return Ok(None);
        }
        let value: Value = serde_json::from_str(body)?;
        Ok(Secret::from_value(value))
    }

    /// Wraps a JSON object; `None` for any other JSON type.
    pub fn from_value(value: Value) -> Option<Secret> {
        match value {
            Value::Object(raw) => Some(Secret { raw }),
            _ => None,
        }
    }

    /// The whole object as received.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// `lease_id`, or `""`.
    pub fn lease_id(&self) -> &str {
        self.raw
            .get("lease_id")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `lease_duration` in seconds, or 0.
    pub fn lease_duration(&self) -> i64 {
        self.raw
            .get("lease_duration")
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }

    /// `renewable`, or false.
    pub fn renewable(&self) -> bool {
        self.raw
            .get("renewable")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// `data` when it is an object.
    pub fn data(&self) -> Option<&Map<String, Value>> {
        self.raw.get("data").and_then(Value::as_object)
    }

    /// Whether `data` holds at least one key (Go's `len(secret.Data) > 0`).
    pub fn has_data(&self) -> bool {
        self.data().is_some_and(|d| !d.is_empty())
    }

    /// `warnings` as strings.
    pub fn warnings(&self) -> Vec<String> {
        self.raw
            .get("warnings")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|w| {
                        w.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| w.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `auth` when present and not null.
    pub fn auth(&self) -> Option<&Map<String, Value>> {
        self.raw.get("auth").and_then(Value::as_object)
    }

    /// `wrap_info` when present and not null.
    pub fn wrap_info(&self) -> Option<&Map<String, Value>> {
        self.raw.get("wrap_info").and_then(Value::as_object)
    }

    /// The envelope as Vault's CLI prints it with `-format=json`: the fields of
    /// Go's `api.Secret` in struct order, optional ones only when set.
    pub fn to_json(&self) -> String {
        let null = Value::Null;
        let get = |k: &str| self.raw.get(k).unwrap_or(&null);
        let request_id = Value::String(
            self.raw
                .get("request_id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        );
        let lease_id = Value::String(self.lease_id().to_string());
        let lease_duration = Value::from(self.lease_duration());
        let renewable = Value::Bool(self.renewable());
        let data = match get("data") {
            Value::Object(_) => get("data").clone(),
            _ => Value::Null,
        };
        let warnings = match get("warnings") {
            Value::Array(a) if !a.is_empty() => get("warnings").clone(),
            _ => Value::Null,
        };
        let mut fields: Vec<(&str, &Value)> = vec![
            ("request_id", &request_id),
            ("lease_id", &lease_id),
            ("lease_duration", &lease_duration),
            ("renewable", &renewable),
            ("data", &data),
            ("warnings", &warnings),
        ];
        if get("auth").is_object() {
            fields.push(("auth", get("auth")));
        }
        if get("wrap_info").is_object() {
            fields.push(("wrap_info", get("wrap_info")));
        }
        let mount_type = get("mount_type");
        if mount_type.as_str().is_some_and(|m| !m.is_empty()) {
            fields.push(("mount_type", mount_type));
        }
        crate::output::json_pretty_ordered(&fields)
    }

    /// Vault's `RawField`: the value `-field=NAME` prints for this secret.
    pub fn field(&self, name: &str) -> Option<Value> {
        if let Some(auth) = self.auth() {
            let key = match name {
                "token" => Some("client_token"),
                "token_accessor" => Some("accessor"),
                "token_duration" => Some("lease_duration"),
                "token_renewable" => Some("renewable"),
                "token_policies" | "identity_policies" | "policies" => Some(name),
                _ => None,
            };
            if let Some(key) = key {
                return auth.get(key).filter(|v| !v.is_null()).cloned();
            }
        } else {
            match name {
                "lease_duration" | "refresh_interval" => {
                    return Some(Value::from(self.lease_duration()));
                }
                "lease_id" => return Some(Value::String(self.lease_id().to_string())),
                "request_id" => return self.raw.get("request_id").cloned(),
                "renewable" => return Some(Value::Bool(self.renewable())),
                "data" => {
                    let data = self.raw.get("data")?;
                    return match data.get("data") {
                        Some(inner) => Some(inner.clone()),
                        None => Some(data.clone()),
                    }
                    .filter(|v| !v.is_null());
                }
                _ => {}
            }
        }
        self.data()?.get(name).filter(|v| !v.is_null()).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_body_is_no_secret() {
        assert_eq!(Secret::parse("").unwrap(), None);
        assert_eq!(Secret::parse("  \n").unwrap(), None);
        assert!(Secret::parse("{").is_err());
        assert_eq!(Secret::parse("[1]").unwrap(), None);
    }

    #[test]
    fn json_output_uses_go_struct_order() {
        let s = Secret::from_value(json!({
            "mount_type": "kv", "data": {"a": "b"}, "warnings": null, "auth": null,
            "renewable": false, "lease_duration": 0, "lease_id": "", "request_id": "r1", "wrap_info": null
        }))
        .unwrap();
        let expected = "{\n  \"request_id\": \"r1\",\n  \"lease_id\": \"\",\n  \"lease_duration\": 0,\n  \"renewable\": false,\n  \"data\": {\n    \"a\": \"b\"\n  },\n  \"warnings\": null,\n  \"mount_type\": \"kv\"\n}";
        assert_eq!(s.to_json(), expected);
    }

    #[test]
    fn raw_fields() {
        let s = Secret::from_value(json!({
            "lease_id": "x/1", "lease_duration": 60, "renewable": true,
            "data": {"k": "v", "n": null}
        }))
        .unwrap();
        assert_eq!(s.field("k"), Some(json!("v")));
        assert_eq!(s.field("n"), None);
        assert_eq!(s.field("missing"), None);
        assert_eq!(s.field("lease_id"), Some(json!("x/1")));
        assert_eq!(s.field("refresh_interval"), Some(json!(60)));
        assert_eq!(s.field("data"), Some(json!({"k": "v", "n": null})));

        let t = Secret::from_value(
            json!({"auth": {"client_token": "hvs.t", "policies": ["root"]}, "data": null}),
        )
        .unwrap();
        assert_eq!(t.field("token"), Some(json!("hvs.t")));
        assert_eq!(t.field("policies"), Some(json!(["root"])));
    }
}
