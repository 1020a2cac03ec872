//! Asynchronous delivery of matched events to targets.
//!
//! One worker task per target type reads its channel. The SQS worker drains
//! what is queued and sends `SendMessageBatch` calls of up to ten messages per
//! queue; the other workers start one async call per event (bounded by a
//! semaphore). Failures are retried with exponential backoff and jitter until
//! the target's RetryPolicy runs out (185 attempts / 24 h by default); then the
//! event goes to the target's dead-letter queue with the attributes AWS adds,
//! or is dropped. Errors that cannot succeed on retry (a missing target, no
//! permission, a 4xx from an API destination) skip the retries.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use stratus_core::{AwsError, RequestContext};
use tokio::sync::{Semaphore, mpsc};

use crate::service::EventsService;
use crate::state::{LANES, RuleRt, TargetKind, TargetRt};
use crate::transform::{Reserved, payload};
use crate::util::{BusRef, iso_secs, now_ms};

/// One event on its way to one target.
#[derive(Clone)]
pub(crate) struct Job {
    pub event: Arc<str>,
    pub ingest_ms: i64,
    pub rule: Arc<RuleRt>,
    pub target: Arc<TargetRt>,
    /// Retries made so far.
    pub attempt: u32,
    pub hops: u8,
    /// Id of the job's row in `events_pending`; 0 when it has none (memory store).
    pub pending: u64,
    /// Held until the job's first delivery attempt is over; the ingesting call
    /// waits for every holder to let go (see [`FirstAttempt`]).
    pub first_attempt: Option<Arc<FirstAttempt>>,
}

/// Dropped by the last job of an ingesting call once its first attempt is over.
///
/// Deliveries to SQS queues are in-process and quick, so PutEvents answers only
/// after their first attempt: a message is receivable the moment PutEvents has
/// returned (and retries of a failed attempt still run in the background). The
/// worker still batches the jobs of concurrent calls into `SendMessageBatch`.
pub(crate) struct FirstAttempt(#[allow(dead_code)] tokio::sync::oneshot::Sender<()>);

impl FirstAttempt {
    /// A holder to hand to jobs, and the future that completes when all
    /// holders are gone.
    pub(crate) fn new() -> (Arc<Self>, tokio::sync::oneshot::Receiver<()>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (Arc::new(Self(tx)), rx)
    }
}

impl Job {
    fn event_id(&self) -> String {
        serde_json::from_str::<Value>(&self.event)
            .ok()
            .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default()
    }

    /// MessageDeduplicationId for FIFO queues and topics: event id, target id
    /// and, for replayed events, the replay name (at most 128 characters).
    fn dedup_id(&self) -> String {
        let v = serde_json::from_str::<Value>(&self.event).unwrap_or_default();
        let id = v.get("id").and_then(Value::as_str).unwrap_or_default();
        let mut d = format!("{id}-{}", self.target.target.id);
        if let Some(r) = v.get("replay-name").and_then(Value::as_str) {
            d.push('-');
            d.push_str(r);
        }
        d.chars().take(128).collect()
    }

    fn payload(&self) -> String {
        let t = iso_secs(self.ingest_ms);
        payload(
            &self.target.target,
            &self.event,
            &Reserved {
                rule_arn: &self.rule.arn,
                rule_name: &self.rule.name,
                ingestion_time: &t,
            },
        )
    }
}

/// Why a delivery failed.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub code: String,
    pub message: String,
    pub retryable: bool,
}

impl Failure {
    pub(crate) fn retryable(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            retryable: true,
        }
    }
    pub(crate) fn permanent(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            retryable: false,
        }
    }

    /// Classify an error returned by another service.
    fn from_aws(e: &AwsError) -> Self {
        let code = e.code.as_str();
        if e.message.contains("is not enabled")
            || code.contains("NotFound")
            || code.contains("NonExistent")
            || code.contains("DoesNotExist")
        {
            return Self::permanent("NO_RESOURCE", e.message.clone());
        }
        if code.contains("Throttl")
            || code == "RequestThrottled"
            || code == "TooManyRequestsException"
        {
            return Self::retryable("THROTTLING", e.message.clone());
        }
        if code.contains("AccessDenied") || code.contains("AuthorizationError") {
            return Self::permanent("NO_PERMISSIONS", e.message.clone());
        }
        if e.status >= 500 {
            return Self::retryable("INTERNAL_ERROR", e.message.clone());
        }
        Self::permanent("SDK_CLIENT_ERROR", format!("{}: {}", e.code, e.message))
    }
}

