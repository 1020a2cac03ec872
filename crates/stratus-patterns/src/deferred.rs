//! The operators of deferred tests (those the maps do not answer:
//! half-open `numeric` ranges, `anything-but`, `wildcard`, ...), compiled
//! for step 2 of matching, where each is evaluated for the few branches
//! whose indexed tests all hit.
//!
//! The common single operators are kept in a form that needs no pointer
//! chasing and no dispatch through [`Matcher::matches`]: a range in place,
//! and `anything-but` lists as spans of one shared text. A deferred test
//! is evaluated against values scattered over memory, for branches that
//! vary from event to event, so each level of indirection costs a cache
//! miss and each dispatch a mispredicted jump.

use crate::hash::{bytes_eq, tail_word};
use crate::matcher::{AnythingBut, Matcher, NumRange, Val, ends_with, starts_with};

/// One deferred test's operators (any of which may accept a value).
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// One `numeric` range.
    Range(NumRange),
    /// `anything-but` strings, prefixes or suffixes: the spans
    /// `Ops::lits[start..start + len]`.
    NotIn(u32, u32),
    NotPrefix(u32, u32),
    NotSuffix(u32, u32),
    /// Anything else: `Ops::matchers[start..start + len]`.
    Any(u32, u32),
}

/// A string's length and first sixteen bytes (zero-padded): equal for two
/// strings of up to sixteen bytes exactly when they are equal.
#[inline(always)]
fn words16(s: &str) -> [u64; 3] {
    let b = s.as_bytes();
    let head = &b[..b.len().min(8)];
    let rest = b.get(8..b.len().min(16)).unwrap_or(&[]);
    [b.len() as u64, tail_word(head), tail_word(rest)]
}

/// The storage of all deferred tests' operators.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ops {
    /// Spans of `text`.
    lits: Vec<(u32, u32)>,
    /// Per span: its length and first sixteen bytes as two zero-padded
    /// words, so a short value is compared with each without a branch.
    words: Vec<[u64; 3]>,
    text: String,
    matchers: Vec<Matcher>,
}

impl Ops {
    /// Compile the non-indexed operators of one test.
    pub(crate) fn compile(&mut self, slow: &[Matcher]) -> Op {
        match slow {
            [Matcher::Numeric(r)] => Op::Range(r.clone()),
            [Matcher::AnythingBut(AnythingBut::Strings(l))] => {
                let (a, n) = self.lits(l);
                Op::NotIn(a, n)
            }
            [Matcher::AnythingBut(AnythingBut::Prefixes(l))] => {
                let (a, n) = self.lits(l);
                Op::NotPrefix(a, n)
            }
            [Matcher::AnythingBut(AnythingBut::Suffixes(l))] => {
                let (a, n) = self.lits(l);
                Op::NotSuffix(a, n)
            }
            _ => {
                let start = self.matchers.len() as u32;
                self.matchers.extend_from_slice(slow);
                Op::Any(start, slow.len() as u32)
            }
        }
    }

    fn lits(&mut self, list: &[String]) -> (u32, u32) {
        let start = self.lits.len() as u32;
        for x in list {
            self.lits.push((self.text.len() as u32, x.len() as u32));
            self.words.push(words16(x));
            self.text.push_str(x);
        }
        (start, list.len() as u32)
    }

    #[inline(always)]
    fn spans(&self, start: u32, len: u32) -> impl Iterator<Item = &str> {
        let (a, n) = (start as usize, len as usize);
        self.lits
            .get(a..a + n)
            .unwrap_or(&[])
            .iter()
            .map(|&(at, len)| {
                self.text
                    .get(at as usize..(at + len) as usize)
                    .unwrap_or("")
            })
    }

