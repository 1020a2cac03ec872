//! The compiled, indexed form of one or many patterns, and the matching engine.
//!
//! Every `$or` branch of every pattern is a conjunction of field tests. Each
//! test is registered under its field: exact strings, numbers, booleans and
//! null go into hash maps keyed by value, prefixes and suffixes into maps keyed
//! by their bytes (one map per length), the remaining operators into a short
//! per-field list. An event is flattened once; each leaf is looked up only in
//! its own field's index, and every hit sets one bit in its branch's 64-bit
//! mask. A branch matches when all its positive tests are hit and its
//! `exists: false` tests see no value. Cost follows the number of *hits*, not
//! the number of rules.
//!
//! Array consistency (EventBridge refuses a match in which two tested fields
//! come from different elements of the same array) is checked only when a
//! branch has two or more tests satisfied solely from inside arrays; then the
//! event is walked a second time for those branches and a small dynamic
//! programme over the array structure decides (linear in the hits, see
//! [`family`]).

use std::sync::Arc;

use crate::cidr::{IpKey, ip_value};
use crate::error::EventError;
use crate::flatten::{ArrayPos, FieldId, FlatBufs, LeafSink, PathTrie, Source};
use crate::hash::FxMap;
use crate::matcher::{Matcher, Val};
use crate::parse::Branch;

/// A branch bit: (branch id, bit of the test in the branch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Target {
    sub: u32,
    bit: u8,
}

type ByLen = Vec<(usize, FxMap<Box<[u8]>, Vec<Target>>)>;

#[derive(Debug, Clone, Default)]
struct FieldIndex {
    /// `exists: true`: any leaf.
    any: Vec<Target>,
    exact_str: FxMap<Box<str>, Vec<Target>>,
    exact_ip: FxMap<IpKey, Vec<Target>>,
    exact_num: FxMap<u64, Vec<Target>>,
    exact_true: Vec<Target>,
    exact_false: Vec<Target>,
    exact_null: Vec<Target>,
    /// Lower-cased keys.
    eq_ic: FxMap<Box<str>, Vec<Target>>,
    prefix: ByLen,
    suffix: ByLen,
    /// Everything else, evaluated one by one.
    others: Vec<(Matcher, Target)>,
}

fn add_by_len(list: &mut ByLen, key: &[u8], t: Target) {
    let pos = match list.iter().position(|(l, _)| *l == key.len()) {
        Some(p) => p,
        None => {
            list.push((key.len(), FxMap::default()));
            list.sort_by_key(|(l, _)| *l);
            list.iter().position(|(l, _)| *l == key.len()).unwrap_or(0)
        }
    };
    list[pos].1.entry(key.into()).or_default().push(t);
}

#[inline]
fn num_key(x: f64) -> u64 {
    if x == 0.0 { 0 } else { x.to_bits() }
}

impl FieldIndex {
    fn add(&mut self, m: &Matcher, t: Target) {
        match m {
            Matcher::ExactStr { value, ip } => match ip {
                Some(ip) => self.exact_ip.entry(*ip).or_default().push(t),
                None => self.exact_str.entry(value.as_str().into()).or_default().push(t),
            },
            Matcher::ExactNum(x) => self.exact_num.entry(num_key(*x)).or_default().push(t),
            Matcher::ExactBool(true) => self.exact_true.push(t),
            Matcher::ExactBool(false) => self.exact_false.push(t),
            Matcher::ExactNull => self.exact_null.push(t),
            Matcher::EqualsIgnoreCase(s) => self.eq_ic.entry(s.as_str().into()).or_default().push(t),
            Matcher::Prefix(p) => add_by_len(&mut self.prefix, p.as_bytes(), t),
            Matcher::Suffix(p) => add_by_len(&mut self.suffix, p.as_bytes(), t),
            Matcher::Exists(true) => self.any.push(t),
            // Absence is decided per field, not per value.
            Matcher::Exists(false) => {}
            other => self.others.push((other.clone(), t)),
        }
    }
}

/// An `exists: false` test of a branch.
#[derive(Debug, Clone)]
struct Absent {
    bit: u8,
    field: FieldId,
    /// The test also has value matchers: a hit satisfies it too.
    hit_ok: bool,
}

#[derive(Debug, Clone)]
struct Cond {
    field: FieldId,
    matchers: Arc<[Matcher]>,
}

