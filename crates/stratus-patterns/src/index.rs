//! The compiled, indexed form of one or many patterns, and the matching engine.
//!
//! Every `$or` branch of every pattern is a conjunction of field tests. Tests
//! whose operators can be looked up are registered under their field: exact
//! strings, numbers, booleans and null, and `equals-ignore-case` in hash maps
//! keyed by value; prefixes and suffixes in maps keyed by their bytes (one map
//! per length); `numeric` ranges bounded on both sides and `cidr` blocks by
//! interval (one binary search per leaf, see [`crate::stab`]); `exists: true`
//! in a list. Equal tests of different branches (same field, same operators:
//! `"source": ["aws.ec2"]` in thirty rules) are one test, with one id. A
//! `wildcard` test also registers a *filter*: its literal whole, start or end,
//! which every matching value has. Matching runs in three steps:
//!
//! 1. The event is flattened once. Each leaf is looked up only in its own
//!    field's maps; every hit marks its tests as hit (once per test, however
//!    many branches share it). Leaves of fields that also carry non-indexed
//!    tests (half-open `numeric` ranges, `anything-but`, `wildcard`,
//!    case-insensitive prefix/suffix) are kept aside. Once the [`Gate`]
//!    field (`source`) has been read, leaves only branches of other values
//!    of it would need are not looked up.
//! 2. Each branch with indexed positive tests or filters is filed under one
//!    of them, its *anchor* (the one shared by the fewest branches), and is
//!    looked at only when its anchor was hit; its other tests' marks then
//!    give its 64-bit hit mask (a branch is not anchored by an `exists: true`
//!    test when it has an indexed value test). Non-indexed tests are
//!    evaluated only for branches whose indexed tests all hit (a branch with
//!    neither indexed tests nor filters is always evaluated).
//!    Typical rules carry an exact `source` or `detail-type`, so this step only
//!    sees the few rules that could still match.
//! 3. A branch matches when all its positive tests hit and its
//!    `exists: false` tests see no value.
//!
//! Cost follows the number of hits, not the number of rules.
//!
//! Array consistency (EventBridge refuses a match in which two tested fields
//! come from different elements of the same array) is checked only when a
//! branch has two or more tests satisfied solely from inside arrays. The
//! first walk keeps the leaves read inside arrays (of fields tested by
//! branches with two tests or more) with their array positions; the check
//! evaluates those branches' tests on them, and a small dynamic programme
//! over the array structure decides (linear in the hits, see [`family`]).
//! String leaves that are slices of the event's text are kept by position.

use std::sync::{Arc, OnceLock};

use crate::cidr::{CidrRange, IpKey, ip_value};
use crate::deferred::{Op, Ops};
use crate::error::EventError;
use crate::flatten::{ArrayPos, Below, FieldId, FlatBufs, LeafSink, PathTrie, Source};
use crate::hash::{FlatTable, FxMap, tail_word};
use crate::matcher::{Matcher, NumRange, Val};
use crate::parse::Branch;
use crate::stab::Stab;
use crate::wildcard::Necessary;

/// A test id: one per distinct (field, operator list) of the registered
/// patterns, shared by every branch that has that test.
type TestId = u32;

/// Indexed operators that every value passing `matchers` (a test's operator
/// list) meets, when there are such: the indexed operators themselves and,
/// for a `wildcard`, its literal whole, start or end. A branch can be
/// anchored by such a test although the test alone does not satisfy it.
fn necessary(matchers: &[Matcher]) -> Option<Vec<Matcher>> {
    matchers
        .iter()
        .map(|m| match m {
            // (Ranges are not indexed in a test that registered nothing.)
            Matcher::Exists(false) | Matcher::Numeric(_) | Matcher::Cidr(_) => None,
            m if is_indexed(m) => Some(m.clone()),
            Matcher::Wildcard(w) => Some(match w.necessary()? {
                Necessary::Whole(x) => Matcher::ExactStr {
                    value: x.to_string(),
                    ip: None,
                },
                Necessary::Prefix(x) => Matcher::Prefix(x.to_string()),
                Necessary::Suffix(x) => Matcher::Suffix(x.to_string()),
            }),
            _ => None,
        })
        .collect()
}

/// Add `t` to a key's list of tests (once).
fn add_test(list: &mut Vec<TestId>, t: TestId) {
    if !list.contains(&t) {
        list.push(t);
    }
}

/// Kinds of string keys in [`Index::values`], combined with the field id
/// into the table's tag.
const K_EXACT: u32 = 0;
const K_EQ_IC: u32 = 1;
const K_PREFIX: u32 = 2;
const K_SUFFIX: u32 = 3;

#[inline]
fn tag(field: FieldId, kind: u32) -> u32 {
    field * 4 + kind
}

#[derive(Debug, Clone, Default)]
struct FieldIndex {
    /// `exists: true`: any leaf.
    any: Vec<TestId>,
    /// Some exact string, in [`Index::values`].
    has_exact: bool,
    /// Some `equals-ignore-case` (lower-cased key), in [`Index::values`].
    has_eq_ic: bool,
    exact_ip: FxMap<IpKey, Vec<TestId>>,
    exact_num: FxMap<u64, Vec<TestId>>,
    exact_true: Vec<TestId>,
    exact_false: Vec<TestId>,
    exact_null: Vec<TestId>,
    /// Lengths (ascending) of the prefixes and suffixes in [`Index::values`],
    /// each with a one-hash Bloom filter of the [`probe_word`]s of its keys:
    /// a leaf looks a length up only when its word may be there.
    prefix_lens: Vec<(u32, u128)>,
    suffix_lens: Vec<(u32, u128)>,
    /// `numeric` ranges and `cidr` blocks, indexed in [`Derived::ranges`].
    nums: Vec<(TestId, NumRange)>,
    cidrs: Vec<(TestId, CidrRange)>,
    /// Some branch has a non-indexed test on this field: keep its leaves.
    deferred: bool,
}

/// `numeric` ranges (and, separately, `cidr` blocks) indexed per field.
const MAX_INTERVALS: usize = 256;

/// What a field's leaves are looked up in, one bit per part of its
/// [`FieldIndex`] that is not empty ([`Derived::kinds`]): a leaf reads one
/// word, not the ~260-byte `FieldIndex`, to skip the parts it does not need.
const F_ANY: u16 = 1;
const F_EXACT: u16 = 1 << 1;
const F_IP: u16 = 1 << 2;
const F_AFFIX: u16 = 1 << 3;
const F_EQ_IC: u16 = 1 << 4;
const F_NUM: u16 = 1 << 5;
const F_RANGE: u16 = 1 << 6;
const F_LITERAL: u16 = 1 << 7;
const F_DEFERRED: u16 = 1 << 8;

