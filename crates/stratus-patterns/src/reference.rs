//! Test-only: a deliberately naive evaluator (flatten everything, try every
//! combination) and a randomised comparison of the optimised engine with it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};

use crate::flatten::ArrayPos;
use crate::matcher::{Matcher, Val};
use crate::parse::{Branch, Dialect, parse_pattern};
use crate::pattern::{Pattern, RuleSet};

struct Leaf<'a> {
    path: String,
    val: Val<'a>,
    chain: Vec<ArrayPos>,
}

fn flatten<'a>(
    v: &'a Value,
    path: &str,
    chain: &mut Vec<ArrayPos>,
    arrays: &mut u32,
    out: &mut Vec<Leaf<'a>>,
) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(v, &p, chain, arrays, out);
            }
        }
        Value::Array(items) => {
            let id = *arrays;
            *arrays += 1;
            for (i, item) in items.iter().enumerate() {
                chain.push((id, i as u32));
                flatten(item, path, chain, arrays, out);
                chain.pop();
            }
        }
        Value::String(s) => out.push(Leaf {
            path: path.to_string(),
            val: Val::Str(s),
            chain: chain.clone(),
        }),
        Value::Number(n) => out.push(Leaf {
            path: path.to_string(),
            val: Val::Num(n.as_f64().unwrap()),
            chain: chain.clone(),
        }),
        Value::Bool(b) => out.push(Leaf {
            path: path.to_string(),
            val: Val::Bool(*b),
            chain: chain.clone(),
        }),
        Value::Null => out.push(Leaf {
            path: path.to_string(),
            val: Val::Null,
            chain: chain.clone(),
        }),
    }
}

fn consistent(a: &[ArrayPos], b: &[ArrayPos]) -> bool {
    a.iter()
        .all(|(arr, i)| b.iter().all(|(arr2, j)| arr != arr2 || i == j))
}

