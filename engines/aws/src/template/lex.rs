//! Splits a template into text and action tokens, Go `text/template` style:
//! `{{ … }}` delimiters, `{{-`/`-}}` whitespace trimming, `{{/* … */}}` comments.

use super::TemplateError;

/// One token inside an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// A bare word: a function name or a keyword (`if`, `else`, `end`, `true`, …).
    Ident(String),
    /// `.Name`.
    Field(String),
    /// `.` on its own.
    Dot,
    /// A string literal (quoted or raw), unescaped.
    Str(String),
    /// An integer literal.
    Int(i64),
    /// `|`.
    Pipe,
    /// `(`.
    Open,
    /// `)`.
    Close,
}

/// A piece of the template.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Literal text, already trimmed where a neighbouring action asked for it.
    Text(String),
    /// The tokens of one `{{ … }}` action, and the line it starts on.
    Action(Vec<Token>, usize),
}

/// Splits `src` into text and actions.
pub fn lex(src: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = src;
    let mut line = 1;
    let mut trim_next_text = false;
    while !rest.is_empty() {
        let Some(start) = rest.find("{{") else {
            push_text(&mut pieces, rest, trim_next_text, false);
            break;
        };
        let text = &rest[..start];
        let after_open = &rest[start + 2..];
        // `{{-` trims only when followed by a space, so `{{-3}}` stays a number.
        let trim_left =
            after_open.starts_with('-') && after_open[1..].starts_with([' ', '\t', '\n', '\r']);
        push_text(&mut pieces, text, trim_next_text, trim_left);
        line += text.matches('\n').count();
        let body = if trim_left {
            &after_open[1..]
        } else {
            after_open
        };
        let (tokens, consumed, trim_right) = lex_action(body, line)?;
        line += body[..consumed].matches('\n').count();
        if let Some(tokens) = tokens {
            pieces.push(Piece::Action(tokens, line));
        }
        trim_next_text = trim_right;
        rest = &body[consumed..];
    }
    Ok(pieces)
}

fn push_text(pieces: &mut Vec<Piece>, text: &str, trim_start: bool, trim_end: bool) {
    let mut t = text;
    if trim_start {
        t = t.trim_start();
    }
    if trim_end {
        t = t.trim_end();
    }
    if !t.is_empty() {
        pieces.push(Piece::Text(t.to_string()));
    }
}

fn err(line: usize, message: impl Into<String>) -> TemplateError {
    TemplateError::Parse {
        line,
        message: message.into(),
    }
}

/// Lexes one action body (after `{{`/`{{-`). Returns its tokens (`None` for a
/// comment), the bytes consumed including the closing delimiter, and whether the
/// delimiter was `-}}`.
fn lex_action(body: &str, line: usize) -> Result<(Option<Vec<Token>>, usize, bool), TemplateError> {
    let trimmed = body.trim_start();
    if let Some(comment) = trimmed.strip_prefix("/*") {
        let end = comment
            .find("*/")
            .ok_or_else(|| err(line, "unclosed comment"))?;
        let after = comment[end + 2..].trim_start();
        let (close_len, trim_right) = if after.starts_with("-}}") {
            (3, true)
        } else if after.starts_with("}}") {
            (2, false)
        } else {
            return Err(err(line, "comment ends before closing delimiter"));
        };
        let consumed = body.len() - after.len() + close_len;
        return Ok((None, consumed, trim_right));
    }

    let bytes = body.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    loop {
        let Some(&c) = bytes.get(i) else {
            return Err(err(line, "unclosed action"));
        };
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                // ` -}}` closes with trimming.
                let after_space = &body[i + 1..];
                if after_space.starts_with("-}}") {
                    return Ok((Some(tokens), i + 4, true));
                }
                i += 1;
            }
            b'}' if body[i..].starts_with("}}") => return Ok((Some(tokens), i + 2, false)),
            b'|' => {
                tokens.push(Token::Pipe);
                i += 1;
            }
            b'(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            b')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            b'"' => {
                let (s, len) = quoted_string(&body[i..], line)?;
                tokens.push(Token::Str(s));
                i += len;
            }
            b'`' => {
                let end = body[i + 1..]
                    .find('`')
                    .ok_or_else(|| err(line, "unterminated raw quoted string"))?;
                tokens.push(Token::Str(body[i + 1..i + 1 + end].to_string()));
                i += end + 2;
            }
            b'.' => {
                let name_len = ident_len(&body[i + 1..]);
                if name_len == 0 {
                    tokens.push(Token::Dot);
                    i += 1;
                } else {
                    tokens.push(Token::Field(body[i + 1..i + 1 + name_len].to_string()));
                    i += 1 + name_len;
                    if body[i..].starts_with('.') {
                        return Err(err(line, "chained fields are not supported"));
                    }
                }
            }
            b'-' | b'+' | b'0'..=b'9' => {
                let len = 1 + body[i + 1..]
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.')
                    .count();
                let literal = &body[i..i + len];
                tokens.push(Token::Int(parse_int(literal).ok_or_else(|| {
                    err(line, format!("bad number syntax: {literal:?}"))
                })?));
                i += len;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let len = ident_len(&body[i..]);
                tokens.push(Token::Ident(body[i..i + len].to_string()));
                i += len;
            }
            b'$' => return Err(err(line, "variables are not supported")),
            _ => {
                let ch = body[i..].chars().next().unwrap_or('?');
                return Err(err(line, format!("unexpected {ch:?} in command")));
            }
        }
    }
}

