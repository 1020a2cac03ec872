//! Prometheus metrics: `stratus_requests_total{service,operation,code}` and
//! `stratus_request_duration_seconds{service,operation}` (histogram).

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 25.0,
];

#[derive(Default)]
struct OpStats {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
    /// Successes are counted lock-free; error codes (rarer) in a small map.
    ok: AtomicU64,
    errors: Mutex<HashMap<String, u64>>,
}

/// Per service, per operation. Lookups borrow `&str`, so recording a request
/// allocates nothing once its operation has been seen.
#[derive(Default)]
pub struct Metrics {
    ops: RwLock<HashMap<String, HashMap<String, Arc<OpStats>>>>,
}

impl Metrics {
    fn stats(&self, service: &str, operation: &str) -> Arc<OpStats> {
        if let Some(s) = self.ops.read().get(service).and_then(|m| m.get(operation)) {
            return s.clone();
        }
        self.ops
            .write()
            .entry(service.to_string())
            .or_default()
            .entry(operation.to_string())
            .or_default()
            .clone()
    }

    pub fn record(&self, service: &str, operation: &str, code: &str, elapsed: Duration) {
        let h = self.stats(service, operation);
        if code == "200" {
            h.ok.fetch_add(1, Ordering::Relaxed);
        } else {
            *h.errors.lock().entry(code.to_string()).or_default() += 1;
        }
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            h.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        h.count.fetch_add(1, Ordering::Relaxed);
        h.sum_nanos
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut all: Vec<(String, String, Arc<OpStats>)> = self
            .ops
            .read()
            .iter()
            .flat_map(|(s, ops)| {
                ops.iter()
                    .map(move |(o, h)| (s.clone(), o.clone(), h.clone()))
            })
            .collect();
        all.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let mut out = String::new();
        out.push_str("# HELP stratus_requests_total Requests handled, by service, operation and result code.\n# TYPE stratus_requests_total counter\n");
        for (s, o, h) in &all {
            let mut codes: Vec<(String, u64)> = h
                .errors
                .lock()
                .iter()
                .map(|(c, n)| (c.clone(), *n))
                .collect();
            codes.push(("200".to_string(), h.ok.load(Ordering::Relaxed)));
            codes.sort();
            for (c, n) in codes.into_iter().filter(|(_, n)| *n > 0) {
                let _ = writeln!(
                    out,
                    "stratus_requests_total{{service=\"{s}\",operation=\"{o}\",code=\"{c}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP stratus_request_duration_seconds Time from request received to response ready.\n# TYPE stratus_request_duration_seconds histogram\n");
        for (s, o, h) in &all {
            let mut cumulative = 0;
            for (i, b) in BUCKETS.iter().enumerate() {
                cumulative += h.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "stratus_request_duration_seconds_bucket{{service=\"{s}\",operation=\"{o}\",le=\"{b}\"}} {cumulative}"
                );
            }
            let count = h.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "stratus_request_duration_seconds_bucket{{service=\"{s}\",operation=\"{o}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "stratus_request_duration_seconds_sum{{service=\"{s}\",operation=\"{o}\"}} {}",
                h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
            );
            let _ = writeln!(
                out,
                "stratus_request_duration_seconds_count{{service=\"{s}\",operation=\"{o}\"}} {count}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_histograms() {
        let m = Metrics::default();
        m.record("sqs", "SendMessage", "200", Duration::from_micros(50));
        m.record(
            "sqs",
            "SendMessage",
            "QueueDoesNotExist",
            Duration::from_millis(2),
        );
        let text = m.render();
        assert!(text.contains(
            "stratus_requests_total{service=\"sqs\",operation=\"SendMessage\",code=\"200\"} 1"
        ));
        assert!(text.contains(
            "stratus_request_duration_seconds_count{service=\"sqs\",operation=\"SendMessage\"} 2"
        ));
    }
}
