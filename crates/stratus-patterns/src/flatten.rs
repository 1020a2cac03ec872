//! Event flattening: walks an event once — either raw JSON text or a parsed
//! `serde_json::Value` — and reports every leaf value that sits at a path some
//! pattern tests, together with its array position chain. Subtrees no pattern
//! refers to are skipped without being decoded.
//!
//! Paths are compared dot-joined, as EventBridge does: the event key
//! `"state.status"` under `detail` reaches the same field as
//! `detail → state → status`. Both pattern and event keys are split on `.` and
//! walked through one segment trie.

use serde_json::Value;

use crate::error::EventError;
use crate::hash::{FlatTable, tail_word};
use crate::matcher::Val;

/// Field id: index of a tested path.
pub(crate) type FieldId = u32;
const NO_FIELD: u32 = u32::MAX;
/// Deepest array nesting accepted in an event.
const MAX_DEPTH: u32 = 512;

/// One step of a leaf's position in the event's arrays: (array id, element index).
pub(crate) type ArrayPos = (u32, u32);

#[derive(Debug, Clone)]
struct Node {
    has_children: bool,
    field: FieldId,
    /// The parent node (the root is its own parent).
    parent: u32,
    /// Bit `len_bit(n)` is set when some child segment is `n` bytes long:
    /// most long event keys no pattern tests are rejected by their length
    /// alone, without a table lookup.
    child_lens: u64,
}

impl Node {
    fn new(parent: u32) -> Self {
        Self {
            has_children: false,
            field: NO_FIELD,
            parent,
            child_lens: 0,
        }
    }
}

/// The bit of a key length in [`Node::child_lens`] (lengths of 63 and more
/// share the last bit).
#[inline]
fn len_bit(len: usize) -> u64 {
    1u64 << len.min(63)
}

/// Segment trie of every path tested by some pattern. The children of all
/// nodes live in one table keyed by (parent node, segment), so a key lookup
/// while walking an event reads one slot.
#[derive(Debug, Clone)]
pub(crate) struct PathTrie {
    nodes: Vec<Node>,
    children: FlatTable<u32>,
    fields: u32,
    /// The node of each field.
    field_nodes: Vec<u32>,
}

impl Default for PathTrie {
    fn default() -> Self {
        Self {
            nodes: vec![Node::new(0)],
            children: FlatTable::default(),
            fields: 0,
            field_nodes: Vec::new(),
        }
    }
}

/// Does the key contain a `.`? (Eight bytes at a time; keys are short.)
#[inline]
fn has_dot(b: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const DOTS: u64 = 0x2e2e_2e2e_2e2e_2e2e;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let x = tail_word(c) ^ DOTS;
        if x.wrapping_sub(LO) & !x & HI != 0 {
            return true;
        }
    }
    // Padding bytes are zero, never '.'.
    let x = tail_word(chunks.remainder()) ^ DOTS;
    x.wrapping_sub(LO) & !x & HI != 0
}

impl PathTrie {
    pub(crate) fn field_count(&self) -> usize {
        self.fields as usize
    }

