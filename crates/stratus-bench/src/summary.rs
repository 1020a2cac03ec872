//! `summary`: turn a results directory into markdown tables.
//!
//! Layout (written by bench/compare.sh): `<dir>/<emulator>/meta.json` with `name`,
//! `version`, `order` and optional `note`, plus any of `startup.json`, `send.json`,
//! `drain.json`, `roundtrip.json`, `depth.json` written by the other subcommands.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde_json::Value;

#[derive(Args, Debug)]
pub struct SummaryArgs {
    /// Results directory (one sub-directory per emulator).
    #[arg(long, default_value = "bench-results")]
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
    /// 1-minute load average when this emulator's measurements started.
    load: Option<f64>,
    startup: Option<Value>,
    send: Option<Value>,
    drain: Option<Value>,
    roundtrip: Option<Value>,
    depth: Option<Value>,
}

pub(crate) fn read_json(path: &Path) -> Option<Value> {
    fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
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
        startup: read_json(&dir.join("startup.json")),
        send: read_json(&dir.join("send.json")),
        drain: read_json(&dir.join("drain.json")),
        roundtrip: read_json(&dir.join("roundtrip.json")),
        depth: read_json(&dir.join("depth.json")),
    })
}

pub(crate) fn num(v: &Option<Value>, path: &[&str]) -> Option<f64> {
    let mut cur = v.as_ref()?;
    for key in path {
        cur = cur.get(key)?;
    }
    cur.as_f64()
}

pub(crate) fn fmt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "–".to_string(), |x| format!("{x:.decimals$}"))
}

/// Integer with thousands separators, the way throughput is easiest to compare.
pub(crate) fn fmt_int(v: Option<f64>) -> String {
    let Some(x) = v else { return "–".to_string() };
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Drain rate, marked when the drain hit its timeout before consuming everything.
fn drain_rate(drain: &Option<Value>) -> String {
    let rate = fmt_int(num(drain, &["msgs_per_s"]));
    match drain
        .as_ref()
        .and_then(|d| d.get("complete"))
        .and_then(Value::as_bool)
    {
        Some(false) => format!(
            "{rate} (partial: {} msgs)",
            fmt_int(num(drain, &["deleted"]))
        ),
        _ => rate,
    }
}

pub(crate) fn us_to_ms(v: Option<f64>) -> Option<f64> {
    v.map(|x| x / 1000.0)
}

fn errors(e: &Emulator) -> String {
    let total: f64 = [&e.send, &e.drain, &e.roundtrip, &e.depth]
        .iter()
        .filter_map(|v| num(v, &["errors", "total"]))
        .sum();
    let any = [&e.send, &e.drain, &e.roundtrip]
        .iter()
        .any(|v| v.is_some());
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

    let mut md = String::from("# SQS benchmark results\n\n");
    // Explain the one column that is about the machine rather than the emulator.
    let load_note = "Load = 1-minute load average when the emulator's run started (client and server share the machine; \
                     anything else running skews the figures).";
    if !preamble.is_empty() {
        md.push_str(preamble);
        md.push_str("\n\n");
    }
    // Column headers carry the parameters actually used, taken from the reports.
    let first = |pick: fn(&Emulator) -> &Option<Value>, key: &str| {
        emulators
            .iter()
            .find_map(|e| num(pick(e), &[key]))
            .map_or("?".to_string(), |v| format!("{v}"))
    };
    let connections = first(|e| &e.send, "connections");
    let messages = first(|e| &e.drain, "messages");
    let workers = first(|e| &e.drain, "workers");
    let _ = writeln!(
        md,
        "| Emulator | Version | Startup (ms) | Idle RSS (MiB) | SendMessage c={connections} (msg/s) \
         | Send p50 / p99 (ms) | Drain {messages} msgs, {workers} workers (msg/s) \
         | Round trip c=1 p50 / p99 (µs) | Errors | Load |",
    );
    md.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for e in &emulators {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} / {} | {} | {} / {} | {} | {} |",
            e.name,
            e.version,
            fmt(num(&e.startup, &["startup_ms"]), 0),
            fmt(num(&e.startup, &["idle_rss_mib"]), 1),
            fmt_int(num(&e.send, &["msgs_per_s"])),
            fmt(us_to_ms(num(&e.send, &["latency", "p50_us"])), 2),
            fmt(us_to_ms(num(&e.send, &["latency", "p99_us"])), 2),
            drain_rate(&e.drain),
            fmt_int(num(&e.roundtrip, &["latency", "p50_us"])),
            fmt_int(num(&e.roundtrip, &["latency", "p99_us"])),
            errors(e),
            fmt(e.load, 2),
        );
    }

    md.push('\n');
    md.push_str(load_note);
    md.push('\n');

    let deep: Vec<&Emulator> = emulators.iter().filter(|e| e.depth.is_some()).collect();
    if !deep.is_empty() {
        md.push_str(
            "\n## Queue depth (1 KiB messages)\n\n| Emulator | Depth reached | Fill (msg/s) | MiB per million \
             | receive+delete p50 (µs) at each depth |\n|---|--:|--:|--:|---|\n",
        );
        for e in deep {
            let levels = e
                .depth
                .as_ref()
                .and_then(|d| d.get("levels"))
                .and_then(Value::as_array)
                .map(|ls| {
                    ls.iter()
                        .map(|l| {
                            let depth = l.get("depth").and_then(Value::as_f64);
                            let p50 = l
                                .pointer("/latency/receive_delete_latency/p50_us")
                                .and_then(Value::as_f64);
                            format!("{}: {}", fmt_int(depth), fmt_int(p50))
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                e.name,
                fmt_int(num(&e.depth, &["depth_reached"])),
                fmt_int(num(&e.depth, &["fill_msgs_per_s"])),
                fmt(num(&e.depth, &["mib_per_million"]), 0),
                levels
            );
        }
    }

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

pub fn run(args: &SummaryArgs) -> Result<()> {
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
    fn thousands_separators() {
        assert_eq!(fmt_int(Some(1234567.4)), "1,234,567");
        assert_eq!(fmt_int(Some(999.0)), "999");
        assert_eq!(fmt_int(None), "–");
    }

    #[test]
    fn renders_a_row_per_emulator() {
        let dir =
            std::env::temp_dir().join(format!("stratus-bench-summary-{}", std::process::id()));
        let emu = dir.join("fake");
        fs::create_dir_all(&emu).unwrap();
        fs::write(
            emu.join("meta.json"),
            r#"{"name":"fake","version":"1.0","order":1}"#,
        )
        .unwrap();
        fs::write(
            emu.join("send.json"),
            r#"{"msgs_per_s":12345,"latency":{"p50_us":1500,"p99_us":4000},"errors":{"total":0}}"#,
        )
        .unwrap();
        let md = render(&dir, "").unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert!(
            md.contains("| fake | 1.0 | – | – | 12,345 | 1.50 / 4.00 |"),
            "{md}"
        );
    }
}
