//! Message move tasks (dead-letter queue redrive): StartMessageMoveTask,
//! ListMessageMoveTasks, CancelMessageMoveTask. Tasks run as tokio tasks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use base64::Engine;
use parking_lot::Mutex;
use stratus_core::{AwsError, RequestContext};
use stratus_store::{StoreError, Write};

use crate::errors::{invalid_parameter, invalid_value, resource_not_found};
use crate::generated::*;
use crate::message::MsgState;
use crate::persist::{self, T_TASKS, TaskRecord};
use crate::service::SqsService;

pub(crate) struct TaskInner {
    pub status: String,
    pub moved: i64,
    pub failure: Option<String>,
}

pub(crate) struct MoveTask {
    pub id: String,
    pub handle: String,
    pub source_arn: String,
    pub destination_arn: Option<String>,
    pub rate: Option<i32>,
    pub to_move: i64,
    pub started: i64,
    pub inner: Mutex<TaskInner>,
    pub cancel: AtomicBool,
    pub join: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl MoveTask {
    pub(crate) fn abort(&self) {
        if let Some(j) = self.join.lock().take() {
            j.abort();
        }
    }

    fn record(&self) -> Write {
        let inner = self.inner.lock();
        let rec = TaskRecord {
            id: self.id.clone(),
            handle: self.handle.clone(),
            source_arn: self.source_arn.clone(),
            destination_arn: self.destination_arn.clone(),
            rate: self.rate,
            status: inner.status.clone(),
            moved: inner.moved,
            to_move: self.to_move,
            started: self.started,
            failure: inner.failure.clone(),
        };
        Write::Put {
            table: T_TASKS,
            key: self.id.as_bytes().to_vec(),
            value: persist::encode(&rec),
        }
    }

    fn from_record(r: TaskRecord) -> Self {
        Self {
            id: r.id,
            handle: r.handle,
            source_arn: r.source_arn,
            destination_arn: r.destination_arn,
            rate: r.rate,
            to_move: r.to_move,
            started: r.started,
            inner: Mutex::new(TaskInner {
                status: r.status,
                moved: r.moved,
                failure: r.failure,
            }),
            cancel: AtomicBool::new(false),
            join: Mutex::new(None),
        }
    }
}

fn encode_handle(id: &str, source_arn: &str) -> String {
    let doc = serde_json::json!({"taskId": id, "sourceArn": source_arn}).to_string();
    base64::engine::general_purpose::STANDARD.encode(doc)
}

fn decode_handle(h: &str) -> Option<(String, String)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(h.trim())
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Some((
        v.get("taskId")?.as_str()?.to_string(),
        v.get("sourceArn")?.as_str()?.to_string(),
    ))
}

/// Reload tasks; tasks that were running when the process stopped are marked
/// FAILED (CANCELLING ones CANCELLED). Returns the rewritten records.
pub(crate) fn load_tasks(svc: &SqsService) -> Result<Vec<Write>, StoreError> {
    let mut writes = Vec::new();
    let mut tasks = svc.tasks.lock();
    for (_, v) in svc.store.scan(T_TASKS)? {
        let Some(rec) = persist::decode::<TaskRecord>(&v) else {
            continue;
        };
        let t = MoveTask::from_record(rec);
        {
            let mut inner = t.inner.lock();
            match inner.status.as_str() {
                "RUNNING" => {
                    inner.status = "FAILED".into();
                    inner.failure =
                        Some("The task was interrupted because Stratus restarted.".into());
                }
                "CANCELLING" => inner.status = "CANCELLED".into(),
                _ => {}
            }
        }
        writes.push(t.record());
        tasks.push(Arc::new(t));
    }
    Ok(writes)
}