pub(crate) struct Delivery {
    lanes: Vec<mpsc::UnboundedSender<Job>>,
    receivers: parking_lot::Mutex<Vec<mpsc::UnboundedReceiver<Job>>>,
    retry_tx: mpsc::UnboundedSender<(i64, Job)>,
    retry_rx: parking_lot::Mutex<Option<mpsc::UnboundedReceiver<(i64, Job)>>>,
    /// Rewrites and deletions of pending rows (not awaited by anyone).
    pub(crate) behind: Arc<stratus_store::WriteBehind>,
}

impl Delivery {
    pub(crate) fn new(store: Arc<dyn stratus_store::Store>) -> Self {
        let mut lanes = Vec::new();
        let mut receivers = Vec::new();
        for _ in 0..LANES {
            let (tx, rx) = mpsc::unbounded_channel();
            lanes.push(tx);
            receivers.push(rx);
        }
        let (retry_tx, retry_rx) = mpsc::unbounded_channel();
        Self {
            lanes,
            receivers: parking_lot::Mutex::new(receivers),
            retry_tx,
            retry_rx: parking_lot::Mutex::new(Some(retry_rx)),
            behind: Arc::new(stratus_store::WriteBehind::new(store)),
        }
    }

    /// The job is finished (delivered, dead-lettered or dropped): forget its row.
    pub(crate) fn settle(&self, job: &Job) {
        if job.pending != 0 {
            self.behind.push(crate::pending::delete(job));
        }
    }

    pub(crate) fn dispatch(&self, job: Job) {
        let lane = job.target.kind.lane();
        if let Some(tx) = self.lanes.get(lane) {
            let _ = tx.send(job);
        }
    }

    /// Hold `job` until `due_ms`; its row records the new attempt and due time.
    pub(crate) fn retry_at(&self, due_ms: i64, job: Job) {
        if job.pending != 0 {
            self.behind.push(crate::pending::put(&job, due_ms));
        }
        let _ = self.retry_tx.send((due_ms, job));
    }

    /// Hold a job read back at start-up until `due_ms` (its row is current).
    pub(crate) fn resume(&self, due_ms: i64, job: Job) {
        let _ = self.retry_tx.send((due_ms, job));
    }

    pub(crate) fn start(
        &self,
        rt: &tokio::runtime::Handle,
        svc: Weak<EventsService>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = vec![rt.spawn(self.behind.clone().run())];
        let receivers = std::mem::take(&mut *self.receivers.lock());
        for (lane, rx) in receivers.into_iter().enumerate() {
            let w = svc.clone();
            handles.push(if lane == 0 {
                rt.spawn(sqs_worker(w, rx))
            } else {
                rt.spawn(call_worker(w, rx))
            });
        }
        if let Some(rx) = self.retry_rx.lock().take() {
            handles.push(rt.spawn(retry_worker(svc, rx)));
        }
        handles
    }
}

/// Backoff before retry `n` (1-based): 1 s doubling to 3 minutes, ±25 % jitter.
fn backoff_ms(n: u32) -> i64 {
    let base = 1000i64
        .saturating_mul(1i64 << n.saturating_sub(1).min(8))
        .min(180_000);
    let jitter = rand::random_range(0.75..1.25);
    (base as f64 * jitter) as i64
}

impl EventsService {
    /// Decide what happens after a failed attempt.
    pub(crate) async fn failed(&self, mut job: Job, f: Failure) {
        // Retries and dead-lettering happen after the ingesting call has answered.
        job.first_attempt = None;
        let now = now_ms();
        let age_ok = now - job.ingest_ms < job.target.max_age_secs as i64 * 1000;
        if f.retryable && job.attempt < job.target.max_retries && age_ok {
            let mut next = job;
            next.attempt += 1;
            let due = now + backoff_ms(next.attempt);
            tracing::debug!(rule = %next.rule.name, target = %next.target.target.id, attempt = next.attempt, code = %f.code, "events: delivery failed, retrying");
            self.delivery.retry_at(due, next);
            return;
        }
        let condition = if age_ok {
            "MaximumRetryAttempts"
        } else {
            "MaximumEventAgeInSeconds"
        };
        let exhausted = f.retryable.then_some(condition);
        self.dead_letter(&job, &f, exhausted).await;
        self.delivery.settle(&job);
    }

