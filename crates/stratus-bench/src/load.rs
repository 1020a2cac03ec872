//! A fixed request repeated on N keep-alive connections for a time window: the
//! load half of the event-routing benchmarks (`events`, `sns-fanout`).

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::client::{Endpoint, Reply, SqsConn, Wire};
use crate::stats::{Errors, Latencies};

/// What each connection sends and how a reply is judged.
#[derive(Clone)]
pub struct Load {
    pub wire: Wire,
    pub what: &'static str,
    pub body: Bytes,
    /// Items one accepted request stands for (PutEvents entries).
    pub items: u64,
    pub valid: fn(&Reply, usize) -> bool,
}

#[derive(Default)]
pub struct LoadResult {
    /// Latencies of requests completed inside the measured window.
    pub latencies: Latencies,
    /// Items accepted inside the window (the rate's numerator).
    pub in_window: u64,
    /// Items accepted at all, warm-up and tail included (what must be delivered).
    pub accepted: u64,
    pub errors: Errors,
    pub reconnects: u64,
}

impl LoadResult {
    fn merge(&mut self, o: LoadResult) {
        self.latencies.merge(o.latencies);
        self.in_window += o.in_window;
        self.accepted += o.accepted;
        self.errors.merge(o.errors);
        self.reconnects += o.reconnects;
    }
}

/// Runs `load` on `connections` connections until `end`; only replies that
/// complete in `[start, end)` count towards the rate.
pub async fn run(
    endpoint: &Endpoint,
    load: &Load,
    connections: usize,
    start: Instant,
    end: Instant,
) -> LoadResult {
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (endpoint, load) = (endpoint.clone(), load.clone());
        tasks.push(tokio::spawn(async move {
            one_connection(endpoint, load, start, end).await
        }));
    }
    let mut total = LoadResult::default();
    for task in tasks {
        match task.await {
            Ok(r) => total.merge(r),
            Err(e) => total.errors.transport(&anyhow::anyhow!("load task: {e}")),
        }
    }
    total
}

async fn one_connection(
    endpoint: Endpoint,
    load: Load,
    start: Instant,
    end: Instant,
) -> LoadResult {
    let mut result = LoadResult::default();
    let mut conn = match SqsConn::connect(&endpoint).await {
        Ok(conn) => conn,
        Err(e) => {
            result.errors.transport(&e);
            return result;
        }
    };
    let items = usize::try_from(load.items).unwrap_or(usize::MAX);
    loop {
        let sent_at = Instant::now();
        if sent_at >= end {
            break;
        }
        let outcome = conn.request(load.wire, load.what, load.body.clone()).await;
        let done = Instant::now();
        match outcome {
            Ok(reply) if (load.valid)(&reply, items) => {
                result.accepted += load.items;
                if done >= start && done < end {
                    result.in_window += load.items;
                    result.latencies.record(done - sent_at);
                }
            }
            Ok(reply) => result.errors.bad_reply(&reply, load.what),
            Err(e) => {
                result.errors.transport(&e);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    result.reconnects = conn.reconnects;
    result
}