#[derive(Debug, Clone)]
struct SubInfo {
    rule: u32,
    /// Tests that need a matching value.
    pos: u64,
    absent: Vec<Absent>,
    conds: Vec<Cond>,
}

/// Compiled patterns, indexed by field and value.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    trie: PathTrie,
    fields: Vec<FieldIndex>,
    subs: Vec<SubInfo>,
    /// Branches without positive tests: checked for every event.
    always: Vec<u32>,
    rules: u32,
}

/// Per-thread matching state; stamps make resets free.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    st: State,
    bufs: FlatBufs,
    pending: Vec<(u32, u64)>,
    hits: Vec<SlowHit>,
    arena: Vec<ArrayPos>,
}

#[derive(Debug, Default)]
struct State {
    epoch: u32,
    sub_epoch: Vec<u32>,
    hit: Vec<u64>,
    direct: Vec<u64>,
    touched: Vec<u32>,
    field_epoch: Vec<u32>,
    rule_epoch: Vec<u32>,
    lower: String,
}

impl State {
    fn begin(&mut self, subs: usize, fields: usize, rules: usize) {
        if self.sub_epoch.len() < subs {
            self.sub_epoch.resize(subs, 0);
            self.hit.resize(subs, 0);
            self.direct.resize(subs, 0);
        }
        if self.field_epoch.len() < fields {
            self.field_epoch.resize(fields, 0);
        }
        if self.rule_epoch.len() < rules {
            self.rule_epoch.resize(rules, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.sub_epoch.iter_mut().for_each(|e| *e = 0);
            self.field_epoch.iter_mut().for_each(|e| *e = 0);
            self.rule_epoch.iter_mut().for_each(|e| *e = 0);
            self.epoch = 1;
        }
        self.touched.clear();
    }

    #[inline]
    fn touch(&mut self, ts: &[Target], in_array: bool) {
        for t in ts {
            let s = t.sub as usize;
            if self.sub_epoch[s] != self.epoch {
                self.sub_epoch[s] = self.epoch;
                self.hit[s] = 0;
                self.direct[s] = 0;
                self.touched.push(t.sub);
            }
            let bit = 1u64 << t.bit;
            self.hit[s] |= bit;
            if !in_array {
                self.direct[s] |= bit;
            }
        }
    }
}

struct FastSink<'a> {
    idx: &'a Index,
    st: &'a mut State,
}

impl LeafSink for FastSink<'_> {
    #[inline]
    fn leaf(&mut self, field: FieldId, val: Val<'_>, chain: &[ArrayPos]) {
        self.idx.on_leaf(self.st, field, val, !chain.is_empty());
    }
}

/// A hit recorded by the second, array-aware walk.
#[derive(Debug, Clone, Copy)]
struct SlowHit {
    pending: u32,
    bit: u8,
    start: u32,
    len: u32,
}

struct SlowSink<'a> {
    idx: &'a Index,
    pending: &'a [(u32, u64)],
    hits: &'a mut Vec<SlowHit>,
    arena: &'a mut Vec<ArrayPos>,
}

impl LeafSink for SlowSink<'_> {
    fn leaf(&mut self, field: FieldId, val: Val<'_>, chain: &[ArrayPos]) {
        for (pi, &(sub, mask)) in self.pending.iter().enumerate() {
            let info = &self.idx.subs[sub as usize];
            let mut m = mask;
            while m != 0 {
                let bit = m.trailing_zeros() as u8;
                m &= m - 1;
                let cond = &info.conds[bit as usize];
                if cond.field == field && cond.matchers.iter().any(|x| x.matches(val)) {
                    self.hits.push(SlowHit {
                        pending: pi as u32,
                        bit,
                        start: self.arena.len() as u32,
                        len: chain.len() as u32,
                    });
                    self.arena.extend_from_slice(chain);
                }
            }
        }
    }
}

impl Index {
    pub(crate) fn rule_count(&self) -> usize {
        self.rules as usize
    }

