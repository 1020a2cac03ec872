//! Patterns for unstructured text: terms, "quoted phrases", `?alternatives`,
//! `-exclusions` and standalone `%regex%` terms.

use regex::Regex;

use super::PatternError;
use super::cursor::Cursor;
use super::value::compile_regex;

#[derive(Debug)]
enum TermKind {
    Text(String),
    Regex(Regex),
}

#[derive(Debug)]
struct Term {
    kind: TermKind,
    exclude: bool,
}

/// A disjunction of term groups; each group is a conjunction of its terms.
///
/// `?` starts a new alternative group (`?ERROR ?WARN` is either term;
/// `?ERROR Main ?WARN Deadlock` is "ERROR and Main" or "WARN and Deadlock").
#[derive(Debug)]
pub(super) struct Terms {
    groups: Vec<Vec<Term>>,
}

impl Terms {
    pub(super) fn parse(src: &str) -> Result<Terms, PatternError> {
        let mut cur = Cursor::new(src);
        let mut groups: Vec<Vec<Term>> = Vec::new();
        let mut current: Vec<Term> = Vec::new();
        loop {
            cur.skip_ws();
            if cur.at_end() {
                break;
            }
            let mut exclude = false;
            if cur.eat("?") {
                if !current.is_empty() {
                    groups.push(std::mem::take(&mut current));
                }
            } else if cur.eat("-") {
                exclude = true;
            }
            let kind = match cur.peek() {
                Some('"') => TermKind::Text(cur.quoted()?),
                Some('%') => TermKind::Regex(compile_regex(&cur.regex_body()?)?),
                _ => {
                    let word = cur.bare(&[]);
                    if word.is_empty() {
                        return Err(PatternError::new("a filter term is empty"));
                    }
                    TermKind::Text(word.to_string())
                }
            };
            current.push(Term { kind, exclude });
        }
        if !current.is_empty() {
            groups.push(current);
        }
        Ok(Terms { groups })
    }

    pub(super) fn matches(&self, message: &str) -> bool {
        self.groups.is_empty()
            || self.groups.iter().any(|g| {
                g.iter().all(|t| {
                    let found = match &t.kind {
                        TermKind::Text(s) => contains_term(message, s),
                        TermKind::Regex(r) => r.is_match(message),
                    };
                    found != t.exclude
                })
            })
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `term` occurs in `message` as whole words: where the term starts
/// (ends) with a word character, the match must not be preceded (followed)
/// by one. `ERROR` matches "[ERROR] x" but not "ERRORS"; "timed out" matches
/// "Task timed out after".
pub(super) fn contains_term(message: &str, term: &str) -> bool {
    if term.is_empty() {
        return true;
    }
    let check_start = term.chars().next().is_some_and(is_word);
    let check_end = term.chars().next_back().is_some_and(is_word);
    let mut from = 0;
    while let Some(i) = message[from..].find(term) {
        let at = from + i;
        let end = at + term.len();
        let start_ok = !check_start || !message[..at].chars().next_back().is_some_and(is_word);
        let end_ok = !check_end || !message[end..].chars().next().is_some_and(is_word);
        if start_ok && end_ok {
            return true;
        }
        // Advance by one character past the start of this occurrence.
        from = at + message[at..].chars().next().map_or(1, char::len_utf8);
    }
    false
}