    pub(crate) fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Call `mark` on the node of every path that reaches `field` (the
    /// field's node and its ancestors, the root included).
    pub(crate) fn mark_path(&self, field: FieldId, mut mark: impl FnMut(u32)) {
        let Some(&n) = self.field_nodes.get(field as usize) else {
            return;
        };
        let mut n = n as usize;
        loop {
            mark(n as u32);
            if n == 0 {
                return;
            }
            n = self.nodes[n].parent as usize;
        }
    }

    /// Add a dot-joined path; returns its field id (the same id for the same path).
    pub(crate) fn insert(&mut self, path: &str) -> FieldId {
        let mut node = 0usize;
        for seg in path.split('.') {
            node = match self.child(node as u32, seg.as_bytes()) {
                Some(c) => c as usize,
                None => {
                    let id = self.nodes.len() as u32;
                    self.nodes.push(Node::new(node as u32));
                    *self.children.entry(node as u32, seg.as_bytes()) = id;
                    self.nodes[node].has_children = true;
                    self.nodes[node].child_lens |= len_bit(seg.len());
                    id as usize
                }
            };
        }
        if self.nodes[node].field == NO_FIELD {
            self.nodes[node].field = self.fields;
            self.fields += 1;
            self.field_nodes.push(node as u32);
        }
        self.nodes[node].field
    }

    #[inline]
    fn child(&self, node: u32, seg: &[u8]) -> Option<u32> {
        self.children.get(node, seg).copied()
    }

    /// Follow an event key (possibly containing dots) from `node`.
    #[inline]
    fn step(&self, node: u32, key: &[u8]) -> Option<u32> {
        // Trie segments never contain a dot, so a whole-key hit is final; a
        // dotted key can only be reached segment by segment.
        if self.nodes[node as usize].child_lens & len_bit(key.len()) != 0
            && let Some(c) = self.child(node, key)
        {
            return Some(c);
        }
        if !has_dot(key) {
            return None;
        }
        let mut n = node;
        for seg in key.split(|b| *b == b'.') {
            n = self.child(n, seg)?;
        }
        Some(n)
    }

    /// [`PathTrie::step`] for a key of at most eight bytes whose zero-padded
    /// word is `head`.
    #[inline]
    fn step_short(&self, node: u32, head: u64, key: &[u8]) -> Option<u32> {
        if let Some(&c) = self.children.get_short(node, head, key.len()) {
            return Some(c);
        }
        if !key.contains(&b'.') {
            return None;
        }
        self.step(node, key)
    }

    #[inline]
    fn has_children(&self, node: u32) -> bool {
        self.nodes[node as usize].has_children
    }

    #[inline]
    fn field(&self, node: u32) -> Option<FieldId> {
        let f = self.nodes[node as usize].field;
        (f != NO_FIELD).then_some(f)
    }
}

/// Receives the leaves of an event.
pub(crate) trait LeafSink {
    fn leaf(&mut self, field: FieldId, val: Val<'_>, chain: &[ArrayPos]);

    /// Should the walk enter the value at trie node `node`? (A sink that needs
    /// only some fields lets the other subtrees be skipped.)
    #[inline(always)]
    fn wants(&self, _node: u32) -> bool {
        true
    }
}

/// Reusable buffers for flattening.
#[derive(Debug, Default)]
pub(crate) struct FlatBufs {
    chain: Vec<ArrayPos>,
    sbuf: String,
    kbuf: String,
    stack: Vec<u8>,
}

/// Something that can be flattened: JSON text or a parsed value.
pub(crate) trait Source {
    fn walk<S: LeafSink>(
        &self,
        trie: &PathTrie,
        sink: &mut S,
        bufs: &mut FlatBufs,
    ) -> Result<(), EventError>;
}

/// An event given as JSON text.
pub(crate) struct JsonSource<'a>(pub(crate) &'a str);
/// An event given as a parsed value.
pub(crate) struct ValueSource<'a>(pub(crate) &'a Value);

impl Source for JsonSource<'_> {
    fn walk<S: LeafSink>(
        &self,
        trie: &PathTrie,
        sink: &mut S,
        bufs: &mut FlatBufs,
    ) -> Result<(), EventError> {
        bufs.chain.clear();
        bufs.stack.clear();
        let mut w = JsonWalker {
            s: self.0,
            b: self.0.as_bytes(),
            i: 0,
            trie,
            sink,
            bufs,
            arrays: 0,
            depth: 0,
        };
        w.ws();
        match w.peek() {
            Some(b'{') => w.object(0)?,
            Some(_) => w.skip_value()?,
            None => return Err(EventError::new("empty input")),
        }
        w.ws();
        if w.i != w.b.len() {
            return Err(w.err("trailing characters after the JSON value"));
        }
        Ok(())
    }
}

impl Source for ValueSource<'_> {
    fn walk<S: LeafSink>(
        &self,
        trie: &PathTrie,
        sink: &mut S,
        bufs: &mut FlatBufs,
    ) -> Result<(), EventError> {
        bufs.chain.clear();
        if let Value::Object(map) = self.0 {
            let mut w = ValueWalker {
                trie,
                sink,
                chain: &mut bufs.chain,
                arrays: 0,
            };
            for (k, v) in map {
                if let Some(c) = trie.step(0, k.as_bytes())
                    && w.sink.wants(c)
                {
                    w.value(v, c, 0)?;
                }
            }
        }
        Ok(())
    }
}

