//! The SNS dialect: subscription filter policies.
//!
//! A policy is an event pattern with SNS's operator set (`exact values`,
//! `prefix`, `suffix`, `equals-ignore-case`, `anything-but` with values or
//! `prefix`, `numeric`, `exists`, `cidr`, `$or`) and SNS's limits:
//!
//! * at most 5 keys per `$or` combination (for nested body policies only the
//!   top-level keys count): `Filter policy can not have more than 5 keys`;
//! * total combination at most 150, computed as AWS documents it — per `$or`
//!   combination the product over value lists of (number of values × nesting
//!   depth of the key), summed over combinations: `Filter policy is too complex`;
//! * no nested keys in the `MessageAttributes` scope.
//!
//! With scope `MessageAttributes`, the policy's keys are attribute names:
//! `String` attributes are strings, `Number` attributes numbers, and each
//! element of a `String.Array` attribute (a JSON array) is matched on its own.
//! Other attribute types (`Binary`) are ignored. With scope `MessageBody`, the
//! message body must be a JSON object and is matched like an EventBridge event.

use std::collections::HashMap;
use std::hash::BuildHasher;

use serde_json::{Map, Value};

use crate::error::FilterPolicyError;
use crate::parse::{Dialect, parse_pattern};
use crate::pattern::Pattern;

/// Maximum keys per policy combination.
pub const MAX_KEYS: usize = 5;
/// Maximum total combination of values.
pub const MAX_COMBINATIONS: u64 = 150;

/// What a subscription's filter policy is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum FilterPolicyScope {
    /// Message attributes (the default).
    #[default]
    MessageAttributes,
    /// The message body, read as JSON.
    MessageBody,
}

impl FilterPolicyScope {
    /// Parse the `FilterPolicyScope` attribute value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "MessageAttributes" => Some(Self::MessageAttributes),
            "MessageBody" => Some(Self::MessageBody),
            _ => None,
        }
    }

    /// The attribute value text.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::MessageAttributes => "MessageAttributes",
            Self::MessageBody => "MessageBody",
        }
    }
}

/// A compiled SNS subscription filter policy.
#[derive(Debug, Clone)]
pub struct FilterPolicy {
    scope: FilterPolicyScope,
    /// `None` for the empty policy `{}`, which accepts every message.
    pattern: Option<Pattern>,
}

/// One leaf list of a policy, for the limits: (top-level key, values, depth).
struct LimitLeaf<'a> {
    key: &'a str,
    values: u64,
    depth: u64,
}

/// Expand a policy object into its `$or` combinations of leaf lists.
fn combinations<'a>(
    obj: &'a Map<String, Value>,
    top: Option<&'a str>,
    depth: u64,
) -> Vec<Vec<LimitLeaf<'a>>> {
    let mut branches: Vec<Vec<LimitLeaf<'a>>> = vec![Vec::new()];
    let cross = |branches: Vec<Vec<LimitLeaf<'a>>>, alternatives: Vec<Vec<LimitLeaf<'a>>>| {
        let mut out = Vec::with_capacity(branches.len() * alternatives.len().max(1));
        for b in &branches {
            for alt in &alternatives {
                let mut merged: Vec<LimitLeaf<'a>> = b
                    .iter()
                    .map(|l| LimitLeaf {
                        key: l.key,
                        values: l.values,
                        depth: l.depth,
                    })
                    .collect();
                merged.extend(alt.iter().map(|l| LimitLeaf {
                    key: l.key,
                    values: l.values,
                    depth: l.depth,
                }));
                out.push(merged);
            }
        }
        out
    };
    for (key, value) in obj {
        match value {
            Value::Array(items)
                if key == "$or" && items.iter().all(Value::is_object) && items.len() >= 2 =>
            {
                let mut alternatives = Vec::new();
                for item in items {
                    if let Value::Object(o) = item {
                        alternatives.extend(combinations(o, top, depth));
                    }
                }
                branches = cross(branches, alternatives);
            }
            Value::Object(o) => {
                let sub = combinations(o, Some(top.unwrap_or(key)), depth + 1);
                branches = cross(branches, sub);
            }
            Value::Array(items) => {
                for b in &mut branches {
                    b.push(LimitLeaf {
                        key: top.unwrap_or(key),
                        values: items.len() as u64,
                        depth: depth + 1,
                    });
                }
            }
            _ => {}
        }
    }
    branches
}

