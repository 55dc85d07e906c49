//! Typed reading of request fields, with Vault's lenient ("weak") conversions.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::duration::{Seconds, parse_duration_value};

/// A type a request field can be read as, through [`Request::get`](crate::Request::get).
///
/// Clients send the same field in different shapes: hvac sends JSON types, the Vault
/// CLI and form bodies send strings, query strings are always strings. Vault accepts
/// them all, so these conversions do too:
///
/// | Rust type | accepts |
/// |---|---|
/// | `String` | strings; numbers and booleans as their text |
/// | `bool` | `true`/`false`; strings `1,t,T,TRUE,true,True` and `0,f,F,FALSE,false,False`; numbers (non-zero is true); `""` is false |
/// | integers (`i64`, `u64`, `i32`, `u32`, `usize`) | integral numbers; numeric strings; `""` is 0 |
/// | [`Seconds`], [`std::time::Duration`] | Vault durations: numbers (seconds), `"90"`, `"30m"`, `"1h30m"`, `"1d"`; `""` is 0 |
/// | `Vec<String>` | arrays; comma-separated strings (items trimmed, empty ones dropped) |
/// | `Vec<i64>`, `Vec<u64>` | arrays; comma-separated strings; a single number |
/// | `BTreeMap<String, String>` | objects (values as for `String`); arrays of `"key=value"` |
/// | `Map<String, Value>` | objects |
/// | `Value` | anything |
///
/// JSON `null` always means "not provided" and never reaches these conversions.
pub trait FromField: Sized {
    /// Converts a present (non-null) field value. The error says what was expected and
    /// becomes part of a `400` message naming the field.
    fn from_field(value: &Value) -> Result<Self, String>;
}

impl FromField for Value {
    fn from_field(value: &Value) -> Result<Self, String> {
        Ok(value.clone())
    }
}

impl FromField for String {
    fn from_field(value: &Value) -> Result<Self, String> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err("expected a string".to_string()),
        }
    }
}

impl FromField for bool {
    fn from_field(value: &Value) -> Result<Self, String> {
        match value {
            Value::Bool(b) => Ok(*b),
            Value::String(s) => {
                parse_bool(s).ok_or_else(|| format!("cannot parse {s:?} as a boolean"))
            }
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => Ok(i != 0),
                (_, Some(u), _) => Ok(u != 0),
                (_, _, Some(f)) => Ok(f != 0.0),
                _ => Err("expected a boolean".to_string()),
            },
            _ => Err("expected a boolean".to_string()),
        }
    }
}

/// Go's `strconv.ParseBool`, plus `""` as false (Vault's weak decoding).
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" | "" => Some(false),
        _ => None,
    }
}

/// Reads an integer from a number or a numeric string, as `i128` so every Rust integer
/// type can range-check the result itself.
fn parse_integer(value: &Value) -> Result<i128, String> {
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i128::from(i))
            } else if let Some(u) = n.as_u64() {
                Ok(i128::from(u))
            } else {
                match n.as_f64() {
                    // JSON clients sometimes send 3.0 for 3; fractions are a mistake.
                    Some(f) if f.fract() == 0.0 && f.abs() < 1e18 => Ok(f as i128),
                    _ => Err(format!("expected an integer, got {n}")),
                }
            }
        }
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                return Ok(0);
            }
            t.parse::<i128>()
                .map_err(|_| format!("cannot parse {s:?} as an integer"))
        }
        _ => Err("expected an integer".to_string()),
    }
}

macro_rules! integer_fields {
    ($($t:ty),*) => {$(
        impl FromField for $t {
            fn from_field(value: &Value) -> Result<Self, String> {
                let i = parse_integer(value)?;
                <$t>::try_from(i).map_err(|_| format!("{i} is out of range"))
            }
        }
    )*};
}
integer_fields!(i64, u64, i32, u32, usize);

impl FromField for Seconds {
    fn from_field(value: &Value) -> Result<Self, String> {
        parse_duration_value(value).map(Seconds)
    }
}

impl FromField for std::time::Duration {
    fn from_field(value: &Value) -> Result<Self, String> {
        let secs = parse_duration_value(value)?;
        u64::try_from(secs)
            .map(std::time::Duration::from_secs)
            .map_err(|_| "cannot be negative".to_string())
    }
}

impl FromField for Vec<String> {
    fn from_field(value: &Value) -> Result<Self, String> {
        match value {
            Value::Array(items) => items
                .iter()
                .filter(|v| !v.is_null())
                .map(String::from_field)
                .collect(),
            Value::String(s) => Ok(split_commas(s).map(str::to_string).collect()),
            _ => Err("expected a list of strings or a comma-separated string".to_string()),
        }
    }
}

fn split_commas(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|item| !item.is_empty())
}

fn integer_list<T: FromField>(value: &Value) -> Result<Vec<T>, String> {
    match value {
        Value::Array(items) => items.iter().map(T::from_field).collect(),
        Value::String(s) => split_commas(s)
            .map(|item| T::from_field(&Value::String(item.to_string())))
            .collect(),
        Value::Number(_) => Ok(vec![T::from_field(value)?]),
        _ => Err("expected a list of integers or a comma-separated string".to_string()),
    }
}

impl FromField for Vec<i64> {
    fn from_field(value: &Value) -> Result<Self, String> {
        integer_list(value)
    }
}

impl FromField for Vec<u64> {
    fn from_field(value: &Value) -> Result<Self, String> {
        integer_list(value)
    }
}

