//! Event source mappings for SQS (standard and FIFO): the control plane and
//! the pollers that receive batches, filter them, invoke the function and
//! delete what succeeded.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};
use stratus_core::{AwsError, RequestContext};
use stratus_patterns::Pattern;

use crate::errors::{invalid_param, not_found};
use crate::generated::*;
use crate::names::{FunctionRef, parse_function};
use crate::ops_functions::paginate;
use crate::persist::{self, T_ESM};
use crate::service::LambdaService;
use crate::state::EsmRec;

/// Pollers per mapping when ScalingConfig does not say (AWS starts with five).
const DEFAULT_POLLERS: i32 = 5;

fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

fn esm_not_found(uuid: &str) -> AwsError {
    not_found(format!(
        "The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {uuid})"
    ))
}

fn parse_patterns(fc: Option<&FilterCriteria>) -> Result<Vec<Pattern>, AwsError> {
    let mut out = Vec::new();
    for f in fc.and_then(|c| c.filters.as_ref()).into_iter().flatten() {
        if let Some(p) = &f.pattern {
            out.push(
                Pattern::parse(p).map_err(|e| {
                    invalid_param(format!("Invalid filter pattern definition. {e}"))
                })?,
            );
        }
    }
    Ok(out)
}

fn check_batching(batch: i32, window: i32, fifo: bool) -> Result<(), AwsError> {
    if fifo && batch > 10 {
        return Err(invalid_param(
            "BatchSize must be less than or equal to 10 for FIFO queues.",
        ));
    }
    if batch > 10 && window < 1 {
        return Err(invalid_param(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
        ));
    }
    Ok(())
}

impl LambdaService {
    fn esm_view(rec: &EsmRec) -> EventSourceMappingConfiguration {
        rec.config.clone()
    }

    async fn save_esm(&self, id: &str, rec: &EsmRec) -> Result<(), AwsError> {
        self.apply(vec![persist::put(T_ESM, id, rec)]).await
    }

    pub(crate) async fn op_create_esm(
        &self,
        ctx: &RequestContext,
        input: CreateEventSourceMappingRequest,
    ) -> Result<EventSourceMappingConfiguration, AwsError> {
        let Some(source) = input.event_source_arn.clone() else {
            return Err(invalid_param(
                "Stratus supports event source mappings for Amazon SQS queues; EventSourceArn is required.",
            ));
        };
        let parts: Vec<&str> = source.split(':').collect();
        if parts.len() != 6 || parts[2] != "sqs" {
            return Err(invalid_param(format!(
                "Stratus supports event source mappings for Amazon SQS queues only: {source}"
            )));
        }
        let fifo = parts[5].ends_with(".fifo");
        let f = parse_function(ctx, &input.function_name, None)?;
        let function_arn = {
            let rec = self.function(&f)?;
            let r = rec.lock();
            Self::config_for(&r, &f)?;
            match &f.qualifier {
                Some(q) => crate::names::qualified_arn(&f.region, &f.account, &f.name, q),
                None => f.arn(),
            }
        };
        // The queue must exist.
        if let Some(reg) = self.registry.get() {
            let qctx = RequestContext::new(parts[4], parts[3]);
            if reg
                .call(
                    "sqs",
                    &qctx,
                    "GetQueueUrl",
                    json!({"QueueName": parts[5], "QueueOwnerAWSAccountId": parts[4]}),
                )
                .await
                .is_err()
            {
                return Err(invalid_param(format!(
                    "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist. (queue {source})"
                )));
            }
        }
        let batch = input.batch_size.unwrap_or(10);
        let window = input.maximum_batching_window_in_seconds.unwrap_or(0);
        check_batching(batch, window, fifo)?;
        parse_patterns(input.filter_criteria.as_ref())?;
        if let Some(types) = &input.function_response_types
            && types.iter().any(|t| t != "ReportBatchItemFailures")
        {
            return Err(invalid_param("Invalid FunctionResponseTypes"));
        }
        let uuid = uuid::Uuid::new_v4().to_string();
        let enabled = input.enabled.unwrap_or(true);
        let config = EventSourceMappingConfiguration {
            uuid: Some(uuid.clone()),
            batch_size: Some(batch),
            maximum_batching_window_in_seconds: Some(window),
            event_source_arn: Some(source),
            filter_criteria: input.filter_criteria.clone(),
            scaling_config: input.scaling_config.clone(),
            function_arn: Some(function_arn),
            last_modified: Some(epoch_now()),
            state: Some(if enabled { "Enabled" } else { "Disabled" }.into()),
            state_transition_reason: Some("USER_INITIATED".into()),
            function_response_types: Some(
                input.function_response_types.clone().unwrap_or_default(),
            ),
            event_source_mapping_arn: Some(format!(
                "arn:aws:lambda:{}:{}:event-source-mapping:{uuid}",
                ctx.region, ctx.account_id
            )),
            kms_key_arn: input.kms_key_arn.clone(),
            metrics_config: input.metrics_config.clone(),
            ..Default::default()
        };
        let rec = EsmRec {
            account: ctx.account_id.clone(),
            region: ctx.region.clone(),
            config,
            tags: input.tags.clone().unwrap_or_default(),
        };
        self.save_esm(&uuid, &rec).await?;
        self.esms.lock().insert(uuid.clone(), rec.clone());
        if enabled {
            self.start_poller(&uuid);
        }
        let mut view = Self::esm_view(&rec);
        view.state = Some("Creating".into());
        Ok(view)
    }

