//! IAM policy documents: compaction on role write, and merging group policies into
//! an STS session policy.

use serde_json::{Map, Value};

/// The current version of the IAM policy language, used for merged documents.
const POLICY_VERSION: &str = "2012-10-17";

/// Removes insignificant whitespace from a JSON text, keeping everything else
/// (key order, number spelling, string escapes) exactly as written, like Go's
/// `json.Compact`. `None` when the text is not valid JSON.
pub fn compact(input: &str) -> Option<String> {
    serde_json::from_str::<serde::de::IgnoredAny>(input).ok()?;
    let mut out = String::with_capacity(input.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in input.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    Some(out)
}

/// Merges policy documents into one `2012-10-17` document holding all their
/// statements (Vault's `combinePolicyDocuments`). Empty strings are skipped; a
/// document's `Statement` may be a list or a single statement.
pub fn combine(documents: &[String]) -> Result<String, String> {
    let mut statements: Vec<Value> = Vec::new();
    for doc in documents.iter().filter(|d| !d.is_empty()) {
        let parsed: Value = serde_json::from_str(doc).map_err(|e| e.to_string())?;
        let Value::Object(obj) = parsed else {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type aws.PolicyDocument",
                json_kind(&parsed)
            ));
        };
        match obj.get("Statement") {
            None => {}
            Some(Value::Array(items)) => statements.extend(items.iter().cloned()),
            Some(Value::Null) => {
                return Err("unsupported data type <nil> for StatementEntries".to_string());
            }
            Some(single) => statements.push(single.clone()),
        }
    }
    let statements: Vec<String> = statements.iter().map(|s| go_marshal(&sorted(s))).collect();
    Ok(format!(
        r#"{{"Version":"{POLICY_VERSION}","Statement":[{}]}}"#,
        statements.join(",")
    ))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Null => "null",
        Value::Object(_) => "object",
    }
}

/// The value with every object's keys in sorted order, as Go marshals maps
/// (independent of whether serde_json preserves insertion order in this build).
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                if let Some(inner) = map.get(k) {
                    out.insert(k.clone(), sorted(inner));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Serialises like Go's `json.Marshal`, which escapes `<`, `>`, `&`, U+2028 and
/// U+2029. Those characters can only occur inside strings, so replacing them in the
/// output is safe.
fn go_marshal(v: &Value) -> String {
    let text = v.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacts_without_reordering() {
        let doc = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [ { \"Effect\" : \"Allow\", \"Action\": \"s3:Get *\" } ]\n}";
        assert_eq!(
            compact(doc).unwrap(),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get *"}]}"#
        );
        assert_eq!(compact(r#"{"a":"x\" y"}"#).unwrap(), r#"{"a":"x\" y"}"#);
        assert_eq!(compact(" 1.50 ").unwrap(), "1.50");
        assert!(compact("{").is_none());
        assert!(compact("{} x").is_none());
        assert!(compact(" ").is_none());
    }

    #[test]
    fn combines_statements() {
        let group = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*"}}"#;
        let role = r#"{"Version":"2012-10-17","Statement":[{"Resource":"*","Action":"s3:*","Effect":"Deny"}]}"#;
        let merged = combine(&[group.into(), String::new(), role.into()]).unwrap();
        assert_eq!(
            merged,
            r#"{"Version":"2012-10-17","Statement":[{"Action":"ec2:*","Effect":"Allow","Resource":"*"},{"Action":"s3:*","Effect":"Deny","Resource":"*"}]}"#
        );
        assert_eq!(
            combine(&[r#"{"Statement":[{"a":"<&>"}]}"#.into()]).unwrap(),
            r#"{"Version":"2012-10-17","Statement":[{"a":"\u003c\u0026\u003e"}]}"#
        );
        assert_eq!(
            combine(&[]).unwrap(),
            r#"{"Version":"2012-10-17","Statement":[]}"#
        );
        assert!(combine(&["[1]".into()]).is_err());
        assert!(combine(&["nope".into()]).is_err());
    }
}
