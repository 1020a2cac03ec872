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
use wide::u8x16;

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
    /// Bit `len_bit(n)` is set when some child segment is `n` bytes long:
    /// most long event keys no pattern tests are rejected by their length
    /// alone, without a table lookup.
    child_lens: u64,
    /// The fields at or below this node, see [`Below`].
    below: Below,
}

impl Node {
    fn new() -> Self {
        Self {
            has_children: false,
            field: NO_FIELD,
            child_lens: 0,
            below: Below::default(),
        }
    }
}

/// The fields at or below a trie node: those numbered under 64 as a bitset,
/// and whether there are others (a sink that cannot tell must read the
/// subtree).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Below {
    pub(crate) low: u64,
    pub(crate) high: bool,
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
    /// The children whose segment is shorter than eight bytes (most event
    /// keys) again, in a table with a cheaper hash than `children`'s.
    short: ShortChildren,
    fields: u32,
}

impl Default for PathTrie {
    fn default() -> Self {
        Self {
            nodes: vec![Node::new()],
            children: FlatTable::default(),
            short: ShortChildren::default(),
            fields: 0,
        }
    }
}

/// Children of trie nodes by segments shorter than eight bytes: an
/// open-addressing table keyed by (node, zero-padded segment word, length)
/// whose hash is one multiplication.
#[derive(Debug, Clone)]
struct ShortChildren {
    slots: Vec<ShortSlot>,
    len: usize,
}

#[derive(Debug, Clone, Copy)]
struct ShortSlot {
    head: u64,
    /// `node << 32 | length`, or `u64::MAX` when empty.
    tag: u64,
    child: u32,
}

const EMPTY_SHORT: ShortSlot = ShortSlot {
    head: 0,
    tag: u64::MAX,
    child: 0,
};

impl Default for ShortChildren {
    fn default() -> Self {
        Self {
            slots: vec![EMPTY_SHORT; 16],
            len: 0,
        }
    }
}

impl ShortChildren {
    #[inline(always)]
    fn tag(node: u32, len: usize) -> u64 {
        (u64::from(node) << 32) | len as u64
    }

    /// First slot to probe (the table's size is a power of two).
    #[inline(always)]
    fn home(&self, head: u64, tag: u64) -> usize {
        let h =
            (head ^ tag.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0x517C_C1B7_2722_0A95);
        (h >> 40) as usize & (self.slots.len() - 1)
    }

    fn insert(&mut self, node: u32, head: u64, len: usize, child: u32) {
        if (self.len + 1) * 2 > self.slots.len() {
            let size = self.slots.len() * 2;
            let old = std::mem::replace(&mut self.slots, vec![EMPTY_SHORT; size]);
            for s in old.into_iter().filter(|s| s.tag != u64::MAX) {
                self.place(s);
            }
        }
        self.place(ShortSlot {
            head,
            tag: Self::tag(node, len),
            child,
        });
        self.len += 1;
    }

    fn place(&mut self, slot: ShortSlot) {
        let mask = self.slots.len() - 1;
        let mut at = self.home(slot.head, slot.tag);
        while self.slots[at].tag != u64::MAX {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
    }

    #[inline(always)]
    fn get(&self, node: u32, head: u64, len: usize) -> Option<u32> {
        let tag = Self::tag(node, len);
        let mask = self.slots.len() - 1;
        let mut at = self.home(head, tag);
        loop {
            let s = self.slots.get(at)?;
            if s.head == head && s.tag == tag {
                return Some(s.child);
            }
            if s.tag == u64::MAX {
                return None;
            }
            at = (at + 1) & mask;
        }
    }
}

/// Does the word hold a `.` byte?
#[inline(always)]
fn has_dot_word(w: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const DOTS: u64 = 0x2e2e_2e2e_2e2e_2e2e;
    let x = w ^ DOTS;
    x.wrapping_sub(LO) & !x & HI != 0
}

/// Does the key contain a `.`? (Eight bytes at a time; keys are short.)
#[inline]
fn has_dot(b: &[u8]) -> bool {
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        if has_dot_word(tail_word(c)) {
            return true;
        }
    }
    // Padding bytes are zero, never '.'.
    has_dot_word(tail_word(chunks.remainder()))
}

impl PathTrie {
    pub(crate) fn field_count(&self) -> usize {
        self.fields as usize
    }

    /// Add a dot-joined path; returns its field id (the same id for the same path).
    pub(crate) fn insert(&mut self, path: &str) -> FieldId {
        let mut node = 0usize;
        let mut on_path = vec![0usize];
        for seg in path.split('.') {
            node = match self.child(node as u32, seg.as_bytes()) {
                Some(c) => c as usize,
                None => {
                    let id = self.nodes.len() as u32;
                    self.nodes.push(Node::new());
                    *self.children.entry(node as u32, seg.as_bytes()) = id;
                    if seg.len() < 8 {
                        self.short
                            .insert(node as u32, tail_word(seg.as_bytes()), seg.len(), id);
                    }
                    self.nodes[node].has_children = true;
                    self.nodes[node].child_lens |= len_bit(seg.len());
                    id as usize
                }
            };
            on_path.push(node);
        }
        if self.nodes[node].field == NO_FIELD {
            self.nodes[node].field = self.fields;
            self.fields += 1;
        }
        let field = self.nodes[node].field;
        for n in on_path {
            let below = &mut self.nodes[n].below;
            if field < 64 {
                below.low |= 1u64 << field;
            } else {
                below.high = true;
            }
        }
        field
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

    /// [`PathTrie::step`] for a key shorter than eight bytes, given as its
    /// zero-padded word `head` and length.
    #[inline(always)]
    fn step_short(&self, node: u32, head: u64, len: usize) -> Option<u32> {
        if let Some(c) = self.short.get(node, head, len) {
            return Some(c);
        }
        if !has_dot_word(head) {
            return None;
        }
        self.step(node, &head.to_le_bytes()[..len])
    }

    /// [`PathTrie::step`] for a key of eight to fifteen bytes, given as its
    /// first word, the zero-padded word of the rest and its length.
    #[inline]
    fn step_medium(&self, node: u32, head: u64, tail: u64, len: usize) -> Option<u32> {
        if self.nodes[node as usize].child_lens & len_bit(len) != 0
            && let Some(&c) = self.children.get_medium(node, head, tail, len)
        {
            return Some(c);
        }
        if !has_dot_word(head) && !has_dot_word(tail) {
            return None;
        }
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&head.to_le_bytes());
        key[8..].copy_from_slice(&tail.to_le_bytes());
        self.step(node, &key[..len])
    }

