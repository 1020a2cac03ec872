//! Public entry points: [`Pattern`] (one compiled event pattern) and [`RuleSet`]
//! (many named patterns matched together).

use std::cell::RefCell;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use serde_json::Value;

use crate::error::{EventError, PatternError};
use crate::flatten::{JsonSource, Source, ValueSource};
use crate::index::{Index, Scratch};
use crate::parse::{Branch, Dialect, parse_pattern};

thread_local! {
    static SCRATCH: RefCell<(Scratch, Vec<u32>)> = RefCell::new((Scratch::default(), Vec::new()));
}

/// Run `f` with this thread's reusable matching buffers.
fn with_scratch<R>(f: impl FnOnce(&mut Scratch, &mut Vec<u32>) -> R) -> R {
    SCRATCH.with(|cell| {
        if let Ok(mut guard) = cell.try_borrow_mut() {
            let (sc, out) = &mut *guard;
            return f(sc, out);
        }
        // Re-entered: use fresh buffers.
        f(&mut Scratch::default(), &mut Vec::new())
    })
}

/// A compiled EventBridge event pattern.
///
/// ```
/// use stratus_patterns::Pattern;
/// let p = Pattern::parse(r#"{"source": ["aws.ec2"], "detail": {"state": [{"anything-but": "pending"}]}}"#).unwrap();
/// assert!(p.matches_json(r#"{"source": "aws.ec2", "detail": {"state": "running"}}"#).unwrap());
/// assert!(!p.matches_json(r#"{"source": "aws.ec2", "detail": {"state": "pending"}}"#).unwrap());
/// ```
#[derive(Debug, Clone)]
pub struct Pattern {
    branches: Arc<[Branch]>,
    index: Arc<Index>,
}

impl Pattern {
    /// Parse and compile pattern text. Duplicate keys keep the last value, as
    /// EventBridge's parser does.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let v: Value = serde_json::from_str(text).map_err(|e| PatternError::new(e.to_string()))?;
        Self::from_value(&v)
    }

    /// Compile an already parsed pattern.
    pub fn from_value(v: &Value) -> Result<Self, PatternError> {
        let branches = parse_pattern(v, Dialect::EventBridge).map_err(PatternError::new)?;
        Ok(Self::from_branches(branches))
    }

    pub(crate) fn from_branches(branches: Vec<Branch>) -> Self {
        let mut index = Index::default();
        index.add_rule(0, &branches);
        Self {
            branches: branches.into(),
            index: Arc::new(index),
        }
    }

    /// How many `$or` combinations the pattern expands to (1 without `$or`).
    pub fn branch_count(&self) -> usize {
        self.branches.len()
    }

    /// Does the event (parsed JSON) match?
    pub fn matches(&self, event: &Value) -> bool {
        self.eval(&ValueSource(event)).unwrap_or(false)
    }

    /// Does the event (JSON text) match? Fails only when the text is not JSON.
    /// The whole text's structure (brackets, strings, punctuation) is
    /// checked, but only the values some test needs are decoded: a malformed
    /// number or escape in a value that no test reads goes unnoticed.
    /// (Stratus's services match text they serialized themselves.)
    pub fn matches_json(&self, event: &str) -> Result<bool, EventError> {
        self.eval(&JsonSource(event))
    }

    fn eval<E: Source>(&self, ev: &E) -> Result<bool, EventError> {
        with_scratch(|sc, out| {
            self.index.eval(ev, sc, out)?;
            Ok(!out.is_empty())
        })
    }
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&Value> for Pattern {
    type Error = PatternError;

    fn try_from(v: &Value) -> Result<Self, Self::Error> {
        Self::from_value(v)
    }
}

/// Many named patterns, matched against an event in one pass.
///
/// The event is flattened once; exact values, prefixes and suffixes are found
/// through hash lookups per field, so the cost of a match grows with the number
/// of conditions an event actually hits rather than with the number of rules.
///
/// ```
/// use stratus_patterns::{Pattern, RuleSet};
/// let mut rules = RuleSet::new();
/// rules.insert("ec2", Pattern::parse(r#"{"source": ["aws.ec2"]}"#).unwrap());
/// rules.insert("any", Pattern::parse(r#"{"source": [{"prefix": "aws."}]}"#).unwrap());
/// let hits = rules.matches_json(r#"{"source": "aws.ec2"}"#).unwrap();
/// assert_eq!(hits, vec!["ec2", "any"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    names: Vec<String>,
    patterns: Vec<Pattern>,
    by_name: HashMap<String, usize>,
    index: Index,
}

impl RuleSet {
    /// An empty rule set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add (or replace) the pattern called `name`; returns the replaced one.
    pub fn insert(&mut self, name: impl Into<String>, pattern: Pattern) -> Option<Pattern> {
        let name = name.into();
        if let Some(&i) = self.by_name.get(&name) {
            let old = std::mem::replace(&mut self.patterns[i], pattern);
            self.rebuild();
            return Some(old);
        }
        let id = self.names.len();
        self.index.add_rule(id as u32, &pattern.branches);
        self.by_name.insert(name.clone(), id);
        self.names.push(name);
        self.patterns.push(pattern);
        None
    }

    /// Remove the pattern called `name`.
    pub fn remove(&mut self, name: &str) -> Option<Pattern> {
        let i = self.by_name.remove(name)?;
        self.names.remove(i);
        let old = self.patterns.remove(i);
        self.by_name = self
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        self.rebuild();
        Some(old)
    }

    fn rebuild(&mut self) {
        let mut index = Index::default();
        for (i, p) in self.patterns.iter().enumerate() {
            index.add_rule(i as u32, &p.branches);
        }
        self.index = index;
    }

    /// The pattern called `name`.
    pub fn get(&self, name: &str) -> Option<&Pattern> {
        self.by_name.get(name).map(|&i| &self.patterns[i])
    }

    /// Number of patterns.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// No patterns at all?
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Pattern names, in insertion order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Names of the patterns matching the event (JSON text), in insertion
    /// order. Which values are decoded, and so checked beyond their
    /// structure, is as for [`Pattern::matches_json`]; for a rule set that
    /// also depends on the event's `source`: once it is read, values only
    /// the rules of other sources test are not decoded.
    pub fn matches_json(&self, event: &str) -> Result<Vec<&str>, EventError> {
        let mut out = Vec::new();
        self.matches_json_into(event, &mut out)?;
        Ok(out)
    }

    /// Names of the patterns matching the event (parsed JSON), in insertion order.
    pub fn matches(&self, event: &Value) -> Vec<&str> {
        let mut out = Vec::new();
        self.matches_into(event, &mut out);
        out
    }

    /// Like [`RuleSet::matches_json`], appending to a caller-owned vector
    /// (cleared first) to avoid an allocation per event.
    pub fn matches_json_into<'s>(
        &'s self,
        event: &str,
        out: &mut Vec<&'s str>,
    ) -> Result<(), EventError> {
        self.eval(&JsonSource(event), out)
    }

    /// Like [`RuleSet::matches`], appending to a caller-owned vector (cleared first).
    pub fn matches_into<'s>(&'s self, event: &Value, out: &mut Vec<&'s str>) {
        // A parsed value cannot fail to walk.
        let _ = self.eval(&ValueSource(event), out);
    }

    fn eval<'s, E: Source>(&'s self, ev: &E, out: &mut Vec<&'s str>) -> Result<(), EventError> {
        out.clear();
        with_scratch(|sc, ids| {
            self.index.eval(ev, sc, ids)?;
            out.extend(ids.iter().map(|&i| self.names[i as usize].as_str()));
            Ok(())
        })
    }
}