impl FieldIndex {
    fn kinds(&self) -> u16 {
        let mut k = 0;
        let mut set = |on: bool, bit: u16| {
            if on {
                k |= bit;
            }
        };
        set(!self.any.is_empty(), F_ANY);
        set(self.has_exact, F_EXACT);
        set(!self.exact_ip.is_empty() || !self.cidrs.is_empty(), F_IP);
        set(
            !self.prefix_lens.is_empty() || !self.suffix_lens.is_empty(),
            F_AFFIX,
        );
        set(self.has_eq_ic, F_EQ_IC);
        set(!self.exact_num.is_empty(), F_NUM);
        set(!self.nums.is_empty(), F_RANGE);
        set(
            !self.exact_true.is_empty()
                || !self.exact_false.is_empty()
                || !self.exact_null.is_empty(),
            F_LITERAL,
        );
        set(self.deferred, F_DEFERRED);
        k
    }
}

/// Can the matcher be answered by the per-field maps?
fn is_indexed(m: &Matcher) -> bool {
    if let Matcher::Numeric(r) = m {
        return r.lo.is_finite() && r.hi.is_finite();
    }
    matches!(
        m,
        Matcher::ExactStr { .. }
            | Matcher::ExactNum(_)
            | Matcher::ExactBool(_)
            | Matcher::ExactNull
            | Matcher::EqualsIgnoreCase(_)
            | Matcher::Prefix(_)
            | Matcher::Suffix(_)
            | Matcher::Numeric(_)
            | Matcher::Cidr(_)
            | Matcher::Exists(_)
    )
}

/// Note a key of `len` bytes whose [`probe_word`] is `word`.
fn add_len(lens: &mut Vec<(u32, u128)>, len: usize, word: u64) {
    let len = len as u32;
    let at = match lens.binary_search_by_key(&len, |e| e.0) {
        Ok(at) => at,
        Err(at) => {
            lens.insert(at, (len, 0));
            at
        }
    };
    lens[at].1 |= bloom_bit(word);
}

/// Eight bytes that tell prefixes (resp. suffixes) of one length apart
/// better than their first (resp. last) eight, which many share
/// (`arn:aws:`): a prefix's last eight bytes, a suffix's first eight, or
/// the whole key when shorter.
#[inline(always)]
fn probe_word(key: &[u8], prefix: bool) -> u64 {
    let n = key.len();
    if n < 8 {
        return tail_word(key);
    }
    let at = if prefix { n - 8 } else { 0 };
    let mut w = [0u8; 8];
    w.copy_from_slice(&key[at..at + 8]);
    u64::from_le_bytes(w)
}

#[inline(always)]
fn bloom_bit(word: u64) -> u128 {
    1u128 << (word.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 57)
}

#[inline]
fn num_key(x: f64) -> u64 {
    if x == 0.0 { 0 } else { x.to_bits() }
}

