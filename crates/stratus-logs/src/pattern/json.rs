//! JSON patterns: `{ $.level = "error" && ($.latency > 100 || $.retry IS TRUE) }`.
//!
//! Selectors start at `$` and step through `.key`, `['key']`, `[n]`, and the
//! wildcards `.*` and `[*]` (a condition with wildcards holds if it holds for
//! any selected value). Conditions: `= != < <= > >=` against a string (with
//! `*` wildcards), a number, `%regex%` or `*` (exists); `IS NULL`, `NOT EXISTS`,
//! `EXISTS`, `IS TRUE`, `IS FALSE`. `&&` binds tighter than `||`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::PatternError;
use super::cursor::Cursor;
use super::value::{Literal, Op, compare, parse_literal};

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    AnyChild,
}

#[derive(Debug, Clone)]
pub(super) struct Selector {
    text: String,
    steps: Vec<Step>,
}

#[derive(Debug)]
pub(super) enum Check {
    Cmp(Op, Literal),
    IsNull,
    NotExists,
    Exists,
    IsBool(bool),
}

#[derive(Debug)]
pub(super) enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cond(Selector, Check),
}

/// Characters that end a bare value or key.
const STOPS: &[char] = &['(', ')', '&', '|', '}', '=', '!', '<', '>', '[', ']', '.'];
const VALUE_STOPS: &[char] = &[')', '&', '|', '}'];

impl Expr {
    /// Parses the whole `{ ... }` pattern.
    pub(super) fn parse(src: &str) -> Result<Expr, PatternError> {
        let mut cur = Cursor::new(src);
        cur.skip_ws();
        if !cur.eat("{") {
            return Err(PatternError::new("a JSON pattern starts with '{'"));
        }
        let expr = parse_or(&mut cur)?;
        cur.skip_ws();
        if !cur.eat("}") {
            return Err(PatternError::new(format!(
                "unexpected text in JSON pattern: '{}'",
                cur.rest()
            )));
        }
        cur.skip_ws();
        if !cur.at_end() {
            return Err(PatternError::new("unexpected text after the JSON pattern"));
        }
        Ok(expr)
    }

    pub(super) fn matches(&self, doc: &Value) -> bool {
        match self {
            Expr::And(a, b) => a.matches(doc) && b.matches(doc),
            Expr::Or(a, b) => a.matches(doc) || b.matches(doc),
            Expr::Cond(sel, check) => eval(sel, check, doc),
        }
    }

    /// The selectors the pattern names with the values they select in `doc`
    /// (reported by TestMetricFilter).
    pub(super) fn extract(&self, doc: &Value, out: &mut BTreeMap<String, String>) {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.extract(doc, out);
                b.extract(doc, out);
            }
            Expr::Cond(sel, _) => {
                if let Some(v) = select(&sel.steps, doc).into_iter().next() {
                    out.insert(sel.text.clone(), scalar_text(v));
                }
            }
        }
    }
}

fn parse_or(cur: &mut Cursor<'_>) -> Result<Expr, PatternError> {
    let mut left = parse_and(cur)?;
    loop {
        cur.skip_ws();
        if cur.eat("||") {
            let right = parse_and(cur)?;
            left = Expr::Or(Box::new(left), Box::new(right));
        } else {
            return Ok(left);
        }
    }
}

fn parse_and(cur: &mut Cursor<'_>) -> Result<Expr, PatternError> {
    let mut left = parse_unary(cur)?;
    loop {
        cur.skip_ws();
        if cur.eat("&&") {
            let right = parse_unary(cur)?;
            left = Expr::And(Box::new(left), Box::new(right));
        } else {
            return Ok(left);
        }
    }
}

