//! `lambda-sqs`: an SQS queue pre-filled with N messages is consumed through an
//! event source mapping by a no-op Python function; reports the time from
//! CreateEventSourceMapping until the queue is empty and every invocation has
//! finished.
//!
//! "Empty" means ApproximateNumberOfMessages + ApproximateNumberOfMessagesNotVisible
//! = 0: the mapping deletes a batch only after its invocation succeeded, so no
//! visible and no in-flight message left means every message was processed.
//! With `--count-file` (only meaningful when the function runs on this host, as
//! with Stratus) the function also appends each batch's size to that file, and
//! the total must equal the number of messages sent.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use bytes::Bytes;
use clap::Args;
use serde_json::{Map, Value, json};

use crate::CommonArgs;
use crate::client::{Endpoint, Op, SqsConn};
use crate::fill::fill;
use crate::lambda::{
    FunctionArgs, create_event_source_mapping, create_function, delete_event_source_mapping,
    delete_function, get_event_source_mapping, unique_function_name,
};
use crate::sqs::{create_queue, delete_queue, message_body, parse_json, unique_queue_name};
use crate::stats::{Errors, write_json};

#[derive(Args, Debug, Clone)]
pub struct LambdaSqsArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub function: FunctionArgs,
    /// Messages queued before the mapping is created.
    #[arg(long, default_value_t = 10_000)]
    pub messages: usize,
    /// BatchSize of the event source mapping.
    #[arg(long, default_value_t = 10)]
    pub batch_size: u32,
    /// Connections used for the (unmeasured) pre-fill.
    #[arg(long, default_value_t = 8)]
    pub fill_connections: usize,
    /// Message body size in bytes.
    #[arg(long, default_value_t = 100)]
    pub body_size: usize,
    /// Give up after this many seconds (fill and consumption each).
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// File the function appends each batch's size to (function on this host only).
    #[arg(long)]
    pub count_file: Option<PathBuf>,
}

/// Milliseconds between two queue-depth polls: small next to the seconds the
/// whole run takes, large enough not to load the server.
const POLL: Duration = Duration::from_millis(10);

async fn queue_attributes(conn: &mut SqsConn, queue_url: &str) -> Result<Map<String, Value>> {
    let body = json!({ "QueueUrl": queue_url, "AttributeNames": ["All"] });
    let reply = conn
        .call(Op::GetQueueAttributes, Bytes::from(body.to_string()))
        .await?;
    let v = parse_json(&reply)?;
    v.get("Attributes")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| anyhow!("GetQueueAttributes reply lacks Attributes"))
}

fn count(attrs: &Map<String, Value>, key: &str) -> Result<u64> {
    attrs
        .get(key)
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("GetQueueAttributes lacks {key}"))
}

/// Visible + in flight.
async fn depth(conn: &mut SqsConn, queue_url: &str) -> Result<u64> {
    let attrs = queue_attributes(conn, queue_url).await?;
    Ok(count(&attrs, "ApproximateNumberOfMessages")?
        + count(&attrs, "ApproximateNumberOfMessagesNotVisible")?)
}

/// Sum of the batch sizes the function wrote, and the number of batches.
fn read_counts(path: &PathBuf) -> Result<(u64, u64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut total = 0u64;
    let mut batches = 0u64;
    for line in text.lines() {
        total += line
            .trim()
            .parse::<u64>()
            .map_err(|e| anyhow!("{}: bad line {line:?}: {e}", path.display()))?;
        batches += 1;
    }
    Ok((total, batches))
}

pub async fn run(args: LambdaSqsArgs) -> Result<()> {
    let report = measure(&args).await?;
    write_json(args.common.json.as_deref(), &report)
}

