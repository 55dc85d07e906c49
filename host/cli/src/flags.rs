//! A tiny Go-`flag`-style parser.
//!
//! Vault's CLI is built on Go's `flag` package, so scripts written for it use
//! `-flag=value`, `-flag value`, `--flag`, bare `-bool-flag`, and stop flag
//! parsing at the first positional argument (or `--`). This module reproduces
//! exactly that, including Go's error texts, so muscle memory and scripts carry
//! over unchanged.

use std::collections::BTreeMap;

/// How a flag takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `-name` or `-name=true|false`; never consumes the next argument.
    Bool,
    /// `-name=value` or `-name value`; the last occurrence wins.
    Str,
    /// Like [`Kind::Str`] but the value must be a (signed) integer.
    Int,
    /// Like [`Kind::Str`] but every occurrence is kept, in order.
    Multi,
}

/// One flag a command accepts.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The flag name without dashes.
    pub name: &'static str,
    /// How it takes its value.
    pub kind: Kind,
}

impl Spec {
    /// Shorthand constructor.
    pub const fn new(name: &'static str, kind: Kind) -> Self {
        Spec { name, kind }
    }
}

/// Why parsing failed. The texts are Go's, which Vault prints verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    /// `-h`, `-help` or `--help` was given.
    #[error("help requested")]
    Help,
    /// A flag that the command does not know.
    #[error("flag provided but not defined: -{0}")]
    Unknown(String),
    /// A value flag at the very end of the arguments.
    #[error("flag needs an argument: -{0}")]
    MissingValue(String),
    /// `-=x`, `---x` and the like.
    #[error("bad flag syntax: {0}")]
    BadSyntax(String),
    /// A value that does not parse for the flag's kind.
    #[error("invalid {what} \"{value}\" for {flag}: parse error")]
    BadValue {
        /// `boolean value` or `value`, as Go words it.
        what: &'static str,
        /// The offending text.
        value: String,
        /// `-name` (bool) or `flag -name` (others), as Go words it.
        flag: String,
    },
}

/// The outcome of a successful parse.
#[derive(Debug, Default, Clone)]
pub struct Parsed {
    values: BTreeMap<&'static str, Vec<String>>,
    /// Positional arguments, in order.
    pub args: Vec<String>,
}

