//! Matching throughput of `RuleSet` against ~1 KiB EventBridge-shaped events,
//! for 1, 10, 100, 300 and 1000 rules of mixed operators, with the `quamina`
//! crate as a reference point on the rules it accepts.
//!
//! Run: `cargo bench -p stratus-patterns` (add `-- --quick` for a short run;
//! `-- --only N` times stratus alone on N rules (`--ms M` for M milliseconds);
//! `-- --only N --passes P` runs
//! exactly P passes over the events without timing, for callgrind).
//!
//! One *evaluation* = one event, given as JSON text, matched against the whole
//! rule set, producing the list of matching rule names (JSON reading included).
//! Single thread; figures are per core.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stratus_patterns::{Pattern, RuleSet};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const SOURCES: &[&str] = &[
    "aws.ec2",
    "aws.s3",
    "aws.autoscaling",
    "com.example.orders",
    "com.example.billing",
    "com.example.users",
    "com.example.search",
    "aws.codebuild",
    "aws.ecs",
    "com.example.mail",
];
const DETAIL_TYPES: &[&str] = &[
    "EC2 Instance State-change Notification",
    "Object Created",
    "Order Placed",
    "Order Shipped",
    "Invoice Paid",
    "User Signed Up",
    "Build State Change",
    "Task State Change",
    "Mail Sent",
    "Scheduled Event",
];
const STATES: &[&str] = &[
    "pending",
    "running",
    "stopping",
    "stopped",
    "terminated",
    "initializing",
    "failed",
    "succeeded",
];
const REGIONS: &[&str] = &[
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
    "sa-east-1",
];
const TAGS: &[&str] = &[
    "prod", "staging", "dev", "blue", "green", "canary", "batch", "web",
];

fn event(rng: &mut Rng, seq: usize) -> String {
    let region = rng.pick(REGIONS);
    let account = format!("{:012}", 100_000_000_000u64 + rng.below(20) as u64);
    let instance = format!("i-{:017x}", rng.next() & 0xfff_ffff_ffff_ffff);
    let items: Vec<Value> = (0..1 + rng.below(3))
        .map(|_| json!({"sku": format!("SKU-{}", rng.below(40)), "qty": rng.below(10), "price": rng.below(10_000) as f64 / 100.0}))
        .collect();
    let tags: Vec<&str> = (0..1 + rng.below(3)).map(|_| rng.pick(TAGS)).collect();
    let ev = json!({
        "version": "0",
        "id": format!("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", rng.next() as u32, rng.below(65536), rng.below(4096), rng.below(4096), rng.next() & 0xffff_ffff_ffff),
        "detail-type": rng.pick(DETAIL_TYPES),
        "source": rng.pick(SOURCES),
        "account": account,
        "time": format!("2024-0{}-1{}T12:{:02}:{:02}Z", 1 + rng.below(9), rng.below(10), rng.below(60), rng.below(60)),
        "region": region,
        "resources": [
            format!("arn:aws:ec2:{region}:{account}:instance/{instance}"),
            format!("arn:aws:s3:::bucket-{}", rng.below(50)),
        ],
        "detail": {
            "instance-id": instance,
            "state": rng.pick(STATES),
            "count": rng.below(100),
            "price": rng.below(100_000) as f64 / 100.0,
            "flag": rng.below(2) == 0,
            "user": {
                "name": format!("user{}", rng.below(1000)),
                "email": format!("user{}@example{}.com", rng.below(1000), rng.below(10)),
                "ip": format!("10.{}.{}.{}", rng.below(20), rng.below(256), rng.below(256)),
            },
            "tags": tags,
            "items": items,
            "request-id": format!("req-{seq:08}"),
            "message": "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.",
            "metadata": {"trace": format!("{:032x}", u128::from(rng.next()) << 64 | u128::from(rng.next())), "attempt": rng.below(5), "retryable": rng.below(2) == 1},
        }
    });
    ev.to_string()
}