    /// Does `op` accept the value `v`? (What [`Matcher::matches`] says
    /// of the operators it was compiled from.)
    #[inline(always)]
    pub(crate) fn accepts(&self, op: &Op, v: Val<'_>) -> bool {
        match (op, v) {
            (Op::Range(r), Val::Num(x)) => r.contains(x),
            (Op::Range(_), _) => false,
            (&Op::NotIn(a, n), Val::Str(s)) if s.len() <= 16 => {
                let (a, n) = (a as usize, n as usize);
                let key = words16(s);
                !self
                    .words
                    .get(a..a + n)
                    .unwrap_or(&[])
                    .iter()
                    .fold(false, |hit, w| hit | (*w == key))
            }
            (&Op::NotIn(a, n), Val::Str(s)) => !self
                .spans(a, n)
                .any(|x| bytes_eq(x.as_bytes(), s.as_bytes())),
            (&Op::NotPrefix(a, n), Val::Str(s)) => !self.spans(a, n).any(|x| starts_with(s, x)),
            (&Op::NotSuffix(a, n), Val::Str(s)) => !self.spans(a, n).any(|x| ends_with(s, x)),
            (Op::NotIn(..) | Op::NotPrefix(..) | Op::NotSuffix(..), _) => true,
            (&Op::Any(a, n), v) => {
                let (a, n) = (a as usize, n as usize);
                self.matchers
                    .get(a..a + n)
                    .unwrap_or(&[])
                    .iter()
                    .any(|m| m.matches(v))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wildcard::parse_wildcard;

    fn range(lo: f64, lo_incl: bool, hi: f64, hi_incl: bool) -> Matcher {
        Matcher::Numeric(NumRange {
            lo,
            lo_incl,
            hi,
            hi_incl,
        })
    }

    fn strings(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    /// Every compiled form answers as the operators it was compiled from.
    #[test]
    fn compiled_operators_agree_with_the_matchers() {
        let lists: Vec<Vec<Matcher>> = vec![
            vec![range(5.0, false, f64::INFINITY, false)],
            vec![range(f64::NEG_INFINITY, false, 5.0, true)],
            vec![Matcher::AnythingBut(AnythingBut::Strings(strings(&[
                "a",
                "bb",
                "",
                "long value over sixteen bytes",
                "sixteen bytes ok",
                "eight by",
            ])))],
            vec![Matcher::AnythingBut(AnythingBut::Prefixes(strings(&[
                "term", "st",
            ])))],
            vec![Matcher::AnythingBut(AnythingBut::Suffixes(strings(&[
                ".com", "x",
            ])))],
            vec![Matcher::AnythingBut(AnythingBut::Strings(Vec::new()))],
            vec![Matcher::AnythingBut(AnythingBut::Numbers(vec![1.0, 2.5]))],
            vec![Matcher::Wildcard(
                parse_wildcard("a*c").unwrap_or_else(|e| panic!("{e}")),
            )],
            vec![
                range(0.0, true, 1.0, false),
                Matcher::AnythingBut(AnythingBut::Strings(strings(&["a"]))),
            ],
        ];
        let values = [
            Val::Str("a"),
            Val::Str("bb"),
            Val::Str(""),
            Val::Str("abc"),
            Val::Str("terminated"),
            Val::Str("stopped"),
            Val::Str("user@example.com"),
            Val::Str("box"),
            Val::Str("long value over sixteen bytes"),
            Val::Str("long value over sixteen bytez"),
            Val::Str("sixteen bytes ok"),
            Val::Str("sixteen bytes oK"),
            Val::Str("eight by"),
            Val::Str("eight bx"),
            Val::Str("eight b"),
            Val::Num(5.0),
            Val::Num(5.5),
            Val::Num(-3.0),
            Val::Num(0.0),
            Val::Num(2.5),
            Val::Bool(true),
            Val::Null,
        ];
        let mut ops = Ops::default();
        let compiled: Vec<Op> = lists.iter().map(|l| ops.compile(l)).collect();
        for (list, op) in lists.iter().zip(&compiled) {
            for v in values {
                let want = list.iter().any(|m| m.matches(v));
                assert_eq!(ops.accepts(op, v), want, "{list:?} on {v:?}");
            }
        }
    }
}
