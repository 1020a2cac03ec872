//! `send`: SendMessage throughput and latency at a fixed number of connections.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::Bytes;
use clap::Args;
use serde_json::{Value, json};

use crate::CommonArgs;
use crate::client::{Endpoint, Op, SqsConn};
use crate::sqs::{
    create_queue, delete_queue, md5_hex, message_body, send_body, send_reply_ok, unique_queue_name,
};
use crate::stats::{Errors, Latencies, write_json};

#[derive(Args, Debug, Clone)]
pub struct SendArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Concurrent keep-alive connections, one task each.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Measured duration in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Unmeasured warm-up before the measured window, in seconds.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Message body size in bytes.
    #[arg(long, default_value_t = 100)]
    pub body_size: usize,
}

struct TaskResult {
    latencies: Latencies,
    errors: Errors,
    reconnects: u64,
}

pub async fn run(args: SendArgs) -> Result<()> {
    let report = measure(&args).await?;
    write_json(args.common.json.as_deref(), &report)
}

pub async fn measure(args: &SendArgs) -> Result<Value> {
    if args.connections == 0 || args.duration <= 0.0 {
        bail!("--connections and --duration must be positive");
    }
    let endpoint = Endpoint::parse(&args.common.endpoint)?;
    let mut setup = SqsConn::connect(&endpoint).await?;
    let queue_url = create_queue(&mut setup, &unique_queue_name("send")).await?;
    let message = message_body(args.body_size);
    let body = send_body(&queue_url, &message);
    let md5 = Bytes::from(md5_hex(message.as_bytes()));

    let window_start = Instant::now() + Duration::from_secs_f64(args.warmup);
    let window_end = window_start + Duration::from_secs_f64(args.duration);
    let mut tasks = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let (endpoint, body, md5) = (endpoint.clone(), body.clone(), md5.clone());
        tasks.push(tokio::spawn(async move {
            send_loop(endpoint, body, md5, window_start, window_end).await
        }));
    }
    let mut latencies = Latencies::default();
    let mut errors = Errors::default();
    let mut reconnects = 0;
    for task in tasks {
        let result = task.await?;
        latencies.merge(result.latencies);
        errors.merge(result.errors);
        reconnects += result.reconnects;
    }
    delete_queue(&mut setup, &queue_url).await;

    let ok = latencies.len();
    let rate = ok as f64 / args.duration;
    let summary = latencies.summary();
    println!(
        "send: {rate:.0} msg/s  p50={}us p99={}us  (c={}, {}s, {}B, reconnects={reconnects}) {}",
        summary.percentile(50.0),
        summary.percentile(99.0),
        args.connections,
        args.duration,
        args.body_size,
        errors.human()
    );
    Ok(json!({
        "bench": "send",
        "endpoint": endpoint.url,
        "connections": args.connections,
        "duration_s": args.duration,
        "body_size": args.body_size,
        "messages_ok": ok,
        "msgs_per_s": rate.round(),
        "latency": summary.to_json(),
        "reconnects": reconnects,
        "errors": errors.to_json(),
    }))
}

/// One connection's loop. Only replies that complete inside the measurement window
/// are counted, so warm-up and the tail after the deadline do not skew the rate.
async fn send_loop(
    endpoint: Endpoint,
    body: Bytes,
    md5: Bytes,
    start: Instant,
    end: Instant,
) -> TaskResult {
    let mut result = TaskResult {
        latencies: Latencies::default(),
        errors: Errors::default(),
        reconnects: 0,
    };
    let mut conn = match SqsConn::connect(&endpoint).await {
        Ok(conn) => conn,
        Err(e) => {
            result.errors.transport(&e);
            return result;
        }
    };
    loop {
        let sent_at = Instant::now();
        if sent_at >= end {
            break;
        }
        let outcome = conn.call(Op::SendMessage, body.clone()).await;
        let done = Instant::now();
        let measured = done >= start && done < end;
        match outcome {
            Ok(reply) if send_reply_ok(&reply, &md5) => {
                if measured {
                    result.latencies.record(done - sent_at);
                }
            }
            Ok(reply) => result.errors.bad_reply(&reply, "SendMessage"),
            Err(e) => {
                result.errors.transport(&e);
                // Avoid a hot spin if the server is gone; the deadline still bounds us.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    result.reconnects = conn.reconnects;
    result
}
