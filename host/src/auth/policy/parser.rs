//! A small hand-written parser for the part of HCL (version 1, the dialect Vault reads
//! policies with) that policies use, plus the JSON form.
//!
//! Both produce the same generic tree ([`Node`]); [`super::ast`] gives it meaning.
//! Supported HCL: `key = value` and `key "label" { ... }` items (optionally separated by
//! commas), strings with escapes, heredocs (`<<EOF`, `<<-EOF`), numbers, `true`/`false`,
//! lists with trailing commas, nested objects, and `#`, `//`, `/* */` comments.
//! Text whose first non-blank character is `{` is read as JSON, as HCL does.

use super::PolicyError;

/// A parsed value and the 1-based line it starts on (`None` for JSON input).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// Where the value starts.
    pub line: Option<usize>,
    /// The value.
    pub value: Value,
}

/// A generic HCL/JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A string (quoted or heredoc).
    String(String),
    /// A number, kept as written.
    Number(String),
    /// `true` / `false`.
    Bool(bool),
    /// JSON `null`.
    Null,
    /// `[a, b]`.
    List(Vec<Node>),
    /// `{ key = value ... }` or a block body.
    Object(Vec<Entry>),
}

impl Value {
    /// A short description for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Number(_) => "a number",
            Value::Bool(_) => "a boolean",
            Value::Null => "null",
            Value::List(_) => "a list",
            Value::Object(_) => "an object",
        }
    }
}

/// One item of an object: `keys... = value` or `keys... { body }`.
///
/// `path "secret/*" { ... }` has keys `["path", "secret/*"]`; the JSON form
/// `{"path": {"secret/*": {...}}}` has a single key per level instead.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The line of the first key.
    pub line: Option<usize>,
    /// The key and its labels.
    pub keys: Vec<String>,
    /// The value or block body.
    pub value: Node,
}

/// Parses policy text, choosing JSON when it starts with `{`.
pub(crate) fn parse_document(text: &str) -> Result<Vec<Entry>, PolicyError> {
    if text.trim_start().starts_with('{') {
        parse_json(text)
    } else {
        let tokens = Lexer::new(text).tokens()?;
        Parser { tokens, pos: 0 }.body(true)
    }
}

// ---------------------------------------------------------------------------------
// JSON

fn parse_json(text: &str) -> Result<Vec<Entry>, PolicyError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| PolicyError::Syntax {
        line: Some(e.line()),
        message: format!("invalid JSON: {e}"),
    })?;
    match from_json(value).value {
        Value::Object(entries) => Ok(entries),
        other => Err(PolicyError::Syntax {
            line: None,
            message: format!("expected a JSON object, found {}", other.kind()),
        }),
    }
}

fn from_json(v: serde_json::Value) -> Node {
    let value = match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => Value::Number(n.to_string()),
        serde_json::Value::String(s) => Value::String(s),
        serde_json::Value::Array(items) => Value::List(items.into_iter().map(from_json).collect()),
        serde_json::Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| Entry {
                    line: None,
                    keys: vec![k],
                    value: from_json(v),
                })
                .collect(),
        ),
    };
    Node { line: None, value }
}

// ---------------------------------------------------------------------------------
// HCL lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Number(String),
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Equals,
    Comma,
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("identifier {s:?}"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Number(n) => format!("number {n}"),
            Tok::LBrace => "'{'".into(),
            Tok::RBrace => "'}'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Equals => "'='".into(),
            Tok::Comma => "','".into(),
            Tok::Eof => "end of input".into(),
        }
    }
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
}