impl FieldIndex {
    /// Register operator `m` of test `t`; `indexed`: whether this field
    /// indexes it (see [`Index::indexed_here`]).
    fn add(
        &mut self,
        values: &mut ValueIds,
        field: FieldId,
        (m, indexed): (&Matcher, bool),
        t: TestId,
    ) {
        match m {
            Matcher::ExactStr { value, ip } => match ip {
                Some(ip) => add_test(self.exact_ip.entry(*ip).or_default(), t),
                None => {
                    self.has_exact = true;
                    values.add(tag(field, K_EXACT), value.as_bytes(), t);
                }
            },
            Matcher::ExactNum(x) => add_test(self.exact_num.entry(num_key(*x)).or_default(), t),
            Matcher::ExactBool(true) => add_test(&mut self.exact_true, t),
            Matcher::ExactBool(false) => add_test(&mut self.exact_false, t),
            Matcher::ExactNull => add_test(&mut self.exact_null, t),
            Matcher::EqualsIgnoreCase(s) => {
                self.has_eq_ic = true;
                values.add(tag(field, K_EQ_IC), s.as_bytes(), t);
            }
            Matcher::Prefix(p) => {
                add_len(
                    &mut self.prefix_lens,
                    p.len(),
                    probe_word(p.as_bytes(), true),
                );
                values.add(tag(field, K_PREFIX), p.as_bytes(), t);
            }
            Matcher::Suffix(p) => {
                add_len(
                    &mut self.suffix_lens,
                    p.len(),
                    probe_word(p.as_bytes(), false),
                );
                values.add(tag(field, K_SUFFIX), p.as_bytes(), t);
            }
            Matcher::Numeric(r) if indexed => self.nums.push((t, r.clone())),
            Matcher::Cidr(r) if indexed => self.cidrs.push((t, r.clone())),
            Matcher::Exists(true) => add_test(&mut self.any, t),
            // Absence is decided per field; other operators are deferred.
            _ => {}
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

/// A test with non-indexed operators, evaluated in step 2.
#[derive(Debug, Clone)]
struct Deferred {
    bit: u8,
    field: FieldId,
    /// Only the non-indexed operators of the test.
    op: Op,
    /// The branch fails when this test does not hit.
    positive: bool,
}

#[derive(Debug, Clone)]
struct SubInfo {
    rule: u32,
    /// Tests that need a matching value.
    pos: u64,
    /// Positive tests answered entirely by the maps: all must hit before the
    /// branch's deferred tests are evaluated.
    gate: u64,
    absent: Vec<Absent>,
    conds: Vec<Cond>,
    /// Registered tests that only filter: every value satisfying one of
    /// the branch's non-indexed tests hits one of them (see [`necessary`]).
    filters: Vec<TestId>,
}

const HAS_DEFERRED: u8 = 1;
const HAS_ABSENT: u8 = 2;

#[derive(Debug, Clone, Copy, Default)]
struct SubHot {
    pos: u64,
    gate: u64,
    rule: u32,
    /// The branch's deferred tests: `Index::deferred[dstart..dstart + dlen]`.
    dstart: u32,
    /// The branch's registered tests: `Index::btests[tstart..tstart + tlen]`.
    tstart: u32,
    dlen: u8,
    tlen: u8,
    flags: u8,
}

/// A registered test of a branch: its id and the branch's bit for it.
#[derive(Debug, Clone, Copy)]
struct BTest {
    tid: TestId,
    mask: u64,
}

/// For each test, the branches it anchors (`subs[start[t]..start[t + 1]]`):
/// a branch is looked at only when its anchor test hit. The anchor is the
/// branch's indexed positive test shared by the fewest branches (a rough
/// guess at the rarest), so an event hitting a popular test (`source`, say)
/// looks only at the branches with no less shared indexed test.
#[derive(Debug, Clone, Default)]
struct Anchors {
    start: Vec<u32>,
    /// Per entry of `subs`, another indexed positive test of its branch
    /// (the least shared), or [`always`] when it has none. Most entries
    /// fail on it, so it is checked first, alone, and kept apart: an entry
    /// of `subs` is ten times its size.
    others: Vec<TestId>,
    subs: Vec<Anchored>,
    /// The registered tests of the branches in `subs`, in the same order
    /// (so one anchor's scan reads contiguous memory).
    btests: Vec<BTest>,
}

/// A test id that every event hits (see [`State::begin`]).
fn always(ntests: usize) -> TestId {
    ntests as TestId
}

/// A branch under its anchor test, with what its gate check reads (so the
/// check needs no other table).
#[derive(Debug, Clone, Copy)]
struct Anchored {
    /// The branch's [`SubHot`], here so that deciding a candidate reads no
    /// other table (its `tstart` is into `Anchors::btests`).
    hot: SubHot,
    sub: u32,
}

/// A field's `numeric` and `cidr` tests by interval (see [`crate::stab`]).
#[derive(Debug, Clone, Default)]
struct FieldRanges {
    num: Stab<f64>,
    v4: Stab<u32>,
    v6: Stab<u128>,
}

impl FieldRanges {
    fn build(fi: &FieldIndex) -> Self {
        let finite = |x: f64| x.is_finite().then_some(x);
        let nums: Vec<(TestId, [Option<f64>; 2])> = fi
            .nums
            .iter()
            .map(|(t, r)| (*t, [finite(r.lo), finite(r.hi)]))
            .collect();
        let num = Stab::build(&nums, |i, x| fi.nums[i].1.contains(x));
        let (mut v4, mut r4) = (Vec::new(), Vec::new());
        let (mut v6, mut r6) = (Vec::new(), Vec::new());
        for (t, r) in &fi.cidrs {
            match r.bounds() {
                (IpKey::V4(lo), IpKey::V4(hi)) => {
                    v4.push((
                        *t,
                        [Some(u32::from_be_bytes(lo)), Some(u32::from_be_bytes(hi))],
                    ));
                    r4.push(r);
                }
                (IpKey::V6(lo), IpKey::V6(hi)) => {
                    v6.push((
                        *t,
                        [Some(u128::from_be_bytes(lo)), Some(u128::from_be_bytes(hi))],
                    ));
                    r6.push(r);
                }
                _ => {}
            }
        }
        Self {
            num,
            v4: Stab::build(&v4, |i, x| r4[i].contains(&IpKey::V4(x.to_be_bytes()))),
            v6: Stab::build(&v6, |i, x| r6[i].contains(&IpKey::V6(x.to_be_bytes()))),
        }
    }

    /// The `cidr` tests containing `ip`.
    #[inline]
    fn ip_hits(&self, ip: IpKey) -> &[TestId] {
        match ip {
            IpKey::V4(b) => self.v4.hits(u32::from_be_bytes(b)),
            IpKey::V6(b) => self.v6.hits(u128::from_be_bytes(b)),
        }
    }
}

/// What is computed from all the registered branches at the first
/// evaluation after a change.
#[derive(Debug, Clone, Default)]
struct Derived {
    anchors: Anchors,
    /// By field.
    ranges: Vec<FieldRanges>,
    gate: Option<Gate>,
    /// Fields (a bitset) whose leaves inside arrays are kept for the
    /// array-consistency check: those of branches with two tests or more.
    track: Vec<u64>,
    /// Per field: [`FieldIndex::kinds`].
    kinds: Vec<u16>,
}

/// The exact, `equals-ignore-case`, prefix and suffix keys of every field
/// with their tests: each key's tests are a range of `ids`, so a slot is 32
/// bytes with no pointer to follow, and the ids of all keys share a few
/// cache lines.
#[derive(Debug, Clone, Default)]
struct ValueIds {
    table: FlatTable<(u32, u32)>,
    ids: Vec<TestId>,
}

impl ValueIds {
    /// Add test `t` to key (`tag`, `key`). A key's range moves to the end
    /// when it grows (patterns are added far less often than matched).
    fn add(&mut self, tag: u32, key: &[u8], t: TestId) {
        let r = self.table.entry(tag, key);
        let (start, len) = (r.0 as usize, r.1 as usize);
        if self.ids[start..start + len].contains(&t) {
            return;
        }
        let at = self.ids.len();
        self.ids.extend_from_within(start..start + len);
        self.ids.push(t);
        *r = (at as u32, len as u32 + 1);
    }

    #[inline(always)]
    fn ids(&self, &(start, len): &(u32, u32)) -> &[TestId] {
        &self.ids[start as usize..(start + len) as usize]
    }

    #[inline(always)]
    fn get(&self, tag: u32, key: &[u8]) -> Option<&[TestId]> {
        self.table.get(tag, key).map(|r| self.ids(r))
    }

    #[inline]
    fn get_ascii_lower(&self, tag: u32, key: &[u8]) -> Option<&[TestId]> {
        self.table.get_ascii_lower(tag, key).map(|r| self.ids(r))
    }
}

/// The field most branches have an indexed positive test on (`source`, in
/// EventBridge rule sets), used to skip the leaves no other branch needs:
/// once the event's value for it has been read (EventBridge envelopes put
/// `source` before `detail`), a leaf is looked up only if some branch
/// testing its field either has no test on the gate field or has one that
/// this value hit. A branch whose gate test missed cannot match, whatever
/// its other tests say.
#[derive(Debug, Clone)]
struct Gate {
    field: FieldId,
    /// Bitset words per field set.
    words: usize,
    /// Fields looked up whatever the gate's value.
    always: Vec<u64>,
    /// Per test: its field set in `masks` (`NIL`: not a gate test).
    of_test: Vec<u32>,
    masks: Vec<u64>,
}

impl Gate {
    /// After the gate's leaf: the fields to look up from now on.
    #[inline(never)]
    fn open(&self, st: &mut State) {
        // Word by word: `extend_from_slice` calls `memcpy` for the one or
        // two words there usually are.
        st.relevant.clear();
        for &w in &self.always {
            st.relevant.push(w);
        }
        for &t in &st.marked[st.gate_from..] {
            let k = self.of_test[t as usize];
            if k != NIL {
                let m = &self.masks[k as usize * self.words..(k as usize + 1) * self.words];
                st.relevant.iter_mut().zip(m).for_each(|(r, m)| *r |= m);
            }
        }
        st.gate_state = GATE_OPEN;
    }
}

/// Compiled patterns, indexed by field and value.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    trie: PathTrie,
    fields: Vec<FieldIndex>,
    values: ValueIds,
    /// Test ids by (field, operators), and how many branches use each.
    test_ids: FxMap<String, TestId>,
    test_uses: Vec<u32>,
    /// Per test: it is `exists: true` alone (hit by any leaf of its field,
    /// so a poor anchor: see [`Index::compute_anchors`]).
    test_any: Vec<bool>,
    /// Registered tests of all branches (see [`SubHot::tstart`]).
    btests: Vec<BTest>,
    /// Computed at the first evaluation after a change.
    derived: OnceLock<Derived>,
    subs: Vec<SubInfo>,
    /// Per-branch data read for every candidate branch (kept small and dense).
    hot: Vec<SubHot>,
    /// Deferred tests of all branches, and their operators, stored
    /// contiguously so step 2 reads few cache lines.
    deferred: Vec<Deferred>,
    dops: Ops,
    /// Branches looked at for every event: those without positive tests, and
    /// those with deferred tests but no indexed positive test.
    extra: Vec<u32>,
    rules: u32,
}

/// Per-thread matching state; stamps make resets free.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    st: State,
    bufs: FlatBufs,
    pending: Vec<(u32, u64)>,
    hits: Vec<SlowHit>,
}

#[derive(Debug, Default)]
struct State {
    epoch: u32,
    /// Per test: (stamp, hit from outside any array); hit when the stamp
    /// equals `epoch`.
    tests: Vec<(u32, bool)>,
    /// Tests hit during this event (each once).
    marked: Vec<TestId>,
    /// Branches to decide: (branch, its [`SubHot`], hit mask, direct mask).
    cands: Vec<(u32, SubHot, u64, u64)>,
    field_epoch: Vec<u32>,
    rule_epoch: Vec<u32>,
    /// Leaves kept for step 2, chained per field from `dhead`.
    dleaves: Vec<DLeaf>,
    dstr: String,
    /// The event's text (see [`SrcText`]).
    src: SrcText,
    /// Per field: (epoch, first kept leaf); stale when the epoch is old.
    dhead: Vec<(u32, u32)>,
    /// Leaves read inside arrays, of fields whose tests may need the
    /// array-consistency check, with their array positions (`achain`): the
    /// check replays them instead of reading the event again.
    aleaves: Vec<ALeaf>,
    achain: Vec<ArrayPos>,
    /// See [`Gate`]: where this event is (`GATE_*`), the fields to look up
    /// once the gate's leaf was read (a bitset), and where the tests its
    /// leaf marked start in `marked`.
    gate_state: u8,
    relevant: Vec<u64>,
    gate_from: usize,
    /// A second gate leaf came after fields were skipped: evaluate again
    /// without the gate.
    gate_conflict: bool,
}

/// The gate field was not read yet (every leaf is looked up).
const GATE_UNSEEN: u8 = 0;
/// Read: leaves of fields outside `State::relevant` are skipped.
const GATE_OPEN: u8 = 1;
/// Not used for this event (read inside an array, or twice).
const GATE_OFF: u8 = 2;

const NIL: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
enum DVal {
    /// At (start, length) in the event's text.
    Event(u32, u32),
    /// At (start, length) in `State::dstr`.
    Str(u32, u32),
    Num(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone)]
struct DLeaf {
    next: u32,
    val: DVal,
    in_array: bool,
}

/// A leaf read inside arrays (see [`State::aleaves`]).
#[derive(Debug, Clone)]
struct ALeaf {
    field: FieldId,
    val: DVal,
    /// Its array positions: `State::achain[cstart..cstart + clen]`.
    cstart: u32,
    clen: u32,
}

/// Where the strings of kept leaves are: the event's text (`SrcText`),
/// or the copies of those that are not slices of it (`State::dstr`).
#[derive(Clone, Copy)]
struct Texts<'a> {
    event: &'a str,
    copies: &'a str,
}