fn ident_len(s: &str) -> usize {
    s.bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count()
}

/// Decimal, `0x` hex, `0o`/leading-zero octal and `0b` binary integers, signed.
fn parse_int(s: &str) -> Option<i64> {
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = digits.replace('_', "");
    let value = if let Some(h) = digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(b) = digits.strip_prefix("0b").or(digits.strip_prefix("0B")) {
        i64::from_str_radix(b, 2).ok()?
    } else if let Some(o) = digits.strip_prefix("0o").or(digits.strip_prefix("0O")) {
        i64::from_str_radix(o, 8).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if negative { -value } else { value })
}

/// Unescapes a Go double-quoted string starting at `s[0] == '"'`; returns the value
/// and the length of the literal.
fn quoted_string(s: &str, line: usize) -> Result<(String, usize), TemplateError> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 1)),
            '\n' => break,
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\u{7}'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = (0..n)
                            .filter_map(|_| chars.next().map(|(_, h)| h))
                            .collect();
                        let ch = u32::from_str_radix(&hex, 16)
                            .ok()
                            .filter(|_| hex.len() == n)
                            .and_then(char::from_u32)
                            .ok_or_else(|| err(line, "invalid escape in string"))?;
                        out.push(ch);
                    }
                    _ => return Err(err(line, format!("unknown escape sequence \\{e}"))),
                }
            }
            c => out.push(c),
        }
    }
    Err(err(line, "unterminated quoted string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_and_actions() {
        let pieces = lex(r#"a{{ .X | f 3 "s" }}b"#).unwrap();
        assert_eq!(
            pieces,
            vec![
                Piece::Text("a".into()),
                Piece::Action(
                    vec![
                        Token::Field("X".into()),
                        Token::Pipe,
                        Token::Ident("f".into()),
                        Token::Int(3),
                        Token::Str("s".into()),
                    ],
                    1
                ),
                Piece::Text("b".into()),
            ]
        );
    }

    #[test]
    fn trims_and_skips_comments() {
        let pieces = lex("a  {{- `x` -}}  b{{/* note */}}c").unwrap();
        assert_eq!(
            pieces,
            vec![
                Piece::Text("a".into()),
                Piece::Action(vec![Token::Str("x".into())], 1),
                Piece::Text("b".into()),
                Piece::Text("c".into()),
            ]
        );
        assert_eq!(
            lex("{{-3}}").unwrap(),
            vec![Piece::Action(vec![Token::Int(-3)], 1)]
        );
    }

    #[test]
    fn unescapes_strings() {
        let pieces = lex(r#"{{ "a\"b\n\x41\u00e9" }}"#).unwrap();
        assert_eq!(
            pieces,
            vec![Piece::Action(vec![Token::Str("a\"b\nAé".into())], 1)]
        );
    }

    #[test]
    fn rejects_broken_actions() {
        for bad in [
            "{{ .X",
            "{{ \"abc }}",
            "{{ $x }}",
            "{{ .A.B }}",
            "{{ 1.5 }}",
            "{{ ! }}",
        ] {
            assert!(lex(bad).is_err(), "{bad}");
        }
    }
}