/// Rule `i` of the mixed set (kinds rotate through twelve shapes).
fn rule(i: usize) -> Value {
    let k = i / 12;
    let src = SOURCES[i % SOURCES.len()];
    let dt = DETAIL_TYPES[k % DETAIL_TYPES.len()];
    let state = STATES[k % STATES.len()];
    let region = REGIONS[k % REGIONS.len()];
    match i % 12 {
        0 => json!({"source": [src], "detail-type": [dt]}),
        1 => json!({"source": [src], "detail": {"state": [{"prefix": &state[..3]}]}}),
        2 => {
            json!({"source": [src], "detail": {"user": {"email": [{"suffix": format!("@example{}.com", k % 10)}]}}})
        }
        3 => {
            json!({"source": [src], "region": [{"anything-but": [region, REGIONS[(k + 1) % REGIONS.len()]]}]})
        }
        4 => {
            json!({"source": [src], "detail": {"count": [{"numeric": [">", (k * 7) % 90, "<=", (k * 7) % 90 + 10]}]}})
        }
        5 => {
            json!({"detail-type": [dt], "detail": {"state": [{"equals-ignore-case": state.to_uppercase()}]}})
        }
        6 => {
            json!({"source": [src], "resources": [{"wildcard": format!("arn:aws:ec2:{region}:*:instance/i-{:x}*", k % 16)}]})
        }
        7 => {
            json!({"source": [src], "detail": {"user": {"ip": [{"cidr": format!("10.{}.0.0/16", k % 20)}]}}})
        }
        8 => {
            json!({"source": [src], "detail": {"flag": [{"exists": true}], "tags": [TAGS[k % TAGS.len()]]}})
        }
        9 => {
            json!({"source": [src], "$or": [{"detail-type": [dt]}, {"detail": {"price": [{"numeric": [">", 900 + k % 100]}]}}]})
        }
        10 => {
            json!({"source": [src], "detail": {"items": {"sku": [format!("SKU-{}", k % 40)], "qty": [{"numeric": [">=", k % 10]}]}}})
        }
        _ => {
            json!({"account": [format!("{:012}", 100_000_000_000u64 + (k % 20) as u64)], "detail": {"state": [{"anything-but": {"prefix": "term"}}], "user": {"name": [{"prefix": format!("user{}", k % 10)}]}}})
        }
    }
}

struct Measure {
    /// CPU time of this thread per evaluation (immune to the thread being
    /// descheduled on a busy machine); wall time when unavailable.
    ns_per_eval: f64,
    wall_ns_per_eval: f64,
    /// Each pass over the events (about a millisecond) timed alone: the
    /// median pass, and the fastest tenth's slowest (the speed when no
    /// other tenant of the machine was competing for the core and its
    /// caches; this machine's speed drifts by tens of percent).
    median_pass_ns: f64,
    p10_pass_ns: f64,
    matches_per_event: f64,
    evals: u64,
}

