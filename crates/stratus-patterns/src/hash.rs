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

/// Hash of a byte string with [`FxHasher`].
#[inline]
pub(crate) fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(b);
    h.write_usize(b.len());
    h.finish()
}

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

/// Up to eight bytes as a little-endian word (zero-padded), without a library call.
#[inline]
pub(crate) fn tail_word(b: &[u8]) -> u64 {
    if b.len() >= 8 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[..8]);
        return u64::from_le_bytes(w);
    }
    let mut v = 0u64;
    for (i, &c) in b.iter().enumerate() {
        v |= u64::from(c) << (8 * i);
    }
    v
}

/// Keys sharing one hash, with their values.
type Bucket<V> = Vec<(Box<[u8]>, V)>;

/// Map from byte strings to values, looked up by a precomputed hash.
#[derive(Debug, Clone)]
pub(crate) struct BytesMap<V> {
    map: FxMap<u64, Bucket<V>>,
}

impl<V> Default for BytesMap<V> {
    fn default() -> Self {
        Self {
            map: FxMap::default(),
        }
    }
}

impl<V: Default> BytesMap<V> {
    pub(crate) fn entry(&mut self, key: &[u8]) -> &mut V {
        let bucket = self.map.entry(hash_bytes(key)).or_default();
        let pos = match bucket.iter().position(|(k, _)| bytes_eq(k, key)) {
            Some(p) => p,
            None => {
                bucket.push((key.into(), V::default()));
                bucket.len() - 1
            }
        };
        &mut bucket[pos].1
    }
}

impl<V> BytesMap<V> {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    #[inline]
    pub(crate) fn get(&self, key: &[u8]) -> Option<&V> {
        self.get_hashed(hash_bytes(key), key)
    }

    #[inline]
    pub(crate) fn get_hashed(&self, hash: u64, key: &[u8]) -> Option<&V> {
        self.map
            .get(&hash)?
            .iter()
            .find(|(k, _)| bytes_eq(k, key))
            .map(|(_, v)| v)
    }
}