    pub(crate) async fn op_get_esm(
        &self,
        _ctx: &RequestContext,
        input: GetEventSourceMappingRequest,
    ) -> Result<EventSourceMappingConfiguration, AwsError> {
        self.esms
            .lock()
            .get(&input.uuid)
            .map(Self::esm_view)
            .ok_or_else(|| esm_not_found(&input.uuid))
    }

    pub(crate) async fn op_update_esm(
        &self,
        ctx: &RequestContext,
        input: UpdateEventSourceMappingRequest,
    ) -> Result<EventSourceMappingConfiguration, AwsError> {
        let function_arn = match &input.function_name {
            Some(name) => {
                let f = parse_function(ctx, name, None)?;
                let rec = self.function(&f)?;
                let r = rec.lock();
                Self::config_for(&r, &f)?;
                Some(match &f.qualifier {
                    Some(q) => crate::names::qualified_arn(&f.region, &f.account, &f.name, q),
                    None => f.arn(),
                })
            }
            None => None,
        };
        parse_patterns(input.filter_criteria.as_ref())?;
        let (rec, was_enabled) = {
            let mut all = self.esms.lock();
            let rec = all
                .get_mut(&input.uuid)
                .ok_or_else(|| esm_not_found(&input.uuid))?;
            let c = &mut rec.config;
            let was_enabled = c.state.as_deref() == Some("Enabled");
            let fifo = c
                .event_source_arn
                .as_deref()
                .is_some_and(|a| a.ends_with(".fifo"));
            let batch = input.batch_size.or(c.batch_size).unwrap_or(10);
            let window = input
                .maximum_batching_window_in_seconds
                .or(c.maximum_batching_window_in_seconds)
                .unwrap_or(0);
            check_batching(batch, window, fifo)?;
            c.batch_size = Some(batch);
            c.maximum_batching_window_in_seconds = Some(window);
            if let Some(a) = function_arn {
                c.function_arn = Some(a);
            }
            if let Some(fc) = &input.filter_criteria {
                c.filter_criteria = fc
                    .filters
                    .as_ref()
                    .filter(|f| !f.is_empty())
                    .map(|_| fc.clone());
            }
            if let Some(s) = &input.scaling_config {
                c.scaling_config = Some(s.clone());
            }
            if let Some(t) = &input.function_response_types {
                c.function_response_types = Some(t.clone());
            }
            if let Some(e) = input.enabled {
                c.state = Some(if e { "Enabled" } else { "Disabled" }.into());
            }
            c.last_modified = Some(epoch_now());
            c.state_transition_reason = Some("USER_INITIATED".into());
            (rec.clone(), was_enabled)
        };
        self.save_esm(&input.uuid, &rec).await?;
        let now_enabled = rec.config.state.as_deref() == Some("Enabled");
        // Restart the pollers so they pick up the new settings.
        self.stop_poller(&input.uuid);
        if now_enabled {
            self.start_poller(&input.uuid);
        }
        let mut view = Self::esm_view(&rec);
        view.state = Some(
            match (was_enabled, now_enabled) {
                (true, false) => "Disabling",
                (false, true) => "Enabling",
                _ => "Updating",
            }
            .into(),
        );
        Ok(view)
    }

