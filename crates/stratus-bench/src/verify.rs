//! Delivery check after a load run: every destination queue is drained
//! (ReceiveMessage of ten, then DeleteMessageBatch: SQS caps in-flight
//! messages at 120,000, so received messages must go) until it gave up the
//! number of messages the accepted calls promise, or nothing more arrives, or
//! the time limit hits; what is left is then counted by GetQueueAttributes
//! (some emulators drain large queues very slowly).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::aws::queue_counts;
use crate::client::{Endpoint, Op, SqsConn};
use crate::sqs::{check_batch, delete_batch_body, receive_body};
use crate::stats::Errors;

pub struct Check {
    pub queue_urls: Vec<String>,
    /// Messages each queue must hold.
    pub per_queue: u64,
    /// Every delivered body contains this text (the run's message).
    pub marker: String,
    pub workers: usize,
    /// Stop once nothing arrived for this long (deliveries may still be in flight).
    pub settle: Duration,
    pub timeout: Duration,
}

pub struct CheckResult {
    pub received: Vec<u64>,
    pub remaining: Vec<Option<u64>>,
    pub elapsed: Duration,
    pub errors: Errors,
    pub complete: bool,
}

impl CheckResult {
    pub fn total(&self) -> u64 {
        self.received.iter().sum::<u64>() + self.remaining.iter().flatten().sum::<u64>()
    }

    pub fn to_json(&self, check: &Check) -> Value {
        let expected = check.per_queue * check.queue_urls.len() as u64;
        json!({
            "queues": check.queue_urls.len(),
            "expected": expected,
            "received": self.received.iter().sum::<u64>(),
            "per_queue": self.received,
            "left_in_queues": self.remaining.iter().flatten().sum::<u64>(),
            "delivered": self.total(),
            // A drain cut short by the time limit is completed by the queues'
            // own counts (exact on every emulator measured).
            "verified": self.total() == expected
                && self.remaining.len() == check.queue_urls.len()
                && self.remaining.iter().all(Option::is_some),
            "complete": self.complete,
            "seconds": (self.elapsed.as_secs_f64() * 100.0).round() / 100.0,
            "errors": self.errors.to_json(),
        })
    }
}

pub async fn run(endpoint: &Endpoint, check: &Check) -> CheckResult {
    let started = Instant::now();
    let deadline = started + check.timeout;
    let last_progress = Arc::new(AtomicU64::new(0));
    let counts: Vec<Arc<AtomicU64>> = check
        .queue_urls
        .iter()
        .map(|_| Arc::new(AtomicU64::new(0)))
        .collect();
    let mut tasks = Vec::new();
    let workers = check.workers.max(check.queue_urls.len());
    for w in 0..workers {
        let q = w % check.queue_urls.len().max(1);
        let Some(url) = check.queue_urls.get(q) else {
            break;
        };
        let ctx = Worker {
            endpoint: endpoint.clone(),
            queue_url: url.clone(),
            count: counts[q].clone(),
            expected: check.per_queue,
            marker: check.marker.clone(),
            last_progress: last_progress.clone(),
            started,
            settle: check.settle,
            deadline,
        };
        tasks.push(tokio::spawn(ctx.run()));
    }
    let mut errors = Errors::default();
    for t in tasks {
        match t.await {
            Ok(e) => errors.merge(e),
            Err(e) => errors.transport(&anyhow::anyhow!("verify task: {e}")),
        }
    }
    let received: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let complete = received.iter().all(|&n| n >= check.per_queue);
    let mut remaining = Vec::new();
    if let Ok(mut conn) = SqsConn::connect(endpoint).await {
        for url in &check.queue_urls {
            remaining.push(queue_counts(&mut conn, url).await.map(|(v, h)| v + h));
        }
    }
    CheckResult {
        received,
        remaining,
        elapsed: started.elapsed(),
        errors,
        complete,
    }
}

struct Worker {
    endpoint: Endpoint,
    queue_url: String,
    count: Arc<AtomicU64>,
    expected: u64,
    marker: String,
    last_progress: Arc<AtomicU64>,
    started: Instant,
    settle: Duration,
    deadline: Instant,
}

impl Worker {
    fn ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    async fn run(self) -> Errors {
        let mut errors = Errors::default();
        let mut conn = match SqsConn::connect(&self.endpoint).await {
            Ok(c) => c,
            Err(e) => {
                errors.transport(&e);
                return errors;
            }
        };
        let quick = receive_body(&self.queue_url, 10, 0);
        let slow = receive_body(&self.queue_url, 10, 1);
        let settle_ms = u64::try_from(self.settle.as_millis()).unwrap_or(u64::MAX);
        let mut empty = false;
        loop {
            if self.count.load(Ordering::Relaxed) >= self.expected
                || Instant::now() >= self.deadline
                || self.ms() > self.last_progress.load(Ordering::Relaxed) + settle_ms
            {
                break;
            }
            let body = if empty { slow.clone() } else { quick.clone() };
            let reply = match conn.call(Op::ReceiveMessage, body).await {
                Ok(r) => r,
                Err(e) => {
                    errors.transport(&e);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let parsed: Option<Value> = reply
                .is_ok()
                .then(|| serde_json::from_slice(&reply.body).ok())
                .flatten();
            let Some(value) = parsed else {
                errors.bad_reply(&reply, "ReceiveMessage");
                continue;
            };
            let mut got = 0;
            let mut handles = Vec::new();
            for m in value
                .get("Messages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                match m.get("Body").and_then(Value::as_str) {
                    Some(b) if b.contains(&self.marker) => got += 1,
                    _ => errors.invalid(&anyhow::anyhow!("unexpected message: {m}")),
                }
                if let Some(h) = m.get("ReceiptHandle").and_then(Value::as_str) {
                    handles.push(h.to_string());
                }
            }
            if !handles.is_empty() {
                let body = delete_batch_body(&self.queue_url, &handles);
                match conn.call(Op::DeleteMessageBatch, body).await {
                    Ok(reply) => {
                        if let Err(e) = check_batch(&reply, handles.len()) {
                            errors.invalid(&e);
                        }
                    }
                    Err(e) => errors.transport(&e),
                }
            }
            empty = got == 0;
            if got > 0 {
                self.count.fetch_add(got, Ordering::Relaxed);
                self.last_progress.fetch_max(self.ms(), Ordering::Relaxed);
            }
        }
        errors
    }
}
