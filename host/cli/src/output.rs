//! Rendering: Vault's table format, Go-style value printing and Go-style JSON.
//!
//! Everything here is pure (returns strings) so it can be tested byte for byte
//! against what the `vault` binary prints.

use serde_json::{Map, Value};

use crate::duration::{humanize_secs, looks_like_duration};
use crate::secret::Secret;

/// Column separator used by Vault's `columnize` config.
const GLUE: &str = "    ";

/// Width Vault wraps warning lines at.
const MAX_LINE: usize = 78;

/// Output format selected with `-format` / `COFFER_FORMAT` / `VAULT_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human readable tables (the default).
    Table,
    /// Indented JSON of the response.
    Json,
}

impl Format {
    /// Parses a format name; `None` for anything Coffer cannot print.
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "" | "table" => Some(Format::Table),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// Formats a JSON value the way Go's `fmt.Sprintf("%v", v)` prints the
/// `interface{}` the Vault client decoded it into.
pub fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_value).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = sorted(map)
                .into_iter()
                .map(|(k, v)| format!("{k}:{}", go_value(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
pub fn go_quoted_list(v: Option<&Value>) -> String {
    let items = v.and_then(Value::as_array).cloned().unwrap_or_default();
    let parts: Vec<String> = items
        .iter()
        .map(|i| match i {
            Value::String(s) => format!("{s:?}"),
            other => format!("{:?}", go_value(other)),
        })
        .collect();
    format!("[{}]", parts.join(" "))
}

/// A data value for a table cell: integers under duration-like keys are
/// humanised, everything else is printed Go-style.
pub fn cell_value(key: &str, v: &Value) -> String {
    if looks_like_duration(key)
        && let Some(secs) = v.as_i64()
    {
        return humanize_secs(secs);
    }
    go_value(v)
}

/// Map entries sorted by key (Go prints maps sorted; serde's map order
/// depends on crate features, so never rely on it).
pub fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// Renders rows as columns like Vault's `columnOutput`: cells are trimmed,
/// empty cells become `n/a`, every column but the last is padded to its
/// widest cell and followed by four spaces.
pub fn columns(rows: &[Vec<String>]) -> String {
    let cleaned: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|c| {
                    let t = c.trim();
                    if t.is_empty() {
                        "n/a".to_string()
                    } else {
                        t.to_string()
                    }
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &cleaned {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(cur) => *cur = (*cur).max(w),
                None => widths.push(w),
            }
        }
    }
    let lines: Vec<String> = cleaned
        .iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                    line.push_str(GLUE);
                }
            }
            line
        })
        .collect();
    lines.join("\n")
}

/// Vault's `tableOutput`: a header row, a dash underline as long as each
/// header, then the rows.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut all = Vec::with_capacity(rows.len() + 2);
    all.push(header.iter().map(|h| h.to_string()).collect());
    all.push(header.iter().map(|h| "-".repeat(h.trim().len())).collect());
    all.extend(rows);
    columns(&all)
}

/// A `Key`/`Value` table, or `None` when there are no rows (Vault prints
/// nothing at all then).
pub fn key_value_table(rows: Vec<(String, String)>) -> Option<String> {
    if rows.is_empty() {
        return None;
    }
    Some(table(
        &["Key", "Value"],
        rows.into_iter().map(|(k, v)| vec![k, v]).collect(),
    ))
}

/// Rows for a plain map (Vault's `OutputMap`): sorted keys, durations humanised.
pub fn map_rows(map: &Map<String, Value>) -> Vec<(String, String)> {
    sorted(map)
        .into_iter()
        .map(|(k, v)| (k.clone(), cell_value(k, v)))
        .collect()
}