    async fn dead_letter(&self, job: &Job, f: &Failure, exhausted: Option<&str>) {
        let Some(dlq) = job
            .target
            .target
            .dead_letter_config
            .as_ref()
            .and_then(|d| d.arn.clone())
        else {
            tracing::warn!(rule = %job.rule.arn, target = %job.target.target.id, code = %f.code, error = %f.message, "events: delivery failed; event dropped (no dead-letter queue)");
            return;
        };
        let TargetKind::Sqs {
            account,
            region,
            name,
            ..
        } = TargetKind::classify(&dlq)
        else {
            return;
        };
        let Some(reg) = self.registry.get() else {
            return;
        };
        let attr = |v: &str| json!({"DataType": "String", "StringValue": v});
        let mut attrs = serde_json::Map::new();
        attrs.insert("RULE_ARN".into(), attr(&job.rule.arn));
        attrs.insert("TARGET_ARN".into(), attr(&job.target.target.arn));
        attrs.insert("ERROR_CODE".into(), attr(&f.code));
        attrs.insert(
            "ERROR_MESSAGE".into(),
            attr(if f.message.is_empty() {
                "-"
            } else {
                &f.message
            }),
        );
        if let Some(c) = exhausted {
            attrs.insert("EXHAUSTED_RETRY_CONDITION".into(), attr(c));
        }
        attrs.insert("RETRY_ATTEMPTS".into(), attr(&job.attempt.to_string()));
        let ctx = RequestContext::new(account.clone(), region);
        let doc = json!({
            "QueueUrl": format!("http://localhost:4566/{account}/{name}"),
            "MessageBody": &*job.event,
            "MessageAttributes": Value::Object(attrs),
        });
        if let Err(e) = reg.call("sqs", &ctx, "SendMessage", doc).await {
            tracing::warn!(dlq = %dlq, error = %e, "events: could not write to the dead-letter queue");
        }
    }

    /// One delivery to a target that is not SQS.
    async fn deliver_one(&self, job: &Job) -> Result<(), Failure> {
        let t = &job.target;
        let reg = self
            .registry
            .get()
            .ok_or_else(|| Failure::retryable("INTERNAL_ERROR", "registry not ready"))?;
        let arn = t.target.arn.as_str();
        let region_account = |arn: &str| -> (String, String) {
            crate::util::parse_arn(arn)
                .map(|a| (a.account.to_string(), a.region.to_string()))
                .unwrap_or_default()
        };
        match &t.kind {
            TargetKind::Sns => {
                let (account, region) = region_account(arn);
                let mut doc = json!({"TopicArn": arn, "Message": job.payload()});
                if arn.ends_with(".fifo")
                    && let Some(g) = t
                        .target
                        .sqs_parameters
                        .as_ref()
                        .and_then(|p| p.message_group_id.clone())
                {
                    doc["MessageGroupId"] = json!(g);
                    doc["MessageDeduplicationId"] = json!(job.dedup_id());
                }
                reg.call("sns", &RequestContext::new(account, region), "Publish", doc)
                    .await
                    .map(|_| ())
                    .map_err(|e| Failure::from_aws(&e))
            }
            TargetKind::Lambda => {
                let (account, region) = region_account(arn);
                let b64 = base64::engine::general_purpose::STANDARD.encode(job.payload());
                let doc = json!({"FunctionName": arn, "InvocationType": "Event", "Payload": b64});
                reg.call(
                    "lambda",
                    &RequestContext::new(account, region),
                    "Invoke",
                    doc,
                )
                .await
                .map(|_| ())
                .map_err(|e| Failure::from_aws(&e))
            }
            TargetKind::States => {
                let (account, region) = region_account(arn);
                let doc = json!({"stateMachineArn": arn, "input": job.payload()});
                reg.call(
                    "states",
                    &RequestContext::new(account, region),
                    "StartExecution",
                    doc,
                )
                .await
                .map(|_| ())
                .map_err(|e| Failure::from_aws(&e))
            }
            TargetKind::Logs {
                account,
                region,
                group,
            } => {
                let ctx = RequestContext::new(account.clone(), region.clone());
                // EventBridge writes each event to a log stream named after the event id.
                let stream = job.event_id();
                let created = reg
                    .call(
                        "logs",
                        &ctx,
                        "CreateLogStream",
                        json!({"logGroupName": group, "logStreamName": stream}),
                    )
                    .await;
                if let Err(e) = created
                    && !e.code.contains("AlreadyExists")
                {
                    return Err(Failure::from_aws(&e));
                }
                let ts = serde_json::from_str::<Value>(&job.event)
                    .ok()
                    .and_then(|v| {
                        v.get("time")
                            .and_then(Value::as_str)
                            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    })
                    .map(|d| d.timestamp_millis())
                    .unwrap_or(job.ingest_ms);
                let doc = json!({"logGroupName": group, "logStreamName": stream, "logEvents": [{"timestamp": ts, "message": job.payload()}]});
                reg.call("logs", &ctx, "PutLogEvents", doc)
                    .await
                    .map(|_| ())
                    .map_err(|e| Failure::from_aws(&e))
            }
            TargetKind::Bus {
                account,
                region,
                name,
            } => {
                let b = BusRef {
                    account: account.clone(),
                    region: region.clone(),
                    name: name.clone(),
                };
                self.forward_to_bus(job, &b).await
            }
            TargetKind::ApiDestination {
                account,
                region,
                name,
            } => {
                let (dest, conn) = {
                    let st = self.state.read();
                    let key = crate::state::key3(account, region, name);
                    let dest = st.api_destinations.get(&key).cloned().ok_or_else(|| {
                        Failure::permanent(
                            "NO_RESOURCE",
                            format!("API destination {name} does not exist."),
                        )
                    })?;
                    let conn = st
                        .connections
                        .values()
                        .find(|c| crate::ops_conn::connection_arn(c) == dest.connection_arn)
                        .cloned()
                        .ok_or_else(|| {
                            Failure::permanent(
                                "NO_RESOURCE",
                                "The connection of the API destination does not exist.",
                            )
                        })?;
                    (dest, conn)
                };
                self.http
                    .invoke(&dest, &conn, &t.target, job.payload())
                    .await
            }
            TargetKind::Unsupported(arn) => Err(Failure::permanent(
                "UNSUPPORTED_OPERATION",
                format!(
                    "Stratus cannot deliver to target {arn}: this target type is not supported."
                ),
            )),
            TargetKind::Sqs { .. } => Err(Failure::permanent(
                "INTERNAL_ERROR",
                "SQS targets are sent in batches",
            )),
        }
    }
}

