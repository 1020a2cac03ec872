//! `wildcard` patterns: `*` matches any run of characters (including none),
//! `\*` is a literal asterisk, `\\` a literal backslash; any other escape and two
//! consecutive unescaped `*` are rejected with AWS's texts. Positions in error
//! messages count bytes from 1, as AWS reports them.

use crate::hash::bytes_eq;
use crate::matcher::{ends_with, starts_with};

/// A condition every value matching a wildcard meets (see
/// [`Wildcard::necessary`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Necessary<'a> {
    Whole(&'a str),
    Prefix(&'a str),
    Suffix(&'a str),
}

/// A compiled wildcard: the literal pieces between the stars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wildcard {
    parts: Vec<String>,
}

pub(crate) fn parse_wildcard(text: &str) -> Result<Wildcard, String> {
    let b = text.as_bytes();
    let mut parts: Vec<Vec<u8>> = vec![Vec::new()];
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'*' => {
                if b.get(i + 1) == Some(&b'*') {
                    return Err(format!("Consecutive wildcard characters at pos {}", i + 1));
                }
                parts.push(Vec::new());
                i += 1;
            }
            b'\\' => match b.get(i + 1) {
                Some(&c @ (b'*' | b'\\')) => {
                    if let Some(last) = parts.last_mut() {
                        last.push(c);
                    }
                    i += 2;
                }
                _ => return Err(format!("Invalid escape character at pos {}", i + 1)),
            },
            c => {
                if let Some(last) = parts.last_mut() {
                    last.push(c);
                }
                i += 1;
            }
        }
    }
    let parts = parts
        .into_iter()
        .map(|p| {
            String::from_utf8(p).map_err(|_| "wildcard pattern is not valid UTF-8".to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Wildcard { parts })
}

impl Wildcard {
    /// What every matching value has: the whole literal (no star), or its
    /// literal start or end (the longer one); `None` when neither is literal.
    pub(crate) fn necessary(&self) -> Option<Necessary<'_>> {
        match self.parts.as_slice() {
            [whole] => Some(Necessary::Whole(whole)),
            [first, .., last] if !first.is_empty() && first.len() >= last.len() => {
                Some(Necessary::Prefix(first))
            }
            [_, .., last] if !last.is_empty() => Some(Necessary::Suffix(last)),
            _ => None,
        }
    }

    pub(crate) fn matches(&self, s: &str) -> bool {
        let n = self.parts.len();
        let (Some(first), Some(last)) = (self.parts.first(), self.parts.last()) else {
            return false;
        };
        if n == 1 {
            return bytes_eq(s.as_bytes(), first.as_bytes());
        }
        if s.len() < first.len() + last.len() || !starts_with(s, first) || !ends_with(s, last) {
            return false;
        }
        // Byte-wise search is exact here: UTF-8 never matches inside a character.
        let mut mid = &s.as_bytes()[first.len()..s.len() - last.len()];
        for p in &self.parts[1..n - 1] {
            match find(mid, p.as_bytes()) {
                Some(k) => mid = &mid[k + p.len()..],
                None => return false,
            }
        }
        true
    }
}

/// First position of `needle` in `hay`: candidates by the first byte (SIMD),
/// then a short comparison; wildcard pieces and event values are short, so
/// this beats a searcher that must be built per call.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let Some(&first) = needle.first() else {
        return Some(0);
    };
    let mut at = 0;
    while hay.len() - at >= needle.len() {
        let k = at + memchr::memchr(first, &hay[at..=hay.len() - needle.len()])?;
        if bytes_eq(&hay[k..k + needle.len()], needle) {
            return Some(k);
        }
        at = k + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(p: &str) -> Wildcard {
        parse_wildcard(p).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn matching() {
        assert!(
            w("arn:aws:events:us-east-1:*:event-bus/*")
                .matches("arn:aws:events:us-east-1:123456789012:event-bus/myEventBus")
        );
        assert!(w("*").matches(""));
        assert!(w("").matches(""));
        assert!(!w("").matches("x"));
        assert!(w("a*a").matches("aa"));
        assert!(!w("a*a").matches("a"));
        assert!(w("*/dir/*").matches("x/dir/y"));
        assert!(w("a\\*b").matches("a*b"));
        assert!(!w("a\\*b").matches("axb"));
        assert!(w("a\\\\b").matches("a\\b"));
        assert!(w("*ab*ab*").matches("xabyab"));
        assert!(!w("*ab*ab*").matches("xaby"));
        assert!(w("a*bc*d").matches("abcbcd"));
        assert!(w("a*é*z").matches("aééz"));
        assert!(!w("a*bcd*e").matches("abce"));
    }

    #[test]
    fn necessary_conditions() {
        assert_eq!(w("a\\*b").necessary(), Some(Necessary::Whole("a*b")));
        assert_eq!(w("").necessary(), Some(Necessary::Whole("")));
        assert_eq!(w("arn:*:x").necessary(), Some(Necessary::Prefix("arn:")));
        assert_eq!(w("ab*c*ab").necessary(), Some(Necessary::Prefix("ab")));
        assert_eq!(w("a*.png").necessary(), Some(Necessary::Suffix(".png")));
        assert_eq!(w("*.png").necessary(), Some(Necessary::Suffix(".png")));
        assert_eq!(w("*x*").necessary(), None);
        assert_eq!(w("*").necessary(), None);
        // Whatever matches meets the condition.
        for (p, v) in [
            ("arn:*:x", "arn:1:x"),
            ("a*.png", "ab.png"),
            ("a\\*b", "a*b"),
        ] {
            assert!(w(p).matches(v));
            let ok = match w(p).necessary() {
                Some(Necessary::Whole(x)) => v == x,
                Some(Necessary::Prefix(x)) => v.starts_with(x),
                Some(Necessary::Suffix(x)) => v.ends_with(x),
                None => true,
            };
            assert!(ok, "{p} {v}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_wildcard("arn:aws:events:us-east-1:**:event-bus/*")
                .err()
                .as_deref(),
            Some("Consecutive wildcard characters at pos 26")
        );
        assert_eq!(
            parse_wildcard("a\\b").err().as_deref(),
            Some("Invalid escape character at pos 2")
        );
        assert!(parse_wildcard("\\**").is_ok());
    }
}