impl Parsed {
    /// Whether the flag appeared at all.
    pub fn is_set(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The last value given for a flag.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// The value of a flag, or `""` when absent.
    pub fn str(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// A boolean flag; absent means false. Values were validated by [`parse`].
    pub fn bool(&self, name: &str) -> bool {
        self.get(name).and_then(parse_bool).unwrap_or(false)
    }

    /// An integer flag, or `default` when absent. Values were validated by [`parse`].
    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// Every value given for a flag, in order.
    pub fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Positional arguments that look like flags. Go stops at the first
    /// positional argument, so these were *not* treated as flags; Vault warns
    /// about them and so do we.
    pub fn late_flags(&self) -> Vec<&str> {
        self.args
            .iter()
            .skip(1)
            .map(String::as_str)
            .filter(|a| a.len() > 1 && a.starts_with('-'))
            .collect()
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Parses `args` against `specs` with Go `flag` semantics.
pub fn parse(specs: &[Spec], args: &[String]) -> Result<Parsed, FlagError> {
    let mut parsed = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            i += 1;
            break;
        }
        if arg.len() < 2 || !arg.starts_with('-') {
            break;
        }
        let body = arg.strip_prefix("--").unwrap_or_else(|| &arg[1..]);
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(FlagError::BadSyntax(arg.clone()));
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let Some(spec) = specs.iter().find(|s| s.name == name) else {
            if name == "h" || name == "help" {
                return Err(FlagError::Help);
            }
            return Err(FlagError::Unknown(name.to_string()));
        };
        i += 1;
        let value = match (spec.kind, inline) {
            (Kind::Bool, Some(v)) => {
                if parse_bool(&v).is_none() {
                    return Err(FlagError::BadValue {
                        what: "boolean value",
                        value: v,
                        flag: format!("-{name}"),
                    });
                }
                v
            }
            (Kind::Bool, None) => "true".to_string(),
            (_, Some(v)) => v,
            (_, None) => {
                let Some(v) = args.get(i) else {
                    return Err(FlagError::MissingValue(name.to_string()));
                };
                i += 1;
                v.clone()
            }
        };
        if spec.kind == Kind::Int && value.parse::<i64>().is_err() {
            return Err(FlagError::BadValue {
                what: "value",
                value,
                flag: format!("flag -{name}"),
            });
        }
        let slot = parsed.values.entry(spec.name).or_default();
        if spec.kind != Kind::Multi {
            slot.clear();
        }
        slot.push(value);
    }
    parsed.args = args[i..].to_vec();
    Ok(parsed)
}

/// Splits `k=v` map-flag values (`-options=version=2`), as Vault's map flags do.
pub fn parse_map(values: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for v in values {
        let Some((k, val)) = v.split_once('=') else {
            return Err(format!("missing = in KV pair: {v:?}"));
        };
        out.insert(k.to_string(), val.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[Spec] = &[
        Spec::new("path", Kind::Str),
        Spec::new("detailed", Kind::Bool),
        Spec::new("version", Kind::Int),
        Spec::new("options", Kind::Multi),
    ];

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn all_value_syntaxes() {
        let p = parse(
            SPECS,
            &args(&[
                "-path=a",
                "--version",
                "2",
                "-detailed",
                "--options=x=1",
                "-options",
                "y=2",
                "kv",
            ]),
        )
        .unwrap();
        assert_eq!(p.get("path"), Some("a"));
        assert_eq!(p.int("version", 0), 2);
        assert!(p.bool("detailed"));
        assert_eq!(p.all("options"), ["x=1", "y=2"]);
        assert_eq!(p.args, ["kv"]);
    }

    #[test]
    fn stops_at_first_positional_and_double_dash() {
        let p = parse(SPECS, &args(&["secret/foo", "-path=x"])).unwrap();
        assert!(!p.is_set("path"));
        assert_eq!(p.args, ["secret/foo", "-path=x"]);
        assert_eq!(p.late_flags(), ["-path=x"]);

        let p = parse(SPECS, &args(&["--", "-path=x"])).unwrap();
        assert_eq!(p.args, ["-path=x"]);

        // A lone dash is a positional (stdin marker), not a flag.
        let p = parse(SPECS, &args(&["-", "x"])).unwrap();
        assert_eq!(p.args, ["-", "x"]);
        assert!(p.late_flags().is_empty());
    }

    #[test]
    fn bool_flags_never_take_the_next_argument() {
        let p = parse(SPECS, &args(&["-detailed", "false"])).unwrap();
        assert!(p.bool("detailed"));
        assert_eq!(p.args, ["false"]);
        let p = parse(SPECS, &args(&["-detailed=false"])).unwrap();
        assert!(!p.bool("detailed"));
        assert!(p.is_set("detailed"));
    }

    #[test]
    fn last_value_wins() {
        let p = parse(SPECS, &args(&["-path=a", "-path=b"])).unwrap();
        assert_eq!(p.str("path"), "b");
    }

    #[test]
    fn errors_use_go_wording() {
        let e = parse(SPECS, &args(&["-nope"])).unwrap_err();
        assert_eq!(e.to_string(), "flag provided but not defined: -nope");
        let e = parse(SPECS, &args(&["-path"])).unwrap_err();
        assert_eq!(e.to_string(), "flag needs an argument: -path");
        let e = parse(SPECS, &args(&["-version=x"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value \"x\" for flag -version: parse error"
        );
        let e = parse(SPECS, &args(&["-detailed=maybe"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid boolean value \"maybe\" for -detailed: parse error"
        );
        assert_eq!(
            parse(SPECS, &args(&["---x"])).unwrap_err().to_string(),
            "bad flag syntax: ---x"
        );
        assert_eq!(parse(SPECS, &args(&["-h"])).unwrap_err(), FlagError::Help);
        assert_eq!(
            parse(SPECS, &args(&["--help"])).unwrap_err(),
            FlagError::Help
        );
    }

    #[test]
    fn map_values() {
        let m = parse_map(&args(&["version=2", "a=b=c"])).unwrap();
        assert_eq!(m.get("version").map(String::as_str), Some("2"));
        assert_eq!(m.get("a").map(String::as_str), Some("b=c"));
        assert!(parse_map(&args(&["novalue"])).is_err());
    }
}
