//! Delivering one occurrence: context attributes, retries with exponential
//! backoff and jitter under the target's RetryPolicy, and the dead-letter
//! queue when delivery gives up.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use stratus_core::{AwsError, Registry, RequestContext};

use crate::expression::format_scheduled_time;
use crate::generated::Target;
use crate::invoke;
use crate::pending;
use crate::service::SchedulerService;
use crate::state::{DEFAULT_MAX_AGE_SECONDS, DEFAULT_MAX_RETRIES};

/// One fired occurrence on its way to the target: what the timer hands over,
/// and (with a durable store) the `scheduler_pending` row it is kept in until
/// the delivery ends (see `pending.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Invocation {
    pub schedule_arn: String,
    pub account: String,
    pub region: String,
    /// The target as it was when the occurrence fired.
    pub target: Target,
    /// The occurrence time, epoch millis.
    pub occurrence: i64,
    /// One id per occurrence, shared by its retries (see the crate docs).
    pub execution_id: String,
    /// When the occurrence fired, epoch millis: MaximumEventAgeInSeconds counts
    /// from here, across restarts.
    pub first_ms: i64,
    /// The attempt due next, from 1.
    pub attempt: u32,
    /// When that attempt is due, epoch millis.
    pub due_ms: i64,
}

impl Invocation {
    /// A new occurrence, fired at `now`: its first attempt is due at once.
    pub(crate) fn fired(
        schedule_arn: String,
        account: String,
        region: String,
        target: Target,
        occurrence: i64,
        now: i64,
    ) -> Self {
        Invocation {
            schedule_arn,
            account,
            region,
            target,
            occurrence,
            execution_id: format!("{:016x}", rand::rng().random::<u64>()),
            first_ms: now,
            attempt: 1,
            due_ms: now,
        }
    }
}

/// How long a firing that comes due before the server is up waits for it.
const REGISTRY_WAIT: Duration = Duration::from_secs(30);
const FIRST_BACKOFF_MS: u64 = 1_000;
const MAX_BACKOFF_MS: u64 = 300_000;

/// Substitute the context attribute keywords in the target input.
pub(crate) fn render(
    input: &str,
    arn: &str,
    scheduled: &str,
    execution_id: &str,
    attempt: u32,
) -> String {
    input
        .replace("<aws.scheduler.schedule-arn>", arn)
        .replace("<aws.scheduler.scheduled-time>", scheduled)
        .replace("<aws.scheduler.execution-id>", execution_id)
        .replace("<aws.scheduler.attempt-number>", &attempt.to_string())
}

/// Throttling and server-side failures are worth retrying; a missing target or
/// a rejected request is not.
fn retryable(e: &AwsError) -> bool {
    e.status >= 500 || e.status == 429 || e.code.contains("Throttl")
}

/// Exponential backoff with jitter: half to all of 1 s, 2 s, 4 s … capped at 5 min.
fn backoff(attempt: u32) -> Duration {
    let base = FIRST_BACKOFF_MS
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(20))
        .min(MAX_BACKOFF_MS);
    Duration::from_millis(rand::rng().random_range(base / 2..=base))
}

