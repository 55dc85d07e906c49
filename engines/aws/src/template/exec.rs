//! Runs a parsed template against the user-name data.

use core::fmt;

use super::TemplateError;
use super::funcs;
use super::parse::{Command, Node, Operand, Pipeline};

/// The data a user-name template sees (Vault's `UsernameMetadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Data<'a> {
    /// `.Type`: `IAM` or `STS`.
    pub kind: &'a str,
    /// `.DisplayName`, already normalised.
    pub display_name: &'a str,
    /// `.PolicyName` (the role name), already normalised.
    pub policy_name: &'a str,
}

/// What the template functions need from the outside world.
pub struct Env<'a> {
    /// The current time, nanoseconds since the Unix epoch.
    pub now_nanos: u64,
    /// A source of `n` random bytes.
    pub random: &'a mut dyn FnMut(usize) -> Result<Vec<u8>, String>,
}

/// A value inside a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

impl Value {
    /// Go's truth: non-empty, non-zero, true.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Str(s) => !s.is_empty(),
            Value::Int(n) => *n != 0,
            Value::Bool(b) => *b,
        }
    }

    /// The Go type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Int(_) => "int",
            Value::Bool(_) => "bool",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Int(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Renders `nodes` into a string.
pub fn render(nodes: &[Node], data: &Data<'_>, env: &mut Env<'_>) -> Result<String, TemplateError> {
    let mut out = String::new();
    render_into(nodes, data, env, &mut out).map_err(TemplateError::Exec)?;
    Ok(out)
}

fn render_into(
    nodes: &[Node],
    data: &Data<'_>,
    env: &mut Env<'_>,
    out: &mut String,
) -> Result<(), String> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Print(p) => out.push_str(&pipeline(p, data, env)?.to_string()),
            Node::If {
                branches,
                otherwise,
            } => {
                let mut taken = false;
                for (cond, body) in branches {
                    if pipeline(cond, data, env)?.truthy() {
                        render_into(body, data, env, out)?;
                        taken = true;
                        break;
                    }
                }
                if !taken {
                    render_into(otherwise, data, env, out)?;
                }
            }
        }
    }
    Ok(())
}

fn pipeline(p: &Pipeline, data: &Data<'_>, env: &mut Env<'_>) -> Result<Value, String> {
    let mut piped: Option<Value> = None;
    for command in &p.0 {
        let value = match command {
            Command::Operand(o) => operand(o, data, env)?,
            Command::Call(name, args) => {
                let mut values = Vec::with_capacity(args.len() + 1);
                for a in args {
                    values.push(operand(a, data, env)?);
                }
                values.extend(piped.take());
                funcs::call(name, values, env)?
            }
        };
        piped = Some(value);
    }
    piped.ok_or_else(|| "missing value for command".to_string())
}

fn operand(o: &Operand, data: &Data<'_>, env: &mut Env<'_>) -> Result<Value, String> {
    Ok(match o {
        Operand::Field(name) => Value::Str(
            match name.as_str() {
                "Type" => data.kind,
                "DisplayName" => data.display_name,
                "PolicyName" => data.policy_name,
                other => return Err(format!("can't evaluate field {other}")),
            }
            .to_string(),
        ),
        Operand::Str(s) => Value::Str(s.clone()),
        Operand::Int(n) => Value::Int(*n),
        Operand::Bool(b) => Value::Bool(*b),
        Operand::Niladic(name) => funcs::call(name, Vec::new(), env)?,
        Operand::Sub(p) => pipeline(p, data, env)?,
    })
}
