//! Delivery latency: "the publishing call returned" → "the message is
//! receivable from the queue".
//!
//! A prober sends one marked message at a time (a PutEvents entry or an SNS
//! Publish whose text carries `<marker><seq>;`) and notes when the call
//! returned; a receiver long-polls the probe queue on its own connection and
//! notes when each marked message arrived. The latency is the difference (zero
//! when the message was already there before the call returned). Probes use
//! their own rule / topic and queue, so under load they measure the delivery
//! path, not how fast anyone drains the loaded queues.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::Notify;

use crate::client::{Endpoint, Op, Reply, SqsConn, Wire};
use crate::sqs::receive_body;
use crate::stats::{Errors, Latencies};

/// How long a probe may take to arrive before it counts as lost.
const LOST_AFTER: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Probe {
    pub wire: Wire,
    pub what: &'static str,
    /// The request that publishes probe `seq`.
    pub body: Arc<dyn Fn(u64) -> Bytes + Send + Sync>,
    pub valid: fn(&Reply, usize) -> bool,
    pub queue_url: String,
    /// Unique per run; the message text contains `<marker><seq>;`.
    pub marker: String,
    /// Pause between one probe's arrival and the next probe.
    pub interval: Duration,
}

#[derive(Default)]
pub struct ProbeResult {
    pub latencies: Latencies,
    pub lost: u64,
    pub errors: Errors,
}

impl ProbeResult {
    /// The report section, and the p50/p99 in µs for the summary line.
    pub fn report(self) -> (serde_json::Value, u32, u32) {
        let summary = self.latencies.summary();
        let (p50, p99) = (summary.percentile(50.0), summary.percentile(99.0));
        let json = serde_json::json!({
            "latency": summary.to_json(),
            "lost": self.lost,
            "errors": self.errors.to_json(),
        });
        (json, p50, p99)
    }
}

#[derive(Default)]
struct Arrivals {
    at: Mutex<HashMap<u64, Instant>>,
    notify: Notify,
}

/// The probe number in a received message body, if it is one of ours.
pub fn probe_seq(body: &str, marker: &str) -> Option<u64> {
    let rest = &body[body.find(marker)? + marker.len()..];
    let end = rest.find(';')?;
    rest[..end].parse().ok()
}

/// Probes until `until` on a thread of its own: the load's tasks share the
/// client's runtime, and queueing behind them would be counted as delivery
/// latency.
pub async fn run_apart(endpoint: &Endpoint, probe: &Probe, until: Instant) -> ProbeResult {
    let (endpoint, probe) = (endpoint.clone(), probe.clone());
    let joined = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        anyhow::Ok(rt.block_on(run(&endpoint, &probe, until)))
    })
    .await;
    match joined {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => {
            let mut result = ProbeResult::default();
            result.errors.transport(&e);
            result
        }
        Err(e) => {
            let mut result = ProbeResult::default();
            result
                .errors
                .transport(&anyhow::anyhow!("probe thread: {e}"));
            result
        }
    }
}

/// Probes until `until`, one at a time.
async fn run(endpoint: &Endpoint, probe: &Probe, until: Instant) -> ProbeResult {
    let mut result = ProbeResult::default();
    let arrivals = Arc::new(Arrivals::default());
    let stop = Arc::new(AtomicBool::new(false));
    let receiver = {
        let (endpoint, arrivals, stop) = (endpoint.clone(), arrivals.clone(), stop.clone());
        let (queue_url, marker) = (probe.queue_url.clone(), probe.marker.clone());
        tokio::spawn(async move { receive_loop(endpoint, queue_url, marker, arrivals, stop).await })
    };
    let mut conn = match SqsConn::connect(endpoint).await {
        Ok(c) => c,
        Err(e) => {
            result.errors.transport(&e);
            stop.store(true, Ordering::Relaxed);
            return result;
        }
    };
    let mut seq = 0u64;
    while Instant::now() < until {
        seq += 1;
        let outcome = conn
            .request(probe.wire, probe.what, (probe.body)(seq))
            .await;
        let returned = Instant::now();
        match outcome {
            Ok(reply) if (probe.valid)(&reply, 1) => {}
            Ok(reply) => {
                result.errors.bad_reply(&reply, probe.what);
                tokio::time::sleep(probe.interval).await;
                continue;
            }
            Err(e) => {
                result.errors.transport(&e);
                tokio::time::sleep(probe.interval.max(Duration::from_millis(10))).await;
                continue;
            }
        }
        match wait_arrival(&arrivals, seq, returned + LOST_AFTER).await {
            Some(at) => result
                .latencies
                .record(at.saturating_duration_since(returned)),
            None => result.lost += 1,
        }
        tokio::time::sleep(probe.interval).await;
    }
    stop.store(true, Ordering::Relaxed);
    match receiver.await {
        Ok(errors) => result.errors.merge(errors),
        Err(e) => result
            .errors
            .transport(&anyhow::anyhow!("probe receiver: {e}")),
    }
    result
}

async fn wait_arrival(arrivals: &Arrivals, seq: u64, deadline: Instant) -> Option<Instant> {
    loop {
        // Register for the wake-up before looking, so an arrival in between is not missed.
        let notified = arrivals.notify.notified();
        if let Some(at) = arrivals.at.lock().ok()?.get(&seq).copied() {
            return Some(at);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        let _ = tokio::time::timeout(deadline - now, notified).await;
    }
}

/// Long-polls the probe queue and records each probe's arrival time. Messages
/// are not deleted: the queue's long visibility timeout hides them, and the
/// queue is deleted afterwards (a few thousand probes stay far below SQS's
/// in-flight limit).
async fn receive_loop(
    endpoint: Endpoint,
    queue_url: String,
    marker: String,
    arrivals: Arc<Arrivals>,
    stop: Arc<AtomicBool>,
) -> Errors {
    let mut errors = Errors::default();
    let mut conn = match SqsConn::connect(&endpoint).await {
        Ok(c) => c,
        Err(e) => {
            errors.transport(&e);
            return errors;
        }
    };
    let body = receive_body(&queue_url, 10, 1);
    while !stop.load(Ordering::Relaxed) {
        let reply = match conn.call(Op::ReceiveMessage, body.clone()).await {
            Ok(r) => r,
            Err(e) => {
                errors.transport(&e);
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let now = Instant::now();
        let parsed: Option<Value> = reply
            .is_ok()
            .then(|| serde_json::from_slice(&reply.body).ok())
            .flatten();
        let Some(value) = parsed else {
            errors.bad_reply(&reply, "ReceiveMessage (probe)");
            continue;
        };
        let bodies = value
            .get("Messages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("Body").and_then(Value::as_str));
        let mut any = false;
        if let Ok(mut at) = arrivals.at.lock() {
            for b in bodies {
                if let Some(seq) = probe_seq(b, &marker) {
                    at.entry(seq).or_insert(now);
                    any = true;
                }
            }
        }
        if any {
            arrivals.notify.notify_waiters();
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_probe_numbers() {
        assert_eq!(
            probe_seq("x bench-probe-ab-12; y", "bench-probe-ab-"),
            Some(12)
        );
        assert_eq!(
            probe_seq(r#"{"Message" : "bench-probe-ab-7;"}"#, "bench-probe-ab-"),
            Some(7)
        );
        assert_eq!(probe_seq("bench-probe-zz-7;", "bench-probe-ab-"), None);
        assert_eq!(probe_seq("bench-probe-ab-7", "bench-probe-ab-"), None);
    }
}