impl DVal {
    /// `val` kept: a string that is a slice of the event's text (`src`:
    /// its address and length) by position, any other appended to `copies`.
    #[inline(always)]
    fn store(val: Val<'_>, copies: &mut String, src: SrcText) -> Self {
        match val {
            Val::Str(s) => {
                let at = (s.as_ptr() as usize).wrapping_sub(src.0);
                if at <= src.1 && s.len() <= src.1 - at {
                    DVal::Event(at as u32, s.len() as u32)
                } else {
                    let start = copies.len() as u32;
                    copies.push_str(s);
                    DVal::Str(start, s.len() as u32)
                }
            }
            Val::Num(x) => DVal::Num(x),
            Val::Bool(b) => DVal::Bool(b),
            Val::Null => DVal::Null,
        }
    }

    #[inline(always)]
    fn load(self, t: Texts<'_>) -> Val<'_> {
        match self {
            DVal::Event(a, n) => Val::Str(&t.event[a as usize..(a + n) as usize]),
            DVal::Str(a, n) => Val::Str(&t.copies[a as usize..(a + n) as usize]),
            DVal::Num(x) => Val::Num(x),
            DVal::Bool(b) => Val::Bool(b),
            DVal::Null => Val::Null,
        }
    }
}

/// The address and length of the event's JSON text (empty for a parsed
/// event): kept string leaves inside it are stored by position, not copied.
type SrcText = (usize, usize);

impl State {
    fn begin(&mut self, tests: usize, fields: usize, rules: usize, text: &str) {
        self.src = (text.as_ptr() as usize, text.len());
        // One more: [`always`].
        if self.tests.len() <= tests {
            self.tests.resize(tests + 1, (0, false));
        }
        if self.field_epoch.len() < fields {
            self.field_epoch.resize(fields, 0);
            self.dhead.resize(fields, (0, NIL));
        }
        if self.rule_epoch.len() < rules {
            self.rule_epoch.resize(rules, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.tests.iter_mut().for_each(|e| e.0 = 0);
            self.field_epoch.iter_mut().for_each(|e| *e = 0);
            self.dhead.iter_mut().for_each(|e| e.0 = 0);
            self.rule_epoch.iter_mut().for_each(|e| *e = 0);
            self.epoch = 1;
        }
        if let Some(e) = self.tests.get_mut(always(tests) as usize) {
            *e = (self.epoch, true);
        }
        self.marked.clear();
        self.dleaves.clear();
        self.dstr.clear();
        self.aleaves.clear();
        self.achain.clear();
        self.gate_state = GATE_UNSEEN;
        self.gate_conflict = false;
    }

    fn keep_leaf(&mut self, field: FieldId, val: Val<'_>, in_array: bool) {
        let f = field as usize;
        let (e, head) = self.dhead[f];
        let next = if e == self.epoch { head } else { NIL };
        let val = DVal::store(val, &mut self.dstr, self.src);
        self.dhead[f] = (self.epoch, self.dleaves.len() as u32);
        self.dleaves.push(DLeaf {
            next,
            val,
            in_array,
        });
    }

    #[inline]
    fn keep_array_leaf(&mut self, field: FieldId, val: Val<'_>, chain: &[ArrayPos]) {
        let val = DVal::store(val, &mut self.dstr, self.src);
        self.aleaves.push(ALeaf {
            field,
            val,
            cstart: self.achain.len() as u32,
            clen: chain.len() as u32,
        });
        // Element by element: a chain is one or two positions, and
        // `extend_from_slice` copies with a call to `memcpy`.
        for &p in chain {
            self.achain.push(p);
        }
    }

    /// Record hits of the tests `ts` by one leaf.
    #[inline]
    fn mark(&mut self, ts: &[TestId], in_array: bool) {
        let epoch = self.epoch;
        for &t in ts {
            let e = &mut self.tests[t as usize];
            if e.0 == epoch {
                e.1 |= !in_array;
            } else {
                *e = (epoch, !in_array);
                self.marked.push(t);
            }
        }
    }
}

/// The leaves kept for step 2, read while the branches are decided.
struct Kept<'a> {
    leaves: &'a [DLeaf],
    text: Texts<'a>,
    heads: &'a [(u32, u32)],
    epoch: u32,
}

impl Kept<'_> {
    /// The first kept leaf of `field` (chained through `next`), or `NIL`.
    #[inline]
    fn head(&self, field: FieldId) -> u32 {
        let (e, head) = self.heads[field as usize];
        if e == self.epoch { head } else { NIL }
    }

