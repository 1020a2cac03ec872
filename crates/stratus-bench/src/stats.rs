//! Latency samples, error accounting and report output shared by all subcommands.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::client::Reply;

/// Raw latency samples in microseconds. Raw samples (not a histogram) keep the
/// percentiles exact; even a 10 s run at 100k req/s is only a few MB.
#[derive(Default)]
pub struct Latencies {
    samples: Vec<u32>,
}

impl Latencies {
    pub fn record(&mut self, elapsed: Duration) {
        self.samples
            .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
    }

    pub fn merge(&mut self, other: Latencies) {
        self.samples.extend(other.samples);
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Sorts once so that subsequent percentile queries are O(1).
    pub fn summary(mut self) -> Summary {
        self.samples.sort_unstable();
        Summary {
            sorted: self.samples,
        }
    }
}

pub struct Summary {
    sorted: Vec<u32>,
}

impl Summary {
    /// Nearest-rank percentile in microseconds (0 when there are no samples).
    pub fn percentile(&self, p: f64) -> u32 {
        if self.sorted.is_empty() {
            return 0;
        }
        let rank = ((p / 100.0) * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    pub fn count(&self) -> usize {
        self.sorted.len()
    }

    pub fn mean(&self) -> f64 {
        if self.sorted.is_empty() {
            return 0.0;
        }
        self.sorted.iter().map(|&v| f64::from(v)).sum::<f64>() / self.sorted.len() as f64
    }

    pub fn to_json(&self) -> Value {
        json!({
            "count": self.count(),
            "mean_us": self.mean().round(),
            "p50_us": self.percentile(50.0),
            "p90_us": self.percentile(90.0),
            "p99_us": self.percentile(99.0),
            "max_us": self.sorted.last().copied().unwrap_or(0),
        })
    }
}

/// Counts everything that went wrong, by kind, and keeps the first example so a
/// failing run explains itself instead of just printing a number.
#[derive(Default)]
pub struct Errors {
    pub transport: u64,
    pub status: BTreeMap<u16, u64>,
    pub invalid: u64,
    pub first: Option<String>,
}

impl Errors {
    pub fn total(&self) -> u64 {
        self.transport + self.invalid + self.status.values().sum::<u64>()
    }

    fn remember(&mut self, what: String) {
        if self.first.is_none() {
            self.first = Some(what);
        }
    }

    pub fn transport(&mut self, err: &anyhow::Error) {
        self.transport += 1;
        self.remember(format!("transport: {err:#}"));
    }

    /// A reply that failed validation: non-200 is counted by status code, a 200 with
    /// a wrong or missing payload as `invalid`.
    pub fn bad_reply(&mut self, reply: &Reply, why: &str) {
        if reply.is_ok() {
            self.invalid += 1;
        } else {
            *self.status.entry(reply.status.as_u16()).or_default() += 1;
        }
        self.remember(format!("{why}: {}", reply.describe()));
    }

    pub fn invalid(&mut self, err: &anyhow::Error) {
        self.invalid += 1;
        self.remember(format!("invalid: {err:#}"));
    }

    pub fn merge(&mut self, other: Errors) {
        self.transport += other.transport;
        self.invalid += other.invalid;
        for (code, n) in other.status {
            *self.status.entry(code).or_default() += n;
        }
        if self.first.is_none() {
            self.first = other.first;
        }
    }

    pub fn to_json(&self) -> Value {
        let status: BTreeMap<String, u64> = self
            .status
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        json!({
            "total": self.total(),
            "transport": self.transport,
            "invalid": self.invalid,
            "http_status": status,
            "first": self.first,
        })
    }

    /// Suffix for the human-readable line; loud on purpose when non-zero.
    pub fn human(&self) -> String {
        if self.total() == 0 {
            "errors=0".to_string()
        } else {
            format!(
                "ERRORS={} (first: {})",
                self.total(),
                self.first.as_deref().unwrap_or("?")
            )
        }
    }
}

/// Writes a pretty-printed JSON report when `--json` was given.
pub fn write_json(path: Option<&Path>, report: &Value) -> Result<()> {
    if let Some(path) = path {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(report)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut l = Latencies::default();
        for us in 1..=100 {
            l.record(Duration::from_micros(us));
        }
        let s = l.summary();
        assert_eq!(s.percentile(50.0), 50);
        assert_eq!(s.percentile(99.0), 99);
        assert_eq!(s.percentile(100.0), 100);
        assert_eq!(s.percentile(0.0), 1);
    }

    #[test]
    fn empty_summary_is_zero() {
        let s = Latencies::default().summary();
        assert_eq!(s.percentile(50.0), 0);
        assert!(s.mean().abs() < f64::EPSILON);
    }

    #[test]
    fn errors_merge_and_total() {
        let mut a = Errors::default();
        a.transport(&anyhow::anyhow!("boom"));
        let mut b = Errors::default();
        b.status.insert(500, 2);
        a.merge(b);
        assert_eq!(a.total(), 3);
        assert!(a.human().starts_with("ERRORS=3"));
    }
}
