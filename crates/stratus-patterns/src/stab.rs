//! Interval tests indexed by their endpoints: which `numeric` ranges (or
//! `cidr` blocks) of a field contain a value, found with one binary search.
//!
//! The distinct finite endpoints of all the field's intervals, `p0 < p1 <
//! ... < pn-1`, cut the key space into `2n + 1` segments: the open gaps
//! `(-inf, p0)`, `(p0, p1)`, ..., `(pn-1, +inf)` and the points themselves.
//! Every interval either contains a whole segment or none of it, so the
//! tests of each segment are computed once, from one value inside it.

/// A key type the intervals are over.
pub(crate) trait StabKey: Copy + PartialOrd {
    /// A value strictly between `lo` and `hi` (`None`: unbounded on that
    /// side), or `None` when there is none.
    fn between(lo: Option<Self>, hi: Option<Self>) -> Option<Self>;
}

impl StabKey for f64 {
    fn between(lo: Option<f64>, hi: Option<f64>) -> Option<f64> {
        let m = match (lo, hi) {
            (None, None) => 0.0,
            (None, Some(h)) => h - (h.abs() + 1.0),
            (Some(l), None) => l + (l.abs() + 1.0),
            (Some(l), Some(h)) => l + (h - l) / 2.0,
        };
        let above = lo.is_none_or(|l| m > l);
        let below = hi.is_none_or(|h| m < h);
        (m.is_finite() && above && below).then_some(m)
    }
}

macro_rules! int_key {
    ($t:ty) => {
        impl StabKey for $t {
            fn between(lo: Option<$t>, hi: Option<$t>) -> Option<$t> {
                let m = match lo {
                    None => <$t>::MIN,
                    Some(l) => l.checked_add(1)?,
                };
                hi.is_none_or(|h| m < h).then_some(m)
            }
        }
    };
}
int_key!(u32);
int_key!(u128);

/// The tests of one field's intervals, by segment.
#[derive(Debug, Clone)]
pub(crate) struct Stab<K> {
    /// Distinct finite endpoints, ascending.
    points: Vec<K>,
    /// Segment `s` (even: the gap before `points[s / 2]`; odd: the point
    /// `points[s / 2]`) has the tests `ids[start[s]..start[s + 1]]`.
    start: Vec<u32>,
    ids: Vec<u32>,
}

impl<K> Default for Stab<K> {
    fn default() -> Self {
        Self {
            points: Vec::new(),
            start: Vec::new(),
            ids: Vec::new(),
        }
    }
}

impl<K: StabKey> Stab<K> {
    /// Index `tests` (test id, its interval's endpoints); `contains(i, x)`
    /// says whether test `i` of the list contains `x`.
    pub(crate) fn build(
        tests: &[(u32, [Option<K>; 2])],
        contains: impl Fn(usize, K) -> bool,
    ) -> Self {
        let mut points: Vec<K> = tests
            .iter()
            .flat_map(|(_, ends)| ends.iter().flatten().copied())
            .collect();
        points.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        points.dedup_by(|a, b| a == b);
        let mut start = Vec::with_capacity(2 * points.len() + 2);
        let mut ids = Vec::new();
        for s in 0..=2 * points.len() {
            start.push(ids.len() as u32);
            let probe = if s % 2 == 1 {
                Some(points[s / 2])
            } else {
                let lo = (s >= 2).then(|| points[s / 2 - 1]);
                K::between(lo, points.get(s / 2).copied())
            };
            if let Some(x) = probe {
                ids.extend(
                    tests
                        .iter()
                        .enumerate()
                        .filter(|&(i, _)| contains(i, x))
                        .map(|(_, t)| t.0),
                );
            }
        }
        start.push(ids.len() as u32);
        Self { points, start, ids }
    }

    /// The tests whose interval contains `x`.
    #[inline]
    pub(crate) fn hits(&self, x: K) -> &[u32] {
        let i = self.points.partition_point(|p| *p < x);
        let on_point = self.points.get(i).is_some_and(|p| *p == x);
        let s = 2 * i + usize::from(on_point);
        match (self.start.get(s), self.start.get(s + 1)) {
            (Some(&a), Some(&b)) => &self.ids[a as usize..b as usize],
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(lo: f64, lo_incl: bool, hi: f64, hi_incl: bool) -> impl Fn(f64) -> bool {
        move |x| {
            (if lo_incl { x >= lo } else { x > lo }) && (if hi_incl { x <= hi } else { x < hi })
        }
    }

    fn finite(x: f64) -> Option<f64> {
        x.is_finite().then_some(x)
    }

    #[test]
    fn numeric_segments_agree_with_the_ranges() {
        let ranges = [
            (0.0, false, 10.0, true),
            (f64::NEG_INFINITY, false, 5.0, false),
            (5.0, true, f64::INFINITY, false),
            (3.0, true, 3.0, true),
            (-2.5, false, 0.0, true),
            (10.0, true, 1e9, false),
        ];
        let tests: Vec<(u32, [Option<f64>; 2])> = ranges
            .iter()
            .enumerate()
            .map(|(i, r)| (i as u32, [finite(r.0), finite(r.2)]))
            .collect();
        let stab = Stab::build(&tests, |i, x| {
            let r = ranges[i];
            range(r.0, r.1, r.2, r.3)(x)
        });
        let probes = [
            -1e12,
            -3.0,
            -2.5,
            -2.4,
            -0.0,
            0.0,
            0.5,
            2.999,
            3.0,
            3.001,
            4.9,
            5.0,
            7.0,
            10.0,
            10.5,
            999_999_999.0,
            1e9,
            1e10,
        ];
        for x in probes {
            let mut want: Vec<u32> = ranges
                .iter()
                .enumerate()
                .filter(|(_, r)| range(r.0, r.1, r.2, r.3)(x))
                .map(|(i, _)| i as u32)
                .collect();
            let mut got = stab.hits(x).to_vec();
            want.sort_unstable();
            got.sort_unstable();
            assert_eq!(got, want, "value {x}");
        }
    }

    #[test]
    fn integer_segments_agree_with_the_ranges() {
        let blocks: [(u32, u32); 4] = [(10, 19), (15, 15), (0, 3), (u32::MAX - 1, u32::MAX)];
        let tests: Vec<(u32, [Option<u32>; 2])> = blocks
            .iter()
            .enumerate()
            .map(|(i, b)| (i as u32, [Some(b.0), Some(b.1)]))
            .collect();
        let stab = Stab::build(&tests, |i, x| blocks[i].0 <= x && x <= blocks[i].1);
        for x in [
            0,
            2,
            3,
            4,
            9,
            10,
            14,
            15,
            16,
            19,
            20,
            u32::MAX - 2,
            u32::MAX - 1,
            u32::MAX,
        ] {
            let want: Vec<u32> = (0..blocks.len() as u32)
                .filter(|&i| blocks[i as usize].0 <= x && x <= blocks[i as usize].1)
                .collect();
            let mut got = stab.hits(x).to_vec();
            got.sort_unstable();
            assert_eq!(got, want, "value {x}");
        }
    }

    #[test]
    fn empty_index_hits_nothing() {
        let stab: Stab<f64> = Stab::build(&[], |_, _| true);
        assert!(stab.hits(1.0).is_empty());
        assert!(Stab::<u32>::default().hits(7).is_empty());
    }
}
