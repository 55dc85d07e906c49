//! `k=v` argument parsing, a port of Vault's `kvbuilder`.
//!
//! * `k=v` sets a string; repeating a key turns it into a list.
//! * `k=@file` reads the value from a file; `k=\@x` is the literal `@x`.
//! * `k=-` reads the value from stdin (once).
//! * a lone `-` merges a JSON object read from stdin; a lone `@file` merges a
//!   JSON object read from the file.

use std::io::Read;

use serde_json::{Map, Value};

/// Where file contents come from (a seam so tests need no real files).
pub type FileReader<'a> = &'a dyn Fn(&str) -> std::io::Result<String>;

/// Reads a file from disk.
pub fn read_file_from_disk(path: &str) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

/// Parses `args` into a JSON object the way `vault write` does.
pub fn parse(
    args: &[String],
    stdin: &mut dyn Read,
    read_file: FileReader<'_>,
) -> Result<Map<String, Value>, String> {
    let mut builder = Builder {
        stdin,
        stdin_used: false,
        read_file,
        result: Map::new(),
    };
    for arg in args {
        builder
            .add(arg)
            .map_err(|e| format!("invalid key/value pair {arg:?}: {e}"))?;
    }
    Ok(builder.result)
}

/// Flattens parsed data into query parameters (Vault's
/// `parseArgsDataStringLists`): lists become repeated parameters.
pub fn to_query(data: &Map<String, Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in crate::output::sorted(data) {
        match v {
            Value::Array(items) => {
                for item in items {
                    out.push((k.clone(), scalar_text(item)));
                }
            }
            other => out.push((k.clone(), scalar_text(other))),
        }
    }
    out
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

struct Builder<'a> {
    stdin: &'a mut dyn Read,
    stdin_used: bool,
    read_file: FileReader<'a>,
    result: Map<String, Value>,
}

impl Builder<'_> {
    fn add(&mut self, raw: &str) -> Result<(), String> {
        if raw.is_empty() {
            return Ok(());
        }
        let Some((key, value)) = raw.split_once('=') else {
            if raw == "-" {
                let text = self.take_stdin()?;
                return self.merge_json(&text);
            }
            if let Some(path) = raw.strip_prefix('@') {
                let text = (self.read_file)(path).map_err(|e| e.to_string())?;
                return self.merge_json(&text);
            }
            return Err("format must be key=value".to_string());
        };
        let value = if let Some(path) = value.strip_prefix('@') {
            (self.read_file)(path).map_err(|e| format!("error reading file: {e}"))?
        } else if let Some(literal) = value.strip_prefix("\\@") {
            format!("@{literal}")
        } else if value == "-" {
            self.take_stdin()?
        } else {
            value.to_string()
        };
        let value = Value::String(value);
        match self.result.get_mut(key) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                self.result.insert(key.to_string(), value);
            }
        }
        Ok(())
    }

    fn take_stdin(&mut self) -> Result<String, String> {
        if self.stdin_used {
            return Err("stdin already consumed".to_string());
        }
        self.stdin_used = true;
        let mut text = String::new();
        self.stdin
            .read_to_string(&mut text)
            .map_err(|e| e.to_string())?;
        Ok(text)
    }

    fn merge_json(&mut self, text: &str) -> Result<(), String> {
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        match value {
            Value::Object(map) => {
                self.result.extend(map);
                Ok(())
            }
            Value::Null => Ok(()),
            _ => Err("json: cannot unmarshal into a key/value object".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn files(path: &str) -> std::io::Result<String> {
        match path {
            "v.txt" => Ok("file-value".to_string()),
            "d.json" => Ok(r#"{"from_file": true}"#.to_string()),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such file",
            )),
        }
    }

    fn run(args: &[&str], stdin: &str) -> Result<Value, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut input = stdin.as_bytes();
        parse(&args, &mut input, &files).map(Value::Object)
    }

    #[test]
    fn plain_pairs_and_repeats() {
        assert_eq!(
            run(&["a=1", "b=x=y", "c="], "").unwrap(),
            json!({"a": "1", "b": "x=y", "c": ""})
        );
        assert_eq!(
            run(&["k=1", "k=2", "k=3"], "").unwrap(),
            json!({"k": ["1", "2", "3"]})
        );
    }

    #[test]
    fn files_and_escapes() {
        assert_eq!(run(&["k=@v.txt"], "").unwrap(), json!({"k": "file-value"}));
        assert_eq!(run(&["k=\\@v.txt"], "").unwrap(), json!({"k": "@v.txt"}));
        assert_eq!(
            run(&["@d.json", "x=1"], "").unwrap(),
            json!({"from_file": true, "x": "1"})
        );
        let e = run(&["k=@missing"], "").unwrap_err();
        assert!(
            e.starts_with("invalid key/value pair \"k=@missing\": error reading file"),
            "{e}"
        );
    }

    #[test]
    fn stdin_forms() {
        assert_eq!(
            run(&["-"], r#"{"a": 1, "b": [true]}"#).unwrap(),
            json!({"a": 1, "b": [true]})
        );
        assert_eq!(run(&["k=-"], "abc\n").unwrap(), json!({"k": "abc\n"}));
        let e = run(&["a=-", "b=-"], "x").unwrap_err();
        assert!(e.contains("stdin already consumed"), "{e}");
        assert!(run(&["-"], "[1]").is_err());
        assert!(run(&["-"], "not json").is_err());
    }

    #[test]
    fn bad_pairs() {
        let e = run(&["novalue"], "").unwrap_err();
        assert_eq!(
            e,
            "invalid key/value pair \"novalue\": format must be key=value"
        );
    }

    #[test]
    fn query_flattening() {
        let data = run(&["b=2", "a=1", "a=3"], "").unwrap();
        let q = to_query(data.as_object().unwrap());
        assert_eq!(
            q,
            vec![
                ("a".into(), "1".into()),
                ("a".into(), "3".into()),
                ("b".into(), "2".into())
            ]
        );
    }
}
