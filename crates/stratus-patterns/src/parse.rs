//! Pattern text (as a `serde_json::Value`) to a list of conjunctions
//! ("branches"): `$or` is expanded into disjunctive normal form the way
//! EventBridge does it, and every value list is compiled into [`Matcher`]s.
//! Errors carry AWS's reason texts, checked in document order.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::cidr::{parse_cidr, parse_ip_literal};
use crate::matcher::{AnythingBut, Matcher, NumRange};
use crate::wildcard::parse_wildcard;

/// Which service's rule language is being parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// EventBridge event patterns (full operator set).
    EventBridge,
    /// SNS filter policies: no `wildcard`, no `{"prefix": {...}}` /
    /// `{"suffix": {...}}` forms, `anything-but` takes values or `prefix` only,
    /// numbers limited to ±1e9.
    Sns,
}

/// Most `$or` combinations one pattern may expand to (a guard against
/// exponential expansion; AWS's exact limit is not documented here).
pub(crate) const MAX_BRANCHES: usize = 1024;
/// Most fields one conjunction may test (matching keeps a 64-bit mask per branch).
pub(crate) const MAX_FIELDS_PER_BRANCH: usize = 64;

/// One field test of a conjunction: the dot-joined path and its value list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    pub(crate) path: String,
    pub(crate) matchers: Arc<[Matcher]>,
}

/// A conjunction of field tests; a pattern matches when any branch matches.
pub(crate) type Branch = Vec<Condition>;

/// Field names that may not be used inside `$or` objects.
const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

type R<T> = Result<T, String>;

/// Parse a whole pattern. `$or` that cannot be read as an OR (for instance with
/// a single branch, or with operator names inside) makes the parser retry with
/// `$or` as an ordinary field name, as EventBridge does for old rules.
pub(crate) fn parse_pattern(v: &Value, dialect: Dialect) -> R<Vec<Branch>> {
    match (Parser {
        dialect,
        legacy: false,
    })
    .top(v)
    {
        Ok(b) => Ok(b),
        Err(e) => {
            if contains_or_key(v) {
                Parser {
                    dialect,
                    legacy: true,
                }
                .top(v)
                .map_err(|_| e)
            } else {
                Err(e)
            }
        }
    }
}

fn contains_or_key(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| k == "$or" || contains_or_key(v)),
        Value::Array(a) => a.iter().any(contains_or_key),
        _ => false,
    }
}

/// Jackson's `getText()` for the token a value starts with.
fn token_text(v: Option<&Value>) -> String {
    match v {
        None => "]".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Null) => "null".to_string(),
        Some(Value::Array(_)) => "[".to_string(),
        Some(Value::Object(_)) => "{".to_string(),
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        let mut s = String::with_capacity(prefix.len() + 1 + key.len());
        s.push_str(prefix);
        s.push('.');
        s.push_str(key);
        s
    }
}