fn syntax(line: usize, message: impl Into<String>) -> PolicyError {
    PolicyError::Syntax {
        line: Some(line),
        message: message.into(),
    }
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            chars: text.chars().peekable(),
            line: 1,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn tokens(mut self) -> Result<Vec<(Tok, usize)>, PolicyError> {
        let mut out = Vec::new();
        loop {
            self.skip_blank_and_comments()?;
            let line = self.line;
            let Some(c) = self.bump() else {
                out.push((Tok::Eof, line));
                return Ok(out);
            };
            let tok = match c {
                '{' => Tok::LBrace,
                '}' => Tok::RBrace,
                '[' => Tok::LBracket,
                ']' => Tok::RBracket,
                '=' => Tok::Equals,
                ',' => Tok::Comma,
                '"' => Tok::Str(self.string(line)?),
                '<' if self.chars.peek() == Some(&'<') => {
                    self.bump();
                    Tok::Str(self.heredoc(line)?)
                }
                c if c.is_ascii_digit() || c == '-' || c == '.' => Tok::Number(self.number(c)),
                c if c.is_alphabetic() || c == '_' => Tok::Ident(self.ident(c)),
                other => return Err(syntax(line, format!("unexpected character {other:?}"))),
            };
            out.push((tok, line));
        }
    }

    fn skip_blank_and_comments(&mut self) -> Result<(), PolicyError> {
        loop {
            match self.chars.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('#') => self.skip_line(),
                Some('/') => {
                    let start = self.line;
                    self.bump();
                    match self.bump() {
                        Some('/') => self.skip_line(),
                        Some('*') => self.skip_block_comment(start)?,
                        _ => return Err(syntax(start, "unexpected character '/'")),
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.bump() {
            if c == '\n' {
                return;
            }
        }
    }

    fn skip_block_comment(&mut self, start: usize) -> Result<(), PolicyError> {
        let mut prev = '\0';
        while let Some(c) = self.bump() {
            if prev == '*' && c == '/' {
                return Ok(());
            }
            prev = c;
        }
        Err(syntax(start, "unterminated /* comment"))
    }

    fn string(&mut self, start: usize) -> Result<String, PolicyError> {
        let mut s = String::new();
        loop {
            match self.bump() {
                None | Some('\n') => return Err(syntax(start, "unterminated string")),
                Some('"') => return Ok(s),
                Some('\\') => {
                    let line = self.line;
                    match self.bump() {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some('r') => s.push('\r'),
                        Some('"') => s.push('"'),
                        Some('\\') => s.push('\\'),
                        Some('/') => s.push('/'),
                        Some('u') => s.push(self.unicode_escape(line, 4)?),
                        Some('U') => s.push(self.unicode_escape(line, 8)?),
                        Some(other) => {
                            return Err(syntax(line, format!("unknown escape sequence \\{other}")));
                        }
                        None => return Err(syntax(start, "unterminated string")),
                    }
                }
                Some(c) => s.push(c),
            }
        }
    }

    fn unicode_escape(&mut self, line: usize, digits: usize) -> Result<char, PolicyError> {
        let mut code = 0u32;
        for _ in 0..digits {
            let d = self
                .bump()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| syntax(line, "invalid unicode escape"))?;
            code = code * 16 + d;
        }
        char::from_u32(code).ok_or_else(|| syntax(line, "invalid unicode escape"))
    }

    /// After `<<`: `[-]MARKER\n ... \nMARKER`.
    fn heredoc(&mut self, start: usize) -> Result<String, PolicyError> {
        let indented = self.chars.peek() == Some(&'-');
        if indented {
            self.bump();
        }
        let mut marker = String::new();
        while let Some(&c) = self.chars.peek() {
            if c.is_alphanumeric() || c == '_' {
                marker.push(c);
                self.bump();
            } else {
                break;
            }
        }
        if marker.is_empty() || self.bump() != Some('\n') {
            return Err(syntax(
                start,
                "invalid heredoc: expected <<MARKER and a newline",
            ));
        }
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let mut ended = false;
            loop {
                match self.bump() {
                    Some('\n') => break,
                    Some(c) => line.push(c),
                    None => {
                        ended = true;
                        break;
                    }
                }
            }
            if line.trim() == marker && (indented || line.trim_end() == marker) {
                break;
            }
            if ended {
                return Err(syntax(start, format!("unterminated heredoc {marker}")));
            }
            lines.push(line);
        }
        if indented {
            let indent = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            for l in &mut lines {
                *l = l.get(indent..).unwrap_or("").to_string();
            }
        }
        let mut out = lines.join("\n");
        out.push('\n');
        Ok(out)
    }

    fn number(&mut self, first: char) -> String {
        let mut s = String::from(first);
        while let Some(&c) = self.chars.peek() {
            if c.is_ascii_alphanumeric() || c == '.' || c == '+' || c == '-' {
                s.push(c);
                self.bump();
            } else {
                break;
            }
        }
        s
    }

    fn ident(&mut self, first: char) -> String {
        let mut s = String::from(first);
        while let Some(&c) = self.chars.peek() {
            if c.is_alphanumeric() || c == '_' || c == '-' || c == '.' {
                s.push(c);
                self.bump();
            } else {
                break;
            }
        }
        s
    }
}

// ---------------------------------------------------------------------------------
// HCL parser

struct Parser {
    tokens: Vec<(Tok, usize)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> (&Tok, usize) {
        match self.tokens.get(self.pos).or(self.tokens.last()) {
            Some((t, l)) => (t, *l),
            None => (&Tok::Eof, 1),
        }
    }

    fn next(&mut self) -> (Tok, usize) {
        let (t, l) = self.peek();
        let out = (t.clone(), l);
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        out
    }

    /// Items until `}` (or end of input at the top level).
    fn body(&mut self, top: bool) -> Result<Vec<Entry>, PolicyError> {
        let mut entries = Vec::new();
        loop {
            match self.peek() {
                (Tok::Eof, line) => {
                    if top {
                        return Ok(entries);
                    }
                    return Err(syntax(line, "expected '}', found end of input"));
                }
                (Tok::RBrace, line) => {
                    if top {
                        return Err(syntax(line, "unexpected '}'"));
                    }
                    self.next();
                    return Ok(entries);
                }
                (Tok::Comma, _) if !entries.is_empty() => {
                    self.next();
                }
                _ => entries.push(self.entry()?),
            }
        }
    }

    /// `key label... = value` or `key label... { body }`.
    fn entry(&mut self) -> Result<Entry, PolicyError> {
        let (first, line) = self.next();
        let mut keys = vec![match first {
            Tok::Ident(s) | Tok::Str(s) => s,
            other => {
                return Err(syntax(
                    line,
                    format!("expected a key, found {}", other.describe()),
                ));
            }
        }];
        loop {
            match self.next() {
                (Tok::Ident(s) | Tok::Str(s), _) => keys.push(s),
                (Tok::Equals, eq_line) => {
                    if keys.len() > 1 {
                        return Err(syntax(
                            eq_line,
                            format!("key {:?} expected '{{' after its labels", keys[0]),
                        ));
                    }
                    let value = self.value()?;
                    return Ok(Entry {
                        line: Some(line),
                        keys,
                        value,
                    });
                }
                (Tok::LBrace, brace_line) => {
                    let body = self.body(false)?;
                    return Ok(Entry {
                        line: Some(line),
                        keys,
                        value: Node {
                            line: Some(brace_line),
                            value: Value::Object(body),
                        },
                    });
                }
                (other, l) => {
                    return Err(syntax(
                        l,
                        format!(
                            "expected '=' or '{{' after key {:?}, found {}",
                            keys[0],
                            other.describe()
                        ),
                    ));
                }
            }
        }
    }

    fn value(&mut self) -> Result<Node, PolicyError> {
        let (tok, line) = self.next();
        let value = match tok {
            Tok::Str(s) => Value::String(s),
            Tok::Number(n) => Value::Number(n),
            Tok::Ident(s) if s == "true" => Value::Bool(true),
            Tok::Ident(s) if s == "false" => Value::Bool(false),
            Tok::LBrace => Value::Object(self.body(false)?),
            Tok::LBracket => Value::List(self.list()?),
            other => {
                return Err(syntax(
                    line,
                    format!("expected a value, found {}", other.describe()),
                ));
            }
        };
        Ok(Node {
            line: Some(line),
            value,
        })
    }

    /// After `[`: values separated by commas, trailing comma allowed.
    fn list(&mut self) -> Result<Vec<Node>, PolicyError> {
        let mut items = Vec::new();
        loop {
            if let (Tok::RBracket, _) = self.peek() {
                self.next();
                return Ok(items);
            }
            items.push(self.value()?);
            match self.next() {
                (Tok::Comma, _) => {}
                (Tok::RBracket, _) => return Ok(items),
                (other, l) => {
                    return Err(syntax(
                        l,
                        format!("expected ',' or ']' in list, found {}", other.describe()),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(node: &Node) -> Vec<String> {
        match &node.value {
            Value::List(items) => items
                .iter()
                .map(|n| match &n.value {
                    Value::String(s) => s.clone(),
                    other => panic!("not a string: {other:?}"),
                })
                .collect(),
            other => panic!("not a list: {other:?}"),
        }
    }

    #[test]
    fn blocks_assignments_and_lines() {
        let doc = parse_document(
            "# comment\npath \"a/*\" {\n  capabilities = [\"read\", \"list\",]\n}\nname = \"x\"\n",
        )
        .unwrap();
        assert_eq!(doc.len(), 2);
        assert_eq!(doc[0].keys, vec!["path", "a/*"]);
        assert_eq!(doc[0].line, Some(2));
        let Value::Object(body) = &doc[0].value.value else {
            panic!("not an object");
        };
        assert_eq!(body[0].keys, vec!["capabilities"]);
        assert_eq!(body[0].line, Some(3));
        assert_eq!(strings(&body[0].value), vec!["read", "list"]);
        assert_eq!(doc[1].value.value, Value::String("x".into()));
    }

    #[test]
    fn all_comment_styles_and_escapes() {
        let doc =
            parse_document("// one\n/* two\n three */ path \"a\\\"b\" { # four\n x = 1 } // five")
                .unwrap();
        assert_eq!(doc[0].keys[1], "a\"b");
        assert_eq!(doc[0].line, Some(3));
    }

    #[test]
    fn heredoc_values() {
        let doc =
            parse_document("x = <<EOF\nhello\n  world\nEOF\ny = <<-EOT\n    a\n      b\n    EOT\n")
                .unwrap();
        assert_eq!(doc[0].value.value, Value::String("hello\n  world\n".into()));
        assert_eq!(doc[1].value.value, Value::String("a\n  b\n".into()));
    }

    #[test]
    fn syntax_errors_carry_lines() {
        let cases = [
            ("path \"a\" {\n  capabilities = [\"read\"\n}\n", 3),
            ("path \"a\" {\n\n  capabilities = \n}", 4),
            ("path \"a\" {\n  capabilities = [\"read\"]\n", 3),
            ("\n\n/* never closed", 3),
            ("path \"a\" {\n x = \"unterminated\n}", 2),
            ("path \"a\" \n\n ; ", 3),
        ];
        for (text, line) in cases {
            let err = parse_document(text).unwrap_err();
            assert_eq!(err.line(), Some(line), "{text:?}: {err}");
        }
    }

    #[test]
    fn json_documents() {
        let doc = parse_document(r#" {"path": {"a/*": {"capabilities": ["read"]}}}"#).unwrap();
        assert_eq!(doc[0].keys, vec!["path"]);
        let err = parse_document("{\n\"path\": \n}").unwrap_err();
        assert_eq!(err.line(), Some(3));
    }
}
