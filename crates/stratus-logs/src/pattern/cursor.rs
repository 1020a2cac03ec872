//! A character cursor shared by the three pattern parsers.

use super::PatternError;

pub(super) struct Cursor<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    pub(super) fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(super) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    pub(super) fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// Consumes `s` if the input continues with it.
    pub(super) fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Consumes a keyword (ASCII case-insensitive) followed by a non-word character.
    pub(super) fn eat_keyword(&mut self, kw: &str) -> bool {
        let rest = self.rest();
        if rest.len() >= kw.len()
            && rest.is_char_boundary(kw.len())
            && rest[..kw.len()].eq_ignore_ascii_case(kw)
            && !rest[kw.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            self.pos += kw.len();
            true
        } else {
            false
        }
    }

    /// Reads a `"..."` string (the cursor is on the opening quote); `\"` and
    /// `\\` are escapes, any other backslash is kept as written.
    pub(super) fn quoted(&mut self) -> Result<String, PatternError> {
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(PatternError::new("unterminated quoted string")),
                Some('"') => return Ok(out),
                Some('\\') => match self.peek() {
                    Some(c @ ('"' | '\\')) => {
                        self.bump();
                        out.push(c);
                    }
                    _ => out.push('\\'),
                },
                Some(c) => out.push(c),
            }
        }
    }

    /// Reads a `%regex%` body (the cursor is on the opening `%`).
    pub(super) fn regex_body(&mut self) -> Result<String, PatternError> {
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(PatternError::new("unterminated regular expression")),
                Some('%') => return Ok(out),
                Some('\\') => {
                    out.push('\\');
                    if let Some(c) = self.bump() {
                        out.push(c);
                    }
                }
                Some(c) => out.push(c),
            }
        }
    }

    /// Reads characters until whitespace or one of `stops`.
    pub(super) fn bare(&mut self, stops: &[char]) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_whitespace() || stops.contains(&c) {
                break;
            }
            self.bump();
        }
        &self.src[start..self.pos]
    }
}