async fn call_worker(svc: Weak<EventsService>, mut rx: mpsc::UnboundedReceiver<Job>) {
    let limit = Arc::new(Semaphore::new(256));
    while let Some(job) = rx.recv().await {
        let Some(s) = svc.upgrade() else { return };
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        tokio::spawn(async move {
            let _permit = permit;
            match s.deliver_one(&job).await {
                Ok(()) => s.delivery.settle(&job),
                Err(f) => s.failed(job, f).await,
            }
        });
    }
}

/// Drains the SQS lane and sends per-queue batches of up to ten.
async fn sqs_worker(svc: Weak<EventsService>, mut rx: mpsc::UnboundedReceiver<Job>) {
    let limit = Arc::new(Semaphore::new(128));
    let mut buf: Vec<Job> = Vec::with_capacity(512);
    loop {
        let Some(first) = rx.recv().await else { return };
        buf.push(first);
        while buf.len() < 512 {
            match rx.try_recv() {
                Ok(j) => buf.push(j),
                Err(_) => break,
            }
        }
        let Some(s) = svc.upgrade() else { return };
        let mut groups: HashMap<(String, String, String), Vec<Job>> = HashMap::new();
        for job in buf.drain(..) {
            if let TargetKind::Sqs {
                account,
                region,
                name,
                ..
            } = &job.target.kind
            {
                groups
                    .entry((account.clone(), region.clone(), name.clone()))
                    .or_default()
                    .push(job);
            }
        }
        for ((account, region, name), jobs) in groups {
            let mut jobs = jobs.into_iter().peekable();
            while jobs.peek().is_some() {
                let chunk: Vec<Job> = jobs.by_ref().take(10).collect();
                let Ok(permit) = limit.clone().acquire_owned().await else {
                    return;
                };
                let s = s.clone();
                let (account, region, name) = (account.clone(), region.clone(), name.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    send_batch(&s, &account, &region, &name, chunk).await;
                });
            }
        }
    }
}

