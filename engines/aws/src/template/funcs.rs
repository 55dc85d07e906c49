//! The functions a user-name template may call: Vault's template helpers
//! (`random`, `truncate`, `truncate_sha256`, `uppercase`, `lowercase`, `replace`,
//! `sha256`, `base64`, `unix_time`, `unix_time_millis`, `uuid`) and the Go builtins
//! that make sense on strings (`printf`, `print`, `eq`, `ne`, `not`, `and`, `or`,
//! `len`). Vault's `timestamp` (Go time layouts) is not supported.

use super::exec::{Env, Value};
use super::sha256;

/// How many arguments a function takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Exactly n.
    Exactly(usize),
    /// n or more.
    AtLeast(usize),
}

/// The arity of `name`, or `None` for an unknown function.
pub fn arity(name: &str) -> Option<Arity> {
    Some(match name {
        "unix_time" | "unix_time_millis" | "uuid" => Arity::Exactly(0),
        "random" | "uppercase" | "lowercase" | "sha256" | "base64" | "not" | "len" => {
            Arity::Exactly(1)
        }
        "truncate" | "truncate_sha256" | "ne" => Arity::Exactly(2),
        "replace" => Arity::Exactly(3),
        "printf" | "and" | "or" => Arity::AtLeast(1),
        "eq" => Arity::AtLeast(2),
        "print" => Arity::AtLeast(0),
        _ => return None,
    })
}

/// The longest `random` string a template may ask for.
const MAX_RANDOM: i64 = 4096;

/// The characters `random` draws from (go-secure-stdlib's base62).
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Calls `name` with `args` (already checked for arity at parse time).
pub fn call(name: &str, args: Vec<Value>, env: &mut Env<'_>) -> Result<Value, String> {
    let mut args = args.into_iter();
    let mut next = || {
        args.next()
            .ok_or_else(|| format!("missing argument for {name}"))
    };
    match name {
        "unix_time" => Ok(Value::Str((env.now_nanos / 1_000_000_000).to_string())),
        "unix_time_millis" => Ok(Value::Str((env.now_nanos / 1_000_000).to_string())),
        "uuid" => uuid(env).map(Value::Str),
        "random" => {
            let n = int_arg(name, next()?)?;
            // Names are at most 64 characters; the cap only stops a template from
            // asking for gigabytes.
            if n > MAX_RANDOM {
                return Err(format!(
                    "error calling random: length must be at most {MAX_RANDOM} but was {n}"
                ));
            }
            random_base62(usize::try_from(n).unwrap_or(0), env).map(Value::Str)
        }
        "truncate" => {
            let max = int_arg(name, next()?)?;
            let s = str_arg(name, next()?)?;
            if max <= 0 {
                return Err(format!(
                    "error calling truncate: max length must be > 0 but was {max}"
                ));
            }
            Ok(Value::Str(truncate_bytes(&s, max as usize).to_string()))
        }
        "truncate_sha256" => {
            let max = int_arg(name, next()?)?;
            let s = str_arg(name, next()?)?;
            if max <= 8 {
                return Err(format!(
                    "error calling truncate_sha256: max length must be > 8 but was {max}"
                ));
            }
            let max = max as usize;
            if s.len() <= max {
                return Ok(Value::Str(s));
            }
            let head = truncate_bytes(&s, max - 8);
            let hash = sha256::hex(&s.as_bytes()[head.len()..]);
            Ok(Value::Str(format!("{head}{}", &hash[..8])))
        }
        "uppercase" => Ok(Value::Str(str_arg(name, next()?)?.to_uppercase())),
        "lowercase" => Ok(Value::Str(str_arg(name, next()?)?.to_lowercase())),
        "replace" => {
            let find = str_arg(name, next()?)?;
            let with = str_arg(name, next()?)?;
            let s = str_arg(name, next()?)?;
            Ok(Value::Str(if find.is_empty() {
                // Go's ReplaceAll with an empty pattern inserts between every rune.
                let mut out = with.clone();
                for c in s.chars() {
                    out.push(c);
                    out.push_str(&with);
                }
                out
            } else {
                s.replace(&find, &with)
            }))
        }
        "sha256" => Ok(Value::Str(sha256::hex(str_arg(name, next()?)?.as_bytes()))),
        "base64" => Ok(Value::Str(base64(str_arg(name, next()?)?.as_bytes()))),
        "printf" => {
            let format = str_arg(name, next()?)?;
            let rest: Vec<Value> = args.collect();
            Ok(Value::Str(printf(&format, &rest)))
        }
        "print" => Ok(Value::Str(print(&args.collect::<Vec<_>>()))),
        "eq" => {
            let first = next()?;
            for other in args {
                if equal(&first, &other)? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" => {
            let a = next()?;
            let b = next()?;
            Ok(Value::Bool(!equal(&a, &b)?))
        }
        "not" => Ok(Value::Bool(!next()?.truthy())),
        "and" => {
            let mut last = next()?;
            for v in args {
                if !last.truthy() {
                    return Ok(last);
                }
                last = v;
            }
            Ok(last)
        }
        "or" => {
            let mut last = next()?;
            for v in args {
                if last.truthy() {
                    return Ok(last);
                }
                last = v;
            }
            Ok(last)
        }
        "len" => Ok(Value::Int(str_arg(name, next()?)?.len() as i64)),
        _ => Err(format!("function {name:?} not defined")),
    }
}

fn int_arg(name: &str, v: Value) -> Result<i64, String> {
    match v {
        Value::Int(n) => Ok(n),
        other => Err(format!(
            "wrong type for value in call to {name}; expected int; got {}",
            other.type_name()
        )),
    }
}

fn str_arg(name: &str, v: Value) -> Result<String, String> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(format!(
            "wrong type for value in call to {name}; expected string; got {}",
            other.type_name()
        )),
    }
}