pub(crate) async fn start(
    svc: &SqsService,
    _ctx: &RequestContext,
    input: StartMessageMoveTaskRequest,
) -> Result<StartMessageMoveTaskResult, AwsError> {
    let source = svc.queue_by_arn(&input.source_arn).ok_or_else(|| {
        resource_not_found(
            "The resource that you specified for the SourceArn parameter doesn't exist.",
        )
    })?;
    let is_dlq = svc
        .queues
        .read()
        .values()
        .filter(|q| q.uid != source.uid)
        .any(|q| {
            q.state
                .lock()
                .cfg
                .redrive
                .as_ref()
                .is_some_and(|r| r.dead_letter_target_arn == source.arn)
        });
    if !is_dlq {
        return Err(invalid_parameter(
            "Source queue must be configured as a Dead Letter Queue.",
        ));
    }
    if let Some(d) = &input.destination_arn {
        let dest = svc.queue_by_arn(d).ok_or_else(|| {
            resource_not_found(
                "The resource that you specified for the DestinationArn parameter doesn't exist.",
            )
        })?;
        if dest.uid == source.uid {
            return Err(invalid_parameter(
                "Source queue and destination queue cannot be the same.",
            ));
        }
        if dest.fifo != source.fifo {
            return Err(invalid_parameter(
                "The destination queue must be the same type as the source queue.",
            ));
        }
    }
    if let Some(r) = input.max_number_of_messages_per_second
        && !(1..=500).contains(&r)
    {
        return Err(invalid_value(
            "MaxNumberOfMessagesPerSecond",
            r,
            "Must be between 1 and 500.",
        ));
    }
    let task = {
        let mut tasks = svc.tasks.lock();
        if tasks
            .iter()
            .any(|t| t.source_arn == source.arn && t.inner.lock().status == "RUNNING")
        {
            return Err(invalid_parameter(
                "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
            ));
        }
        let to_move = {
            let st = source.state.lock();
            st.msgs.len() as i64
        };
        let id = format!("{:032x}", rand::random::<u128>());
        let t = Arc::new(MoveTask {
            handle: encode_handle(&id, &source.arn),
            id,
            source_arn: source.arn.clone(),
            destination_arn: input.destination_arn.clone(),
            rate: input.max_number_of_messages_per_second,
            to_move,
            started: svc.now(),
            inner: Mutex::new(TaskInner {
                status: "RUNNING".into(),
                moved: 0,
                failure: None,
            }),
            cancel: AtomicBool::new(false),
            join: Mutex::new(None),
        });
        tasks.push(t.clone());
        t
    };
    svc.persist(vec![task.record()]).await?;
    let weak = svc.me.clone();
    let runner_task = task.clone();
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let j = rt.spawn(run(weak, runner_task));
        *task.join.lock() = Some(j);
    }
    tracing::info!(source = %task.source_arn, "sqs: started message move task");
    Ok(StartMessageMoveTaskResult {
        task_handle: Some(task.handle.clone()),
    })
}

fn finish(task: &MoveTask, status: &str, failure: Option<String>) {
    let mut inner = task.inner.lock();
    inner.status = status.into();
    inner.failure = failure;
}

async fn run(weak: Weak<SqsService>, task: Arc<MoveTask>) {
    loop {
        let Some(svc) = weak.upgrade() else { return };
        if task.cancel.load(Ordering::SeqCst) {
            finish(&task, "CANCELLED", None);
            let _ = svc.persist(vec![task.record()]).await;
            return;
        }
        let moved = task.inner.lock().moved;
        let remaining = task.to_move - moved;
        let Some(source) = svc.queue_by_arn(&task.source_arn) else {
            finish(
                &task,
                "FAILED",
                Some("The source queue no longer exists.".into()),
            );
            let _ = svc.persist(vec![task.record()]).await;
            return;
        };
        let now = svc.now();
        // Never take more than one second's worth at the configured rate, so
        // the rate holds and a cancel takes effect within about a second.
        let per_step = task.rate.map_or(10, |r| i64::from(r).clamp(1, 10));
        let batch = remaining.clamp(0, per_step) as usize;
        let mut writes = Vec::new();
        let msgs = if batch == 0 {
            Vec::new()
        } else {
            let mut st = source.state.lock();
            let m = st.take_visible(batch, now);
            source.drain_writes(&mut st, &mut writes);
            m
        };
        if msgs.is_empty() {
            finish(&task, "COMPLETED", None);
            writes.push(task.record());
            let _ = svc.persist(writes).await;
            return;
        }
        let n = msgs.len() as i64;
        let mut failure = None;
        let mut by_dest: Vec<(String, Vec<crate::message::Msg>)> = Vec::new();
        for m in msgs {
            let dest = task.destination_arn.clone().or_else(|| {
                m.extra
                    .as_ref()
                    .and_then(|e| e.dlq_source_arn.as_deref().map(str::to_string))
            });
            match dest {
                Some(d) => match by_dest.iter_mut().find(|(k, _)| *k == d) {
                    Some((_, v)) => v.push(m),
                    None => by_dest.push((d, vec![m])),
                },
                None => {
                    failure =
                        Some("A message has no original source queue to return to.".to_string());
                    by_dest.push((String::new(), vec![m]));
                }
            }
        }
        let mut moved_now = 0;
        let mut dests = Vec::new();
        for (d, msgs) in by_dest {
            match svc.queue_by_arn(&d).filter(|_| !d.is_empty()) {
                Some(dest) => {
                    moved_now += msgs.len() as i64;
                    dests.push((dest, msgs));
                }
                None => {
                    if failure.is_none() {
                        failure = Some(format!("The destination queue {d} does not exist."));
                    }
                    // Put the messages back where they were.
                    let mut st = source.state.lock();
                    for mut m in msgs {
                        m.state = MsgState::Visible;
                        m.visible_at = now;
                        st.insert(m);
                    }
                    source.drain_writes(&mut st, &mut writes);
                }
            }
        }
        task.inner.lock().moved += moved_now;
        if let Some(f) = &failure {
            finish(&task, "FAILED", Some(f.clone()));
        }
        writes.push(task.record());
        // The source's removals commit with the last destination's inserts:
        // a crash in between leaves copies in both queues, never in neither.
        let mut pending = Vec::new();
        let last = dests.len().saturating_sub(1);
        for (i, (dest, msgs)) in dests.into_iter().enumerate() {
            let batch = if i == last {
                std::mem::take(&mut writes)
            } else {
                Vec::new()
            };
            pending.push(svc.insert_foreign(&dest, msgs, None, now, batch));
        }
        pending.push(svc.enqueue(writes));
        for p in pending {
            if let Err(e) = p.committed().await {
                tracing::warn!(error = %e, "sqs: move task write failed");
            }
        }
        if failure.is_some() {
            return;
        }
        drop(svc);
        match task.rate {
            Some(r) => {
                let pause = Duration::from_millis((n as u64 * 1000) / r.max(1) as u64);
                let until = tokio::time::Instant::now() + pause;
                while tokio::time::Instant::now() < until && !task.cancel.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(50).min(pause)).await;
                }
            }
            None => tokio::task::yield_now().await,
        }
    }
}

