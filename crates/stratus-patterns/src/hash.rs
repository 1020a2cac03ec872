//! A small, fast, non-cryptographic hasher for the matcher's internal maps
//! (keys come from patterns, so HashDoS resistance is not a concern here; event
//! values are only ever looked up, never inserted).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// Multiply-rotate hasher in the style of rustc's FxHasher.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            self.add(tail_word(rest) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Byte-string equality without a library call for the short keys typical of
/// events (eight bytes at a time).
#[inline]
pub(crate) fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        let mut wx = [0u8; 8];
        let mut wy = [0u8; 8];
        wx.copy_from_slice(x);
        wy.copy_from_slice(y);
        if wx != wy {
            return false;
        }
    }
    tail_word(ca.remainder()) == tail_word(cb.remainder())
}

/// Up to eight bytes as a little-endian word (zero-padded), with at most
/// three loads and no loop or library call.
#[inline]
pub(crate) fn tail_word(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 8 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[..8]);
        return u64::from_le_bytes(w);
    }
    if n >= 4 {
        let mut lo = [0u8; 4];
        let mut hi = [0u8; 4];
        lo.copy_from_slice(&b[..4]);
        hi.copy_from_slice(&b[n - 4..]);
        let lo = u64::from(u32::from_le_bytes(lo));
        let hi = u64::from(u32::from_le_bytes(hi));
        // Bytes n-4..n land in their places; the overlap repeats identical
        // bytes, so OR is exact.
        return lo | (hi << (8 * (n - 4)));
    }
    if n == 0 {
        return 0;
    }
    // One to three bytes: first, middle and last (repeats coincide).
    u64::from(b[0])
        | (u64::from(b[n / 2]) << (8 * (n / 2)))
        | (u64::from(b[n - 1]) << (8 * (n - 1)))
}

/// Mix a key tag into a byte-string hash.
#[inline]
fn mix(h: u64, tag: u32) -> u64 {
    (h ^ u64::from(tag).wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(SEED)
}

/// The table's hash of a key and its first eight bytes (zero-padded).
#[inline]
fn key_hash(key: &[u8], tag: u32) -> (u64, u64) {
    let head = tail_word(key);
    let mut h = FxHasher::default();
    h.add(head);
    if key.len() > 8 {
        let mut chunks = key[8..].chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h.add(u64::from_le_bytes(w));
        }
        h.add(tail_word(chunks.remainder()));
    }
    h.add(key.len() as u64);
    (mix(h.finish(), tag), head)
}

/// The word with its ASCII capitals lower-cased, all eight bytes at once
/// (other bytes, non-ASCII ones included, are unchanged).
#[inline]
fn lower_word(w: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HI: u64 = 0x8080_8080_8080_8080;
    let low7 = w & LOW7;
    // A byte's high bit is set when its low seven bits are >= 'A' (0x41),
    // resp. > 'Z' (0x5a); no sum carries into the next byte.
    let from_a = low7 + 0x3f3f_3f3f_3f3f_3f3f;
    let past_z = low7 + 0x2525_2525_2525_2525;
    let upper = from_a & !past_z & !w & HI;
    // 0x80 >> 2 is 0x20, the case bit.
    w | (upper >> 2)
}

/// [`key_hash`] of the ASCII-lower-cased key, without copying it.
#[inline]
fn key_hash_lower(key: &[u8], tag: u32) -> (u64, u64) {
    let lower = lower_word;
    let head = lower(tail_word(key));
    let mut h = FxHasher::default();
    h.add(head);
    if key.len() > 8 {
        let mut chunks = key[8..].chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h.add(lower(u64::from_le_bytes(w)));
        }
        h.add(lower(tail_word(chunks.remainder())));
    }
    h.add(key.len() as u64);
    (mix(h.finish(), tag), head)
}

#[derive(Debug, Clone)]
struct Slot<V> {
    /// The hash's high half (its bits 40.. also place the slot).
    hash: u32,
    /// First eight key bytes (zero-padded): keys up to eight bytes long are
    /// compared without touching the arena.
    head: u64,
    tag: u32,
    len: u32,
    start: u32,
    val: V,
}

