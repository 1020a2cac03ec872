//! `drain`: pre-fill a queue, then consume it with ReceiveMessage(10) +
//! DeleteMessageBatch workers and report the drain rate.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::CommonArgs;
use crate::client::{Endpoint, Op, SqsConn};
use crate::fill::fill;
use crate::sqs::{
    check_batch, create_queue, delete_batch_body, delete_queue, message_body, parse_receive,
    receive_body, unique_queue_name,
};
use crate::stats::{Errors, Latencies, write_json};

#[derive(Args, Debug, Clone)]
pub struct DrainArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Messages to pre-fill and then drain.
    #[arg(long, default_value_t = 10_000)]
    pub messages: usize,
    /// Concurrent consumers (one connection each).
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// WaitTimeSeconds for ReceiveMessage (0 = short poll).
    #[arg(long, default_value_t = 0)]
    pub wait: u32,
    /// Connections used for the (unmeasured) pre-fill.
    #[arg(long, default_value_t = 8)]
    pub fill_connections: usize,
    /// Message body size in bytes.
    #[arg(long, default_value_t = 100)]
    pub body_size: usize,
    /// Give up after this many seconds (fill and drain each).
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

/// State shared by the drain workers.
struct Shared {
    target: usize,
    deleted: AtomicUsize,
    started: Instant,
    /// Nanoseconds from `started` to the delete that reached `target`.
    done_nanos: AtomicU64,
    deadline: Instant,
}

struct WorkerResult {
    receive: Latencies,
    delete: Latencies,
    errors: Errors,
    received: usize,
    empty_receives: u64,
}

pub async fn run(args: DrainArgs) -> Result<()> {
    let report = measure(&args).await?;
    write_json(args.common.json.as_deref(), &report)
}

pub async fn measure(args: &DrainArgs) -> Result<Value> {
    if args.messages == 0 || args.workers == 0 {
        bail!("--messages and --workers must be positive");
    }
    let endpoint = Endpoint::parse(&args.common.endpoint)?;
    let mut setup = SqsConn::connect(&endpoint).await?;
    let queue_url = create_queue(&mut setup, &unique_queue_name("drain")).await?;
    let message = message_body(args.body_size);
    let timeout = Duration::from_secs(args.timeout);

    let filled = fill(
        &endpoint,
        &queue_url,
        &message,
        args.messages,
        args.fill_connections,
        Instant::now() + timeout,
    )
    .await?;
    if filled.sent == 0 {
        bail!("pre-fill sent nothing: {}", filled.errors.human());
    }

    let started = Instant::now();
    let shared = Arc::new(Shared {
        target: filled.sent,
        deleted: AtomicUsize::new(0),
        started,
        done_nanos: AtomicU64::new(0),
        deadline: started + timeout,
    });
    let receive = receive_body(&queue_url, 10, args.wait);
    let mut tasks = Vec::new();
    for _ in 0..args.workers {
        let (endpoint, shared, receive, queue_url) = (
            endpoint.clone(),
            shared.clone(),
            receive.clone(),
            queue_url.clone(),
        );
        tasks.push(tokio::spawn(async move {
            drain_loop(endpoint, shared, receive, queue_url).await
        }));
    }
    let mut receive_lat = Latencies::default();
    let mut delete_lat = Latencies::default();
    let mut errors = Errors::default();
    let (mut received, mut empty) = (0, 0);
    for task in tasks {
        let r = task.await?;
        receive_lat.merge(r.receive);
        delete_lat.merge(r.delete);
        errors.merge(r.errors);
        received += r.received;
        empty += r.empty_receives;
    }
    delete_queue(&mut setup, &queue_url).await;

    let deleted = shared.deleted.load(Ordering::Relaxed);
    let complete = deleted >= shared.target;
    let done_nanos = shared.done_nanos.load(Ordering::Relaxed);
    let elapsed = if complete {
        Duration::from_nanos(done_nanos)
    } else {
        started.elapsed()
    };
    let rate = deleted as f64 / elapsed.as_secs_f64().max(1e-9);
    // Running out of time is a property of the server being measured, not a wrong
    // answer: report the partial rate, flagged, instead of counting an error.
    let partial = if complete {
        String::new()
    } else {
        format!(
            " INCOMPLETE: {deleted} of {} before the {}s timeout",
            shared.target, args.timeout
        )
    };
    let fill_rate = filled.rate();
    errors.merge(filled.errors);
    let (receive_s, delete_s) = (receive_lat.summary(), delete_lat.summary());
    println!(
        "drain: {rate:.0} msg/s  ({deleted} msgs in {:.2}s, {} workers, wait={}s, receive p50={}us, empty receives={empty}; fill {:.0} msg/s){partial} {}",
        elapsed.as_secs_f64(),
        args.workers,
        args.wait,
        receive_s.percentile(50.0),
        fill_rate,
        errors.human()
    );
    Ok(json!({
        "bench": "drain",
        "endpoint": endpoint.url,
        "messages": args.messages,
        "workers": args.workers,
        "wait_s": args.wait,
        "body_size": args.body_size,
        "filled": filled.sent,
        "fill_msgs_per_s": fill_rate.round(),
        "deleted": deleted,
        "received": received,
        "empty_receives": empty,
        "complete": complete,
        "drain_s": elapsed.as_secs_f64(),
        "msgs_per_s": rate.round(),
        "receive_latency": receive_s.to_json(),
        "delete_batch_latency": delete_s.to_json(),
        "errors": errors.to_json(),
    }))
}

async fn drain_loop(
    endpoint: Endpoint,
    shared: Arc<Shared>,
    receive: bytes::Bytes,
    queue_url: String,
) -> WorkerResult {
    let mut r = WorkerResult {
        receive: Latencies::default(),
        delete: Latencies::default(),
        errors: Errors::default(),
        received: 0,
        empty_receives: 0,
    };
    let mut conn = match SqsConn::connect(&endpoint).await {
        Ok(conn) => conn,
        Err(e) => {
            r.errors.transport(&e);
            return r;
        }
    };
    while shared.deleted.load(Ordering::Relaxed) < shared.target && Instant::now() < shared.deadline
    {
        let t0 = Instant::now();
        let reply = match conn.call(Op::ReceiveMessage, receive.clone()).await {
            Ok(reply) => reply,
            Err(e) => {
                r.errors.transport(&e);
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        r.receive.record(t0.elapsed());
        let messages = match parse_receive(&reply) {
            Ok(m) => m,
            Err(e) => {
                r.errors.invalid(&e);
                continue;
            }
        };
        if messages.is_empty() {
            // Expected near the end, when the remaining messages are in flight with
            // other workers; not an error, but reported.
            r.empty_receives += 1;
            continue;
        }
        r.received += messages.len();
        let handles: Vec<String> = messages.into_iter().map(|m| m.receipt_handle).collect();
        let t1 = Instant::now();
        match conn
            .call(
                Op::DeleteMessageBatch,
                delete_batch_body(&queue_url, &handles),
            )
            .await
        {
            Ok(reply) => {
                r.delete.record(t1.elapsed());
                match check_batch(&reply, handles.len()) {
                    Ok(n) => {
                        let before = shared.deleted.fetch_add(n, Ordering::Relaxed);
                        if before < shared.target && before + n >= shared.target {
                            let nanos = u64::try_from(shared.started.elapsed().as_nanos())
                                .unwrap_or(u64::MAX);
                            shared.done_nanos.store(nanos, Ordering::Relaxed);
                        }
                    }
                    Err(e) => r.errors.invalid(&e),
                }
            }
            Err(e) => r.errors.transport(&e),
        }
    }
    r
}
