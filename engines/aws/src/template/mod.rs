//! A small Go `text/template` for `username_template`.
//!
//! Vault evaluates `username_template` with Go's `text/template` and its own helper
//! functions. Engines cannot run Go, so this implements the part user-name templates
//! use: text, `{{ pipeline }}` actions with `|` pipes and parenthesised
//! sub-pipelines, `{{ if }}/{{ else if }}/{{ else }}/{{ end }}`, `{{- -}}` trimming,
//! comments, string/raw-string/integer/boolean literals, the fields `.Type`,
//! `.DisplayName` and `.PolicyName`, Vault's template functions (all but
//! `timestamp`) and the Go builtins `printf`, `print`, `eq`, `ne`, `not`, `and`,
//! `or` and `len`. Everything else (variables, `range`, `with`, `define`, other fields, `timestamp`)
//! is refused when the template is parsed, so `config/root` can reject it with a
//! `400` instead of failing every later credential request.

mod exec;
mod funcs;
mod lex;
mod parse;
mod sha256;

use core::fmt;

pub use exec::{Data, Env};
pub use funcs::format_uuid;

/// Why a template could not be parsed or run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// The text is not a template this engine can run.
    Parse {
        /// 1-based line of the offending action.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Running the template failed.
    Exec(String),
}

/// Formatted like Go's template errors (`template: template:1: …`), which Vault
/// passes through.
impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Parse { line, message } => {
                write!(f, "template: template:{line}: {message}")
            }
            TemplateError::Exec(message) => write!(f, "template: template: {message}"),
        }
    }
}

/// A parsed template, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<parse::Node>,
}

impl Template {
    /// Parses and checks `src`.
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        Ok(Template {
            nodes: parse::parse(lex::lex(src)?)?,
        })
    }

    /// Runs the template.
    pub fn render(&self, data: &Data<'_>, env: &mut Env<'_>) -> Result<String, TemplateError> {
        exec::render(&self.nodes, data, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, data: Data<'_>) -> Result<String, TemplateError> {
        let mut counter = 0u8;
        let mut random = |n: usize| -> Result<Vec<u8>, String> {
            Ok((0..n)
                .map(|_| {
                    counter = counter.wrapping_add(1);
                    counter
                })
                .collect())
        };
        let mut env = Env {
            now_nanos: 1_700_000_000_123_000_000,
            random: &mut random,
        };
        Template::parse(src)?.render(&data, &mut env)
    }

    fn iam<'a>(display: &'a str, policy: &'a str) -> Data<'a> {
        Data {
            kind: "IAM",
            display_name: display,
            policy_name: policy,
        }
    }

    #[test]
    fn vault_default_template() {
        let src = crate::username::DEFAULT_TEMPLATE;
        let name = run(src, iam("token", "my-role")).unwrap();
        assert_eq!(name, "vault-token-my-role-1700000000-123456789ABCDEFGHIJK");
        let sts = run(
            src,
            Data {
                kind: "STS",
                ..Data::default()
            },
        )
        .unwrap();
        assert_eq!(sts, "vault-1700000000-123456789ABCDEF");
        assert_eq!(sts.len(), 32);
    }

    #[test]
    fn functions_and_pipes() {
        let d = iam("Bob", "role");
        assert_eq!(run("{{ .DisplayName | lowercase }}", d).unwrap(), "bob");
        assert_eq!(
            run("{{ .DisplayName | uppercase | truncate 2 }}", d).unwrap(),
            "BO"
        );
        assert_eq!(
            run(r#"{{ .PolicyName | replace "o" "0" }}"#, d).unwrap(),
            "r0le"
        );
        assert_eq!(run("{{ unix_time_millis }}", d).unwrap(), "1700000000123");
        assert_eq!(run("{{ random 3 }}", d).unwrap(), "123");
        assert_eq!(run("{{ len .PolicyName }}", d).unwrap(), "4");
        assert_eq!(run("{{ .Type | base64 }}", d).unwrap(), "SUFN");
        assert_eq!(
            run("{{ sha256 .Type }}", d).unwrap(),
            crate::template::sha256::hex(b"IAM")
        );
        assert_eq!(
            run(r#"{{ "abcdefghijkl" | truncate_sha256 10 }}"#, d).unwrap(),
            format!("ab{}", &crate::template::sha256::hex(b"cdefghijkl")[..8])
        );
        assert_eq!(run("{{ uuid | len }}", d).unwrap(), "36");
        assert_eq!(
            run(
                r#"{{ if and (eq .Type "IAM") (ne .DisplayName "") }}y{{ else }}n{{ end }}"#,
                d
            )
            .unwrap(),
            "y"
        );
        assert_eq!(
            run(r#"{{ or "" "x" }}{{ not true }}"#, d).unwrap(),
            "xfalse"
        );
        assert_eq!(
            run(
                r#"{{ if eq .Type "STS" }}s{{ else if eq .Type "IAM" }}i{{ end }}"#,
                d
            )
            .unwrap(),
            "i"
        );
        assert_eq!(run("a {{- /* c */ -}} b", d).unwrap(), "ab");
    }

    #[test]
    fn runtime_errors() {
        let d = iam("a", "b");
        assert!(run("{{ truncate 0 .Type }}", d).is_err());
        assert!(run(r#"{{ truncate "x" .Type }}"#, d).is_err());
        assert!(run(r#"{{ eq .Type 3 }}"#, d).is_err());
    }

    #[test]
    fn parse_errors_read_like_go() {
        let e = Template::parse("x\n{{ nope }}").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"template: template:2: function "nope" not defined"#
        );
    }
}