const EMPTY_TAG: u32 = u32::MAX;

/// Map from (tag, byte string) to a value: one open-addressing table whose
/// slots hold the value and the key's first bytes inline, so a lookup usually
/// reads one slot (plus the key arena for keys longer than eight bytes). Many
/// small per-field or per-node maps share one table this way, which keeps the
/// matcher's memory footprint in a few contiguous blocks.
#[derive(Debug, Clone)]
pub(crate) struct FlatTable<V> {
    slots: Vec<Slot<V>>,
    arena: Vec<u8>,
    len: usize,
}

impl<V> Default for FlatTable<V> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            arena: Vec::new(),
            len: 0,
        }
    }
}

/// The part of a [`key_hash`] a slot keeps.
#[inline(always)]
fn high(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// A slot's place: bits 40.. of the hash, i.e. bits 8.. of [`high`].
#[inline(always)]
fn home(high: u32, mask: usize) -> usize {
    (high >> 8) as usize & mask
}

impl<V: Default + Clone> FlatTable<V> {
    /// The value for (`tag`, `key`), inserted as `V::default()` when absent.
    /// `tag` must not be `u32::MAX`.
    pub(crate) fn entry(&mut self, tag: u32, key: &[u8]) -> &mut V {
        let (hash, head) = key_hash(key, tag);
        if let Some(i) = self.find(hash, tag, key.len(), |s| self.key_eq(s, head, key)) {
            return &mut self.slots[i].val;
        }
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(key);
        let slot = Slot {
            hash: high(hash),
            head,
            tag,
            len: key.len() as u32,
            start,
            val: V::default(),
        };
        let at = self.place(slot);
        self.len += 1;
        &mut self.slots[at].val
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        let empty = Slot {
            hash: 0,
            head: 0,
            tag: EMPTY_TAG,
            len: 0,
            start: 0,
            val: V::default(),
        };
        let old = std::mem::replace(&mut self.slots, vec![empty; size]);
        for s in old.into_iter().filter(|s| s.tag != EMPTY_TAG) {
            self.place(s);
        }
    }

    fn place(&mut self, slot: Slot<V>) -> usize {
        let mask = self.slots.len() - 1;
        let mut at = home(slot.hash, mask);
        while self.slots[at].tag != EMPTY_TAG {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
        at
    }
}

impl<V> FlatTable<V> {
    #[inline]
    fn key_eq(&self, s: &Slot<V>, head: u64, key: &[u8]) -> bool {
        if s.head != head {
            return false;
        }
        if key.len() <= 8 {
            return true;
        }
        let start = s.start as usize;
        bytes_eq(&self.arena[start..start + key.len()], key)
    }

    /// Always inlined, as [`FlatTable::get`] is.
    #[inline(always)]
    fn find(
        &self,
        hash: u64,
        tag: u32,
        len: usize,
        eq: impl Fn(&Slot<V>) -> bool,
    ) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let hash = high(hash);
        let mut at = home(hash, mask);
        loop {
            let s = &self.slots[at];
            if s.tag == EMPTY_TAG {
                return None;
            }
            if s.hash == hash && s.tag == tag && s.len as usize == len && eq(s) {
                return Some(at);
            }
            at = (at + 1) & mask;
        }
    }

    /// Number of keys.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Always inlined: the leaf handler calls it ~9 times per event, and
    /// as a call it cost ~27 instructions of saved registers each.
    #[inline(always)]
    pub(crate) fn get(&self, tag: u32, key: &[u8]) -> Option<&V> {
        let (hash, head) = key_hash(key, tag);
        self.find(hash, tag, key.len(), |s| self.key_eq(s, head, key))
            .map(|i| &self.slots[i].val)
    }

    /// [`FlatTable::get`] for a key of eight to fifteen bytes, given as its
    /// first word `head`, the zero-padded word of the rest `tail`, and its
    /// length (the hash is [`key_hash`]'s, without a loop).
    #[inline]
    pub(crate) fn get_medium(&self, tag: u32, head: u64, tail: u64, len: usize) -> Option<&V> {
        debug_assert!((8..16).contains(&len));
        let mut h = FxHasher::default();
        h.add(head);
        if len > 8 {
            h.add(tail);
        }
        h.add(len as u64);
        let hash = mix(h.finish(), tag);
        self.find(hash, tag, len, |s| {
            let start = s.start as usize;
            s.head == head && (len == 8 || tail_word(&self.arena[start + 8..start + len]) == tail)
        })
        .map(|i| &self.slots[i].val)
    }

    /// Look up an ASCII key case-insensitively (keys are stored lower-cased).
    #[inline]
    pub(crate) fn get_ascii_lower(&self, tag: u32, key: &[u8]) -> Option<&V> {
        let (hash, head) = key_hash_lower(key, tag);
        self.find(hash, tag, key.len(), |s| {
            if s.head != head {
                return false;
            }
            if key.len() <= 8 {
                return true;
            }
            let start = s.start as usize;
            self.arena[start..start + key.len()].eq_ignore_ascii_case(key)
        })
        .map(|i| &self.slots[i].val)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_table_finds_every_key() {
        let mut m: FlatTable<u32> = FlatTable::default();
        let keys: Vec<String> = (0..200)
            .map(|i| format!("k{i}{}", "x".repeat(i % 19)))
            .collect();
        for (i, k) in keys.iter().enumerate() {
            *m.entry(7, k.as_bytes()) = i as u32 + 1;
            *m.entry(8, k.as_bytes()) = i as u32 + 1000;
        }
        *m.entry(7, b"") = 5000;
        assert_eq!(m.len(), 401);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(m.get(7, k.as_bytes()), Some(&(i as u32 + 1)));
            assert_eq!(m.get(8, k.as_bytes()), Some(&(i as u32 + 1000)));
            assert_eq!(
                m.get_ascii_lower(7, k.to_uppercase().as_bytes()),
                Some(&(i as u32 + 1))
            );
            assert_eq!(m.get(9, k.as_bytes()), None);
        }
        assert_eq!(m.get(7, b"k"), None);
        for k in keys.iter().filter(|k| (8..16).contains(&k.len())) {
            let (head, rest) = k.as_bytes().split_at(8);
            let (head, tail) = (tail_word(head), tail_word(rest));
            assert_eq!(
                m.get_medium(7, head, tail, k.len()),
                m.get(7, k.as_bytes()),
                "{k}"
            );
            assert!(m.get_medium(7, head, tail ^ 1, k.len()).is_none() || k.len() == 8);
            assert!(m.get_medium(9, head, tail, k.len()).is_none());
        }
        assert_eq!(m.get(7, b""), Some(&5000));
        assert_eq!(m.get(8, b""), None);
        assert!(FlatTable::<u32>::default().get(0, b"a").is_none());
    }

    #[test]
    fn lower_hash_agrees() {
        for s in [
            "",
            "a",
            "ABCDEFGH",
            "Hello World, Mixed CASE 123",
            "running",
            "ABCDEFGHIJKLMNOPQ",
        ] {
            assert_eq!(
                key_hash_lower(s.as_bytes(), 3),
                key_hash(s.to_ascii_lowercase().as_bytes(), 3)
            );
        }
    }

    #[test]
    fn lower_word_is_ascii_lowercase() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                let mut bytes = *b"aZ@[`{\x7f\x80";
                bytes[pos] = b;
                let w = u64::from_le_bytes(bytes);
                let mut want = bytes;
                want.make_ascii_lowercase();
                assert_eq!(lower_word(w), u64::from_le_bytes(want), "{b:#x} at {pos}");
            }
        }
    }

    #[test]
    fn tail_words() {
        for n in 0..12 {
            let b: Vec<u8> = (1..=n as u8).collect();
            let mut w = [0u8; 8];
            let k = n.min(8);
            w[..k].copy_from_slice(&b[..k]);
            assert_eq!(tail_word(&b), u64::from_le_bytes(w), "{n}");
        }
    }
}