/// The first `max` bytes of `s`, backing off to a character boundary (Go slices
/// bytes; names are ASCII after normalisation, so this only matters for odd input).
fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn equal(a: &Value, b: &Value) -> Result<bool, String> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(x == y),
        (Value::Int(x), Value::Int(y)) => Ok(x == y),
        (Value::Bool(x), Value::Bool(y)) => Ok(x == y),
        _ => Err("error calling eq: incompatible types for comparison".to_string()),
    }
}

/// `random N`: N characters from [`BASE62`], drawn without modulo bias.
fn random_base62(n: usize, env: &mut Env<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in (env.random)(n * 2)? {
            // 248 = 4 * 62: bytes above it would favour the first characters.
            if b < 248 && out.len() < n {
                out.push(BASE62[usize::from(b % 62)] as char);
            }
        }
    }
    Ok(out)
}

/// A random UUID in go-uuid's format (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
pub fn uuid(env: &mut Env<'_>) -> Result<String, String> {
    let bytes = (env.random)(16)?;
    if bytes.len() < 16 {
        return Err("not enough random bytes".to_string());
    }
    Ok(format_uuid(&bytes))
}

/// Formats 16 bytes as a UUID string.
pub fn format_uuid(b: &[u8]) -> String {
    let hex: String = b.iter().take(16).map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Go's `fmt.Sprint`: operands joined, with a space between two non-strings.
fn print(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, v) in args.iter().enumerate() {
        let is_str = matches!(v, Value::Str(_));
        if i > 0 && !is_str && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&v.to_string());
    }
    out
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%s`, `%v`, `%d`, `%q`, `%x`,
/// `%t` and `%%`, with Go's `%!verb(type=value)`, `%!verb(MISSING)` and
/// `%!(EXTRA …)` markers for mismatches.
fn printf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        let formatted = match (verb, arg) {
            ('v', v) => Some(v.to_string()),
            ('s', Value::Str(s)) => Some(s.clone()),
            ('q', Value::Str(s)) => Some(crate::gofmt::quote(s)),
            ('x', Value::Str(s)) => Some(s.bytes().map(|b| format!("{b:02x}")).collect()),
            ('d', Value::Int(n)) => Some(n.to_string()),
            ('x', Value::Int(n)) => Some(format!("{n:x}")),
            ('t', Value::Bool(b)) => Some(b.to_string()),
            _ => None,
        };
        match formatted {
            Some(s) => out.push_str(&s),
            None => out.push_str(&format!("%!{verb}({}={arg})", arg.type_name())),
        }
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={a}", a.type_name()))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    #[test]
    fn printf_matches_go() {
        assert_eq!(printf("vault-%s-%s", &[s("a"), s("b")]), "vault-a-b");
        assert_eq!(printf("%d%%", &[Value::Int(5)]), "5%");
        assert_eq!(printf("%s", &[Value::Int(5)]), "%!s(int=5)");
        assert_eq!(printf("%s-%s", &[s("a")]), "a-%!s(MISSING)");
        assert_eq!(printf("x", &[s("a")]), "x%!(EXTRA string=a)");
        assert_eq!(printf("%q", &[s("a\"")]), r#""a\"""#);
    }

    #[test]
    fn base64_and_uuid_format() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(
            format_uuid(&[0xab; 16]),
            "abababab-abab-abab-abab-abababababab"
        );
    }

    #[test]
    fn print_spaces_non_strings() {
        assert_eq!(print(&[s("a"), s("b")]), "ab");
        assert_eq!(print(&[Value::Int(1), Value::Int(2)]), "1 2");
        assert_eq!(print(&[s("a"), Value::Int(2)]), "a2");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_bytes("abcdef", 3), "abc");
        assert_eq!(truncate_bytes("ab", 3), "ab");
        assert_eq!(truncate_bytes("aé", 2), "a");
    }
}
