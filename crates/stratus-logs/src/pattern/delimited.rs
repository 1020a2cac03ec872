//! Space-delimited patterns: `[ip, user, ..., status=4*, size>1000]`.
//!
//! The message is split at spaces; text inside `"..."` or `[...]` is one
//! column (without its quotes or brackets). Each pattern field names a column
//! and may constrain it (`=`, `!=`, `<`, `<=`, `>`, `>=` against a number, a
//! string with `*` wildcards, or `%regex%`; several constraints joined with
//! `&&` / `||`). `...` stands for any number of columns. Without `...` the
//! column count must equal the field count.

use std::collections::BTreeMap;

use super::PatternError;
use super::cursor::Cursor;
use super::value::{Literal, Op, compare, parse_literal, parse_number};

#[derive(Debug)]
enum Cond {
    Cmp(Op, Literal),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
}

#[derive(Debug)]
enum Field {
    Ellipsis,
    Column { name: String, cond: Option<Cond> },
}

#[derive(Debug)]
pub(super) struct Delimited {
    fields: Vec<Field>,
}

const NAME_STOPS: &[char] = &[',', ']', '=', '!', '<', '>', '&', '|'];
const VALUE_STOPS: &[char] = &[',', ']', '&', '|'];

impl Delimited {
    pub(super) fn parse(src: &str) -> Result<Delimited, PatternError> {
        let mut cur = Cursor::new(src.trim());
        if !cur.eat("[") {
            return Err(PatternError::new(
                "a space-delimited pattern starts with '['",
            ));
        }
        let mut fields = Vec::new();
        loop {
            cur.skip_ws();
            if cur.eat("...") {
                fields.push(Field::Ellipsis);
            } else {
                let name = cur.bare(NAME_STOPS).to_string();
                if name.is_empty() {
                    return Err(PatternError::new(
                        "a field of the space-delimited pattern is empty",
                    ));
                }
                let cond = parse_cond(&mut cur, &name)?;
                fields.push(Field::Column { name, cond });
            }
            cur.skip_ws();
            if cur.eat(",") {
                continue;
            }
            if cur.eat("]") {
                break;
            }
            return Err(PatternError::new(format!(
                "unexpected text in space-delimited pattern: '{}'",
                cur.rest()
            )));
        }
        cur.skip_ws();
        if !cur.at_end() {
            return Err(PatternError::new(
                "unexpected text after the space-delimited pattern",
            ));
        }
        Ok(Delimited { fields })
    }

    /// The named columns when the message matches.
    pub(super) fn extract(&self, message: &str) -> Option<BTreeMap<String, String>> {
        let cols = split_columns(message);
        let mut binding = Vec::new();
        if !self.match_from(0, &cols, 0, &mut binding) {
            return None;
        }
        let mut out = BTreeMap::new();
        for (fi, ci) in binding {
            if let (Some(Field::Column { name, .. }), Some(col)) =
                (self.fields.get(fi), cols.get(ci))
            {
                out.insert(format!("${name}"), col.to_string());
            }
        }
        Some(out)
    }

    pub(super) fn matches(&self, message: &str) -> bool {
        let cols = split_columns(message);
        self.match_from(0, &cols, 0, &mut Vec::new())
    }

    pub(super) fn column_names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().filter_map(|f| match f {
            Field::Column { name, .. } => Some(name.as_str()),
            Field::Ellipsis => None,
        })
    }

    fn match_from(
        &self,
        fi: usize,
        cols: &[&str],
        ci: usize,
        binding: &mut Vec<(usize, usize)>,
    ) -> bool {
        let Some(field) = self.fields.get(fi) else {
            return ci == cols.len();
        };
        match field {
            Field::Ellipsis => {
                (ci..=cols.len()).any(|next| self.match_from(fi + 1, cols, next, binding))
            }
            Field::Column { cond, .. } => {
                let Some(col) = cols.get(ci) else {
                    return false;
                };
                if let Some(c) = cond
                    && !eval(c, col)
                {
                    return false;
                }
                binding.push((fi, ci));
                if self.match_from(fi + 1, cols, ci + 1, binding) {
                    return true;
                }
                binding.pop();
                false
            }
        }
    }
}

fn parse_cond(cur: &mut Cursor<'_>, name: &str) -> Result<Option<Cond>, PatternError> {
    cur.skip_ws();
    let Some(first) = parse_cmp(cur)? else {
        return Ok(None);
    };
    // Disjunction of conjunctions: `a = 1 && a != 2 || a = 5`.
    let mut or_terms: Vec<Cond> = Vec::new();
    let mut and_acc = first;
    loop {
        cur.skip_ws();
        let is_and = if cur.eat("&&") {
            true
        } else if cur.eat("||") {
            false
        } else {
            break;
        };
        cur.skip_ws();
        let other = cur.bare(NAME_STOPS);
        if other != name {
            return Err(PatternError::new(format!(
                "a condition joined to field {name} must name {name}, not '{other}'"
            )));
        }
        cur.skip_ws();
        let Some(next) = parse_cmp(cur)? else {
            return Err(PatternError::new(format!(
                "expected an operator after {name}"
            )));
        };
        if is_and {
            and_acc = Cond::And(Box::new(and_acc), Box::new(next));
        } else {
            or_terms.push(std::mem::replace(&mut and_acc, next));
        }
    }
    let mut cond = and_acc;
    while let Some(prev) = or_terms.pop() {
        cond = Cond::Or(Box::new(prev), Box::new(cond));
    }
    Ok(Some(cond))
}

fn parse_cmp(cur: &mut Cursor<'_>) -> Result<Option<Cond>, PatternError> {
    let Some(op) = Op::parse(cur) else {
        return Ok(None);
    };
    let lit = parse_literal(cur, VALUE_STOPS)?;
    if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) && !matches!(lit, Literal::Num(..)) {
        return Err(PatternError::new(
            "a numeric comparison needs a numeric value",
        ));
    }
    Ok(Some(Cond::Cmp(op, lit)))
}

fn eval(cond: &Cond, col: &str) -> bool {
    match cond {
        Cond::Cmp(op, lit) => compare(*op, col, parse_number(col), lit).unwrap_or(false),
        Cond::And(a, b) => eval(a, col) && eval(b, col),
        Cond::Or(a, b) => eval(a, col) || eval(b, col),
    }
}

/// Splits a message into columns at spaces; `"..."` and `[...]` group.
pub(super) fn split_columns(message: &str) -> Vec<&str> {
    let mut cols = Vec::new();
    let bytes = message.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' => i += 1,
            open @ (b'"' | b'[') => {
                let close = if open == b'"' { b'"' } else { b']' };
                let start = i + 1;
                let end = bytes[start..]
                    .iter()
                    .position(|&b| b == close)
                    .map_or(bytes.len(), |p| start + p);
                cols.push(&message[start..end]);
                i = end + 1;
            }
            _ => {
                let start = i;
                while i < bytes.len() && bytes[i] != b' ' && bytes[i] != b'\t' {
                    i += 1;
                }
                cols.push(&message[start..i]);
            }
        }
    }
    cols
}
