//! The CloudWatch Logs filter pattern language, as used by FilterLogEvents,
//! metric filters and subscription filters. Pure: parsing and matching only.
//!
//! A pattern is one of:
//! - empty: every event matches;
//! - `{ ... }`: a JSON pattern, evaluated on messages that are JSON (module `json`);
//! - `[ ... ]`: a space-delimited pattern (module `delimited`);
//! - otherwise terms (module `terms`): words, "quoted phrases", `?alternatives`,
//!   `-exclusions` and `%regex%`.
//!
//! Matching is case-sensitive, as on AWS.

mod cursor;
mod delimited;
mod json;
mod terms;
mod value;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use std::collections::BTreeMap;

/// Why a pattern could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(pub String);

impl PatternError {
    fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PatternError {}

#[derive(Debug)]
enum Kind {
    All,
    Terms(terms::Terms),
    Json(json::Expr),
    Delimited(delimited::Delimited),
}

/// A parsed filter pattern.
#[derive(Debug)]
pub struct FilterPattern {
    kind: Kind,
}

impl FilterPattern {
    pub fn parse(src: &str) -> Result<FilterPattern, PatternError> {
        let t = src.trim();
        let kind = if t.is_empty() {
            Kind::All
        } else if t.starts_with('{') {
            Kind::Json(json::Expr::parse(t)?)
        } else if t.starts_with('[') {
            Kind::Delimited(delimited::Delimited::parse(t)?)
        } else {
            Kind::Terms(terms::Terms::parse(t)?)
        };
        Ok(FilterPattern { kind })
    }

    /// A pattern that matches every event.
    pub fn all() -> FilterPattern {
        FilterPattern { kind: Kind::All }
    }

    pub fn matches_all(&self) -> bool {
        matches!(self.kind, Kind::All)
    }

    pub fn matches(&self, message: &str) -> bool {
        match &self.kind {
            Kind::All => true,
            Kind::Terms(t) => t.matches(message),
            Kind::Json(e) => parse_json(message).is_some_and(|doc| e.matches(&doc)),
            Kind::Delimited(d) => d.matches(message),
        }
    }

    /// `Some(extracted values)` when the message matches: named columns as
    /// `$name` for space-delimited patterns, selected values by selector for
    /// JSON patterns, nothing for term patterns.
    pub fn extract(&self, message: &str) -> Option<BTreeMap<String, String>> {
        match &self.kind {
            Kind::All => Some(BTreeMap::new()),
            Kind::Terms(t) => t.matches(message).then(BTreeMap::new),
            Kind::Json(e) => {
                let doc = parse_json(message)?;
                if !e.matches(&doc) {
                    return None;
                }
                let mut out = BTreeMap::new();
                e.extract(&doc, &mut out);
                Some(out)
            }
            Kind::Delimited(d) => d.extract(message),
        }
    }

    /// Whether a metric value such as `$size` or `$.latency` can be taken from
    /// events matched by this pattern.
    pub fn can_extract(&self, selector: &str) -> bool {
        match &self.kind {
            Kind::Delimited(d) => selector
                .strip_prefix('$')
                .is_some_and(|n| d.column_names().any(|c| c == n)),
            Kind::Json(_) => selector.starts_with("$."),
            Kind::All | Kind::Terms(_) => false,
        }
    }
}

/// Only messages that are a JSON object or array take part in JSON patterns.
fn parse_json(message: &str) -> Option<serde_json::Value> {
    let t = message.trim_start();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    serde_json::from_str(message).ok()
}
