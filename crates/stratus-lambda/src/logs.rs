//! Function output to CloudWatch Logs (`/aws/lambda/<name>`), batched:
//! invocations hand over their lines and a background task sends
//! PutLogEvents per stream every 100 ms (or 1,000 events), through the
//! registry's `logs` service when one is registered.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::json;
use stratus_core::{RegistryHandle, RequestContext};
use tokio::sync::mpsc;

pub(crate) struct LogBatch {
    pub account: String,
    pub region: String,
    pub group: String,
    pub stream: String,
    pub events: Vec<(u64, String)>,
}

pub(crate) struct LogShipper {
    tx: Option<mpsc::UnboundedSender<LogBatch>>,
}

type StreamKey = (String, String, String, String);

impl LogShipper {
    pub fn new(registry: RegistryHandle) -> Self {
        if tokio::runtime::Handle::try_current().is_err() {
            return LogShipper { tx: None };
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(registry, rx));
        LogShipper { tx: Some(tx) }
    }

    pub fn send(&self, batch: LogBatch) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(batch);
        }
    }

    /// Pending lines are sent by the background task; on shutdown the
    /// runtime stops it, so at most the last 100 ms of output can be lost.
    pub fn flush_now(&self) {}
}

async fn run(registry: RegistryHandle, mut rx: mpsc::UnboundedReceiver<LogBatch>) {
    let mut pending: HashMap<StreamKey, Vec<(u64, String)>> = HashMap::new();
    let mut created: HashSet<StreamKey> = HashSet::new();
    let mut groups: HashSet<(String, String, String)> = HashSet::new();
    loop {
        let first = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await;
        match first {
            Ok(Some(b)) => {
                let n = add(&mut pending, b);
                if n < 1000 {
                    // Collect whatever else is already queued.
                    while let Ok(b) = rx.try_recv() {
                        add(&mut pending, b);
                    }
                    if pending.values().map(Vec::len).sum::<usize>() < 1000 {
                        continue;
                    }
                }
            }
            Ok(None) => return,
            Err(_) => {}
        }
        if pending.is_empty() {
            continue;
        }
        let Some(reg) = registry.get().cloned() else {
            continue;
        };
        if reg.get("logs").is_none() {
            pending.clear();
            continue;
        }
        for (key, mut events) in pending.drain() {
            let (account, region, group, stream) = key.clone();
            let ctx = RequestContext::new(account.clone(), region.clone());
            if !created.contains(&key) {
                let new_group = groups.insert((account.clone(), region.clone(), group.clone()));
                create_stream(&reg, &ctx, &group, &stream, new_group).await;
                created.insert(key.clone());
            }
            events.sort_by_key(|e| e.0);
            for chunk in put_log_chunks(&events) {
                // As on AWS, each line keeps its newline: no message is empty.
                let log_events: Vec<_> = chunk
                    .iter()
                    .map(|(t, m)| json!({"timestamp": t, "message": format!("{m}\n")}))
                    .collect();
                let input = json!({"logGroupName": group, "logStreamName": stream, "logEvents": log_events});
                if let Err(e) = reg.call("logs", &ctx, "PutLogEvents", input.clone()).await {
                    // The group or stream may have been deleted by the user: recreate, retry once.
                    tracing::debug!(%group, %stream, "PutLogEvents failed: {e}; recreating the stream");
                    create_stream(&reg, &ctx, &group, &stream, true).await;
                    if let Err(e) = reg.call("logs", &ctx, "PutLogEvents", input).await {
                        tracing::warn!(%group, %stream, "function log lines dropped: {e}");
                    }
                }
            }
        }
    }
}

/// Create the log stream (and, when asked, its group); "already exists" answers
/// are expected and ignored.
async fn create_stream(
    reg: &stratus_core::Registry,
    ctx: &RequestContext,
    group: &str,
    stream: &str,
    with_group: bool,
) {
    if with_group {
        let _ = reg
            .call(
                "logs",
                ctx,
                "CreateLogGroup",
                json!({"logGroupName": group}),
            )
            .await;
    }
    let _ = reg
        .call(
            "logs",
            ctx,
            "CreateLogStream",
            json!({"logGroupName": group, "logStreamName": stream}),
        )
        .await;
}

/// Split into PutLogEvents batches within AWS's limits: 10,000 events and
/// 1,048,576 bytes, counting 26 bytes per event plus the message and its newline.
fn put_log_chunks(events: &[(u64, String)]) -> Vec<&[(u64, String)]> {
    const MAX_EVENTS: usize = 10_000;
    const MAX_BYTES: usize = 1_048_576;
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, (_, m)) in events.iter().enumerate() {
        let size = m.len() + 1 + 26;
        if i > start && (i - start >= MAX_EVENTS || bytes + size > MAX_BYTES) {
            chunks.push(&events[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < events.len() {
        chunks.push(&events[start..]);
    }
    chunks
}

fn add(pending: &mut HashMap<StreamKey, Vec<(u64, String)>>, b: LogBatch) -> usize {
    let list = pending
        .entry((b.account, b.region, b.group, b.stream))
        .or_default();
    list.extend(b.events);
    list.len()
}

#[cfg(test)]
mod chunk_tests {
    use super::put_log_chunks;

    #[test]
    fn batches_respect_count_and_size_limits() {
        let small: Vec<(u64, String)> = (0..25_000).map(|i| (i, "x".to_string())).collect();
        let sizes: Vec<usize> = put_log_chunks(&small).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![10_000, 10_000, 5_000]);
        let big: Vec<(u64, String)> = (0..5).map(|i| (i, "y".repeat(400_000))).collect();
        let sizes: Vec<usize> = put_log_chunks(&big).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![2, 2, 1]);
        assert!(put_log_chunks(&[]).is_empty());
    }
}