/// Is any key (outside `$or` arrays) given an object value?
fn is_nested(obj: &Map<String, Value>) -> bool {
    obj.iter().any(|(k, v)| match v {
        Value::Object(_) => true,
        Value::Array(items) if k == "$or" => items
            .iter()
            .any(|i| matches!(i, Value::Object(o) if is_nested(o))),
        _ => false,
    })
}

impl FilterPolicy {
    /// Parse and validate a filter policy for the given scope.
    pub fn parse(text: &str, scope: FilterPolicyScope) -> Result<Self, FilterPolicyError> {
        let v: Value = serde_json::from_str(text)
            .map_err(|_| FilterPolicyError::invalid("failed to parse JSON."))?;
        Self::from_value(&v, scope)
    }

    /// Validate an already parsed policy.
    pub fn from_value(v: &Value, scope: FilterPolicyScope) -> Result<Self, FilterPolicyError> {
        if v.as_object().is_some_and(Map::is_empty) {
            return Ok(Self {
                scope,
                pattern: None,
            });
        }
        let branches = parse_pattern(v, Dialect::Sns).map_err(FilterPolicyError::invalid)?;
        let Value::Object(obj) = v else {
            return Err(FilterPolicyError::invalid("Filter is not an object"));
        };
        if scope == FilterPolicyScope::MessageAttributes && is_nested(obj) {
            return Err(FilterPolicyError::NestedInAttributesScope);
        }
        let combos = combinations(obj, None, 0);
        let mut total: u64 = 0;
        for combo in &combos {
            let mut keys: Vec<&str> = combo.iter().map(|l| l.key).collect();
            keys.sort_unstable();
            keys.dedup();
            if keys.len() > MAX_KEYS {
                return Err(FilterPolicyError::invalid(format!(
                    "Filter policy can not have more than {MAX_KEYS} keys"
                )));
            }
            let product = combo.iter().fold(1u64, |acc, l| {
                acc.saturating_mul(l.values.saturating_mul(l.depth))
            });
            total = total.saturating_add(product);
        }
        if total > MAX_COMBINATIONS {
            return Err(FilterPolicyError::invalid("Filter policy is too complex"));
        }
        Ok(Self {
            scope,
            pattern: Some(Pattern::from_branches(branches)),
        })
    }

    /// The scope the policy was validated for.
    pub fn scope(&self) -> FilterPolicyScope {
        self.scope
    }

    /// Match a message body (scope `MessageBody`). A body that is not a JSON
    /// object matches only the empty policy.
    pub fn matches_body(&self, body: &str) -> bool {
        let Some(p) = &self.pattern else {
            return true;
        };
        let Ok(v) = serde_json::from_str::<Value>(body) else {
            return false;
        };
        v.is_object() && p.matches(&v)
    }

    /// Match message attributes (scope `MessageAttributes`), given as
    /// `(name, data type, string value)`.
    pub fn matches_attributes<'a, I>(&self, attributes: I) -> bool
    where
        I: IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    {
        let Some(p) = &self.pattern else {
            return true;
        };
        let mut obj = Map::new();
        for (name, data_type, value) in attributes {
            if let Some(v) = attribute_value(data_type, value) {
                obj.insert(name.to_string(), v);
            }
        }
        p.matches(&Value::Object(obj))
    }

    /// [`FilterPolicy::matches_attributes`] over a map `name -> (data type, value)`.
    pub fn matches_attribute_map<S: BuildHasher>(
        &self,
        attributes: &HashMap<String, (String, String), S>,
    ) -> bool {
        self.matches_attributes(
            attributes
                .iter()
                .map(|(n, (t, v))| (n.as_str(), t.as_str(), v.as_str())),
        )
    }

    /// Match a message according to the policy's scope.
    pub fn matches_message<'a, I>(&self, body: &str, attributes: I) -> bool
    where
        I: IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    {
        match self.scope {
            FilterPolicyScope::MessageAttributes => self.matches_attributes(attributes),
            FilterPolicyScope::MessageBody => self.matches_body(body),
        }
    }
}

/// The JSON value an attribute contributes, or `None` when SNS ignores it.
fn attribute_value(data_type: &str, value: &str) -> Option<Value> {
    // Custom types are written `String.xyz` / `Number.xyz`.
    let base = data_type.split('.').next().unwrap_or(data_type);
    if data_type == "String.Array" {
        return Some(match serde_json::from_str::<Value>(value) {
            Ok(v @ Value::Array(_)) => v,
            _ => Value::String(value.to_string()),
        });
    }
    match base {
        "String" => Some(Value::String(value.to_string())),
        "Number" => Some(
            value
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| Value::String(value.to_string()), Value::Number),
        ),
        _ => None,
    }
}