fn num_value(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

struct Parser {
    dialect: Dialect,
    legacy: bool,
}

impl Parser {
    fn top(&self, v: &Value) -> R<Vec<Branch>> {
        let Value::Object(map) = v else {
            return Err("Filter is not an object".to_string());
        };
        let mut rules: Vec<Branch> = Vec::new();
        self.object(map, "", &mut rules, false)?;
        for branch in &rules {
            if branch.len() > MAX_FIELDS_PER_BRANCH {
                return Err(format!(
                    "Event pattern tests more than {MAX_FIELDS_PER_BRANCH} fields in one $or combination"
                ));
            }
        }
        Ok(rules)
    }

    fn object(
        &self,
        map: &Map<String, Value>,
        prefix: &str,
        rules: &mut Vec<Branch>,
        in_or: bool,
    ) -> R<()> {
        if map.is_empty() {
            return Err("Empty objects are not allowed".to_string());
        }
        for (key, value) in map {
            if !self.legacy && key == "$or" {
                self.or(value, prefix, rules)?;
                continue;
            }
            if in_or && RESERVED_IN_OR.contains(&key.as_str()) {
                return Err(format!(
                    "{key} is Ruler reserved fieldName which cannot be used inside $or."
                ));
            }
            match value {
                Value::Object(inner) => self.object(inner, &join(prefix, key), rules, in_or)?,
                Value::Array(items) => {
                    let matchers: Arc<[Matcher]> = self.values(items)?.into();
                    let path = join(prefix, key);
                    if rules.is_empty() {
                        rules.push(Vec::new());
                    }
                    for branch in rules.iter_mut() {
                        let cond = Condition {
                            path: path.clone(),
                            matchers: matchers.clone(),
                        };
                        // A later test of the same path replaces the earlier one.
                        match branch.iter_mut().find(|c| c.path == path) {
                            Some(existing) => *existing = cond,
                            None => branch.push(cond),
                        }
                    }
                }
                _ => return Err(format!("\"{key}\" must be an object or an array")),
            }
        }
        Ok(())
    }

    fn or(&self, value: &Value, prefix: &str, rules: &mut Vec<Branch>) -> R<()> {
        let current = std::mem::take(rules);
        let Value::Array(items) = value else {
            return Err("It must be an Array followed with $or.".to_string());
        };
        for item in items {
            let Value::Object(obj) = item else {
                return Err("Only JSON object is allowed in array of $or relationship.".to_string());
            };
            let mut next = current.clone();
            if next.is_empty() {
                next.push(Vec::new());
            }
            self.object(obj, prefix, &mut next, true)?;
            rules.extend(next);
            if rules.len() > MAX_BRANCHES {
                return Err(format!(
                    "Event pattern expands to more than {MAX_BRANCHES} $or combinations"
                ));
            }
        }
        if items.len() < 2 {
            return Err("There must have at least 2 Objects in $or relationship.".to_string());
        }
        Ok(())
    }

    /// A field's value list.
    fn values(&self, items: &[Value]) -> R<Vec<Matcher>> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(match item {
                Value::Object(obj) => self.expression(obj)?,
                Value::String(s) => exact_string(s),
                Value::Number(n) => match n.as_f64() {
                    Some(x) => Matcher::ExactNum(x),
                    None => {
                        return Err(
                            "Match value must be String, number, true, false, or null".to_string()
                        );
                    }
                },
                Value::Bool(b) => Matcher::ExactBool(*b),
                Value::Null => Matcher::ExactNull,
                Value::Array(_) => {
                    return Err(
                        "Match value must be String, number, true, false, or null".to_string()
                    );
                }
            });
        }
        if out.is_empty() {
            return Err("Empty arrays are not allowed".to_string());
        }
        Ok(out)
    }

    /// Largest magnitude allowed for numbers in numeric / anything-but tests.
    fn number_limit(&self) -> (f64, &'static str) {
        match self.dialect {
            Dialect::EventBridge => (5.0e9, "Value must be between -5.0E9 and 5.0E9, inclusive"),
            Dialect::Sns => (1.0e9, "Value must be between -1.0E9 and 1.0E9, inclusive"),
        }
    }

    fn comparable(&self, x: f64) -> R<f64> {
        let (limit, msg) = self.number_limit();
        if x < -limit || x > limit {
            Err(msg.to_string())
        } else {
            Ok(x)
        }
    }

    /// `{ "<operator>": ... }` inside a value list.
    fn expression(&self, obj: &Map<String, Value>) -> R<Matcher> {
        let mut it = obj.iter();
        let Some((name, value)) = it.next() else {
            return Err("Match expression name not found".to_string());
        };
        let extra = it.next().is_some();
        let only_one = || -> R<()> {
            if extra {
                Err("Only one key allowed in match expression".to_string())
            } else {
                Ok(())
            }
        };
        let too_many = || -> R<()> {
            if extra {
                Err("Too many elements in numeric expression".to_string())
            } else {
                Ok(())
            }
        };
        let eb = self.dialect == Dialect::EventBridge;
        match name.as_str() {
            "exactly" => {
                let Value::String(s) = value else {
                    return Err("exact match pattern must be a string".to_string());
                };
                only_one()?;
                Ok(Matcher::ExactStr {
                    value: s.clone(),
                    ip: None,
                })
            }
            "prefix" | "suffix" => {
                let is_prefix = name == "prefix";
                match value {
                    Value::Object(inner) if eb => {
                        let (label, unsupported) = if is_prefix {
                            (
                                "Prefix expression name not found",
                                "Unsupported prefix pattern: ",
                            )
                        } else {
                            (
                                "Suffix expression name not found",
                                "Unsupported suffix pattern: ",
                            )
                        };
                        let mut it = inner.iter();
                        let Some((op, v)) = it.next() else {
                            return Err(label.to_string());
                        };
                        if op != "equals-ignore-case" {
                            return Err(format!("{unsupported}{op}"));
                        }
                        let Value::String(s) = v else {
                            return Err(
                                "equals-ignore-case match pattern must be a string".to_string()
                            );
                        };
                        if it.next().is_some() {
                            return Err("Only one key allowed in match expression".to_string());
                        }
                        only_one()?;
                        let lower = s.to_lowercase();
                        Ok(if is_prefix {
                            Matcher::PrefixIgnoreCase(lower)
                        } else {
                            Matcher::SuffixIgnoreCase(lower)
                        })
                    }
                    Value::String(s) => {
                        only_one()?;
                        Ok(if is_prefix {
                            Matcher::Prefix(s.clone())
                        } else {
                            Matcher::Suffix(s.clone())
                        })
                    }
                    _ => Err(format!("{name} match pattern must be a string")),
                }
            }
            "numeric" => {
                let Value::Array(items) = value else {
                    return Err("Value of numeric must be an array.".to_string());
                };
                let range = self.numeric(items)?;
                too_many()?;
                Ok(Matcher::Numeric(range))
            }
            "anything-but" => {
                let m = self.anything_but(value)?;
                too_many()?;
                Ok(Matcher::AnythingBut(m))
            }
            "exists" => {
                let Value::Bool(b) = value else {
                    return Err("exists match pattern must be either true or false.".to_string());
                };
                only_one()?;
                Ok(Matcher::Exists(*b))
            }
            "cidr" => {
                let Value::String(s) = value else {
                    return Err("prefix match pattern must be a string".to_string());
                };
                let range = parse_cidr(s)?;
                only_one()?;
                Ok(Matcher::Cidr(range))
            }
            "equals-ignore-case" => {
                let Value::String(s) = value else {
                    return Err("equals-ignore-case match pattern must be a string".to_string());
                };
                only_one()?;
                Ok(Matcher::EqualsIgnoreCase(s.to_lowercase()))
            }
            "wildcard" if eb => {
                let Value::String(s) = value else {
                    return Err("wildcard match pattern must be a string".to_string());
                };
                let w = parse_wildcard(s)?;
                only_one()?;
                Ok(Matcher::Wildcard(w))
            }
            other => Err(format!("Unrecognized match type {other}")),
        }
    }

    /// The array after `"numeric"`.
    fn numeric(&self, items: &[Value]) -> R<NumRange> {
        let Some(Value::String(op)) = items.first() else {
            return Err(format!(
                "Invalid member in numeric match: {}",
                token_text(items.first())
            ));
        };
        let value_of = |op: &str, v: Option<&Value>| -> R<f64> {
            v.and_then(num_value).ok_or_else(|| {
                let label = if op == "=" { "equals" } else { op };
                format!("Value of {label} must be numeric")
            })
        };
        let too_many = || "Too many elements in numeric expression".to_string();
        match op.as_str() {
            "=" => {
                let x = value_of("=", items.get(1))?;
                if items.len() > 2 {
                    return Err(too_many());
                }
                let x = self.comparable(x)?;
                Ok(NumRange {
                    lo: x,
                    lo_incl: true,
                    hi: x,
                    hi_incl: true,
                })
            }
            ">" | ">=" => {
                let lo = value_of(op, items.get(1))?;
                let lo_incl = op == ">=";
                if items.len() == 2 {
                    let lo = self.comparable(lo)?;
                    return Ok(NumRange {
                        lo,
                        lo_incl,
                        hi: f64::INFINITY,
                        hi_incl: false,
                    });
                }
                let Some(Value::String(op2)) = items.get(2) else {
                    return Err(format!(
                        "Bad value in numeric range: {}",
                        token_text(items.get(2))
                    ));
                };
                if op2 != "<" && op2 != "<=" {
                    return Err(format!("Bad numeric range operator: {op2}"));
                }
                let hi = value_of(op2, items.get(3))?;
                if items.len() > 4 {
                    return Err("Too many terms in numeric range expression".to_string());
                }
                let lo = self.comparable(lo)?;
                let hi = self.comparable(hi)?;
                if lo >= hi {
                    return Err("Bottom must be less than top".to_string());
                }
                Ok(NumRange {
                    lo,
                    lo_incl,
                    hi,
                    hi_incl: op2 == "<=",
                })
            }
            "<" | "<=" => {
                let hi = value_of(op, items.get(1))?;
                if items.len() > 2 {
                    return Err(too_many());
                }
                let hi = self.comparable(hi)?;
                Ok(NumRange {
                    lo: f64::NEG_INFINITY,
                    lo_incl: false,
                    hi,
                    hi_incl: op == "<=",
                })
            }
            other => Err(format!("Unrecognized numeric range operator: {other}")),
        }
    }

    fn anything_but(&self, value: &Value) -> R<AnythingBut> {
        const TYPE_ERR: &str =
            "Value of anything-but must be an array or single string/number value.";
        match value {
            Value::Object(inner) => {
                let mut it = inner.iter();
                let Some((op, v)) = it.next() else {
                    return Err("Anything-But expression name not found".to_string());
                };
                let extra = it.next().is_some();
                if self.dialect == Dialect::Sns {
                    if op != "prefix" {
                        return Err(format!("Unsupported anything-but pattern: {op}"));
                    }
                    let Value::String(s) = v else {
                        return Err("prefix match pattern must be a string".to_string());
                    };
                    if s.is_empty() {
                        return Err("Null prefix/suffix not allowed".to_string());
                    }
                    if extra {
                        return Err("Only one key allowed in match expression".to_string());
                    }
                    return Ok(AnythingBut::Prefixes(vec![s.clone()]));
                }
                #[derive(PartialEq)]
                enum Kind {
                    IgnoreCase,
                    Prefix,
                    Suffix,
                    Wildcard,
                }
                let kind = match op.as_str() {
                    "equals-ignore-case" => Kind::IgnoreCase,
                    "prefix" => Kind::Prefix,
                    "suffix" => Kind::Suffix,
                    "wildcard" => Kind::Wildcard,
                    other => return Err(format!("Unsupported anything-but pattern: {other}")),
                };
                let list: Vec<&Value> = match v {
                    Value::Array(a) => a.iter().collect(),
                    Value::String(_) | Value::Number(_) => vec![v],
                    _ => return Err(TYPE_ERR.to_string()),
                };
                let mut texts = Vec::with_capacity(list.len());
                for item in list {
                    let Value::String(s) = item else {
                        return Err(match kind {
                            Kind::IgnoreCase => {
                                "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
                            }
                            Kind::Wildcard => "wildcard match pattern must be a string",
                            Kind::Prefix | Kind::Suffix => "prefix/suffix match pattern must be a string",
                        }
                        .to_string());
                    };
                    if (kind == Kind::Prefix || kind == Kind::Suffix) && s.is_empty() {
                        return Err("Null prefix/suffix not allowed".to_string());
                    }
                    texts.push(s.clone());
                }
                let out = match kind {
                    Kind::IgnoreCase => {
                        AnythingBut::IgnoreCase(texts.iter().map(|s| s.to_lowercase()).collect())
                    }
                    Kind::Prefix => AnythingBut::Prefixes(texts),
                    Kind::Suffix => AnythingBut::Suffixes(texts),
                    Kind::Wildcard => AnythingBut::Wildcards(
                        texts
                            .iter()
                            .map(|s| parse_wildcard(s))
                            .collect::<R<Vec<_>>>()?,
                    ),
                };
                if extra {
                    return Err("Too many elements in numeric expression".to_string());
                }
                Ok(out)
            }
            Value::Array(items) => {
                let mut strings = Vec::new();
                let mut numbers = Vec::new();
                for item in items {
                    match item {
                        Value::String(s) => strings.push(s.clone()),
                        Value::Number(n) => match n.as_f64() {
                            Some(x) => numbers.push(self.comparable(x)?),
                            None => return Err(TYPE_ERR.to_string()),
                        },
                        _ => {
                            return Err(
                                "Inside anything but list, start|null|boolean is not supported."
                                    .to_string(),
                            );
                        }
                    }
                }
                match (strings.is_empty(), numbers.is_empty()) {
                    (false, true) => Ok(AnythingBut::Strings(strings)),
                    (true, false) => Ok(AnythingBut::Numbers(numbers)),
                    _ => Err(
                        "Inside anything but list, either all values are number or string, mixed type is not supported"
                            .to_string(),
                    ),
                }
            }
            Value::String(s) => Ok(AnythingBut::Strings(vec![s.clone()])),
            Value::Number(n) => match n.as_f64() {
                Some(x) => Ok(AnythingBut::Numbers(vec![self.comparable(x)?])),
                None => Err(TYPE_ERR.to_string()),
            },
            _ => Err(TYPE_ERR.to_string()),
        }
    }
}

fn exact_string(s: &str) -> Matcher {
    Matcher::ExactStr {
        value: s.to_string(),
        ip: parse_ip_literal(s).flatten(),
    }
}