    #[inline]
    fn val(&self, leaf: &DLeaf) -> Val<'_> {
        leaf.val.load(self.text)
    }
}

/// Where step 3 records its verdicts.
struct Verdict<'a> {
    /// Fields present in the event (stamped with `epoch`).
    seen: &'a [u32],
    rule_epoch: &'a mut [u32],
    epoch: u32,
    pending: &'a mut Vec<(u32, u64)>,
    out: &'a mut Vec<u32>,
}

struct FastSink<'a> {
    idx: &'a Index,
    ranges: &'a [FieldRanges],
    gate: Option<&'a Gate>,
    /// [`Derived::track`].
    track: &'a [u64],
    /// [`Derived::kinds`].
    kinds: &'a [u16],
    st: &'a mut State,
}

impl LeafSink for FastSink<'_> {
    #[inline(never)]
    fn leaf(&mut self, field: FieldId, val: Val<'_>, chain: &[ArrayPos]) {
        let st = &mut *self.st;
        let mut opens = None;
        if let Some(g) = self.gate {
            if field == g.field {
                if chain.is_empty() && st.gate_state == GATE_UNSEEN {
                    st.gate_from = st.marked.len();
                    opens = Some(g);
                } else {
                    st.gate_conflict |= st.gate_state == GATE_OPEN;
                    st.gate_state = GATE_OFF;
                }
            } else if st.gate_state == GATE_OPEN
                && st.relevant[field as usize / 64] >> (field % 64) & 1 == 0
            {
                // Only branches whose gate test missed test this field (so
                // none of them is decided, not even on its `exists: false`).
                return;
            }
        }
        self.idx.on_leaf(
            self.ranges,
            self.kinds[field as usize],
            st,
            field,
            val,
            !chain.is_empty(),
        );
        if !chain.is_empty() && self.track[field as usize / 64] >> (field % 64) & 1 != 0 {
            st.keep_array_leaf(field, val, chain);
        }
        if let Some(g) = opens {
            g.open(st);
        }
    }

    /// Once the gate is open, a member none of whose fields is relevant is
    /// skipped: its leaves would all be dropped by [`FastSink::leaf`]
    /// (skipping an object or array saves reading it, skipping a scalar
    /// saves the call).
    #[inline]
    fn wants(&self, below: Below) -> bool {
        self.st.gate_state != GATE_OPEN
            || below.high
            || self.st.relevant.first().is_some_and(|r| r & below.low != 0)
    }
}

/// A hit recorded by the array-consistency check.
#[derive(Debug, Clone, Copy)]
struct SlowHit {
    /// Index in `Scratch::pending`, and the branch's bit of the test hit.
    pending: u32,
    bit: u8,
    /// The leaf's array positions: `State::achain[start..start + len]`.
    start: u32,
    len: u32,
}

impl Index {
    /// Register the branches of rule `rule` (ids are dense, from 0).
    pub(crate) fn add_rule(&mut self, rule: u32, branches: &[Branch]) {
        self.rules = self.rules.max(rule + 1);
        // The anchors depend on every branch: recomputed at the next evaluation.
        self.derived.take();
        for branch in branches {
            let sub = self.subs.len() as u32;
            let mut info = SubInfo {
                rule,
                pos: 0,
                gate: 0,
                absent: Vec::new(),
                conds: Vec::with_capacity(branch.len()),
                filters: Vec::new(),
            };
            let dstart = self.deferred.len();
            let tstart = self.btests.len();
            for (bit, cond) in branch.iter().enumerate() {
                let bit = bit as u8;
                let field = self.trie.insert(&cond.path);
                if self.fields.len() < self.trie.field_count() {
                    self.fields
                        .resize_with(self.trie.field_count(), FieldIndex::default);
                }
                let has_absent = cond.matchers.contains(&Matcher::Exists(false));
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
                // Operators the maps answer are registered; the others are
                // evaluated in step 2, only for branches whose indexed
                // positive tests all hit.
                let ix: Vec<bool> = cond
                    .matchers
                    .iter()
                    .map(|m| self.indexed_here(field, m))
                    .collect();
                let registered = cond
                    .matchers
                    .iter()
                    .zip(&ix)
                    .any(|(m, &i)| i && *m != Matcher::Exists(false));
                if registered {
                    let tid = self.test_id(field, &cond.matchers, &ix);
                    self.test_uses[tid as usize] += 1;
                    self.btests.push(BTest {
                        tid,
                        mask: 1u64 << bit,
                    });
                }
                let slow: Vec<Matcher> = cond
                    .matchers
                    .iter()
                    .zip(&ix)
                    .filter(|(_, i)| !**i)
                    .map(|(m, _)| m.clone())
                    .collect();
                if slow.is_empty() {
                    if !has_absent {
                        info.gate |= 1u64 << bit;
                    }
                } else {
                    if !has_absent
                        && !registered
                        && let Some(ms) = necessary(&cond.matchers)
                    {
                        let tid = self.test_id(field, &ms, &vec![true; ms.len()]);
                        self.test_uses[tid as usize] += 1;
                        info.filters.push(tid);
                    }
                    let fi = &mut self.fields[field as usize];
                    fi.deferred = true;
                    self.deferred.push(Deferred {
                        bit,
                        field,
                        op: self.dops.compile(&slow),
                        positive: !has_absent,
                    });
                }
                info.conds.push(Cond {
                    field,
                    matchers: cond.matchers.clone(),
                });
            }
            let dlen = self.deferred.len() - dstart;
            if info.pos == 0 || (info.gate == 0 && info.filters.is_empty() && dlen != 0) {
                self.extra.push(sub);
            }
            let mut flags = 0;
            if dlen != 0 {
                flags |= HAS_DEFERRED;
            }
            if !info.absent.is_empty() {
                flags |= HAS_ABSENT;
            }
            self.hot.push(SubHot {
                pos: info.pos,
                gate: info.gate,
                rule,
                dstart: dstart as u32,
                tstart: tstart as u32,
                dlen: dlen as u8,
                tlen: (self.btests.len() - tstart) as u8,
                flags,
            });
            self.subs.push(info);
        }
    }

    /// The id of the test (`field`, `matchers`), registered in the value
    /// maps when it is new. Branches with the same test share it, so a leaf
    /// that hits it records one hit, whatever the number of branches.
    fn test_id(&mut self, field: FieldId, matchers: &[Matcher], indexed: &[bool]) -> TestId {
        // The operators' debug text identifies them (values included).
        let key = format!("{field}:{matchers:?}");
        if let Some(&t) = self.test_ids.get(&key) {
            return t;
        }
        let t = self.test_uses.len() as TestId;
        self.test_ids.insert(key, t);
        self.test_uses.push(0);
        self.test_any
            .push(matchers.iter().all(|m| *m == Matcher::Exists(true)));
        for m in matchers.iter().zip(indexed.iter().copied()) {
            self.fields[field as usize].add(&mut self.values, field, m, t);
        }
        t
    }