pub(crate) fn list(
    svc: &SqsService,
    _ctx: &RequestContext,
    input: ListMessageMoveTasksRequest,
) -> Result<ListMessageMoveTasksResult, AwsError> {
    let source = svc.queue_by_arn(&input.source_arn).ok_or_else(|| {
        resource_not_found(
            "The resource that you specified for the SourceArn parameter doesn't exist.",
        )
    })?;
    let max = input.max_results.unwrap_or(1);
    if !(1..=10).contains(&max) {
        return Err(invalid_value(
            "MaxResults",
            max,
            "You must enter a number that's between 1 and 10.",
        ));
    }
    let tasks = svc.tasks.lock();
    let mut mine: Vec<&Arc<MoveTask>> = tasks
        .iter()
        .filter(|t| t.source_arn == source.arn)
        .collect();
    mine.reverse();
    mine.sort_by_key(|t| std::cmp::Reverse(t.started));
    let results = mine
        .into_iter()
        .take(max as usize)
        .map(|t| {
            let inner = t.inner.lock();
            ListMessageMoveTasksResultEntry {
                task_handle: (inner.status == "RUNNING").then(|| t.handle.clone()),
                status: Some(inner.status.clone()),
                source_arn: Some(t.source_arn.clone()),
                destination_arn: t.destination_arn.clone(),
                max_number_of_messages_per_second: t.rate,
                approximate_number_of_messages_moved: Some(inner.moved),
                approximate_number_of_messages_to_move: Some(t.to_move),
                failure_reason: inner.failure.clone(),
                started_timestamp: Some(t.started),
            }
        })
        .collect();
    Ok(ListMessageMoveTasksResult {
        results: Some(results),
    })
}

pub(crate) async fn cancel(
    svc: &SqsService,
    _ctx: &RequestContext,
    input: CancelMessageMoveTaskRequest,
) -> Result<CancelMessageMoveTaskResult, AwsError> {
    let not_found = || resource_not_found("The task handle is invalid or the task does not exist.");
    let (id, _) = decode_handle(&input.task_handle)
        .ok_or_else(|| invalid_parameter("Value for parameter TaskHandle is invalid."))?;
    let task = svc
        .tasks
        .lock()
        .iter()
        .find(|t| t.id == id)
        .cloned()
        .ok_or_else(not_found)?;
    let moved = {
        let mut inner = task.inner.lock();
        if inner.status != "RUNNING" {
            return Err(AwsError::new(
                "UnsupportedOperation",
                "Only a task with the status RUNNING can be cancelled.",
            ));
        }
        inner.status = "CANCELLING".into();
        inner.moved
    };
    task.cancel.store(true, Ordering::SeqCst);
    svc.persist(vec![task.record()]).await?;
    Ok(CancelMessageMoveTaskResult {
        approximate_number_of_messages_moved: Some(moved),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip() {
        let h = encode_handle("abc", "arn:aws:sqs:us-east-1:000000000000:dlq");
        assert_eq!(
            decode_handle(&h),
            Some((
                "abc".into(),
                "arn:aws:sqs:us-east-1:000000000000:dlq".into()
            ))
        );
        assert_eq!(decode_handle("garbage"), None);
    }
}