struct ValueWalker<'a, S> {
    trie: &'a PathTrie,
    sink: &'a mut S,
    chain: &'a mut Vec<ArrayPos>,
    arrays: u32,
}

impl<S: LeafSink> ValueWalker<'_, S> {
    fn value(&mut self, v: &Value, node: u32, depth: u32) -> Result<(), EventError> {
        if depth > MAX_DEPTH {
            return Err(EventError::new("event nesting is too deep"));
        }
        match v {
            Value::Object(map) => {
                if self.trie.has_children(node) {
                    for (k, v) in map {
                        if let Some(c) = self.trie.step(node, k.as_bytes())
                            && self.sink.wants(c)
                        {
                            self.value(v, c, depth + 1)?;
                        }
                    }
                }
            }
            Value::Array(items) => {
                let id = self.arrays;
                self.arrays += 1;
                for (i, item) in items.iter().enumerate() {
                    self.chain.push((id, i as u32));
                    let r = self.value(item, node, depth + 1);
                    self.chain.pop();
                    r?;
                }
            }
            Value::String(s) => self.emit(node, Val::Str(s)),
            Value::Number(n) => {
                if let Some(x) = n.as_f64() {
                    self.emit(node, Val::Num(x));
                }
            }
            Value::Bool(b) => self.emit(node, Val::Bool(*b)),
            Value::Null => self.emit(node, Val::Null),
        }
        Ok(())
    }

    #[inline]
    fn emit(&mut self, node: u32, val: Val<'_>) {
        if let Some(f) = self.trie.field(node) {
            self.sink.leaf(f, val, self.chain);
        }
    }
}

/// Flags (high bit of each byte) the bytes of `x` that are `"` or `\`; the
/// lowest flagged byte is exact (a borrow only flags bytes above a real hit).
#[inline(always)]
fn quote_or_backslash(x: u64) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const QUOTES: u64 = 0x2222_2222_2222_2222;
    const SLASHES: u64 = 0x5c5c_5c5c_5c5c_5c5c;
    let q = x ^ QUOTES;
    let s = x ^ SLASHES;
    ((q.wrapping_sub(LO) & !q) | (s.wrapping_sub(LO) & !s)) & HI
}

#[inline(always)]
fn word_at(b: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(w)
}

/// Position of the first `"` or `\` at or after `i`: sixteen bytes (two
/// words) at a time for the first 64 bytes (most JSON strings are shorter),
/// SIMD beyond.
#[inline]
fn find_quote_or_backslash(b: &[u8], mut i: usize) -> Option<usize> {
    let stop = (i + 64).min(b.len());
    while i + 16 <= stop {
        let lo = quote_or_backslash(word_at(b, i));
        let hi = quote_or_backslash(word_at(b, i + 8));
        if lo | hi != 0 {
            let at = if lo != 0 {
                lo.trailing_zeros()
            } else {
                64 + hi.trailing_zeros()
            };
            return Some(i + (at / 8) as usize);
        }
        i += 16;
    }
    if i + 8 <= stop {
        let hit = quote_or_backslash(word_at(b, i));
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if i + 8 > b.len() {
        return b[i..]
            .iter()
            .position(|&c| c == b'"' || c == b'\\')
            .map(|j| i + j);
    }
    memchr::memchr2(b'"', b'\\', &b[i..]).map(|j| i + j)
}

fn hex4(b: &[u8]) -> Option<u32> {
    if b.len() < 4 {
        return None;
    }
    let mut v = 0u32;
    for &c in &b[..4] {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

/// Decode the JSON escapes of a raw string body into `out`.
fn unescape(raw: &str, out: &mut String) -> Result<(), EventError> {
    out.clear();
    let b = raw.as_bytes();
    let bad = || EventError::new("invalid escape in string");
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(&raw[last..i]);
        let c = *b.get(i + 1).ok_or_else(bad)?;
        i += 2;
        match c {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let hi = hex4(&b[i..]).ok_or_else(bad)?;
                i += 4;
                let code = if (0xD800..0xDC00).contains(&hi)
                    && b.get(i) == Some(&b'\\')
                    && b.get(i + 1) == Some(&b'u')
                {
                    match hex4(&b[i + 2..]) {
                        Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                            i += 6;
                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                        }
                        _ => hi,
                    }
                } else {
                    hi
                };
                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            _ => return Err(bad()),
        }
        last = i;
    }
    out.push_str(&raw[last..]);
    Ok(())
}

/// Parse a JSON number's text.
#[inline]
fn parse_number(txt: &str) -> Option<f64> {
    let b = txt.as_bytes();
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    if !digits.is_empty() && digits.len() <= 15 && digits.iter().all(u8::is_ascii_digit) {
        let mut v: u64 = 0;
        for d in digits {
            v = v * 10 + u64::from(d - b'0');
        }
        let f = v as f64;
        return Some(if neg { -f } else { f });
    }
    txt.parse::<f64>().ok().filter(|x| x.is_finite())
}

struct JsonWalker<'a, 'b, S> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    trie: &'b PathTrie,
    sink: &'b mut S,
    bufs: &'b mut FlatBufs,
    arrays: u32,
    depth: u32,
}

