//! Literal values on the right of a comparison, shared by JSON and
//! space-delimited patterns: strings with `*` wildcards, numbers, `%regex%`.

use std::cmp::Ordering;

use regex::Regex;

use super::PatternError;
use super::cursor::Cursor;

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    /// Reads an operator at the cursor (`==` is taken as `=`).
    pub(super) fn parse(cur: &mut Cursor<'_>) -> Option<Op> {
        if cur.eat("!=") {
            Some(Op::Ne)
        } else if cur.eat("<=") {
            Some(Op::Le)
        } else if cur.eat(">=") {
            Some(Op::Ge)
        } else if cur.eat("==") || cur.eat("=") {
            Some(Op::Eq)
        } else if cur.eat("<") {
            Some(Op::Lt)
        } else if cur.eat(">") {
            Some(Op::Gt)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone)]
pub(super) enum Literal {
    /// A bare `*`: any value.
    Any,
    /// Text, possibly with `*` wildcards.
    Text(String),
    /// A numeric literal (the text is kept for string comparisons).
    Num(f64, String),
    Regex(Regex),
}

/// Characters a bare literal stops at, per context.
pub(super) fn parse_literal(cur: &mut Cursor<'_>, stops: &[char]) -> Result<Literal, PatternError> {
    cur.skip_ws();
    match cur.peek() {
        Some('"') => {
            let s = cur.quoted()?;
            Ok(if s == "*" {
                Literal::Any
            } else {
                Literal::Text(s)
            })
        }
        Some('%') => Ok(Literal::Regex(compile_regex(&cur.regex_body()?)?)),
        _ => {
            let word = cur.bare(stops);
            if word.is_empty() {
                return Err(PatternError::new("expected a value after the operator"));
            }
            if word == "*" {
                return Ok(Literal::Any);
            }
            Ok(match parse_number(word) {
                Some(n) => Literal::Num(n, word.to_string()),
                None => Literal::Text(word.to_string()),
            })
        }
    }
}

pub(super) fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let first = t.chars().next()?;
    if !(first.is_ascii_digit() || first == '-' || first == '+' || first == '.') {
        return None;
    }
    if !t
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Compiles a `%regex%` body, refusing what CloudWatch Logs refuses:
/// parentheses (no sub-patterns), symbols outside its documented set and
/// multi-byte characters.
pub(super) fn compile_regex(body: &str) -> Result<Regex, PatternError> {
    if body.is_empty() {
        return Err(PatternError::new("empty regular expression"));
    }
    for c in body.chars() {
        let ok = c.is_ascii_alphanumeric()
            || matches!(
                c,
                '_' | '#'
                    | '='
                    | '@'
                    | '/'
                    | ';'
                    | ','
                    | '-'
                    | ':'
                    | ' '
                    | '^'
                    | '$'
                    | '?'
                    | '['
                    | ']'
                    | '{'
                    | '}'
                    | '|'
                    | '\\'
                    | '*'
                    | '+'
                    | '.'
            );
        if !ok {
            return Err(PatternError::new(format!(
                "unsupported character '{c}' in regular expression %{body}%"
            )));
        }
    }
    Regex::new(body)
        .map_err(|e| PatternError::new(format!("invalid regular expression %{body}%: {e}")))
}

/// `*` wildcard match of the whole text.
pub(super) fn glob(pattern: &str, text: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == text;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = match parts.split_first() {
        Some(x) => x,
        None => return true,
    };
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for part in middle {
        match remaining.find(part) {
            Some(i) => remaining = &remaining[i + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

/// Compares a textual field (a space-delimited column, or a JSON scalar
/// rendered as text) with a literal. `numeric` is the field's value when it is
/// a number. Returns `None` when the comparison does not apply (which never
/// matches, for `!=` too).
pub(super) fn compare(op: Op, text: &str, numeric: Option<f64>, lit: &Literal) -> Option<bool> {
    match (op, lit) {
        (Op::Eq, Literal::Any) => Some(true),
        (Op::Ne, Literal::Any) => Some(false),
        (Op::Eq | Op::Ne, Literal::Num(n, raw)) => {
            let eq = match numeric {
                Some(v) => v == *n,
                None => text == raw,
            };
            Some(eq == (op == Op::Eq))
        }
        (Op::Eq | Op::Ne, Literal::Text(p)) => Some(glob(p, text) == (op == Op::Eq)),
        (Op::Eq | Op::Ne, Literal::Regex(r)) => Some(r.is_match(text) == (op == Op::Eq)),
        (_, Literal::Num(n, _)) => {
            let ord = numeric?.partial_cmp(n)?;
            Some(match op {
                Op::Lt => ord == Ordering::Less,
                Op::Le => ord != Ordering::Greater,
                Op::Gt => ord == Ordering::Greater,
                Op::Ge => ord != Ordering::Less,
                Op::Eq | Op::Ne => false,
            })
        }
        // Ordering comparisons need a number on the right.
        _ => None,
    }
}
