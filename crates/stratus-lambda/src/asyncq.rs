//! Asynchronous invocation: a durable internal queue, AWS's retry schedule
//! (up to 2 retries, ~1 then ~2 minutes apart; `STRATUS_LAMBDA_ASYNC_RETRY_SCALE`
//! scales the delays), maximum event age, destinations and dead-letter queues.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::{Value, json};
use stratus_core::{AwsError, RequestContext};
use tokio::sync::{Semaphore, mpsc};

use crate::generated::FunctionEventInvokeConfig;
use crate::names::{FunctionRef, now_millis, qualified_arn};
use crate::persist::{self, T_ASYNC};
use crate::service::LambdaService;
use crate::state::AsyncRec;

/// How many queued events run at the same time.
const WORKERS: usize = 64;

#[derive(Default)]
pub(crate) struct AsyncQueue {
    tx: Mutex<Option<mpsc::UnboundedSender<AsyncRec>>>,
}

pub(crate) fn start(svc: &Arc<LambdaService>, pending: Vec<AsyncRec>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<AsyncRec>();
    for rec in pending {
        let _ = tx.send(rec);
    }
    *svc.async_queue.tx.lock() = Some(tx);
    let weak = Arc::downgrade(svc);
    tokio::spawn(async move {
        let sem = Arc::new(Semaphore::new(WORKERS));
        while let Some(rec) = rx.recv().await {
            let Some(svc) = weak.upgrade() else { return };
            let sem = sem.clone();
            tokio::spawn(async move {
                let wait = rec.not_before_ms.saturating_sub(now_millis());
                if wait > 0 {
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                let Ok(_permit) = sem.acquire().await else {
                    return;
                };
                svc.process_async(rec).await;
            });
        }
    });
}

fn iso_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn as_json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

impl LambdaService {
    /// Queue an event durably; it runs in the background.
    pub(crate) async fn enqueue_async(
        &self,
        f: &FunctionRef,
        payload: &[u8],
        attempt: u32,
    ) -> Result<String, AwsError> {
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_millis();
        let rec = AsyncRec {
            id: id.clone(),
            account: f.account.clone(),
            region: f.region.clone(),
            function: f.name.clone(),
            qualifier: f.qualifier.clone(),
            payload_b64: base64::engine::general_purpose::STANDARD.encode(payload),
            attempt,
            enqueued_ms: now,
            not_before_ms: now,
        };
        self.apply(vec![persist::put(T_ASYNC, &id, &rec)]).await?;
        self.requeue(rec);
        Ok(id)
    }

    fn requeue(&self, rec: AsyncRec) {
        if let Some(tx) = &*self.async_queue.tx.lock() {
            let _ = tx.send(rec);
        }
    }

    fn invoke_config(&self, f: &FunctionRef) -> FunctionEventInvokeConfig {
        let Ok(rec) = self.function(f) else {
            return FunctionEventInvokeConfig::default();
        };
        let r = rec.lock();
        let q = f.qualifier.clone().unwrap_or_else(|| "$LATEST".into());
        r.invoke_configs.get(&q).cloned().unwrap_or_default()
    }

    async fn process_async(&self, mut rec: AsyncRec) {
        let f = FunctionRef {
            account: rec.account.clone(),
            region: rec.region.clone(),
            name: rec.function.clone(),
            qualifier: rec.qualifier.clone(),
        };
        let payload = base64::engine::general_purpose::STANDARD
            .decode(&rec.payload_b64)
            .unwrap_or_default();
        let cfg = self.invoke_config(&f);
        let max_retries = cfg.maximum_retry_attempts.unwrap_or(2).max(0) as u32;
        let max_age_ms = cfg.maximum_event_age_in_seconds.unwrap_or(21_600).max(60) as u64 * 1000;
        if now_millis().saturating_sub(rec.enqueued_ms) > max_age_ms {
            self.finish_async(&f, &rec, &payload, None, "EventAgeExceeded", &cfg)
                .await;
            return;
        }
        let result = self
            .execute(&f, Bytes::from(payload.clone()), None, rec.id.clone())
            .await;
        match result {
            Ok(done) if done.function_error.is_none() => {
                self.finish_async(&f, &rec, &payload, Some(&done), "Success", &cfg)
                    .await;
            }
            Ok(done) => {
                if rec.attempt < max_retries {
                    rec.attempt += 1;
                    // AWS waits about a minute before the first retry and two before the second.
                    let base = 60_000.0 * f64::from(rec.attempt) * self.cfg.async_retry_scale;
                    rec.not_before_ms = now_millis() + base as u64;
                    let _ = self.apply(vec![persist::put(T_ASYNC, &rec.id, &rec)]).await;
                    self.requeue(rec);
                } else {
                    self.finish_async(&f, &rec, &payload, Some(&done), "RetriesExhausted", &cfg)
                        .await;
                }
            }
            Err(e) if e.code == "TooManyRequestsException" => {
                // Throttled events go back to the queue without using a retry.
                rec.not_before_ms = now_millis() + 1000;
                self.requeue(rec);
            }
            Err(e) => {
                tracing::warn!(function = %f.name, "asynchronous invocation dropped: {e}");
                let _ = self.apply(vec![persist::delete(T_ASYNC, &rec.id)]).await;
            }
        }
    }

    async fn finish_async(
        &self,
        f: &FunctionRef,
        rec: &AsyncRec,
        payload: &[u8],
        done: Option<&crate::invoke::Executed>,
        condition: &str,
        cfg: &FunctionEventInvokeConfig,
    ) {
        let success = condition == "Success";
        let dest = cfg.destination_config.as_ref().and_then(|d| {
            if success {
                d.on_success.as_ref().and_then(|s| s.destination.clone())
            } else {
                d.on_failure.as_ref().and_then(|s| s.destination.clone())
            }
        });
        let version = done
            .map(|d| d.executed_version.clone())
            .unwrap_or_else(|| "$LATEST".into());
        if let Some(dest) = dest.filter(|d| !d.is_empty()) {
            let mut response_context = json!({"statusCode": 200, "executedVersion": version});
            if let Some(fe) = done.and_then(|d| d.function_error.clone()) {
                response_context["functionError"] = fe.into();
            }
            let mut record = json!({
                "version": "1.0",
                "timestamp": iso_now(),
                "requestContext": {
                    "requestId": rec.id,
                    "functionArn": qualified_arn(&f.region, &f.account, &f.name, f.qualifier.as_deref().unwrap_or("$LATEST")),
                    "condition": condition,
                    "approximateInvokeCount": rec.attempt + 1,
                },
                "requestPayload": as_json(payload),
                "responseContext": response_context,
            });
            if let Some(d) = done {
                record["responsePayload"] = as_json(&d.payload);
            }
            let detail_type = if success {
                "Lambda Function Invocation Result - Success"
            } else {
                "Lambda Function Invocation Result - Failure"
            };
            self.deliver(f, &dest, &record.to_string(), detail_type, None)
                .await;
        } else if !success {
            let dlq = self.function(f).ok().and_then(|r| {
                r.lock()
                    .latest
                    .config
                    .dead_letter_config
                    .as_ref()
                    .and_then(|d| d.target_arn.clone())
            });
            if let Some(dlq) = dlq.filter(|d| !d.is_empty()) {
                let msg = done
                    .and_then(|d| serde_json::from_slice::<Value>(&d.payload).ok())
                    .and_then(|v| {
                        v.get("errorMessage")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .unwrap_or_else(|| condition.to_string());
                let body = String::from_utf8_lossy(payload).into_owned();
                self.deliver(f, &dlq, &body, "", Some((&rec.id, &msg)))
                    .await;
            }
        }
        let _ = self.apply(vec![persist::delete(T_ASYNC, &rec.id)]).await;
    }

    /// Send to an SQS queue, SNS topic, Lambda function or EventBridge bus.
    pub(crate) async fn deliver(
        &self,
        f: &FunctionRef,
        arn: &str,
        body: &str,
        detail_type: &str,
        dlq_attrs: Option<(&str, &str)>,
    ) {
        let Some(reg) = self.registry.get().cloned() else {
            return;
        };
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() < 6 {
            return;
        }
        let (service, region, account) = (parts[2], parts[3], parts[4]);
        let ctx = RequestContext::new(account, region);
        let result = match service {
            "sqs" => {
                let mut input = json!({
                    "QueueUrl": format!("http://localhost/{account}/{}", parts[5]),
                    "MessageBody": body,
                });
                if let Some((id, msg)) = dlq_attrs {
                    input["MessageAttributes"] = json!({
                        "RequestID": {"DataType": "String", "StringValue": id},
                        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                        "ErrorMessage": {"DataType": "String", "StringValue": msg},
                    });
                }
                reg.call("sqs", &ctx, "SendMessage", input).await
            }
            "sns" => {
                let mut input = json!({"TopicArn": arn, "Message": body});
                if let Some((id, msg)) = dlq_attrs {
                    input["MessageAttributes"] = json!({
                        "RequestID": {"DataType": "String", "StringValue": id},
                        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                        "ErrorMessage": {"DataType": "String", "StringValue": msg},
                    });
                }
                reg.call("sns", &ctx, "Publish", input).await
            }
            "lambda" => {
                let target = FunctionRef {
                    account: account.to_string(),
                    region: region.to_string(),
                    name: parts.get(6).copied().unwrap_or_default().to_string(),
                    qualifier: parts.get(7).map(|s| s.to_string()),
                };
                self.enqueue_async(&target, body.as_bytes(), 0)
                    .await
                    .map(|_| Value::Null)
            }
            "events" => {
                let entry = json!({
                    "Source": "lambda",
                    "DetailType": detail_type,
                    "Detail": body,
                    "EventBusName": arn,
                    "Resources": [qualified_arn(&f.region, &f.account, &f.name, f.qualifier.as_deref().unwrap_or("$LATEST"))],
                });
                reg.call("events", &ctx, "PutEvents", json!({"Entries": [entry]}))
                    .await
            }
            _ => Ok(Value::Null),
        };
        if let Err(e) = result {
            tracing::warn!(destination = %arn, "Lambda destination delivery failed: {e}");
        }
    }
}
