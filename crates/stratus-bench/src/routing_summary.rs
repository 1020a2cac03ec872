//! `routing-summary`: the `events` and `sns-fanout` reports of several
//! emulators as two markdown tables.
//!
//! Layout (written by bench/compare-events.sh): `<dir>/<emulator>/meta.json`
//! (as for `summary`) plus any of `events-1.json`, `events-10.json`,
//! `sns-k1.json`, `sns-k10.json`, `sns-k10-raw.json`.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde_json::Value;

use crate::summary::{fmt, fmt_int, num, read_json, us_to_ms};

#[derive(Args, Debug)]
pub struct RoutingSummaryArgs {
    /// Results directory (one sub-directory per emulator).
    #[arg(long, default_value = "bench-results-events")]
    pub dir: PathBuf,
    /// Markdown output file (default: <dir>/summary.md).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Free text placed under the title (machine description, date, ...).
    #[arg(long, default_value = "")]
    pub preamble: String,
}

struct Emulator {
    name: String,
    version: String,
    note: String,
    order: i64,
    load: Option<f64>,
    ev1: Option<Value>,
    ev10: Option<Value>,
    k1: Option<Value>,
    k10: Option<Value>,
    k10_raw: Option<Value>,
}

fn load(dir: &Path) -> Option<Emulator> {
    let meta = read_json(&dir.join("meta.json"))?;
    let text = |key: &str| {
        meta.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Some(Emulator {
        name: text("name"),
        version: text("version"),
        note: text("note"),
        order: meta.get("order").and_then(Value::as_i64).unwrap_or(100),
        load: meta.get("load").and_then(Value::as_f64),
        ev1: read_json(&dir.join("events-1.json")),
        ev10: read_json(&dir.join("events-10.json")),
        k1: read_json(&dir.join("sns-k1.json")),
        k10: read_json(&dir.join("sns-k10.json")),
        k10_raw: read_json(&dir.join("sns-k10-raw.json")),
    })
}

/// A rate, marked when the deliveries did not check out.
fn rate(v: &Option<Value>, key: &str) -> String {
    let Some(report) = v else {
        return "–".into();
    };
    let r = fmt_int(num(v, &[key]));
    let verified = report
        .pointer("/delivery/verified")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if verified {
        r
    } else {
        let delivered = fmt_int(num(v, &["delivery", "delivered"]));
        let expected = fmt_int(num(v, &["delivery", "expected"]));
        format!("{r} (delivered {delivered} of {expected})")
    }
}

/// `p50 / p99` in ms from a latency object at `path`.
fn p50_p99(v: &Option<Value>, path: &str) -> String {
    let p = |q: &str| us_to_ms(num(v, &[path, "latency", q]).or_else(|| num(v, &[path, q])));
    match (p("p50_us"), p("p99_us")) {
        (None, None) => "–".into(),
        (a, b) => format!("{} / {}", fmt(a, 2), fmt(b, 2)),
    }
}

fn errors(reports: &[&Option<Value>]) -> String {
    let mut total = 0.0;
    let mut any = false;
    for r in reports.iter().filter(|r| r.is_some()) {
        any = true;
        for path in [
            &["errors", "total"][..],
            &["delivery", "errors", "total"],
            &["delivery_latency_loaded", "errors", "total"],
            &["delivery_latency_loaded", "lost"],
        ] {
            total += num(r, path).unwrap_or(0.0);
        }
    }
    if any {
        format!("{total:.0}")
    } else {
        "–".into()
    }
}

pub fn render(dir: &Path, preamble: &str) -> Result<String> {
    let mut emulators: Vec<Emulator> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| load(&e.path()))
        .collect();
    emulators.sort_by(|a, b| a.order.cmp(&b.order).then(a.name.cmp(&b.name)));

    let mut md = String::from("# EventBridge and SNS benchmark results\n\n");
    if !preamble.is_empty() {
        md.push_str(preamble);
        md.push_str("\n\n");
    }
    md.push_str(
        "## EventBridge: PutEvents → one rule → SQS target\n\n\
         | Emulator | Version | PutEvents, 1 entry/call (events/s) | PutEvents p50 / p99 (ms) \
         | Receivable after return, idle p50 / p99 (ms) | Receivable after return, under load p50 / p99 (ms) \
         | PutEvents, 10 entries/call (events/s) | Errors | Load |\n\
         |---|---|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for e in emulators
        .iter()
        .filter(|e| e.ev1.is_some() || e.ev10.is_some())
    {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            e.name,
            e.version,
            rate(&e.ev1, "events_per_s"),
            p50_p99(&e.ev1, "call_latency"),
            p50_p99(&e.ev1, "delivery_latency_idle"),
            p50_p99(&e.ev1, "delivery_latency_loaded"),
            rate(&e.ev10, "events_per_s"),
            errors(&[&e.ev1, &e.ev10]),
            fmt(e.load, 2),
        );
    }
    md.push_str(
        "\n## SNS: Publish → K SQS subscriptions\n\n\
         | Emulator | Version | K=1, signed (publishes/s) | K=10, signed (publishes/s) | K=10, raw (publishes/s) \
         | K=10 raw deliveries/s | Publish p50 / p99, K=10 signed (ms) \
         | Receivable after return, under load, K=10 signed p50 / p99 (ms) | Errors | Load |\n\
         |---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for e in emulators
        .iter()
        .filter(|e| e.k1.is_some() || e.k10.is_some() || e.k10_raw.is_some())
    {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            e.name,
            e.version,
            rate(&e.k1, "publishes_per_s"),
            rate(&e.k10, "publishes_per_s"),
            rate(&e.k10_raw, "publishes_per_s"),
            fmt_int(num(&e.k10_raw, &["deliveries_per_s"])),
            p50_p99(&e.k10, "call_latency"),
            p50_p99(&e.k10, "delivery_latency_loaded"),
            errors(&[&e.k1, &e.k10, &e.k10_raw]),
            fmt(e.load, 2),
        );
    }
    md.push_str(
        "\nA rate is followed by \"(delivered X of Y)\" when the delivery check failed: the queues \
         did not hold exactly one message per accepted event (per subscription for SNS). \
         Errors = failed calls + failed checks + lost probes. Load = 1-minute load average when \
         the emulator's run started.\n",
    );
    let notes: Vec<String> = emulators
        .iter()
        .filter(|e| !e.note.is_empty())
        .map(|e| format!("- **{}**: {}", e.name, e.note))
        .collect();
    if !notes.is_empty() {
        md.push_str("\n## Notes\n\n");
        md.push_str(&notes.join("\n"));
        md.push('\n');
    }
    Ok(md)
}