/// CPU time consumed by the calling thread, from /proc/thread-self/schedstat.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Run `f` over the events repeatedly for about `budget`.
fn measure(events: &[String], budget: Duration, mut f: impl FnMut(&str) -> usize) -> Measure {
    // Warm-up.
    for e in events.iter().take(200) {
        black_box(f(e));
    }
    let mut evals = 0u64;
    let mut matches = 0u64;
    let mut passes = Vec::new();
    let cpu0 = thread_cpu_ns();
    let start = Instant::now();
    while start.elapsed() < budget {
        let t = Instant::now();
        for e in events {
            matches += f(black_box(e)) as u64;
        }
        passes.push(t.elapsed().as_nanos() as f64 / events.len() as f64);
        evals += events.len() as u64;
    }
    passes.sort_by(f64::total_cmp);
    let el = start.elapsed();
    let wall = el.as_nanos() as f64 / evals as f64;
    let cpu = match (cpu0, thread_cpu_ns()) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / evals as f64,
        _ => wall,
    };
    Measure {
        ns_per_eval: cpu,
        wall_ns_per_eval: wall,
        median_pass_ns: passes[passes.len() / 2],
        p10_pass_ns: passes[passes.len() / 10],
        matches_per_event: matches as f64 / evals as f64,
        evals,
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let budget = Duration::from_millis(if quick { 300 } else { 2000 });
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let events: Vec<String> = (0..1000).map(|i| event(&mut rng, i)).collect();
    let parsed: Vec<Value> = events
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let avg_len = events.iter().map(String::len).sum::<usize>() as f64 / events.len() as f64;
    if let Some(n) = std::env::args().skip_while(|a| a != "--only").nth(1) {
        // `--only N`: just stratus on N rules, JSON text (for profiling).
        let n: usize = n.parse().unwrap();
        let mut rs = RuleSet::new();
        for i in 0..n {
            rs.insert(format!("rule-{i}"), Pattern::from_value(&rule(i)).unwrap());
        }
        let mut out = Vec::new();
        if let Some(passes) = std::env::args().skip_while(|a| a != "--passes").nth(1) {
            // `--only N --passes P`: exactly P passes over the 1000 events, no
            // clock (for instruction counts under callgrind; run with P and
            // with 0 and divide the difference by P * 1000).
            let passes: usize = passes.parse().unwrap();
            let mut matches = 0usize;
            for _ in 0..passes {
                for e in &events {
                    rs.matches_json_into(black_box(e), &mut out).unwrap();
                    matches += out.len();
                }
            }
            println!(
                "{n} rules: {passes} passes over {} events, {matches} matches",
                events.len()
            );
            return;
        }
        // `--ms M`: time for M milliseconds (short runs, alternated between
        // builds, compare them under a machine whose speed drifts).
        let budget = std::env::args()
            .skip_while(|a| a != "--ms")
            .nth(1)
            .map_or(budget * 2, |m| Duration::from_millis(m.parse().unwrap()));
        let m = measure(&events, budget, |e| {
            rs.matches_json_into(e, &mut out).unwrap();
            out.len()
        });
        println!(
            "{n} rules: {:.0} ns/eval CPU ({:.0} ns wall), {:.2} matches/event, {} evaluations; passes: median {:.0} ns, p10 {:.0} ns",
            m.ns_per_eval,
            m.wall_ns_per_eval,
            m.matches_per_event,
            m.evals,
            m.median_pass_ns,
            m.p10_pass_ns
        );
        return;
    }
    if std::env::args().any(|a| a == "--diff") {
        diff(&events);
        return;
    }
    println!("stratus-patterns matching benchmark");
    println!(
        "events: {} distinct, average {avg_len:.0} bytes of JSON; single thread",
        events.len()
    );
    println!("one evaluation = one event (JSON text) matched against the whole rule set");
    println!(
        "times are CPU time of the benchmark thread per evaluation (M/s = evaluations per CPU-second);"
    );
    println!(
        "each pass over the events is also timed alone: its median, and the fastest tenth (p10), which filters out other tenants of the machine\n"
    );

    // Baseline: reading the event into a serde_json::Value alone.
    let base = measure(&events, budget, |e| {
        usize::from(serde_json::from_str::<Value>(e).is_ok())
    });
    println!(
        "reference: serde_json::from_str::<Value> alone: {:.0} ns/event ({:.2} M/s)\n",
        base.ns_per_eval,
        1e3 / base.ns_per_eval
    );

    println!(
        "| rules | stratus JSON text | stratus parsed Value | matches/event | quamina rules | stratus on quamina's rules | quamina | quamina matches/event |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in [1usize, 10, 100, 300, 1000] {
        let rules: Vec<Value> = (0..n).map(rule).collect();
        let mut rs = RuleSet::new();
        for (i, r) in rules.iter().enumerate() {
            rs.insert(format!("rule-{i}"), Pattern::from_value(r).unwrap());
        }
        let mut out = Vec::new();
        let text = measure(&events, budget, |e| {
            rs.matches_json_into(e, &mut out).unwrap();
            out.len()
        });
        let mut i = 0;
        let value = measure(&events, budget, |_| {
            i = (i + 1) % parsed.len();
            rs.matches_into(&parsed[i], &mut out);
            out.len()
        });

        // quamina on the rules it accepts; stratus on exactly the same rules.
        let mut q = quamina::Quamina::<usize>::new();
        let mut subset = RuleSet::new();
        for (i, r) in rules.iter().enumerate() {
            if q.add_pattern(i, &r.to_string()).is_ok() {
                subset.insert(format!("rule-{i}"), Pattern::from_value(r).unwrap());
            }
        }
        let ours_subset = measure(&events, budget, |e| {
            subset.matches_json_into(e, &mut out).unwrap();
            out.len()
        });
        let theirs = measure(&events, budget, |e| {
            q.matches_for_event(e.as_bytes()).map_or(0, |m| m.len())
        });
        let rate =
            |m: &Measure| format!("{:.0} ns ({:.2} M/s)", m.ns_per_eval, 1e3 / m.ns_per_eval);
        println!(
            "| {n} | {} | {} | {:.2} | {} | {} | {} | {:.2} |",
            rate(&text),
            rate(&value),
            text.matches_per_event,
            subset.len(),
            rate(&ours_subset),
            rate(&theirs),
            theirs.matches_per_event,
        );
        println!(
            "  (wall clock: stratus text {:.0} ns, quamina {:.0} ns; passes of the 1000 events, median / fastest tenth: stratus text {:.0} / {:.0} ns, quamina {:.0} / {:.0} ns)",
            text.wall_ns_per_eval,
            theirs.wall_ns_per_eval,
            text.median_pass_ns,
            text.p10_pass_ns,
            theirs.median_pass_ns,
            theirs.p10_pass_ns
        );
        if (ours_subset.matches_per_event - theirs.matches_per_event).abs() > 1e-9 {
            println!(
                "  note: on the shared rules stratus finds {:.3} matches/event, quamina {:.3}",
                ours_subset.matches_per_event, theirs.matches_per_event
            );
        }
    }
}

/// `--diff`: list (rule, event) pairs on which stratus and quamina disagree.
fn diff(events: &[String]) {
    let mut shown = 0;
    for i in 0..300 {
        let r = rule(i);
        let mut q = quamina::Quamina::<usize>::new();
        if q.add_pattern(i, &r.to_string()).is_err() {
            continue;
        }
        let p = Pattern::from_value(&r).unwrap();
        let mut per_rule = 0;
        for e in events {
            let ours = p.matches_json(e).unwrap();
            let theirs = !q.matches_for_event(e.as_bytes()).unwrap().is_empty();
            if ours != theirs && shown < 20 && per_rule < 1 {
                shown += 1;
                per_rule += 1;
                println!("rule {r}\n  stratus {ours}, quamina {theirs}\n  event {e}\n");
            }
        }
    }
}
