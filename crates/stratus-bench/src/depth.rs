//! `depth`: memory cost per million messages, and whether receive latency stays
//! flat as a queue gets deep (it must: a receive should not scan the backlog).

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::CommonArgs;
use crate::client::{Endpoint, Op, SqsConn};
use crate::fill::fill;
use crate::procfs::tree_rss_kib;
use crate::sqs::{
    check_ok, create_queue, delete_body, delete_queue, md5_hex, message_body, parse_receive,
    receive_body, send_body, send_reply_ok, unique_queue_name,
};
use crate::stats::{Errors, Latencies, write_json};

#[derive(Args, Debug, Clone)]
pub struct DepthArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Server pid; RSS is summed over it and its descendants. Without it only the
    /// latency part runs.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Final queue depth.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: usize,
    /// Message body size in bytes.
    #[arg(long, default_value_t = 1024)]
    pub size: usize,
    /// Depths at which receive latency is sampled (capped at --messages, which is
    /// always sampled).
    #[arg(long, value_delimiter = ',', default_value = "1000,100000,1000000")]
    pub levels: Vec<usize>,
    /// Connections used to fill.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// receive+delete samples per depth level.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    /// Stop filling after this many seconds in total and report the depth reached.
    #[arg(long, default_value_t = 1800)]
    pub timeout: u64,
}

pub async fn run(args: DepthArgs) -> Result<()> {
    let report = measure(&args).await?;
    write_json(args.common.json.as_deref(), &report)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

pub async fn measure(args: &DepthArgs) -> Result<Value> {
    if args.messages == 0 {
        bail!("--messages must be positive");
    }
    let endpoint = Endpoint::parse(&args.common.endpoint)?;
    let mut conn = SqsConn::connect(&endpoint).await?;
    let queue_url = create_queue(&mut conn, &unique_queue_name("depth")).await?;
    let message = message_body(args.size);
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let rss_before = args.pid.map(tree_rss_kib);

    let mut levels: Vec<usize> = args
        .levels
        .iter()
        .copied()
        .filter(|&l| l > 0 && l < args.messages)
        .collect();
    levels.push(args.messages);
    levels.sort_unstable();
    levels.dedup();

    let mut errors = Errors::default();
    let mut depth = 0;
    let mut fill_time = Duration::ZERO;
    let mut results = Vec::new();
    let mut truncated = false;
    for level in levels {
        let need = level - depth;
        let filled = fill(
            &endpoint,
            &queue_url,
            &message,
            need,
            args.connections,
            deadline,
        )
        .await?;
        depth += filled.sent;
        fill_time += filled.elapsed;
        truncated |= filled.timed_out || filled.sent < need;
        errors.merge(filled.errors);
        if depth == 0 {
            bail!("could not fill the queue: {}", errors.human());
        }
        let level_result = sample(&mut conn, &queue_url, &message, args.samples, &mut errors).await;
        println!(
            "depth {depth:>8}: receive p50={}us p99={}us  receive+delete p50={}us p99={}us",
            level_result["receive_latency"]["p50_us"],
            level_result["receive_latency"]["p99_us"],
            level_result["receive_delete_latency"]["p50_us"],
            level_result["receive_delete_latency"]["p99_us"],
        );
        results.push(json!({ "depth": depth, "target": level, "latency": level_result }));
        if truncated {
            eprintln!("depth: stopped at {depth} messages (timeout or send errors)");
            break;
        }
    }

    let rss_full = args.pid.map(tree_rss_kib);
    delete_queue(&mut conn, &queue_url).await;
    // Give the server a moment to free the queue before the final reading.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after_delete = args.pid.map(tree_rss_kib);

    let per_million = match (rss_before, rss_full) {
        (Some(before), Some(full)) if depth > 0 => {
            Some(mib(full.saturating_sub(before)) * 1_000_000.0 / depth as f64)
        }
        _ => None,
    };
    let fill_rate = depth as f64 / fill_time.as_secs_f64().max(1e-9);
    println!(
        "depth: {depth} msgs of {}B, fill {fill_rate:.0} msg/s, RSS {} -> {} MiB => {} MiB per million (after DeleteQueue: {} MiB) {}",
        args.size,
        rss_before.map_or("?".into(), |k| format!("{:.0}", mib(k))),
        rss_full.map_or("?".into(), |k| format!("{:.0}", mib(k))),
        per_million.map_or("?".into(), |m| format!("{m:.0}")),
        rss_after_delete.map_or("?".into(), |k| format!("{:.0}", mib(k))),
        errors.human()
    );
    Ok(json!({
        "bench": "depth",
        "endpoint": endpoint.url,
        "messages_requested": args.messages,
        "depth_reached": depth,
        "truncated": truncated,
        "message_size": args.size,
        "fill_msgs_per_s": fill_rate.round(),
        "rss_before_mib": rss_before.map(mib),
        "rss_full_mib": rss_full.map(mib),
        "rss_after_delete_mib": rss_after_delete.map(mib),
        "mib_per_million": per_million,
        "levels": results,
        "errors": errors.to_json(),
    }))
}

/// Takes `samples` receive(1)+delete pairs at the current depth, after a few
/// unrecorded ones (the first requests after a bulk fill hit cold caches and
/// would make shallow levels look slower than deep ones). Each consumed message is
/// replaced (untimed) so the depth stays where it was measured.
async fn sample(
    conn: &mut SqsConn,
    queue_url: &str,
    message: &str,
    samples: usize,
    errors: &mut Errors,
) -> Value {
    let receive = receive_body(queue_url, 1, 0);
    let replacement = send_body(queue_url, message);
    let md5 = md5_hex(message.as_bytes());
    let mut receive_lat = Latencies::default();
    let mut pair_lat = Latencies::default();
    let warmup = (samples / 5).max(10);
    for i in 0..warmup + samples {
        let record = i >= warmup;
        let t0 = Instant::now();
        let handle = match conn
            .call(Op::ReceiveMessage, receive.clone())
            .await
            .and_then(|r| parse_receive(&r))
        {
            Ok(messages) => match messages.into_iter().next() {
                Some(m) => m.receipt_handle,
                None => {
                    errors.invalid(&anyhow::anyhow!("empty receive from a non-empty queue"));
                    continue;
                }
            },
            Err(e) => {
                errors.invalid(&e);
                continue;
            }
        };
        let t1 = Instant::now();
        match conn
            .call(Op::DeleteMessage, delete_body(queue_url, &handle))
            .await
            .and_then(|r| check_ok(&r))
        {
            Ok(()) if record => {
                receive_lat.record(t1 - t0);
                pair_lat.record(t0.elapsed());
            }
            Ok(()) => {}
            Err(e) => errors.invalid(&e),
        }
        match conn.call(Op::SendMessage, replacement.clone()).await {
            Ok(reply) if send_reply_ok(&reply, md5.as_bytes()) => {}
            Ok(reply) => errors.bad_reply(&reply, "SendMessage (replacement)"),
            Err(e) => errors.transport(&e),
        }
    }
    json!({
        "samples": receive_lat.len(),
        "receive_latency": receive_lat.summary().to_json(),
        "receive_delete_latency": pair_lat.summary().to_json(),
    })
}