pub fn run(args: &RoutingSummaryArgs) -> Result<()> {
    let md = render(&args.dir, &args.preamble)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.dir.join("summary.md"));
    fs::write(&out, &md).with_context(|| format!("writing {}", out.display()))?;
    print!("{md}");
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn renders_rates_and_failed_checks() {
        let dir = std::env::temp_dir().join(format!("stratus-bench-rsum-{}", std::process::id()));
        let emu = dir.join("fake");
        fs::create_dir_all(&emu).unwrap();
        fs::write(
            emu.join("meta.json"),
            r#"{"name":"fake","version":"1.0","order":1,"load":0.5}"#,
        )
        .unwrap();
        fs::write(
            emu.join("events-1.json"),
            r#"{"events_per_s":25000,"call_latency":{"p50_us":1000,"p99_us":3000},
               "delivery_latency_idle":{"latency":{"p50_us":100,"p99_us":200},"lost":0},
               "delivery_latency_loaded":{"latency":{"p50_us":500,"p99_us":4000},"lost":0},
               "delivery":{"verified":true,"delivered":10,"expected":10},"errors":{"total":0}}"#,
        )
        .unwrap();
        fs::write(
            emu.join("sns-k10.json"),
            r#"{"publishes_per_s":900,"delivery":{"verified":false,"delivered":5,"expected":10},
               "errors":{"total":2}}"#,
        )
        .unwrap();
        let md = render(&dir, "").unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert!(
            md.contains(
                "| fake | 1.0 | 25,000 | 1.00 / 3.00 | 0.10 / 0.20 | 0.50 / 4.00 | – | 0 | 0.50 |"
            ),
            "{md}"
        );
        assert!(md.contains("| 900 (delivered 5 of 10) |"), "{md}");
    }
}
