//! `events`: EventBridge PutEvents throughput with one matching rule that
//! targets an SQS queue, and the latency from PutEvents returning to the event
//! being receivable from the queue.
//!
//! Setup goes through the EventBridge and SQS APIs only (PutRule, PutTargets,
//! CreateQueue), so any emulator can be measured. Two rules on the default bus
//! match this run's events by `detail-type`: the load rule feeds one queue, the
//! probe rule another (see `probe`). Afterwards the load queue must hold
//! exactly one message per accepted entry.

use anyhow::{Result, bail};
use bytes::Bytes;
use clap::Args;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

use crate::CommonArgs;
use crate::aws::{EventsOp, events_call, put_events_ok, queue_arn};
use crate::client::{Endpoint, SqsConn};
use crate::load::Load;
use crate::probe::Probe;
use crate::routing::{self, RoutingArgs, padded, run_id};
use crate::sqs::{create_queue, delete_queue, unique_queue_name};
use crate::stats::write_json;
use crate::verify::Check;

const SOURCE: &str = "stratus.bench";

#[derive(Args, Debug, Clone)]
pub struct EventsArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub routing: RoutingArgs,
    /// Entries per PutEvents call (1 to 10).
    #[arg(long, default_value_t = 1)]
    pub entries: usize,
    /// Size of each entry's Detail in bytes (at least ~40).
    #[arg(long, default_value_t = 100)]
    pub detail_size: usize,
}

pub async fn run(args: EventsArgs) -> Result<()> {
    let report = measure(&args).await?;
    write_json(args.common.json.as_deref(), &report)
}

fn entry(detail_type: &str, text: &str) -> Value {
    json!({
        "Source": SOURCE,
        "DetailType": detail_type,
        "Detail": json!({ "m": text }).to_string(),
    })
}

/// A rule on the default bus for this run's `detail_type`, targeting `queue_arn`.
async fn make_rule(conn: &mut SqsConn, name: &str, detail_type: &str, arn: &str) -> Result<()> {
    let pattern = json!({"source": [SOURCE], "detail-type": [detail_type]}).to_string();
    events_call(
        conn,
        EventsOp::PutRule,
        &json!({"Name": name, "EventPattern": pattern, "State": "ENABLED"}),
    )
    .await?;
    events_call(
        conn,
        EventsOp::PutTargets,
        &json!({"Rule": name, "Targets": [{"Id": "queue", "Arn": arn}]}),
    )
    .await?;
    Ok(())
}

async fn drop_rule(conn: &mut SqsConn, name: &str) {
    let removed = events_call(
        conn,
        EventsOp::RemoveTargets,
        &json!({"Rule": name, "Ids": ["queue"]}),
    )
    .await;
    let deleted = events_call(conn, EventsOp::DeleteRule, &json!({"Name": name})).await;
    if let Err(e) = removed.and(deleted) {
        eprintln!("warning: removing rule {name}: {e}");
    }
}

pub async fn measure(args: &EventsArgs) -> Result<Value> {
    let r = &args.routing;
    if !(1..=10).contains(&args.entries) || r.connections == 0 || r.duration <= 0.0 {
        bail!("--entries must be 1..10, --connections and --duration positive");
    }
    let endpoint = Endpoint::parse(&args.common.endpoint)?;
    let mut setup = SqsConn::connect(&endpoint).await?;
    let id = run_id();
    let load_queue = create_queue(&mut setup, &unique_queue_name("events-load")).await?;
    let probe_queue = create_queue(&mut setup, &unique_queue_name("events-probe")).await?;
    let (load_rule, probe_rule) = (
        format!("stratus-bench-load-{id}"),
        format!("stratus-bench-probe-{id}"),
    );
    let (load_type, probe_type) = (format!("load-{id}"), format!("probe-{id}"));
    let load_arn = queue_arn(&mut setup, &load_queue).await?;
    let probe_arn = queue_arn(&mut setup, &probe_queue).await?;
    make_rule(&mut setup, &load_rule, &load_type, &load_arn).await?;
    make_rule(&mut setup, &probe_rule, &probe_type, &probe_arn).await?;

    let load_marker = format!("bench-load-{id}");
    let text = padded(&load_marker, args.detail_size.saturating_sub(8));
    let entries: Vec<Value> = (0..args.entries)
        .map(|_| entry(&load_type, &text))
        .collect();
    let load = Load {
        wire: EventsOp::PutEvents.wire(),
        what: "PutEvents",
        body: Bytes::from(json!({ "Entries": entries }).to_string()),
        items: args.entries as u64,
        valid: put_events_ok,
    };
    let marker = format!("bench-probe-{id}-");
    let probe = Probe {
        wire: EventsOp::PutEvents.wire(),
        what: "PutEvents (probe)",
        body: {
            let (marker, probe_type) = (marker.clone(), probe_type.clone());
            Arc::new(move |seq| {
                let e = entry(&probe_type, &format!("{marker}{seq};"));
                Bytes::from(json!({ "Entries": [e] }).to_string())
            })
        },
        valid: put_events_ok,
        queue_url: probe_queue.clone(),
        marker,
        interval: Duration::from_millis(r.probe_interval_ms),
    };
    let check = Check {
        queue_urls: vec![load_queue.clone()],
        per_queue: 0,
        marker: load_marker,
        workers: r.verify_workers,
        settle: Duration::from_secs_f64(r.settle),
        timeout: Duration::from_secs_f64(r.verify_timeout),
    };
    let outcome = routing::run(&endpoint, r, &load, &probe, check).await;

    drop_rule(&mut setup, &load_rule).await;
    drop_rule(&mut setup, &probe_rule).await;
    delete_queue(&mut setup, &load_queue).await;
    delete_queue(&mut setup, &probe_queue).await;

    let rate = outcome.load.in_window as f64 / r.duration;
    let (verified, errors) = (outcome.verified, outcome.load.errors.human());
    let (idle, loaded) = (
        outcome.idle.as_ref().map(|i| (i.1, i.2)),
        (outcome.loaded.1, outcome.loaded.2),
    );
    let mut report = outcome.into_json(r, "events_per_s", rate);
    let delivered = report["delivery"]["delivered"].as_u64().unwrap_or(0);
    let expected = report["delivery"]["expected"].as_u64().unwrap_or(0);
    println!(
        "events: {rate:.0} events/s ({} per call, c={}, {}s)  put p50={}us p99={}us  receivable p50={}us p99={}us{}  delivered {delivered}/{expected}{}  {errors}",
        args.entries,
        r.connections,
        r.duration,
        report["call_latency"]["p50_us"],
        report["call_latency"]["p99_us"],
        loaded.0,
        loaded.1,
        idle.map(|(a, b)| format!(" (idle {a}/{b}us)"))
            .unwrap_or_default(),
        if verified { "" } else { " NOT VERIFIED" },
    );
    report["bench"] = json!("events");
    report["endpoint"] = json!(endpoint.url);
    report["entries_per_call"] = json!(args.entries);
    report["detail_size"] = json!(args.detail_size);
    Ok(report)
}
