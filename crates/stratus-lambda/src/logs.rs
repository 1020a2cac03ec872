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
                if groups.insert((account.clone(), region.clone(), group.clone())) {
                    let _ = reg
                        .call(
                            "logs",
                            &ctx,
                            "CreateLogGroup",
                            json!({"logGroupName": group}),
                        )
                        .await;
                }
                let _ = reg
                    .call(
                        "logs",
                        &ctx,
                        "CreateLogStream",
                        json!({"logGroupName": group, "logStreamName": stream}),
                    )
                    .await;
                created.insert(key.clone());
            }
            events.sort_by_key(|e| e.0);
            for chunk in events.chunks(10_000) {
                let log_events: Vec<_> = chunk
                    .iter()
                    .map(|(t, m)| json!({"timestamp": t, "message": m}))
                    .collect();
                if let Err(e) = reg
                    .call(
                        "logs",
                        &ctx,
                        "PutLogEvents",
                        json!({"logGroupName": group, "logStreamName": stream, "logEvents": log_events}),
                    )
                    .await
                {
                    tracing::debug!(%group, %stream, "PutLogEvents failed: {e}");
                }
            }
        }
    }
}

fn add(pending: &mut HashMap<StreamKey, Vec<(u64, String)>>, b: LogBatch) -> usize {
    let list = pending
        .entry((b.account, b.region, b.group, b.stream))
        .or_default();
    list.extend(b.events);
    list.len()
}
