//! What `events` and `sns-fanout` share: their load/probe options and the run
//! itself (idle probes, then load with probes alongside, then the delivery
//! check), once each subcommand has built its rules or topics.

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};

use crate::client::Endpoint;
use crate::load::{self, Load, LoadResult};
use crate::probe::{self, Probe};
use crate::verify::{self, Check};

#[derive(Args, Debug, Clone)]
pub struct RoutingArgs {
    /// Concurrent keep-alive connections of the load, one task each.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Measured duration of the load, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Unmeasured load before the measured window, in seconds.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Latency probes on an idle server before the load, in seconds (0: none).
    #[arg(long, default_value_t = 2.0)]
    pub idle_probe: f64,
    /// Pause between one probe's arrival and the next, in milliseconds.
    #[arg(long, default_value_t = 5)]
    pub probe_interval_ms: u64,
    /// Receivers reading the destination queues in the delivery check.
    #[arg(long, default_value_t = 8)]
    pub verify_workers: usize,
    /// The check ends when nothing arrived for this many seconds.
    #[arg(long, default_value_t = 5.0)]
    pub settle: f64,
    /// Upper bound of the delivery check, in seconds.
    #[arg(long, default_value_t = 300.0)]
    pub verify_timeout: f64,
}

pub struct Outcome {
    pub load: LoadResult,
    pub idle: Option<(Value, u32, u32)>,
    pub loaded: (Value, u32, u32),
    pub check: Value,
    pub verified: bool,
}

/// Runs the phases. `check` gets `per_queue` filled in from the accepted count
/// times `per_item` (deliveries each accepted item must make to each queue).
pub async fn run(
    endpoint: &Endpoint,
    args: &RoutingArgs,
    load: &Load,
    probe: &Probe,
    mut check: Check,
) -> Outcome {
    let idle = if args.idle_probe > 0.0 {
        let until = Instant::now() + Duration::from_secs_f64(args.idle_probe);
        Some(probe::run_apart(endpoint, probe, until).await.report())
    } else {
        None
    };
    let start = Instant::now() + Duration::from_secs_f64(args.warmup);
    let end = start + Duration::from_secs_f64(args.duration);
    let probing = async {
        tokio::time::sleep_until(start.into()).await;
        probe::run_apart(endpoint, probe, end).await
    };
    let (load_result, loaded) = tokio::join!(
        load::run(endpoint, load, args.connections, start, end),
        probing
    );
    check.per_queue = load_result.accepted;
    let checked = verify::run(endpoint, &check).await;
    let check_json = checked.to_json(&check);
    let verified = check_json
        .get("verified")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Outcome {
        load: load_result,
        idle,
        loaded: loaded.report(),
        check: check_json,
        verified,
    }
}

impl Outcome {
    /// Report fields common to both subcommands; `rate_key` names the rate.
    pub fn into_json(self, args: &RoutingArgs, rate_key: &str, rate: f64) -> Value {
        let latency = self.load.latencies.summary().to_json();
        json!({
            "connections": args.connections,
            "duration_s": args.duration,
            rate_key: rate.round(),
            "accepted_in_window": self.load.in_window,
            "accepted_total": self.load.accepted,
            "call_latency": latency,
            "delivery_latency_idle": self.idle.map(|(j, _, _)| j),
            "delivery_latency_loaded": self.loaded.0,
            "delivery": self.check,
            "reconnects": self.load.reconnects,
            "errors": self.load.errors.to_json(),
        })
    }
}

/// A suffix unique to this run, for rule, topic and marker names.
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// `text` padded with a repeating alphabet up to `size` bytes.
pub fn padded(text: &str, size: usize) -> String {
    let mut s = text.to_string();
    let pad = crate::sqs::message_body(size.saturating_sub(s.len()));
    s.push_str(&pad);
    s
}