async fn registry(svc: &SchedulerService) -> Option<Arc<Registry>> {
    let deadline = tokio::time::Instant::now() + REGISTRY_WAIT;
    loop {
        if let Some(r) = svc.registry.get() {
            return Some(r.clone());
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Deliver `inv` from its due attempt on: retries, then the dead-letter queue.
/// With a durable store the occurrence's pending row is rewritten before each
/// retry and deleted when the delivery ends.
pub(crate) async fn deliver(svc: Arc<SchedulerService>, mut inv: Invocation) {
    let wait = inv.due_ms - svc.now_millis();
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
    let Some(registry) = registry(&svc).await else {
        // Durable: the row stays, so the next start delivers the occurrence.
        tracing::warn!(schedule = %inv.schedule_arn, durable = svc.durable, "scheduler: no registry; occurrence not delivered");
        return;
    };
    let policy = inv.target.retry_policy.clone().unwrap_or_default();
    let max_retries = policy
        .maximum_retry_attempts
        .unwrap_or(DEFAULT_MAX_RETRIES)
        .max(0) as u32;
    let max_age_ms = i64::from(
        policy
            .maximum_event_age_in_seconds
            .unwrap_or(DEFAULT_MAX_AGE_SECONDS),
    ) * 1000;
    let scheduled = format_scheduled_time(inv.occurrence);
    let raw_input = inv.target.input.clone().unwrap_or_else(|| "{}".to_string());
    loop {
        let attempt = inv.attempt;
        let input = render(
            &raw_input,
            &inv.schedule_arn,
            &scheduled,
            &inv.execution_id,
            attempt,
        );
        let err = match invoke::invoke(&registry, &inv.target, &inv.region, &inv.account, &input)
            .await
        {
            Ok(()) => {
                tracing::debug!(schedule = %inv.schedule_arn, attempt, "scheduler: target invoked");
                svc.write_behind(|| pending::delete(&inv));
                return;
            }
            Err(e) => e,
        };
        let retries = attempt.saturating_sub(1);
        let condition = if !retryable(&err) {
            // Not retried; the policy's limit counts as reached only if it allowed none.
            Some((max_retries == 0).then_some("MaximumRetryAttempts"))
        } else if retries >= max_retries {
            Some(Some("MaximumRetryAttempts"))
        } else {
            let delay = backoff(attempt);
            let due = svc.now_millis() + delay.as_millis() as i64;
            if due - inv.first_ms > max_age_ms {
                Some(Some("MaximumEventAgeInSeconds"))
            } else {
                tracing::debug!(
                    schedule = %inv.schedule_arn, attempt, error = %err,
                    "scheduler: target failed; retrying"
                );
                inv.attempt += 1;
                inv.due_ms = due;
                svc.write_behind(|| pending::put(&inv));
                tokio::time::sleep(delay).await;
                None
            }
        };
        if let Some(exhausted) = condition {
            tracing::info!(
                schedule = %inv.schedule_arn, target = %inv.target.arn, error = %err, retries,
                "scheduler: target invocation failed"
            );
            let dead = DeadLetter {
                inv: &inv,
                input: &input,
                error: &err,
                retries,
                exhausted,
                scheduled: &scheduled,
            };
            dead.send(&registry).await;
            svc.write_behind(|| pending::delete(&inv));
            return;
        }
    }
}

struct DeadLetter<'a> {
    inv: &'a Invocation,
    input: &'a str,
    error: &'a AwsError,
    retries: u32,
    exhausted: Option<&'static str>,
    scheduled: &'a str,
}

impl DeadLetter<'_> {
    /// The message attributes Scheduler puts on a dead-letter event.
    fn attributes(&self) -> Value {
        let mut attrs = Map::new();
        let mut put = |k: &str, v: &str| {
            attrs.insert(
                k.to_string(),
                json!({ "DataType": "String", "StringValue": v }),
            );
        };
        put("ERROR_CODE", &self.error.code);
        put("ERROR_MESSAGE", &self.error.message);
        put("EXECUTION_ID", &self.inv.execution_id);
        if let Some(c) = self.exhausted {
            put("EXHAUSTED_RETRY_CONDITION", c);
        }
        put("IS_PAYLOAD_TRUNCATED", "false");
        put("RETRY_ATTEMPTS", &self.retries.to_string());
        put("SCHEDULED_TIME", self.scheduled);
        put("SCHEDULE_ARN", &self.inv.schedule_arn);
        put("TARGET_ARN", &self.inv.target.arn);
        Value::Object(attrs)
    }

    async fn send(&self, registry: &Registry) {
        let Some(dlq) = self
            .inv
            .target
            .dead_letter_config
            .as_ref()
            .and_then(|d| d.arn.as_deref())
        else {
            return;
        };
        let f: Vec<&str> = dlq.splitn(6, ':').collect();
        let [_, _, _, region, account, name] = f.as_slice() else {
            return;
        };
        let ctx = RequestContext::new(*account, *region);
        // SQS needs a non-empty body; the payload is the rendered target input.
        let body = if self.input.is_empty() {
            "{}"
        } else {
            self.input
        };
        let doc = json!({
            "QueueUrl": format!("{}/{account}/{name}", ctx.endpoint),
            "MessageBody": body,
            "MessageAttributes": self.attributes(),
        });
        if let Err(e) = registry.call("sqs", &ctx, "SendMessage", doc).await {
            tracing::warn!(dlq, error = %e, "scheduler: could not deliver to the dead-letter queue");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_context_attributes() {
        let out = render(
            r#"{"a":"<aws.scheduler.schedule-arn>","t":"<aws.scheduler.scheduled-time>","e":"<aws.scheduler.execution-id>","n":<aws.scheduler.attempt-number>}"#,
            "arn:aws:scheduler:us-east-1:000000000000:schedule/default/s",
            "2024-05-01T10:00:00Z",
            "abc",
            2,
        );
        assert_eq!(
            out,
            r#"{"a":"arn:aws:scheduler:us-east-1:000000000000:schedule/default/s","t":"2024-05-01T10:00:00Z","e":"abc","n":2}"#
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) <= Duration::from_millis(1_000));
        assert!(backoff(1) >= Duration::from_millis(500));
        assert!(backoff(3) >= Duration::from_millis(2_000));
        assert!(backoff(40) <= Duration::from_millis(MAX_BACKOFF_MS));
    }

    #[test]
    fn retry_classes() {
        assert!(retryable(&AwsError::internal("boom")));
        assert!(retryable(&AwsError::new(
            "ThrottlingException",
            "slow down"
        )));
        assert!(!retryable(&AwsError::new("QueueDoesNotExist", "gone")));
    }
}
