//! Builds the template tree from the lexed pieces and checks it: known functions with
//! the right number of arguments, known fields, supported actions only.

use super::TemplateError;
use super::funcs::{self, Arity};
use super::lex::{Piece, Token};

/// The fields of the data a user-name template is executed with.
pub const FIELDS: &[&str] = &["Type", "DisplayName", "PolicyName"];

/// A node of the template tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Literal text.
    Text(String),
    /// `{{ pipeline }}`: prints the pipeline's value.
    Print(Pipeline),
    /// `{{ if p }}…{{ else if q }}…{{ else }}…{{ end }}`.
    If {
        /// (condition, body) pairs, tried in order.
        branches: Vec<(Pipeline, Vec<Node>)>,
        /// The `else` body (empty without one).
        otherwise: Vec<Node>,
    },
}

/// Commands joined by `|`; each command's value becomes the last argument of the
/// next.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline(pub Vec<Command>);

/// One command: a function call, or a single operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A function and its explicit arguments.
    Call(String, Vec<Operand>),
    /// A lone operand (it cannot take a piped value).
    Operand(Operand),
}

/// A value in a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// `.Name`.
    Field(String),
    /// A string literal.
    Str(String),
    /// An integer literal.
    Int(i64),
    /// `true`/`false`.
    Bool(bool),
    /// A function named as an argument: called without arguments.
    Niladic(String),
    /// `( pipeline )`.
    Sub(Pipeline),
}

fn err(line: usize, message: impl Into<String>) -> TemplateError {
    TemplateError::Parse {
        line,
        message: message.into(),
    }
}

/// An `if` being built: finished branches, the condition and body being filled, and
/// whether the `else` body is the one being filled.
struct OpenIf {
    branches: Vec<(Pipeline, Vec<Node>)>,
    current: Option<Pipeline>,
    body: Vec<Node>,
    line: usize,
}

impl OpenIf {
    fn finish_branch(&mut self) {
        let body = std::mem::take(&mut self.body);
        if let Some(cond) = self.current.take() {
            self.branches.push((cond, body));
        } else {
            // Only reachable after `else`: the body is the else body.
            self.body = body;
        }
    }
}

/// Builds the tree.
pub fn parse(pieces: Vec<Piece>) -> Result<Vec<Node>, TemplateError> {
    let mut root: Vec<Node> = Vec::new();
    let mut stack: Vec<OpenIf> = Vec::new();
    for piece in pieces {
        let (tokens, line) = match piece {
            Piece::Text(t) => {
                current(&mut root, &mut stack).push(Node::Text(t));
                continue;
            }
            Piece::Action(tokens, line) => (tokens, line),
        };
        match tokens.first() {
            Some(Token::Ident(k)) if k == "if" => {
                let cond = pipeline(&tokens[1..], line)?;
                stack.push(OpenIf {
                    branches: Vec::new(),
                    current: Some(cond),
                    body: Vec::new(),
                    line,
                });
            }
            Some(Token::Ident(k)) if k == "else" => {
                let open = stack
                    .last_mut()
                    .filter(|o| o.current.is_some())
                    .ok_or_else(|| err(line, "unexpected {{else}}"))?;
                open.finish_branch();
                match tokens.get(1) {
                    None => {}
                    Some(Token::Ident(k)) if k == "if" => {
                        open.current = Some(pipeline(&tokens[2..], line)?);
                    }
                    Some(_) => return Err(err(line, "unexpected token after else")),
                }
            }
            Some(Token::Ident(k)) if k == "end" => {
                if tokens.len() > 1 {
                    return Err(err(line, "unexpected token after end"));
                }
                let mut open = stack.pop().ok_or_else(|| err(line, "unexpected {{end}}"))?;
                let else_body = if open.current.is_some() {
                    open.finish_branch();
                    Vec::new()
                } else {
                    std::mem::take(&mut open.body)
                };
                current(&mut root, &mut stack).push(Node::If {
                    branches: open.branches,
                    otherwise: else_body,
                });
            }
            Some(Token::Ident(k))
                if matches!(
                    k.as_str(),
                    "range" | "with" | "define" | "template" | "block" | "break" | "continue"
                ) =>
            {
                return Err(err(line, format!("{{{{{k}}}}} is not supported")));
            }
            _ => {
                let p = pipeline(&tokens, line)?;
                current(&mut root, &mut stack).push(Node::Print(p));
            }
        }
    }
    if let Some(open) = stack.last() {
        return Err(err(open.line, "unexpected EOF: {{if}} without {{end}}"));
    }
    Ok(root)
}