impl<S: LeafSink> JsonWalker<'_, '_, S> {
    fn err(&self, what: &str) -> EventError {
        EventError::new(format!("{what} at byte {}", self.i))
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Skip whitespace. Events are usually compact JSON, so the common case
    /// (the next byte is not whitespace) is one comparison.
    #[inline(always)]
    fn ws(&mut self) {
        if let Some(&c) = self.b.get(self.i)
            && c > b' '
        {
            return;
        }
        self.ws_slow();
    }

    #[inline(never)]
    fn ws_slow(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    #[inline]
    fn expect(&mut self, c: u8) -> Result<(), EventError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected '{}'", c as char)))
        }
    }

    /// At an opening quote: returns the body's byte range and whether it has escapes.
    #[inline]
    fn string_span(&mut self) -> Result<(usize, usize, bool), EventError> {
        self.i += 1;
        let start = self.i;
        let mut escaped = false;
        loop {
            match find_quote_or_backslash(self.b, self.i) {
                Some(j) if self.b[j] == b'"' => {
                    self.i = j + 1;
                    return Ok((start, j, escaped));
                }
                Some(j) => {
                    escaped = true;
                    self.i = j + 2;
                }
                None => return Err(self.err("unterminated string")),
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), EventError> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("invalid literal"))
        }
    }

    #[inline]
    fn number_span(&mut self) -> (usize, usize) {
        // A local position: the walker's field is stored once, not per digit.
        let start = self.i;
        let mut i = start;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.b.get(i) {
            i += 1;
        }
        self.i = i;
        (start, i)
    }

    /// Skip one value without decoding it (brackets and strings are checked).
    fn skip_value(&mut self) -> Result<(), EventError> {
        match self.peek() {
            Some(b'"') => {
                self.string_span()?;
            }
            Some(b'{' | b'[') => {
                let base = self.bufs.stack.len();
                loop {
                    match self.peek() {
                        Some(c @ (b'{' | b'[')) => {
                            self.bufs.stack.push(c);
                            self.i += 1;
                        }
                        Some(c @ (b'}' | b']')) => {
                            let open = if c == b'}' { b'{' } else { b'[' };
                            if self.bufs.stack.pop() != Some(open) {
                                return Err(self.err("mismatched bracket"));
                            }
                            self.i += 1;
                            if self.bufs.stack.len() == base {
                                return Ok(());
                            }
                        }
                        Some(b'"') => {
                            self.string_span()?;
                        }
                        Some(_) => self.i += 1,
                        None => return Err(self.err("unexpected end of input")),
                    }
                }
            }
            Some(b't') => self.literal(b"true")?,
            Some(b'f') => self.literal(b"false")?,
            Some(b'n') => self.literal(b"null")?,
            Some(b'-' | b'0'..=b'9') => {
                self.number_span();
            }
            _ => return Err(self.err("expected a value")),
        }
        Ok(())
    }

    /// At `{`: walk an object whose keys are looked up below trie node `node`.
    fn object(&mut self, node: u32) -> Result<(), EventError> {
        self.i += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            // Events are usually compact: the punctuation is tried first and
            // whitespace skipped only when it is not there.
            if self.peek() != Some(b'"') {
                self.ws();
                if self.peek() != Some(b'"') {
                    return Err(self.err("expected a field name"));
                }
            }
            let child = if let Some((head, ks, len)) = self.short_key() {
                self.trie.step_short(node, head, &self.b[ks..ks + len])
            } else {
                self.long_key(node)?
            };
            if !self.eat(b':') {
                self.ws();
                self.expect(b':')?;
            }
            self.ws();
            // Strings and numbers (most values) are read here, without a call.
            let next = self.peek();
            match child {
                Some(c) if self.sink.wants(c) => match next {
                    Some(b'"') => self.string_value(c)?,
                    Some(b'-' | b'0'..=b'9') => self.number_value(c)?,
                    _ => self.value(c)?,
                },
                _ => match next {
                    Some(b'"') => {
                        self.string_span()?;
                    }
                    Some(b'-' | b'0'..=b'9') => {
                        self.number_span();
                    }
                    _ => self.skip_value()?,
                },
            }
            if self.eat(b',') {
                continue;
            }
            if self.eat(b'}') {
                return Ok(());
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    /// Consume `c` if it is the next byte.
    #[inline(always)]
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// At the opening quote of a key: when the key is shorter than eight bytes
    /// and has no escape (most keys), read it with one word load and return
    /// (zero-padded word, start, length), positioned after the closing quote.
    #[inline]
    fn short_key(&mut self) -> Option<(u64, usize, usize)> {
        const LO: u64 = 0x0101_0101_0101_0101;
        const HI: u64 = 0x8080_8080_8080_8080;
        const QUOTES: u64 = 0x2222_2222_2222_2222;
        const SLASHES: u64 = 0x5c5c_5c5c_5c5c_5c5c;
        let start = self.i + 1;
        let bytes = self.b.get(start..start + 8)?;
        let w = tail_word(bytes);
        let q = w ^ QUOTES;
        let sl = w ^ SLASHES;
        // The lowest flagged byte is exact (borrows only flag bytes above it).
        let hit = (q.wrapping_sub(LO) & !q & HI) | (sl.wrapping_sub(LO) & !sl & HI);
        if hit == 0 {
            return None;
        }
        let len = (hit.trailing_zeros() / 8) as usize;
        if bytes[len] != b'"' {
            return None;
        }
        let head = if len == 0 {
            0
        } else {
            w & (u64::MAX >> (64 - 8 * len))
        };
        self.i = start + len + 1;
        Some((head, start, len))
    }

    /// Any other key: find its end, unescape it if needed, look it up.
    fn long_key(&mut self, node: u32) -> Result<Option<u32>, EventError> {
        let (ks, ke, kesc) = self.string_span()?;
        Ok(if kesc {
            unescape(&self.s[ks..ke], &mut self.bufs.kbuf)?;
            self.trie.step(node, self.bufs.kbuf.as_bytes())
        } else {
            self.trie.step(node, &self.b[ks..ke])
        })
    }

    /// A value at trie node `node` (a tested path or a prefix of one).
    fn value(&mut self, node: u32) -> Result<(), EventError> {
        match self.peek() {
            Some(b'{') => {
                if self.trie.has_children(node) {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Err(self.err("event nesting is too deep"));
                    }
                    let r = self.object(node);
                    self.depth -= 1;
                    r?;
                } else {
                    self.skip_value()?;
                }
            }
            Some(b'[') => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(self.err("event nesting is too deep"));
                }
                let id = self.arrays;
                self.arrays += 1;
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                } else {
                    let mut idx = 0u32;
                    loop {
                        self.ws();
                        self.bufs.chain.push((id, idx));
                        let r = if self.peek() == Some(b'"') {
                            self.string_value(node)
                        } else {
                            self.value(node)
                        };
                        self.bufs.chain.pop();
                        r?;
                        idx += 1;
                        if self.eat(b',') {
                            continue;
                        }
                        if self.eat(b']') {
                            break;
                        }
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(self.err("expected ',' or ']'")),
                        }
                    }
                }
                self.depth -= 1;
            }
            Some(b'"') => self.string_value(node)?,
            Some(b't') => {
                self.literal(b"true")?;
                self.emit(node, Val::Bool(true));
            }
            Some(b'f') => {
                self.literal(b"false")?;
                self.emit(node, Val::Bool(false));
            }
            Some(b'n') => {
                self.literal(b"null")?;
                self.emit(node, Val::Null);
            }
            Some(b'-' | b'0'..=b'9') => self.number_value(node)?,
            _ => return Err(self.err("expected a value")),
        }
        Ok(())
    }

    #[inline]
    fn emit(&mut self, node: u32, val: Val<'_>) {
        if let Some(f) = self.trie.field(node) {
            self.sink.leaf(f, val, &self.bufs.chain);
        }
    }

    /// At the first character of a number at trie node `node`.
    #[inline]
    fn number_value(&mut self, node: u32) -> Result<(), EventError> {
        let (s, e) = self.number_span();
        if let Some(f) = self.trie.field(node) {
            let x = parse_number(&self.s[s..e]).ok_or_else(|| self.err("invalid number"))?;
            self.sink.leaf(f, Val::Num(x), &self.bufs.chain);
        }
        Ok(())
    }

    /// At the opening quote of a string value at trie node `node`.
    #[inline]
    fn string_value(&mut self, node: u32) -> Result<(), EventError> {
        let (s, e, esc) = self.string_span()?;
        if let Some(f) = self.trie.field(node) {
            if esc {
                unescape(&self.s[s..e], &mut self.bufs.sbuf)?;
                self.sink
                    .leaf(f, Val::Str(&self.bufs.sbuf), &self.bufs.chain);
            } else {
                self.sink.leaf(f, Val::Str(&self.s[s..e]), &self.bufs.chain);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(FieldId, String, usize)>);

    impl LeafSink for Collect {
        fn leaf(&mut self, field: FieldId, val: Val<'_>, chain: &[ArrayPos]) {
            self.0.push((field, format!("{val:?}"), chain.len()));
        }
    }

    fn flat(trie: &PathTrie, ev: &str) -> Vec<(FieldId, String, usize)> {
        let mut c = Collect::default();
        let mut bufs = FlatBufs::default();
        JsonSource(ev)
            .walk(trie, &mut c, &mut bufs)
            .unwrap_or_else(|e| panic!("{e}"));
        let v: Value = serde_json::from_str(ev).unwrap_or_else(|e| panic!("{e}"));
        let mut c2 = Collect::default();
        ValueSource(&v)
            .walk(trie, &mut c2, &mut bufs)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.0, c2.0, "text and value walks differ for {ev}");
        c.0
    }

    #[test]
    fn walks_only_tested_paths() {
        let mut t = PathTrie::default();
        let a = t.insert("detail.state.status");
        let b = t.insert("source");
        let got = flat(
            &t,
            r#"{"source":"x\"y","skip":{"a":[1,{"b":"}"}]},"detail":{"state.status":"run","state":{"status":[1,-2.5e1]}}}"#,
        );
        assert_eq!(
            got,
            vec![
                (b, "Str(\"x\\\"y\")".to_string(), 0),
                (a, "Str(\"run\")".to_string(), 0),
                (a, "Num(1.0)".to_string(), 1),
                (a, "Num(-25.0)".to_string(), 1),
            ]
        );
    }

    #[test]
    fn keys_of_every_length() {
        let mut t = PathTrie::default();
        let names: Vec<String> = (0..20)
            .map(|n| {
                "kabcdefghijklmnopqrstuvwxyz"
                    .get(..n)
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        let ids: Vec<FieldId> = names.iter().map(|n| t.insert(n)).collect();
        let dotted = t.insert("abcdefghij.xyz");
        for (i, (n, &f)) in names.iter().zip(&ids).enumerate() {
            let hit = vec![(f, format!("Num({i}.0)"), 0)];
            // (An untested key follows, so that every key has sixteen bytes
            // of text after its opening quote, as inside a real event.)
            let ev = format!(r#"{{"{n}":{i},"zzzzzzzzzzzzzzzz":0}}"#);
            assert_eq!(flat(&t, &ev), hit, "{ev}");
            // Longer keys with the same start are misses.
            let longer = format!(r#"{{"{n}_":{i},"{n}__":{i},"zzzzzzzzzzzzzzzz":0}}"#);
            assert_eq!(flat(&t, &longer), vec![], "{n}");
            // An escape anywhere in the key takes the unescaping path.
            for at in 0..n.len() {
                let (a, b) = n.split_at(at);
                let (c, rest) = b.split_at(1);
                let code = u32::from(c.as_bytes()[0]);
                let ev = format!(r#"{{"{a}\u{code:04x}{rest}":{i},"zzzzzzzzzzzzzzzz":0}}"#);
                assert_eq!(flat(&t, &ev), hit, "{ev}");
            }
        }
        let got = flat(
            &t,
            r#"{"abcdefghij.xyz":1,"abcdefghij":{"xyz":2},"abcdefghij.xy":-1,"abcdefghij.xyzz":-1}"#,
        );
        let want = vec![
            (dotted, "Num(1.0)".to_string(), 0),
            (dotted, "Num(2.0)".to_string(), 0),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn short_and_long_keys() {
        let mut t = PathTrie::default();
        let a = t.insert("a.b");
        let k7 = t.insert("abcdefg");
        let k8 = t.insert("abcdefgh.x");
        let e = t.insert("");
        let xyz = t.insert("xyz");
        let got = flat(
            &t,
            r#"{"a.b":1,"a":{"b":2},"abcdefg":3,"abcdefgh":{"x":4},"abcdefgh.x":5,"x\u0079z":6,"":7,"abcdef":8}"#,
        );
        let fields: Vec<(FieldId, String)> = got.into_iter().map(|(f, v, _)| (f, v)).collect();
        assert_eq!(
            fields,
            vec![
                (a, "Num(1.0)".to_string()),
                (a, "Num(2.0)".to_string()),
                (k7, "Num(3.0)".to_string()),
                (k8, "Num(4.0)".to_string()),
                (k8, "Num(5.0)".to_string()),
                (xyz, "Num(6.0)".to_string()),
                (e, "Num(7.0)".to_string()),
            ]
        );
    }

    /// The reader tries compact punctuation first and skips whitespace only
    /// when it is not there: whitespace around any structural character must
    /// give the same leaves as the compact text (and as the parsed-value walk).
    #[test]
    fn whitespace_anywhere_reads_like_compact() {
        let mut t = PathTrie::default();
        let fields = [
            t.insert("s"),
            t.insert("n"),
            t.insert("arr"),
            t.insert("o.k"),
            t.insert("o.deep.x"),
            t.insert("b"),
            t.insert("z"),
        ];
        let compact = concat!(
            r#"{"skip":{"a":[1,{"b":"}]\"{"},[[],{}]],"c":"x\\"},"#,
            r#""s":"caf\u00e9 \"q\" \\ \ud83d\ude80 ünï ✓","n":-12.5e-1,"#,
            r#""arr":[1,[2,[3,"four"]],{"k":5},true,null,"six"],"#,
            r#""o":{"j":[],"deep":{"x":0,"y":[{}]},"k":"last"},"b":false,"z":null,"#,
            r#""long":"longer than thirty-two bytes, with \"escapes\" and ünicode \\","m":7}"#
        );
        let want = flat(&t, compact);
        assert_eq!(want.len(), 13, "{want:?}");
        assert!(want.iter().all(|(f, _, _)| fields.contains(f)));
        for ws in [" ", "\n", "\t", "\r\n  "] {
            let mut spaced = String::new();
            let (mut in_str, mut esc) = (false, false);
            for c in compact.chars() {
                if in_str {
                    spaced.push(c);
                    if esc {
                        esc = false;
                    } else if c == '\\' {
                        esc = true;
                    } else if c == '"' {
                        in_str = false;
                    }
                    continue;
                }
                match c {
                    '"' => {
                        in_str = true;
                        spaced.push(c);
                    }
                    '{' | '}' | '[' | ']' | ':' | ',' => {
                        spaced.push_str(ws);
                        spaced.push(c);
                        spaced.push_str(ws);
                    }
                    _ => spaced.push(c),
                }
            }
            assert_eq!(flat(&t, &spaced), want, "{spaced}");
        }
    }

    #[test]
    fn rejects_broken_json() {
        let t = PathTrie::default();
        let mut c = Collect::default();
        let mut bufs = FlatBufs::default();
        for bad in [
            "",
            "{",
            r#"{"a":}"#,
            r#"{"a":[}"#,
            "{} x",
            r#"{"a":"b}"#,
            r#"{"a" 1}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":1,}"#,
            r#"{"a":1 , }"#,
            r#"{"a":1]"#,
            r#"{"a":1 x}"#,
        ] {
            assert!(
                JsonSource(bad).walk(&t, &mut c, &mut bufs).is_err(),
                "{bad}"
            );
        }
        // Inside tested paths the arrays are read, not skipped.
        let mut t = PathTrie::default();
        t.insert("a");
        for bad in [
            r#"{"a":[1 2]}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":[1 , ]}"#,
            r#"{"a":[1}"#,
            r#"{"a":[1 x]}"#,
            // Numbers and strings read in the object loop and in arrays.
            r#"{"a":-}"#,
            r#"{"a":1e}"#,
            r#"{"a":[-]}"#,
            r#"{"a":"x}"#,
            r#"{"a":["x}"#,
            r#"{"a":"\q"}"#,
        ] {
            assert!(
                JsonSource(bad).walk(&t, &mut c, &mut bufs).is_err(),
                "{bad}"
            );
        }
    }

    /// The word-at-a-time search against a plain byte search, for every
    /// length and position of the first hit (before, at and after the 16-byte
    /// steps, the single-word step and the SIMD tail), around multi-byte UTF-8.
    #[test]
    fn finds_first_quote_or_backslash() {
        let naive = |b: &[u8], i: usize| {
            b[i..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\')
                .map(|j| i + j)
        };
        let fillers: [&[u8]; 3] = [
            b"abcdefgh",
            "é✓🚀x".as_bytes(),
            b"\x7f\x80\xff\x21\x23\x5b\x5d\x01",
        ];
        for filler in fillers {
            for len in 0..160 {
                let base: Vec<u8> = filler.iter().copied().cycle().take(len).collect();
                for start in [0, 1, 7, 8, 9] {
                    if start > len {
                        continue;
                    }
                    assert_eq!(find_quote_or_backslash(&base, start), naive(&base, start));
                    for at in start..len {
                        for stop in [b'"', b'\\'] {
                            let mut b = base.clone();
                            b[at] = stop;
                            // A later hit must not hide the first one.
                            if at + 3 < len {
                                b[at + 3] = b'"';
                            }
                            assert_eq!(
                                find_quote_or_backslash(&b, start),
                                Some(at),
                                "len {len} start {start} at {at}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Keys are first checked against the lengths of the node's children
    /// (lengths from 63 up share one bit): long keys, equal lengths with
    /// other bytes, and dotted keys whose whole length matches no child.
    #[test]
    fn child_lengths_filter_only_impossible_keys() {
        let mut t = PathTrie::default();
        let long70 = "k".repeat(70);
        let f70 = t.insert(&long70);
        let f63 = t.insert(&"m".repeat(63));
        let fx = t.insert("abcdefghi.j");
        let ev = format!(
            r#"{{"{long70}":1,"{}":2,"{}":3,"{}":4,"abcdefghi.j":5,"abcdefghi":{{"j":6}},"abcdefghX.j":7}}"#,
            "k".repeat(80),
            "m".repeat(63),
            "n".repeat(63),
        );
        let got: Vec<(FieldId, String)> =
            flat(&t, &ev).into_iter().map(|(f, v, _)| (f, v)).collect();
        assert_eq!(
            got,
            vec![
                (f70, "Num(1.0)".to_string()),
                (f63, "Num(3.0)".to_string()),
                (fx, "Num(5.0)".to_string()),
                (fx, "Num(6.0)".to_string()),
            ]
        );
    }

    #[test]
    fn marks_the_paths_of_a_field() {
        let mut t = PathTrie::default();
        let ab = t.insert("a.b");
        let abc = t.insert("a.b.c");
        let x = t.insert("x");
        let nodes = |f: FieldId| {
            let mut v = Vec::new();
            t.mark_path(f, |n| v.push(n));
            v
        };
        let a = t.child(0, b"a").unwrap_or(u32::MAX);
        let b = t.child(a, b"b").unwrap_or(u32::MAX);
        let c = t.child(b, b"c").unwrap_or(u32::MAX);
        assert_eq!(nodes(abc), vec![c, b, a, 0]);
        assert_eq!(nodes(ab), vec![b, a, 0]);
        assert_eq!(nodes(x), vec![t.child(0, b"x").unwrap_or(u32::MAX), 0]);
        assert_eq!(nodes(99), Vec::<u32>::new());
    }

    #[test]
    fn unescapes() {
        let mut s = String::new();
        unescape(r"a\u0041\n\ud83d\ude80", &mut s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s, "aA\n\u{1F680}");
    }
}
