//! `all`: send, drain and roundtrip in sequence against one endpoint, with one
//! combined JSON report.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::CommonArgs;
use crate::drain::{self, DrainArgs};
use crate::roundtrip::{self, RoundtripArgs};
use crate::send::{self, SendArgs};
use crate::stats::write_json;

#[derive(Args, Debug)]
pub struct AllArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// `send` connections.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// `send` measured seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// `drain` message count.
    #[arg(long, default_value_t = 10_000)]
    pub messages: usize,
    /// `drain` workers.
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// `roundtrip` iterations.
    #[arg(long, default_value_t = 5000)]
    pub iterations: usize,
    /// Message body size for all three.
    #[arg(long, default_value_t = 100)]
    pub body_size: usize,
}

pub async fn run(args: AllArgs) -> Result<()> {
    // Sub-benchmarks must not write their own files; only the combined report.
    let common = CommonArgs {
        endpoint: args.common.endpoint.clone(),
        json: None,
    };
    let send = send::measure(&SendArgs {
        common: common.clone(),
        connections: args.connections,
        duration: args.duration,
        warmup: 1.0,
        body_size: args.body_size,
    })
    .await?;
    let drain = drain::measure(&DrainArgs {
        common: common.clone(),
        messages: args.messages,
        workers: args.workers,
        wait: 0,
        fill_connections: 8,
        body_size: args.body_size,
        timeout: 300,
    })
    .await?;
    let roundtrip = roundtrip::measure(&RoundtripArgs {
        common,
        iterations: args.iterations,
        warmup: 100,
        wait: 0,
        body_size: args.body_size,
        timeout: 600,
    })
    .await?;
    write_json(
        args.common.json.as_deref(),
        &json!({ "send": send, "drain": drain, "roundtrip": roundtrip }),
    )
}