pub async fn measure(args: &LambdaSqsArgs) -> Result<Value> {
    if args.messages == 0 || args.batch_size == 0 {
        bail!("--messages and --batch-size must be positive");
    }
    let endpoint = Endpoint::parse(&args.common.endpoint)?;
    let mut conn = SqsConn::connect(&endpoint).await?;
    let mut vars = Map::new();
    if let Some(path) = &args.count_file {
        std::fs::write(path, "")?;
        let absolute = std::path::absolute(path)?;
        vars.insert(
            "BENCH_COUNT_FILE".into(),
            Value::String(absolute.display().to_string()),
        );
    }
    let function = unique_function_name("sqs");
    create_function(&mut conn, &function, "bench_fn.sqs", &vars, &args.function).await?;
    let queue_url = create_queue(&mut conn, &unique_queue_name("lambda")).await?;
    let queue_arn = queue_attributes(&mut conn, &queue_url)
        .await?
        .get("QueueArn")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow!("GetQueueAttributes lacks QueueArn"))?;
    let timeout = Duration::from_secs(args.timeout);
    let filled = fill(
        &endpoint,
        &queue_url,
        &message_body(args.body_size),
        args.messages,
        args.fill_connections,
        Instant::now() + timeout,
    )
    .await?;
    let mut errors = Errors::default();
    let queued = depth(&mut conn, &queue_url).await?;
    if filled.sent != args.messages || queued != args.messages as u64 {
        errors.invalid(&anyhow!(
            "pre-fill: {} sent, queue depth {queued}, wanted {}",
            filled.sent,
            args.messages
        ));
    }

    let started = Instant::now();
    let uuid =
        create_event_source_mapping(&mut conn, &function, &queue_arn, args.batch_size).await?;
    let mut first_progress = None;
    let deadline = started + timeout;
    let mut left = queued;
    let complete = loop {
        match depth(&mut conn, &queue_url).await {
            Ok(0) => {
                left = 0;
                break true;
            }
            Ok(n) => {
                if n < queued && first_progress.is_none() {
                    first_progress = Some(started.elapsed());
                }
                left = n;
            }
            Err(e) => errors.transport(&e),
        }
        if Instant::now() >= deadline {
            break false;
        }
        tokio::time::sleep(POLL).await;
    };
    let elapsed = started.elapsed();
    let mapping = get_event_source_mapping(&mut conn, &uuid).await;
    delete_event_source_mapping(&mut conn, &uuid).await;
    let state = match &mapping {
        Ok(m) => m
            .get("State")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string(),
        Err(e) => format!("GetEventSourceMapping failed: {e:#}"),
    };
    if state != "Enabled" {
        errors.invalid(&anyhow!("mapping state after the run: {state}"));
    }
    if let Some(m) = mapping.as_ref().ok()
        && let Some(result) = m.get("LastProcessingResult").and_then(Value::as_str)
        && result.to_ascii_uppercase().starts_with("PROBLEM")
    {
        errors.invalid(&anyhow!("mapping LastProcessingResult: {result}"));
    }
    // Invocations have all returned once nothing is in flight; give a lagging
    // writer a moment anyway before reading the counts.
    let counts = match &args.count_file {
        Some(path) => {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let (total, batches) = read_counts(path)?;
            if complete && total != filled.sent as u64 {
                errors.invalid(&anyhow!(
                    "the function saw {total} messages in {batches} batches, {} were sent",
                    filled.sent
                ));
            }
            Some((total, batches))
        }
        None => None,
    };
    delete_function(&mut conn, &function).await;
    delete_queue(&mut conn, &queue_url).await;
    let fill_rate = filled.rate();
    errors.merge(filled.errors);

    let rate = (queued - left) as f64 / elapsed.as_secs_f64().max(1e-9);
    let partial = if complete {
        String::new()
    } else {
        format!(
            " INCOMPLETE: {left} of {queued} left after {}s",
            args.timeout
        )
    };
    let seen = counts.map_or_else(String::new, |(t, b)| {
        format!(", function saw {t} msgs in {b} batches")
    });
    println!(
        "lambda-sqs: {queued} msgs consumed in {:.2}s ({rate:.0} msg/s, batch size {}, first progress after {:.0}ms{seen}){partial} {}",
        elapsed.as_secs_f64(),
        args.batch_size,
        first_progress.unwrap_or(elapsed).as_secs_f64() * 1000.0,
        errors.human()
    );
    Ok(json!({
        "bench": "lambda-sqs",
        "endpoint": endpoint.url,
        "runtime": args.function.runtime,
        "messages": queued,
        "batch_size": args.batch_size,
        "complete": complete,
        "left": left,
        "consume_s": elapsed.as_secs_f64(),
        "msgs_per_s": rate.round(),
        "first_progress_ms": first_progress.map(|d| d.as_secs_f64() * 1000.0),
        "fill_msgs_per_s": fill_rate.round(),
        "function_messages": counts.map(|c| c.0),
        "function_batches": counts.map(|c| c.1),
        "mapping_state": state,
        "errors": errors.to_json(),
    }))
}