/// Rows for a whole secret (Vault's `TableFormatter.OutputSecret`): lease
/// rows, token rows, then the sorted data.
pub fn secret_rows(secret: &Secret) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let lease = secret.lease_duration();
    if lease > 0 {
        if secret.lease_id().is_empty() {
            // Vault calls a KV v1 "lease" a refresh interval to avoid confusion.
            rows.push(("refresh_interval".into(), humanize_secs(lease)));
        } else {
            rows.push(("lease_id".into(), secret.lease_id().to_string()));
            rows.push(("lease_duration".into(), humanize_secs(lease)));
            rows.push(("lease_renewable".into(), secret.renewable().to_string()));
        }
    }
    if let Some(auth) = secret.auth() {
        let text = |k: &str| {
            auth.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        rows.push(("token".into(), text("client_token")));
        rows.push(("token_accessor".into(), text("accessor")));
        let dur = auth
            .get("lease_duration")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let dur = if dur == 0 {
            "∞".to_string()
        } else {
            humanize_secs(dur)
        };
        rows.push(("token_duration".into(), dur));
        let renewable = auth
            .get("renewable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        rows.push(("token_renewable".into(), renewable.to_string()));
        rows.push((
            "token_policies".into(),
            go_quoted_list(auth.get("token_policies")),
        ));
        rows.push((
            "identity_policies".into(),
            go_quoted_list(auth.get("identity_policies")),
        ));
        rows.push(("policies".into(), go_quoted_list(auth.get("policies"))));
        if let Some(meta) = auth.get("metadata").and_then(Value::as_object) {
            for (k, v) in sorted(meta) {
                rows.push((format!("token_meta_{k}"), go_value(v)));
            }
        }
    }
    if let Some(wrap) = secret.wrap_info() {
        let text = |k: &str| wrap.get(k).map(go_value).unwrap_or_default();
        rows.push(("wrapping_token:".into(), text("token")));
        rows.push(("wrapping_accessor:".into(), text("accessor")));
        let ttl = wrap.get("ttl").and_then(Value::as_i64).unwrap_or(0);
        rows.push(("wrapping_token_ttl:".into(), humanize_secs(ttl)));
        rows.push((
            "wrapping_token_creation_time:".into(),
            text("creation_time"),
        ));
        rows.push((
            "wrapping_token_creation_path:".into(),
            text("creation_path"),
        ));
    }
    if let Some(data) = secret.data() {
        rows.extend(map_rows(data));
    }
    rows
}

/// Vault's `padEqualSigns`: `== Title ==` sized to roughly `total` columns.
pub fn pad_equal_signs(header: &str, total: usize) -> String {
    let mut n = total as i64 - (header.len() as i64 + 2);
    if n <= 0 {
        n = 4;
    }
    if n % 2 != 0 {
        n += 1;
    }
    let side = "=".repeat((n / 2) as usize);
    format!("{side} {header} {side}")
}

/// Vault's `getHeaderForMap`: a title sized to the key/value table below it.
pub fn header_for_map(header: &str, map: &Map<String, Value>) -> String {
    let max_key = map.keys().map(String::len).max().unwrap_or(0);
    // 4 for the column glue and 5 for len("Value").
    pad_equal_signs(header, max_key + 4 + 5)
}

/// Vault's `outputPath`: a title, the path, and a blank line.
pub fn path_block(title: &str, path: &str) -> String {
    format!("{}\n{path}\n", pad_equal_signs(title, path.len()))
}

/// The stderr block Vault prints for response warnings (`None` if none).
pub fn warnings_block(warnings: &[String]) -> Option<String> {
    if warnings.is_empty() {
        return None;
    }
    // The exact wording is Vault's; scripts grep for it.
    let mut out = String::from("WARNING! The following warnings were returned from Vault:\n\n");
    for w in warnings {
        out.push_str(&wrap_with_padding(&format!("* {w}"), 2));
        out.push_str("\n\n");
    }
    Some(out)
}

/// Greedy word wrap at Vault's line length with a left pad on every line.
pub fn wrap_with_padding(text: &str, pad: usize) -> String {
    let width = MAX_LINE.saturating_sub(pad);
    let indent = " ".repeat(pad);
    let mut lines: Vec<String> = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
        .into_iter()
        .map(|l| format!("{indent}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Go's `json.MarshalIndent(v, "", "  ")`: sorted object keys, `<>&`
/// escaped, empty containers as `{}` / `[]`.
pub fn json_pretty(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v, 0);
    out
}

/// Go-style indented JSON for an object whose key order is fixed by the
/// caller (Go marshals structs in field order, not sorted).
pub fn json_pretty_ordered(fields: &[(&str, &Value)]) -> String {
    if fields.is_empty() {
        return "{}".to_string();
    }
    let mut out = String::from("{\n");
    for (i, (k, v)) in fields.iter().enumerate() {
        out.push_str("  ");
        write_json_string(&mut out, k);
        out.push_str(": ");
        write_json(&mut out, v, 1);
        if i + 1 < fields.len() {
            out.push(',');
        }
        out.push('\n');
    }
    out.push('}');
    out
}

fn write_json(out: &mut String, v: &Value, depth: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_json_string(out, s),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&"  ".repeat(depth + 1));
                write_json(out, item, depth + 1);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&"  ".repeat(depth));
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            out.push_str("{\n");
            let entries = sorted(map);
            let last = entries.len();
            for (i, (k, v)) in entries.into_iter().enumerate() {
                out.push_str(&"  ".repeat(depth + 1));
                write_json_string(out, k);
                out.push_str(": ");
                write_json(out, v, depth + 1);
                if i + 1 < last {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&"  ".repeat(depth));
            out.push('}');
        }
    }
}