fn current<'a>(root: &'a mut Vec<Node>, stack: &'a mut [OpenIf]) -> &'a mut Vec<Node> {
    match stack.last_mut() {
        Some(open) => &mut open.body,
        None => root,
    }
}

/// Parses a whole pipeline from `tokens`.
fn pipeline(tokens: &[Token], line: usize) -> Result<Pipeline, TemplateError> {
    let (p, used) = pipeline_until_close(tokens, line)?;
    if used != tokens.len() {
        return Err(err(line, "unexpected \")\" in command"));
    }
    Ok(p)
}

/// Parses a pipeline up to an unmatched `)` or the end; returns it and the number of
/// tokens used (not counting the `)`).
fn pipeline_until_close(tokens: &[Token], line: usize) -> Result<(Pipeline, usize), TemplateError> {
    let mut commands = Vec::new();
    let mut words: Vec<Operand> = Vec::new();
    let mut head: Option<String> = None;
    let mut i = 0;
    let finish = |head: &mut Option<String>,
                  words: &mut Vec<Operand>,
                  commands: &mut Vec<Command>|
     -> Result<(), TemplateError> {
        let piped = !commands.is_empty();
        let command = match head.take() {
            Some(name) => {
                check_arity(&name, words.len() + usize::from(piped), line)?;
                Command::Call(name, std::mem::take(words))
            }
            None => {
                if words.is_empty() {
                    return Err(err(line, "missing value for command"));
                }
                if words.len() > 1 {
                    return Err(err(line, "can't give argument to non-function"));
                }
                if piped {
                    return Err(err(line, "can't give argument to non-function"));
                }
                Command::Operand(words.remove(0))
            }
        };
        commands.push(command);
        Ok(())
    };
    while i < tokens.len() {
        let first_word = head.is_none() && words.is_empty();
        match &tokens[i] {
            Token::Pipe => {
                finish(&mut head, &mut words, &mut commands)?;
                i += 1;
                continue;
            }
            Token::Close => break,
            Token::Ident(name)
                if first_word && !matches!(name.as_str(), "true" | "false" | "nil") =>
            {
                check_function(name, line)?;
                head = Some(name.clone());
            }
            _ => {
                let (operand, used) = operand(&tokens[i..], line)?;
                words.push(operand);
                i += used;
                continue;
            }
        }
        i += 1;
    }
    finish(&mut head, &mut words, &mut commands)?;
    Ok((Pipeline(commands), i))
}

