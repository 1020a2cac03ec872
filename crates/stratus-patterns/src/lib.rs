//! # stratus-patterns
//!
//! The EventBridge event-pattern engine of Stratus, plus the SNS
//! subscription-filter-policy dialect built on it. Pure: no I/O, no async, no
//! networking.
//!
//! * [`Pattern`] — one compiled event pattern: [`Pattern::parse`],
//!   [`Pattern::matches_json`], [`Pattern::matches`].
//! * [`RuleSet`] — many named patterns matched together; the event is flattened
//!   once and conditions are found through per-field hash indexes, so matching
//!   cost grows with the conditions an event hits, not with the number of rules.
//! * [`FilterPolicy`] — SNS filter policies for the `MessageAttributes` and
//!   `MessageBody` scopes.
//!
//! ## Supported pattern language
//!
//! Exact strings, numbers (compared numerically: `300` matches `300.0`),
//! booleans and `null`; `prefix` and `suffix` (also the
//! `{"prefix": {"equals-ignore-case": ...}}` / `{"suffix": {"equals-ignore-case": ...}}`
//! forms); `equals-ignore-case`; `wildcard` (`*`, with `\*` and `\\` escapes;
//! consecutive `*` rejected); `anything-but` with a string, a number, a list of
//! strings or of numbers, or `{"prefix"|"suffix"|"equals-ignore-case"|"wildcard": value-or-list}`;
//! `numeric` (`=`, `<`, `<=`, `>`, `>=` and two-sided ranges);
//! `exists` (`true`/`false`, leaves only); `cidr` (IPv4 and IPv6; exact strings
//! that are IP literals match any spelling of the same address); `$or`
//! (including nested `$or`; an `$or` that is not a valid OR — fewer than two
//! objects, operator names inside — is read as an ordinary field name, as
//! EventBridge does for old rules); nested objects and EventBridge's array
//! semantics: a value list matches when any entry matches, an event array
//! matches when any element matches, and two fields of one match may not come
//! from different elements of the same array. Keys are dot-joined, so the event
//! key `"a.b"` is the same field as `{"a": {"b": ...}}`. Duplicate keys in a
//! pattern keep the last value.
//!
//! ## Performance
//!
//! Measured in instructions per evaluation (one ~1 KiB EventBridge-shaped
//! event, given as JSON text, matched against the whole rule set; counted
//! with callgrind, so independent of the machine's load): about 7,200 with
//! 10 rules, 13,550 with 300 and 19,600 with 1000 rules of mixed operators,
//! JSON reading included. Wall-clock figures, the method, the history of the
//! changes and where the instructions and the time go are in `BENCH.md`;
//! there the crate is 4–5× faster than the `quamina` crate on the same rules
//! at 10 rules, 19–28× at 300 and 42–62× at 1000.
//!
//! Invalid patterns fail with [`PatternError`] (code
//! `InvalidEventPatternException`) whose message is AWS's first line,
//! `Event pattern is not valid. Reason: ...`.
//!
//! ## Known divergences from AWS
//!
//! * Error messages reproduce AWS's first line only (AWS appends the parser
//!   position on a second line); JSON syntax errors use serde_json's wording.
//! * Numbers are compared as `f64` everywhere. AWS compares numbers within
//!   ±5e9 with six decimals and larger ones by their literal text, so two
//!   different integers above 2^53 that round to the same `f64` match here.
//! * The numeric operators accept pattern values within ±5e9 (±1e9 for SNS,
//!   as its documentation states); event values are not range-limited.
//! * `exists: false` is decided for the whole event (no value anywhere at that
//!   path), not per array element.
//! * A pattern may expand to at most 1024 `$or` combinations of at most 64
//!   fields each; beyond that it is rejected with a message of this crate.
//! * The fast JSON reader checks brackets and strings of subtrees no pattern
//!   refers to, but not their full grammar (e.g. a missing comma there is not
//!   reported).
//! * An event with a duplicate key: from JSON text every occurrence is seen
//!   (as a streaming reader sees them); from a parsed `serde_json::Value` only
//!   the last one exists.
//! * Case-insensitive operators use Rust's Unicode lower-casing.
//! * SNS: `{}` is accepted and matches everything; the attribute-scope
//!   nesting error and the limit errors are produced after syntax checks; the
//!   5-key limit is applied per `$or` combination.

mod cidr;
mod deferred;
mod error;
mod flatten;
mod hash;
mod index;
mod matcher;
mod parse;
mod pattern;
#[cfg(test)]
mod reference;
mod sns;
mod stab;
mod wildcard;

pub use error::{EventError, FilterPolicyError, PatternError};
pub use pattern::{Pattern, RuleSet};
pub use sns::{FilterPolicy, FilterPolicyScope, MAX_COMBINATIONS, MAX_KEYS};
