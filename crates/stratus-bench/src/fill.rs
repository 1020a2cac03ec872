//! Parallel queue pre-fill with SendMessageBatch (10 messages per request), shared
//! by `drain` and `depth`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;

use crate::client::{Endpoint, Op, SqsConn};
use crate::sqs::{check_batch, send_batch_body};
use crate::stats::Errors;

/// SQS's maximum number of entries per batch.
pub const BATCH: usize = 10;

pub struct FillResult {
    /// Messages the server confirmed as sent.
    pub sent: usize,
    pub errors: Errors,
    pub elapsed: Duration,
    /// True when the deadline stopped the fill before `count` was reached.
    pub timed_out: bool,
}

impl FillResult {
    pub fn rate(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Sends `count` messages of `message` to `queue_url` over `connections`
/// connections. Work is handed out one batch at a time through an atomic counter so
/// fast connections are never idle waiting for slow ones.
pub async fn fill(
    endpoint: &Endpoint,
    queue_url: &str,
    message: &str,
    count: usize,
    connections: usize,
    deadline: Instant,
) -> Result<FillResult> {
    let started = Instant::now();
    let batches = count.div_ceil(BATCH);
    let full = send_batch_body(queue_url, message, BATCH);
    let remainder = count % BATCH;
    // The last batch is short when `count` is not a multiple of 10.
    let last = if remainder == 0 {
        full.clone()
    } else {
        send_batch_body(queue_url, message, remainder)
    };
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections.clamp(1, batches.max(1)) {
        let (endpoint, full, last, next) =
            (endpoint.clone(), full.clone(), last.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            fill_loop(endpoint, full, last, batches, count, next, deadline).await
        }));
    }
    let mut result = FillResult {
        sent: 0,
        errors: Errors::default(),
        elapsed: Duration::ZERO,
        timed_out: false,
    };
    for task in tasks {
        let (sent, errors, timed_out) = task.await?;
        result.sent += sent;
        result.errors.merge(errors);
        result.timed_out |= timed_out;
    }
    result.elapsed = started.elapsed();
    Ok(result)
}

async fn fill_loop(
    endpoint: Endpoint,
    full: Bytes,
    last: Bytes,
    batches: usize,
    count: usize,
    next: Arc<AtomicUsize>,
    deadline: Instant,
) -> (usize, Errors, bool) {
    let mut errors = Errors::default();
    let mut sent = 0;
    let mut conn = match SqsConn::connect(&endpoint).await {
        Ok(conn) => conn,
        Err(e) => {
            errors.transport(&e);
            return (0, errors, false);
        }
    };
    loop {
        if Instant::now() >= deadline {
            return (sent, errors, true);
        }
        let index = next.fetch_add(1, Ordering::Relaxed);
        if index >= batches {
            return (sent, errors, false);
        }
        let (body, size) = if index + 1 == batches {
            (last.clone(), count - index * BATCH)
        } else {
            (full.clone(), BATCH)
        };
        match conn.call(Op::SendMessageBatch, body).await {
            Ok(reply) => match check_batch(&reply, size) {
                Ok(n) => sent += n,
                Err(e) => errors.invalid(&e),
            },
            Err(e) => {
                errors.transport(&e);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