    /// Register the branches of rule `rule` (ids are dense, from 0).
    pub(crate) fn add_rule(&mut self, rule: u32, branches: &[Branch]) {
        self.rules = self.rules.max(rule + 1);
        for branch in branches {
            let sub = self.subs.len() as u32;
            let mut info = SubInfo {
                rule,
                pos: 0,
                absent: Vec::new(),
                conds: Vec::with_capacity(branch.len()),
            };
            for (bit, cond) in branch.iter().enumerate() {
                let bit = bit as u8;
                let field = self.trie.insert(&cond.path);
                if self.fields.len() < self.trie.field_count() {
                    self.fields.resize_with(self.trie.field_count(), FieldIndex::default);
                }
                let has_absent = cond.matchers.iter().any(|m| *m == Matcher::Exists(false));
                let has_value = cond.matchers.iter().any(|m| *m != Matcher::Exists(false));
                if has_absent {
                    info.absent.push(Absent {
                        bit,
                        field,
                        hit_ok: has_value,
                    });
                } else {
                    info.pos |= 1u64 << bit;
                }
                let t = Target { sub, bit };
                for m in cond.matchers.iter() {
                    self.fields[field as usize].add(m, t);
                }
                info.conds.push(Cond {
                    field,
                    matchers: cond.matchers.clone(),
                });
            }
            if info.pos == 0 {
                self.always.push(sub);
            }
            self.subs.push(info);
        }
    }

    #[inline]
    fn on_leaf(&self, st: &mut State, field: FieldId, val: Val<'_>, in_array: bool) {
        st.field_epoch[field as usize] = st.epoch;
        let fi = &self.fields[field as usize];
        if !fi.any.is_empty() {
            st.touch(&fi.any, in_array);
        }
        match val {
            Val::Str(s) => {
                if !fi.exact_str.is_empty() {
                    if let Some(ts) = fi.exact_str.get(s) {
                        st.touch(ts, in_array);
                    }
                }
                if !fi.exact_ip.is_empty() {
                    if let Some(ts) = ip_value(s).and_then(|ip| fi.exact_ip.get(&ip)) {
                        st.touch(ts, in_array);
                    }
                }
                let b = s.as_bytes();
                for (len, map) in &fi.prefix {
                    if *len > b.len() {
                        break;
                    }
                    if let Some(ts) = map.get(&b[..*len]) {
                        st.touch(ts, in_array);
                    }
                }
                for (len, map) in &fi.suffix {
                    if *len > b.len() {
                        break;
                    }
                    if let Some(ts) = map.get(&b[b.len() - *len..]) {
                        st.touch(ts, in_array);
                    }
                }
                if !fi.eq_ic.is_empty() {
                    let mut lower = std::mem::take(&mut st.lower);
                    lower.clear();
                    if s.is_ascii() {
                        lower.push_str(s);
                        lower.make_ascii_lowercase();
                    } else {
                        lower.push_str(&s.to_lowercase());
                    }
                    if let Some(ts) = fi.eq_ic.get(lower.as_str()) {
                        st.touch(ts, in_array);
                    }
                    st.lower = lower;
                }
            }
            Val::Num(x) => {
                if let Some(ts) = fi.exact_num.get(&num_key(x)) {
                    st.touch(ts, in_array);
                }
            }
            Val::Bool(true) => st.touch(&fi.exact_true, in_array),
            Val::Bool(false) => st.touch(&fi.exact_false, in_array),
            Val::Null => st.touch(&fi.exact_null, in_array),
        }
        for (m, t) in &fi.others {
            if m.matches(val) {
                st.touch(std::slice::from_ref(t), in_array);
            }
        }
    }

    /// Decide a branch from its masks: `Some(arr_only)` when it matches apart
    /// from array consistency (`arr_only` = tests satisfied only inside arrays).
    #[inline]
    fn check(&self, st: &State, sub: u32) -> Option<u64> {
        let s = sub as usize;
        let info = &self.subs[s];
        let (hit, direct) = if st.sub_epoch[s] == st.epoch {
            (st.hit[s], st.direct[s])
        } else {
            (0, 0)
        };
        if hit & info.pos != info.pos {
            return None;
        }
        for a in &info.absent {
            let present = st.field_epoch[a.field as usize] == st.epoch;
            if present && !(a.hit_ok && hit & (1u64 << a.bit) != 0) {
                return None;
            }
        }
        Some(hit & !direct)
    }