    /// Is operator `m` of a test on `field` indexed? Intervals only up to
    /// [`MAX_INTERVALS`] per field: nested intervals make the segment table
    /// grow with the square of their number (the rest are evaluated in step 2).
    fn indexed_here(&self, field: FieldId, m: &Matcher) -> bool {
        let fi = &self.fields[field as usize];
        is_indexed(m)
            && match m {
                Matcher::Numeric(_) => fi.nums.len() < MAX_INTERVALS,
                Matcher::Cidr(_) => fi.cidrs.len() < MAX_INTERVALS,
                _ => true,
            }
    }

    /// The tables computed from all the registered branches.
    fn derived(&self) -> &Derived {
        self.derived.get_or_init(|| Derived {
            anchors: self.compute_anchors(),
            ranges: self.fields.iter().map(FieldRanges::build).collect(),
            gate: self.compute_gate(),
            track: self.compute_track(),
            kinds: self.fields.iter().map(FieldIndex::kinds).collect(),
        })
    }

    /// [`Derived::track`] of the current branches.
    fn compute_track(&self) -> Vec<u64> {
        let mut track = vec![0u64; self.fields.len().div_ceil(64)];
        for info in self.subs.iter().filter(|i| i.conds.len() >= 2) {
            for c in &info.conds {
                track[c.field as usize / 64] |= 1u64 << (c.field % 64);
            }
        }
        track
    }

    /// The [`Gate`] of the current branches, if one is worth having.
    fn compute_gate(&self) -> Option<Gate> {
        // Per branch: its indexed positive tests, with their fields.
        let gate_tests = |sub: usize| {
            let (h, info) = (&self.hot[sub], &self.subs[sub]);
            self.branch_tests(h)
                .iter()
                .filter(move |b| b.mask & h.gate != 0)
                .map(move |b| (b.tid, info.conds[b.mask.trailing_zeros() as usize].field))
        };
        let nfields = self.fields.len();
        let mut count = vec![0u32; nfields];
        for sub in 0..self.hot.len() {
            let mut fields: Vec<FieldId> = gate_tests(sub).map(|(_, f)| f).collect();
            fields.dedup();
            for f in fields {
                count[f as usize] += 1;
            }
        }
        let (field, &n) = count.iter().enumerate().max_by_key(|&(_, n)| *n)?;
        if n < 2 {
            return None;
        }
        let field = field as FieldId;
        let words = nfields.div_ceil(64);
        let bit = |f: FieldId| (f as usize / 64, 1u64 << (f % 64));
        let mut always = vec![0u64; words];
        let (w, b) = bit(field);
        always[w] |= b;
        let mut of_test = vec![NIL; self.test_uses.len()];
        let mut masks: Vec<u64> = Vec::new();
        for sub in 0..self.hot.len() {
            let key = gate_tests(sub).find(|&(_, f)| f == field).map(|(t, _)| t);
            let set = match key {
                None => &mut always[..],
                Some(t) => {
                    if of_test[t as usize] == NIL {
                        of_test[t as usize] = (masks.len() / words) as u32;
                        masks.resize(masks.len() + words, 0);
                    }
                    let k = of_test[t as usize] as usize;
                    &mut masks[k * words..(k + 1) * words]
                }
            };
            for c in &self.subs[sub].conds {
                let (w, b) = bit(c.field);
                set[w] |= b;
            }
        }
        Some(Gate {
            field,
            words,
            always,
            of_test,
            masks,
        })
    }

    /// The anchors of the current branches (see [`Anchors`]).
    fn compute_anchors(&self) -> Anchors {
        {
            let ntests = self.test_uses.len();
            let mut start = vec![0u32; ntests + 1];
            // Per branch: (anchor, other), the two least shared of its gate
            // tests and filters.
            let anchor: Vec<Option<(TestId, TestId)>> = self
                .hot
                .iter()
                .zip(&self.subs)
                .map(|(h, info)| {
                    let mut gates: Vec<TestId> = self
                        .branch_tests(h)
                        .iter()
                        .filter(|b| b.mask & h.gate != 0)
                        .map(|b| b.tid)
                        .chain(info.filters.iter().copied())
                        .collect();
                    // `exists: true` alone is hit by every event that has
                    // the field, whatever its value: a value test first.
                    gates.sort_by_key(|&t| {
                        (self.test_any[t as usize], self.test_uses[t as usize], t)
                    });
                    let t = *gates.first()?;
                    start[t as usize + 1] += 1;
                    Some((t, gates.get(1).copied().unwrap_or(NIL)))
                })
                .collect();
            for t in 0..ntests {
                start[t + 1] += start[t];
            }
            let mut next = start.clone();
            let empty = Anchored {
                hot: SubHot::default(),
                sub: 0,
            };
            let mut subs = vec![empty; start[ntests] as usize];
            let mut others = vec![always(ntests); start[ntests] as usize];
            for (sub, a) in anchor.iter().enumerate() {
                if let Some((t, other)) = *a {
                    if other != NIL {
                        others[next[t as usize] as usize] = other;
                    }
                    subs[next[t as usize] as usize] = Anchored {
                        hot: self.hot[sub],
                        sub: sub as u32,
                    };
                    next[t as usize] += 1;
                }
            }
            // The anchored branches' tests in the order the scan reads them.
            let mut btests = Vec::with_capacity(self.btests.len());
            for e in &mut subs {
                let (a, n) = (e.hot.tstart as usize, usize::from(e.hot.tlen));
                e.hot.tstart = btests.len() as u32;
                btests.extend_from_slice(&self.btests[a..a + n]);
            }
            Anchors {
                start,
                others,
                subs,
                btests,
            }
        }
    }

    #[inline]
    fn branch_tests(&self, h: &SubHot) -> &[BTest] {
        &self.btests[h.tstart as usize..h.tstart as usize + h.tlen as usize]
    }

    /// A branch's hit masks (tests hit; tests hit from outside arrays) from
    /// the tests hit by this event; `bt` are the branch's registered tests.
    #[inline(always)]
    fn masks(tests: &[(u32, bool)], epoch: u32, bt: &[BTest]) -> (u64, u64) {
        let (mut hit, mut direct) = (0, 0);
        for b in bt {
            let (e, d) = tests[b.tid as usize];
            let m = b.mask & u64::from(e == epoch).wrapping_neg();
            hit |= m;
            direct |= m & u64::from(d).wrapping_neg();
        }
        (hit, direct)
    }