impl FromField for BTreeMap<String, String> {
    fn from_field(value: &Value) -> Result<Self, String> {
        match value {
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| {
                    let v = if v.is_null() {
                        String::new()
                    } else {
                        String::from_field(v).map_err(|e| format!("key {k:?}: {e}"))?
                    };
                    Ok((k.clone(), v))
                })
                .collect(),
            Value::Array(items) => items
                .iter()
                .map(|item| {
                    let s = String::from_field(item)?;
                    match s.split_once('=') {
                        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
                        _ => Err(format!("expected \"key=value\", got {s:?}")),
                    }
                })
                .collect(),
            _ => Err("expected an object of strings".to_string()),
        }
    }
}

impl FromField for Map<String, Value> {
    fn from_field(value: &Value) -> Result<Self, String> {
        match value {
            Value::Object(map) => Ok(map.clone()),
            _ => Err("expected an object".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn get<T: FromField>(v: Value) -> Result<T, String> {
        T::from_field(&v)
    }

    #[test]
    fn strings() {
        assert_eq!(get::<String>(json!("a")), Ok("a".into()));
        assert_eq!(get::<String>(json!(12)), Ok("12".into()));
        assert_eq!(get::<String>(json!(true)), Ok("true".into()));
        assert!(get::<String>(json!({})).is_err());
        assert!(get::<String>(json!([])).is_err());
    }

    #[test]
    fn booleans() {
        for t in [
            json!(true),
            json!("true"),
            json!("True"),
            json!("1"),
            json!("t"),
            json!(1),
        ] {
            assert_eq!(get::<bool>(t.clone()), Ok(true), "{t}");
        }
        for f in [
            json!(false),
            json!("false"),
            json!("0"),
            json!("F"),
            json!(""),
            json!(0),
        ] {
            assert_eq!(get::<bool>(f.clone()), Ok(false), "{f}");
        }
        assert!(get::<bool>(json!("yes")).is_err());
        assert!(get::<bool>(json!([])).is_err());
    }

    #[test]
    fn integers() {
        assert_eq!(get::<i64>(json!(5)), Ok(5));
        assert_eq!(get::<i64>(json!("-5")), Ok(-5));
        assert_eq!(get::<i64>(json!(" 7 ")), Ok(7));
        assert_eq!(get::<i64>(json!("")), Ok(0));
        assert_eq!(get::<i64>(json!(3.0)), Ok(3));
        assert!(get::<i64>(json!(3.5)).is_err());
        assert!(get::<i64>(json!("3.5")).is_err());
        assert!(get::<i64>(json!("x")).is_err());
        assert!(get::<i64>(json!(true)).is_err());
        assert_eq!(get::<u64>(json!(u64::MAX)), Ok(u64::MAX));
        assert!(get::<u64>(json!(-1)).is_err());
        assert!(get::<u32>(json!(5_000_000_000u64)).is_err());
        assert_eq!(get::<usize>(json!("10")), Ok(10));
    }

    #[test]
    fn durations() {
        assert_eq!(get::<Seconds>(json!("1h")), Ok(Seconds(3600)));
        assert_eq!(get::<Seconds>(json!(-1)), Ok(Seconds(-1)));
        assert_eq!(get::<Seconds>(json!("1d")), Ok(Seconds(86400)));
        assert_eq!(get::<Duration>(json!("90s")), Ok(Duration::from_secs(90)));
        assert_eq!(get::<Duration>(json!(30)), Ok(Duration::from_secs(30)));
        assert!(get::<Duration>(json!("-1s")).is_err());
        assert!(get::<Seconds>(json!("soon")).is_err());
    }

    #[test]
    fn string_lists() {
        assert_eq!(
            get::<Vec<String>>(json!(["a", "b"])),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            get::<Vec<String>>(json!("a, b,,c ")),
            Ok(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(get::<Vec<String>>(json!("")), Ok(vec![]));
        assert_eq!(
            get::<Vec<String>>(json!([1, "x"])),
            Ok(vec!["1".into(), "x".into()])
        );
        assert!(get::<Vec<String>>(json!({})).is_err());
    }

    #[test]
    fn integer_lists() {
        assert_eq!(get::<Vec<u64>>(json!([1, "2", 3])), Ok(vec![1, 2, 3]));
        assert_eq!(get::<Vec<u64>>(json!("1,2, 3")), Ok(vec![1, 2, 3]));
        assert_eq!(get::<Vec<u64>>(json!(4)), Ok(vec![4]));
        assert_eq!(get::<Vec<i64>>(json!([])), Ok(vec![]));
        assert!(get::<Vec<u64>>(json!("1,x")).is_err());
        assert!(get::<Vec<u64>>(json!([-1])).is_err());
    }

    #[test]
    fn string_maps() {
        let m = get::<BTreeMap<String, String>>(json!({"a": "x", "b": 2, "c": null})).unwrap();
        assert_eq!(m.get("a").map(String::as_str), Some("x"));
        assert_eq!(m.get("b").map(String::as_str), Some("2"));
        assert_eq!(m.get("c").map(String::as_str), Some(""));
        let m = get::<BTreeMap<String, String>>(json!(["k=v", "e=a=b"])).unwrap();
        assert_eq!(m.get("e").map(String::as_str), Some("a=b"));
        assert!(get::<BTreeMap<String, String>>(json!(["novalue"])).is_err());
        assert!(get::<BTreeMap<String, String>>(json!({"a": {}})).is_err());
        assert!(get::<BTreeMap<String, String>>(json!("a=b")).is_err());
    }

    #[test]
    fn objects() {
        assert!(get::<Map<String, Value>>(json!({"a": 1})).is_ok());
        assert!(get::<Map<String, Value>>(json!([1])).is_err());
    }
}
