//! `stratus-bench`: a load generator for SQS- and Lambda-compatible emulators
//! (Stratus and its peers), written in Rust so that the client is not the
//! bottleneck.
//!
//! Each subcommand lives in its own module; `client`, `sqs` and `lambda` hold the
//! shared HTTP, SQS and Lambda plumbing, `stats` the latency/error bookkeeping,
//! `procfs` the RSS readings.

mod all;
mod aws;
mod client;
mod depth;
mod drain;
mod events;
mod fill;
mod lambda;
mod lambda_cold;
mod lambda_sqs;
mod lambda_warm;
mod load;
mod null_server;
mod probe;
mod procfs;
mod roundtrip;
mod routing;
mod routing_summary;
mod send;
mod sns_fanout;
mod sqs;
mod startup;
mod stats;
mod summary;
mod verify;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "stratus-bench",
    version,
    about = "SQS and Lambda benchmark client for Stratus and peer emulators"
)]
struct Cli {
    /// Tokio worker threads for this process. On a small machine the client shares
    /// the CPU with the server under test, so this is deliberately configurable.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Do-nothing HTTP server answering a canned SendMessage reply (client ceiling).
    NullServer(null_server::NullServerArgs),
    /// Spawn a server command, time until ListQueues first succeeds, read idle RSS.
    Startup(startup::StartupArgs),
    /// Wait until an already running server answers ListQueues.
    Ready(startup::ReadyArgs),
    /// SendMessage throughput and latency at N connections.
    Send(send::SendArgs),
    /// Pre-fill a queue, then drain it with receive + delete-batch workers.
    Drain(drain::DrainArgs),
    /// Send -> receive -> delete round trip at concurrency 1.
    Roundtrip(roundtrip::RoundtripArgs),
    /// Memory per million messages and receive latency as the queue grows.
    Depth(depth::DepthArgs),
    /// Warm Invoke of a no-op Python function: latency at c=1, invocations/s at N.
    LambdaWarm(lambda_warm::LambdaWarmArgs),
    /// Cold starts of a no-op Python function (Invoke sent -> handler running).
    LambdaCold(lambda_cold::LambdaColdArgs),
    /// Pre-filled SQS queue consumed by a function through an event source mapping.
    LambdaSqs(lambda_sqs::LambdaSqsArgs),
    /// EventBridge PutEvents -> rule -> SQS: rate, delivery latency, delivery check.
    Events(events::EventsArgs),
    /// SNS Publish fanned out to K SQS subscriptions: rate, latency, delivery check.
    SnsFanout(sns_fanout::SnsFanoutArgs),
    /// Render events / sns-fanout JSON results of several emulators as markdown.
    RoutingSummary(routing_summary::RoutingSummaryArgs),
    /// send + drain + roundtrip against one endpoint.
    All(all::AllArgs),
    /// Render JSON results of several emulators into a markdown table.
    Summary(summary::SummaryArgs),
    /// Print a currently free TCP port on 127.0.0.1 (for scripts).
    FreePort,
}

/// Options every load-generating subcommand takes.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Server endpoint, e.g. http://127.0.0.1:4566 (loopback only).
    #[arg(long)]
    pub endpoint: String,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Lets the OS pick an unused port. The listener is closed before the port is
/// used, so a race is possible in theory; scripts on an otherwise idle machine
/// can live with that.
fn free_port() -> Result<()> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    println!("{}", listener.local_addr()?.port());
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::NullServer(args) => null_server::run(args).await,
            Command::Startup(args) => startup::run(args).await,
            Command::Ready(args) => startup::run_ready(args).await,
            Command::Send(args) => send::run(args).await,
            Command::Drain(args) => drain::run(args).await,
            Command::Roundtrip(args) => roundtrip::run(args).await,
            Command::Depth(args) => depth::run(args).await,
            Command::LambdaWarm(args) => lambda_warm::run(args).await,
            Command::LambdaCold(args) => lambda_cold::run(args).await,
            Command::LambdaSqs(args) => lambda_sqs::run(args).await,
            Command::Events(args) => events::run(args).await,
            Command::SnsFanout(args) => sns_fanout::run(args).await,
            Command::RoutingSummary(args) => routing_summary::run(&args),
            Command::All(args) => all::run(args).await,
            Command::Summary(args) => summary::run(&args),
            Command::FreePort => free_port(),
        }
    })
}
