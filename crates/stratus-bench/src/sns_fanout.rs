//! `sns-fanout`: SNS Publish throughput to a topic with K SQS subscriptions,
//! every delivery verified, and the latency from Publish returning to the
//! message being receivable from a subscribed queue.
//!
//! Setup uses the SNS and SQS APIs only (CreateTopic, Subscribe,
//! SetSubscriptionAttributes, CreateQueue). Deliveries are signed JSON
//! envelopes unless `--raw` turns RawMessageDelivery on. The probes go through
//! a second topic with one subscribed queue (see `probe`).

use anyhow::{Result, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

use crate::CommonArgs;
use crate::aws::{SNS_WIRE, publish_ok, queue_arn, sns_body, sns_call, xml_text};
use crate::client::{Endpoint, SqsConn};
use crate::load::Load;
use crate::probe::Probe;
use crate::routing::{self, RoutingArgs, padded, run_id};
use crate::sqs::{create_queue, delete_queue, unique_queue_name};
use crate::stats::write_json;
use crate::verify::Check;

#[derive(Args, Debug, Clone)]
pub struct SnsFanoutArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub routing: RoutingArgs,
    /// SQS subscriptions of the topic.
    #[arg(long, default_value_t = 10)]
    pub subscriptions: usize,
    /// RawMessageDelivery on every subscription (no envelope, no signature).
    #[arg(long)]
    pub raw: bool,
    /// Message size in bytes.
    #[arg(long, default_value_t = 100)]
    pub message_size: usize,
}

pub async fn run(args: SnsFanoutArgs) -> Result<()> {
    let report = measure(&args).await?;
    write_json(args.common.json.as_deref(), &report)
}

/// A topic with `queues.len()` SQS subscriptions; returns its ARN.
async fn make_topic(
    conn: &mut SqsConn,
    name: &str,
    queues: &[String],
    raw: bool,
) -> Result<String> {
    let reply = sns_call(conn, "CreateTopic", &[("Name", name)]).await?;
    let topic = xml_text(&reply, "TopicArn")
        .map(|t| t.trim().to_string())
        .ok_or_else(|| anyhow!("CreateTopic reply lacks TopicArn: {reply}"))?;
    for url in queues {
        let arn = queue_arn(conn, url).await?;
        let reply = sns_call(
            conn,
            "Subscribe",
            &[
                ("TopicArn", &topic),
                ("Protocol", "sqs"),
                ("Endpoint", &arn),
            ],
        )
        .await?;
        let sub = xml_text(&reply, "SubscriptionArn")
            .map(|t| t.trim().to_string())
            .ok_or_else(|| anyhow!("Subscribe reply lacks SubscriptionArn: {reply}"))?;
        if raw {
            sns_call(
                conn,
                "SetSubscriptionAttributes",
                &[
                    ("SubscriptionArn", &sub),
                    ("AttributeName", "RawMessageDelivery"),
                    ("AttributeValue", "true"),
                ],
            )
            .await?;
        }
    }
    Ok(topic)
}

pub async fn measure(args: &SnsFanoutArgs) -> Result<Value> {
    let r = &args.routing;
    if args.subscriptions == 0 || r.connections == 0 || r.duration <= 0.0 {
        bail!("--subscriptions, --connections and --duration must be positive");
    }
    let endpoint = Endpoint::parse(&args.common.endpoint)?;
    let mut setup = SqsConn::connect(&endpoint).await?;
    let id = run_id();
    let mut queues = Vec::with_capacity(args.subscriptions);
    for i in 0..args.subscriptions {
        queues.push(create_queue(&mut setup, &unique_queue_name(&format!("fanout{i}"))).await?);
    }
    let probe_queue = create_queue(&mut setup, &unique_queue_name("fanout-probe")).await?;
    let topic = make_topic(
        &mut setup,
        &format!("stratus-bench-fanout-{id}"),
        &queues,
        args.raw,
    )
    .await?;
    let probe_topic = make_topic(
        &mut setup,
        &format!("stratus-bench-probe-{id}"),
        std::slice::from_ref(&probe_queue),
        args.raw,
    )
    .await?;

    let load_marker = format!("bench-load-{id}");
    let message = padded(&load_marker, args.message_size);
    let load = Load {
        wire: SNS_WIRE,
        what: "Publish",
        body: sns_body("Publish", &[("TopicArn", &topic), ("Message", &message)]),
        items: 1,
        valid: |reply, _| publish_ok(reply),
    };
    let marker = format!("bench-probe-{id}-");
    let probe = Probe {
        wire: SNS_WIRE,
        what: "Publish (probe)",
        body: {
            let (marker, topic) = (marker.clone(), probe_topic.clone());
            Arc::new(move |seq| {
                sns_body(
                    "Publish",
                    &[
                        ("TopicArn", &topic),
                        ("Message", &format!("{marker}{seq};")),
                    ],
                )
            })
        },
        valid: |reply, _| publish_ok(reply),
        queue_url: probe_queue.clone(),
        marker,
        interval: Duration::from_millis(r.probe_interval_ms),
    };
    let check = Check {
        queue_urls: queues.clone(),
        per_queue: 0,
        marker: load_marker,
        workers: r.verify_workers,
        settle: Duration::from_secs_f64(r.settle),
        timeout: Duration::from_secs_f64(r.verify_timeout),
    };
    let outcome = routing::run(&endpoint, r, &load, &probe, check).await;

    for t in [&topic, &probe_topic] {
        if let Err(e) = sns_call(&mut setup, "DeleteTopic", &[("TopicArn", t)]).await {
            eprintln!("warning: DeleteTopic: {e}");
        }
    }
    for q in queues.iter().chain([&probe_queue]) {
        delete_queue(&mut setup, q).await;
    }

    let rate = outcome.load.in_window as f64 / r.duration;
    let (verified, errors) = (outcome.verified, outcome.load.errors.human());
    let idle = outcome.idle.as_ref().map(|i| (i.1, i.2));
    let loaded = (outcome.loaded.1, outcome.loaded.2);
    let mut report = outcome.into_json(r, "publishes_per_s", rate);
    let delivered = report["delivery"]["delivered"].as_u64().unwrap_or(0);
    let expected = report["delivery"]["expected"].as_u64().unwrap_or(0);
    let k = args.subscriptions as f64;
    println!(
        "sns-fanout: {rate:.0} publishes/s x {} subs{} = {:.0} deliveries/s (c={}, {}s)  publish p50={}us p99={}us  receivable p50={}us p99={}us{}  delivered {delivered}/{expected}{}  {errors}",
        args.subscriptions,
        if args.raw {
            " (raw)"
        } else {
            " (signed envelopes)"
        },
        rate * k,
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
    report["bench"] = json!("sns-fanout");
    report["endpoint"] = json!(endpoint.url);
    report["subscriptions"] = json!(args.subscriptions);
    report["raw"] = json!(args.raw);
    report["message_size"] = json!(args.message_size);
    report["deliveries_per_s"] = json!((rate * k).round());
    Ok(report)
}