    #[inline]
    fn has_children(&self, node: u32) -> bool {
        self.nodes[node as usize].has_children
    }

    #[inline]
    fn below(&self, node: u32) -> Below {
        self.nodes[node as usize].below
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

    /// Whether an object member whose tested fields (its own and those below
    /// it) are `below` is to be read (false: its value is skipped as if no
    /// pattern tested it, none of its leaves is wanted).
    #[inline]
    fn wants(&self, below: Below) -> bool {
        let _ = below;
        true
    }
}

/// Reusable buffers for flattening.
#[derive(Debug, Default)]
pub(crate) struct FlatBufs {
    chain: Vec<ArrayPos>,
    sbuf: String,
    kbuf: String,
    /// Open brackets of a skipped subtree.
    stack: Vec<u8>,
    /// The containers enclosing the one being read.
    frames: Vec<Frame>,
}

/// Something that can be flattened: JSON text or a parsed value.
pub(crate) trait Source {
    fn walk<S: LeafSink>(
        &self,
        trie: &PathTrie,
        sink: &mut S,
        bufs: &mut FlatBufs,
    ) -> Result<(), EventError>;

    /// The event's JSON text, when it is given as text (string leaves are
    /// slices of it, unless unescaped).
    fn text(&self) -> &str {
        ""
    }
}

/// An event given as JSON text.
pub(crate) struct JsonSource<'a>(pub(crate) &'a str);
/// An event given as a parsed value.
pub(crate) struct ValueSource<'a>(pub(crate) &'a Value);

