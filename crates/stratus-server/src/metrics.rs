//! Prometheus metrics: `stratus_requests_total{service,operation,code}` and
//! `stratus_request_duration_seconds{service,operation}` (histogram).

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;

const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 25.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

#[derive(Default)]
pub struct Metrics {
    counts: RwLock<HashMap<(String, String, String), Arc<AtomicU64>>>,
    latency: RwLock<HashMap<(String, String), Arc<Histogram>>>,
}

fn slot<K: std::hash::Hash + Eq + Clone, V: Default>(
    map: &RwLock<HashMap<K, Arc<V>>>,
    key: &K,
) -> Arc<V> {
    if let Some(v) = map.read().get(key) {
        return v.clone();
    }
    map.write().entry(key.clone()).or_default().clone()
}

impl Metrics {
    pub fn record(&self, service: &str, operation: &str, code: &str, elapsed: Duration) {
        let key = (service.to_string(), operation.to_string(), code.to_string());
        slot(&self.counts, &key).fetch_add(1, Ordering::Relaxed);
        let h = slot(&self.latency, &(key.0, key.1));
        let secs = elapsed.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.buckets[i].fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
        h.count.fetch_add(1, Ordering::Relaxed);
        h.sum_nanos
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP stratus_requests_total Requests handled, by service, operation and result code.\n# TYPE stratus_requests_total counter\n");
        let mut counts: Vec<_> = self
            .counts
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
            .collect();
        counts.sort();
        for ((s, o, c), n) in counts {
            let _ = writeln!(
                out,
                "stratus_requests_total{{service=\"{s}\",operation=\"{o}\",code=\"{c}\"}} {n}"
            );
        }
        out.push_str("# HELP stratus_request_duration_seconds Time from request received to response ready.\n# TYPE stratus_request_duration_seconds histogram\n");
        let mut hists: Vec<_> = self
            .latency
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        hists.sort_by(|a, b| a.0.cmp(&b.0));
        for ((s, o), h) in hists {
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
        m.record("sqs", "SendMessage", "QueueDoesNotExist", Duration::from_millis(2));
        let text = m.render();
        assert!(text.contains(
            "stratus_requests_total{service=\"sqs\",operation=\"SendMessage\",code=\"200\"} 1"
        ));
        assert!(text.contains(
            "stratus_request_duration_seconds_count{service=\"sqs\",operation=\"SendMessage\"} 2"
        ));
    }
}
