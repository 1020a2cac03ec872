//! `startup`: time from spawning a server to its first successful ListQueues, and
//! its idle RSS; `ready`: wait for an already started server.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Args;
use serde_json::json;

use crate::client::{Endpoint, Op, SqsConn};
use crate::procfs::{process_tree, tree_rss_kib};
use crate::stats::write_json;

#[derive(Args, Debug)]
pub struct StartupArgs {
    /// Server command line: a simple command, optionally prefixed by VAR=value
    /// assignments. It runs as `sh -c 'exec env <cmd>'` so the spawned pid is the
    /// server itself rather than a shell.
    #[arg(long)]
    pub cmd: String,
    /// Endpoint the command will listen on (loopback only).
    #[arg(long)]
    pub endpoint: String,
    /// Number of cold starts; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Seconds to wait after the first success before reading idle RSS.
    #[arg(long, default_value_t = 1.0)]
    pub idle_wait: f64,
    /// Give up on a start after this many seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Append the server's stdout/stderr to this file (default: discarded).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ReadyArgs {
    #[arg(long)]
    pub endpoint: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

/// One ListQueues attempt on a fresh connection; `Ok(true)` only for HTTP 200.
async fn probe(endpoint: &Endpoint) -> bool {
    let attempt = async {
        let mut conn = SqsConn::connect(endpoint).await?;
        let reply = conn.call(Op::ListQueues, Bytes::from_static(b"{}")).await?;
        anyhow::Ok(reply.is_ok())
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Ok(true))
    )
}

/// True while something accepts TCP connections on the endpoint.
async fn port_in_use(endpoint: &Endpoint) -> bool {
    tokio::net::TcpStream::connect(endpoint.addr).await.is_ok()
}

pub async fn run_ready(args: ReadyArgs) -> Result<()> {
    let endpoint = Endpoint::parse(&args.endpoint)?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout);
    while !probe(&endpoint).await {
        if Instant::now() >= deadline {
            bail!(
                "{} did not answer ListQueues within {}s",
                endpoint.url,
                args.timeout
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "ready: {} answered after {} ms",
        endpoint.url,
        started.elapsed().as_millis()
    );
    Ok(())
}

fn spawn(args: &StartupArgs) -> Result<Child> {
    let output = |log: &Option<PathBuf>| -> Result<Stdio> {
        Ok(match log {
            Some(path) => OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?
                .into(),
            None => Stdio::null(),
        })
    };
    Command::new("sh")
        .arg("-c")
        .arg(format!("exec env {}", args.cmd))
        .stdin(Stdio::null())
        .stdout(output(&args.log)?)
        .stderr(output(&args.log)?)
        // Own process group, so wrappers' children can be stopped together.
        .process_group(0)
        .spawn()
        .with_context(|| format!("spawning {}", args.cmd))
}

/// Sends `signal` to a process group via kill(1) (this crate forbids `unsafe`, so
/// no direct libc call).
fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([format!("-{signal}"), "--".into(), format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

fn signal_pid(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// Stops the server: SIGTERM to its group, SIGKILL after 5 s, then SIGKILL to any
/// descendant that left the group (e.g. via setsid).
async fn stop(child: &mut Child) {
    let pid = child.id();
    let tree = process_tree(pid);
    signal_group(pid, "TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal_group(pid, "KILL");
    for p in tree.into_iter().skip(1) {
        if std::path::Path::new(&format!("/proc/{p}")).exists() {
            signal_pid(p, "KILL");
        }
    }
    let _ = child.wait();
}

struct ColdStart {
    ms: f64,
    idle_rss_kib: u64,
}

async fn cold_start(args: &StartupArgs, endpoint: &Endpoint) -> Result<ColdStart> {
    let spawned = Instant::now();
    let mut child = spawn(args)?;
    let deadline = spawned + Duration::from_secs(args.timeout);
    let outcome = loop {
        if probe(endpoint).await {
            break Ok(spawned.elapsed());
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(anyhow::anyhow!("server exited early with {status}"));
        }
        if Instant::now() >= deadline {
            break Err(anyhow::anyhow!(
                "no successful ListQueues within {}s",
                args.timeout
            ));
        }
        // 1 ms between attempts: fine resolution, without a busy loop stealing the
        // CPU the starting server needs on a small machine.
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let result = match outcome {
        Ok(elapsed) => {
            tokio::time::sleep(Duration::from_secs_f64(args.idle_wait)).await;
            Ok(ColdStart {
                ms: elapsed.as_secs_f64() * 1000.0,
                idle_rss_kib: tree_rss_kib(child.id()),
            })
        }
        Err(e) => Err(e),
    };
    stop(&mut child).await;
    // Wait for the port to be released so the next run is a real cold start.
    let free_by = Instant::now() + Duration::from_secs(10);
    while port_in_use(endpoint).await && Instant::now() < free_by {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    result
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

pub async fn run(args: StartupArgs) -> Result<()> {
    let endpoint = Endpoint::parse(&args.endpoint)?;
    if port_in_use(&endpoint).await {
        bail!(
            "something already listens on {}; startup needs a free port",
            endpoint.url
        );
    }
    let mut starts = Vec::new();
    for run in 1..=args.runs.max(1) {
        let start = cold_start(&args, &endpoint)
            .await
            .with_context(|| format!("run {run}: {}", args.cmd))?;
        eprintln!(
            "  run {run}: {:.1} ms, idle RSS {:.1} MiB",
            start.ms,
            start.idle_rss_kib as f64 / 1024.0
        );
        starts.push(start);
    }
    let ms = median(starts.iter().map(|s| s.ms).collect());
    let rss_mib = median(
        starts
            .iter()
            .map(|s| s.idle_rss_kib as f64 / 1024.0)
            .collect(),
    );
    println!(
        "startup: {ms:.1} ms to first ListQueues (median of {}), idle RSS {rss_mib:.1} MiB",
        starts.len()
    );
    let report = json!({
        "bench": "startup",
        "cmd": args.cmd,
        "endpoint": endpoint.url,
        "runs": starts.len(),
        "startup_ms": (ms * 10.0).round() / 10.0,
        "startup_ms_all": starts.iter().map(|s| (s.ms * 10.0).round() / 10.0).collect::<Vec<_>>(),
        "idle_rss_mib": (rss_mib * 10.0).round() / 10.0,
        "idle_rss_mib_all": starts.iter().map(|s| s.idle_rss_kib as f64 / 1024.0).collect::<Vec<_>>(),
    });
    write_json(args.json.as_deref(), &report)
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even() {
        assert!((median(vec![3.0, 1.0, 2.0]) - 2.0).abs() < 1e-9);
        assert!((median(vec![4.0, 1.0, 2.0, 3.0]) - 2.5).abs() < 1e-9);
        assert!(median(vec![]).abs() < 1e-9);
    }
}