    #[inline]
    fn on_leaf(
        &self,
        ranges: &[FieldRanges],
        kinds: u16,
        st: &mut State,
        field: FieldId,
        val: Val<'_>,
        in_array: bool,
    ) {
        st.field_epoch[field as usize] = st.epoch;
        let fi = &self.fields[field as usize];
        if kinds & F_ANY != 0 {
            st.mark(&fi.any, in_array);
        }
        match val {
            Val::Str(s) => {
                if kinds & F_EXACT != 0
                    && let Some(ts) = self.values.get(tag(field, K_EXACT), s.as_bytes())
                {
                    st.mark(ts, in_array);
                }
                if kinds & F_IP != 0
                    && let Some(ip) = ip_value(s)
                {
                    Self::on_ip(&ranges[field as usize], fi, st, ip, in_array);
                }
                let b = s.as_bytes();
                if kinds & F_AFFIX != 0 {
                    for &(len, bloom) in &fi.prefix_lens {
                        let len = len as usize;
                        if len > b.len() {
                            break;
                        }
                        if bloom & bloom_bit(probe_word(&b[..len], true)) == 0 {
                            continue;
                        }
                        if let Some(ts) = self.values.get(tag(field, K_PREFIX), &b[..len]) {
                            st.mark(ts, in_array);
                        }
                    }
                    for &(len, bloom) in &fi.suffix_lens {
                        let len = len as usize;
                        if len > b.len() {
                            break;
                        }
                        let tail = &b[b.len() - len..];
                        if bloom & bloom_bit(probe_word(tail, false)) == 0 {
                            continue;
                        }
                        if let Some(ts) = self.values.get(tag(field, K_SUFFIX), tail) {
                            st.mark(ts, in_array);
                        }
                    }
                }
                if kinds & F_EQ_IC != 0 {
                    // ASCII values (the usual case) are hashed and compared
                    // case-insensitively in place; others are lower-cased first.
                    let t = tag(field, K_EQ_IC);
                    let found = if s.is_ascii() {
                        self.values.get_ascii_lower(t, s.as_bytes())
                    } else {
                        self.values.get(t, s.to_lowercase().as_bytes())
                    };
                    if let Some(ts) = found {
                        st.mark(ts, in_array);
                    }
                }
            }
            Val::Num(x) => {
                if kinds & F_NUM != 0
                    && let Some(ts) = fi.exact_num.get(&num_key(x))
                {
                    st.mark(ts, in_array);
                }
                if kinds & F_RANGE != 0 {
                    st.mark(ranges[field as usize].num.hits(x), in_array);
                }
            }
            Val::Bool(true) if kinds & F_LITERAL != 0 => st.mark(&fi.exact_true, in_array),
            Val::Bool(false) if kinds & F_LITERAL != 0 => st.mark(&fi.exact_false, in_array),
            Val::Null if kinds & F_LITERAL != 0 => st.mark(&fi.exact_null, in_array),
            Val::Bool(_) | Val::Null => {}
        }
        if kinds & F_DEFERRED != 0 {
            st.keep_leaf(field, val, in_array);
        }
    }

    /// The exact-address and `cidr` tests hit by an IP address leaf.
    #[inline(never)]
    fn on_ip(r: &FieldRanges, fi: &FieldIndex, st: &mut State, ip: IpKey, in_array: bool) {
        if !fi.exact_ip.is_empty()
            && let Some(ts) = fi.exact_ip.get(&ip)
        {
            st.mark(ts, in_array);
        }
        st.mark(r.ip_hits(ip), in_array);
    }

    /// Step 2 for one branch: evaluate its deferred tests on the kept leaves,
    /// adding their hits to the branch's masks (`hit`, `direct`). Returns
    /// false as soon as a positive deferred test fails.
    #[inline(always)]
    fn eval_deferred(&self, kept: &Kept<'_>, h: &SubHot, hit: &mut u64, direct: &mut u64) -> bool {
        let (a, n) = (h.dstart as usize, h.dlen as usize);
        for d in &self.deferred[a..a + n] {
            let bit = 1u64 << d.bit;
            // Also when the test's indexed operators hit only inside arrays:
            // a value outside arrays (a duplicate key) that only these
            // operators accept makes the test hit outside arrays, which the
            // array-consistency check relies on.
            if *direct & bit == 0 {
                let mut i = kept.head(d.field);
                while i != NIL {
                    let leaf = &kept.leaves[i as usize];
                    let found = self.dops.accepts(&d.op, kept.val(leaf));
                    i = leaf.next;
                    if found {
                        *hit |= bit;
                        if !leaf.in_array {
                            *direct |= bit;
                            break;
                        }
                    }
                }
            }
            if d.positive && *hit & bit == 0 {
                return false;
            }
        }
        true
    }

    /// Steps 2 and 3 for every branch that may match: those anchored by a
    /// test this event hit whose indexed positive tests all hit, and the
    /// `extra` ones.
    fn decide(
        &self,
        anchors: &Anchors,
        st: &mut State,
        event: &str,
        pending: &mut Vec<(u32, u64)>,
        out: &mut Vec<u32>,
    ) {
        let epoch = st.epoch;
        let tests = &st.tests[..];
        st.cands.clear();
        // Each hit test once; each branch under its one anchor test, so
        // looked at once at most. Most fail here: another indexed test
        // did not hit.
        for &t in &st.marked {
            let t = t as usize;
            let (a, b) = (anchors.start[t] as usize, anchors.start[t + 1] as usize);
            for (e, &other) in anchors.subs[a..b].iter().zip(&anchors.others[a..b]) {
                if tests[other as usize].0 != epoch {
                    continue;
                }
                let h = &e.hot;
                let bt =
                    &anchors.btests[h.tstart as usize..h.tstart as usize + usize::from(h.tlen)];
                let (hit, direct) = Self::masks(tests, epoch, bt);
                if hit & h.gate == h.gate {
                    st.cands.push((e.sub, *h, hit, direct));
                }
            }
        }
        // Branches without an indexed positive test (never anchored).
        for &sub in &self.extra {
            let bt = self.branch_tests(&self.hot[sub as usize]);
            let (hit, direct) = Self::masks(tests, epoch, bt);
            st.cands.push((sub, self.hot[sub as usize], hit, direct));
        }
        self.decide_candidates(st, event, pending, out);
    }

    /// Steps 2 and 3 for the candidates of [`Index::decide`]. One call per
    /// event, so the tables are looked up once, not once per branch.
    #[inline(never)]
    fn decide_candidates(
        &self,
        st: &mut State,
        event: &str,
        pending: &mut Vec<(u32, u64)>,
        out: &mut Vec<u32>,
    ) {
        let epoch = st.epoch;
        let kept = Kept {
            leaves: &st.dleaves,
            text: Texts {
                event,
                copies: &st.dstr,
            },
            heads: &st.dhead,
            epoch,
        };
        let mut v = Verdict {
            seen: &st.field_epoch,
            rule_epoch: &mut st.rule_epoch,
            epoch,
            pending,
            out,
        };
        for &(sub, ref h, hit, direct) in &st.cands {
            self.finish(&kept, &mut v, sub, h, hit, direct);
        }
    }