async fn send_batch(
    svc: &EventsService,
    account: &str,
    region: &str,
    name: &str,
    mut jobs: Vec<Job>,
) {
    let Some(reg) = svc.registry.get() else {
        for j in jobs {
            svc.failed(
                j,
                Failure::retryable("INTERNAL_ERROR", "registry not ready"),
            )
            .await;
        }
        return;
    };
    let fifo = name.ends_with(".fifo");
    let entries: Vec<Value> = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| {
            let mut e = json!({"Id": i.to_string(), "MessageBody": j.payload()});
            if fifo {
                if let Some(g) = j
                    .target
                    .target
                    .sqs_parameters
                    .as_ref()
                    .and_then(|p| p.message_group_id.clone())
                {
                    e["MessageGroupId"] = json!(g);
                }
                // The event id deduplicates retries of the same event; a replay
                // delivers the event again under its own name.
                e["MessageDeduplicationId"] = json!(j.dedup_id());
            }
            e
        })
        .collect();
    let ctx = RequestContext::new(account, region);
    let doc =
        json!({"QueueUrl": format!("http://localhost:4566/{account}/{name}"), "Entries": entries});
    let result = reg.call("sqs", &ctx, "SendMessageBatch", doc).await;
    // The first attempt is over: release the ingesting calls waiting for it.
    for j in &mut jobs {
        j.first_attempt = None;
    }
    match result {
        Ok(out) => {
            let failed: Vec<(usize, Failure)> = out
                .get("Failed")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|f| {
                            let i: usize = f.get("Id")?.as_str()?.parse().ok()?;
                            let code = f
                                .get("Code")
                                .and_then(Value::as_str)
                                .unwrap_or("InternalError");
                            let msg = f.get("Message").and_then(Value::as_str).unwrap_or_default();
                            let sender = f
                                .get("SenderFault")
                                .and_then(Value::as_bool)
                                .unwrap_or(true);
                            let err = AwsError::new(code, msg).with_status(if sender {
                                400
                            } else {
                                500
                            });
                            Some((i, Failure::from_aws(&err)))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut jobs: Vec<Option<Job>> = jobs.into_iter().map(Some).collect();
            for (i, f) in failed {
                if let Some(j) = jobs.get_mut(i).and_then(Option::take) {
                    svc.failed(j, f).await;
                }
            }
            for j in jobs.iter().flatten() {
                svc.delivery.settle(j);
            }
        }
        Err(e) => {
            let f = Failure::from_aws(&e);
            for j in jobs {
                svc.failed(j, f.clone()).await;
            }
        }
    }
}

/// Holds jobs until their retry time.
async fn retry_worker(svc: Weak<EventsService>, mut rx: mpsc::UnboundedReceiver<(i64, Job)>) {
    let mut heap: BinaryHeap<Reverse<(i64, u64)>> = BinaryHeap::new();
    let mut jobs: HashMap<u64, Job> = HashMap::new();
    let mut seq = 0u64;
    loop {
        let wait = heap
            .peek()
            .map(|Reverse((due, _))| Duration::from_millis((*due - now_ms()).max(0) as u64))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            msg = rx.recv() => {
                let Some((due, job)) = msg else { return };
                seq += 1;
                heap.push(Reverse((due, seq)));
                jobs.insert(seq, job);
            }
            _ = tokio::time::sleep(wait) => {
                let now = now_ms();
                let Some(s) = svc.upgrade() else { return };
                while let Some(Reverse((due, id))) = heap.peek().copied() {
                    if due > now {
                        break;
                    }
                    heap.pop();
                    if let Some(job) = jobs.remove(&id) {
                        s.delivery.dispatch(job);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let a = backoff_ms(1);
        assert!((750..=1250).contains(&a), "{a}");
        let c = backoff_ms(3);
        assert!((3000..=5000).contains(&c), "{c}");
        assert!(backoff_ms(100) <= 225_000);
    }

    #[test]
    fn error_classes() {
        assert!(!Failure::from_aws(&AwsError::new("QueueDoesNotExist", "x")).retryable);
        assert_eq!(
            Failure::from_aws(&AwsError::internal("service sns is not enabled")).code,
            "NO_RESOURCE"
        );
        assert!(Failure::from_aws(&AwsError::new("ThrottlingException", "x")).retryable);
        assert!(Failure::from_aws(&AwsError::new("Boom", "x").with_status(503)).retryable);
    }
}
