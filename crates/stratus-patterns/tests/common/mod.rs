//! Shared test helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use stratus_patterns::{Pattern, RuleSet};

/// Assert that `pattern` does (or does not) match `event`, through every entry
/// point: JSON text, parsed value, and a rule set holding the pattern among
/// unrelated rules.
pub fn check(pattern: &str, event: &str, expected: bool) {
    let p = Pattern::parse(pattern).unwrap_or_else(|e| panic!("pattern {pattern} rejected: {e}"));
    let by_text = p
        .matches_json(event)
        .unwrap_or_else(|e| panic!("event {event} rejected: {e}"));
    assert_eq!(
        by_text, expected,
        "text: pattern {pattern} vs event {event}"
    );
    let v: Value = serde_json::from_str(event).unwrap();
    assert_eq!(
        p.matches(&v),
        expected,
        "value: pattern {pattern} vs event {event}"
    );

    let mut rs = RuleSet::new();
    rs.insert(
        "noise-1",
        Pattern::parse(r#"{"zzz-noise": ["x"]}"#).unwrap(),
    );
    rs.insert("target", p);
    rs.insert(
        "noise-2",
        Pattern::parse(r#"{"source": ["never-this-source"]}"#).unwrap(),
    );
    let hits = rs.matches_json(event).unwrap();
    assert_eq!(
        hits.contains(&"target"),
        expected,
        "rule set (text): {pattern} vs {event}"
    );
    let hits = rs.matches(&v);
    assert_eq!(
        hits.contains(&"target"),
        expected,
        "rule set (value): {pattern} vs {event}"
    );
}

/// Assert that `pattern` is rejected with exactly `reason`.
pub fn check_err(pattern: &str, reason: &str) {
    match Pattern::parse(pattern) {
        Ok(_) => panic!("pattern {pattern} was accepted, expected: {reason}"),
        Err(e) => {
            assert_eq!(e.code(), "InvalidEventPatternException");
            assert_eq!(e.reason(), reason, "pattern {pattern}");
            assert_eq!(
                e.message(),
                format!("Event pattern is not valid. Reason: {reason}")
            );
        }
    }
}