    pub(crate) async fn op_delete_esm(
        &self,
        _ctx: &RequestContext,
        input: DeleteEventSourceMappingRequest,
    ) -> Result<EventSourceMappingConfiguration, AwsError> {
        let rec = self
            .esms
            .lock()
            .get(&input.uuid)
            .cloned()
            .ok_or_else(|| esm_not_found(&input.uuid))?;
        self.apply(vec![persist::delete(T_ESM, &input.uuid)])
            .await?;
        self.esms.lock().remove(&input.uuid);
        self.stop_poller(&input.uuid);
        let mut view = Self::esm_view(&rec);
        view.state = Some("Deleting".into());
        Ok(view)
    }

    pub(crate) async fn op_list_esms(
        &self,
        ctx: &RequestContext,
        input: ListEventSourceMappingsRequest,
    ) -> Result<ListEventSourceMappingsResponse, AwsError> {
        let fn_arn = match &input.function_name {
            Some(n) => {
                let f = parse_function(ctx, n, None)?;
                Some(match &f.qualifier {
                    Some(q) => crate::names::qualified_arn(&f.region, &f.account, &f.name, q),
                    None => f.arn(),
                })
            }
            None => None,
        };
        let mut items: Vec<(f64, EventSourceMappingConfiguration)> = self
            .esms
            .lock()
            .values()
            .filter(|r| r.account == ctx.account_id && r.region == ctx.region)
            .filter(|r| fn_arn.is_none() || r.config.function_arn == fn_arn)
            .filter(|r| {
                input.event_source_arn.is_none()
                    || r.config.event_source_arn == input.event_source_arn
            })
            .map(|r| {
                (
                    r.config.last_modified.unwrap_or_default(),
                    Self::esm_view(r),
                )
            })
            .collect();
        items.sort_by(|a, b| a.0.total_cmp(&b.0));
        let items: Vec<_> = items.into_iter().map(|(_, c)| c).collect();
        let (page, next) = paginate(items, input.marker.as_deref(), input.max_items)?;
        Ok(ListEventSourceMappingsResponse {
            event_source_mappings: Some(page),
            next_marker: next,
        })
    }

    pub(crate) async fn tag_esm(
        &self,
        id: &str,
        add: BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<(), AwsError> {
        let rec = {
            let mut all = self.esms.lock();
            let rec = all.get_mut(id).ok_or_else(|| esm_not_found(id))?;
            rec.tags.extend(add);
            for k in remove {
                rec.tags.remove(k);
            }
            rec.clone()
        };
        self.save_esm(id, &rec).await
    }

    fn start_poller(&self, id: &str) {
        let Some(me) = self.me.upgrade() else { return };
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let id_owned = id.to_string();
        let handle = tokio::spawn(async move { run_mapping(me, id_owned).await });
        if let Some(old) = self.pollers.lock().insert(id.to_string(), handle) {
            old.abort();
        }
    }

    fn stop_poller(&self, id: &str) {
        if let Some(h) = self.pollers.lock().remove(id) {
            h.abort();
        }
    }
}

pub(crate) fn start_all(svc: &Arc<LambdaService>) {
    let ids: Vec<String> = svc
        .esms
        .lock()
        .iter()
        .filter(|(_, r)| r.config.state.as_deref() == Some("Enabled"))
        .map(|(k, _)| k.clone())
        .collect();
    for id in ids {
        svc.start_poller(&id);
    }
}

/// One mapping: N concurrent pollers (ScalingConfig.MaximumConcurrency).
async fn run_mapping(svc: Arc<LambdaService>, id: String) {
    // Wait for the registry (mappings loaded at start-up begin before the server binds).
    while svc.registry.get().is_none() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let Some(rec) = svc.esms.lock().get(&id).cloned() else {
        return;
    };
    let n = rec
        .config
        .scaling_config
        .as_ref()
        .and_then(|s| s.maximum_concurrency)
        .unwrap_or(DEFAULT_POLLERS)
        .clamp(1, 1000) as usize;
    let weak = Arc::downgrade(&svc);
    drop(svc);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let weak = weak.clone();
        let id = id.clone();
        let rec = rec.clone();
        set.spawn(async move { poll_loop(weak, id, rec).await });
    }
    while set.join_next().await.is_some() {}
}