impl Source for JsonSource<'_> {
    fn text(&self) -> &str {
        self.0
    }

    fn walk<S: LeafSink>(
        &self,
        trie: &PathTrie,
        sink: &mut S,
        bufs: &mut FlatBufs,
    ) -> Result<(), EventError> {
        bufs.chain.clear();
        bufs.frames.clear();
        let b = self.0.as_bytes();
        let i = skip_ws(b, 0);
        let i = match b.get(i) {
            Some(b'{') => read_object(self.0, i, trie, sink, bufs)?,
            Some(_) => skip_value(b, i, &mut bufs.stack)?,
            None => return Err(EventError::new("empty input")),
        };
        let i = skip_ws(b, i);
        if i != b.len() {
            return Err(error_at("trailing characters after the JSON value", i));
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
                if let Some(c) = trie.step(0, k.as_bytes()) {
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
                        if let Some(c) = self.trie.step(node, k.as_bytes()) {
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

/// Bit `k` set when byte `k` of `w` is `"` or `\`: one SSE2
/// compare-and-mask on x86-64.
#[inline(always)]
fn quote_or_backslash_mask(w: [u8; 16]) -> u32 {
    let v = u8x16::new(w);
    let hit = v.cmp_eq(u8x16::splat(b'"')) | v.cmp_eq(u8x16::splat(b'\\'));
    hit.move_mask() as u32
}

/// [`quote_or_backslash_mask`] of the sixteen bytes of `b` from `i`.
#[inline(always)]
fn quote_or_backslash16(b: &[u8], i: usize) -> u32 {
    let mut w = [0u8; 16];
    w.copy_from_slice(&b[i..i + 16]);
    quote_or_backslash_mask(w)
}

/// Position of the first `"` or `\` at or after `i`: sixteen bytes at a
/// time for the first 64 bytes (most JSON strings are shorter), `memchr`
/// beyond. Inlined: the call (saved registers, the search's constants
/// loaded again) cost about as much as searching a short string.
#[inline(always)]
fn find_quote_or_backslash(b: &[u8], mut i: usize) -> Option<usize> {
    // The first 32 bytes in one step: most strings end there, and one
    // well-predicted branch beats a loop whose exit depends on the length.
    if i + 32 <= b.len() {
        let hit = quote_or_backslash16(b, i) | quote_or_backslash16(b, i + 16) << 16;
        if hit != 0 {
            return Some(i + hit.trailing_zeros() as usize);
        }
        i += 32;
    }
    let stop = (i + 64).min(b.len());
    while i + 16 <= stop {
        let hit = quote_or_backslash16(b, i);
        if hit != 0 {
            return Some(i + hit.trailing_zeros() as usize);
        }
        i += 16;
    }
    if i + 16 > b.len() {
        // The last bytes of the text (`i` is past the end after a backslash
        // that ends it).
        return b
            .get(i..)?
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
    // Integers and plain decimals of at most fifteen digits: the digits
    // as an integer are exact in an f64, and so is 10^k for the k decimals,
    // so one (correctly rounded) division gives exactly what the general
    // parser gives.
    if digits.len() <= 16 {
        let mut v: u64 = 0;
        let mut point = None;
        let mut ok = !digits.is_empty();
        for (k, &c) in digits.iter().enumerate() {
            match c {
                b'0'..=b'9' => v = v * 10 + u64::from(c - b'0'),
                b'.' if point.is_none() && k > 0 && k + 1 < digits.len() => point = Some(k),
                _ => ok = false,
            }
        }
        let decimals = point.map_or(0, |k| digits.len() - k - 1);
        if ok && digits.len() - usize::from(point.is_some()) <= 15 {
            let f = v as f64 / POW10[decimals];
            return Some(if neg { -f } else { f });
        }
    }
    txt.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// 10^0 ..= 10^15, each exact in an f64.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The container the reader is in, saved while it reads a nested one.
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// Trie node of the object's keys, or of the array's elements.
    node: u32,
    in_array: bool,
}

#[cold]
fn error_at(what: &str, i: usize) -> EventError {
    EventError::new(format!("{what} at byte {i}"))
}

/// The first position at or after `i` that is not JSON whitespace. Events
/// are usually compact JSON, so the common case is one comparison.
#[inline(always)]
fn skip_ws(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(&c) if c > b' ' => i,
        _ => skip_ws_slow(b, i),
    }
}

#[inline(never)]
fn skip_ws_slow(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(i) {
        i += 1;
    }
    i
}

/// In a string whose body starts at `i`: the position of its closing quote
/// and whether the body has escapes. An unterminated string gives the
/// position its error reports (after the opening quote or the last escape).
#[inline(always)]
fn string_end(b: &[u8], mut i: usize) -> Result<(usize, bool), usize> {
    let mut escaped = false;
    loop {
        match find_quote_or_backslash(b, i) {
            Some(j) if b[j] == b'"' => return Ok((j, escaped)),
            Some(j) => {
                escaped = true;
                i = j + 2;
            }
            None => return Err(i.min(b.len())),
        }
    }
}

/// [`string_end`] with the error made: at the opening quote at `i`, returns
/// the body's range and whether it has escapes.
#[inline(always)]
fn string_span(b: &[u8], i: usize) -> Result<(usize, usize, bool), EventError> {
    match string_end(b, i + 1) {
        Ok((e, esc)) => Ok((i + 1, e, esc)),
        Err(at) => Err(error_at("unterminated string", at)),
    }
}

/// The end of the number starting at `i` (its text is checked only when it
/// is parsed, i.e. when some pattern tests it).
#[inline(always)]
fn number_end(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|&c| CLASS[c as usize] & NUMBER != 0) {
        i += 1;
    }
    i
}

/// Byte classes, one table load per byte in the loops that scan values.
const NUMBER: u8 = 1;
const BRACKET_OR_QUOTE: u8 = 2;
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = NUMBER;
        c += 1;
    }
    t[b'-' as usize] = NUMBER;
    t[b'+' as usize] = NUMBER;
    t[b'.' as usize] = NUMBER;
    t[b'e' as usize] = NUMBER;
    t[b'E' as usize] = NUMBER;
    t[b'{' as usize] = BRACKET_OR_QUOTE;
    t[b'}' as usize] = BRACKET_OR_QUOTE;
    t[b'[' as usize] = BRACKET_OR_QUOTE;
    t[b']' as usize] = BRACKET_OR_QUOTE;
    t[b'"' as usize] = BRACKET_OR_QUOTE;
    t
};

/// After the literal `word` expected at `i`.
#[inline]
fn literal_end(b: &[u8], i: usize, word: &[u8]) -> Result<usize, EventError> {
    if b[i..].starts_with(word) {
        Ok(i + word.len())
    } else {
        Err(error_at("invalid literal", i))
    }
}

/// The position after the container whose opening bracket is at `i`, read
/// 64 bytes at a time: quotes, backslashes and brackets are found with
/// SSE2 compares, which bytes are inside strings by the parity of
/// the quotes before them, and only the brackets outside strings are looked
/// at one by one. `None` when the JSON is broken (mismatched brackets, no
/// end): [`skip_value`] then reads it again to report where.
fn skip_container(b: &[u8], mut i: usize, stack: &mut Vec<u8>) -> Option<usize> {
    stack.clear();
    // Whether the byte before `i` is inside a string.
    let mut in_str = false;
    loop {
        // 64 bytes per step, then 16, then the last bytes as one block.
        let (quotes, backslashes, brackets, n) = if i + 64 <= b.len() {
            let (mut q, mut e, mut r) = (0u64, 0u64, 0u64);
            for k in 0..4 {
                let m = skip_masks16(b, i + 16 * k);
                q |= u64::from(m.0) << (16 * k);
                e |= u64::from(m.1) << (16 * k);
                r |= u64::from(m.2) << (16 * k);
            }
            (q, e, r, 64)
        } else if i + 16 <= b.len() {
            let m = skip_masks16(b, i);
            (u64::from(m.0), u64::from(m.1), u64::from(m.2), 16)
        } else if i < b.len() {
            // The last bytes (events often end with the skipped container):
            // zero-padded, and a zero byte is none of the bytes looked for.
            let mut w = [0u8; 16];
            w[..b.len() - i].copy_from_slice(&b[i..]);
            let m = masks16(w);
            (u64::from(m.0), u64::from(m.1), u64::from(m.2), b.len() - i)
        } else {
            break;
        };
        if backslashes != 0 {
            // Escapes (rare): this block byte by byte.
            match skip_bytes(b, i, i + n, stack, &mut in_str) {
                Ok(end) => return end,
                Err(next) => i = next,
            }
            continue;
        }
        // Bit k: an odd number of quotes at or before byte k.
        let mut inside = quotes;
        for shift in [1, 2, 4, 8, 16, 32] {
            inside ^= inside << shift;
        }
        if in_str {
            inside = !inside;
        }
        let mut outside = brackets & !inside;
        while outside != 0 {
            let k = outside.trailing_zeros() as usize;
            outside &= outside - 1;
            if let Some(done) = bracket(stack, b[i + k]) {
                return done.then_some(i + k + 1);
            }
        }
        in_str ^= quotes.count_ones() & 1 == 1;
        i += n;
    }
    // Past the end without closing: broken.
    None
}

/// Sixteen bytes of `b` from `i` as bitsets of their quotes, backslashes and
/// brackets (one SSE2 compare each; `[` and `]` are `{` and `}` with the 0x20
/// bit clear, and no other byte becomes `{` or `}` when it is set).
#[inline(always)]
fn skip_masks16(b: &[u8], i: usize) -> (u32, u32, u32) {
    let mut w = [0u8; 16];
    w.copy_from_slice(&b[i..i + 16]);
    masks16(w)
}

/// [`skip_masks16`] of sixteen bytes.
#[inline(always)]
fn masks16(w: [u8; 16]) -> (u32, u32, u32) {
    let v = u8x16::new(w);
    let t = v | u8x16::splat(0x20);
    (
        v.cmp_eq(u8x16::splat(b'"')).move_mask() as u32,
        v.cmp_eq(u8x16::splat(b'\\')).move_mask() as u32,
        (t.cmp_eq(u8x16::splat(b'{')) | t.cmp_eq(u8x16::splat(b'}'))).move_mask() as u32,
    )
}

/// [`skip_container`] byte by byte over `b[i..end]`: `Ok` with its answer
/// when the container ends or is found broken there, else `Err` with the
/// position to go on from (past `end` when an escape crosses it).
#[cold]
fn skip_bytes(
    b: &[u8],
    mut i: usize,
    end: usize,
    stack: &mut Vec<u8>,
    in_str: &mut bool,
) -> Result<Option<usize>, usize> {
    while i < end {
        let c = b[i];
        if *in_str {
            match c {
                b'\\' => i += 1,
                b'"' => *in_str = false,
                _ => {}
            }
        } else if c == b'"' {
            *in_str = true;
        } else if let Some(done) = bracket(stack, c) {
            return Ok(done.then_some(i + 1));
        }
        i += 1;
    }
    Err(i)
}

/// A byte outside strings while skipping: for a bracket, `Some(true)` when
/// it closes the skipped container, `Some(false)` when it does not match the
/// open one; `None` otherwise.
#[inline(always)]
fn bracket(stack: &mut Vec<u8>, c: u8) -> Option<bool> {
    match c {
        b'{' | b'[' => {
            stack.push(c);
            None
        }
        b'}' | b']' => {
            let open = if c == b'}' { b'{' } else { b'[' };
            if stack.pop() != Some(open) {
                return Some(false);
            }
            stack.is_empty().then_some(true)
        }
        _ => None,
    }
}

/// Skip the value at `i` without decoding it (brackets and strings are
/// checked); returns the position after it. `stack` holds the open brackets.
#[inline(never)]
fn skip_value(b: &[u8], i: usize, stack: &mut Vec<u8>) -> Result<usize, EventError> {
    match b.get(i) {
        Some(b'"') => Ok(string_span(b, i)?.1 + 1),
        Some(b'{' | b'[') => {
            // Broken JSON is read again byte by byte for the error's position.
            skip_container(b, i, stack).map_or_else(|| skip_container_slow(b, i, stack), Ok)
        }
        Some(b't') => literal_end(b, i, b"true"),
        Some(b'f') => literal_end(b, i, b"false"),
        Some(b'n') => literal_end(b, i, b"null"),
        Some(b'-' | b'0'..=b'9') => Ok(number_end(b, i)),
        _ => Err(error_at("expected a value", i)),
    }
}

/// [`skip_container`] one byte (or string) at a time, with the error and
/// its position when the JSON is broken.
#[cold]
fn skip_container_slow(b: &[u8], mut i: usize, stack: &mut Vec<u8>) -> Result<usize, EventError> {
    stack.clear();
    loop {
        // Past the bytes that are neither brackets nor quotes.
        while b
            .get(i)
            .is_some_and(|&c| CLASS[c as usize] & BRACKET_OR_QUOTE == 0)
        {
            i += 1;
        }
        match b.get(i) {
            Some(&c @ (b'{' | b'[')) => stack.push(c),
            Some(&c @ (b'}' | b']')) => {
                let open = if c == b'}' { b'{' } else { b'[' };
                if stack.pop() != Some(open) {
                    return Err(error_at("mismatched bracket", i));
                }
                if stack.is_empty() {
                    return Ok(i + 1);
                }
            }
            Some(b'"') => i = string_span(b, i)?.1,
            Some(_) => {}
            None => return Err(error_at("unexpected end of input", i)),
        }
        i += 1;
    }
}

/// A key at trie node `node` that is not a short one: find its end, unescape
/// it if needed, look it up. At its opening quote `i`; returns the child and
/// the position after the closing quote.
#[inline(never)]
fn long_key(
    s: &str,
    i: usize,
    node: u32,
    trie: &PathTrie,
    kbuf: &mut String,
) -> Result<(Option<u32>, usize), EventError> {
    let b = s.as_bytes();
    let (ks, ke, esc) = string_span(b, i)?;
    let child = if esc {
        unescape(&s[ks..ke], kbuf)?;
        trie.step(node, kbuf.as_bytes())
    } else {
        trie.step(node, &b[ks..ke])
    };
    Ok((child, ke + 1))
}

/// Walk the object at `i` (its `{`) whose keys are looked up below the trie
/// root; returns the position after its `}`.
///
/// One loop with the position, the current container and the array counter
/// in locals (so they stay in registers across keys and values), and an
/// explicit stack of the enclosing containers instead of recursion. Only
/// members on tested paths that the sink [wants](LeafSink::wants) are read;
/// every other value is skipped (checked for brackets and strings only) by
/// [`skip_value`].
fn read_object<S: LeafSink>(
    s: &str,
    mut i: usize,
    trie: &PathTrie,
    sink: &mut S,
    bufs: &mut FlatBufs,
) -> Result<usize, EventError> {
    let b = s.as_bytes();
    let FlatBufs {
        chain,
        sbuf,
        kbuf,
        stack,
        frames,
    } = bufs;
    // The current container.
    let mut node = 0u32;
    let mut in_array = false;
    let mut arrays = 0u32;
    i = skip_ws(b, i + 1);
    let mut open = b.get(i) != Some(&b'}');
    if !open {
        return Ok(i + 1);
    }
    loop {
        if open {
            // At a member (after `{` or `,`) or an element (after `[` or `,`):
            // the trie node of its value, if it is to be read.
            let target = if in_array {
                i = skip_ws(b, i);
                Some(node)
            } else {
                // Events are usually compact: the punctuation is tried first
                // and whitespace skipped only when it is not there.
                if b.get(i) != Some(&b'"') {
                    i = skip_ws(b, i);
                    if b.get(i) != Some(&b'"') {
                        return Err(error_at("expected a field name", i));
                    }
                }
                let (child, after) = match key16(b, i) {
                    Some((head, _, len)) if len < 8 => {
                        (trie.step_short(node, head, len), i + len + 2)
                    }
                    Some((head, tail, len)) => {
                        (trie.step_medium(node, head, tail, len), i + len + 2)
                    }
                    None => long_key(s, i, node, trie, kbuf)?,
                };
                i = after;
                if b.get(i) == Some(&b':') {
                    i += 1;
                } else {
                    i = skip_ws(b, i);
                    if b.get(i) != Some(&b':') {
                        return Err(error_at("expected ':'", i));
                    }
                    i += 1;
                }
                i = skip_ws(b, i);
                // A member nothing wants is read as if untested (no leaf).
                child.filter(|&c| sink.wants(trie.below(c)))
            };
            // The value.
            match (b.get(i), target) {
                (Some(b'"'), _) => {
                    let (vs, ve, esc) = string_span(b, i)?;
                    if let Some(f) = target.and_then(|c| trie.field(c)) {
                        if esc {
                            unescape(&s[vs..ve], sbuf)?;
                            sink.leaf(f, Val::Str(sbuf.as_str()), chain);
                        } else {
                            sink.leaf(f, Val::Str(&s[vs..ve]), chain);
                        }
                    }
                    i = ve + 1;
                }
                (Some(b'-' | b'0'..=b'9'), _) => {
                    let start = i;
                    i = number_end(b, i);
                    if let Some(f) = target.and_then(|c| trie.field(c)) {
                        let x = parse_number(&s[start..i])
                            .ok_or_else(|| error_at("invalid number", i))?;
                        sink.leaf(f, Val::Num(x), chain);
                    }
                }
                (Some(b'{'), Some(c)) if trie.has_children(c) => {
                    if frames.len() >= MAX_DEPTH as usize {
                        return Err(error_at("event nesting is too deep", i));
                    }
                    i = skip_ws(b, i + 1);
                    if b.get(i) == Some(&b'}') {
                        i += 1;
                    } else {
                        frames.push(Frame { node, in_array });
                        node = c;
                        in_array = false;
                        continue;
                    }
                }
                (Some(b'['), Some(c)) => {
                    if frames.len() >= MAX_DEPTH as usize {
                        return Err(error_at("event nesting is too deep", i));
                    }
                    let id = arrays;
                    arrays += 1;
                    i = skip_ws(b, i + 1);
                    if b.get(i) == Some(&b']') {
                        i += 1;
                    } else {
                        frames.push(Frame { node, in_array });
                        chain.push((id, 0));
                        node = c;
                        in_array = true;
                        continue;
                    }
                }
                (Some(b't'), Some(c)) => {
                    i = literal_end(b, i, b"true")?;
                    emit(trie, sink, chain, c, Val::Bool(true));
                }
                (Some(b'f'), Some(c)) => {
                    i = literal_end(b, i, b"false")?;
                    emit(trie, sink, chain, c, Val::Bool(false));
                }
                (Some(b'n'), Some(c)) => {
                    i = literal_end(b, i, b"null")?;
                    emit(trie, sink, chain, c, Val::Null);
                }
                _ => i = skip_value(b, i, stack)?,
            }
        }
        // After a value (or a closed container): `,` or the closing bracket.
        let close = if in_array { b']' } else { b'}' };
        let mut c = b.get(i).copied();
        if c != Some(b',') && c != Some(close) {
            i = skip_ws(b, i);
            c = b.get(i).copied();
        }
        i += 1;
        if c == Some(b',') {
            if in_array && let Some(last) = chain.last_mut() {
                last.1 += 1;
            }
            open = true;
        } else if c == Some(close) {
            if in_array {
                chain.pop();
            }
            let Some(up) = frames.pop() else {
                return Ok(i);
            };
            node = up.node;
            in_array = up.in_array;
            open = false;
        } else {
            let what = if in_array {
                "expected ',' or ']'"
            } else {
                "expected ',' or '}'"
            };
            return Err(error_at(what, i - 1));
        }
    }
}

/// Report a literal at trie node `node` if it is a tested field.
#[inline]
fn emit<S: LeafSink>(trie: &PathTrie, sink: &mut S, chain: &[ArrayPos], node: u32, val: Val<'_>) {
    if let Some(f) = trie.field(node) {
        sink.leaf(f, val, chain);
    }
}

/// At the opening quote `i` of a key: when the key is shorter than
/// sixteen bytes and has no escape (most keys), read it with one sixteen-byte
/// load and return (its first eight bytes, the rest, each as a zero-padded
/// little-endian word, and its length).
#[inline(always)]
fn key16(b: &[u8], i: usize) -> Option<(u64, u64, usize)> {
    let mut w = [0u8; 16];
    w.copy_from_slice(b.get(i + 1..i + 17)?);
    let hit = quote_or_backslash_mask(w);
    let len = hit.trailing_zeros() as usize;
    if hit == 0 || w[len] != b'"' {
        return None;
    }
    let word = |k: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(&w[k..k + 8]);
        u64::from_le_bytes(x)
    };
    // Zero the bytes from the closing quote on (masks from a table: key
    // lengths vary, so a branch on them would be mispredicted).
    const KEEP: [u64; 9] = {
        let mut t = [u64::MAX; 9];
        let mut n = 0;
        while n < 8 {
            t[n] = !(u64::MAX << (8 * n));
            n += 1;
        }
        t
    };
    let head = word(0) & KEEP[len.min(8)];
    let tail = word(8) & KEEP[len.saturating_sub(8) & 7];
    Some((head, tail, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Leaf = (FieldId, String, Vec<ArrayPos>);

    /// Every leaf with its whole array chain.
    #[derive(Default)]
    struct Collect(Vec<Leaf>);

    impl LeafSink for Collect {
        fn leaf(&mut self, field: FieldId, val: Val<'_>, chain: &[ArrayPos]) {
            self.0.push((field, format!("{val:?}"), chain.to_vec()));
        }
    }

    /// The leaves of the text walk alone.
    fn text_leaves(trie: &PathTrie, ev: &str) -> Vec<Leaf> {
        let mut c = Collect::default();
        JsonSource(ev)
            .walk(trie, &mut c, &mut FlatBufs::default())
            .unwrap_or_else(|e| panic!("{e}"));
        c.0
    }

    /// The leaves of the text walk with their whole array chains, checked
    /// against the parsed-value walk.
    fn flat_chains(trie: &PathTrie, ev: &str) -> Vec<Leaf> {
        let leaves = text_leaves(trie, ev);
        let v: Value = serde_json::from_str(ev).unwrap_or_else(|e| panic!("{e}"));
        let mut c = Collect::default();
        ValueSource(&v)
            .walk(trie, &mut c, &mut FlatBufs::default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(leaves, c.0, "text and value walks differ for {ev}");
        leaves
    }

    /// [`flat_chains`] with the chains' lengths only.
    fn flat(trie: &PathTrie, ev: &str) -> Vec<(FieldId, String, usize)> {
        flat_chains(trie, ev)
            .into_iter()
            .map(|(f, v, chain)| (f, v, chain.len()))
            .collect()
    }

    /// (field, value) of each leaf the text walk reports, in order.
    fn fields_of(trie: &PathTrie, ev: &str) -> Vec<(FieldId, String)> {
        flat(trie, ev).into_iter().map(|(f, v, _)| (f, v)).collect()
    }

    /// The reason of the text walk's error.
    fn walk_error(trie: &PathTrie, ev: &str) -> String {
        let mut c = Collect::default();
        match JsonSource(ev).walk(trie, &mut c, &mut FlatBufs::default()) {
            Ok(()) => panic!("no error for {ev}"),
            Err(e) => e.reason().to_string(),
        }
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
        let fields = fields_of(
            &t,
            r#"{"a.b":1,"a":{"b":2},"abcdefg":3,"abcdefgh":{"x":4},"abcdefgh.x":5,"x\u0079z":6,"":7,"abcdef":8}"#,
        );
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

    /// The block-wise skip agrees with the byte-wise one on where a
    /// container ends and on whether it is broken, wherever its brackets,
    /// quotes and escapes fall relative to the 16- and 64-byte blocks.
    #[test]
    fn block_skip_agrees_with_byte_skip() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let alphabet = b"{}[]\"\\\\a:,1 ";
        let mut stack = Vec::new();
        let mut cases = Vec::new();
        // Random bytes over JSON's punctuation: mostly broken.
        for _ in 0..20_000 {
            let len = 1 + next(200) as usize;
            let mut t = vec![if next(2) == 0 { b'{' } else { b'[' }];
            t.extend((1..len).map(|_| alphabet[next(alphabet.len() as u64) as usize]));
            cases.push(t);
        }
        // Well-formed containers with strings full of brackets and escaped
        // quotes, padded so that their parts land at every block offset.
        for pad in 0..130 {
            let filler = "x".repeat(pad);
            for body in [
                format!(r#"{{"a":"{filler}","b":[1,{{"c":"]}}\"{{"}},"\\"],"d":"{filler}\""}}"#),
                format!(r#"[{filler:?},"[[[",{{}},[],"\\\"",{{"e":[[{{}}]]}}]"#),
                format!(r#"{{"k":"{filler}"}}"#),
            ] {
                // Followed by more members, or ending the text (its last
                // block then shorter than sixteen bytes).
                let mut t = body.into_bytes();
                cases.push(t.clone());
                t.extend_from_slice(b",\"after\":[1]}");
                cases.push(t);
            }
        }
        let mut ok = 0;
        for t in &cases {
            let fast = skip_container(t, 0, &mut stack);
            let slow = skip_container_slow(t, 0, &mut stack);
            match (fast, &slow) {
                (Some(e), Ok(s)) => {
                    assert_eq!(e, *s, "{}", String::from_utf8_lossy(t));
                    ok += 1;
                }
                (None, Err(_)) => {}
                _ => panic!(
                    "block {fast:?}, bytes {slow:?}: {}",
                    String::from_utf8_lossy(t)
                ),
            }
        }
        assert!(ok > 780, "well-formed cases: {ok}");
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
        let got: Vec<(FieldId, String)> = fields_of(&t, &ev);
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

    /// Each error of the reader and the position it reports, in tested and
    /// skipped subtrees, in objects and arrays.
    #[test]
    fn error_positions() {
        let mut t = PathTrie::default();
        t.insert("a");
        t.insert("o.k");
        for (ev, want) in [
            ("", "empty input"),
            (" \n", "empty input"),
            ("{", "expected a field name at byte 1"),
            ("{ ", "expected a field name at byte 2"),
            ("{1:2}", "expected a field name at byte 1"),
            (r#"{"a":1,}"#, "expected a field name at byte 7"),
            (r#"{"a":1, }"#, "expected a field name at byte 8"),
            (r#"{"a" 1}"#, "expected ':' at byte 5"),
            (r#"{"a""#, "expected ':' at byte 4"),
            (r#"{"a":}"#, "expected a value at byte 5"),
            (r#"{"a":"#, "expected a value at byte 5"),
            (r#"{"z":}"#, "expected a value at byte 5"),
            (r#"{"a":[1,]}"#, "expected a value at byte 8"),
            (r#"{"a":1 "b":2}"#, "expected ',' or '}' at byte 7"),
            (r#"{"a":1"#, "expected ',' or '}' at byte 6"),
            (r#"{"o":{"k":1]"#, "expected ',' or '}' at byte 11"),
            (r#"{"a":[1 2]}"#, "expected ',' or ']' at byte 8"),
            (r#"{"a":[1}"#, "expected ',' or ']' at byte 7"),
            (r#"{"a":[[1],{"k":2}}"#, "expected ',' or ']' at byte 17"),
            (r#"{"a":"x}"#, "unterminated string at byte 6"),
            (r#"{"z":"x}"#, "unterminated string at byte 6"),
            (r#"{"a":"x\"y}"#, "unterminated string at byte 9"),
            (r#"{"abc"#, "unterminated string at byte 2"),
            // A backslash ending the text (the reader used to panic here).
            (r#"{"a":"\"#, "unterminated string at byte 7"),
            (r#"{"z":"\"#, "unterminated string at byte 7"),
            (r#"{"a\"#, "unterminated string at byte 4"),
            (r#"{"a":-}"#, "invalid number at byte 6"),
            (r#"{"a":[1,2e]}"#, "invalid number at byte 10"),
            (r#"{"a":tru}"#, "invalid literal at byte 5"),
            (r#"{"a":[nul]}"#, "invalid literal at byte 6"),
            (r#"{"z":fals}"#, "invalid literal at byte 5"),
            (r#"{"z":{"x":[}]}}"#, "mismatched bracket at byte 11"),
            (r#"{"o":{"q":[1,2}}"#, "mismatched bracket at byte 14"),
            (r#"{"z":[1,2"#, "unexpected end of input at byte 9"),
            ("{} x", "trailing characters after the JSON value at byte 3"),
            (
                "[1] ]",
                "trailing characters after the JSON value at byte 4",
            ),
            (r#"{"a":"\q"}"#, "invalid escape in string"),
            (r#"{"a\q":1}"#, "invalid escape in string"),
            (r#"{"a":["\u12"]}"#, "invalid escape in string"),
        ] {
            assert_eq!(walk_error(&t, ev), want, "{ev}");
        }
    }

    /// Arrays and objects on tested paths are entered up to 512 levels (the
    /// root object not counted), empty ones included; skipped subtrees have
    /// no limit. (The parsed-value walk is not compared: serde_json stops
    /// at 128 levels.)
    #[test]
    fn nesting_limit() {
        let mut t = PathTrie::default();
        let a = t.insert("a");
        t.insert(&["o"; 600].join("."));
        let arrays =
            |n: usize, inner: &str| format!(r#"{{"a":{}{inner}{}}}"#, "[".repeat(n), "]".repeat(n));
        let chain: Vec<ArrayPos> = (0..512).map(|id| (id, 0)).collect();
        assert_eq!(
            text_leaves(&t, &arrays(512, "1")),
            vec![(a, "Num(1.0)".to_string(), chain)]
        );
        let too_deep = "event nesting is too deep at byte 517";
        assert_eq!(walk_error(&t, &arrays(513, "1")), too_deep);
        assert_eq!(walk_error(&t, &arrays(512, "[]")), too_deep);
        let objects =
            |n: usize, inner: &str| format!("{}{inner}{}", r#"{"o":"#.repeat(n), "}".repeat(n));
        assert_eq!(text_leaves(&t, &objects(513, "1")), vec![]);
        let too_deep = "event nesting is too deep at byte 2565";
        assert_eq!(walk_error(&t, &objects(514, "1")), too_deep);
        assert_eq!(walk_error(&t, &objects(513, "{}")), too_deep);
        let mut t2 = PathTrie::default();
        let deep2 = t2.insert(&["o"; 100].join("."));
        assert_eq!(
            flat(&t2, &objects(100, "7")),
            vec![(deep2, "Num(7.0)".to_string(), 0)]
        );
        let skipped = format!(r#"{{"z":{}{}}}"#, "[".repeat(5000), "]".repeat(5000));
        assert_eq!(text_leaves(&t, &skipped), vec![]);
    }

    /// Array ids and element indexes: every array on a tested path gets the
    /// next id (empty ones too), and elements count from zero, also past
    /// skipped elements and nested containers.
    #[test]
    fn array_chains() {
        let mut t = PathTrie::default();
        let a = t.insert("a");
        let k = t.insert("a.k");
        let got = flat_chains(
            &t,
            r#"{"a":[[],[1,"x"],{"k":[true,null]},{"z":[1]},false],"b":[1],"c":{"a":[2]}}"#,
        );
        let want: Vec<Leaf> = vec![
            (a, "Num(1.0)".to_string(), vec![(0, 1), (2, 0)]),
            (a, "Str(\"x\")".to_string(), vec![(0, 1), (2, 1)]),
            (k, "Bool(true)".to_string(), vec![(0, 2), (3, 0)]),
            (k, "Null".to_string(), vec![(0, 2), (3, 1)]),
            (a, "Bool(false)".to_string(), vec![(0, 4)]),
        ];
        assert_eq!(got, want);
        // Whitespace between elements and inside empty arrays.
        let spaced = text_leaves(
            &t,
            "{ \"a\" : [ [ ] , [ 1 , \"x\" ] , { \"k\" : [ true , null ] } , { \"z\" : [ 1 ] } , false ] }",
        );
        assert_eq!(spaced, want);
    }

    /// From text every occurrence of a duplicate key is seen; escaped keys
    /// (dotted ones included) and escaped values are decoded.
    #[test]
    fn duplicate_and_escaped_keys() {
        let mut t = PathTrie::default();
        let a = t.insert("a");
        let ab = t.insert("a.b");
        let long = t.insert("long key.x");
        let got = text_leaves(
            &t,
            r#"{"a":1,"a":"t\u00e9\n","\u0061":2,"a\u002eb":3,"a":{"b":4,"\u0062":5},"lon\u0067 key":{"x":6},"long key.x":7}"#,
        );
        let want: Vec<Leaf> = vec![
            (a, "Num(1.0)".to_string(), vec![]),
            (a, "Str(\"té\\n\")".to_string(), vec![]),
            (a, "Num(2.0)".to_string(), vec![]),
            (ab, "Num(3.0)".to_string(), vec![]),
            (ab, "Num(4.0)".to_string(), vec![]),
            (ab, "Num(5.0)".to_string(), vec![]),
            (long, "Num(6.0)".to_string(), vec![]),
            (long, "Num(7.0)".to_string(), vec![]),
        ];
        assert_eq!(got, want);
    }

    /// Keys of eight to fifteen bytes are read with two word loads when
    /// sixteen bytes follow the opening quote and the first word has no
    /// quote or backslash; otherwise by the general path.
    #[test]
    fn medium_keys() {
        let mut t = PathTrie::default();
        let k8 = t.insert("abcdefgh");
        let k11 = t.insert("abcdefghijk");
        let q = t.insert("abcdefg\"hij");
        let dotted = t.insert("abcd.efghijk");
        let got: Vec<(FieldId, String)> = text_leaves(
            &t,
            r#"{"abcdefgh":1,"abcdefghijk":2,"abcdefg\"hij":3,"abcd.efghijk":4,"abcd":{"efghijk":5},"abcdefghij\u006b":6,"abcdefghijkl":-1,"abcdefghij":-1,"abcdefgh":7,"abcdefghijk":8}"#,
        )
        .into_iter()
        .map(|(f, v, _)| (f, v))
        .collect();
        let want: Vec<(FieldId, String)> = [
            (k8, 1),
            (k11, 2),
            (q, 3),
            (dotted, 4),
            (dotted, 5),
            (k11, 6),
            (k8, 7),
            (k11, 8),
        ]
        .into_iter()
        .map(|(f, n)| (f, format!("Num({n}.0)")))
        .collect();
        assert_eq!(got, want);
    }

    /// The short-segment table grows and tells (node, segment, length)
    /// apart: a zero byte inside a segment is not padding.
    #[test]
    fn short_children_table() {
        let mut s = ShortChildren::default();
        let mut n = 0u32;
        for node in 0..50u32 {
            for len in 0..8 {
                let seg: Vec<u8> = (0..len)
                    .map(|k| b'a' + ((node as usize + k) % 26) as u8)
                    .collect();
                s.insert(node, tail_word(&seg), len, n);
                n += 1;
            }
        }
        let mut n = 0u32;
        for node in 0..50u32 {
            for len in 0..8 {
                let seg: Vec<u8> = (0..len)
                    .map(|k| b'a' + ((node as usize + k) % 26) as u8)
                    .collect();
                assert_eq!(s.get(node, tail_word(&seg), len), Some(n));
                assert_eq!(s.get(node + 50, tail_word(&seg), len), None);
                if len < 7 {
                    assert_eq!(s.get(node, tail_word(&seg), len + 1), None);
                }
                n += 1;
            }
        }
    }

    #[test]
    fn numbers_read_as_the_general_parser_reads_them() {
        let fixed = [
            "0",
            "-0",
            "7",
            "523.45",
            "-0.0",
            "0.1",
            "0.3",
            "123456789012345",
            "1234567890123456",
            "12345678901234.5",
            "1.000000000000001",
            "99999.99",
            "1e3",
            "1.5E-2",
            "-12.5",
            "1.",
            ".5",
            "1..2",
            "-",
            "",
            "0.30000000000000004",
            "9007199254740993",
        ];
        for t in fixed {
            let want = t.parse::<f64>().ok().filter(|x| x.is_finite());
            let got = parse_number(t);
            assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{t}");
        }
        // Random plain decimals of every split of up to sixteen digits.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = 1 + (x % 16) as usize;
            let mut t: String = (0..digits)
                .map(|k| char::from(b'0' + ((x >> (k * 3)) % 10) as u8))
                .collect();
            let at = (x >> 50) as usize % (digits + 1);
            if at > 0 && at < digits {
                t.insert(at, '.');
            }
            if x & 1 == 1 {
                t.insert(0, '-');
            }
            let want = t.parse::<f64>().ok().filter(|x| x.is_finite());
            assert_eq!(
                parse_number(&t).map(f64::to_bits),
                want.map(f64::to_bits),
                "{t}"
            );
        }
    }

    #[test]
    fn unescapes() {
        let mut s = String::new();
        unescape(r"a\u0041\n\ud83d\ude80", &mut s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s, "aA\n\u{1F680}");
    }
}