    /// Steps 2 and 3 for one branch whose masks are (`hit`, `direct`):
    /// deferred tests, then the verdict.
    #[inline(always)]
    fn finish(
        &self,
        kept: &Kept<'_>,
        v: &mut Verdict<'_>,
        sub: u32,
        h: &SubHot,
        mut hit: u64,
        mut direct: u64,
    ) {
        // The candidates' indexed positive tests all hit (checked in
        // `decide`; the `extra` branches have none).
        debug_assert_eq!(hit & h.gate, h.gate);
        if v.rule_epoch[h.rule as usize] == v.epoch {
            return;
        }
        if h.flags & HAS_DEFERRED != 0 && !self.eval_deferred(kept, h, &mut hit, &mut direct) {
            return;
        }
        if hit & h.pos != h.pos {
            return;
        }
        if h.flags & HAS_ABSENT != 0 && !self.absent_ok(v.seen, v.epoch, sub as usize, hit) {
            return;
        }
        let arr_only = hit & !direct;
        if arr_only.count_ones() >= 2 {
            v.pending.push((sub, arr_only));
        } else {
            v.rule_epoch[h.rule as usize] = v.epoch;
            v.out.push(h.rule);
        }
    }

    /// Do the branch's `exists: false` tests hold? (`seen`: fields present in
    /// the event, stamped with `epoch`.)
    #[cold]
    #[inline(never)]
    fn absent_ok(&self, seen: &[u32], epoch: u32, s: usize, hit: u64) -> bool {
        self.subs[s].absent.iter().all(|a| {
            let present = seen[a.field as usize] == epoch;
            !present || (a.hit_ok && hit & (1u64 << a.bit) != 0)
        })
    }

    /// Match one event; the matching rule ids (sorted, unique) go to `out`.
    pub(crate) fn eval<E: Source>(
        &self,
        ev: &E,
        sc: &mut Scratch,
        out: &mut Vec<u32>,
    ) -> Result<(), EventError> {
        out.clear();
        let st = &mut sc.st;
        st.begin(
            self.test_uses.len(),
            self.trie.field_count(),
            self.rules as usize,
            ev.text(),
        );
        let d = self.derived();
        let mut sink = FastSink {
            idx: self,
            ranges: &d.ranges,
            gate: d.gate.as_ref(),
            track: &d.track,
            kinds: &d.kinds,
            st,
        };
        ev.walk(&self.trie, &mut sink, &mut sc.bufs)?;
        if sc.st.gate_conflict {
            // The gate field had a second value after leaves were skipped
            // (a duplicate key): read the event again, every leaf.
            sc.st.begin(
                self.test_uses.len(),
                self.trie.field_count(),
                self.rules as usize,
                ev.text(),
            );
            let mut sink = FastSink {
                idx: self,
                ranges: &d.ranges,
                gate: None,
                track: &d.track,
                kinds: &d.kinds,
                st: &mut sc.st,
            };
            ev.walk(&self.trie, &mut sink, &mut sc.bufs)?;
        }

        sc.pending.clear();
        let event = ev.text();
        self.decide(&d.anchors, &mut sc.st, event, &mut sc.pending, out);
        if !sc.pending.is_empty() {
            self.resolve_arrays(sc, event, out);
        }
        if out.len() > 1 {
            out.sort_unstable();
        }
        Ok(())
    }

    /// The array-consistency check for branches whose tests hit only inside
    /// arrays: their tests are evaluated again on the leaves kept from
    /// inside arrays, whose positions then decide.
    fn resolve_arrays(&self, sc: &mut Scratch, event: &str, out: &mut Vec<u32>) {
        let st = &mut sc.st;
        let hits = &mut sc.hits;
        hits.clear();
        let texts = Texts {
            event,
            copies: &st.dstr,
        };
        for l in &st.aleaves {
            let val = l.val.load(texts);
            for (pi, &(sub, mask)) in sc.pending.iter().enumerate() {
                let conds = &self.subs[sub as usize].conds;
                let mut m = mask;
                while m != 0 {
                    let bit = m.trailing_zeros() as u8;
                    m &= m - 1;
                    let cond = &conds[bit as usize];
                    if cond.field == l.field && cond.matchers.iter().any(|x| x.matches(val)) {
                        hits.push(SlowHit {
                            pending: pi as u32,
                            bit,
                            start: l.cstart,
                            len: l.clen,
                        });
                    }
                }
            }
        }
        let arena = &st.achain;
        let chain = |h: &SlowHit| &arena[h.start as usize..(h.start + h.len) as usize];
        hits.sort_by(|a, b| {
            a.pending
                .cmp(&b.pending)
                .then_with(|| chain(a).cmp(chain(b)))
        });
        let mut i = 0;
        while i < hits.len() {
            let pi = hits[i].pending;
            let start = i;
            while i < hits.len() && hits[i].pending == pi {
                i += 1;
            }
            let (sub, required) = sc.pending[pi as usize];
            let rule = self.subs[sub as usize].rule as usize;
            if st.rule_epoch[rule] == st.epoch {
                continue;
            }
            let group = &hits[start..i];
            let ok = match one_array(group, arena, required) {
                Some(ok) => ok,
                None => family(group, arena, 0, required).contains(&required),
            };
            if ok {
                st.rule_epoch[rule] = st.epoch;
                out.push(rule as u32);
            }
        }
    }
}

/// [`family`]'s answer (are the `required` tests satisfied together?) for
/// the usual case, hits all in elements of one array (`items[*].sku` and
/// `items[*].qty`): whether one element has them all. Hits sorted by chain,
/// so each element's are contiguous. `None` for any other shape.
fn one_array(hits: &[SlowHit], arena: &[ArrayPos], required: u64) -> Option<bool> {
    let first = hits.first()?;
    let array = arena.get(first.start as usize)?.0;
    let mut at = None;
    let mut m = 0u64;
    for h in hits {
        let pos = *arena.get(h.start as usize)?;
        if h.len != 1 || pos.0 != array {
            return None;
        }
        if at != Some(pos) {
            at = Some(pos);
            m = 0;
        }
        m |= 1u64 << h.bit;
        if m & required == required {
            return Some(true);
        }
    }
    Some(false)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-array shortcut answers as the general dynamic programme on
    /// every shape it accepts, and declines the others.
    #[test]
    fn one_array_agrees_with_family() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut decided = 0;
        for _ in 0..20_000 {
            let mut arena: Vec<ArrayPos> = Vec::new();
            let mut hits: Vec<SlowHit> = (0..1 + next(6))
                .map(|_| {
                    let start = arena.len() as u32;
                    // Mostly one level of one array; sometimes two arrays
                    // or a nested one.
                    let depth = if next(8) == 0 { 2 } else { 1 };
                    for _ in 0..depth {
                        arena.push((u32::from(next(8) == 0), next(3) as u32));
                    }
                    SlowHit {
                        pending: 0,
                        bit: next(3) as u8,
                        start,
                        len: depth,
                    }
                })
                .collect();
            let chain = |h: &SlowHit| arena[h.start as usize..(h.start + h.len) as usize].to_vec();
            hits.sort_by_key(|h| chain(h));
            let required = 1 + next(7);
            let want = family(&hits, &arena, 0, required).contains(&required);
            if let Some(got) = one_array(&hits, &arena, required) {
                assert_eq!(got, want, "{hits:?} {arena:?} {required:b}");
                decided += 1;
            }
        }
        assert!(decided > 10_000, "the shortcut took only {decided} cases");
    }
}
