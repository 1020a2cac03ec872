//! Group-commit throughput of the SQLite store.
//!
//! `cargo bench -p stratus-store` (optionally followed by `-- SECONDS` to set
//! each scenario's duration, default 3, and scenario ids such as `c32x1` to
//! run only those). Each scenario runs N concurrent
//! callers on a 2-worker tokio runtime, each awaiting `apply` in a loop, and
//! prints batches/s and puts/s, the mean latency of one `apply`, and the
//! process's CPU time (user + system, all threads) per batch: on a machine
//! shared with other work the wall-clock rates drop, while CPU time per batch
//! stays put and bounds what the 2 cores could do alone.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use stratus_store::{SqliteStore, Store, Write};

struct Scenario {
    name: &'static str,
    callers: usize,
    puts_per_batch: usize,
    /// Random keys (like UUID message ids) instead of one ascending range per
    /// caller: the worst case, every put dirties a random leaf page.
    random_keys: bool,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "c1x1     1 caller, 1 put/batch",
        callers: 1,
        puts_per_batch: 1,
        random_keys: false,
    },
    Scenario {
        name: "c32x1    32 callers, 1 put/batch",
        callers: 32,
        puts_per_batch: 1,
        random_keys: false,
    },
    Scenario {
        name: "c128x1   128 callers, 1 put/batch",
        callers: 128,
        puts_per_batch: 1,
        random_keys: false,
    },
    Scenario {
        name: "c32x1r   32 callers, 1 put/batch, random keys",
        callers: 32,
        puts_per_batch: 1,
        random_keys: true,
    },
    Scenario {
        name: "c32x10   32 callers, 10 puts/batch",
        callers: 32,
        puts_per_batch: 10,
        random_keys: false,
    },
    Scenario {
        name: "c32x100  32 callers, 100 puts/batch",
        callers: 32,
        puts_per_batch: 100,
        random_keys: false,
    },
    Scenario {
        name: "c1x1000  1 caller, 1000 puts/batch",
        callers: 1,
        puts_per_batch: 1000,
        random_keys: false,
    },
];

const VALUE_LEN: usize = 100;

fn main() -> Result<(), Box<dyn Error>> {
    // `cargo bench` passes `--bench`; a bare number sets the duration.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds = args
        .iter()
        .find_map(|a| a.parse::<f64>().ok())
        .unwrap_or(3.0);
    // Any other argument that is not a flag selects scenarios by id.
    let filters: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-') && a.parse::<f64>().is_err())
        .map(String::as_str)
        .collect();
    let duration = Duration::from_secs_f64(seconds);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    println!(
        "SQLite group commit, {VALUE_LEN}-byte values, 16-byte keys, {seconds} s per scenario, \
         {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<45} {:>11} {:>11} {:>10} {:>12}",
        "scenario", "batches/s", "puts/s", "mean µs", "CPU µs/batch"
    );
    for scenario in SCENARIOS {
        let id = scenario.name.split_whitespace().next().unwrap_or_default();
        if !filters.is_empty() && !filters.contains(&id) {
            continue;
        }
        let dir = tempfile::tempdir()?;
        let store = Arc::new(SqliteStore::open(dir.path())?);
        let cpu_before = process_cpu_seconds();
        let (batches, elapsed) = runtime.block_on(run(store.clone(), scenario, duration))?;
        let cpu = process_cpu_seconds() - cpu_before;
        store.close();
        let secs = elapsed.as_secs_f64();
        let per_sec = batches as f64 / secs;
        let mean_us = secs * 1e6 * scenario.callers as f64 / batches.max(1) as f64;
        println!(
            "{:<45} {:>11.0} {:>11.0} {:>10.1} {:>12.1}",
            scenario.name,
            per_sec,
            per_sec * scenario.puts_per_batch as f64,
            mean_us,
            cpu * 1e6 / batches.max(1) as f64
        );
    }
    Ok(())
}

async fn run(
    store: Arc<SqliteStore>,
    scenario: &Scenario,
    duration: Duration,
) -> Result<(u64, Duration), Box<dyn Error>> {
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for caller in 0..scenario.callers {
        let store = store.clone();
        let done = done.clone();
        let puts = scenario.puts_per_batch;
        let random_keys = scenario.random_keys;
        tasks.spawn(async move {
            let value = vec![0xA5u8; VALUE_LEN];
            let mut seq = 0u64;
            let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (caller as u64 + 1);
            while Instant::now() < deadline {
                let batch = (0..puts)
                    .map(|_| {
                        seq += 1;
                        let mut key = Vec::with_capacity(16);
                        let high = if random_keys {
                            // xorshift64
                            rng ^= rng << 13;
                            rng ^= rng >> 7;
                            rng ^= rng << 17;
                            rng
                        } else {
                            caller as u64
                        };
                        key.extend_from_slice(&high.to_be_bytes());
                        key.extend_from_slice(&seq.to_be_bytes());
                        Write::Put {
                            table: "bench",
                            key,
                            value: value.clone(),
                        }
                    })
                    .collect();
                store.apply(batch).await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), stratus_store::StoreError>(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    Ok((done.load(Ordering::Relaxed), started.elapsed()))
}

/// User + system CPU seconds of this process so far (Linux; 0 elsewhere).
fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (100 per second on Linux).
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
