//! `lambda-warm`: warm Invoke of a no-op Python function — latency at
//! concurrency 1, then invocations per second at N connections.
//!
//! The latency reported is what the client observes (request written → reply
//! read), which bounds the platform's overhead from above; the handler's own
//! run time (measured inside the function) is reported beside it, and
//! `overhead` = client latency − handler time per invocation.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::Bytes;
use clap::Args;
use serde_json::{Map, Value, json};

use crate::CommonArgs;
use crate::client::{Endpoint, SqsConn};
use crate::lambda::{
    FunctionArgs, create_function, delete_function, invoke, invoke_path, parse_noop,
    unique_function_name,
};
use crate::stats::{Errors, Latencies, write_json};

#[derive(Args, Debug, Clone)]
pub struct LambdaWarmArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub function: FunctionArgs,
    /// Measured sequential invocations (concurrency 1).
    #[arg(long, default_value_t = 2000)]
    pub iterations: usize,
    /// Unmeasured invocations first (the first one is the cold start).
    #[arg(long, default_value_t = 50)]
    pub warmup: usize,
    /// Connections for the throughput phase (each concurrent invocation needs its
    /// own execution environment, so this is also the number of environments).
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Measured seconds of the throughput phase (0 skips it).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Unmeasured seconds before the throughput window (starts the environments).
    #[arg(long, default_value_t = 2.0)]
    pub warmup_s: f64,
}

/// Payload of every invocation: a small JSON object, built once.
const PAYLOAD: &[u8] = br#"{"bench":"lambda-warm"}"#;

struct Sample {
    latency: Latencies,
    handler: Latencies,
    overhead: Latencies,
    errors: Errors,
    /// Invocations the function reported as the first of its process.
    cold: u64,
    pids: HashSet<u64>,
}

impl Sample {
    fn new() -> Self {
        Sample {
            latency: Latencies::default(),
            handler: Latencies::default(),
            overhead: Latencies::default(),
            errors: Errors::default(),
            cold: 0,
            pids: HashSet::new(),
        }
    }

    fn merge(&mut self, other: Sample) {
        self.latency.merge(other.latency);
        self.handler.merge(other.handler);
        self.overhead.merge(other.overhead);
        self.errors.merge(other.errors);
        self.cold += other.cold;
        self.pids.extend(other.pids);
    }
}

/// One invocation; records it in `into` when `measured` says so (given the time
/// the reply arrived).
async fn one(
    conn: &mut SqsConn,
    path: &str,
    into: &mut Sample,
    measured: impl Fn(Instant) -> bool,
) -> bool {
    let sent = Instant::now();
    let outcome = invoke(conn, path, Bytes::from_static(PAYLOAD)).await;
    let done = Instant::now();
    match outcome {
        Ok(reply) => match parse_noop(&reply) {
            Ok(r) => {
                if measured(done) {
                    let latency = done - sent;
                    let handler = Duration::from_nanos(r.handler_ns);
                    into.latency.record(latency);
                    into.handler.record(handler);
                    into.overhead.record(latency.saturating_sub(handler));
                    into.cold += u64::from(r.cold);
                    into.pids.insert(r.pid);
                }
                true
            }
            Err(e) => {
                into.errors.invalid(&e);
                false
            }
        },
        Err(e) => {
            into.errors.transport(&e);
            // Avoid a hot spin if the server is gone; deadlines still bound us.
            tokio::time::sleep(Duration::from_millis(10)).await;
            false
        }
    }
}

pub async fn run(args: LambdaWarmArgs) -> Result<()> {
    let report = measure(&args).await?;
    write_json(args.common.json.as_deref(), &report)
}

pub async fn measure(args: &LambdaWarmArgs) -> Result<Value> {
    if args.connections == 0 || args.iterations == 0 {
        bail!("--connections and --iterations must be positive");
    }
    let endpoint = Endpoint::parse(&args.common.endpoint)?;
    let mut setup = SqsConn::connect(&endpoint).await?;
    let name = unique_function_name("warm");
    create_function(
        &mut setup,
        &name,
        "bench_fn.noop",
        &Map::new(),
        &args.function,
    )
    .await?;
    let path = invoke_path(&name);

    let mut seq = Sample::new();
    let started = Instant::now();
    for i in 0..args.warmup + args.iterations {
        one(&mut setup, &path, &mut seq, |_| i >= args.warmup).await;
    }
    let seq_elapsed = started.elapsed();
    let seq_rate = args.iterations as f64 / seq_elapsed.as_secs_f64().max(1e-9);

    let mut par = Sample::new();
    let mut par_ok = 0;
    if args.duration > 0.0 {
        let window_start = Instant::now() + Duration::from_secs_f64(args.warmup_s);
        let window_end = window_start + Duration::from_secs_f64(args.duration);
        let mut tasks = Vec::with_capacity(args.connections);
        for _ in 0..args.connections {
            let (endpoint, path) = (endpoint.clone(), path.clone());
            tasks.push(tokio::spawn(async move {
                let mut sample = Sample::new();
                let mut conn = match SqsConn::connect(&endpoint).await {
                    Ok(conn) => conn,
                    Err(e) => {
                        sample.errors.transport(&e);
                        return sample;
                    }
                };
                while Instant::now() < window_end {
                    one(&mut conn, &path, &mut sample, |done| {
                        done >= window_start && done < window_end
                    })
                    .await;
                }
                sample
            }));
        }
        for task in tasks {
            par.merge(task.await?);
        }
        par_ok = par.latency.len();
    }
    delete_function(&mut setup, &name).await;

    let par_rate = par_ok as f64 / args.duration.max(1e-9);
    let mut errors = Errors::default();
    let (seq_cold, par_cold) = (seq.cold, par.cold);
    let (seq_pids, par_pids) = (seq.pids.len(), par.pids.len());
    errors.merge(seq.errors);
    errors.merge(par.errors);
    let latency = seq.latency.summary();
    let handler = seq.handler.summary();
    let overhead = seq.overhead.summary();
    let par_latency = par.latency.summary();
    println!(
        "lambda-warm: c=1 p50={}us p99={}us (handler p50={}us, overhead p50={}us, {seq_rate:.0}/s); c={}: {par_rate:.0} invocations/s p50={}us p99={}us ({par_pids} environments, cold in window={par_cold}) {}",
        latency.percentile(50.0),
        latency.percentile(99.0),
        handler.percentile(50.0),
        overhead.percentile(50.0),
        args.connections,
        par_latency.percentile(50.0),
        par_latency.percentile(99.0),
        errors.human()
    );
    Ok(json!({
        "bench": "lambda-warm",
        "endpoint": endpoint.url,
        "runtime": args.function.runtime,
        "iterations": latency.count(),
        "latency": latency.to_json(),
        "handler_time": handler.to_json(),
        "overhead": overhead.to_json(),
        "sequential_per_s": seq_rate.round(),
        "sequential_cold": seq_cold,
        "sequential_environments": seq_pids,
        "connections": args.connections,
        "duration_s": args.duration,
        "invocations_ok": par_ok,
        "invocations_per_s": par_rate.round(),
        "concurrent_latency": par_latency.to_json(),
        "concurrent_environments": par_pids,
        "concurrent_cold": par_cold,
        "errors": errors.to_json(),
    }))
}
