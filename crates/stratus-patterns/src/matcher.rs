//! Compiled single-value matchers and their evaluation against one leaf value of
//! an event.

use crate::cidr::{CidrRange, IpKey, ip_value};
use crate::hash::bytes_eq;
use crate::wildcard::Wildcard;

/// One leaf value of a flattened event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Val<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
    Null,
}

/// A numeric interval; open ends use infinities.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NumRange {
    pub(crate) lo: f64,
    pub(crate) lo_incl: bool,
    pub(crate) hi: f64,
    pub(crate) hi_incl: bool,
}

impl NumRange {
    /// Without branches: which bounds a range includes varies from test to
    /// test, and whether a value is inside from value to value.
    #[inline]
    pub(crate) fn contains(&self, x: f64) -> bool {
        let above = (x > self.lo) | (self.lo_incl & (x == self.lo));
        let below = (x < self.hi) | (self.hi_incl & (x == self.hi));
        above & below
    }
}

/// What an `anything-but` excludes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnythingBut {
    Strings(Vec<String>),
    Numbers(Vec<f64>),
    Prefixes(Vec<String>),
    Suffixes(Vec<String>),
    /// Lower-cased.
    IgnoreCase(Vec<String>),
    Wildcards(Vec<Wildcard>),
}

impl AnythingBut {
    fn excluded(&self, v: Val<'_>) -> bool {
        match (self, v) {
            (Self::Strings(l), Val::Str(s)) => {
                l.iter().any(|x| bytes_eq(x.as_bytes(), s.as_bytes()))
            }
            (Self::Numbers(l), Val::Num(n)) => l.contains(&n),
            (Self::Prefixes(l), Val::Str(s)) => l.iter().any(|p| starts_with(s, p)),
            (Self::Suffixes(l), Val::Str(s)) => l.iter().any(|p| ends_with(s, p)),
            (Self::IgnoreCase(l), Val::Str(s)) => l.iter().any(|p| eq_ignore_case(s, p)),
            (Self::Wildcards(l), Val::Str(s)) => l.iter().any(|w| w.matches(s)),
            _ => false,
        }
    }
}

/// One entry of a pattern's value list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Matcher {
    /// Exact string; `ip` is set when the string is an IP literal (then any
    /// textual form of the same address matches, as in EventBridge).
    ExactStr {
        value: String,
        ip: Option<IpKey>,
    },
    ExactNum(f64),
    ExactBool(bool),
    ExactNull,
    Prefix(String),
    /// Lower-cased.
    PrefixIgnoreCase(String),
    Suffix(String),
    /// Lower-cased.
    SuffixIgnoreCase(String),
    /// Lower-cased.
    EqualsIgnoreCase(String),
    Wildcard(Wildcard),
    Numeric(NumRange),
    Cidr(CidrRange),
    Exists(bool),
    AnythingBut(AnythingBut),
}

/// `s.starts_with(p)` without a library call for short strings.
#[inline]
pub(crate) fn starts_with(s: &str, p: &str) -> bool {
    s.len() >= p.len() && bytes_eq(&s.as_bytes()[..p.len()], p.as_bytes())
}

/// `s.ends_with(p)` without a library call for short strings.
#[inline]
pub(crate) fn ends_with(s: &str, p: &str) -> bool {
    s.len() >= p.len() && bytes_eq(&s.as_bytes()[s.len() - p.len()..], p.as_bytes())
}

/// Case-insensitive equality against an already lower-cased pattern.
#[inline]
pub(crate) fn eq_ignore_case(s: &str, lower: &str) -> bool {
    if s.is_ascii() && lower.is_ascii() {
        s.eq_ignore_ascii_case(lower)
    } else {
        s.to_lowercase() == lower
    }
}

#[inline]
pub(crate) fn starts_with_ignore_case(s: &str, lower: &str) -> bool {
    if s.is_ascii() && lower.is_ascii() {
        s.len() >= lower.len() && s.as_bytes()[..lower.len()].eq_ignore_ascii_case(lower.as_bytes())
    } else {
        s.to_lowercase().starts_with(lower)
    }
}

#[inline]
pub(crate) fn ends_with_ignore_case(s: &str, lower: &str) -> bool {
    if s.is_ascii() && lower.is_ascii() {
        s.len() >= lower.len()
            && s.as_bytes()[s.len() - lower.len()..].eq_ignore_ascii_case(lower.as_bytes())
    } else {
        s.to_lowercase().ends_with(lower)
    }
}

impl Matcher {
    /// Does this matcher accept the leaf value `v`? (`exists: false` never
    /// accepts a value: absence is decided per field, not per value.)
    pub(crate) fn matches(&self, v: Val<'_>) -> bool {
        match (self, v) {
            (Self::ExactStr { value, ip }, Val::Str(s)) => {
                bytes_eq(s.as_bytes(), value.as_bytes())
                    || ip.is_some_and(|ip| ip_value(s) == Some(ip))
            }
            (Self::ExactNum(n), Val::Num(x)) => *n == x,
            (Self::ExactBool(b), Val::Bool(x)) => *b == x,
            (Self::ExactNull, Val::Null) => true,
            (Self::Prefix(p), Val::Str(s)) => starts_with(s, p),
            (Self::PrefixIgnoreCase(p), Val::Str(s)) => starts_with_ignore_case(s, p),
            (Self::Suffix(p), Val::Str(s)) => ends_with(s, p),
            (Self::SuffixIgnoreCase(p), Val::Str(s)) => ends_with_ignore_case(s, p),
            (Self::EqualsIgnoreCase(p), Val::Str(s)) => eq_ignore_case(s, p),
            (Self::Wildcard(w), Val::Str(s)) => w.matches(s),
            (Self::Numeric(r), Val::Num(x)) => r.contains(x),
            (Self::Cidr(r), Val::Str(s)) => ip_value(s).is_some_and(|ip| r.contains(&ip)),
            (Self::Exists(b), _) => *b,
            (Self::AnythingBut(a), v) => !a.excluded(v),
            _ => false,
        }
    }
}