async fn poll_loop(weak: std::sync::Weak<LambdaService>, id: String, rec: EsmRec) {
    let c = &rec.config;
    let source = c.event_source_arn.clone().unwrap_or_default();
    let parts: Vec<String> = source.split(':').map(str::to_string).collect();
    if parts.len() != 6 {
        return;
    }
    let queue_url = format!("http://localhost/{}/{}", parts[4], parts[5]);
    let qctx = RequestContext::new(parts[4].clone(), parts[3].clone());
    let batch_size = c.batch_size.unwrap_or(10).max(1) as usize;
    let window =
        Duration::from_secs(c.maximum_batching_window_in_seconds.unwrap_or(0).max(0) as u64);
    let patterns = parse_patterns(c.filter_criteria.as_ref()).unwrap_or_default();
    let report_failures = c
        .function_response_types
        .as_ref()
        .is_some_and(|t| t.iter().any(|x| x == "ReportBatchItemFailures"));
    let fref = {
        let arn = c.function_arn.clone().unwrap_or_default();
        let p: Vec<&str> = arn.split(':').collect();
        FunctionRef {
            account: p.get(4).copied().unwrap_or_default().to_string(),
            region: p.get(3).copied().unwrap_or_default().to_string(),
            name: p.get(6).copied().unwrap_or_default().to_string(),
            qualifier: p.get(7).map(|s| s.to_string()),
        }
    };
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(svc) = weak.upgrade() else { return };
        let Some(reg) = svc.registry.get().cloned() else {
            return;
        };
        if !svc.esms.lock().contains_key(&id) {
            return;
        }
        // Gather a batch: up to BatchSize messages or until the window closes.
        let started = Instant::now();
        let mut messages: Vec<Value> = Vec::new();
        loop {
            let want = (batch_size - messages.len()).min(10);
            let remaining = window.saturating_sub(started.elapsed());
            let wait = if messages.is_empty() {
                // Long polling, short enough to notice a deleted mapping.
                2
            } else {
                remaining.as_secs().min(20) as i64
            };
            let out = reg
                .call(
                    "sqs",
                    &qctx,
                    "ReceiveMessage",
                    json!({
                        "QueueUrl": queue_url,
                        "MaxNumberOfMessages": want,
                        "WaitTimeSeconds": wait,
                        "AttributeNames": ["All"],
                        "MessageSystemAttributeNames": ["All"],
                        "MessageAttributeNames": ["All"],
                    }),
                )
                .await;
            let got = match out {
                Ok(v) => v
                    .get("Messages")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                Err(e) => {
                    tracing::debug!(mapping = %id, "ReceiveMessage failed: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    break;
                }
            };
            backoff = Duration::from_millis(100);
            let empty = got.is_empty();
            messages.extend(got);
            if messages.len() >= batch_size || window.is_zero() || started.elapsed() >= window {
                break;
            }
            if empty && messages.is_empty() {
                break;
            }
        }
        if messages.is_empty() {
            continue;
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| sqs_record(m, &source, &parts[3]))
            .collect();
        // Filtering: messages no pattern matches are deleted, as on AWS.
        let (keep, drop_): (Vec<usize>, Vec<usize>) = (0..records.len()).partition(|&i| {
            patterns.is_empty() || {
                let mut r = records[i].clone();
                if let Some(body) = r.get("body").and_then(Value::as_str)
                    && let Ok(parsed) = serde_json::from_str::<Value>(body)
                {
                    r["body"] = parsed;
                }
                patterns.iter().any(|p| p.matches(&r))
            }
        });
        let mut delete: Vec<usize> = drop_;
        if !keep.is_empty() {
            let event =
                json!({"Records": keep.iter().map(|&i| records[i].clone()).collect::<Vec<_>>()});
            let result = svc
                .execute(
                    &fref,
                    Bytes::from(event.to_string()),
                    None,
                    stratus_core::new_request_id(),
                )
                .await;
            match result {
                Ok(done) if done.function_error.is_none() => {
                    let failed: HashSet<String> = if report_failures {
                        batch_failures(&done.payload)
                    } else {
                        HashSet::new()
                    };
                    // An item id that is not in the batch fails the whole batch (AWS rule).
                    let ids: HashSet<String> = keep
                        .iter()
                        .filter_map(|&i| records[i]["messageId"].as_str().map(str::to_string))
                        .collect();
                    if failed.iter().all(|f| ids.contains(f)) {
                        delete.extend(keep.iter().copied().filter(|&i| {
                            records[i]["messageId"]
                                .as_str()
                                .is_none_or(|m| !failed.contains(m))
                        }));
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(mapping = %id, "invocation failed: {e}");
                    // Throttled or missing function: back off; messages reappear after the visibility timeout.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        for chunk in delete.chunks(10) {
            let entries: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(n, &i)| json!({"Id": n.to_string(), "ReceiptHandle": records[i]["receiptHandle"]}))
                .collect();
            let _ = reg
                .call(
                    "sqs",
                    &qctx,
                    "DeleteMessageBatch",
                    json!({"QueueUrl": queue_url, "Entries": entries}),
                )
                .await;
        }
    }
}

fn batch_failures(payload: &[u8]) -> HashSet<String> {
    let Ok(v) = serde_json::from_slice::<Value>(payload) else {
        return HashSet::new();
    };
    v.get("batchItemFailures")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    x.get("itemIdentifier")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One message as the SQS event record Lambda delivers.
fn sqs_record(m: &Value, source: &str, region: &str) -> Value {
    let mut attrs = serde_json::Map::new();
    if let Some(a) = m.get("Attributes").and_then(Value::as_object) {
        for (k, v) in a {
            attrs.insert(k.clone(), v.clone());
        }
    }
    let mut mattrs = serde_json::Map::new();
    if let Some(a) = m.get("MessageAttributes").and_then(Value::as_object) {
        for (k, v) in a {
            let mut o = json!({
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": v.get("DataType").cloned().unwrap_or(Value::Null),
            });
            if let Some(s) = v.get("StringValue") {
                o["stringValue"] = s.clone();
            }
            if let Some(b) = v.get("BinaryValue") {
                o["binaryValue"] = b.clone();
            }
            mattrs.insert(k.clone(), o);
        }
    }
    let mut rec = json!({
        "messageId": m.get("MessageId").cloned().unwrap_or(Value::Null),
        "receiptHandle": m.get("ReceiptHandle").cloned().unwrap_or(Value::Null),
        "body": m.get("Body").cloned().unwrap_or_else(|| Value::String(String::new())),
        "attributes": attrs,
        "messageAttributes": mattrs,
        "md5OfBody": m.get("MD5OfBody").cloned().unwrap_or(Value::Null),
        "eventSource": "aws:sqs",
        "eventSourceARN": source,
        "awsRegion": region,
    });
    if let Some(md5) = m.get("MD5OfMessageAttributes")
        && let Some(o) = rec.as_object_mut()
    {
        // AWS puts it right after md5OfBody; key order is not significant to clients.
        o.insert("md5OfMessageAttributes".into(), md5.clone());
    }
    rec
}
