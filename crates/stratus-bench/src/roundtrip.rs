//! `roundtrip`: send -> receive -> delete of one message at concurrency 1, the
//! latency a test suite actually waits for.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use bytes::Bytes;
use clap::Args;
use serde_json::{Value, json};

use crate::CommonArgs;
use crate::client::{Op, SqsConn};
use crate::sqs::{
    check_ok, create_queue, delete_body, delete_queue, md5_hex, message_body, parse_receive,
    receive_body, send_body, send_reply_ok, unique_queue_name,
};
use crate::stats::{Errors, Latencies, write_json};

#[derive(Args, Debug, Clone)]
pub struct RoundtripArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Measured round trips.
    #[arg(long, default_value_t = 5000)]
    pub iterations: usize,
    /// Unmeasured round trips first (connection setup, JIT/caches warm-up).
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    /// WaitTimeSeconds for ReceiveMessage.
    #[arg(long, default_value_t = 0)]
    pub wait: u32,
    /// Message body size in bytes.
    #[arg(long, default_value_t = 100)]
    pub body_size: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
}

/// Empty receives tolerated within one round trip before it counts as an error
/// (an eventually-consistent server may need a moment to show a new message).
const MAX_EMPTY: u32 = 100;

struct Steps {
    send: Latencies,
    receive: Latencies,
    delete: Latencies,
    total: Latencies,
}

pub async fn run(args: RoundtripArgs) -> Result<()> {
    let report = measure(&args).await?;
    write_json(args.common.json.as_deref(), &report)
}

pub async fn measure(args: &RoundtripArgs) -> Result<Value> {
    let endpoint = crate::client::Endpoint::parse(&args.common.endpoint)?;
    let mut conn = SqsConn::connect(&endpoint).await?;
    let queue_url = create_queue(&mut conn, &unique_queue_name("roundtrip")).await?;
    let message = message_body(args.body_size);
    let send = send_body(&queue_url, &message);
    let md5 = md5_hex(message.as_bytes());
    let receive = receive_body(&queue_url, 1, args.wait);
    let deadline = Instant::now() + Duration::from_secs(args.timeout);

    let mut steps = Steps {
        send: Latencies::default(),
        receive: Latencies::default(),
        delete: Latencies::default(),
        total: Latencies::default(),
    };
    let mut errors = Errors::default();
    let mut empty_receives = 0u64;
    let mut done = 0;
    for i in 0..args.warmup + args.iterations {
        if Instant::now() >= deadline {
            errors.invalid(&anyhow!("timed out after {done} measured round trips"));
            break;
        }
        let measured = i >= args.warmup;
        match one_round(
            &mut conn,
            &queue_url,
            &send,
            &receive,
            md5.as_bytes(),
            &mut empty_receives,
        )
        .await
        {
            Ok(times) => {
                if measured {
                    steps.send.record(times[0]);
                    steps.receive.record(times[1]);
                    steps.delete.record(times[2]);
                    steps.total.record(times[0] + times[1] + times[2]);
                    done += 1;
                }
            }
            Err(e) => errors.invalid(&e),
        }
    }
    delete_queue(&mut conn, &queue_url).await;

    let total = steps.total.summary();
    println!(
        "roundtrip: p50={}us p90={}us p99={}us  ({done} iterations, c=1, empty receives={empty_receives}, reconnects={}) {}",
        total.percentile(50.0),
        total.percentile(90.0),
        total.percentile(99.0),
        conn.reconnects,
        errors.human()
    );
    Ok(json!({
        "bench": "roundtrip",
        "endpoint": endpoint.url,
        "iterations": done,
        "body_size": args.body_size,
        "wait_s": args.wait,
        "latency": total.to_json(),
        "send_latency": steps.send.summary().to_json(),
        "receive_latency": steps.receive.summary().to_json(),
        "delete_latency": steps.delete.summary().to_json(),
        "empty_receives": empty_receives,
        "reconnects": conn.reconnects,
        "errors": errors.to_json(),
    }))
}

/// One send/receive/delete; returns the three step durations. Any failure aborts the
/// round trip (and is counted by the caller); the message, if any, is left behind.
async fn one_round(
    conn: &mut SqsConn,
    queue_url: &str,
    send: &Bytes,
    receive: &Bytes,
    md5: &[u8],
    empty_receives: &mut u64,
) -> Result<[Duration; 3]> {
    let t0 = Instant::now();
    let reply = conn.call(Op::SendMessage, send.clone()).await?;
    if !send_reply_ok(&reply, md5) {
        bail!("SendMessage: {}", reply.describe());
    }
    let t1 = Instant::now();
    let mut empties = 0;
    let handle = loop {
        let reply = conn.call(Op::ReceiveMessage, receive.clone()).await?;
        if let Some(m) = parse_receive(&reply)?.into_iter().next() {
            break m.receipt_handle;
        }
        *empty_receives += 1;
        empties += 1;
        if empties >= MAX_EMPTY {
            bail!("message not visible after {MAX_EMPTY} receives");
        }
    };
    let t2 = Instant::now();
    let reply = conn
        .call(Op::DeleteMessage, delete_body(queue_url, &handle))
        .await?;
    check_ok(&reply)?;
    let t3 = Instant::now();
    Ok([t1 - t0, t2 - t1, t3 - t2])
}
