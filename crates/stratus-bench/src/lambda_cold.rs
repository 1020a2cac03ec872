//! `lambda-cold`: cold starts of a no-op Python function.
//!
//! Each sample forces a new execution environment — by default by changing an
//! environment variable with UpdateFunctionConfiguration (Lambda never reuses
//! an environment across a configuration change) and waiting for
//! `LastUpdateStatus: Successful`; with `--fresh`, by creating a new function per
//! sample. Then one Invoke is timed:
//!
//! - `cold_start`: request sent → handler running, from the wall-clock time the
//!   handler reports (same host, same clock). It includes the client → server
//!   hop, so it bounds "Invoke received → handler running" from above.
//! - `invoke_latency`: the whole cold Invoke as the client sees it.
//!
//! The handler says whether it is the first invocation of its process; a sample
//! that was not a cold start is counted as an error, not as a fast cold start.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use bytes::Bytes;
use clap::Args;
use serde_json::{Map, Value, json};

use crate::CommonArgs;
use crate::client::{Endpoint, SqsConn};
use crate::lambda::{
    FunctionArgs, create_function, delete_function, invoke, invoke_path, parse_noop,
    unique_function_name, unix_now, update_environment,
};
use crate::stats::{Errors, Latencies, write_json};

#[derive(Args, Debug, Clone)]
pub struct LambdaColdArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub function: FunctionArgs,
    /// Cold starts to measure.
    #[arg(long, default_value_t = 30)]
    pub samples: usize,
    /// Create a new function per sample instead of updating its configuration.
    #[arg(long)]
    pub fresh: bool,
    /// Pause between samples in milliseconds (lets the previous environment go).
    #[arg(long, default_value_t = 50)]
    pub pause_ms: u64,
}

const PAYLOAD: &[u8] = br#"{"bench":"lambda-cold"}"#;

struct Measured {
    cold_start: Latencies,
    invoke: Latencies,
    /// UpdateFunctionConfiguration (or CreateFunction) until ready.
    prepare: Latencies,
    errors: Errors,
    not_cold: u64,
}

pub async fn run(args: LambdaColdArgs) -> Result<()> {
    let report = measure(&args).await?;
    write_json(args.common.json.as_deref(), &report)
}

fn variables(sample: usize) -> Map<String, Value> {
    let mut vars = Map::new();
    vars.insert("BENCH_SAMPLE".into(), Value::String(sample.to_string()));
    vars
}

/// Times one Invoke that should be a cold start.
async fn timed_invoke(conn: &mut SqsConn, path: &str, m: &mut Measured) {
    let sent_unix = unix_now();
    let sent = Instant::now();
    let outcome = invoke(conn, path, Bytes::from_static(PAYLOAD)).await;
    let latency = sent.elapsed();
    let reply = match outcome {
        Ok(reply) => reply,
        Err(e) => return m.errors.transport(&e),
    };
    match parse_noop(&reply) {
        Ok(r) if r.cold => {
            let to_handler = (r.started - sent_unix).max(0.0);
            m.cold_start.record(Duration::from_secs_f64(to_handler));
            m.invoke.record(latency);
        }
        Ok(_) => {
            m.not_cold += 1;
            m.errors.invalid(&anyhow!(
                "the invocation ran in a warm environment: no cold start was forced"
            ));
        }
        Err(e) => m.errors.invalid(&e),
    }
}

pub async fn measure(args: &LambdaColdArgs) -> Result<Value> {
    if args.samples == 0 {
        bail!("--samples must be positive");
    }
    let endpoint = Endpoint::parse(&args.common.endpoint)?;
    let mut conn = SqsConn::connect(&endpoint).await?;
    let ready_timeout = Duration::from_secs(args.function.ready_timeout);
    let mut m = Measured {
        cold_start: Latencies::default(),
        invoke: Latencies::default(),
        prepare: Latencies::default(),
        errors: Errors::default(),
        not_cold: 0,
    };
    let pause = Duration::from_millis(args.pause_ms);
    if args.fresh {
        for i in 0..args.samples {
            let name = unique_function_name(&format!("cold{i}"));
            let t0 = Instant::now();
            if let Err(e) = create_function(
                &mut conn,
                &name,
                "bench_fn.noop",
                &variables(i),
                &args.function,
            )
            .await
            {
                m.errors.invalid(&e);
                continue;
            }
            m.prepare.record(t0.elapsed());
            timed_invoke(&mut conn, &invoke_path(&name), &mut m).await;
            delete_function(&mut conn, &name).await;
            tokio::time::sleep(pause).await;
        }
    } else {
        let name = unique_function_name("cold");
        create_function(
            &mut conn,
            &name,
            "bench_fn.noop",
            &variables(0),
            &args.function,
        )
        .await?;
        let path = invoke_path(&name);
        // Warm the code path once (first-ever unpacking of the package, the
        // interpreter's files in the page cache); not measured.
        let first = invoke(&mut conn, &path, Bytes::from_static(PAYLOAD)).await?;
        parse_noop(&first)?;
        for i in 1..=args.samples {
            let t0 = Instant::now();
            if let Err(e) = update_environment(&mut conn, &name, &variables(i), ready_timeout).await
            {
                m.errors.invalid(&e);
                continue;
            }
            m.prepare.record(t0.elapsed());
            timed_invoke(&mut conn, &path, &mut m).await;
            tokio::time::sleep(pause).await;
        }
        delete_function(&mut conn, &name).await;
    }

    let cold = m.cold_start.summary();
    let inv = m.invoke.summary();
    let prepare = m.prepare.summary();
    let mode = if args.fresh {
        "fresh function per sample"
    } else {
        "UpdateFunctionConfiguration per sample"
    };
    println!(
        "lambda-cold: invoke sent -> handler running p50={:.1}ms p90={:.1}ms max={:.1}ms; cold invoke p50={:.1}ms p99={:.1}ms ({} samples, {mode}; prepare p50={:.1}ms) {}",
        f64::from(cold.percentile(50.0)) / 1000.0,
        f64::from(cold.percentile(90.0)) / 1000.0,
        f64::from(cold.percentile(100.0)) / 1000.0,
        f64::from(inv.percentile(50.0)) / 1000.0,
        f64::from(inv.percentile(99.0)) / 1000.0,
        cold.count(),
        f64::from(prepare.percentile(50.0)) / 1000.0,
        m.errors.human()
    );
    Ok(json!({
        "bench": "lambda-cold",
        "endpoint": endpoint.url,
        "runtime": args.function.runtime,
        "mode": if args.fresh { "fresh" } else { "update-configuration" },
        "samples": cold.count(),
        "cold_start": cold.to_json(),
        "invoke_latency": inv.to_json(),
        "prepare_latency": prepare.to_json(),
        "not_cold": m.not_cold,
        "errors": m.errors.to_json(),
    }))
}