fn parse_unary(cur: &mut Cursor<'_>) -> Result<Expr, PatternError> {
    cur.skip_ws();
    if cur.eat("(") {
        let inner = parse_or(cur)?;
        cur.skip_ws();
        if !cur.eat(")") {
            return Err(PatternError::new("missing ')' in JSON pattern"));
        }
        return Ok(inner);
    }
    let sel = parse_selector(cur)?;
    cur.skip_ws();
    let check = if cur.eat_keyword("IS") {
        cur.skip_ws();
        if cur.eat_keyword("NULL") {
            Check::IsNull
        } else if cur.eat_keyword("TRUE") {
            Check::IsBool(true)
        } else if cur.eat_keyword("FALSE") {
            Check::IsBool(false)
        } else {
            return Err(PatternError::new("expected NULL, TRUE or FALSE after IS"));
        }
    } else if cur.eat_keyword("NOT") {
        cur.skip_ws();
        if !cur.eat_keyword("EXISTS") {
            return Err(PatternError::new("expected EXISTS after NOT"));
        }
        Check::NotExists
    } else if cur.eat_keyword("EXISTS") {
        Check::Exists
    } else if let Some(op) = Op::parse(cur) {
        let lit = parse_literal(cur, VALUE_STOPS)?;
        if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) && !matches!(lit, Literal::Num(..)) {
            return Err(PatternError::new(format!(
                "the comparison on {} needs a numeric value",
                sel.text
            )));
        }
        Check::Cmp(op, lit)
    } else {
        return Err(PatternError::new(format!(
            "expected an operator after {}",
            sel.text
        )));
    };
    Ok(Expr::Cond(sel, check))
}

fn parse_selector(cur: &mut Cursor<'_>) -> Result<Selector, PatternError> {
    let start = cur.rest();
    if !cur.eat("$") {
        return Err(PatternError::new(format!(
            "expected a property selector starting with '$' at '{}'",
            cur.rest()
        )));
    }
    let mut steps = Vec::new();
    loop {
        if cur.eat(".") {
            if cur.eat("*") {
                steps.push(Step::AnyChild);
                continue;
            }
            let key = cur.bare(STOPS);
            if key.is_empty() {
                return Err(PatternError::new("empty key in property selector"));
            }
            steps.push(Step::Key(key.to_string()));
        } else if cur.eat("[") {
            cur.skip_ws();
            let step = match cur.peek() {
                Some('*') => {
                    cur.bump();
                    Step::AnyChild
                }
                Some('\'') => {
                    cur.bump();
                    let key = cur.bare(&['\'']);
                    if !cur.eat("'") {
                        return Err(PatternError::new("unterminated key in property selector"));
                    }
                    Step::Key(key.to_string())
                }
                Some('"') => Step::Key(cur.quoted()?),
                _ => {
                    let n = cur.bare(&[']']);
                    Step::Index(n.parse::<usize>().map_err(|_| {
                        PatternError::new(format!("invalid array index '{n}' in property selector"))
                    })?)
                }
            };
            cur.skip_ws();
            if !cur.eat("]") {
                return Err(PatternError::new("missing ']' in property selector"));
            }
            steps.push(step);
        } else {
            break;
        }
    }
    let consumed = start.len() - cur.rest().len();
    Ok(Selector {
        text: start[..consumed].to_string(),
        steps,
    })
}

/// Every value the steps select (several only through wildcards).
fn select<'v>(steps: &[Step], doc: &'v Value) -> Vec<&'v Value> {
    let mut current = vec![doc];
    for step in steps {
        let mut next = Vec::new();
        for v in current {
            match (step, v) {
                (Step::Key(k), Value::Object(m)) => next.extend(m.get(k)),
                (Step::Index(i), Value::Array(a)) => next.extend(a.get(*i)),
                (Step::AnyChild, Value::Array(a)) => next.extend(a.iter()),
                (Step::AnyChild, Value::Object(m)) => next.extend(m.values()),
                _ => {}
            }
        }
        current = next;
        if current.is_empty() {
            break;
        }
    }
    current
}

fn eval(sel: &Selector, check: &Check, doc: &Value) -> bool {
    let values = select(&sel.steps, doc);
    match check {
        Check::NotExists => values.is_empty(),
        Check::Exists => !values.is_empty(),
        Check::IsNull => values.iter().any(|v| v.is_null()),
        Check::IsBool(b) => values.iter().any(|v| v.as_bool() == Some(*b)),
        Check::Cmp(op, lit) => values.iter().any(|v| match v {
            Value::Null | Value::Object(_) => false,
            // An array compares through its elements ($.tags = "x" when "x" is one of them).
            Value::Array(items) => items.iter().any(|item| cmp_scalar(*op, item, lit)),
            _ => cmp_scalar(*op, v, lit),
        }),
    }
}

fn cmp_scalar(op: Op, v: &Value, lit: &Literal) -> bool {
    let numeric = v.as_f64();
    match v {
        Value::String(s) => compare(op, s, None, lit).unwrap_or(false),
        Value::Number(n) => compare(op, &n.to_string(), numeric, lit).unwrap_or(false),
        Value::Bool(b) => {
            compare(op, if *b { "true" } else { "false" }, None, lit).unwrap_or(false)
        }
        _ => false,
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