/// Parses one operand at the start of `tokens`; returns it and the tokens used.
fn operand(tokens: &[Token], line: usize) -> Result<(Operand, usize), TemplateError> {
    match &tokens[0] {
        Token::Field(name) => {
            if !FIELDS.contains(&name.as_str()) {
                return Err(err(
                    line,
                    format!(
                        "can't evaluate field {name}: the fields are .Type, .DisplayName and .PolicyName"
                    ),
                ));
            }
            Ok((Operand::Field(name.clone()), 1))
        }
        Token::Str(s) => Ok((Operand::Str(s.clone()), 1)),
        Token::Int(n) => Ok((Operand::Int(*n), 1)),
        Token::Ident(k) if k == "true" => Ok((Operand::Bool(true), 1)),
        Token::Ident(k) if k == "false" => Ok((Operand::Bool(false), 1)),
        Token::Ident(k) if k == "nil" => Err(err(line, "nil is not a command")),
        Token::Ident(name) => {
            check_function(name, line)?;
            check_arity(name, 0, line)?;
            Ok((Operand::Niladic(name.clone()), 1))
        }
        Token::Open => {
            let (p, used) = pipeline_until_close(&tokens[1..], line)?;
            if tokens.get(1 + used) != Some(&Token::Close) {
                return Err(err(line, "unclosed left paren"));
            }
            Ok((Operand::Sub(p), used + 2))
        }
        Token::Dot => Err(err(
            line,
            "\".\" is not supported; use .Type, .DisplayName or .PolicyName",
        )),
        Token::Pipe | Token::Close => Err(err(line, "missing value for command")),
    }
}

fn check_function(name: &str, line: usize) -> Result<(), TemplateError> {
    if funcs::arity(name).is_none() {
        return Err(err(line, format!("function {name:?} not defined")));
    }
    Ok(())
}

fn check_arity(name: &str, given: usize, line: usize) -> Result<(), TemplateError> {
    let ok = match funcs::arity(name) {
        None => false,
        Some(Arity::Exactly(n)) => given == n,
        Some(Arity::AtLeast(n)) => given >= n,
    };
    if ok {
        return Ok(());
    }
    let want = match funcs::arity(name) {
        Some(Arity::Exactly(n)) => n.to_string(),
        Some(Arity::AtLeast(n)) => format!("at least {n}"),
        None => "?".to_string(),
    };
    Err(err(
        line,
        format!("wrong number of args for {name}: want {want} got {given}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::lex::lex;
    use super::*;

    fn tree(src: &str) -> Result<Vec<Node>, TemplateError> {
        parse(lex(src)?)
    }

    #[test]
    fn parses_pipelines_and_calls() {
        let t = tree(r#"{{ printf "%s-%s" (.DisplayName) unix_time | truncate 10 }}"#).unwrap();
        assert_eq!(
            t,
            vec![Node::Print(Pipeline(vec![
                Command::Call(
                    "printf".into(),
                    vec![
                        Operand::Str("%s-%s".into()),
                        Operand::Sub(Pipeline(vec![Command::Operand(Operand::Field(
                            "DisplayName".into()
                        ))])),
                        Operand::Niladic("unix_time".into()),
                    ]
                ),
                Command::Call("truncate".into(), vec![Operand::Int(10)]),
            ]))]
        );
    }

    #[test]
    fn parses_if_else_chains() {
        let t = tree(r#"{{ if eq .Type "STS" }}a{{ else if .DisplayName }}b{{ else }}c{{ end }}"#)
            .unwrap();
        let Node::If {
            branches,
            otherwise,
        } = &t[0]
        else {
            panic!("not an if: {t:?}")
        };
        assert_eq!(branches.len(), 2);
        assert_eq!(otherwise, &vec![Node::Text("c".into())]);
        let t = tree("{{ if true }}a{{ end }}").unwrap();
        assert!(matches!(&t[0], Node::If { otherwise, .. } if otherwise.is_empty()));
    }

    #[test]
    fn rejects_what_it_cannot_run() {
        for bad in [
            "{{ nope }}",
            "{{ .Unknown }}",
            "{{ truncate 3 }}",
            "{{ random }}",
            "{{ .Type 3 }}",
            "{{ 3 | .Type }}",
            "{{ range .Type }}{{ end }}",
            "{{ if .Type }}",
            "{{ end }}",
            "{{ else }}",
            "{{ (printf \"x\" }}",
            "{{ printf \"x\") }}",
            "{{ }}",
            "{{ printf \"%s\" random }}",
        ] {
            assert!(tree(bad).is_err(), "{bad}");
        }
    }
}