fn branch_matches(branch: &Branch, leaves: &[Leaf<'_>]) -> bool {
    // For every test: None = satisfied by absence, Some(candidates) otherwise.
    let mut needs: Vec<Vec<&[ArrayPos]>> = Vec::new();
    for cond in branch {
        let at: Vec<&Leaf<'_>> = leaves.iter().filter(|l| l.path == cond.path).collect();
        let absent_ok = cond.matchers.contains(&Matcher::Exists(false));
        if at.is_empty() && absent_ok {
            continue;
        }
        let cands: Vec<&[ArrayPos]> = at
            .iter()
            .filter(|l| cond.matchers.iter().any(|m| m.matches(l.val)))
            .map(|l| l.chain.as_slice())
            .collect();
        if cands.is_empty() {
            return false;
        }
        needs.push(cands);
    }
    fn search(needs: &[Vec<&[ArrayPos]>], chosen: &mut Vec<Vec<ArrayPos>>) -> bool {
        let Some((first, rest)) = needs.split_first() else {
            return true;
        };
        for c in first {
            if chosen.iter().all(|x| consistent(x, c)) {
                chosen.push(c.to_vec());
                if search(rest, chosen) {
                    return true;
                }
                chosen.pop();
            }
        }
        false
    }
    search(&needs, &mut Vec::new())
}

fn naive(branches: &[Branch], event: &Value) -> bool {
    let mut leaves = Vec::new();
    flatten(event, "", &mut Vec::new(), &mut 0, &mut leaves);
    branches.iter().any(|b| branch_matches(b, &leaves))
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const KEYS: &[&str] = &["a", "b", "c", "b.c"];
const STRS: &[&str] = &[
    "x",
    "xy",
    "yx",
    "X",
    "10.0.0.1",
    "",
    "10.0.1.5",
    "10.0.0.200",
    "2001:db8::1",
];
const NUMS: &[f64] = &[-1.0, 0.0, 1.0, 1.5, 2.0, 3.0];

fn scalar(r: &mut Rng) -> Value {
    match r.below(6) {
        0 | 1 => json!(STRS[r.below(STRS.len())]),
        2 => json!(r.below(4)),
        3 => json!(NUMS[r.below(NUMS.len())]),
        4 => json!(r.below(2) == 0),
        _ => Value::Null,
    }
}

fn event(r: &mut Rng, depth: usize) -> Value {
    let mut m = serde_json::Map::new();
    for k in KEYS {
        if r.below(3) == 0 {
            continue;
        }
        let v = match (r.below(4), depth) {
            (0, d) if d < 2 => event(r, d + 1),
            (1, d) if d < 2 => Value::Array((0..r.below(3)).map(|_| event(r, d + 1)).collect()),
            (2, _) => Value::Array((0..r.below(3)).map(|_| scalar(r)).collect()),
            _ => scalar(r),
        };
        m.insert((*k).to_string(), v);
    }
    Value::Object(m)
}

fn operand(r: &mut Rng) -> Value {
    match r.below(13) {
        0 => json!({"prefix": (["x", "y", ""][r.below(3)])}),
        1 => json!({"suffix": (["x", "y"][r.below(2)])}),
        2 => json!({"anything-but": STRS[r.below(3)]}),
        3 => json!({"anything-but": [1, 2]}),
        4 => numeric(r),
        5 => json!({"exists": r.below(2) == 0}),
        6 => json!({"equals-ignore-case": "x"}),
        7 => {
            const WILD: &[&str] = &["*y*", "x*", "*y", "x*y", "xy", "10.*.1", "*"];
            json!({"wildcard": WILD[r.below(WILD.len())]})
        }
        8 => {
            const BLOCKS: &[&str] = &[
                "10.0.0.0/24",
                "10.0.0.0/8",
                "10.0.0.128/25",
                "2001:db8::/32",
            ];
            json!({"cidr": BLOCKS[r.below(BLOCKS.len())]})
        }
        9 => json!({"anything-but": {"prefix": "x"}}),
        _ => scalar(r),
    }
}

/// A `numeric` operand: one- or two-sided, open or closed.
fn numeric(r: &mut Rng) -> Value {
    let a = NUMS[r.below(NUMS.len())];
    let b = a + [0.5, 1.0, 2.0][r.below(3)];
    match r.below(7) {
        0 => json!({"numeric": [">", a]}),
        1 => json!({"numeric": [">=", a]}),
        2 => json!({"numeric": ["<", a]}),
        3 => json!({"numeric": ["<=", a]}),
        4 => json!({"numeric": ["=", a]}),
        5 => json!({"numeric": [">", a, "<=", b]}),
        _ => json!({"numeric": [">=", a, "<", b]}),
    }
}

fn pattern(r: &mut Rng, depth: usize) -> Value {
    let mut m = serde_json::Map::new();
    for k in KEYS {
        if r.below(2) == 0 {
            continue;
        }
        let v = if depth < 2 && r.below(3) == 0 {
            pattern(r, depth + 1)
        } else {
            Value::Array((0..1 + r.below(2)).map(|_| operand(r)).collect())
        };
        m.insert((*k).to_string(), v);
    }
    if depth == 0 && r.below(5) == 0 {
        m.insert("$or".to_string(), json!([pattern(r, 1), pattern(r, 1)]));
    }
    if m.is_empty() {
        m.insert("a".to_string(), json!([operand(r)]));
    }
    Value::Object(m)
}

#[test]
fn engine_agrees_with_naive_evaluator() {
    let mut r = Rng(0x2545_F491_4F6C_DD1D);
    let mut checked = 0;
    let mut matched = 0;
    for _round in 0..60 {
        let mut patterns = Vec::new();
        let mut rs = RuleSet::new();
        while patterns.len() < 25 {
            let pv = pattern(&mut r, 0);
            let Ok(branches) = parse_pattern(&pv, Dialect::EventBridge) else {
                continue;
            };
            let p = Pattern::from_value(&pv).unwrap();
            rs.insert(format!("p{}", patterns.len()), p.clone());
            patterns.push((pv, branches, p));
        }
        for _ in 0..40 {
            let ev = event(&mut r, 0);
            let text = ev.to_string();
            let hits = rs.matches(&ev);
            let hits_text = rs.matches_json(&text).unwrap();
            assert_eq!(hits, hits_text, "event {text}");
            for (i, (pv, branches, p)) in patterns.iter().enumerate() {
                let want = naive(branches, &ev);
                let got = p.matches(&ev);
                assert_eq!(got, want, "pattern {pv}\nevent {text}");
                assert_eq!(
                    hits.contains(&format!("p{i}").as_str()),
                    want,
                    "rule set: pattern {pv}\nevent {text}"
                );
                checked += 1;
                matched += usize::from(want);
            }
        }
    }
    println!("naive comparison: {checked} checks, {matched} matches");
    assert!(
        matched > checked / 50,
        "too few matches to be meaningful: {matched}/{checked}"
    );
}