/// Go's JSON string escaping (HTML-safe, like `encoding/json`'s default).
fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_value_formats() {
        assert_eq!(go_value(&json!(null)), "<nil>");
        assert_eq!(go_value(&json!("x")), "x");
        assert_eq!(go_value(&json!(12)), "12");
        assert_eq!(go_value(&json!(true)), "true");
        assert_eq!(go_value(&json!(["a", "b"])), "[a b]");
        assert_eq!(go_value(&json!([])), "[]");
        assert_eq!(
            go_value(&json!({"b": 1, "a": [null]})),
            "map[a:[<nil>] b:1]"
        );
        assert_eq!(go_value(&json!({})), "map[]");
        assert_eq!(
            go_quoted_list(Some(&json!(["default", "root"]))),
            r#"["default" "root"]"#
        );
        assert_eq!(go_quoted_list(None), "[]");
    }

    #[test]
    fn cell_values_humanise_durations_only_for_integers() {
        assert_eq!(cell_value("ttl", &json!(3600)), "1h");
        assert_eq!(cell_value("creation_ttl", &json!(2764800)), "768h");
        assert_eq!(cell_value("ttl", &json!("1h")), "1h");
        assert_eq!(cell_value("max_versions", &json!(3600)), "3600");
    }

    #[test]
    fn key_value_table_layout() {
        let rows = vec![
            ("lease_id".to_string(), "aws/creds/r/abc".to_string()),
            ("lease_duration".to_string(), "768h".to_string()),
            ("security_token".to_string(), "<nil>".to_string()),
            ("empty".to_string(), "".to_string()),
        ];
        let expected = "\
Key               Value
---               -----
lease_id          aws/creds/r/abc
lease_duration    768h
security_token    <nil>
empty             n/a";
        assert_eq!(key_value_table(rows).unwrap(), expected);
        assert_eq!(key_value_table(vec![]), None);
    }

    #[test]
    fn multi_column_table_and_single_column_list() {
        let t = table(
            &["Path", "Type", "Accessor", "Description"],
            vec![
                vec![
                    "cubbyhole/".into(),
                    "cubbyhole".into(),
                    "cubbyhole_1".into(),
                    "per-token private secret storage".into(),
                ],
                vec!["secret/".into(), "kv".into(), "kv_2".into(), "".into()],
            ],
        );
        let expected = "\
Path          Type         Accessor       Description
----          ----         --------       -----------
cubbyhole/    cubbyhole    cubbyhole_1    per-token private secret storage
secret/       kv           kv_2           n/a";
        assert_eq!(t, expected);
        let l = table(&["Keys"], vec![vec!["a".into()], vec!["b/".into()]]);
        assert_eq!(l, "Keys\n----\na\nb/");
    }

    #[test]
    fn secret_rows_kv_v1_refresh_interval() {
        let s = Secret::from_value(json!({
            "lease_id": "", "lease_duration": 2764800, "renewable": false,
            "data": {"b": "2", "a": "1", "ttl": 60}
        }))
        .unwrap();
        let rows = secret_rows(&s);
        let keys: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(keys, ["refresh_interval", "a", "b", "ttl"]);
        assert_eq!(rows[0].1, "768h");
        assert_eq!(rows[3].1, "1m");
    }

    #[test]
    fn secret_rows_with_lease_and_auth() {
        let s = Secret::from_value(json!({
            "lease_id": "aws/creds/r/x", "lease_duration": 3599, "renewable": true,
            "data": null,
            "auth": {"client_token": "hvs.x", "accessor": "acc", "lease_duration": 0, "renewable": false,
                     "policies": ["root"], "token_policies": ["root"], "metadata": {"u": "v"}}
        }))
        .unwrap();
        let rows = secret_rows(&s);
        assert_eq!(rows[0], ("lease_id".into(), "aws/creds/r/x".into()));
        assert_eq!(rows[1], ("lease_duration".into(), "59m59s".into()));
        assert_eq!(rows[2], ("lease_renewable".into(), "true".into()));
        assert_eq!(rows[3], ("token".into(), "hvs.x".into()));
        assert_eq!(rows[5], ("token_duration".into(), "∞".into()));
        assert_eq!(rows[7], ("token_policies".into(), r#"["root"]"#.into()));
        assert_eq!(rows[8], ("identity_policies".into(), "[]".into()));
        assert_eq!(rows[10], ("token_meta_u".into(), "v".into()));
    }

    #[test]
    fn headers_match_vault() {
        let meta = json!({"created_time": "", "custom_metadata": null, "deletion_time": "", "destroyed": false, "version": 1});
        assert_eq!(
            header_for_map("Metadata", meta.as_object().unwrap()),
            "======= Metadata ======="
        );
        let data = json!({"foo": "bar"});
        assert_eq!(
            header_for_map("Data", data.as_object().unwrap()),
            "=== Data ==="
        );
        assert_eq!(
            path_block("Secret Path", "secret/data/creds"),
            "== Secret Path ==\nsecret/data/creds\n"
        );
        assert_eq!(pad_equal_signs("Secret Path", 3), "== Secret Path ==");
    }

    #[test]
    fn warnings_block_format() {
        assert_eq!(warnings_block(&[]), None);
        let w = warnings_block(&["one".to_string()]).unwrap();
        assert_eq!(
            w,
            "WARNING! The following warnings were returned from Vault:\n\n  * one\n\n"
        );
        let long = "word ".repeat(30);
        for line in wrap_with_padding(&long, 2).lines() {
            assert!(line.len() <= MAX_LINE);
            assert!(line.starts_with("  "));
        }
    }

    #[test]
    fn json_like_go() {
        let v = json!({"b": [1, {"x": "<&>"}], "a": {}, "c": [], "d": null});
        let expected = "{\n  \"a\": {},\n  \"b\": [\n    1,\n    {\n      \"x\": \"\\u003c\\u0026\\u003e\"\n    }\n  ],\n  \"c\": [],\n  \"d\": null\n}";
        assert_eq!(json_pretty(&v), expected);
        let o = json_pretty_ordered(&[("z", &json!(1)), ("a", &json!({"k": "v"}))]);
        assert_eq!(o, "{\n  \"z\": 1,\n  \"a\": {\n    \"k\": \"v\"\n  }\n}");
    }
}