    /// Match one event; the matching rule ids (sorted, unique) go to `out`.
    pub(crate) fn eval<E: Source>(&self, ev: &E, sc: &mut Scratch, out: &mut Vec<u32>) -> Result<(), EventError> {
        out.clear();
        let st = &mut sc.st;
        st.begin(self.subs.len(), self.trie.field_count(), self.rules as usize);
        ev.walk(&self.trie, &mut FastSink { idx: self, st }, &mut sc.bufs)?;

        sc.pending.clear();
        let st = &mut sc.st;
        let epoch = st.epoch;
        let candidates = st.touched.iter().copied().filter(|s| self.subs[*s as usize].pos != 0);
        for sub in candidates.chain(self.always.iter().copied()) {
            let rule = self.subs[sub as usize].rule as usize;
            if st.rule_epoch[rule] == epoch {
                continue;
            }
            if let Some(arr_only) = self.check(st, sub) {
                if arr_only.count_ones() >= 2 {
                    sc.pending.push((sub, arr_only));
                } else {
                    st.rule_epoch[rule] = epoch;
                    out.push(rule as u32);
                }
            }
        }
        if !sc.pending.is_empty() {
            self.resolve_arrays(ev, sc, out)?;
        }
        if out.len() > 1 {
            out.sort_unstable();
        }
        Ok(())
    }

    /// Second walk for branches whose tests come from inside arrays.
    fn resolve_arrays<E: Source>(&self, ev: &E, sc: &mut Scratch, out: &mut Vec<u32>) -> Result<(), EventError> {
        sc.hits.clear();
        sc.arena.clear();
        let mut sink = SlowSink {
            idx: self,
            pending: &sc.pending,
            hits: &mut sc.hits,
            arena: &mut sc.arena,
        };
        ev.walk(&self.trie, &mut sink, &mut sc.bufs)?;
        let arena = &sc.arena;
        let chain = |h: &SlowHit| &arena[h.start as usize..(h.start + h.len) as usize];
        sc.hits.sort_by(|a, b| a.pending.cmp(&b.pending).then_with(|| chain(a).cmp(chain(b))));
        let epoch = sc.st.epoch;
        let mut i = 0;
        while i < sc.hits.len() {
            let pi = sc.hits[i].pending;
            let start = i;
            while i < sc.hits.len() && sc.hits[i].pending == pi {
                i += 1;
            }
            let (sub, required) = sc.pending[pi as usize];
            let rule = self.subs[sub as usize].rule as usize;
            if sc.st.rule_epoch[rule] == epoch {
                continue;
            }
            let fam = family(&sc.hits[start..i], arena, 0, required);
            if fam.contains(&required) {
                sc.st.rule_epoch[rule] = epoch;
                out.push(rule as u32);
            }
        }
        Ok(())
    }
}

/// Keep only maximal masks (a family of satisfiable test sets is closed under
/// subsets, so its maximal members describe it).
fn insert_maximal(fam: &mut Vec<u64>, m: u64) {
    if fam.iter().any(|x| x & m == m) {
        return;
    }
    fam.retain(|x| x & m != *x);
    fam.push(m);
}

/// The sets of tests that can be satisfied together by hits that all share the
/// array positions `chain[..depth]` (hits sorted by chain). Hits directly at
/// this level combine with anything; different arrays below combine freely;
/// different elements of one array are alternatives.
fn family(hits: &[SlowHit], arena: &[ArrayPos], depth: usize, required: u64) -> Vec<u64> {
    let at = |h: &SlowHit| arena[h.start as usize + depth];
    let mut i = 0;
    let mut m0 = 0u64;
    while i < hits.len() && hits[i].len as usize == depth {
        m0 |= 1u64 << hits[i].bit;
        i += 1;
    }
    let mut fam = vec![m0 & required];
    while i < hits.len() {
        let array = at(&hits[i]).0;
        let mut alternatives: Vec<u64> = Vec::new();
        while i < hits.len() && at(&hits[i]).0 == array {
            let pos = at(&hits[i]);
            let start = i;
            while i < hits.len() && at(&hits[i]) == pos {
                i += 1;
            }
            for m in family(&hits[start..i], arena, depth + 1, required) {
                insert_maximal(&mut alternatives, m);
            }
        }
        let mut next = Vec::with_capacity(fam.len() * alternatives.len());
        for a in &fam {
            for b in &alternatives {
                insert_maximal(&mut next, (a | b) & required);
            }
        }
        fam = next;
        if fam.contains(&required) {
            return vec![required];
        }
    }
    fam
}
